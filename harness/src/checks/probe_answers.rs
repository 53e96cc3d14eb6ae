//! `probe_answers`: every probe of a protocol fault (`crossed_dial`,
//! `duplicate_dial`, `stale_hello`) got an answer that keeps exactly one
//! connection per IP.
//!
//! The nemesis records, in each such fault's span, the first frame the
//! dialed node sent back on the harness's connection ([`Answer`]):
//!
//! - a `HandshakeAck` is always wrong: the node took a second connection
//!   from an IP it is connected to (it then holds two, or dropped the
//!   established one for the newcomer), or registered a Hello whose dialer
//!   had already hung up;
//! - `crossed_dial` and `duplicate_dial` must be refused with a `Reject`
//!   after the handshake: a close without a frame means the duplicate was
//!   judged before the handshake (by IP alone, so a restarted peer's
//!   legitimate redial is refused too) or without a reason the dialer can log;
//! - `stale_hello` must not be registered: a close without a frame (the
//!   stale Hello dropped) or a `Reject` both pass;
//! - a `crossed_dial` made while the node's own dial to the impersonated
//!   peer was mid-handshake (`during = "handshake"`, the answer carries both
//!   ids: [`TieBreak`]) must follow the tie-break both sides apply, the
//!   lower node id's dial wins: a `HandshakeAck` when the dialer has the
//!   lower id, else a `Reject` saying simultaneous open. Refusing the lower
//!   id leaves the pair with no connection when the other side refuses
//!   too; taking the higher id leaves it with two;
//! - no answer within the node's handshake limit, or a probe that could
//!   not be made, fails: nothing was shown.
//!
//! A protocol fault with no recorded answer, or a timeline with no probe at
//! all, fails too (the check asserts something only if probes ran), unless
//! a random nemesis drew the faults: a seed that drew no protocol fault is
//! not a defect of the file (`explore`'s `must_reach` is what demands that
//! some seed exercised the races). Whether
//! the established connection survived is `no_cycling`'s,
//! `one_peer_per_ip`'s and `kernel_view`'s: the faults excuse nothing.

use super::view::View;
use super::{Outcome, Params};
use crate::observe::model::{Answer, TieBreak};
use crate::scenario::plan::ProbeKind;
use crate::scenario::{fmt_ms, probe_kind};
use timed::net::RejectReason;

/// Why `answer` to a probe of `kind` is wrong (`None`: it is right);
/// `tie_break` when the probe met the node's own handshaking dial.
pub fn wrong(
    kind: ProbeKind,
    answer: &Answer,
    tie_break: Option<&TieBreak>,
) -> Option<&'static str> {
    if let Some(tb) = tie_break {
        return wrong_tie_break(tb, answer);
    }
    match (kind, answer) {
        (ProbeKind::StaleHello, Answer::Ack) => {
            Some("it registered a Hello whose dialer had already hung up")
        }
        (_, Answer::Ack) => Some("it took a second connection from an IP it is connected to"),
        (_, Answer::Reject { .. }) => None,
        (ProbeKind::StaleHello, Answer::Closed) => None,
        (_, Answer::Closed) => Some(
            "it closed without a Reject: a duplicate judged before the handshake, or no \
             reason for the dialer to log",
        ),
        (_, Answer::Silent) => Some("no answer within its handshake limit"),
        (_, Answer::Failed { .. }) => Some("the probe could not be made: nothing was tested"),
    }
}

/// Why `answer` to a dial that crossed the node's handshaking dial is
/// wrong, judged by the two ids (`None`: it followed the tie-break).
fn wrong_tie_break(tb: &TieBreak, answer: &Answer) -> Option<&'static str> {
    let simultaneous = RejectReason::DuplicateSimultaneous.to_string();
    match (tb.dialer_wins(), answer) {
        (true, Answer::Ack) => None,
        (true, Answer::Reject { .. }) => Some(
            "it refused the dial of the lower node id while its own dial was mid-handshake: \
             the lower id's dial must win on both sides, or neither connection survives",
        ),
        (false, Answer::Reject { reason }) if *reason == simultaneous => None,
        (false, Answer::Reject { .. }) => Some(
            "it refused the higher id's crossing dial without saying simultaneous open \
             (it counts a connection it does not have)",
        ),
        (false, Answer::Ack) => Some(
            "it took the higher node id's dial over its own mid-handshake one: the lower \
             id's dial must win on both sides, or the pair ends with two connections",
        ),
        (_, Answer::Closed) => Some(
            "it closed without a verdict on a crossing dial mid-handshake: the tie-break \
             owes the dialer an ack or a simultaneous-open reject",
        ),
        (_, Answer::Silent) => Some("no answer within its handshake limit"),
        (_, Answer::Failed { .. }) => Some("the probe could not be made: nothing was tested"),
    }
}

