//! A handshake that meets a node frozen for less than the handshake
//! deadline's wall floor must complete when it thaws (issue 12, point 11:
//! deadlines without their wall floor). brief-stall restarts n3 while n2 is
//! paused for 50 s, so n3's dials meet a frozen n2: at time scale 30 that is
//! 1.7 s wall, under the 3 s floor (the limit is 90 s protocol).

use super::evaluate;
use super::testkit::{ip, outbound_event, scenario, Net, MIN, SEC};
use super::tests::{all_pass, fails_exactly, nodes};
use crate::observe::model::{FaultSpan, Timeline};
use crate::scenario::FaultAction;
use timed::api::types::EventKind;

/// n3 restarted from 25m to 25m40s; n2 frozen for `pause_s` from 25m35s.
fn restart_into_a_freeze(time_scale: f64, pause_s: u64) -> Timeline {
    let mut net = Net::new(6);
    net.restart(3, 25 * MIN, 25 * MIN + 40 * SEC);
    let mut tl = net.build();
    tl.time_scale = time_scale;
    tl.faults.push(FaultSpan {
        start: 25 * MIN + 35 * SEC,
        end: Some(25 * MIN + (35 + pause_s) * SEC),
        action: FaultAction::Pause,
        nodes: vec!["n2".into()],
        cuts: Vec::new(),
        description: "pause n2".into(),
        answers: Vec::new(),
    });
    tl
}

/// n3's dial to the frozen n2 times out 10 s protocol after n3 is back.
fn n3_dial_times_out(tl: &mut Timeline) {
    outbound_event(
        tl,
        3,
        ip(2),
        25 * MIN + 50 * SEC,
        EventKind::DialFailed,
        "handshake timeout",
    );
}

#[test]
fn a_handshake_timeout_into_a_freeze_below_the_wall_floor_fails_no_cycling() {
    let mut tl = restart_into_a_freeze(30.0, 50);
    all_pass(&evaluate(&scenario(6), &tl));
    n3_dial_times_out(&mut tl);
    let v = fails_exactly(&evaluate(&scenario(6), &tl), &["no_cycling"]);
    assert_eq!((v.t, nodes(&v)), (25 * MIN + 50 * SEC, vec!["n2", "n3"]));
    assert!(
        v.message.contains("while n2 was frozen for 50s"),
        "{}",
        v.message
    );
}

#[test]
fn a_freeze_longer_than_the_deadline_still_excuses_the_timeout() {
    // 80 s + 15 s of settle at time scale 30 is over the 90 s limit: an
    // honest 3 s deadline may fire, and n3's restart excuses it as before.
    let mut tl = restart_into_a_freeze(30.0, 80);
    n3_dial_times_out(&mut tl);
    all_pass(&evaluate(&scenario(6), &tl));
    // At time scale 1 (sim) the deadline is 10 s: a 50 s freeze outlasts it.
    let mut tl = restart_into_a_freeze(1.0, 50);
    n3_dial_times_out(&mut tl);
    all_pass(&evaluate(&scenario(6), &tl));
}

#[test]
fn a_handshake_timeout_into_a_short_freeze_is_counted_in_the_summary() {
    let mut tl = restart_into_a_freeze(30.0, 50);
    n3_dial_times_out(&mut tl);
    let results = evaluate(&scenario(6), &tl);
    let nc = results.iter().find(|r| r.name == "no_cycling").unwrap();
    assert!(
        nc.details
            .ends_with("; 1 handshake timeouts outside faults"),
        "{}",
        nc.details
    );
}

#[test]
fn a_fault_on_a_third_node_excuses_no_handshake_timeout() {
    // n5 restarts from 25m to 26m while n3's dial to n2 times out at
    // 25m50s: the restart touches neither end of the pair, so the timeout
    // is outside the pair's faults.
    let mut net = Net::new(6);
    net.restart(5, 25 * MIN, 26 * MIN);
    let mut tl = net.build();
    all_pass(&evaluate(&scenario(6), &tl));
    n3_dial_times_out(&mut tl);
    let v = fails_exactly(&evaluate(&scenario(6), &tl), &["no_cycling"]);
    assert_eq!((v.t, nodes(&v)), (25 * MIN + 50 * SEC, vec!["n2", "n3"]));
}

/// A fault span on `nodes` from 25m30s to 26m30s (over n3's timeout).
fn span(action: FaultAction, nodes: &[&str], cuts: &[(&str, &str)]) -> FaultSpan {
    FaultSpan {
        start: 25 * MIN + 30 * SEC,
        end: Some(26 * MIN + 30 * SEC),
        action,
        nodes: nodes.iter().map(|n| n.to_string()).collect(),
        cuts: cuts
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
        description: format!("{action:?}"),
        answers: Vec::new(),
    }
}

#[test]
fn a_short_freeze_that_another_fault_on_the_pair_overlaps_excuses_the_timeout() {
    // The timeout into n2's 50 s freeze has another explanation when a
    // partition cuts n2-n3, n2 is killed, or n3 loses packets meanwhile:
    // that fault excuses it, and nothing is blamed on the deadline.
    let others = [
        span(
            FaultAction::Partition,
            &["n2"],
            &[("n2", "n3"), ("n3", "n2")],
        ),
        span(FaultAction::Kill, &["n2"], &[]),
        span(FaultAction::Loss, &["n3"], &[]),
    ];
    for other in others {
        let mut tl = restart_into_a_freeze(30.0, 50);
        n3_dial_times_out(&mut tl);
        tl.faults.push(other.clone());
        let r = evaluate(&scenario(6), &tl);
        let nc = r.iter().find(|r| r.name == "no_cycling").unwrap();
        assert!(
            nc.details
                .ends_with("; 0 handshake timeouts outside faults"),
            "{:?}: {}",
            other.action,
            nc.details
        );
    }
}

#[test]
fn a_short_freeze_long_before_the_timeout_is_not_the_one_it_met() {
    // n2 froze for 50 s at 10m; n3's dial to n2 times out at 25m50s, inside
    // n3's own restart window, which excuses it.
    let mut net = Net::new(6);
    net.restart(3, 25 * MIN, 25 * MIN + 40 * SEC);
    let mut tl = net.build();
    tl.time_scale = 30.0;
    let mut pause = span(FaultAction::Pause, &["n2"], &[]);
    pause.start = 10 * MIN;
    pause.end = Some(10 * MIN + 50 * SEC);
    tl.faults.push(pause);
    n3_dial_times_out(&mut tl);
    let r = evaluate(&scenario(6), &tl);
    let nc = r.iter().find(|r| r.name == "no_cycling").unwrap();
    assert!(
        nc.details
            .ends_with("; 0 handshake timeouts outside faults"),
        "{}",
        nc.details
    );
}

#[test]
fn a_fault_on_a_third_node_does_not_explain_a_timeout_into_a_freeze() {
    // Loss on n5 over the timeout touches neither n2 nor n3: the timeout
    // into n2's 50 s freeze is still blamed on the deadline.
    let mut tl = restart_into_a_freeze(30.0, 50);
    n3_dial_times_out(&mut tl);
    tl.faults.push(span(FaultAction::Loss, &["n5"], &[]));
    let v = fails_exactly(&evaluate(&scenario(6), &tl), &["no_cycling"]);
    assert!(
        v.message.contains("while n2 was frozen for 50s"),
        "{}",
        v.message
    );
}
