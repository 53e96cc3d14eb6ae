//! The figures the checks' summaries print, and whom a split tip blames.
//! Found by cargo-mutants: a counter that never counts (`+= 1` turned into
//! `*= 1`) changes no verdict, only the summary a reader trusts, so only a
//! test that reads the summary sees it.

use super::testkit::{ip, name, outbound_event, scenario, Net, MIN};
use super::tests::{nodes, tx_scenario};
use super::tests_faults::minority_that_finalizes;
use super::{evaluate, evaluate_one};
use crate::observe::model::TxRecord;
use crate::scenario::CheckKind;
use timed::api::types::EventKind;

/// The number just before `marker` in `details` (e.g. "2" of "2 missing").
fn figure_before(details: &str, marker: &str) -> u64 {
    let head = &details[..details
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker:?} in {details}"))];
    let digits: String = head
        .chars()
        .rev()
        .skip_while(|c| *c == ' ')
        .take_while(char::is_ascii_digit)
        .collect();
    digits.chars().rev().collect::<String>().parse().unwrap()
}

#[test]
fn no_cycling_counts_each_handshake_timeout_outside_faults() {
    let mut tl = Net::new(6).build();
    outbound_event(
        &mut tl,
        1,
        ip(4),
        21 * MIN,
        EventKind::DialFailed,
        "handshake timeout",
    );
    outbound_event(
        &mut tl,
        2,
        ip(5),
        23 * MIN,
        EventKind::DialFailed,
        "handshake timeout",
    );
    let r = evaluate(&scenario(6), &tl);
    let nc = r.iter().find(|r| r.name == "no_cycling").unwrap();
    assert!(!nc.passed);
    let found = figure_before(&nc.details, " handshake timeouts outside faults");
    assert_eq!(found, 2, "{}", nc.details);
}

#[test]
fn tx_delivery_counts_each_missing_transaction() {
    let sc = tx_scenario();
    let mut tl = Net::new(3).build();
    tl.txs_submitted = ["aa", "bb", "cc"]
        .iter()
        .enumerate()
        .map(|(i, txid)| TxRecord {
            t: (5 + i as u64) * MIN,
            txid: txid.to_string(),
            node: "n1".into(),
        })
        .collect();
    for i in 1..=3 {
        let all = ["aa", "bb", "cc"].map(String::from);
        tl.txs_in_chain.insert(name(i), all.into());
    }
    tl.txs_in_chain.get_mut("n2").unwrap().remove("aa");
    tl.txs_in_chain.get_mut("n3").unwrap().remove("cc");
    let r = &evaluate(&sc, &tl)[0];
    assert!(!r.passed);
    assert_eq!(
        figure_before(&r.details, " missing on some node"),
        2,
        "{}",
        r.details
    );
}

#[test]
fn progress_counts_the_blocks_a_cut_off_minority_finalized() {
    // n1 alone from 20m to 30m reports a new block a minute: it is judged
    // from 20m + RULES_SETTLE, at its height there (20) plus one, so every
    // poll from 22m to the heal is one excess block.
    let (_, details) = minority_that_finalizes(1.0);
    let excess = figure_before(&details, " block(s) finalized in");
    assert!(excess > 0, "{details}");
}

#[test]
fn one_peer_per_ip_fails_a_node_view_listing_one_peer_twice() {
    let mut tl = Net::new(6).build();
    let s = tl
        .samples
        .iter_mut()
        .find(|s| s.node == "n1" && s.t >= 30 * MIN && s.peers.is_some())
        .unwrap();
    let t = s.t;
    let peers = s.peers.as_mut().unwrap();
    let twin = peers.iter().find(|p| p.ip == ip(3)).unwrap().clone();
    peers.push(twin);
    let r = evaluate_one(CheckKind::OnePeerPerIp, &scenario(6), &tl);
    let v = r.first_violation.expect("two entries for n3");
    assert_eq!((v.t, nodes(&v)), (t, vec!["n1", "n3"]));
    assert!(
        v.message
            .starts_with("node view: n1 lists 2 connections to n3"),
        "{}",
        v.message
    );
}

#[test]
fn a_split_tip_blames_the_nodes_off_the_majority_hash_whatever_its_name() {
    // Five nodes on tips named "evil…", n6 alone on "h…": the majority's
    // hash sorts first, so picking the last hash instead of the most held
    // would blame the five.
    let mut net = Net::new(6);
    for node in 1..=5 {
        for h in 55..=60 {
            net.bad_hash(node, h);
        }
    }
    let r = evaluate_one(CheckKind::CommonHeight, &scenario(6), &net.build());
    let v = r.first_violation.expect("two tips at the end");
    assert_eq!(nodes(&v), ["n6"], "{}", v.message);
}

#[test]
fn the_quorum_side_of_a_partition_may_keep_finalizing() {
    // 1 | 5 split: the five reach each other (5/6 > 2/3) and keep making
    // blocks, n1 stalls. Only n1 is cut off from every quorum; a reach
    // that never grew past the node itself would flag all six.
    let mut net = Net::new(6);
    net.partition(&[&[1], &[2, 3, 4, 5, 6]], 20 * MIN, 30 * MIN);
    let mut tl = net.build();
    for s in tl.samples.iter_mut().filter(|s| s.node == "n1") {
        if let Some(st) = s.status.as_mut() {
            if s.t >= 20 * MIN && s.t < 30 * MIN {
                st.height = 20;
            }
        }
    }
    let r = evaluate_one(CheckKind::Progress, &scenario(6), &tl);
    assert!(r.passed, "{:?}", r.first_violation);
}

#[test]
fn a_node_with_no_sample_before_10m_was_down_until_then() {
    // The poller records a down node as a sample with `up: false`; a node
    // with no sample at all early on was never seen, so it was down from
    // the run's start, past the start grace.
    let mut tl = Net::new(6).build();
    tl.samples.retain(|s| s.node != "n3" || s.t >= 10 * MIN);
    let r = evaluate_one(CheckKind::NodeUp, &scenario(6), &tl);
    let v = r.first_violation.expect("n3 unseen for 10 min");
    assert_eq!(nodes(&v), ["n3"], "{}", v.message);
}

#[test]
fn no_fork_counts_the_heights_with_more_than_one_hash() {
    let mut net = Net::new(6);
    net.bad_hash(5, 10).bad_hash(5, 20);
    let r = evaluate_one(CheckKind::NoFork, &scenario(6), &net.build());
    assert!(!r.passed);
    assert!(
        r.details.ends_with("; 2 with more than one hash"),
        "{}",
        r.details
    );
}
