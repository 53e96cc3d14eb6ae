//! Whose tip a periodic look asks for: a window of the connected peers that
//! moves round them tick by tick, so every peer is asked within a bounded
//! number of ticks while one tick costs a fixed number of queries, not one
//! per peer. A kick (a peer's handshake height above ours, votes from a
//! future height) and the look after a catch-up still ask everyone.

use crate::constants::SYNC_TIP_QUERIES_PER_TICK;

#[derive(Default)]
pub struct TipRotation {
    next: usize,
}

impl TipRotation {
    /// The next `SYNC_TIP_QUERIES_PER_TICK` of `peers` (in the caller's
    /// order, sorted by IP: the same window for the same peers), wrapping
    /// round; all of them when there are no more than that.
    pub fn window<T: Clone>(&mut self, peers: &[T]) -> Vec<T> {
        if peers.len() <= SYNC_TIP_QUERIES_PER_TICK {
            return peers.to_vec();
        }
        let start = self.next % peers.len();
        self.next = start + SYNC_TIP_QUERIES_PER_TICK;
        (start..self.next)
            .map(|i| peers[i % peers.len()].clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_few_peers_are_all_asked_every_tick() {
        let mut r = TipRotation::default();
        let few: Vec<u32> = (0..SYNC_TIP_QUERIES_PER_TICK as u32).collect();
        assert_eq!(r.window(&few), few);
        assert_eq!(r.window(&few), few);
    }

    #[test]
    fn many_peers_are_each_asked_within_a_round_of_ticks() {
        let mut r = TipRotation::default();
        let many: Vec<u32> = (0..99).collect();
        let ticks = many.len().div_ceil(SYNC_TIP_QUERIES_PER_TICK);
        let mut asked = std::collections::BTreeSet::new();
        for _ in 0..ticks {
            let w = r.window(&many);
            assert_eq!(w.len(), SYNC_TIP_QUERIES_PER_TICK);
            asked.extend(w);
        }
        assert_eq!(asked.len(), many.len(), "every peer within {ticks} ticks");
        // Fewer peers later (some left): the window still wraps inside them.
        let w = r.window(&many[..20]);
        assert!(w.iter().all(|p| *p < 20) && w.len() == SYNC_TIP_QUERIES_PER_TICK);
    }
}
