//! `dial_backoff`: no dial storm. Per dialer and unreachable target, the
//! node's `dial_failed` events must be spaced by its redial backoff.
//!
//! The node's rule (`timed::net::backoff`): after the k-th consecutive
//! failure it waits `base_delay(k)` (BACKOFF_BASE doubling up to
//! BACKOFF_MAX) plus up to 25 % jitter before it dials again, so the gap
//! between failure k and failure k+1 is at least `base_delay(k)`. The
//! failure count survives a connection that lived less than the healthy
//! period, so the node may wait longer than this, never shorter. A streak
//! starts over when the pair connects, or when the dialer's process is hit
//! by a fault (a new process starts from zero).
//!
//! A gap shorter than [`MIN_FRACTION`] of the allowed one (event stamps
//! are wall ms, scaled to protocol time) fails, naming how many attempts
//! the streak made and how many the backoff allows in that time.

use super::view::View;
use super::{Outcome, Params};
use crate::scenario::fmt_ms;
use crate::scenario::ms;
use std::collections::BTreeMap;
use std::net::IpAddr;
use timed::api::types::EventKind;
use timed::net::base_delay;

/// Fraction of the backoff a gap must reach: the node's timers and its
/// event stamps are both wall clocks scaled by the time scale, and a few
/// ms of wall jitter are tens of protocol ms at time scale 30.
const MIN_FRACTION: f64 = 0.8;

pub(super) fn check(v: &View, _p: &Params) -> Outcome {
    let mut out = Outcome::new(0, v.tl.end);
    // (dialer, target) -> failure times of the current streak.
    let mut streaks: BTreeMap<(&str, IpAddr), Vec<u64>> = BTreeMap::new();
    let mut failures = 0usize;
    let mut targets = 0usize;
    let mut longest_streak = 0usize;
    let mut reported: std::collections::BTreeSet<(&str, IpAddr)> = Default::default();
    // Wall slack: 2 wall ms at this time scale.
    let slack = (2.0 * v.tl.time_scale.max(1.0)) as u64;
    for e in &v.tl.events {
        let node = e.node.as_str();
        if v.ignored.contains(node) {
            continue;
        }
        let Some(peer) = e.event.peer_ip else {
            continue;
        };
        let key = (node, peer);
        match e.event.kind {
            EventKind::Connected => {
                streaks.remove(&key);
            }
            EventKind::DialFailed => {
                failures += 1;
                let streak = streaks.entry(key).or_default();
                if streak.is_empty() {
                    targets += 1;
                }
                // A fault on the dialer's process since the last failure
                // restarts its count.
                if let Some(&last) = streak.last() {
                    if restarted_between(v, node, last, e.t) {
                        streak.clear();
                    }
                }
                streak.push(e.t);
                longest_streak = longest_streak.max(streak.len());
                let k = streak.len() - 1; // failures before this one
                if k == 0 {
                    continue;
                }
                let gap = e.t - streak[k - 1];
                let allowed = ms(base_delay(k as u32));
                if (gap + slack) as f64 >= MIN_FRACTION * allowed as f64 || reported.contains(&key)
                {
                    continue;
                }
                reported.insert(key);
                let who = v.name_of(peer).map_or(peer.to_string(), str::to_string);
                let span = e.t - streak[0];
                out.violation(
                    e.t,
                    &[node, &who],
                    format!(
                        "{node} dialed {who} again {} after failed attempt {k} (its backoff \
                         allows no sooner than {}): {} failed dials in {}, the backoff allows {}",
                        fmt_ms(gap),
                        fmt_ms(allowed),
                        streak.len(),
                        fmt_ms(span),
                        allowed_attempts(span)
                    ),
                );
            }
            _ => {}
        }
    }
    out.details = format!(
        "{failures} failed dials to {targets} target streak(s); longest streak {longest_streak} \
         attempts"
    );
    out
}

/// Attempts the backoff allows within `span` protocol ms of the first one.
fn allowed_attempts(span: u64) -> usize {
    let mut n = 1usize;
    let mut t = 0u64;
    loop {
        t += ms(base_delay(n as u32));
        if t > span {
            return n;
        }
        n += 1;
    }
}

fn restarted_between(v: &View, node: &str, from: u64, to: u64) -> bool {
    v.tl.faults
        .iter()
        .any(|f| View::hits_node(f, node) && f.start <= to && f.end.is_none_or(|e| e >= from))
}

#[cfg(test)]
mod tests {
    use super::allowed_attempts;

    #[test]
    fn attempts_follow_the_doubling_backoff() {
        // 1 s, 2 s, 4 s, 8 s ... after the first attempt at 0.
        assert_eq!(allowed_attempts(0), 1);
        assert_eq!(allowed_attempts(999), 1);
        assert_eq!(allowed_attempts(1_000), 2);
        assert_eq!(allowed_attempts(3_000), 3);
        assert_eq!(allowed_attempts(7_000), 4);
        assert_eq!(allowed_attempts(6_999), 3);
    }
}
