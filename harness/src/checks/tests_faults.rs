//! Faults excuse exactly what they should: a partition, a restart, a late
//! joiner, a flapping link or a pause may cost each pair one reconnect per
//! fault, never a storm, and the pair must be meshed again after the heal;
//! a side without quorum stalls and one with quorum keeps producing.

use super::testkit::{hold_height, ip, scenario, Net, MIN, P2P, SEC};
use super::tests::{all_pass, nodes, only_fails, run};
use super::tests_rules::brief_pause;
use super::{evaluate, evaluate_one};
use crate::observe::model::Timeline;
use crate::scenario::{CheckKind, FaultAction};

#[test]
fn partition_with_one_reconnect_after_heal_passes() {
    let mut net = Net::new(6);
    net.partition(&[&[1, 2, 3], &[4, 5, 6]], 20 * MIN, 25 * MIN);
    let results = run(&net);
    all_pass(&results);
    assert!(
        results[0]
            .details
            .contains("9 expected reconnects in 9 pair fault windows"),
        "{}",
        results[0].details
    );
}

#[test]
fn reconnect_storm_after_heal_fails_no_cycling() {
    let mut net = Net::new(6);
    net.partition(&[&[1, 2, 3], &[4, 5, 6]], 20 * MIN, 25 * MIN);
    // After the heal's reconnect (25m02s), n1-n4 flaps three more times.
    for k in 1..=3 {
        net.reconnect(1, 4, 25 * MIN + k * 20 * SEC, "connection reset");
    }
    let v = only_fails(&run(&net), "no_cycling");
    assert_eq!(v.t, 25 * MIN + 20 * SEC + 500);
    assert_eq!(nodes(&v), ["n1", "n4"]);
    assert!(v.message.contains("reconnect storm"), "{}", v.message);
}

#[test]
fn pair_not_reconnected_after_heal_fails() {
    let mut net = Net::new(4);
    net.partition(&[&[1, 2], &[3, 4]], 20 * MIN, 25 * MIN);
    // Forget the reconnect of n1-n3.
    let mut tl = net.build();
    tl.events.retain(|e| {
        !(e.t > 25 * MIN
            && e.t < 26 * MIN
            && ["n1", "n3"].contains(&e.node.as_str())
            && e.event.peer_ip.is_some_and(|p| p == ip(1) || p == ip(3)))
    });
    for s in tl.samples.iter_mut().filter(|s| s.t > 25 * MIN) {
        let other = match s.node.as_str() {
            "n1" => ip(3),
            "n3" => ip(1),
            _ => continue,
        };
        if let Some(ps) = s.peers.as_mut() {
            ps.retain(|p| p.ip != other);
        }
        if let Some(ks) = s.kernel.as_mut() {
            ks.retain(|k| k.remote_ip != other);
        }
    }
    let results = evaluate(&scenario(4), &tl);
    let nc = results.iter().find(|r| r.name == "no_cycling").unwrap();
    let v = nc.first_violation.as_ref().expect("must fail");
    assert!(v.message.contains("had not reconnected"), "{}", v.message);
    assert_eq!(nodes(v), ["n1", "n3"]);
}

#[test]
fn minority_side_stalling_is_not_a_progress_failure_but_a_majority_stall_is() {
    // 2 | 4 split of 6 masternodes: the 4 side has 4/6 = 2/3, not more than
    // 2/3, so nobody is expected to progress; all blocks stop.
    let mut net = Net::new(6);
    net.partition(&[&[1, 2], &[3, 4, 5, 6]], 20 * MIN, 30 * MIN);
    let mut tl = net.build();
    freeze_heights(&mut tl, 20 * MIN, 30 * MIN);
    let results = evaluate(&scenario(6), &tl);
    let progress = results.iter().find(|r| r.name == "progress").unwrap();
    assert!(progress.passed, "{:?}", progress.first_violation);

    // 1 | 5 split: the 5 side holds a quorum and must keep producing.
    let mut net = Net::new(6);
    net.partition(&[&[1], &[2, 3, 4, 5, 6]], 20 * MIN, 30 * MIN);
    let mut tl = net.build();
    freeze_heights(&mut tl, 20 * MIN, 30 * MIN);
    let results = evaluate(&scenario(6), &tl);
    let progress = results.iter().find(|r| r.name == "progress").unwrap();
    let v = progress.first_violation.as_ref().expect("majority stalled");
    assert_eq!(
        v.t,
        25 * MIN,
        "5 block intervals after the partition started"
    );
    assert_eq!(nodes(v), ["n2", "n3", "n4", "n5", "n6"]);
}

