//! `cpu_throttle` in the checks: a throttled node is up but slow, so the
//! only thing excused is its own height lag during the window (plus the
//! grace); every pair rule holds for it as for any running node.

use super::evaluate;
use super::testkit::{ip, outbound_event, scenario, Net, MIN, SEC};
use super::tests::{all_pass, fails_exactly, nodes};
use crate::observe::model::{FaultSpan, Timeline};
use crate::scenario::FaultAction;
use timed::api::types::EventKind;

/// `n4` throttled from 20m to 26m.
fn throttled(tl: &mut Timeline) {
    tl.faults.push(FaultSpan {
        start: 20 * MIN,
        end: Some(26 * MIN),
        action: FaultAction::CpuThrottle,
        nodes: vec!["n4".into()],
        cuts: Vec::new(),
        description: "n4 CPU capped to 5% of a core".into(),
        answers: Vec::new(),
    });
}

/// `n4` learns each block 70 s late in `[from, to)`.
fn trails(tl: &mut Timeline, from: u64, to: u64) {
    for s in tl
        .samples
        .iter_mut()
        .filter(|s| s.node == "n4" && s.t >= from && s.t < to)
    {
        let st = s.status.as_mut().unwrap();
        st.height = (s.t - 70 * SEC) / MIN;
        st.tip_hash = format!("h{}", st.height);
    }
}

#[test]
fn a_throttled_node_may_trail_inside_its_window_only() {
    let net = Net::new(6);
    let mut tl = net.build();
    throttled(&mut tl);
    trails(&mut tl, 20 * MIN, 26 * MIN);
    all_pass(&evaluate(&scenario(6), &tl));

    // Still trailing long after the window and its grace: height_lag, and
    // common_height (the throttle's end is the run's last heal, and n4 has
    // not caught up `within` after it).
    let mut tl = net.build();
    throttled(&mut tl);
    trails(&mut tl, 20 * MIN, 40 * MIN);
    let v = fails_exactly(
        &evaluate(&scenario(6), &tl),
        &["height_lag", "common_height"],
    );
    assert!(v.t > 26 * MIN, "{}", v.message);
    assert_eq!(nodes(&v), ["n4"]);
}

#[test]
fn a_throttled_node_that_cycles_fails_no_cycling() {
    // Ping timeouts every 90 s between the slow n4 and n2 while throttled:
    // nothing excuses them (the same cycling without the fault fails too).
    let mut net = Net::new(6);
    let mut t = 20 * MIN + 30 * SEC;
    while t < 26 * MIN {
        net.reconnect(4, 2, t, "ping timeout");
        t += 90 * SEC;
    }
    let mut tl = net.build();
    throttled(&mut tl);
    let v = fails_exactly(&evaluate(&scenario(6), &tl), &["no_cycling"]);
    assert_eq!(nodes(&v), ["n2", "n4"]);
}

/// `node` logs a handshake with `peer` that timed out at `t` (`kind`).
fn handshake_timeout(tl: &mut Timeline, node: usize, peer: usize, t: u64, kind: EventKind) {
    outbound_event(tl, node, ip(peer), t, kind, "handshake timeout");
}

#[test]
fn a_handshake_timeout_with_a_throttled_node_fails_no_cycling() {
    // Deadlines without their wall floor: n1's dial to the starved n4
    // times out, the redial a backoff later succeeds, nothing else shows.
    let net = Net::new(6);
    let mut tl = net.build();
    throttled(&mut tl);
    handshake_timeout(&mut tl, 1, 4, 21 * MIN, EventKind::DialFailed);
    let v = fails_exactly(&evaluate(&scenario(6), &tl), &["no_cycling"]);
    assert_eq!((v.t, nodes(&v)), (21 * MIN, vec!["n1", "n4"]));
    assert!(
        v.message.contains("handshake with n4 timed out"),
        "{}",
        v.message
    );

    // The inbound side's record of the same fails it too.
    let mut tl = net.build();
    handshake_timeout(&mut tl, 4, 1, 21 * MIN, EventKind::HandshakeRejected);
    fails_exactly(&evaluate(&scenario(6), &tl), &["no_cycling"]);
}

#[test]
fn a_handshake_timeout_into_a_paused_node_is_excused() {
    // A frozen peer cannot answer: inside the pause (plus one handshake
    // limit) a timeout is expected, not after it.
    let mut net = Net::new(6);
    net.restart(4, 20 * MIN, 22 * MIN);
    let mut tl = net.build();
    for f in tl.faults.iter_mut() {
        f.action = FaultAction::Pause;
    }
    handshake_timeout(&mut tl, 1, 4, 22 * MIN + 5 * SEC, EventKind::DialFailed);
    let r = evaluate(&scenario(6), &tl);
    let nc = r.iter().find(|r| r.name == "no_cycling").unwrap();
    assert!(nc.passed, "{:?}", nc.first_violation);
    handshake_timeout(&mut tl, 1, 4, 40 * MIN, EventKind::DialFailed);
    let r = evaluate(&scenario(6), &tl);
    let nc = r.iter().find(|r| r.name == "no_cycling").unwrap();
    assert_eq!(nc.first_violation.as_ref().map(|v| v.t), Some(40 * MIN));
}

#[test]
fn a_pause_span_a_little_over_the_brief_stall_bound_still_excuses_nothing() {
    // The recorded span includes the freeze and thaw calls (PAUSE_SETTLE,
    // 0.5 s wall: 0.5 s here at time scale 1): a 60.4 s span is a brief
    // stall, so a ping timeout in it fails; a 61 s one is a real pause.
    let mut net = Net::new(6);
    net.reconnect(3, 5, 20 * MIN + 50 * SEC, "ping timeout");
    for (len, brief) in [(60_400, true), (61_000, false)] {
        let mut tl = net.build();
        tl.faults.push(FaultSpan {
            start: 20 * MIN,
            end: Some(20 * MIN + len),
            action: FaultAction::Pause,
            nodes: vec!["n3".into()],
            cuts: Vec::new(),
            description: "pause n3".into(),
            answers: Vec::new(),
        });
        let r = evaluate(&scenario(6), &tl);
        let nc = r.iter().find(|r| r.name == "no_cycling").unwrap();
        assert_eq!(nc.passed, !brief, "{len}: {:?}", nc.first_violation);
    }
}
