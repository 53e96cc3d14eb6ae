//! `common_height`'s agreement across polls taken at different instants:
//! blocks faster than the poll make every poll round disagree on an honest
//! network (the race single-peer-catchup lost on docker), while a node that
//! really trails or froze still fails.

use super::testkit::{hold_height, scenario, Net, MIN, SEC};
use super::{evaluate_one, CheckResult};
use crate::observe::model::Timeline;
use crate::scenario::{CheckKind, Scenario};
use std::time::Duration;

/// 8 s blocks, polls every 10 s: faster blocks than polls, like 200 ms
/// blocks under a 300 ms poll at time scale 20.
const BLOCK: u64 = 8 * SEC;

fn fast_blocks() -> Scenario {
    let mut sc = scenario(6);
    sc.network.block_interval = Duration::from_millis(BLOCK);
    sc
}

/// Six nodes, each polled every 10 s at its own instant (`n1` at 0 s, `n2`
/// at 1.8 s, ... `n6` at 9 s into each round). Every node holds the
/// network's height of `lag(node)` ms earlier, and `frozen` stops at that
/// protocol time (keeps its height).
fn staggered(lag: impl Fn(usize) -> u64, frozen: Option<(usize, u64)>) -> Timeline {
    let mut tl = Net::new(6).build();
    for s in &mut tl.samples {
        let i: usize = s.node[1..].parse().unwrap();
        s.t += (i as u64 - 1) * 1800;
        let mut at = s.t.saturating_sub(lag(i));
        if let Some((_, stop)) = frozen.filter(|(n, _)| *n == i) {
            at = at.min(stop);
        }
        let st = s.status.as_mut().unwrap();
        st.height = at / BLOCK;
        st.tip_hash = format!("h{}", st.height);
    }
    tl.samples.retain(|s| s.t <= tl.end);
    tl
}

fn common_height(tl: &Timeline) -> CheckResult {
    evaluate_one(CheckKind::CommonHeight, &fast_blocks(), tl)
}

#[test]
fn polls_at_different_instants_cannot_race_an_honest_network() {
    let tl = staggered(|_| 0, None);
    // No single poll round agrees: the nodes' latest polls span 8.2 s,
    // more than a block, so some node always holds the next block.
    let end = tl.end;
    let round: Vec<u64> = (1..=6)
        .map(|i| {
            tl.samples
                .iter()
                .rfind(|s| s.node == format!("n{i}") && s.t <= end)
                .and_then(|s| s.status.as_ref())
                .map(|st| st.height)
                .unwrap()
        })
        .collect();
    assert!(round.iter().any(|h| *h != round[0]), "{round:?}");
    let r = common_height(&tl);
    assert!(r.passed, "{:?} ({})", r.first_violation, r.details);
    assert!(r.details.contains("6 nodes at height"), "{}", r.details);
}

#[test]
fn a_node_trailing_four_blocks_fails_although_polls_are_staggered() {
    let r = common_height(&staggered(|i| if i == 4 { 30 * SEC } else { 0 }, None));
    let v = r.first_violation.expect("n4 trails by 30 s");
    assert_eq!(v.nodes, ["n4"]);
    assert_eq!(v.t, 60 * MIN);
    assert!(
        v.message.contains("no common height and tip in the last"),
        "{}",
        v.message
    );
}

#[test]
fn a_node_frozen_a_minute_before_the_end_fails() {
    let r = common_height(&staggered(|_| 0, Some((2, 59 * MIN))));
    let v = r.first_violation.expect("n2 froze at 59m");
    assert_eq!(v.nodes, ["n2"]);
    assert!(
        v.message
            .contains(&format!("n2 at height {}", 59 * MIN / BLOCK)),
        "{}",
        v.message
    );
}

#[test]
fn a_different_tip_at_one_height_is_no_agreement() {
    // Same heights everywhere, but n5 reports another hash at every height
    // from 50m on: there is no common tip at the end.
    let mut tl = staggered(|_| 0, None);
    for s in tl
        .samples
        .iter_mut()
        .filter(|s| s.node == "n5" && s.t >= 50 * MIN)
    {
        let st = s.status.as_mut().unwrap();
        st.tip_hash = format!("x{}", st.height);
    }
    let r = common_height(&tl);
    assert!(!r.passed, "{}", r.details);
}

