//! `dial_backoff` at its edges: the 2-wall-ms slack and the 80 % fraction
//! at time scale 1 and 30, a dialer restart or a connection starting a new
//! streak, and faults that must not (another node's, or the dialer's at
//! another time). cargo-mutants found each edge untested.

use super::testkit::{outbound_event, scenario, Net, MIN};
use super::{evaluate, Violation};
use crate::observe::model::Timeline;
use std::net::{IpAddr, Ipv4Addr};
use timed::api::types::EventKind;

/// Addresses no node has: every dial to them fails.
pub(super) const NOWHERE: IpAddr = IpAddr::V4(Ipv4Addr::new(172, 28, 0, 99));
const NOWHERE_ELSE: IpAddr = IpAddr::V4(Ipv4Addr::new(172, 28, 0, 98));

fn event(tl: &mut Timeline, node: usize, target: IpAddr, t: u64, kind: EventKind) {
    outbound_event(tl, node, target, t, kind, "connection refused");
}

/// `node`'s dials to `target` fail at each of `times`.
pub(super) fn dial_failed(tl: &mut Timeline, node: usize, target: IpAddr, times: &[u64]) {
    for &t in times {
        event(tl, node, target, t, EventKind::DialFailed);
    }
}

/// dial_backoff's first violation on `tl` (3 nodes), if any.
fn backoff(tl: &Timeline) -> Option<Violation> {
    evaluate(&scenario(3), tl)
        .into_iter()
        .find(|r| r.name == "dial_backoff")
        .expect("dial_backoff is in the scenario")
        .first_violation
}

const T: u64 = 5 * MIN;

#[test]
fn a_gap_just_inside_the_slack_passes_and_one_ms_less_fails() {
    // After one failure the backoff is 1 s; 80 % of it is 800 ms, and
    // 2 wall ms of slack at time scale 1: 798 ms passes, 797 ms fails.
    let mut tl = Net::new(3).build();
    dial_failed(&mut tl, 1, NOWHERE, &[T, T + 798]);
    assert_eq!(backoff(&tl), None);
    dial_failed(&mut tl, 1, NOWHERE_ELSE, &[T, T + 797]);
    let v = backoff(&tl).expect("797 ms is too soon");
    assert_eq!(
        (v.t, v.nodes.clone()),
        (T + 797, vec!["n1".to_string(), NOWHERE_ELSE.to_string()])
    );
}

#[test]
fn the_slack_is_two_wall_ms_at_the_run_time_scale() {
    // At time scale 30 the slack is 60 protocol ms: 741 ms passes, 739 fails.
    let mut tl = Net::new(3).build();
    tl.time_scale = 30.0;
    dial_failed(&mut tl, 1, NOWHERE, &[T, T + 741]);
    assert_eq!(backoff(&tl), None);
    dial_failed(&mut tl, 1, NOWHERE_ELSE, &[T, T + 739]);
    assert_eq!(backoff(&tl).map(|v| v.t), Some(T + 739));
}

#[test]
fn a_restart_of_the_dialer_starts_a_new_streak() {
    // Three failures (the next may come 4 s later), then n1 restarts and
    // dials again 1.5 s after its last failure: a new process, a new count.
    let mut net = Net::new(3);
    net.restart(1, T + 3_500, T + 4_000);
    let mut tl = net.build();
    dial_failed(
        &mut tl,
        1,
        NOWHERE,
        &[T, T + 1_000, T + 3_000, T + 4_500, T + 5_500],
    );
    assert_eq!(backoff(&tl), None);
}

#[test]
fn a_connection_starts_a_new_streak() {
    let mut tl = Net::new(3).build();
    dial_failed(&mut tl, 1, NOWHERE, &[T, T + 1_000]);
    event(&mut tl, 1, NOWHERE, T + 2_000, EventKind::Connected);
    dial_failed(&mut tl, 1, NOWHERE, &[T + 2_500, T + 3_500]);
    assert_eq!(backoff(&tl), None);
}

#[test]
fn only_the_dialers_own_fault_during_the_streak_resets_it() {
    // n3 restarts across the storm and n1 restarts much later: neither
    // excuses n1 redialing after 100 ms.
    let mut net = Net::new(3);
    net.restart(3, 10 * MIN - 1_000, 10 * MIN + 1_000)
        .restart(1, 30 * MIN, 31 * MIN);
    let mut tl = net.build();
    dial_failed(
        &mut tl,
        1,
        NOWHERE,
        &[10 * MIN, 10 * MIN + 100, 10 * MIN + 200],
    );
    assert_eq!(backoff(&tl).map(|v| v.t), Some(10 * MIN + 100));
}
