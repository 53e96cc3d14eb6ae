//! `cpu_throttle` in the checks: a throttled node is up but slow, so the
//! only thing excused is its own height lag during the window (plus the
//! grace); every pair rule holds for it as for any running node.

use super::evaluate;
use super::testkit::{scenario, Net, MIN, SEC};
use super::tests::{all_pass, fails_exactly, nodes};
use crate::observe::model::{FaultSpan, Timeline};
use crate::scenario::FaultAction;

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
