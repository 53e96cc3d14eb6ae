//! One peer's request budget (zebra-network's per-peer limits, our way):
//! what a peer may make us serve, by cost.
//!
//! Three gates, checked by the connection actor before it hands a request
//! to the chain service, in this order:
//! - answers not read: more than `SERVED_UNREAD_BYTES` queued for the peer's
//!   writer. The peer is throttled; if it stays there for the throttle limit
//!   it is dropped ([`Throttle::Unread`]): a non-reader can make us hold no
//!   more than that backlog plus the answers in flight.
//! - in flight: `MAX_SERVED_IN_FLIGHT_PER_PEER` requests handed over and
//!   not answered yet ([`Throttle::InFlight`]): the peer waits.
//! - bytes: a token bucket refilled at `REQUEST_BUDGET_BYTES_PER_SEC` (wall)
//!   up to `REQUEST_BUDGET_BURST_BYTES`, charged with each encoded answer
//!   ([`Throttle::OverBudget`]): a peer in debt waits for the refill.
//!
//! Waiting is done by not reading the peer's socket: its requests stay in
//! TCP buffers, ours and the kernel's, never in our memory.
//!
//! Owner: the connection ([`super::peer::PeerInfo::budget`]); the actor
//! admits, [`super::NetHandle::respond`] and the actor's own answers charge.

use crate::clock::{Clock, Instant};
use crate::constants::{
    MAX_SERVED_IN_FLIGHT_PER_PEER, REQUEST_BUDGET_BURST_BYTES, REQUEST_BUDGET_BYTES_PER_SEC,
    REQUEST_THROTTLE_LIMIT, REQUEST_THROTTLE_LIMIT_FLOOR, REQUEST_THROTTLE_POLL,
    SERVED_UNREAD_BYTES,
};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Why a peer's next request has to wait (and, for [`Throttle::Unread`]
/// past the limit, why the peer was dropped).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Throttle {
    /// Its answers pile up unread in its writer queue.
    #[error("answers not read")]
    Unread,
    /// Too many of its requests are waiting for an answer.
    #[error("too many requests in flight")]
    InFlight,
    /// It took more bytes than its budget refilled.
    #[error("bytes served over budget")]
    OverBudget,
}

/// Token bucket in bytes, refilled with wall time.
struct Bucket {
    /// May go below zero: an answer is charged after it is built.
    tokens: f64,
    at: Instant,
}

pub struct RequestBudget {
    bucket: Mutex<Bucket>,
    in_flight: AtomicUsize,
}

impl RequestBudget {
    /// A full bucket, nothing in flight.
    pub fn new(now: Instant) -> RequestBudget {
        RequestBudget {
            bucket: Mutex::new(Bucket {
                tokens: REQUEST_BUDGET_BURST_BYTES as f64,
                at: now,
            }),
            in_flight: AtomicUsize::new(0),
        }
    }

