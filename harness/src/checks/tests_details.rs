//! What each check reports besides pass/fail: its measured summary, its
//! window, its violation count and the first violation's message, pinned on
//! a clean run and on an eventful one. A human reads these first, and a
//! wrong count (a counter that never grows, a window computed backwards) is
//! a bug even when pass/fail is right; cargo-mutants showed none of the
//! pass/fail tests would notice.

use super::testkit::{scenario, Net, MIN, SEC};
use super::tests_dial::{dial_failed, NOWHERE};
use super::{evaluate, CheckResult, Outcome};
use crate::observe::model::Timeline;
use crate::scenario::CheckKind;

/// One line per check: name, passed, violations, window, details, first
/// violation.
fn summary(results: &[CheckResult]) -> Vec<String> {
    results
        .iter()
        .map(|r| {
            format!(
                "{} passed={} violations={} window={}..{} | {} | {:?}",
                r.name,
                r.passed,
                r.violations,
                r.evaluated_from,
                r.evaluated_to,
                r.details,
                r.first_violation
            )
        })
        .collect()
}

/// 5 masternodes: n1 cut off 20m..25m (the other four keep a quorum), n3
/// restarted 40m..41m, n4-n5 cycle once at 50m, a duplicate socket n1-n2
/// for 25 s at 10m, and n1 dialing an address nobody has, once too soon.
fn eventful() -> Timeline {
    let mut net = Net::new(5);
    net.partition(&[&[1], &[2, 3, 4, 5]], 20 * MIN, 25 * MIN)
        .restart(3, 40 * MIN, 41 * MIN)
        .reconnect(4, 5, 50 * MIN, "ping timeout")
        .kernel_duplicate_during(1, 2, 10 * MIN, 10 * MIN + 25 * SEC);
    let mut tl = net.build();
    dial_failed(
        &mut tl,
        1,
        NOWHERE,
        &[5 * MIN, 5 * MIN + SEC, 5 * MIN + 3 * SEC, 5 * MIN + 4 * SEC],
    );
    tl
}

#[test]
fn a_clean_run_reports_what_it_measured() {
    let got = summary(&evaluate(&scenario(6), &Net::new(6).build()));
    let want = [
        "no_cycling passed=true violations=0 window=120000..3600000 | 15 pairs, 15 connected once; 0 reconnects and 0 ping timeouts logged outside faults, 0 unlogged disconnects (kernel view); 0 expected reconnects in 0 pair fault windows; 0 handshake timeouts outside faults | None",
        "one_peer_per_ip passed=true violations=0 window=0..3600000 | 2166 polls, max 1 kernel socket(s) per remote IP; full mesh checked in 2094 polls, per pair outside its faults | None",
        "common_height passed=true violations=0 window=3460000..3600000 | 6 nodes at height 60 (tip h60) at 1h00m00s | None",
        "no_fork passed=true violations=0 window=0..3600000 | 61 heights seen in 2166 polls; 0 with more than one hash | None",
        "progress passed=true violations=0 window=120000..3600000 | max height 2 -> 60; longest wait for a block while a quorum was up: 50s (limit 5m00s); 0 block(s) finalized in 0 polls of nodes cut off from any quorum | None",
        "node_up passed=true violations=0 window=0..3600000 | 6 nodes checked from their start + 4m00s; longest unexcused down time 0ms (limit 20s); 0 process-fault window(s) excused | None",
        "kernel_view passed=true violations=0 window=0..3600000 | 2166 polls compared /peers with the kernel table; longest mismatch 0ms (limit 20s) | None",
        "dial_backoff passed=true violations=0 window=0..3600000 | 0 failed dials to 0 target streak(s); longest streak 0 attempts | None",
        "height_lag passed=true violations=0 window=120000..3600000 | 361 poll rounds outside partitions; longest lag behind the top 0ms (limit 1m20s), at most 0 block(s) behind; 0 of 342 new blocks taken on without a block_finalized event; longest lag behind its own side in a partition 0ms (limit 4m00s) | None",
    ];
    assert_eq!(got, want);
}