/// Every node keeps the height it had at `from` until `to`.
fn freeze_heights(tl: &mut Timeline, from: u64, to: u64) {
    hold_height(tl, None, from, to, from / MIN);
}

#[test]
fn restart_with_one_reconnect_per_peer_passes() {
    let mut net = Net::new(6);
    net.restart(3, 20 * MIN, 21 * MIN);
    let results = run(&net);
    all_pass(&results);
    assert!(
        results[0].details.contains("5 expected reconnects"),
        "{}",
        results[0].details
    );
}

#[test]
fn restart_followed_by_a_second_reconnect_is_a_storm() {
    let mut net = Net::new(6);
    net.restart(3, 20 * MIN, 21 * MIN);
    net.reconnect(3, 5, 22 * MIN, "ping timeout");
    let v = only_fails(&run(&net), "no_cycling");
    assert_eq!((v.t, nodes(&v)), (22 * MIN + 500, vec!["n3", "n5"]));
}

#[test]
fn late_joiner_connecting_at_its_start_passes() {
    let mut net = Net::new(5);
    net.late(5, 30 * MIN);
    let late = "[[node]]\nname = \"n5\"\nstart_at = \"30m\"";
    all_pass(&evaluate(
        &super::testkit::scenario_with(5, late),
        &net.build(),
    ));
    // Without its start_at, the same n5 is a node down for half the run.
    let v = only_fails(&run(&net), "node_up");
    assert_eq!(nodes(&v), ["n5"]);
}

/// As in scenarios/flapping-link.toml: n1 cut off for 3 min every 6 min,
/// from 5m to 32m. The grace periods merge the five faults into one window
/// per pair, which then allows five reconnects.
fn flapping() -> Net {
    let mut net = Net::new(6);
    for k in 0..5 {
        let start = 5 * MIN + k * 6 * MIN;
        net.partition(&[&[1], &[2, 3, 4, 5, 6]], start, start + 3 * MIN);
    }
    net
}

#[test]
fn flapping_link_with_one_reconnect_per_heal_passes_and_an_extra_one_fails() {
    let results = run(&flapping());
    all_pass(&results);
    assert!(
        results[0]
            .details
            .contains("25 expected reconnects in 5 pair fault windows"),
        "{}",
        results[0].details
    );

    let mut net = flapping();
    net.reconnect(1, 2, 33 * MIN, "connection reset");
    let v = only_fails(&run(&net), "no_cycling");
    assert_eq!((v.t, nodes(&v)), (33 * MIN + 500, vec!["n1", "n2"]));
    assert!(v.message.contains("6 times"), "{}", v.message);
}

/// Dial attempts into a paused peer: its kernel completes each TCP handshake
/// (the backlog) though the frozen process never answers, so the dialer's
/// kernel shows a new socket per attempt while the fault is in force.
fn paused_with_dial_attempts(net: &mut Net, then: impl FnOnce(&mut Net)) -> Timeline {
    net.restart(3, 20 * MIN, 25 * MIN);
    then(net);
    let mut tl = net.build();
    tl.faults[0].action = FaultAction::Pause;
    for s in tl.samples.iter_mut().filter(|s| s.node == "n1") {
        if s.t > 21 * MIN && s.t < 25 * MIN {
            let attempt = 40_000 + (s.t / MIN) as u16; // a new port each minute
            s.kernel
                .as_mut()
                .unwrap()
                .push(crate::observe::model::KernelConn {
                    local_ip: ip(1),
                    local_port: attempt,
                    remote_ip: ip(3),
                    remote_port: P2P,
                });
        }
    }
    tl
}

