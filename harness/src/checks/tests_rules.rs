//! The rules a broken node must not pass (issue 12): every node up, node
//! view = kernel view, per-pair fault scoping, no dial storm, no height
//! lag, recovery above the heal's tip, the real poll cadence. Each one has
//! a synthetic timeline that fails exactly it, and a near miss that passes.

use super::testkit::{ip, name, scenario, scenario_with, Net, MIN, SEC};
use super::tests::{all_pass, fails_exactly, nodes};
use super::{evaluate, View};
use crate::observe::kernel_view_gap;
use crate::observe::model::{NodeEvent, Timeline};
use std::net::IpAddr;
use timed::api::types::{Direction, EventKind, EventView};

/// From `t` on, `node` is down: no API, and nobody lists it or holds a
/// socket to it any more.
fn die(tl: &mut Timeline, node: usize, t: u64) {
    for s in tl.samples.iter_mut().filter(|s| s.t >= t) {
        if s.node == name(node) {
            s.up = false;
            s.status = None;
            s.peers = None;
            s.kernel = None;
        } else {
            drop_peer_in(s, ip(node), true, true);
        }
    }
}

/// In `node`'s polls during `[from, to)`, remove `peer` from its `/peers`
/// (`listing`) and/or from its kernel table (`kernel`).
fn drop_peer(
    tl: &mut Timeline,
    node: usize,
    peer: usize,
    span: (u64, u64),
    listing: bool,
    kernel: bool,
) {
    for s in tl
        .samples
        .iter_mut()
        .filter(|s| s.node == name(node) && s.t >= span.0 && s.t < span.1)
    {
        drop_peer_in(s, ip(peer), listing, kernel);
    }
}

fn drop_peer_in(s: &mut crate::observe::model::Sample, peer: IpAddr, listing: bool, kernel: bool) {
    if listing {
        if let Some(ps) = s.peers.as_mut() {
            ps.retain(|p| p.ip != peer);
        }
    }
    if kernel {
        if let Some(ks) = s.kernel.as_mut() {
            ks.retain(|k| k.remote_ip != peer);
        }
    }
}

fn dial_failed(tl: &mut Timeline, node: usize, target: IpAddr, times: &[u64]) {
    for (i, &t) in times.iter().enumerate() {
        tl.events.push(NodeEvent {
            t,
            node: name(node),
            event: EventView {
                seq: 10_000 + i as u64,
                at_ms: t,
                kind: EventKind::DialFailed,
                peer_ip: Some(target),
                direction: Some(Direction::Outbound),
                reason: Some("connection refused".into()),
            },
        });
    }
    tl.events.sort_by_key(|e| e.t);
}

// --- point 1: every node that should be running is running -------------

#[test]
fn a_node_that_dies_after_its_restart_fails_node_up_only() {
    let mut net = Net::new(6);
    net.restart(3, 20 * MIN, 21 * MIN);
    // Back at 21m, connected at 21m01s, dead at 21m30s: inside the restart
    // grace every other check excuses, and never up again.
    let mut tl = net.build();
    die(&mut tl, 3, 21 * MIN + 30 * SEC);
    let results = evaluate(&scenario(6), &tl);
    let v = fails_exactly(&results, &["node_up"]);
    assert_eq!(nodes(&v), ["n3"]);
    // Down and unexcused from the grace's end (25m) to the end (60m).
    let details = &results
        .iter()
        .find(|r| r.name == "node_up")
        .unwrap()
        .details;
    assert!(
        details.contains("longest unexcused down time 35m00s"),
        "{details}"
    );
    let grace = 4 * 30 * SEC + 60 * SEC + MIN; // Params::new's default
    assert_eq!(v.t, 21 * MIN + grace, "from the end of the restart's grace");
    assert!(v.message.contains("n3 was down"), "{}", v.message);
    assert!(v.message.contains("the end of the run"), "{}", v.message);
    // Dying inside the grace and coming back before it ends is excused.
    let mut tl = net.build();
    die(&mut tl, 3, 21 * MIN + 30 * SEC);
    let fresh: std::collections::HashMap<_, _> = net
        .build()
        .samples
        .into_iter()
        .map(|x| ((x.t, x.node.clone()), x))
        .collect();
    for s in tl.samples.iter_mut().filter(|s| s.t >= 22 * MIN) {
        if let Some(x) = fresh.get(&(s.t, s.node.clone())) {
            *s = x.clone();
        }
    }
    let r = evaluate(&scenario(6), &tl);
    assert!(r.iter().find(|r| r.name == "node_up").unwrap().passed);
}

