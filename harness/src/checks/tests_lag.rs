//! `height_lag`'s side rule: while a partition holds, a node must catch up
//! from the peers on its own side (single-peer-catchup's joiner), not wait
//! for the heal.

use super::evaluate;
use super::testkit::{scenario_with, Net, MIN};
use super::tests::{all_pass, fails_exactly, nodes};
use crate::observe::model::Timeline;

const LATE: &str = "[[node]]\nname = \"n5\"\nstart_at = \"30m\"";

/// n5 joins at 30m inside a partition {n1, n5} | {n2, n3, n4} (25m to
/// 40m): both sides stall at 25, and an honest n5 syncs up to n1's 25.
fn joiner_on_a_side() -> Net {
    let mut net = Net::new(5);
    net.late(5, 30 * MIN);
    net.partition(&[&[1, 5], &[2, 3, 4]], 25 * MIN, 40 * MIN);
    net
}

/// n5 reports height 0 from its start until `to`.
fn waits_until(tl: &mut Timeline, to: u64) {
    for s in tl.samples.iter_mut().filter(|s| s.node == "n5" && s.t < to) {
        if let Some(st) = s.status.as_mut() {
            st.height = 0;
            st.tip_hash = "h0".into();
        }
    }
}

#[test]
fn a_joiner_that_syncs_from_its_one_peer_passes() {
    all_pass(&evaluate(
        &scenario_with(5, LATE),
        &joiner_on_a_side().build(),
    ));
    // Catching up 3 minutes after its start (inside warm-up + grace) too.
    let mut tl = joiner_on_a_side().build();
    waits_until(&mut tl, 33 * MIN);
    all_pass(&evaluate(&scenario_with(5, LATE), &tl));
}

#[test]
fn a_joiner_that_waits_for_the_heal_fails_height_lag() {
    // A sync that waits for several peers: n5 sits at 0 until the heal.
    let mut tl = joiner_on_a_side().build();
    waits_until(&mut tl, 40 * MIN);
    let v = fails_exactly(&evaluate(&scenario_with(5, LATE), &tl), &["height_lag"]);
    assert_eq!(nodes(&v), ["n5"]);
    // Behind n1's 25 from the end of its warm-up (2 blocks) on.
    assert_eq!(v.t, 32 * MIN);
    assert!(
        v.message.contains("on its side of a partition")
            && v.message.contains("now 0 vs 25 among n5, n1"),
        "{}",
        v.message
    );
}