#[test]
fn dial_attempts_into_a_paused_peer_are_not_reconnects() {
    let tl = paused_with_dial_attempts(&mut Net::new(6), |_| {});
    all_pass(&evaluate(&scenario(6), &tl));
}

#[test]
fn a_second_reconnect_after_a_pause_is_still_a_storm() {
    let tl = paused_with_dial_attempts(&mut Net::new(6), |net| {
        net.reconnect(1, 3, 27 * MIN, "ping timeout");
    });
    let v = only_fails(&evaluate(&scenario(6), &tl), "no_cycling");
    assert_eq!(nodes(&v), ["n1", "n3"]);
}

#[test]
fn a_minority_that_keeps_finalizing_during_a_partition_fails_progress() {
    let (v, _) = minority_that_finalizes(1.0);
    assert_eq!(nodes(&v), ["n1"]);
    assert_eq!(v.t, 22 * MIN, "first sample two blocks past the cut");
    assert!(
        v.message.contains("cut it off from every quorum"),
        "{}",
        v.message
    );

    // The same partition with n1 stalled (as BFT must) passes.
    let mut net = Net::new(6);
    net.partition(&[&[1], &[2, 3, 4, 5, 6]], 20 * MIN, 30 * MIN);
    all_pass(&evaluate(&scenario(6), &net.build()));
}

/// Rewrite n1's kernel socket to n2 in the poll at `t` (n1 dials n2 in the
/// testkit) into an inbound one from n2 on `port`.
fn n1_sees_inbound_from_n2(tl: &mut Timeline, t: u64, port: u16) {
    let s = tl
        .samples
        .iter_mut()
        .find(|s| s.node == "n1" && s.t == t)
        .unwrap();
    let c = s
        .kernel
        .as_mut()
        .unwrap()
        .iter_mut()
        .find(|c| c.remote_ip == ip(2))
        .unwrap();
    (c.local_port, c.remote_port) = (P2P, port);
}

#[test]
fn a_simultaneous_open_seen_one_socket_per_poll_is_one_reconnect() {
    // CI run 7, flapping-link at time scale 30: after the last heal n6's
    // poll saw only n1's dial into it (which lost the tie-break a moment
    // later), and the next poll, 9 s on, only n6's own winning dial. That is
    // one reconnect, not two. Here: after the 32m heal, n1's 32m10s poll
    // shows n2's losing dial, the 32m20s one the winner.
    let mut tl = flapping().build();
    tl.time_scale = 30.0; // handshake limit: 3 s wall = 90 s protocol
    n1_sees_inbound_from_n2(&mut tl, 32 * MIN + 10 * SEC, 50_000);
    let results = evaluate(&scenario(6), &tl);
    all_pass(&results);
}

#[test]
fn a_silent_storm_after_a_heal_still_fails_the_kernel_view() {
    // The same flapping run, but n1 and n2 swap sockets again 2 min after
    // the last heal and neither node says so: beyond the handshake limit, a
    // sixth reconnect in the window.
    let mut tl = flapping().build();
    tl.time_scale = 30.0;
    for t in (34 * MIN..=40 * MIN).step_by(10_000) {
        n1_sees_inbound_from_n2(&mut tl, t, 50_001);
    }
    let results = evaluate(&scenario(6), &tl);
    let v = only_fails(&results, "no_cycling");
    assert_eq!((v.t, nodes(&v)), (34 * MIN, vec!["n1", "n2"]));
    assert!(v.message.starts_with("kernel view"), "{}", v.message);
    assert!(v.message.contains("6 times"), "{}", v.message);
}

