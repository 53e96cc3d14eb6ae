//! `tx_delivery`: every transaction the workload submitted and a node
//! accepted is in the chain of every node running at the end. Transactions
//! accepted in the last three block intervals are not required (they may be
//! pending legitimately when the run stops). No accepted transaction at all
//! fails: the check is only listed with a workload.

use super::view::View;
use super::{list, Outcome, Params};
use crate::scenario::fmt_ms;

pub(super) fn check(v: &View, p: &Params) -> Outcome {
    let end = v.tl.end;
    let cutoff = end.saturating_sub(3 * p.block_interval);
    let mut out = Outcome::new(0, cutoff);
    let nodes: Vec<&String> = v.nodes.iter().filter(|n| v.running(n, end)).collect();
    let due: Vec<_> =
        v.tl.txs_submitted
            .iter()
            .filter(|tx| tx.t <= cutoff)
            .collect();
    let mut missing_total = 0;
    for tx in &due {
        let missing: Vec<&str> = nodes
            .iter()
            .filter(|n| {
                v.tl.txs_in_chain
                    .get(n.as_str())
                    .is_none_or(|set| !set.contains(&tx.txid))
            })
            .map(|n| n.as_str())
            .collect();
        if !missing.is_empty() {
            missing_total += 1;
            out.violation(
                tx.t,
                &missing,
                format!(
                    "tx {} accepted by {} at {} is not in the chain of {}",
                    tx.txid,
                    tx.node,
                    fmt_ms(tx.t),
                    list(&missing)
                ),
            );
        }
    }
    if v.tl.txs_submitted.is_empty() {
        // The check is only listed with a workload: nothing accepted means
        // the workload failed, and a vacuous pass would hide that.
        out.violation(
            end,
            &[],
            "no transaction was accepted by any node: nothing was delivered",
        );
    }
    out.details = if v.tl.txs_submitted.is_empty() {
        "no transactions were accepted".into()
    } else {
        format!(
            "{} accepted txs due ({} in the last blocks not required); {} missing on some node; {} nodes checked",
            due.len(),
            v.tl.txs_submitted.len() - due.len(),
            missing_total,
            nodes.len()
        )
    };
    out
}
