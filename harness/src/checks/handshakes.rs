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
//!
//! Nor does a freeze shorter than the handshake limit (a `pause` whose span,
//! plus [`PAUSE_SETTLE`], is below the deadline's wall floor at this time
//! scale, e.g. brief-stall's 50 s at time scale 30 = 1.7 s wall < 3 s):
//! a handshake that meets the frozen node completes when it thaws. It
//! overrides the other side's own restart (which explains why a handshake
//! happened, not why it timed out: that side was running to log it), but
//! not a cut, a link fault, or another fault on the frozen side. At time
//! scale 1 (sim) the deadline is 10 s and the floor never
//! binds, so no pause of brief-stall is that short and the rule is idle.

use super::view::{View, PAUSE_SETTLE};
use super::Outcome;
use crate::observe::model::FaultSpan;
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
        if let Some(f) = frozen_within_deadline(v, e.t, me, peer, limit) {
            found += 1;
            out.violation(
                e.t,
                &[me, peer],
                format!(
                    "{me}'s handshake with {peer} timed out at {} ({:?}) while {} was frozen for {} \
                     (from {}), shorter than the handshake limit ({}: the deadline, or its 3 s wall \
                     floor at this time scale), and nothing else stood between them: the \
                     deadline lacks its wall floor",
                    fmt_ms(e.t),
                    e.event.kind,
                    f.nodes.join(","),
                    fmt_ms(f.end.unwrap_or(v.tl.end).saturating_sub(f.start)),
                    fmt_ms(f.start),
                    fmt_ms(limit)
                ),
            );
            continue;
        }
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

/// A pause on `me` or `peer` overlapping the handshake (`[t - limit, t]`)
/// and shorter than `limit` with its settle, when no other fault (a cut, a
/// link fault, any fault on `peer` but that pause, or a non-process fault
/// on `me`) overlaps it: such a timeout has no excuse.
fn frozen_within_deadline<'v>(
    v: &'v View,
    t: u64,
    me: &str,
    peer: &str,
    limit: u64,
) -> Option<&'v FaultSpan> {
    let settle = (PAUSE_SETTLE.as_millis() as f64 * v.tl.time_scale.max(0.0)) as u64;
    let overlaps = |f: &FaultSpan| {
        f.start <= t && f.end.unwrap_or(v.tl.end) + settle >= t.saturating_sub(limit)
    };
    let short = |f: &FaultSpan| {
        f.end
            .is_some_and(|end| end.saturating_sub(f.start) + settle < limit)
    };
    let freeze = v.tl.faults.iter().find(|f| {
        f.action == FaultAction::Pause
            && short(f)
            && overlaps(f)
            && f.nodes.iter().any(|n| n == me || n == peer)
    })?;
    let other = v.tl.faults.iter().any(|f| {
        !std::ptr::eq(f, freeze)
            && f.action != FaultAction::CpuThrottle
            && overlaps(f)
            && (View::cuts_pair(f, me, peer)
                || f.nodes.iter().any(|n| n == peer)
                || (f.nodes.iter().any(|n| n == me) && !f.action.is_process_fault()))
    });
    (!other).then_some(freeze)
}