#[test]
fn a_pause_is_brief_below_two_ping_intervals_and_excuses_a_reconnect_from_there() {
    // BRIEF_STALL: peers miss at most MAX_MISSED_PONGS - 1 = 2 pongs, 60 s.
    // n3's peers drop it by ping timeout during the pause: a bug while the
    // pause is brief (59 s), expected once it is not (60 s).
    let cost = |pause: u64| {
        let mut net = Net::new(6);
        net.reconnect(3, 5, 20 * MIN + 20 * SEC, "ping timeout");
        let mut tl = net.build();
        brief_pause(&mut tl, 3, 20 * MIN, 20 * MIN + pause);
        let results = evaluate(&scenario(6), &tl);
        results
            .into_iter()
            .find(|r| r.name == "no_cycling")
            .unwrap()
            .first_violation
    };
    // The recorded span also holds the freeze and thaw calls: PAUSE_SETTLE
    // (wall) at the run's time scale.
    let settle = (500.0 * Net::new(6).build().time_scale) as u64;
    let v = cost(59 * SEC + settle).expect("a reconnect during a 59 s pause is cycling");
    assert_eq!((v.t, nodes(&v)), (20 * MIN + 20 * SEC, vec!["n3", "n5"]));
    assert_eq!(cost(60 * SEC + settle), None);
}

/// A 1 | 5 split from 20m to 30m at `time_scale` where n1, alone and so
/// without a quorum, still reports a new block every minute (as a forking
/// node would): progress's first violation and its summary.
pub(super) fn minority_that_finalizes(time_scale: f64) -> (super::Violation, String) {
    let mut net = Net::new(6);
    net.partition(&[&[1], &[2, 3, 4, 5, 6]], 20 * MIN, 30 * MIN);
    let mut tl = net.build();
    tl.time_scale = time_scale;
    for s in tl.samples.iter_mut().filter(|s| s.node == "n1") {
        if let Some(st) = s.status.as_mut() {
            st.height = s.t / MIN; // keeps growing through the cut
        }
    }
    let results = evaluate(&scenario(6), &tl);
    let progress = results.into_iter().find(|r| r.name == "progress").unwrap();
    let v = progress.first_violation.expect("minority finalized");
    (v, progress.details)
}

#[test]
fn a_stall_during_a_bridge_cut_names_the_quorum_clique_of_the_first_listed_node() {
    // Only n1-n6 is cut: {n1..n5} and {n2..n6} are both cliques of 5 of 6
    // masternodes, and no block comes from 20m on. The report names one
    // of them, the same one every time: the first-listed node's.
    let mut net = Net::new(6);
    net.partition(&[&[1], &[6]], 20 * MIN, 30 * MIN);
    let mut tl = net.build();
    freeze_heights(&mut tl, 20 * MIN, 30 * MIN);
    let results = evaluate(&scenario(6), &tl);
    let progress = results.iter().find(|r| r.name == "progress").unwrap();
    let v = progress.first_violation.as_ref().expect("a quorum stalled");
    assert_eq!(v.t, 25 * MIN, "{}", v.message);
    assert_eq!(nodes(v), ["n1", "n2", "n3", "n4", "n5"]);
}

#[test]
fn a_partition_still_in_force_at_the_end_asks_no_reconnect() {
    // n1 cut off from 50m to 70m in a 60m run: its pairs are down at the
    // end, and their fault windows close after it, so no_cycling cannot
    // ask them to be meshed again.
    let mut net = Net::new(6);
    net.partition(&[&[1], &[2, 3, 4, 5, 6]], 50 * MIN, 70 * MIN);
    let tl = net.build();
    let last = tl.samples.iter().rfind(|s| s.node == "n1").unwrap();
    assert_eq!(last.peers.as_ref().map(Vec::len), Some(0), "n1 is alone");
    let results = evaluate(&scenario(6), &tl);
    let nc = results.iter().find(|r| r.name == "no_cycling").unwrap();
    assert!(nc.passed, "{:?} ({})", nc.first_violation, nc.details);
}

