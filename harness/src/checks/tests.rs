//! Each bug signature from the seeds fails exactly its check, with the first
//! violation's time and nodes, and a clean timeline passes everything (what
//! faults excuse is in `tests_faults`). Also the helpers the other test
//! files share.

use super::testkit::{ip, name, outbound_event, scenario, Net, MIN, SEC};
use super::{evaluate, evaluate_one, CheckResult, Violation};
use crate::observe::model::TxRecord;
use crate::scenario::{parse, CheckKind};
use timed::api::types::EventKind;

/// Assert that only `failing` fails and return its first violation.
pub(super) fn only_fails(results: &[CheckResult], failing: &str) -> Violation {
    fails_exactly(results, &[failing])
}

/// Assert that exactly the checks in `failing` fail and return the first
/// violation of the first of them.
pub(super) fn fails_exactly(results: &[CheckResult], failing: &[&str]) -> Violation {
    for r in results {
        if failing.contains(&r.name.as_str()) {
            assert!(!r.passed, "{} should fail: {}", r.name, r.details);
        } else {
            assert!(
                r.passed,
                "{} should pass, failed with {:?} ({})",
                r.name, r.first_violation, r.details
            );
        }
    }
    results
        .iter()
        .find(|r| r.name == failing[0])
        .and_then(|r| r.first_violation.clone())
        .expect("the failing check is in the scenario")
}

pub(super) fn all_pass(results: &[CheckResult]) {
    for r in results {
        assert!(
            r.passed,
            "{} failed: {:?} ({})",
            r.name, r.first_violation, r.details
        );
    }
}

pub(super) fn nodes(v: &Violation) -> Vec<&str> {
    v.nodes.iter().map(String::as_str).collect()
}

pub(super) fn run(net: &Net) -> Vec<CheckResult> {
    evaluate(&scenario(net.n), &net.build())
}

#[test]
fn clean_timeline_passes_every_check() {
    let results = run(&Net::new(6));
    assert_eq!(results.len(), 9);
    all_pass(&results);
    let nc = &results[0];
    assert!(
        nc.details
            .starts_with("15 pairs, 15 connected once; 0 reconnects and 0 ping timeouts"),
        "{}",
        nc.details
    );
    assert!(
        results[2].details.contains("6 nodes at height 60"),
        "{}",
        results[2].details
    );
}

#[test]
fn ping_timeout_cycling_every_90s_fails_no_cycling() {
    // The seeds' signature: unread pongs, a ping timeout and a reconnect
    // every 90 s. The one at 1m35s falls in the warm-up (2 min).
    let mut net = Net::new(6);
    net.cycle(1, 2, 95 * SEC, 90 * SEC);
    let results = run(&net);
    let v = only_fails(&results, "no_cycling");
    assert_eq!(v.t, 185 * SEC);
    assert_eq!(nodes(&v), ["n1", "n2"]);
    assert!(v.message.contains("ping timeout"), "{}", v.message);
    // The events' `ping timeout` reasons are counted as such.
    let details = &results
        .iter()
        .find(|r| r.name == "no_cycling")
        .unwrap()
        .details;
    assert!(!details.contains(" 0 ping timeouts"), "{details}");
}

#[test]
fn two_kernel_sockets_for_one_pair_fail_one_peer_per_ip() {
    let mut net = Net::new(6);
    net.kernel_duplicate(3, 4, 10 * MIN);
    let v = only_fails(&run(&net), "one_peer_per_ip");
    assert_eq!(v.t, 10 * MIN);
    assert_eq!(nodes(&v), ["n3", "n4"]);
    assert!(
        v.message.starts_with("kernel view: n3 holds 2"),
        "{}",
        v.message
    );
}

#[test]
fn node_stuck_at_height_zero_fails_common_height() {
    let mut net = Net::new(6);
    net.stuck(6, 0);
    // height_lag sees it too, from the first block on.
    let v = fails_exactly(&run(&net), &["common_height", "height_lag"]);
    assert_eq!(v.t, 60 * MIN, "reported at the deadline (the end)");
    assert_eq!(nodes(&v), ["n6"]);
    assert!(v.message.contains("n6 at height 0"), "{}", v.message);
}