#[test]
fn a_late_joiner_that_dies_at_start_fails_node_up_from_its_start_at() {
    let mut net = Net::new(5);
    net.late(5, 30 * MIN);
    let mut tl = net.build();
    die(&mut tl, 5, 30 * MIN);
    let sc = scenario_with(5, "[[node]]\nname = \"n5\"\nstart_at = \"30m\"");
    let v = fails_exactly(&evaluate(&sc, &tl), &["node_up"]);
    assert_eq!(nodes(&v), ["n5"]);
    assert!(v.t >= 30 * MIN && v.t <= 35 * MIN, "{}", v.t);
    assert!(v.message.contains("started at 30m00s"), "{}", v.message);
}

#[test]
fn a_missed_poll_is_not_a_dead_node() {
    let net = Net::new(4);
    let mut tl = net.build();
    // One poll (10 s) without an answer, outside any fault.
    if let Some(s) = tl
        .samples
        .iter_mut()
        .find(|s| s.node == "n2" && s.t == 30 * MIN)
    {
        s.up = false;
        s.status = None;
        s.peers = None;
        s.kernel = None;
    }
    let r = evaluate(&scenario(4), &tl);
    assert!(r.iter().find(|r| r.name == "node_up").unwrap().passed);
}

// --- point 2: node view = kernel view, both ways -----------------------

#[test]
fn a_zombie_peer_entry_fails_kernel_view_only() {
    // After n2's restart n1 lists n2 again, but holds no socket to it for a
    // minute (inside the restart's grace, so the mesh and no_cycling excuse it).
    let mut net = Net::new(6);
    net.restart(2, 20 * MIN, 21 * MIN);
    let mut tl = net.build();
    drop_peer(
        &mut tl,
        1,
        2,
        (21 * MIN + 10 * SEC, 22 * MIN + 10 * SEC),
        false,
        true,
    );
    let v = fails_exactly(&evaluate(&scenario(6), &tl), &["kernel_view"]);
    assert_eq!((v.t, nodes(&v)), (21 * MIN + 10 * SEC, vec!["n1", "n2"]));
    assert!(v.message.contains("zombie"), "{}", v.message);
}

#[test]
fn an_unlisted_established_socket_fails_kernel_view_only() {
    let mut net = Net::new(6);
    net.restart(2, 20 * MIN, 21 * MIN);
    let mut tl = net.build();
    drop_peer(
        &mut tl,
        1,
        2,
        (21 * MIN + 10 * SEC, 22 * MIN + 10 * SEC),
        true,
        false,
    );
    let v = fails_exactly(&evaluate(&scenario(6), &tl), &["kernel_view"]);
    assert_eq!(nodes(&v), ["n1", "n2"]);
    assert!(v.message.contains("does not list"), "{}", v.message);
}

#[test]
fn a_mismatch_shorter_than_a_handshake_passes() {
    // Two polls 10 s apart: within the handshake limit (10 s) plus a poll.
    let mut net = Net::new(6);
    net.restart(2, 20 * MIN, 21 * MIN);
    let mut tl = net.build();
    drop_peer(
        &mut tl,
        1,
        2,
        (21 * MIN + 10 * SEC, 21 * MIN + 30 * SEC),
        true,
        false,
    );
    all_pass(&evaluate(&scenario(6), &tl));
}

// --- point 8: an unreadable kernel view is an infrastructure failure ----

