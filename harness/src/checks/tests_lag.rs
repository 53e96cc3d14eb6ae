//! `height_lag`'s figures (how far behind, for how long) and its side
//! rule: while a partition holds, a node must catch up from the peers on
//! its own side (single-peer-catchup's joiner), not wait for the heal.

use super::testkit::{hold_height, scenario, scenario_with, Net, MIN, SEC};
use super::tests::{all_pass, fails_exactly, nodes};
use super::{evaluate, evaluate_one};
use crate::observe::model::Timeline;
use crate::scenario::CheckKind;
use timed::api::types::EventKind;

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

#[test]
fn a_node_may_take_on_a_quarter_of_its_blocks_silently_but_not_more() {
    // A run ending at 59m: n4 takes on 56 blocks after its grace. With 14
    // of them (exactly a quarter) never heard of, it passes; with 15 it
    // follows by sync polling and fails height_lag.
    let silent_from_20m = |silent: u64| {
        let mut net = Net::new(6);
        net.end = 59 * MIN;
        let mut tl = net.build();
        tl.events.retain(|e| {
            !(e.node == "n4"
                && e.event.kind == EventKind::BlockFinalized
                && e.t >= 20 * MIN
                && e.t < (20 + silent) * MIN)
        });
        evaluate(&scenario(6), &tl)
    };
    let quarter = silent_from_20m(14);
    all_pass(&quarter);
    let lag = quarter.iter().find(|r| r.name == "height_lag").unwrap();
    assert!(
        lag.details.contains(" 14 of ") && lag.details.contains(" new blocks taken on without"),
        "{}",
        lag.details
    );
    let v = fails_exactly(&silent_from_20m(15), &["height_lag"]);
    assert_eq!((v.t, nodes(&v)), (20 * MIN, vec!["n4"]));
    assert!(
        v.message.contains("took on 15 of 56 new blocks"),
        "{}",
        v.message
    );
}

#[test]
fn the_side_rule_ends_at_the_heal_and_the_grace_after_it_covers_the_catch_up() {
    // {n1, n2} | {n3..n6} from 25m to 40m: the minority stalls at 25, n2
    // takes one block in flight (26) at 38m and n1 trails it from then on,
    // until 42m30s, 2m30s after the heal. Behind its side for 1m50s while
    // the cut held (under `grace`, 4m) and then caught up inside the heal's
    // grace: no failure, although 38m to 42m30s is longer than `grace`.
    let mut net = Net::new(6);
    net.partition(&[&[1, 2], &[3, 4, 5, 6]], 25 * MIN, 40 * MIN);
    let mut tl = net.build();
    for s in &mut tl.samples {
        let st = s.status.as_mut().unwrap();
        if s.node == "n2" && (38 * MIN..40 * MIN).contains(&s.t) {
            st.height = 26;
        }
        if s.node == "n1" && (40 * MIN..42 * MIN + 30 * SEC).contains(&s.t) {
            st.height = 25;
        }
        st.tip_hash = format!("h{}", st.height);
    }
    let r = evaluate_one(CheckKind::HeightLag, &scenario(6), &tl);
    assert!(r.passed, "{:?} ({})", r.first_violation, r.details);
    assert!(
        r.details
            .ends_with("longest lag behind its own side in a partition 1m50s (limit 4m00s)"),
        "{}",
        r.details
    );
}

#[test]
fn a_node_may_trail_its_side_for_exactly_the_grace() {
    // {n1, n2} | {n3..n6} from 25m to 40m: n2 takes one block in flight
    // (26) at 30m and n1 reports 25 until 34m00s: behind its side for
    // exactly `grace` (4m) passes; one poll more fails.
    let trailing_until = |last: u64| {
        let mut net = Net::new(6);
        net.partition(&[&[1, 2], &[3, 4, 5, 6]], 25 * MIN, 40 * MIN);
        let mut tl = net.build();
        for s in &mut tl.samples {
            let st = s.status.as_mut().unwrap();
            let in_flight = s.t >= 30 * MIN && s.t < 40 * MIN;
            if in_flight && (s.node == "n2" || (s.node == "n1" && s.t > last)) {
                st.height = 26;
                st.tip_hash = "h26".into();
            }
        }
        evaluate_one(CheckKind::HeightLag, &scenario(6), &tl)
    };
    let r = trailing_until(34 * MIN);
    assert!(r.passed, "{:?} ({})", r.first_violation, r.details);
    assert!(
        r.details
            .ends_with("longest lag behind its own side in a partition 4m00s (limit 4m00s)"),
        "{}",
        r.details
    );
    let v = trailing_until(34 * MIN + 10 * SEC)
        .first_violation
        .expect("4m10s is over the grace");
    assert_eq!((v.t, nodes(&v)), (30 * MIN, vec!["n1"]));
}

#[test]
fn a_node_is_judged_from_its_first_poll_plus_the_warm_up() {
    // height_lag with a 5-minute warm-up. n4 sits at height 0 until 4m:
    // from 1m on it trails by up to 3 blocks for 3 minutes, all inside its
    // warm-up, so it passes; the same 3 minutes from 10m fail.
    let sc = crate::scenario::parse(
        "name = \"test\"\nduration = \"1h\"\n[network]\nnodes = 6\n\
         block_interval = \"60s\"\n[[check]]\nkind = \"height_lag\"\nwarmup = \"5m\"\n",
        "test.toml",
    )
    .unwrap();
    let stuck = |from: u64, to: u64| {
        let mut tl = Net::new(6).build();
        hold_height(&mut tl, Some("n4"), from, to, from / MIN);
        evaluate_one(CheckKind::HeightLag, &sc, &tl)
    };
    let r = stuck(0, 4 * MIN);
    assert!(r.passed, "{:?}", r.first_violation);
    let r = stuck(10 * MIN, 13 * MIN);
    let v = r
        .first_violation
        .expect("trailing 3 blocks after the warm-up");
    assert_eq!(nodes(&v), vec!["n4"]);
}