#[test]
fn the_agreed_height_may_equal_min_height_but_not_fall_below_it() {
    // The test scenario's min_height is 40: a run that ends at 40m agrees
    // on height 40 and passes; one that ends at 39m fails at its end.
    let at = |end: u64| {
        let mut net = Net::new(6);
        net.end = end;
        evaluate_one(CheckKind::CommonHeight, &scenario(6), &net.build())
    };
    let r = at(40 * MIN);
    assert!(r.passed, "{:?} ({})", r.first_violation, r.details);
    assert!(
        r.details.starts_with("6 nodes at height 40 "),
        "{}",
        r.details
    );
    let v = at(39 * MIN).first_violation.expect("39 is below 40");
    assert_eq!((v.t, v.nodes.len()), (39 * MIN, 6));
    assert!(
        v.message
            .contains("common height 39 is below min_height 40"),
        "{}",
        v.message
    );
}

#[test]
fn a_node_on_another_tip_at_the_end_is_the_one_reported() {
    // Every node at height 60, n5 on its own tips from 55 on: no common
    // tip, and no node trails, so the culprit is the one off the tip most
    // nodes hold.
    let mut net = Net::new(6);
    for h in 55..=60 {
        net.bad_hash(5, h);
    }
    let r = evaluate_one(CheckKind::CommonHeight, &scenario(6), &net.build());
    let v = r.first_violation.expect("two tips at the end");
    assert_eq!((v.t, v.nodes.clone()), (60 * MIN, vec!["n5".to_string()]));
    assert!(
        v.message
            .contains("n5 at height 60 (tip evil60); the others at height 60 (tip h60)"),
        "{}",
        v.message
    );
}

#[test]
fn a_heal_followed_by_another_partition_is_judged_at_the_last_heal() {
    // n1 is cut off from 10m to 20m and again from 20m30s to 30m (a churn):
    // it holds height 20 until 30m, so nothing agrees above 20 within 6m
    // (`within`) of the first heal. That heal is not judged; the last one
    // is, and the network agrees again after it.
    let mut net = Net::new(6);
    net.partition(&[&[1], &[2, 3, 4, 5, 6]], 10 * MIN, 20 * MIN);
    net.partition(&[&[1], &[2, 3, 4, 5, 6]], 20 * MIN + 30 * SEC, 30 * MIN);
    let r = evaluate_one(CheckKind::CommonHeight, &scenario(6), &net.build());
    assert!(r.passed, "{:?} ({})", r.first_violation, r.details);
    assert!(r.details.contains("after the last heal"), "{}", r.details);
}

#[test]
fn a_node_trailing_two_and_a_half_blocks_is_the_only_one_reported() {
    // n4 holds the height of 20 s earlier: no agreement at the end, and the
    // others, whose staggered polls catch them a block apart, are not
    // blamed with it.
    let r = common_height(&staggered(|i| if i == 4 { 20 * SEC } else { 0 }, None));
    let v = r.first_violation.expect("n4 trails by 20 s");
    assert_eq!((v.t, v.nodes), (60 * MIN, vec!["n4".to_string()]));
}

#[test]
fn an_agreement_polled_just_after_the_heal_deadline_still_counts() {
    // n1 cut off from 20m to 30m; no block from the heal until 33m10s,
    // 10 s after the deadline (the heal + the test scenario's `within`,
    // 3m), and n6 polled 3 s after the others. At the deadline's poll round
    // every node holds 30 and each then reports 33 within a poll and a
    // half: they agreed at the deadline, the next block was only not yet
    // seen.
    let mut net = Net::new(6);
    net.partition(&[&[1], &[2, 3, 4, 5, 6]], 20 * MIN, 30 * MIN);
    let mut tl = net.build();
    for s in &mut tl.samples {
        if s.node == "n6" {
            s.t += 3 * SEC;
        }
        let st = s.status.as_mut().unwrap();
        if (30 * MIN..33 * MIN + 10 * SEC).contains(&s.t) {
            st.height = 30;
            st.tip_hash = "h30".into();
        }
    }
    tl.samples.retain(|s| s.t <= tl.end);
    tl.samples.sort_by_key(|s| s.t);
    let r = evaluate_one(CheckKind::CommonHeight, &scenario(6), &tl);
    assert!(r.passed, "{:?} ({})", r.first_violation, r.details);
    assert!(
        r.details
            .contains("agreed at height 33 (above 30) 3m00s after the last heal"),
        "{}",
        r.details
    );
}

