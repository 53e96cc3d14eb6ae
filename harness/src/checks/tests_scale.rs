//! The wall-clock allowances (`PAUSE_SETTLE`, `RULES_SETTLE`) are
//! multiplied by the run's time scale into protocol ms. The other tests run
//! at time scale 1, where `x * scale` and `x / scale` agree; these pin the
//! product at time scale 30 (found by cargo-mutants).

use super::evaluate;
use super::testkit::{scenario, Net, MIN, SEC};
use super::tests::nodes;
use super::tests_faults::minority_that_finalizes;
use super::tests_rules::brief_pause;

const SCALE: f64 = 30.0;

#[test]
fn a_pause_recorded_longer_by_the_scaled_settle_is_still_brief() {
    // PAUSE_SETTLE 0.5 s wall = 15 s protocol at time scale 30: a 59 s
    // freeze recorded as 74 s is still brief, so n3's peers dropping it by
    // ping timeout is cycling; a 60 s one recorded as 75 s is not brief.
    let settle = (500.0 * SCALE) as u64;
    let cost = |pause: u64| {
        let mut net = Net::new(6);
        net.reconnect(3, 5, 20 * MIN + 20 * SEC, "ping timeout");
        let mut tl = net.build();
        tl.time_scale = SCALE;
        brief_pause(&mut tl, 3, 20 * MIN, 20 * MIN + pause);
        evaluate(&scenario(6), &tl)
            .into_iter()
            .find(|r| r.name == "no_cycling")
            .unwrap()
            .first_violation
    };
    let v = cost(59 * SEC + settle).expect("a reconnect during a brief pause is cycling");
    assert_eq!((v.t, nodes(&v)), (20 * MIN + 20 * SEC, vec!["n3", "n5"]));
    assert_eq!(cost(60 * SEC + settle), None);
}

#[test]
fn a_minority_is_judged_only_once_the_scaled_rules_settle_has_passed() {
    // RULES_SETTLE 5 s wall = 150 s protocol at time scale 30: n1, alone
    // from 20m to 30m, is judged cut off from 22m30s on (its baseline is
    // its height there, 22), so its first excess block is 24 at 24m; with
    // an unscaled 5 s it would be judged from 20m10s and fail at 22m.
    let (v, _) = minority_that_finalizes(SCALE);
    assert_eq!((v.t, nodes(&v)), (24 * MIN, vec!["n1"]));
    assert!(
        v.message.contains("(it was at 22 when cut off"),
        "{}",
        v.message
    );
}