#[test]
fn an_unreadable_kernel_table_is_reported_not_skipped() {
    let mut tl = Net::new(4).build();
    assert_eq!(kernel_view_gap(&tl), None);
    // One unreadable poll (a restarted container's new PID): tolerated.
    for s in tl
        .samples
        .iter_mut()
        .filter(|s| s.node == "n3" && s.t == 10 * MIN)
    {
        s.kernel = None;
    }
    assert_eq!(kernel_view_gap(&tl), None);
    // Four polls in a row while the API answers: not a run to judge.
    for s in tl
        .samples
        .iter_mut()
        .filter(|s| s.node == "n3" && s.t >= 20 * MIN && s.t <= 20 * MIN + 40 * SEC)
    {
        s.kernel = None;
    }
    let msg = kernel_view_gap(&tl).expect("kernel view lost");
    assert!(msg.contains("n3") && msg.contains("1200000 ms"), "{msg}");
    // A down node has no kernel table to read: not a gap.
    let mut tl = Net::new(4).build();
    die(&mut tl, 4, 50 * MIN);
    assert_eq!(kernel_view_gap(&tl), None);
}

// --- point 5: fault scoping per pair -----------------------------------

#[test]
fn a_pair_no_fault_touches_must_stay_meshed_during_anothers_fault() {
    // n1 is paused-restarted from 20m to 30m; n3 stops listing n4 (socket
    // gone too) at 22m and only comes back at 29m. Before, every pair was
    // excused during any fault; now only pairs touching n1 are.
    let mut net = Net::new(6);
    net.restart(1, 20 * MIN, 30 * MIN);
    let mut tl = net.build();
    drop_peer(&mut tl, 3, 4, (22 * MIN, 29 * MIN), true, true);
    let r = evaluate(&scenario(6), &tl);
    let mesh = r.iter().find(|r| r.name == "one_peer_per_ip").unwrap();
    let v = mesh.first_violation.as_ref().expect("mesh broken");
    assert_eq!(
        (v.t, v.nodes.clone()),
        (22 * MIN, vec!["n3".to_string(), "n4".to_string()])
    );
    assert!(v.message.contains("missing: n4"), "{}", v.message);
    // n5 and n6 do not list n1 while it is down: excused, per pair.
    assert!(!r.iter().any(|x| x
        .first_violation
        .as_ref()
        .is_some_and(|v| v.nodes.contains(&"n1".to_string()))));
}

// --- point 7: no dial storm ------------------------------------------------

#[test]
fn a_dialer_that_ignores_its_backoff_fails_dial_backoff_only() {
    let target: IpAddr = "172.28.0.99".parse().unwrap();
    let mut tl = Net::new(4).build();
    let storm: Vec<u64> = (0..30).map(|k| 10 * MIN + k * SEC).collect();
    dial_failed(&mut tl, 2, target, &storm);
    let v = fails_exactly(&evaluate(&scenario(4), &tl), &["dial_backoff"]);
    // Gap 1 s after the first failure is allowed; 1 s after the second is not.
    assert_eq!(
        (v.t, nodes(&v)),
        (10 * MIN + 2 * SEC, vec!["n2", "172.28.0.99"])
    );
    assert!(
        v.message.contains("allows no sooner than 2s"),
        "{}",
        v.message
    );
}

#[test]
fn a_dialer_that_doubles_to_the_cap_passes() {
    let target: IpAddr = "172.28.0.99".parse().unwrap();
    let mut tl = Net::new(4).build();
    let mut times = vec![10 * MIN];
    for k in 0..15u32 {
        let gap = (1000u64 << k.min(6)).min(60_000);
        times.push(times.last().unwrap() + gap);
    }
    dial_failed(&mut tl, 2, target, &times);
    all_pass(&evaluate(&scenario(4), &tl));
    // At the cap, redialling every 30 s is a storm.
    let mut tl = Net::new(4).build();
    let last = *times.last().unwrap();
    times.push(last + 30 * SEC);
    dial_failed(&mut tl, 2, target, &times);
    let v = fails_exactly(&evaluate(&scenario(4), &tl), &["dial_backoff"]);
    assert!(
        v.message.contains("allows no sooner than 1m00s"),
        "{}",
        v.message
    );
}

