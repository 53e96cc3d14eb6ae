//! The node's event log behind `GET /events?after=SEQ`: a bounded ring of
//! numbered events, so a poller that comes back later still sees short-lived
//! reconnects that happened between its polls.

use super::views::{Direction, EventKind, EventView};
use crate::clock::Clock;
use crate::constants::EVENT_LOG_CAPACITY;
use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Mutex;

/// The bounded, numbered event ring (one per node).
pub struct EventLog {
    clock: Clock,
    inner: Mutex<Inner>,
}

struct Inner {
    next_seq: u64,
    events: VecDeque<EventView>,
}

impl EventLog {
    pub fn new(clock: Clock) -> Self {
        EventLog {
            clock,
            inner: Mutex::new(Inner {
                next_seq: 1,
                events: VecDeque::new(),
            }),
        }
    }

    pub fn record(
        &self,
        kind: EventKind,
        peer_ip: Option<IpAddr>,
        direction: Option<Direction>,
        reason: Option<String>,
    ) -> u64 {
        let mut inner = self.inner.lock().unwrap();
        let seq = inner.next_seq;
        inner.next_seq += 1;
        if inner.events.len() == EVENT_LOG_CAPACITY {
            inner.events.pop_front();
        }
        inner.events.push_back(EventView {
            seq,
            at_ms: self.clock.wall_ms(),
            kind,
            peer_ip,
            direction,
            reason,
        });
        seq
    }

    /// Events with `seq > after`, oldest first, at most `limit`.
    pub fn after(&self, after: u64, limit: usize) -> Vec<EventView> {
        let inner = self.inner.lock().unwrap();
        let first = inner
            .events
            .front()
            .map(|e| e.seq)
            .unwrap_or(inner.next_seq);
        let skip = after.saturating_add(1).saturating_sub(first) as usize;
        inner
            .events
            .iter()
            .skip(skip)
            .take(limit)
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_events_and_pages_after_a_sequence() {
        let log = EventLog::new(Clock::new(1.0));
        for _ in 0..5 {
            log.record(EventKind::Connected, None, None, None);
        }
        let seqs: Vec<u64> = log.after(2, 10).iter().map(|e| e.seq).collect();
        assert_eq!(seqs, vec![3, 4, 5]);
        assert_eq!(log.after(0, 2).len(), 2);
        assert!(log.after(5, 10).is_empty());
    }
}