#[test]
fn two_hashes_at_one_height_fail_no_fork() {
    let mut net = Net::new(6);
    net.bad_hash(5, 10);
    let v = only_fails(&run(&net), "no_fork");
    assert_eq!(v.t, 10 * MIN);
    assert_eq!(nodes(&v), ["n1", "n5"]);
    assert!(v.message.contains("fork at height 10"), "{}", v.message);
}

#[test]
fn a_disconnect_nobody_logged_fails_no_cycling() {
    // The kernel socket goes away between polls; no node logs anything and
    // both still list each other.
    let mut net = Net::new(6);
    net.kernel_vanish(2, 5, 20 * MIN + 5);
    // Both keep listing a peer they hold no socket to: kernel_view too.
    let v = fails_exactly(&run(&net), &["no_cycling", "kernel_view"]);
    assert_eq!(v.t, 20 * MIN + 10 * SEC, "seen at the next poll");
    assert_eq!(nodes(&v), ["n2", "n5"]);
    assert!(
        v.message.contains("no node logged a disconnect"),
        "{}",
        v.message
    );
    assert!(
        v.message.contains("still reports it connected"),
        "{}",
        v.message
    );
}

#[test]
fn silent_socket_replacement_is_a_kernel_reconnect() {
    // The node view is perfect but the kernel shows the pair's 4-tuple
    // changing: the node reconnected without telling anyone.
    let mut net = Net::new(4);
    net.close(1, 3, 30 * MIN + 1, None).open(1, 3, 30 * MIN + 2);
    let mut tl = net.build();
    // Hide the node-view evidence: no connection events, counters unchanged.
    tl.events
        .retain(|e| e.t < 30 * MIN || e.event.kind == EventKind::BlockFinalized);
    for s in &mut tl.samples {
        for p in s.peers.iter_mut().flatten() {
            p.connects = 1;
        }
    }
    let results = evaluate(&scenario(4), &tl);
    let v = only_fails(&results, "no_cycling");
    assert_eq!(v.t, 30 * MIN + 10 * SEC);
    assert_eq!(nodes(&v), ["n1", "n3"]);
    assert!(v.message.starts_with("kernel view"), "{}", v.message);
}

#[test]
fn lost_peer_breaks_the_full_mesh() {
    // n4 drops n2 (logged) and never reconnects.
    let mut net = Net::new(4);
    net.close(2, 4, 40 * MIN + 1, Some("peer closed"));
    let results = run(&net);
    let mesh = results
        .iter()
        .find(|r| r.name == "one_peer_per_ip")
        .unwrap();
    let v = mesh.first_violation.as_ref().expect("mesh broken");
    assert_eq!(v.t, 40 * MIN + 10 * SEC);
    assert_eq!(nodes(v), ["n2", "n4"]);
    assert!(v.message.contains("missing: n4"), "{}", v.message);
    // And no_cycling names the unexplained disconnect.
    let nc = results.iter().find(|r| r.name == "no_cycling").unwrap();
    assert_eq!(nc.first_violation.as_ref().unwrap().t, 40 * MIN + 1);
}

/// Three nodes for an hour with a transaction workload, tx_delivery alone.
pub(super) fn tx_scenario() -> crate::scenario::Scenario {
    let text = r#"
name = "tx"
duration = "1h"
[network]
nodes = 3
[workload]
tx_interval = "1m"
[[check]]
kind = "tx_delivery"
"#;
    parse(text, "tx.toml").unwrap()
}

#[test]
fn tx_delivery_names_the_nodes_missing_a_transaction() {
    let sc = tx_scenario();
    let mut tl = Net::new(3).build();
    tl.txs_submitted = vec![
        TxRecord {
            t: 5 * MIN,
            txid: "aa".into(),
            node: "n1".into(),
        },
        TxRecord {
            t: 6 * MIN,
            txid: "bb".into(),
            node: "n2".into(),
        },
        // Too close to the end to be required.
        TxRecord {
            t: 59 * MIN,
            txid: "cc".into(),
            node: "n2".into(),
        },
    ];
    for i in 1..=3 {
        tl.txs_in_chain
            .insert(name(i), ["aa".to_string(), "bb".to_string()].into());
    }
    let r = &evaluate(&sc, &tl)[0];
    assert!(r.passed, "{:?}", r.first_violation);

    tl.txs_in_chain.get_mut("n3").unwrap().remove("bb");
    let r = &evaluate(&sc, &tl)[0];
    let v = r.first_violation.as_ref().unwrap();
    assert_eq!((v.t, nodes(v)), (6 * MIN, vec!["n3"]));

    tl.txs_submitted.clear();
    assert!(
        !evaluate(&sc, &tl)[0].passed,
        "no accepted tx at all is a failure"
    );
}