// --- point 10: height lag --------------------------------------------------

#[test]
fn a_node_that_trails_for_longer_than_a_block_fails_height_lag_only() {
    // From 20m to 30m n4 learns each block 70 s late (sync polling), then
    // hears the network again: it still agrees at the end.
    let net = Net::new(6);
    let mut tl = net.build();
    for s in tl
        .samples
        .iter_mut()
        .filter(|s| s.node == "n4" && s.t >= 20 * MIN && s.t < 30 * MIN)
    {
        let st = s.status.as_mut().unwrap();
        st.height = (s.t - 70 * SEC) / MIN;
        st.tip_hash = format!("h{}", st.height);
    }
    let v = fails_exactly(&evaluate(&scenario(6), &tl), &["height_lag"]);
    assert_eq!((v.t, nodes(&v)), (20 * MIN, vec!["n4"]));
    // 30 s late each block: never a block interval behind.
    let mut tl = net.build();
    for s in tl
        .samples
        .iter_mut()
        .filter(|s| s.node == "n4" && s.t >= 20 * MIN && s.t < 30 * MIN)
    {
        let st = s.status.as_mut().unwrap();
        st.height = (s.t - 30 * SEC) / MIN;
        st.tip_hash = format!("h{}", st.height);
    }
    all_pass(&evaluate(&scenario(6), &tl));
}

// --- point 9: recovery above the heal's tip ------------------------------

#[test]
fn halves_that_agree_only_on_the_tip_at_the_heal_fail_common_height() {
    // A 3-3 split: neither side has a quorum, both stall at height 10; after
    // the heal at 15m nobody makes a block until 19m (within is 3m).
    let mut net = Net::new(6);
    net.partition(&[&[1, 2, 3], &[4, 5, 6]], 10 * MIN, 15 * MIN);
    let mut tl = net.build();
    for s in tl
        .samples
        .iter_mut()
        .filter(|s| s.t >= 15 * MIN && s.t < 19 * MIN)
    {
        let st = s.status.as_mut().unwrap();
        st.height = 10;
        st.tip_hash = "h10".into();
    }
    let v = fails_exactly(&evaluate(&scenario(6), &tl), &["common_height"]);
    assert_eq!(v.t, 18 * MIN);
    assert!(
        v.message
            .contains("no common tip above height 10 within 3m00s of the last heal at 15m00s"),
        "{}",
        v.message
    );
    // Recovering at 17m is in time.
    let mut tl = net.build();
    for s in tl
        .samples
        .iter_mut()
        .filter(|s| s.t >= 15 * MIN && s.t < 17 * MIN)
    {
        let st = s.status.as_mut().unwrap();
        st.height = 10;
        st.tip_hash = "h10".into();
    }
    all_pass(&evaluate(&scenario(6), &tl));
}

// --- point 12: the real poll cadence ---------------------------------------

#[test]
fn view_poll_is_the_poller_cadence_not_the_stored_sample_gap() {
    let sc = scenario(4);
    let mut tl = Net::new(4).build();
    tl.poll = 9_000;
    assert_eq!(View::new(&sc, &tl).poll, 9_000);
    // Older timelines: the default 300 ms wall at their time scale.
    tl.poll = 0;
    tl.time_scale = 30.0;
    assert_eq!(View::new(&sc, &tl).poll, 9_000);
    // Samples stored a minute apart do not widen it.
    tl.samples.retain(|s| s.t % MIN == 0);
    assert_eq!(View::new(&sc, &tl).poll, 9_000);
}

#[test]
fn the_duplicate_socket_tolerance_is_the_wall_handshake_limit() {
    let sc = scenario(4);
    let mut tl = Net::new(4).build();
    // Time scale 30: 10 s protocol is 0.33 s wall, below the 3 s wall
    // floor, so a handshake may live 3 s wall = 90 s protocol; at time
    // scale 1 the 10 s protocol timeout is the longer one.
    tl.time_scale = 30.0;
    assert_eq!(View::new(&sc, &tl).handshake_limit(), 90 * SEC);
    tl.time_scale = 1.0;
    assert_eq!(View::new(&sc, &tl).handshake_limit(), 10 * SEC);
}

