//! `progress`: new blocks keep coming whenever consensus can make them.
//!
//! Progress is expected at `t` when a group of running masternodes holding
//! more than 2/3 of them (equal weights) all reach each other (see
//! [`View::quorum_side`]); during a partition that is only the side with a
//! quorum, and a minority-only split expects nothing. While expected, the
//! highest height any node reports must grow at least every `stall`
//! (5 block intervals). The stall clock restarts at each fault start/end
//! (the network changed) and, when a quorum (re)appears, a grace period
//! later (connections must re-form first).
//!
//! The other half of the rule: a node that a partition cuts off from every
//! quorum (everything it can reach holds no more than 2/3 of the
//! masternodes) must NOT finalize: its height may grow by at most one block
//! (a commit in flight when the cut came) until the heal. A minority that
//! finalizes on its own is the seeds' fork-after-partition bug in the making.

use super::view::View;
use super::{list, Outcome, Params};
use crate::scenario::fmt_ms;

pub(super) fn check(v: &View, p: &Params) -> Outcome {
    let start = v.first_up.values().min().map_or(0, |t| t + p.warmup);
    let mut out = Outcome::new(start, v.tl.end);
    let mut disturbances: Vec<u64> =
        v.tl.faults
            .iter()
            .flat_map(|f| [Some(f.start), f.end])
            .flatten()
            .collect();
    disturbances.sort_unstable();

    let mut max_h: Option<u64> = None;
    let mut first_h = None;
    let mut last_increase = start;
    let mut expected_since: Option<u64> = None;
    let mut had_quorum = false;
    let mut longest = 0u64;
    let mut reported = false;
    let mut by_t = v.tl.samples.iter().peekable();
    for t in v.sample_times() {
        // Fold in every poll at `t`.
        while let Some(s) = by_t.next_if(|s| s.t <= t) {
            if v.ignored.contains(&s.node) {
                continue;
            }
            if let Some(st) = &s.status {
                if max_h.is_none_or(|m| st.height > m) {
                    max_h = Some(st.height);
                    if s.t >= start {
                        last_increase = s.t;
                    }
                }
            }
        }
        if t < start {
            continue;
        }
        first_h.get_or_insert(max_h.unwrap_or(0));
        let Some(side) = v.quorum_side(t) else {
            expected_since = None;
            continue;
        };
        // The first quorum is expected to produce right away (warm-up is
        // over); one that re-forms after a fault first needs connections.
        let since = *expected_since.get_or_insert(if had_quorum { t + p.grace } else { t });
        had_quorum = true;
        let disturbed = disturbances
            .iter()
            .rev()
            .find(|d| **d <= t)
            .copied()
            .unwrap_or(0);
        let clock = last_increase.max(since).max(disturbed);
        if t > clock {
            longest = longest.max(t - clock);
        }
        if t > clock + p.stall && !reported {
            reported = true;
            out.violation(
                clock + p.stall,
                &side.iter().map(String::as_str).collect::<Vec<_>>(),
                format!(
                    "no new block for {} (max height {} since {}) while {} of {} masternodes \
                     were running and connected ({})",
                    fmt_ms(p.stall),
                    max_h.unwrap_or(0),
                    fmt_ms(clock),
                    side.len(),
                    v.masternodes.len(),
                    list(&side)
                ),
            );
        }
    }
    let (cut_polls, minority_blocks) = minority_must_stall(v, &mut out);
    out.details = format!(
        "max height {} -> {}; longest wait for a block while a quorum was up: {} (limit {}); \
         {} block(s) finalized in {} polls of nodes cut off from any quorum",
        first_h.unwrap_or(0),
        max_h.unwrap_or(0),
        fmt_ms(longest),
        fmt_ms(p.stall),
        minority_blocks,
        cut_polls
    );
    out
}

/// Flags any node that finalizes while cut off from every quorum; returns
/// how many polls of cut-off nodes were examined and how many showed a
/// block past the tolerance.
fn minority_must_stall(v: &View, out: &mut Outcome) -> (u64, u64) {
    // node -> height when it was first seen cut off (this cut).
    let mut baseline: std::collections::BTreeMap<&str, u64> = Default::default();
    let (mut polls, mut excess) = (0, 0);
    for s in &v.tl.samples {
        if v.ignored.contains(&s.node) {
            continue;
        }
        let Some(st) = &s.status else { continue };
        if !v.cut_from_quorum(&s.node, s.t) {
            baseline.remove(s.node.as_str());
            continue;
        }
        polls += 1;
        let base = *baseline.entry(s.node.as_str()).or_insert(st.height);
        if st.height > base + 1 {
            excess += 1;
            out.violation(
                s.t,
                &[s.node.as_str()],
                format!(
                    "{} finalized height {} at {} while a partition cut it off from every \
                     quorum (it was at {} when cut off; it can reach only {})",
                    s.node,
                    st.height,
                    fmt_ms(s.t),
                    base,
                    list(&v.component(&s.node, s.t))
                ),
            );
            baseline.insert(s.node.as_str(), st.height);
        }
    }
    (polls, excess)
}
