//! Inbound sockets that have not finished their handshake, capped at
//! `FdBudget::pending_handshakes`. When the cap is reached the OLDEST
//! pending socket is evicted to make room: a flood of silent sockets then
//! delays a real peer by one handshake, never locks it out (a real
//! handshake completes in milliseconds; a silent one would otherwise hold
//! its slot for the whole handshake timeout).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

pub struct PendingHandshakes {
    cap: usize,
    inner: Mutex<(u64, BTreeMap<u64, CancellationToken>)>,
}

/// One pending socket's place; leaves the table on drop.
pub struct PendingGuard {
    owner: Arc<PendingHandshakes>,
    id: u64,
    /// Fires when a newer socket evicted this one.
    pub evicted: CancellationToken,
}

impl Drop for PendingGuard {
    fn drop(&mut self) {
        self.owner.inner.lock().unwrap().1.remove(&self.id);
    }
}

impl PendingHandshakes {
    pub fn new(cap: usize) -> Arc<Self> {
        Arc::new(PendingHandshakes {
            cap: cap.max(1),
            inner: Mutex::new((0, BTreeMap::new())),
        })
    }

    /// Take a place, evicting the oldest pending socket if the table is
    /// full. Returns the guard and whether someone was evicted.
    pub fn enter(self: &Arc<Self>) -> (PendingGuard, bool) {
        let mut g = self.inner.lock().unwrap();
        let mut evicted_one = false;
        if g.1.len() >= self.cap {
            if let Some((_, oldest)) = g.1.pop_first() {
                oldest.cancel();
                evicted_one = true;
            }
        }
        g.0 += 1;
        let id = g.0;
        let token = CancellationToken::new();
        g.1.insert(id, token.clone());
        let guard = PendingGuard {
            owner: self.clone(),
            id,
            evicted: token,
        };
        (guard, evicted_one)
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap().1.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_is_evicted_at_the_cap_and_drops_free_places() {
        let p = PendingHandshakes::new(2);
        let (a, ea) = p.enter();
        let (b, eb) = p.enter();
        assert!(!ea && !eb);
        let (c, ec) = p.enter();
        assert!(ec && a.evicted.is_cancelled() && !b.evicted.is_cancelled());
        assert_eq!(p.len(), 2);
        drop(a); // an evicted guard's drop removes nothing else
        assert_eq!(p.len(), 2);
        drop((b, c));
        assert!(p.is_empty());
    }
}