#[test]
fn an_eventful_run_reports_each_fault_and_violation_it_counted() {
    let got = summary(&evaluate(&scenario(5), &eventful()));
    let want = [
        "no_cycling passed=false violations=10 window=120000..3600000 | 10 pairs, 9 connected once; 1 reconnects and 2 ping timeouts logged outside faults, 0 unlogged disconnects (kernel view); 8 expected reconnects in 8 pair fault windows; 0 handshake timeouts outside faults | Some(Violation { t: 3000000, nodes: [\"n4\", \"n5\"], message: \"node events: n4 disconnected from n5 (ping timeout) outside any fault\" })",
        "one_peer_per_ip passed=false violations=2 window=0..3600000 | 1799 polls, max 2 kernel socket(s) per remote IP; full mesh checked in 1739 polls, per pair outside its faults | Some(Violation { t: 600000, nodes: [\"n1\", \"n2\"], message: \"kernel view: n1 holds 2 ESTABLISHED sockets to n2 on port 24100 from 10m00s to 10m20s at least (a handshake resolves within 10s)\" })",
        "common_height passed=true violations=0 window=1500000..3600000 | 5 nodes at height 60 (tip h60) at 1h00m00s; agreed at height 44 (above 41) 3m00s after the last heal; recovered above the heal's tip after 2 heal(s) | None",
        "no_fork passed=true violations=0 window=0..3600000 | 61 heights seen in 1799 polls; 0 with more than one hash | None",
        "progress passed=true violations=0 window=120000..3600000 | max height 2 -> 60; longest wait for a block while a quorum was up: 50s (limit 5m00s); 0 block(s) finalized in 29 polls of nodes cut off from any quorum | None",
        "node_up passed=true violations=0 window=0..3600000 | 5 nodes checked from their start + 4m00s; longest unexcused down time 0ms (limit 20s); 1 process-fault window(s) excused | None",
        "kernel_view passed=true violations=0 window=0..3600000 | 1799 polls compared /peers with the kernel table; longest mismatch 0ms (limit 20s) | None",
        "dial_backoff passed=false violations=1 window=0..3600000 | 4 failed dials to 1 target streak(s); longest streak 4 attempts | Some(Violation { t: 304000, nodes: [\"n1\", \"172.28.0.99\"], message: \"n1 dialed 172.28.0.99 again 1s after failed attempt 3 (its backoff allows no sooner than 4s): 4 failed dials in 4s, the backoff allows 3\" })",
        "height_lag passed=true violations=0 window=120000..3600000 | 306 poll rounds outside partitions; longest lag behind the top 0ms (limit 1m20s), at most 0 block(s) behind; 0 of 229 new blocks taken on without a block_finalized event; longest lag behind its own side in a partition 0ms (limit 4m00s) | None",
    ];
    assert_eq!(got, want);
}

#[test]
fn violation_nodes_are_sorted_by_index_and_deduplicated() {
    // `n2` before `n10` (not as strings), an IP after every node, once each.
    let mut out = Outcome::new(0, 10);
    out.violation(5, &["n10", "172.28.0.99", "n2", "n2"], "storm");
    let first = out.into_result(CheckKind::DialBackoff).first_violation;
    assert_eq!(first.unwrap().nodes, ["n2", "n10", "172.28.0.99"]);
    // The earliest violation is the first, whatever order they came in.
    let mut out = Outcome::new(0, 10);
    out.violation(7, &["n1"], "later");
    out.violation(3, &["n3", "n1"], "earlier");
    let r = out.into_result(CheckKind::NoFork);
    assert_eq!((r.passed, r.violations), (false, 2));
    let first = r.first_violation.unwrap();
    assert_eq!(
        (first.t, first.nodes, first.message.as_str()),
        (3, vec!["n1".to_string(), "n3".to_string()], "earlier")
    );
}