#[test]
fn a_majority_stall_after_a_fault_that_starts_between_polls_still_fails() {
    // As above, the 1 | 5 split, but starting at 20m05s, between two polls:
    // the stall is due at 25m05s, which no poll hits exactly.
    let mut net = Net::new(6);
    net.partition(&[&[1], &[2, 3, 4, 5, 6]], 20 * MIN + 5 * SEC, 30 * MIN);
    let mut tl = net.build();
    freeze_heights(&mut tl, 20 * MIN, 30 * MIN);
    let results = evaluate(&scenario(6), &tl);
    let progress = results.iter().find(|r| r.name == "progress").unwrap();
    let v = progress.first_violation.as_ref().expect("majority stalled");
    assert_eq!(v.t, 25 * MIN + 5 * SEC);
    assert_eq!(nodes(v), ["n2", "n3", "n4", "n5", "n6"]);
}

#[test]
fn a_kernel_mismatch_from_the_heal_on_is_timed_from_the_heal() {
    // n1 cut off from 20m to 30m. n2 lists n1 with no socket to it in the
    // polls at 30m (the heal itself) to 30m30s: 30 s, over the 20 s limit
    // (handshake + poll), counted from the heal's own poll.
    let mut net = Net::new(6);
    net.partition(&[&[1], &[2, 3, 4, 5, 6]], 20 * MIN, 30 * MIN);
    let mut tl = net.build();
    let entry = tl
        .samples
        .iter()
        .find(|s| s.node == "n2" && s.t == 30 * MIN + 10 * SEC)
        .and_then(|s| s.peers.as_ref()?.iter().find(|p| p.ip == ip(1)).cloned())
        .expect("n2 lists n1 again at 30m10s");
    for s in tl
        .samples
        .iter_mut()
        .filter(|s| s.node == "n2" && (30 * MIN..=30 * MIN + 30 * SEC).contains(&s.t))
    {
        let peers = s.peers.as_mut().unwrap();
        if !peers.iter().any(|p| p.ip == ip(1)) {
            peers.push(entry.clone());
        }
        s.kernel.as_mut().unwrap().retain(|k| k.remote_ip != ip(1));
    }
    let r = evaluate_one(CheckKind::KernelView, &scenario(6), &tl);
    let v = r.first_violation.expect("30 s of a zombie entry");
    assert_eq!((v.t, nodes(&v)), (30 * MIN, vec!["n1", "n2"]));
}

#[test]
fn a_side_holding_a_quorum_may_finalize_during_the_partition() {
    // 1 | 5 of 6 masternodes: the 5 side (5/6 > 2/3) keeps producing, as it
    // must, and is not cut off from a quorum; only n1 is, and it stalls.
    let mut net = Net::new(6);
    net.partition(&[&[1], &[2, 3, 4, 5, 6]], 20 * MIN, 30 * MIN);
    let r = evaluate_one(CheckKind::Progress, &scenario(6), &net.build());
    assert!(r.passed, "{:?}", r.first_violation);
    assert!(
        r.details.contains(" 0 block(s) finalized in "),
        "{}",
        r.details
    );
}

#[test]
fn a_quorum_that_re_forms_at_the_heal_must_produce_again_after_the_grace() {
    // 2 | 4 of 6 masternodes from 20m to 30m: nobody holds a quorum, all
    // stall (excused). After the heal the network stays at 20 until 50m:
    // once the grace for reconnecting has passed, a stall of five blocks
    // fails progress.
    let mut net = Net::new(6);
    net.partition(&[&[1, 2], &[3, 4, 5, 6]], 20 * MIN, 30 * MIN);
    let mut tl = net.build();
    freeze_heights(&mut tl, 20 * MIN, 50 * MIN);
    let r = evaluate_one(CheckKind::Progress, &scenario(6), &tl);
    let v = r
        .first_violation
        .expect("a stall after the re-formed quorum's grace");
    assert!(v.t > 30 * MIN && v.t < 50 * MIN, "at {}", v.t);
}
