//! A pair's kernel socket that vanishes is excused only by a close that one
//! of the two nodes logged about the other (`no_cycling`'s third view):
//! what either node logs about a third party excuses nothing.

use super::testkit::{ip, outbound_event, scenario, Net, MIN, SEC};
use super::tests::{fails_exactly, nodes};
use super::{evaluate, evaluate_one};
use crate::scenario::CheckKind;
use timed::api::types::EventKind;

/// n2-n5's socket vanishes at 20m00.005s; nobody logs it. n2's side is
/// judged first.
fn vanished() -> crate::observe::model::Timeline {
    let mut net = Net::new(6);
    net.kernel_vanish(2, 5, 20 * MIN + 5);
    net.build()
}

fn no_cycling_details(tl: &crate::observe::model::Timeline) -> (super::Violation, String) {
    let results = evaluate(&scenario(6), tl);
    let v = fails_exactly(&results, &["no_cycling", "kernel_view"]);
    let details = results
        .iter()
        .find(|r| r.name == "no_cycling")
        .map(|r| r.details.clone())
        .unwrap();
    (v, details)
}

/// n2's socket to n5 vanished and nobody logged a close of that pair: both
/// ends count as unlogged disconnects.
/// [`vanished`], and n5 logs closing a duplicate from n2 at `t`.
fn vanished_then_n5_closes_n2_at(t: u64) -> crate::observe::model::Timeline {
    let mut tl = vanished();
    outbound_event(
        &mut tl,
        5,
        ip(2),
        t,
        EventKind::HandshakeRejected,
        "duplicate",
    );
    tl
}

fn nothing_unlogged(tl: &crate::observe::model::Timeline) {
    let r = evaluate(&scenario(6), tl);
    let nc = r.iter().find(|r| r.name == "no_cycling").unwrap();
    assert!(
        nc.details.contains("0 unlogged disconnects"),
        "{}",
        nc.details
    );
}

fn both_sides_unlogged(tl: &crate::observe::model::Timeline) {
    let (v, details) = no_cycling_details(tl);
    assert_eq!((v.t, nodes(&v)), (20 * MIN + 10 * SEC, vec!["n2", "n5"]));
    assert!(
        v.message.starts_with("kernel view: n2's socket to n5"),
        "{}",
        v.message
    );
    assert!(details.contains("2 unlogged disconnects"), "{details}");
}

#[test]
fn each_side_of_a_silent_socket_loss_is_one_unlogged_disconnect() {
    both_sides_unlogged(&vanished());
}

#[test]
fn a_close_the_peer_logged_about_someone_else_excuses_nothing() {
    // n5 refuses a handshake from an address outside the run at 20m05s,
    // inside the window n2's lost socket is matched against: not a close
    // of n2's connection, so both sides still count it as unlogged.
    let mut tl = vanished();
    let stranger = "172.28.0.99".parse().unwrap();
    assert!((1..=6).all(|i| ip(i) != stranger));
    outbound_event(
        &mut tl,
        5,
        stranger,
        20 * MIN + 5 * SEC,
        EventKind::HandshakeRejected,
        "foreign genesis",
    );
    both_sides_unlogged(&tl);
    // The same line about n2 is a logged close: nothing is unlogged.
    nothing_unlogged(&vanished_then_n5_closes_n2_at(20 * MIN + 5 * SEC));
}

#[test]
fn a_silently_lost_connection_is_said_to_be_still_listed_only_when_it_is() {
    // vanished(): both nodes keep listing each other.
    let (v, _) = no_cycling_details(&vanished());
    assert!(
        v.message
            .ends_with(" and the node still reports it connected"),
        "{}",
        v.message
    );
    // n2-n5 closes at 20m00.005s, nobody logs it, and neither lists the
    // other any more (they reconnect at 20m30s): the same failure, without
    // the claim.
    let mut net = Net::new(6);
    net.close(2, 5, 20 * MIN + 5, None);
    net.open(2, 5, 20 * MIN + 30 * SEC);
    let r = evaluate_one(CheckKind::NoCycling, &scenario(6), &net.build());
    let v = r.first_violation.expect("an unlogged disconnect");
    assert_eq!((v.t, nodes(&v)), (20 * MIN + 10 * SEC, vec!["n2", "n5"]));
    assert!(
        v.message.starts_with("kernel view: n2's socket to n5")
            && !v.message.contains("still reports"),
        "{}",
        v.message
    );
}

#[test]
fn a_close_logged_up_to_two_polls_after_the_loss_is_seen_excuses_it() {
    // The loss is seen in the 20m10s poll; a node logs the close within a
    // poll of reading its kernel table, itself up to a poll late: n5's
    // close of n2's duplicate at exactly 20m30s is the pair's logged close.
    nothing_unlogged(&vanished_then_n5_closes_n2_at(20 * MIN + 30 * SEC));
}

#[test]
fn a_close_logged_three_polls_after_the_loss_is_seen_excuses_nothing() {
    // The same close as above at 20m40s, a poll too late: both sides of
    // the lost socket still count as unlogged.
    both_sides_unlogged(&vanished_then_n5_closes_n2_at(20 * MIN + 40 * SEC));
}
