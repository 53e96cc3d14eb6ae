//! Part of `no_cycling`: no handshake times out between two running nodes
//! that nothing but a slow CPU separates.
//!
//! DESIGN.md gives the handshake deadline a wall-time floor (3 s) so that
//! a node on a starved or busy host still completes the handshakes a
//! healthy machine completes; the seeds' nodes without it cycled dial ->
//! handshake timeout -> dial. A deadline that is only the protocol time
//! divided by the time scale (10 s / 30 = 333 ms wall) fires on a node
//! capped by `cpu_throttle`, and the redial after backoff usually succeeds
//! within the restart or heal grace that made the handshake happen, so the
//! other rules never see it; the timeout itself is logged by both sides
//! (`dial_failed` / `handshake_rejected` with reason `handshake timeout`).
//!
//! Excused: the pair's fault windows of any kind but `cpu_throttle` (a
//! frozen or cut peer cannot answer; a lossy or slow link may lose the
//! frame), each plus one handshake limit (a handshake begun inside the
//! window ends by then). A throttled node excuses nothing: the floor is
//! there for it.

use super::view::View;
use super::Outcome;
use crate::scenario::{fmt_ms, FaultAction};

/// The reason text both sides log for a handshake deadline that fired.
const TIMEOUT_REASON: &str = "handshake timeout";

/// Flags handshake timeouts outside the pair's faults; returns how many.
pub(super) fn check(v: &View, out: &mut Outcome) -> usize {
    let limit = v.handshake_limit();
    let mut found = 0;
    for e in &v.tl.events {
        let timed_out = e
            .event
            .reason
            .as_deref()
            .is_some_and(|r| r.contains(TIMEOUT_REASON));
        let Some(peer) = e.event.peer_ip.and_then(|ip| v.name_of(ip)) else {
            continue;
        };
        if !timed_out || v.ignored.contains(&e.node) || v.ignored.contains(peer) {
            continue;
        }
        let me = e.node.as_str();
        let excused = v.tl.faults.iter().any(|f| {
            f.action != FaultAction::CpuThrottle
                && (View::cuts_pair(f, me, peer) || f.nodes.iter().any(|n| n == me || n == peer))
                && e.t >= f.start
                && e.t <= f.end.unwrap_or(v.tl.end) + limit
        });
        if excused {
            continue;
        }
        found += 1;
        out.violation(
            e.t,
            &[me, peer],
            format!(
                "{me}'s handshake with {peer} timed out at {} ({:?}) with both running and no \
                 fault between them but a slow CPU: the handshake deadline has a {} wall floor \
                 for that",
                fmt_ms(e.t),
                e.event.kind,
                fmt_ms(limit)
            ),
        );
    }
    found
}
