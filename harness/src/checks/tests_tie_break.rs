//! A node that rightly takes a crossing dial mid-handshake (the dialer has
//! the lower id) registers the probe as the peer and loses it when the
//! probe hangs up: one more reconnect of that pair inside the pause that
//! froze the peer, which `no_cycling` allows for each honest ack, and only
//! for those.

use super::evaluate_one;
use super::testkit::{scenario, Net, MIN, SEC};
use crate::observe::model::{Answer, FaultSpan, ProbeAnswer, TieBreak, Timeline};
use crate::scenario::{CheckKind, FaultAction};

/// n2 frozen 21m..29m; n1 drops it (22m30s), takes the probe as n2 at
/// 22m40s, loses it when the probe hangs up (22m45s) and reconnects after
/// the thaw. The probe's answer is `answer`, n2 the lower id if `n2_lower`.
fn probed_while_frozen(answer: Option<Answer>, n2_lower: bool) -> Timeline {
    let mut net = Net::new(4);
    net.close(1, 2, 22 * MIN + 30 * SEC, Some("ping timeout"));
    net.open(1, 2, 22 * MIN + 40 * SEC);
    net.close(1, 2, 22 * MIN + 45 * SEC, Some("connection closed by peer"));
    net.open(1, 2, 29 * MIN + 5 * SEC);
    let mut tl = net.build();
    let span = |start, end, action, description: &str, answers| FaultSpan {
        start,
        end: Some(end),
        action,
        nodes: vec!["n1".into(), "n2".into()],
        cuts: Vec::new(),
        description: description.into(),
        answers,
    };
    let mut pause = span(
        21 * MIN,
        29 * MIN,
        FaultAction::Pause,
        "pause n2",
        Vec::new(),
    );
    pause.nodes = vec!["n2".into()];
    tl.faults.push(pause);
    let (low, high) = ("0a".repeat(32), "f0".repeat(32));
    let (node_id, from_id) = if n2_lower { (high, low) } else { (low, high) };
    let answers = answer
        .map(|answer| ProbeAnswer {
            t: 22 * MIN + 40 * SEC,
            node: "n1".into(),
            from: "n2".into(),
            answer,
            tie_break: Some(TieBreak { node_id, from_id }),
        })
        .into_iter()
        .collect();
    let (at, probe) = (22 * MIN + 40 * SEC, FaultAction::CrossedDial);
    tl.faults
        .push(span(at, at + 1, probe, "n2 -> n1 mid-handshake", answers));
    tl
}

fn no_cycling(tl: &Timeline) -> crate::checks::CheckResult {
    evaluate_one(CheckKind::NoCycling, &scenario(4), tl)
}

#[test]
fn an_honest_tie_break_ack_is_one_allowed_reconnect() {
    let r = no_cycling(&probed_while_frozen(Some(Answer::Ack), true));
    assert!(r.passed, "{:?}", r.first_violation);
}

#[test]
fn without_an_honest_ack_the_same_reconnects_are_a_storm() {
    // A refusal: the node never took the probe, so two reconnects are one
    // too many; an ack to the higher id is wrong and excuses nothing.
    for (answer, n2_lower) in [(None, true), (Some(Answer::Ack), false)] {
        let r = no_cycling(&probed_while_frozen(answer.clone(), n2_lower));
        assert!(!r.passed, "{answer:?} n2_lower={n2_lower}");
        assert!(r.details.contains(" 1 reconnects and "), "{}", r.details);
        let v = r.first_violation.unwrap();
        assert!(v.message.contains("reconnect storm"), "{}", v.message);
    }
}

#[test]
fn an_honest_ack_on_another_pair_excuses_nothing_here() {
    // The same ack, recorded for n1 <- n3, n3 <- n1, n2 <- n3 or n3 <- n2: none is the n1-n2
    // pair, so n1-n2's two reconnects are still a storm (an ack must name
    // both nodes of the pair, in either order).
    for (node, from) in [("n1", "n3"), ("n3", "n1"), ("n2", "n3"), ("n3", "n2")] {
        let mut tl = probed_while_frozen(Some(Answer::Ack), true);
        for a in tl.faults.iter_mut().flat_map(|f| f.answers.iter_mut()) {
            a.node = node.into();
            a.from = from.into();
        }
        let r = no_cycling(&tl);
        assert!(!r.passed, "an ack of {node} <- {from} excused n1-n2");
        let v = r.first_violation.unwrap();
        assert!(v.message.contains("reconnect storm"), "{}", v.message);
    }
}
