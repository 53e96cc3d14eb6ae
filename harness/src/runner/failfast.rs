//! `--fail-fast`: judge the checks over the timeline so far while the run
//! goes, and stop at the first violation that is already **final**: one
//! that no later observation can undo. The run then still heals, reads the
//! chains, evaluates every check, writes every report and cleans up.
//!
//! Which rules may stop a run ([`may_stop`]):
//! - `no_fork` (two hashes at one height never un-happen),
//! - `no_cycling` (a reconnect outside any fault window, a storm inside
//!   one, a `ping timeout`, a socket vanishing unlogged),
//! - `one_peer_per_ip` (two connections to one IP; a node off the full mesh
//!   past the tolerance),
//! - `progress` (a stall while a quorum was up; a cut-off node finalizing).
//!
//! Never: `common_height` (judged at the END: the nodes must agree within
//! `within` of the end or the last heal, so a disagreement now says nothing)
//! and `tx_delivery` (judged on the chains read at the end). After an early
//! stop these two are reported as not judged, not as passed or failed.
//!
//! A violation of a stopping rule is taken as final only when
//! - it is older than [`SETTLE`] (wall, in protocol time): events and polls
//!   arrive up to a poll plus an HTTP timeout late, so a socket that just
//!   vanished may not have its `disconnected` event on the timeline yet;
//! - it lies before every fault window still open (a partition or process
//!   fault active, or healed less than `grace` ago): a later fault may
//!   merge into such a window and raise its reconnect budget, so what is a
//!   storm now might be excused later (`loss` opens no window: the checks
//!   excuse nothing under it);
//! - every late joiner has started: the full-mesh rule waits for every
//!   node's warm-up, which a node not yet started has not begun.

use crate::checks::{self, Params, Violation};
use crate::observe::model::Timeline;
use crate::scenario::{CheckKind, Scenario};
use std::time::Duration;

/// How often the checks are judged during a run (wall).
pub const JUDGE_EVERY: Duration = Duration::from_secs(2);
/// Observation lag a violation must be older than to be judged (wall).
pub const SETTLE: Duration = Duration::from_secs(3);

/// Whether a violation of this check can be final before the run ends.
pub fn may_stop(kind: CheckKind) -> bool {
    match kind {
        CheckKind::NoFork
        | CheckKind::NoCycling
        | CheckKind::OnePeerPerIp
        | CheckKind::Progress
        // A node that was down, a view mismatch, a dial storm or a lag that
        // has already lasted past its limit stays a violation: later
        // observations cannot shorten a span that was seen.
        | CheckKind::NodeUp
        | CheckKind::KernelView
        | CheckKind::DialBackoff
        | CheckKind::HeightLag => true,
        // Judges the whole run ("no probe at all" is only known at the end).
        CheckKind::CommonHeight | CheckKind::TxDelivery | CheckKind::ProbeAnswers => false,
    }
}

/// The first final violation on the timeline so far, if any.
pub fn judge(sc: &Scenario, tl: &Timeline) -> Option<(CheckKind, Violation)> {
    let late_pending = sc
        .node_names()
        .iter()
        .filter(|n| !sc.start_at(n).is_zero())
        .any(|n| !tl.samples.iter().any(|s| &s.node == n && s.up));
    if late_pending {
        return None;
    }
    let settle = (SETTLE.as_secs_f64() * 1000.0 * tl.time_scale) as u64;
    let horizon = open_windows_start(sc, tl)
        .unwrap_or(u64::MAX)
        .min(tl.end.saturating_sub(settle));
    sc.checks
        .iter()
        .filter(|spec| may_stop(spec.kind))
        .filter_map(|spec| {
            let r = checks::evaluate_one(spec.kind, sc, tl);
            let v = r.first_violation?;
            (v.t < horizon).then_some((spec.kind, v))
        })
        .min_by_key(|(_, v)| v.t)
}

/// Start of the earliest merged fault window (`[start, end + grace]`, the
/// largest grace of the scenario's checks, over the faults that disturb the
/// network: the checks excuse nothing under `loss` or `latency`)
/// that is still open at the timeline's end.
fn open_windows_start(sc: &Scenario, tl: &Timeline) -> Option<u64> {
    let grace = sc
        .checks
        .iter()
        .map(|spec| Params::new(sc, spec).grace)
        .max()
        .unwrap_or(0);
    let mut ws: Vec<(u64, Option<u64>)> = tl
        .faults
        .iter()
        .filter(|f| f.action.disturbs_network())
        .map(|f| (f.start, f.end.map(|e| e.saturating_add(grace))))
        .collect();
    ws.sort_by_key(|w| w.0);
    // Merge, then keep the first window that is not over.
    let mut merged: Vec<(u64, Option<u64>)> = Vec::new();
    for (s, e) in ws {
        match merged.last_mut() {
            Some(m) if m.1.is_none_or(|me| s <= me) => {
                m.1 = match (m.1, e) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    _ => None,
                };
            }
            _ => merged.push((s, e)),
        }
    }
    merged
        .into_iter()
        .find(|(_, e)| e.is_none_or(|e| e >= tl.end))
        .map(|(s, _)| s)
}

/// The timeline as it stood at protocol time `t`: what had been observed
/// by then, faults not yet healed still open.
pub fn prefix(tl: &Timeline, t: u64) -> Timeline {
    Timeline {
        time_scale: tl.time_scale,
        nodes: tl.nodes.clone(),
        samples: tl.samples.iter().filter(|s| s.t <= t).cloned().collect(),
        events: tl.events.iter().filter(|e| e.t <= t).cloned().collect(),
        faults: tl
            .faults
            .iter()
            .filter(|f| f.start <= t)
            .cloned()
            .map(|mut f| {
                f.end = f.end.filter(|e| *e <= t);
                f
            })
            .collect(),
        end: t,
        ..Default::default()
    }
}

/// `--fail-fast` replayed over a stored timeline: judge its prefixes every
/// [`JUDGE_EVERY`] of wall time, as a live run would; where it would have
/// stopped (protocol ms) and on which violation.
pub fn replay(sc: &Scenario, tl: &Timeline) -> Option<(u64, CheckKind, Violation)> {
    let step = ((JUDGE_EVERY.as_secs_f64() * 1000.0 * tl.time_scale) as u64).max(1);
    let mut t = step;
    while t < tl.end {
        if let Some((kind, v)) = judge(sc, &prefix(tl, t)) {
            return Some((t, kind, v));
        }
        t += step;
    }
    None
}

/// Not-judged names, for the report.
pub fn not_judged(sc: &Scenario) -> Vec<String> {
    sc.checks
        .iter()
        .filter(|s| !may_stop(s.kind))
        .map(|s| s.kind.name().to_string())
        .collect()
}

#[cfg(test)]
mod tests;