// --- point 11 (scenario brief-stall): a brief pause costs nothing ---------

pub(super) fn brief_pause(tl: &mut Timeline, node: usize, from: u64, to: u64) {
    use crate::observe::model::FaultSpan;
    use crate::scenario::FaultAction;
    tl.faults.push(FaultSpan {
        start: from,
        end: Some(to),
        action: FaultAction::Pause,
        nodes: vec![name(node)],
        cuts: Vec::new(),
        description: format!("pause {}", name(node)),
        answers: Vec::new(),
    });
    for s in tl
        .samples
        .iter_mut()
        .filter(|s| s.node == name(node) && s.t >= from && s.t < to)
    {
        s.up = false;
        s.status = None;
        s.peers = None;
        s.kernel = None;
    }
}

#[test]
fn a_pause_shorter_than_the_ping_timeout_must_cost_no_reconnect() {
    // 30 s frozen: peers miss one pong at most. Nothing else may happen.
    let mut tl = Net::new(6).build();
    brief_pause(&mut tl, 3, 20 * MIN, 20 * MIN + 30 * SEC);
    all_pass(&evaluate(&scenario(6), &tl));
    // The same pause, but n3's peers drop it by ping timeout and reconnect:
    // the missed-pong counter bug.
    let mut net = Net::new(6);
    net.reconnect(3, 5, 20 * MIN + 20 * SEC, "ping timeout");
    let mut tl = net.build();
    brief_pause(&mut tl, 3, 20 * MIN, 20 * MIN + 30 * SEC);
    let v = fails_exactly(&evaluate(&scenario(6), &tl), &["no_cycling"]);
    assert_eq!((v.t, nodes(&v)), (20 * MIN + 20 * SEC, vec!["n3", "n5"]));
    assert!(v.message.contains("ping timeout"), "{}", v.message);
}

#[test]
fn a_node_that_takes_on_blocks_without_hearing_them_fails_height_lag_only() {
    // n4 keeps up (never a block behind at any poll) but logs no
    // block_finalized from 20m to 40m: it follows by sync polling.
    let mut tl = Net::new(6).build();
    let silent = |e: &NodeEvent| {
        e.node == "n4"
            && e.event.kind == EventKind::BlockFinalized
            && e.t >= 20 * MIN
            && e.t < 40 * MIN
    };
    tl.events.retain(|e| !silent(e));
    let v = fails_exactly(&evaluate(&scenario(6), &tl), &["height_lag"]);
    assert_eq!((v.t, nodes(&v)), (20 * MIN, vec!["n4"]));
    assert!(
        v.message.contains("took on 20 of 57 new blocks"),
        "{}",
        v.message
    );
    // One block taken by sync (a late proposal) is honest.
    let mut tl = Net::new(6).build();
    tl.events.retain(|e| {
        !(silent(e)
            && e.event
                .reason
                .as_deref()
                .is_some_and(|r| r.starts_with("height=25 ")))
    });
    all_pass(&evaluate(&scenario(6), &tl));
}

#[test]
fn a_joiner_syncing_on_a_side_without_quorum_is_not_finalizing() {
    // n5 joins at 30m inside a partition {n1, n5} | {n2, n3, n4} and syncs
    // from n1 up to n1's height: not a minority finalizing.
    let mut net = Net::new(5);
    net.late(5, 30 * MIN);
    net.partition(&[&[1, 5], &[2, 3, 4]], 25 * MIN, 40 * MIN);
    let late = "[[node]]\nname = \"n5\"\nstart_at = \"30m\"";
    let r = evaluate(&scenario_with(5, late), &net.build());
    let progress = r.iter().find(|r| r.name == "progress").unwrap();
    assert!(progress.passed, "{:?}", progress.first_violation);
}
