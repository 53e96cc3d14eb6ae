//! Per-IP admission: inbound connection rate and misbehaviour bans.
//!
//! Separate from the registry on purpose: it keeps history about IPs we are
//! NOT connected to (a flooder, a banned peer). Bounded: stale records are
//! pruned when the table grows past `MAX_TRACKED_IPS`.

use crate::clock::Instant;
use crate::constants::{BAN_DURATION, BAN_SCORE, MAX_INBOUND_PER_IP_PER_MINUTE};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

const RATE_WINDOW: Duration = Duration::from_secs(60);
const MAX_TRACKED_IPS: usize = 10_000;

#[derive(Default)]
pub struct Limits {
    inner: Mutex<BTreeMap<IpAddr, IpRecord>>,
}

struct IpRecord {
    window_start: Instant,
    attempts: u32,
    score: u32,
    banned_until: Option<Instant>,
}

impl IpRecord {
    /// An IP first seen at `now`: no attempts, no score, no ban.
    fn fresh(now: Instant) -> Self {
        IpRecord {
            window_start: now,
            attempts: 0,
            score: 0,
            banned_until: None,
        }
    }
}

/// Why an inbound socket was dropped before its handshake.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The IP is serving a misbehaviour ban.
    #[error("banned")]
    Banned,
    /// The IP exceeded `MAX_INBOUND_PER_IP_PER_MINUTE`.
    #[error("inbound rate limit")]
    RateLimited,
    /// Evicted while still in its handshake: `FdBudget::pending_handshakes`
    /// sockets were pending and this one was the oldest.
    #[error("too many pending handshakes")]
    TooManyPending,
}

impl Limits {
    /// Count an inbound attempt from `ip`; refuse banned IPs and IPs over
    /// `MAX_INBOUND_PER_IP_PER_MINUTE` (wall time).
    pub fn admit_inbound(&self, ip: IpAddr, now: Instant) -> Result<(), Refusal> {
        let mut map = self.inner.lock().unwrap();
        if map.len() >= MAX_TRACKED_IPS {
            map.retain(|_, r| {
                now.duration_since(r.window_start) < RATE_WINDOW
                    || r.banned_until.is_some_and(|t| t > now)
            });
        }
        let r = map.entry(ip).or_insert_with(|| IpRecord::fresh(now));
        if r.banned_until.is_some_and(|t| t > now) {
            return Err(Refusal::Banned);
        }
        if now.duration_since(r.window_start) >= RATE_WINDOW {
            r.window_start = now;
            r.attempts = 0;
        }
        r.attempts += 1;
        if r.attempts > MAX_INBOUND_PER_IP_PER_MINUTE {
            return Err(Refusal::RateLimited);
        }
        Ok(())
    }

    pub fn is_banned(&self, ip: IpAddr, now: Instant) -> bool {
        let map = self.inner.lock().unwrap();
        map.get(&ip)
            .and_then(|r| r.banned_until)
            .is_some_and(|t| t > now)
    }

    /// Add misbehaviour `score`; returns true when this call banned the IP
    /// (the score then restarts from zero for after the ban).
    pub fn penalize(&self, ip: IpAddr, score: u32, now: Instant) -> bool {
        let mut map = self.inner.lock().unwrap();
        let r = map.entry(ip).or_insert_with(|| IpRecord::fresh(now));
        if r.banned_until.is_some_and(|t| t > now) {
            return false;
        }
        r.score = r.score.saturating_add(score);
        if r.score >= BAN_SCORE {
            r.score = 0;
            r.banned_until = Some(now + BAN_DURATION);
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits_per_ip_and_window() {
        let l = Limits::default();
        let t = Instant::now();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "::1".parse().unwrap();
        for _ in 0..MAX_INBOUND_PER_IP_PER_MINUTE {
            assert_eq!(l.admit_inbound(a, t), Ok(()));
        }
        assert_eq!(l.admit_inbound(a, t), Err(Refusal::RateLimited));
        assert_eq!(l.admit_inbound(b, t), Ok(()));
        assert_eq!(l.admit_inbound(a, t + RATE_WINDOW), Ok(()));
    }

    #[test]
    fn bans_at_the_score_and_expires() {
        let l = Limits::default();
        let t = Instant::now();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        assert!(!l.penalize(a, BAN_SCORE - 1, t));
        assert!(l.penalize(a, 1, t));
        assert!(l.is_banned(a, t));
        assert_eq!(l.admit_inbound(a, t), Err(Refusal::Banned));
        assert!(!l.is_banned(a, t + BAN_DURATION));
    }
}
