//! Part of `height_lag`: every block a running node takes on outside a
//! catch-up, it finalized itself or got announced (`block_finalized` event
//! with `source=consensus` or `source=announcement`).
//!
//! The node logs `block_finalized` for blocks from consensus and from
//! announcements, not for blocks fetched by its periodic sync. A node deaf
//! to the network that keeps up by polling (SYNC_TICK, 5 s protocol, well
//! inside a poll at time scale 30) lags too little for the harness's polls
//! to see, but its height grows with no such event. Excused: the node's own
//! process-fault windows and partition windows (`+ grace`), and its first
//! `grace` after it first came up (a joiner's catch-up). A stray block by
//! sync is honest (see [`MIN_SILENT`]).

use super::view::{View, Window};
use super::{Outcome, Params};
use crate::scenario::fmt_ms;
use std::collections::{BTreeMap, BTreeSet};

/// Honest nodes take a block by sync now and then (a proposal that
/// arrived late: 1 in 130 to 2440 blocks in the stored runs); a deaf node
/// takes most of them so. A node fails with at least this many silent
/// blocks making up more than a quarter of those it took on.
const MIN_SILENT: u64 = 3;

/// Heights each node logged as finalized (by consensus or announcement).
fn heard<'a>(v: &View<'a>) -> BTreeMap<&'a str, BTreeSet<u64>> {
    let mut out: BTreeMap<&str, BTreeSet<u64>> = BTreeMap::new();
    for e in &v.tl.events {
        if let Some(h) = e.finalized_height() {
            out.entry(e.node.as_str()).or_default().insert(h);
        }
    }
    out
}

/// Flags blocks taken on silently; returns (blocks checked, silent blocks).
pub(super) fn check_heard(
    v: &View,
    p: &Params,
    partitions: &[Window],
    out: &mut Outcome,
) -> (u64, u64) {
    let heard = heard(v);
    let empty = BTreeSet::new();
    let (mut checked, mut silent) = (0u64, 0u64);
    for node in &v.nodes {
        let Some(&up) = v.first_up.get(node) else {
            continue;
        };
        let own = v.node_windows(node, p.grace);
        let logged = heard.get(node.as_str()).unwrap_or(&empty);
        let mut prev: Option<u64> = None;
        let (mut mine, mut quiet, mut first) = (0u64, 0u64, None);
        for s in v.samples_of(node) {
            let Some(h) = s.status.as_ref().map(|st| st.height) else {
                continue;
            };
            let excused = s.t < up + p.grace
                || own.iter().any(|w| w.contains(s.t))
                || partitions.iter().any(|w| w.contains(s.t));
            if let (Some(h0), false) = (prev, excused) {
                for x in h0 + 1..=h {
                    mine += 1;
                    if !logged.contains(&x) {
                        quiet += 1;
                        first.get_or_insert((s.t, x));
                    }
                }
            }
            prev = Some(h);
        }
        checked += mine;
        silent += quiet;
        if let Some((t, x)) = first.filter(|_| quiet >= MIN_SILENT && quiet * 4 > mine) {
            out.violation(
                t,
                &[node],
                format!(
                    "{node} took on {quiet} of {mine} new blocks outside any catch-up without \
                     finalizing them or hearing them announced (no block_finalized event; \
                     the first, height {x}, by {}): it follows the chain by sync polling",
                    fmt_ms(t)
                ),
            );
        }
    }
    (checked, silent)
}