#[test]
fn foreign_genesis_node_is_ignored_by_every_check() {
    let mut sc = scenario(5);
    sc.nodes.push(crate::scenario::NodeSpec {
        name: "n5".into(),
        start_at: None,
        bootstrap: None,
        foreign_genesis: true,
    });
    let mut net = Net::new(5);
    net.refused(5).stuck(5, 0).bad_hash(5, 0);
    all_pass(&evaluate(&sc, &net.build()));
    // A handshake with it that times out (either side logging) is no
    // no_cycling failure either.
    for (node, peer) in [(1, 5), (5, 1)] {
        let mut tl = net.build();
        outbound_event(
            &mut tl,
            node,
            ip(peer),
            20 * MIN,
            EventKind::DialFailed,
            "handshake timeout",
        );
        all_pass(&evaluate(&sc, &tl));
    }
    // Without the flag the same timeline is a broken mesh, a stuck node and a fork.
    let results = evaluate(&scenario(5), &net.build());
    for failing in ["one_peer_per_ip", "common_height", "no_fork"] {
        assert!(
            !results.iter().find(|r| r.name == failing).unwrap().passed,
            "{failing}"
        );
    }
}

#[test]
fn a_duplicate_socket_that_outlives_no_handshake_is_a_tie_break_not_a_bug() {
    // Polls every 10 s at time scale 1: the handshake limit is 10 s.
    let mut net = Net::new(4);
    net.kernel_duplicate_during(1, 2, 10 * MIN, 10 * MIN + 5 * SEC);
    all_pass(&run(&net));
    // Seen in two polls 10 s apart: a slow handshake, still no bug.
    let mut net = Net::new(4);
    net.kernel_duplicate_during(1, 2, 10 * MIN, 10 * MIN + 15 * SEC);
    all_pass(&run(&net));
    // Seen 20 s apart: longer than any handshake, two connections.
    let mut net = Net::new(4);
    net.kernel_duplicate_during(1, 2, 10 * MIN, 10 * MIN + 25 * SEC);
    let v = only_fails(&run(&net), "one_peer_per_ip");
    assert_eq!((v.t, nodes(&v)), (10 * MIN, vec!["n1", "n2"]));
}

#[test]
fn cycling_shows_in_peer_counters_alone() {
    // The node's event log lost (a ring that overflowed between polls) and
    // the kernel table unreadable: `/peers`' per-IP history (`connects`,
    // `ping_timeouts`) still catches the cycle at the first poll after it.
    let mut net = Net::new(6);
    net.cycle(1, 2, 95 * SEC, 90 * SEC);
    let mut tl = net.build();
    tl.events.clear();
    for s in &mut tl.samples {
        s.kernel = None;
    }
    let results = evaluate(&scenario(6), &tl);
    let r = results.iter().find(|r| r.name == "no_cycling").unwrap();
    assert!(!r.passed, "{}", r.details);
    let v = r.first_violation.as_ref().unwrap();
    assert_eq!(v.t, 190 * SEC, "the poll after the 185 s reconnect");
    assert_eq!(nodes(v), ["n1", "n2"]);
    assert!(v.message.starts_with("node counters"), "{}", v.message);
}

#[test]
fn a_network_that_never_gets_past_its_first_block_fails_progress_one_stall_after_warmup() {
    // Every node stops at height 1: progress is expected from the end of
    // the warm-up (2m, a poll instant) on, so the stall is due at 2m + 5m.
    let mut net = Net::new(6);
    for i in 1..=6 {
        net.stuck(i, 1);
    }
    let results = run(&net);
    let progress = results.iter().find(|r| r.name == "progress").unwrap();
    let v = progress.first_violation.as_ref().expect("no block after 1");
    assert_eq!(v.t, 7 * MIN, "{}", v.message);
    assert!(v.message.contains("no new block for 5m"), "{}", v.message);
}

