//! Whom a periodic round asks: a window of the connected peers that moves
//! round them round by round, so every peer is asked within a bounded
//! number of rounds while one round costs a fixed number of queries, not
//! one per peer. Asking every peer every round is O(n) per node and O(n^2)
//! per network each round; with answers that grow with n (a peer list),
//! O(n^3) bytes. Used by sync's tip look ([`crate::sync`]) and by
//! discovery's GetPeers rounds ([`crate::net`]).

#[derive(Default)]
pub struct Rotation {
    next: usize,
}

impl Rotation {
    /// The next `size` of `peers` (in the caller's order, sorted by IP: the
    /// same window for the same peers), wrapping round; all of them when
    /// there are no more than `size`.
    pub fn window<T: Clone>(&mut self, peers: &[T], size: usize) -> Vec<T> {
        if peers.len() <= size {
            return peers.to_vec();
        }
        let start = self.next % peers.len();
        self.next = start + size;
        (start..self.next)
            .map(|i| peers[i % peers.len()].clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIZE: usize = 8;

    #[test]
    fn a_few_peers_are_all_asked_every_round() {
        let mut r = Rotation::default();
        let few: Vec<u32> = (0..SIZE as u32).collect();
        assert_eq!(r.window(&few, SIZE), few);
        assert_eq!(r.window(&few, SIZE), few);
    }

    #[test]
    fn many_peers_are_each_asked_within_a_round_of_rounds() {
        let mut r = Rotation::default();
        let many: Vec<u32> = (0..99).collect();
        let rounds = many.len().div_ceil(SIZE);
        let mut asked = std::collections::BTreeSet::new();
        for _ in 0..rounds {
            let w = r.window(&many, SIZE);
            assert_eq!(w.len(), SIZE);
            asked.extend(w);
        }
        assert_eq!(asked.len(), many.len(), "every peer within {rounds} rounds");
        // Fewer peers later (some left): the window still wraps inside them.
        let w = r.window(&many[..20], SIZE);
        assert!(w.iter().all(|p| *p < 20) && w.len() == SIZE);
    }
}