#[test]
fn a_heal_too_close_to_the_end_is_judged_by_the_end_alone() {
    // n1 cut off from 50m to 59m, and no block after 59m: the heal's
    // deadline (59m + 3m) is past the end, so only the end is judged, and
    // there every node holds 59.
    let mut net = Net::new(6);
    net.partition(&[&[1], &[2, 3, 4, 5, 6]], 50 * MIN, 59 * MIN);
    let mut tl = net.build();
    for s in tl.samples.iter_mut().filter(|s| s.t >= 59 * MIN) {
        let st = s.status.as_mut().unwrap();
        st.height = 59;
        st.tip_hash = "h59".into();
    }
    let r = evaluate_one(CheckKind::CommonHeight, &scenario(6), &tl);
    assert!(r.passed, "{:?} ({})", r.first_violation, r.details);
    assert!(
        r.details.starts_with("6 nodes at height 59 "),
        "{}",
        r.details
    );
}

#[test]
fn with_a_within_shorter_than_two_polls_the_end_still_looks_back_two_polls() {
    // `within` = 10 s, one poll: the end is judged over the last two polls
    // anyway (a poll round is not one instant). Every node agrees on 59 at
    // 59m40s; at 60m n5 reports another tip at 60, too late to count.
    let mut sc = scenario(6);
    for c in sc
        .checks
        .iter_mut()
        .filter(|c| c.kind == CheckKind::CommonHeight)
    {
        c.within = Some(Duration::from_secs(10));
    }
    let mut net = Net::new(6);
    net.bad_hash(5, 60);
    let r = evaluate_one(CheckKind::CommonHeight, &sc, &net.build());
    assert!(r.passed, "{:?} ({})", r.first_violation, r.details);
    assert!(
        r.details.starts_with("6 nodes at height 59 "),
        "{}",
        r.details
    );
}

#[test]
fn nodes_that_all_sit_on_one_height_at_the_end_agree_on_it() {
    // The run ends mid-block (59m30s): every node reports height 59 for the
    // whole last poll and a half, the plainest agreement there is (a run
    // ending on a block boundary sees two heights in that window).
    let mut net = Net::new(6);
    net.end = 59 * MIN + 30 * SEC;
    let r = common_height(&net.build());
    assert!(r.passed, "{:?}", r.first_violation);
    assert!(
        r.details.starts_with("6 nodes at height 59 "),
        "{}",
        r.details
    );
}

#[test]
fn recovering_to_one_block_above_the_heal_tip_is_a_recovery() {
    // 2 | 4 of 6 masternodes from 20m to 30m: every node stalls at 20.
    // After the heal the network makes one block (21, from 31m) and no
    // more: that is above the heal's tip, so the recovery rule holds (the
    // end rule is left out with min_height 1).
    let mut net = Net::new(6);
    net.partition(&[&[1, 2], &[3, 4, 5, 6]], 20 * MIN, 30 * MIN);
    let mut tl = net.build();
    hold_height(&mut tl, None, 20 * MIN, 31 * MIN, 20);
    hold_height(&mut tl, None, 31 * MIN, u64::MAX, 21);
    let mut sc = scenario(6);
    for c in sc.checks.iter_mut() {
        c.min_height = Some(1);
    }
    let r = evaluate_one(CheckKind::CommonHeight, &sc, &tl);
    assert!(r.passed, "{:?} ({})", r.first_violation, r.details);
    assert!(r.details.contains("(above 20)"), "{}", r.details);
}
