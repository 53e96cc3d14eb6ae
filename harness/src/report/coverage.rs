//! Coverage of rare protocol events: what the nodes counted on `/metrics`
//! (round > 0, nil precommits, lock moves, tie-breaks either way, redials
//! after a backoff, catch-up from one peer), summed over the run's nodes
//! and their processes. `report.json` carries it as `coverage`
//! (event -> count); `harness explore` reports which events each seed
//! reached and steers toward kinds that reach new ones; a scenario's
//! `must_reach` names events some seed has to reach.

use super::prom::Accumulated;
use std::collections::BTreeMap;

/// Every event: its name (as `must_reach` spells it) and the node's counter.
pub use crate::scenario::events::COVERAGE_EVENTS as EVENTS;

/// Event -> count of a run; every event is present (0 when not reached),
/// so a report shows what was looked for.
pub type Coverage = BTreeMap<String, u64>;

/// Sum each event's counter over every node (each node's value already
/// spans its restarts).
pub fn from_metrics(metrics: &BTreeMap<String, Accumulated>) -> Coverage {
    EVENTS
        .iter()
        .map(|(event, metric)| {
            let n: f64 = metrics.values().filter_map(|m| m.total(metric)).sum();
            (event.to_string(), n.max(0.0) as u64)
        })
        .collect()
}

/// The events with a count above 0.
pub fn reached(c: &Coverage) -> Vec<String> {
    c.iter()
        .filter(|(_, n)| **n > 0)
        .map(|(e, _)| e.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::prom::parse;

    #[test]
    fn sums_nodes_and_restarts_and_lists_every_event() {
        let mut a = Accumulated::default();
        a.push(parse(
            "timed_tie_break_remote_total 2\ntimed_connects_total 5\n",
        ));
        // Restarted: counters start again; the earlier 2 are kept.
        a.push(parse(
            "timed_tie_break_remote_total 1\ntimed_connects_total 1\n",
        ));
        let mut b = Accumulated::default();
        b.push(parse("timed_consensus_rounds_above_zero_total 4\n"));
        let m = BTreeMap::from([("n1".to_string(), a), ("n2".to_string(), b)]);
        let c = from_metrics(&m);
        assert_eq!(c.len(), EVENTS.len());
        assert_eq!(c["tie_break_remote"], 3);
        assert_eq!(c["round_gt0"], 4);
        assert_eq!(c["lock_change"], 0);
        assert_eq!(reached(&c), vec!["round_gt0", "tie_break_remote"]);
    }
}
