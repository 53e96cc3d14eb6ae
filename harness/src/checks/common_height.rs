//! `common_height`: all running nodes reach the same height and tip hash,
//! at least `min_height`, by the end of the run and within `within` of the
//! last heal.
//!
//! The seeds had nodes stuck at height 0 with a single peer while the rest
//! moved on. "Agreement at `t`" means every running node COULD have held
//! the same tip at the instant `t`, given what its own polls show: each node
//! is polled on its own cadence, so a block that lands between two nodes'
//! polls makes one poll round disagree although the nodes never did (at
//! 200 ms-wall blocks and 300 ms polls that happened in every round of an
//! honest run's last second). A node's range at `t` runs from what it
//! reported at its last poll at or before `t` to what it reported at its
//! last poll at or before `t + poll + slack` (`slack` = half a poll: that
//! poll started after `t` even if polls drift, and its read lands after
//! any read of a poll started before `t` as long as a read takes less than
//! `slack`). Agreement at `t` = every running node's range holds a common
//! height `H`, no two nodes reported different tips at one height in those
//! ranges, and `H` is the lowest range top. An honest node's range always
//! holds the network's true height at `t`, so it cannot race this; a node
//! that trails the others by more than a poll and a half (plus a block
//! boundary) has no `t` where the ranges meet. Smaller lags are
//! `height_lag`'s.
//!
//! Deadlines, each reported at its own time with the lagging nodes:
//! - after each heal of a partition and after the last fault ends, at `L`
//!   (if `L + within` is inside the run): agreement somewhere in
//!   `[L, L + within]` on a tip ABOVE the highest tip any node held at `L`.
//!   Both halves of a split that stalled at the same tip "agree" at the
//!   heal itself; recovery means a new block that everyone holds;
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

    let mut heals: Vec<u64> =
        v.tl.faults
            .iter()
            .filter(|f| f.action.cuts_links())
            .filter_map(|f| f.end)
            .chain(last_heal)
            .filter(|e| *e <= end)
            .collect();
    heals.sort_unstable();
    heals.dedup();
    let mut recovered = 0usize;
    for l in heals {
        let what = if Some(l) == last_heal {
            "the last heal"
        } else {
            "a heal"
        };
        let deadline = l + p.within;
        // A heal followed by another disturbance within `within` (a churn
        // nemesis) is judged at the last heal or the end instead.
        let disturbed_after =
            v.tl.faults
                .iter()
                .any(|f| f.action.disturbs_network() && f.start > l && f.start <= deadline);
        if deadline > end || (disturbed_after && Some(l) != last_heal) {
            continue;
        }
        out.from = out.from.min(l);
        let top = top_height(v, l);
        match agreement(v, &times, l, deadline, top + 1) {
            Some((t, h, _)) => {
                recovered += 1;
                if Some(l) == last_heal {
                    notes.push(format!(
                        "agreed at height {h} (above {top}) {} after the last heal",
                        fmt_ms(t - l)
                    ));
                }
            }
            None => lagging(
                v,
                &mut out,
                deadline,
                &format!(
                    "no common tip above height {top} within {} of {what} at {}",
                    fmt_ms(p.within),
                    fmt_ms(l)
                ),
            ),
        }
    }
    if recovered > 0 {
        notes.push(format!(
            "recovered above the heal's tip after {recovered} heal(s)"
        ));
    }

    match agreement(v, &times, end.saturating_sub(settle), end, 0) {
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

/// The latest time in `[from, to]` at which all running nodes agree on a
/// tip at height `min` or more (see the module doc): `(t, height, tip hash)`.
fn agreement(v: &View, times: &[u64], from: u64, to: u64, min: u64) -> Option<(u64, u64, String)> {
    times
        .iter()
        .rev()
        .filter(|t| **t >= from && **t <= to)
        .find_map(|&t| agree_at(v, t, min).map(|(h, hash)| (t, h, hash)))
}

/// Whether every node running at `t` could have held one tip at `t`, at
/// height `min` or more: `(height, tip hash)`.
fn agree_at(v: &View, t: u64, min: u64) -> Option<(u64, String)> {
    let (before, after) = (t, t + v.poll + v.poll / 2);
    let (mut lo, mut hi) = (0u64, u64::MAX);
    let mut tips: BTreeMap<u64, &str> = BTreeMap::new();
    let mut any = false;
    for n in v.nodes.iter().filter(|n| v.running(n, t)) {
        any = true;
        // What the node reported at `before` and every stored change up to
        // `after` (samples are stored when the height or tip changes).
        let seen = v
            .latest(n, before)
            .into_iter()
            .chain(
                v.samples_of(n)
                    .iter()
                    .copied()
                    .filter(|s| s.t > before && s.t <= after),
            )
            .filter_map(|s| s.status.as_ref());
        let (mut n_lo, mut n_hi) = (u64::MAX, 0u64);
        for st in seen {
            n_lo = n_lo.min(st.height);
            n_hi = n_hi.max(st.height);
            if *tips.entry(st.height).or_insert(&st.tip_hash) != st.tip_hash {
                return None;
            }
        }
        if n_lo == u64::MAX {
            return None;
        }
        lo = lo.max(n_lo);
        hi = hi.min(n_hi);
    }
    if !any || lo > hi || hi < min {
        return None;
    }
    Some((hi, tips.get(&hi)?.to_string()))
}

/// The highest height any running node reports at `t`.
fn top_height(v: &View, t: u64) -> u64 {
    round(v, t)
        .into_values()
        .flatten()
        .map(|x| x.0)
        .max()
        .unwrap_or(0)
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
    // Polls land at different instants: the culprits are the nodes whose
    // heights over the last poll and a half all lie below another node's
    // lowest there (or that report nothing). Only when no node stands out
    // so (different tips), everyone off the best tip.
    let spans = ranges(v, t);
    let floor = spans.values().flatten().map(|x| x.0).max().unwrap_or(0);
    let below: Vec<&str> = spans
        .iter()
        .filter(|(_, x)| x.is_none_or(|(_, hi)| hi < floor))
        .map(|(n, _)| *n)
        .collect();
    let behind: Vec<(&str, String)> = r
        .iter()
        .filter(|(n, tip)| {
            if below.is_empty() {
                tip.as_ref()
                    .is_none_or(|(h, hash)| *h != best_h || hash != best_hash)
            } else {
                below.contains(*n)
            }
        })
        .map(|(n, tip)| {
            let at = tip.as_ref().map_or("no status".to_string(), |(h, hash)| {
                format!("height {h} (tip {})", short(hash))
            });
            (*n, format!("{n} at {at}"))
        })
        .collect();
    if behind.is_empty() {
        let all: Vec<&str> = r.keys().copied().collect();
        out.violation(
            t,
            &all,
            format!(
                "{what}: every node still at height {best_h} (tip {})",
                short(best_hash)
            ),
        );
        return;
    }
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

/// Each running node's (lowest, highest) height over `[t - 1.5 poll, t]`
/// (`None`: no status there).
fn ranges<'v>(v: &'v View, t: u64) -> BTreeMap<&'v str, Option<(u64, u64)>> {
    let from = t.saturating_sub(v.poll + v.poll / 2);
    v.nodes
        .iter()
        .filter(|n| v.running(n, t))
        .map(|n| {
            let heights: Vec<u64> = v
                .latest(n, from)
                .into_iter()
                .chain(
                    v.samples_of(n)
                        .iter()
                        .copied()
                        .filter(|s| s.t > from && s.t <= t),
                )
                .filter_map(|s| s.status.as_ref().map(|st| st.height))
                .collect();
            let span = heights
                .iter()
                .min()
                .zip(heights.iter().max())
                .map(|(a, b)| (*a, *b));
            (n.as_str(), span)
        })
        .collect()
}

fn short(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}