    /// Tokens now, after the refill since the last look.
    fn refill(b: &mut Bucket, now: Instant) {
        let dt = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + dt * REQUEST_BUDGET_BYTES_PER_SEC as f64)
            .min(REQUEST_BUDGET_BURST_BYTES as f64);
        b.at = now;
    }

    /// Why the next request must wait, with `unread` bytes queued for the
    /// peer; `None`: it may be served now.
    pub fn check(&self, now: Instant, unread: usize) -> Option<Throttle> {
        if unread > SERVED_UNREAD_BYTES {
            return Some(Throttle::Unread);
        }
        if self.in_flight.load(Ordering::Acquire) >= MAX_SERVED_IN_FLIGHT_PER_PEER {
            return Some(Throttle::InFlight);
        }
        let mut b = self.bucket.lock().unwrap();
        Self::refill(&mut b, now);
        (b.tokens < 0.0).then_some(Throttle::OverBudget)
    }

    /// Charge an answer of `bytes` (the actor's own answers).
    pub fn charge(&self, now: Instant, bytes: usize) {
        let mut b = self.bucket.lock().unwrap();
        Self::refill(&mut b, now);
        b.tokens -= bytes as f64;
    }

    /// The chain service answered one admitted request with `bytes`.
    /// Saturating: a late answer meant for an earlier connection of the
    /// same IP frees a slot it never took, at most its own count.
    pub fn answered(&self, now: Instant, bytes: usize) {
        let _ = self
            .in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
        self.charge(now, bytes);
    }

    /// Requests handed to the chain service and not answered yet.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Wait until the peer may have one more request served, then count it
    /// in flight. `unread` reads the peer's writer backlog. `Err`: the peer
    /// left its answers unread for the whole throttle limit; drop it.
    /// `throttled` is called once if the request had to wait at all.
    pub async fn admit(
        &self,
        clock: &Clock,
        unread: impl Fn() -> usize,
        mut throttled: impl FnMut(Throttle),
    ) -> Result<(), Throttle> {
        let limit = clock.guarded(REQUEST_THROTTLE_LIMIT, REQUEST_THROTTLE_LIMIT_FLOOR);
        let mut unread_since: Option<Instant> = None;
        let mut first = true;
        loop {
            let now = clock.now();
            match self.check(now, unread()) {
                None => {
                    self.in_flight.fetch_add(1, Ordering::AcqRel);
                    return Ok(());
                }
                Some(t) => {
                    if first {
                        throttled(t);
                        first = false;
                    }
                    if t == Throttle::Unread {
                        let since = *unread_since.get_or_insert(now);
                        if now.saturating_duration_since(since) >= limit {
                            return Err(t);
                        }
                    } else {
                        unread_since = None;
                    }
                }
            }
            clock.sleep_wall(REQUEST_THROTTLE_POLL).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_gates_in_order() {
        let t0 = Instant::now();
        let b = RequestBudget::new(t0);
        assert_eq!(b.check(t0, 0), None);
        assert_eq!(b.check(t0, SERVED_UNREAD_BYTES + 1), Some(Throttle::Unread));
        for _ in 0..MAX_SERVED_IN_FLIGHT_PER_PEER {
            b.in_flight.fetch_add(1, Ordering::AcqRel);
        }
        assert_eq!(b.check(t0, 0), Some(Throttle::InFlight));
        b.answered(t0, REQUEST_BUDGET_BURST_BYTES as usize + 1024);
        assert_eq!(b.in_flight(), MAX_SERVED_IN_FLIGHT_PER_PEER - 1);
        assert_eq!(b.check(t0, 0), Some(Throttle::OverBudget));
        // 1 KiB of debt refills in 2 ms at 512 KiB/s.
        assert_eq!(b.check(t0 + Duration::from_millis(5), 0), None);
    }

    #[test]
    fn the_bucket_refills_to_its_burst_only() {
        let t0 = Instant::now();
        let b = RequestBudget::new(t0);
        b.charge(t0, REQUEST_BUDGET_BURST_BYTES as usize);
        let later = t0 + Duration::from_secs(3600);
        b.charge(later, REQUEST_BUDGET_BURST_BYTES as usize);
        assert_eq!(b.check(later, 0), None, "exactly the burst: zero left");
        b.charge(later, 1);
        assert_eq!(b.check(later, 0), Some(Throttle::OverBudget));
    }

    #[test]
    fn a_late_answer_never_underflows() {
        let t0 = Instant::now();
        let b = RequestBudget::new(t0);
        b.answered(t0, 10);
        assert_eq!(b.in_flight(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_peer_that_never_reads_is_dropped_after_the_limit() {
        let clock = Clock::new(1.0);
        let b = RequestBudget::new(clock.now());
        let t0 = clock.now();
        let mut seen = vec![];
        let r = b
            .admit(&clock, || SERVED_UNREAD_BYTES + 1, |t| seen.push(t))
            .await;
        assert_eq!(r, Err(Throttle::Unread));
        assert_eq!(seen, [Throttle::Unread]);
        let waited = clock.now().duration_since(t0);
        assert!(waited >= REQUEST_THROTTLE_LIMIT, "{waited:?}");
        assert_eq!(b.in_flight(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_peer_in_debt_waits_for_the_refill_and_is_served() {
        let clock = Clock::new(1.0);
        let b = RequestBudget::new(clock.now());
        let t0 = clock.now();
        b.charge(t0, REQUEST_BUDGET_BURST_BYTES as usize + 512 * 1024);
        let r = b.admit(&clock, || 0, |_| {}).await;
        assert_eq!(r, Ok(()));
        let waited = clock.now().duration_since(t0);
        assert!(
            waited >= Duration::from_millis(900) && waited < Duration::from_secs(2),
            "{waited:?}"
        );
        assert_eq!(b.in_flight(), 1);
    }
}
