//! `height_lag`: a running node hears the network, it does not merely
//! follow it by polling.
//!
//! A finalized block reaches every connected node within milliseconds, so
//! outside fault windows no running node may trail the highest height any
//! node reports for longer than one block interval (plus two polls: heights
//! are only seen once a poll). A node deaf to block
//! announcements that keeps up only through its periodic sync lags a block
//! at a time and still "agrees" at the end; it fails here, with the longest
//! lag and how far behind it was.
//!
//! Second rule (`heard`): every block taken on outside a catch-up comes
//! with the node's own `block_finalized` event; see [`super::heard`].
//!
//! Third rule (side lag): while a partition holds, a running node must
//! not trail the highest height on its own side (the nodes it can reach)
//! for longer than `grace`. A joiner that can reach one peer must catch up
//! from that peer; a sync that waits for several peers sits at 0 until the
//! heal, which the rules above excuse (sides legitimately differ).
//!
//! Excused: a node in its own process-fault or `cpu_throttle` window
//! (`[start, end + grace]`; a starved node may fall behind, it must catch
//! up once released),
//! anyone during a partition window (`+ grace`; sides legitimately differ),
//! and a node before its start + warm-up (late joiners sync first).

use super::view::View;
use super::{Outcome, Params};
use crate::scenario::fmt_ms;
use std::collections::BTreeMap;

pub(super) fn check(v: &View, p: &Params) -> Outcome {
    let from = v.first_up.values().min().map_or(0, |t| t + p.warmup);
    let mut out = Outcome::new(from, v.tl.end);
    let partitions = v.partition_windows(p.grace);
    let own: BTreeMap<&str, Vec<super::Window>> = v
        .nodes
        .iter()
        .map(|n| {
            let mut ws = v.node_windows(n, p.grace);
            ws.extend(v.throttle_windows(n, p.grace));
            (n.as_str(), ws)
        })
        .collect();
    // node -> (behind since, most blocks behind, reported)
    // Heights are read once a poll, each node's a little apart: a lag is
    // seen in poll-sized steps, so a block interval shorter than a few
    // polls (time scale 15 and 4 s blocks: 4.5 s per poll) needs them.
    let limit = p.block_interval + 2 * v.poll;
    let mut behind: BTreeMap<&str, (u64, u64, bool)> = BTreeMap::new();
    let mut side = SideLag::default();
    let (mut longest, mut worst, mut rounds) = (0u64, 0u64, 0usize);
    for t in v.sample_times() {
        let heights: Vec<(&str, u64)> = v
            .nodes
            .iter()
            .filter(|n| v.running(n, t))
            .filter_map(|n| {
                let st = v.latest(n, t)?.status.as_ref()?;
                Some((n.as_str(), st.height))
            })
            .collect();
        let Some(top) = heights.iter().map(|x| x.1).max() else {
            continue;
        };
        if partitions.iter().any(|w| w.contains(t)) {
            behind.clear();
            side.observe(v, p, t, &heights, &own, &mut out);
            continue;
        }
        side.behind.clear();
        rounds += 1;
        for (n, h) in heights {
            let warm = v.first_up.get(n).is_some_and(|f| t >= f + p.warmup);
            let excused = !warm || own[n].iter().any(|w| w.contains(t));
            if excused || h >= top {
                behind.remove(n);
                continue;
            }
            let e = behind.entry(n).or_insert((t, 0, false));
            e.1 = e.1.max(top - h);
            let lag = t - e.0;
            longest = longest.max(lag);
            worst = worst.max(top - h);
            if lag > limit && !e.2 {
                e.2 = true;
                out.violation(
                    e.0,
                    &[n],
                    format!(
                        "{n} trailed the network's highest height from {} to {} at least \
                         (up to {} block(s) behind; now {h} vs {top}), longer than one block \
                         interval plus two polls ({}) outside any fault",
                        fmt_ms(e.0),
                        fmt_ms(t),
                        e.1,
                        fmt_ms(limit)
                    ),
                );
            }
        }
    }
    let (checked, silent) = super::heard::check_heard(v, p, &partitions, &mut out);
    out.details = format!(
        "{rounds} poll rounds outside partitions; longest lag behind the top {} (limit {}), \
         at most {worst} block(s) behind; {silent} of {checked} new blocks taken on without \
         a block_finalized event; longest lag behind its own side in a partition {} (limit {})",
        fmt_ms(longest),
        fmt_ms(limit),
        fmt_ms(side.longest),
        fmt_ms(p.grace)
    );
    out
}

/// The side-lag rule's state: node -> (behind its side since, reported).
#[derive(Default)]
struct SideLag<'v> {
    behind: BTreeMap<&'v str, (u64, bool)>,
    longest: u64,
}

impl<'v> SideLag<'v> {
    /// One poll round `t` inside a partition window: while cuts are in
    /// force, each warm, unexcused node against its own side's top.
    fn observe(
        &mut self,
        v: &View,
        p: &Params,
        t: u64,
        heights: &[(&'v str, u64)],
        own: &BTreeMap<&str, Vec<super::Window>>,
        out: &mut Outcome,
    ) {
        let cut =
            v.tl.faults
                .iter()
                .any(|f| f.action.cuts_links() && t >= f.start && f.end.is_none_or(|e| t < e));
        if !cut {
            self.behind.clear();
            return;
        }
        for &(n, h) in heights {
            let warm = v.first_up.get(n).is_some_and(|f| t >= f + p.warmup);
            let reach = v.component(n, t);
            let top = heights
                .iter()
                .filter(|(m, _)| reach.iter().any(|r| r == m))
                .map(|x| x.1)
                .max()
                .unwrap_or(h);
            if !warm || own[n].iter().any(|w| w.contains(t)) || h >= top {
                self.behind.remove(n);
                continue;
            }
            let e = self.behind.entry(n).or_insert((t, false));
            let lag = t - e.0;
            self.longest = self.longest.max(lag);
            if lag > p.grace && !e.1 {
                e.1 = true;
                out.violation(
                    e.0,
                    &[n],
                    format!(
                        "{n} trailed the highest height on its side of a partition from {} to \
                         {} at least (now {h} vs {top} among {}), longer than the grace ({}): \
                         it does not catch up from the peers it can reach",
                        fmt_ms(e.0),
                        fmt_ms(t),
                        super::list(&reach),
                        fmt_ms(p.grace)
                    ),
                );
            }
        }
    }
}
