//! `no_fork`: never two different block hashes at one height, on any node,
//! at any time (the seeds' forks after a partition). Uses every `/status`
//! poll ever taken, faults or not: BFT finality forbids a fork even in a
//! minority partition, so there is no grace here.

use super::view::View;
use super::{Outcome, Params};
use crate::scenario::fmt_ms;
use std::collections::BTreeMap;

pub(super) fn check(v: &View, _p: &Params) -> Outcome {
    let mut out = Outcome::new(0, v.tl.end);
    // height -> hash -> (first time, first node)
    let mut seen: BTreeMap<u64, BTreeMap<&str, (u64, &str)>> = BTreeMap::new();
    let mut reported = std::collections::BTreeSet::new();
    let mut polls = 0usize;
    for s in &v.tl.samples {
        if v.ignored.contains(&s.node) {
            continue;
        }
        let Some(st) = &s.status else { continue };
        polls += 1;
        let hashes = seen.entry(st.height).or_default();
        if !hashes.contains_key(st.tip_hash.as_str()) {
            if let Some((other, (t0, n0))) = hashes.iter().next() {
                if reported.insert(st.height) {
                    out.violation(
                        s.t,
                        &[n0, &s.node],
                        format!(
                            "fork at height {}: {} reports {} at {}, but {} reported {} at {}",
                            st.height,
                            s.node,
                            st.tip_hash,
                            fmt_ms(s.t),
                            n0,
                            other,
                            fmt_ms(*t0)
                        ),
                    );
                }
            }
            hashes.insert(st.tip_hash.as_str(), (s.t, s.node.as_str()));
        }
    }
    let forks = seen.values().filter(|h| h.len() > 1).count();
    out.details = format!(
        "{} heights seen in {} polls; {} with more than one hash",
        seen.len(),
        polls,
        forks
    );
    out
}