pub(super) fn check(v: &View, _p: &Params) -> Outcome {
    let mut out = Outcome::new(0, v.tl.end);
    let (mut faults, mut probes, mut bad) = (0usize, 0usize, 0usize);
    for f in &v.tl.faults {
        let Some(kind) = probe_kind(f.action) else {
            continue;
        };
        faults += 1;
        if f.answers.is_empty() {
            let nodes: Vec<&str> = f.nodes.iter().map(String::as_str).collect();
            out.violation(
                f.start,
                &nodes,
                format!(
                    "{} at {} ({}) recorded no answer: the fault was not applied",
                    f.action,
                    fmt_ms(f.start),
                    f.description
                ),
            );
        }
        for a in &f.answers {
            probes += 1;
            if let Some(why) = wrong(kind, &a.answer, a.tie_break.as_ref()) {
                bad += 1;
                out.violation(
                    a.t,
                    &[&a.node, &a.from],
                    format!(
                        "{} at {}: {} answered {} (dialed from {}'s IP with its key): {why}",
                        f.action,
                        fmt_ms(a.t),
                        a.node,
                        a.answer,
                        a.from
                    ),
                );
            }
        }
    }
    if faults == 0 && !v.drawn {
        out.violation(
            v.tl.end,
            &[],
            "no protocol fault was applied: nothing was probed",
        );
    }
    out.details = format!("{faults} protocol faults, {probes} probes, {bad} wrong answers");
    if faults == 0 && v.drawn {
        out.details += " (the random nemesis drew none for this seed)";
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{scenario_with, Net, MIN};
    use super::super::tests::{all_pass, fails_exactly, nodes};
    use super::super::{evaluate, evaluate_one};
    use super::*;
    use crate::observe::model::{FaultSpan, ProbeAnswer, Timeline};
    use crate::scenario::{CheckKind, FaultAction};

    fn answered(node: &str, from: &str, t: u64, answer: Answer) -> ProbeAnswer {
        ProbeAnswer {
            t,
            node: node.into(),
            from: from.into(),
            answer,
            tie_break: None,
        }
    }

    fn reject() -> Answer {
        Answer::Reject {
            reason: "duplicate: already connected".into(),
        }
    }

    /// A crossed dial n1 <-> n2 at 20m, a duplicate n3 -> n4 at 25m and a
    /// stale Hello n5 -> n6 at 30m, answered as an honest node does, with
    /// `tweak` applied to the answers.
    fn probed(tl: &mut Timeline, tweak: impl Fn(&mut Vec<FaultSpan>)) {
        let span = |t: u64, action, a: &str, b: &str, answers| FaultSpan {
            start: t,
            end: Some(t + 1),
            action,
            nodes: vec![a.to_string(), b.to_string()],
            cuts: Vec::new(),
            description: format!("{a} {b}"),
            answers,
        };
        let mut faults = vec![
            span(
                20 * MIN,
                FaultAction::CrossedDial,
                "n1",
                "n2",
                vec![
                    answered("n2", "n1", 20 * MIN, reject()),
                    answered("n1", "n2", 20 * MIN, reject()),
                ],
            ),
            span(
                25 * MIN,
                FaultAction::DuplicateDial,
                "n4",
                "n3",
                vec![answered("n4", "n3", 25 * MIN, reject())],
            ),
            span(
                30 * MIN,
                FaultAction::StaleHello,
                "n6",
                "n5",
                vec![answered("n6", "n5", 30 * MIN, Answer::Closed)],
            ),
        ];
        tweak(&mut faults);
        tl.faults.extend(faults);
    }

    fn sc() -> crate::scenario::Scenario {
        scenario_with(6, "[[check]]\nkind = \"probe_answers\"\n")
    }

    #[test]
    fn honest_answers_pass_and_the_faults_excuse_nothing() {
        let mut tl = Net::new(6).build();
        probed(&mut tl, |_| {});
        all_pass(&evaluate(&sc(), &tl));
        let r = evaluate_one(CheckKind::ProbeAnswers, &sc(), &tl);
        assert_eq!(r.details, "3 protocol faults, 4 probes, 0 wrong answers");
    }

    #[test]
    fn an_ack_to_a_crossed_dial_fails_exactly_probe_answers() {
        let mut tl = Net::new(6).build();
        probed(&mut tl, |f| f[0].answers[1].answer = Answer::Ack);
        let v = fails_exactly(&evaluate(&sc(), &tl), &["probe_answers"]);
        assert_eq!(nodes(&v), ["n1", "n2"]);
        assert!(
            v.message.contains("n1 answered handshake ack"),
            "{}",
            v.message
        );
    }

    #[test]
    fn a_stale_hello_registered_fails() {
        let mut tl = Net::new(6).build();
        probed(&mut tl, |f| f[2].answers[0].answer = Answer::Ack);
        let v = fails_exactly(&evaluate(&sc(), &tl), &["probe_answers"]);
        assert_eq!(nodes(&v), ["n5", "n6"]);
        assert!(v.message.contains("already hung up"), "{}", v.message);
    }

    #[test]
    fn each_answer_is_judged_by_its_fault_kind() {
        use ProbeKind::*;
        let failed = Answer::Failed { error: "x".into() };
        for kind in [CrossedDial, DuplicateDial, StaleHello] {
            assert!(wrong(kind, &Answer::Ack, None).is_some());
            assert!(wrong(kind, &reject(), None).is_none());
            assert!(wrong(kind, &Answer::Silent, None).is_some());
            assert!(wrong(kind, &failed, None).is_some());
        }
        assert!(wrong(DuplicateDial, &Answer::Closed, None).is_some());
        assert!(wrong(CrossedDial, &Answer::Closed, None).is_some());
        assert!(wrong(StaleHello, &Answer::Closed, None).is_none());
    }

    /// The honest timeline plus a crossed dial n1 <- n2 at 22m, made while
    /// n1's own dial to n2 was mid-handshake, answered `answer`; n2 has the
    /// lower id when `n2_lower`.
    fn mid_handshake(n2_lower: bool, answer: Answer) -> Timeline {
        let mut tl = Net::new(6).build();
        probed(&mut tl, |f| {
            let (low, high) = ("0a".repeat(32), "f0".repeat(32));
            let (node_id, from_id) = if n2_lower { (high, low) } else { (low, high) };
            let mut a = answered("n1", "n2", 22 * MIN, answer.clone());
            a.tie_break = Some(TieBreak { node_id, from_id });
            f.push(FaultSpan {
                start: 22 * MIN,
                end: Some(22 * MIN + 1),
                action: FaultAction::CrossedDial,
                nodes: vec!["n1".into(), "n2".into()],
                cuts: Vec::new(),
                description: "n2 -> n1 mid-handshake".into(),
                answers: vec![a],
            });
        });
        tl
    }

    fn simultaneous() -> Answer {
        Answer::Reject {
            reason: RejectReason::DuplicateSimultaneous.to_string(),
        }
    }

    #[test]
    fn a_crossing_mid_handshake_follows_the_lower_id_on_either_side() {
        all_pass(&evaluate(&sc(), &mid_handshake(true, Answer::Ack)));
        all_pass(&evaluate(&sc(), &mid_handshake(false, simultaneous())));
    }

    #[test]
    fn refusing_the_lower_ids_crossing_dial_fails_exactly_probe_answers() {
        // Both sides refuse: the defect that leaves the pair unconnected.
        let tl = mid_handshake(true, simultaneous());
        let v = fails_exactly(&evaluate(&sc(), &tl), &["probe_answers"]);
        assert_eq!((v.t, nodes(&v)), (22 * MIN, vec!["n1", "n2"]));
        assert!(
            v.message.contains("refused the dial of the lower node id"),
            "{}",
            v.message
        );
    }

    #[test]
    fn taking_the_higher_ids_crossing_dial_fails_exactly_probe_answers() {
        let tl = mid_handshake(false, Answer::Ack);
        let o = evaluate_one(CheckKind::ProbeAnswers, &sc(), &tl);
        assert!(o.details.ends_with(", 1 wrong answers"), "{}", o.details);
        let v = fails_exactly(&evaluate(&sc(), &tl), &["probe_answers"]);
        assert!(
            v.message.contains("took the higher node id's dial"),
            "{}",
            v.message
        );
        // An ack is right only for the lower id; any other refusal than
        // simultaneous open, or no verdict, is wrong either way.
        for wrong_answer in [reject(), Answer::Closed, Answer::Silent] {
            let tl = mid_handshake(false, wrong_answer.clone());
            fails_exactly(&evaluate(&sc(), &tl), &["probe_answers"]);
            let tl = mid_handshake(true, wrong_answer);
            fails_exactly(&evaluate(&sc(), &tl), &["probe_answers"]);
        }
    }

    #[test]
    fn a_fault_without_answers_or_no_fault_at_all_fails() {
        let mut tl = Net::new(6).build();
        probed(&mut tl, |f| f[1].answers.clear());
        let v = fails_exactly(&evaluate(&sc(), &tl), &["probe_answers"]);
        assert_eq!(v.t, 25 * MIN);
        assert!(v.message.contains("recorded no answer"), "{}", v.message);

        let tl = Net::new(6).build();
        let v = fails_exactly(&evaluate(&sc(), &tl), &["probe_answers"]);
        assert!(v.message.contains("nothing was probed"), "{}", v.message);
        let o = evaluate_one(CheckKind::ProbeAnswers, &sc(), &tl);
        assert_eq!(o.details, "0 protocol faults, 0 probes, 0 wrong answers");
    }

    #[test]
    fn a_seed_whose_random_nemesis_drew_no_probe_passes_but_a_wrong_answer_still_fails() {
        let mut drawn = sc();
        drawn.nemesis =
            Some(toml::from_str("interval = \"4m\"\nactions = [\"crossed_dial\"]").unwrap());
        let tl = Net::new(6).build();
        let o = evaluate_one(CheckKind::ProbeAnswers, &drawn, &tl);
        assert!(o.passed, "{:?}", o.first_violation);
        assert!(o.details.contains("drew none"), "{}", o.details);

        let mut tl = Net::new(6).build();
        probed(&mut tl, |f| f[0].answers[0].answer = Answer::Ack);
        let o = evaluate_one(CheckKind::ProbeAnswers, &drawn, &tl);
        assert!(!o.passed);
    }
}