#[test]
fn tx_delivery_requires_transactions_up_to_three_block_intervals_before_the_end() {
    // 1 m blocks, 60 m run: a tx accepted at 57m must be everywhere, one
    // accepted a millisecond later may still be pending.
    let sc = tx_scenario();
    let missing_on_n3 = |t: u64| {
        let mut tl = Net::new(3).build();
        tl.txs_submitted = vec![TxRecord {
            t,
            txid: "aa".into(),
            node: "n1".into(),
        }];
        for i in 1..=2 {
            tl.txs_in_chain.insert(name(i), ["aa".to_string()].into());
        }
        evaluate(&sc, &tl).remove(0)
    };
    let r = missing_on_n3(57 * MIN);
    assert!(
        r.details.contains("; 1 missing on some node;"),
        "{}",
        r.details
    );
    let v = r.first_violation.expect("due at exactly 57m");
    assert_eq!((v.t, nodes(&v)), (57 * MIN, vec!["n3"]));
    let r = missing_on_n3(57 * MIN + 1);
    assert!(r.passed, "{:?} ({})", r.first_violation, r.details);
}

#[test]
fn kernel_view_allows_a_mismatch_exactly_as_long_as_a_handshake_and_a_poll() {
    // Limit at time scale 1: 10 s handshake + 10 s poll. n2 lists n5 with
    // no socket to it in the polls from 20m on: three polls (20 s, exactly
    // the limit) pass, four (30 s) fail.
    let zombie_polls = |polls: u64| {
        let mut tl = Net::new(6).build();
        for s in tl
            .samples
            .iter_mut()
            .filter(|s| s.node == "n2" && s.t >= 20 * MIN && s.t < 20 * MIN + polls * 10 * SEC)
        {
            s.kernel.as_mut().unwrap().retain(|k| k.remote_ip != ip(5));
        }
        evaluate_one(CheckKind::KernelView, &scenario(6), &tl)
    };
    let r = zombie_polls(3);
    assert!(r.passed, "{:?} ({})", r.first_violation, r.details);
    let v = zombie_polls(4)
        .first_violation
        .expect("30 s is over the limit");
    assert_eq!((v.t, nodes(&v)), (20 * MIN, vec!["n2", "n5"]));
}

#[test]
fn a_node_first_polled_after_the_others_is_not_running_before_it() {
    // n6's polls land 3 s after everyone else's, the first at 3 s: before
    // it, n6 is simply not seen yet, and the run is clean.
    let mut tl = Net::new(6).build();
    for s in tl.samples.iter_mut().filter(|s| s.node == "n6") {
        s.t += 3 * SEC;
    }
    tl.samples.retain(|s| s.t <= tl.end);
    tl.samples.sort_by_key(|s| s.t);
    for kind in [
        CheckKind::HeightLag,
        CheckKind::CommonHeight,
        CheckKind::Progress,
    ] {
        let r = evaluate_one(kind, &scenario(6), &tl);
        assert!(
            r.passed,
            "{:?}: {:?} ({})",
            kind, r.first_violation, r.details
        );
    }
}

/// `full_mesh_at` lives with the recorder (both providers' rule); its
/// cases are built with this module's timeline kit.
#[test]
fn the_full_mesh_is_when_every_running_node_sees_every_other_in_both_views() {
    // Links come up at ~1 s; the first poll after is at 10 s.
    assert_eq!(
        crate::observe::recorder::full_mesh_at(&Net::new(4).build()),
        Some(10 * SEC)
    );
    // A late joiner not started yet does not hold the mesh back.
    assert_eq!(
        crate::observe::recorder::full_mesh_at(&Net::new(4).late(4, 2 * MIN).build()),
        Some(10 * SEC)
    );
    // Nodes that list each other while the kernel holds no socket
    // between them are not a mesh (the docker run's rule too).
    assert_eq!(
        crate::observe::recorder::full_mesh_at(&Net::new(4).kernel_vanish(1, 2, 5 * SEC).build()),
        None
    );
}
