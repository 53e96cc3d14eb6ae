//! `height_lag`'s figures (how far behind, for how long) and its side
//! rule: while a partition holds, a node must catch up from the peers on
//! its own side (single-peer-catchup's joiner), not wait for the heal.

use super::evaluate;
use super::testkit::{scenario, scenario_with, Net, MIN, SEC};
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

#[test]
fn a_trailing_node_is_reported_with_how_far_behind_it_was() {
    // From 20m to 30m n4 learns each block 70 s late: 2 blocks behind at
    // 20m00s (18 vs 20), reported once its lag passes 1m20s, at 21m30s.
    let mut tl = Net::new(6).build();
    let late = |t: u64| (20 * MIN..30 * MIN).contains(&t);
    for s in tl
        .samples
        .iter_mut()
        .filter(|s| s.node == "n4" && late(s.t))
    {
        let st = s.status.as_mut().unwrap();
        st.height = (s.t - 70 * SEC) / MIN;
        st.tip_hash = format!("h{}", st.height);
    }
    let results = evaluate(&scenario(6), &tl);
    let v = fails_exactly(&results, &["height_lag"]);
    assert_eq!((v.t, nodes(&v)), (20 * MIN, vec!["n4"]));
    assert!(
        v.message
            .contains("from 20m00s to 21m30s at least (up to 2 block(s) behind; now 20 vs 21)"),
        "{}",
        v.message
    );
    let details = &results
        .iter()
        .find(|r| r.name == "height_lag")
        .unwrap()
        .details;
    assert!(
        details.contains(", at most 2 block(s) behind;"),
        "{details}"
    );
}
