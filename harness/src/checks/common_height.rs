//! `common_height`: all running nodes reach the same height and tip hash,
//! at least `min_height`, by the end of the run and within `within` of the
//! last heal.
//!
//! The seeds had nodes stuck at height 0 with a single peer while the rest
//! moved on. "Agreement at `t`" means every running node's latest poll at or
//! before `t` reports the same (height, tip hash); blocks land on every node
//! within milliseconds of each other, so with polls a fraction of a block
//! interval apart a healthy network agrees at most poll rounds.
//!
//! Two deadlines, each reported at its own time with the lagging nodes:
//! - after the last fault ends at `L` (if `L + within` is inside the run):
//!   agreement somewhere in `[L, L + within]`;
//! - at the end: agreement somewhere in the last two block intervals (plus
//!   two polls), so a node that froze a few blocks before the end fails, and
//!   the agreed height must be at least `min_height`.

use super::view::View;
use super::{list, Outcome, Params};
use crate::scenario::fmt_ms;
use std::collections::BTreeMap;

pub(super) fn check(v: &View, p: &Params) -> Outcome {
    let end = v.tl.end;
    let settle = (2 * p.block_interval + 2 * v.poll).min(p.within.max(2 * v.poll));
    let last_heal =
        v.tl.faults
            .iter()
            .filter_map(|f| f.end)
            .filter(|e| *e <= end)
            .max();
    let mut out = Outcome::new(end.saturating_sub(settle), end);
    let times = v.sample_times();
    let mut notes = Vec::new();

    if let Some(l) = last_heal {
        let deadline = l + p.within;
        if deadline <= end {
            out.from = out.from.min(l);
            match agreement(v, &times, l, deadline) {
                Some((t, h, _)) => notes.push(format!(
                    "agreed at height {h} {} after the last heal",
                    fmt_ms(t - l)
                )),
                None => lagging(
                    v,
                    &mut out,
                    deadline,
                    &format!(
                        "no common height within {} of the last heal at {}",
                        fmt_ms(p.within),
                        fmt_ms(l)
                    ),
                ),
            }
        }
    }

    match agreement(v, &times, end.saturating_sub(settle), end) {
        Some((t, h, hash)) => {
            let running = v.nodes.iter().filter(|n| v.running(n, t)).count();
            notes.insert(
                0,
                format!(
                    "{running} nodes at height {h} (tip {}) at {}",
                    short(&hash),
                    fmt_ms(t)
                ),
            );
            if h < p.min_height {
                let nodes: Vec<&str> = v
                    .nodes
                    .iter()
                    .filter(|n| v.running(n, t))
                    .map(String::as_str)
                    .collect();
                out.violation(
                    end,
                    &nodes,
                    format!("common height {h} is below min_height {}", p.min_height),
                );
            }
        }
        None => lagging(
            v,
            &mut out,
            end,
            &format!(
                "no common height and tip in the last {} of the run",
                fmt_ms(settle)
            ),
        ),
    }
    out.details = if notes.is_empty() {
        "no agreement".into()
    } else {
        notes.join("; ")
    };
    out
}

/// The latest time in `[from, to]` at which all running nodes agree:
/// `(t, height, tip hash)`.
fn agreement(v: &View, times: &[u64], from: u64, to: u64) -> Option<(u64, u64, String)> {
    times
        .iter()
        .rev()
        .filter(|t| **t >= from && **t <= to)
        .find_map(|&t| {
            let mut tips = round(v, t).into_values();
            let first = tips.next()??;
            tips.all(|x| x.as_ref() == Some(&first))
                .then_some((t, first.0, first.1))
        })
}

/// Each running node's (height, tip) at `t` (`None`: running but no status).
fn round<'v>(v: &'v View, t: u64) -> BTreeMap<&'v str, Option<(u64, String)>> {
    v.nodes
        .iter()
        .filter(|n| v.running(n, t))
        .map(|n| {
            let tip = v
                .latest(n, t)
                .and_then(|s| s.status.as_ref())
                .map(|st| (st.height, st.tip_hash.clone()));
            (n.as_str(), tip)
        })
        .collect()
}

/// Report the nodes not at the best tip at `t` (the highest height, and at
/// that height the hash most nodes hold).
fn lagging(v: &View, out: &mut Outcome, t: u64, what: &str) {
    let r = round(v, t);
    let best_h = r.values().flatten().map(|x| x.0).max().unwrap_or(0);
    let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
    for (h, hash) in r.values().flatten() {
        if *h == best_h {
            *votes.entry(hash.as_str()).or_default() += 1;
        }
    }
    let best_hash = votes
        .iter()
        .max_by_key(|(_, n)| **n)
        .map(|(h, _)| *h)
        .unwrap_or("");
    let behind: Vec<(&str, String)> = r
        .iter()
        .filter(|(_, tip)| {
            tip.as_ref()
                .is_none_or(|(h, hash)| *h != best_h || hash != best_hash)
        })
        .map(|(n, tip)| {
            let at = tip.as_ref().map_or("no status".to_string(), |(h, hash)| {
                format!("height {h} (tip {})", short(hash))
            });
            (*n, format!("{n} at {at}"))
        })
        .collect();
    let nodes: Vec<&str> = behind.iter().map(|(n, _)| *n).collect();
    let descr: Vec<&str> = behind.iter().map(|(_, d)| d.as_str()).collect();
    out.violation(
        t,
        &nodes,
        format!(
            "{what}: {}; the others at height {best_h} (tip {})",
            list(&descr),
            short(best_hash)
        ),
    );
}

fn short(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}
