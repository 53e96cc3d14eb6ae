use super::*;
use crate::observe::model::{FaultSpan, NodeInfo, Sample};
use timed::api::types::StatusView;

const MIN: u64 = 60_000;

fn scenario(extra: &str) -> Scenario {
    crate::scenario::parse(
        &format!(
            "name = \"ff\"\nduration = \"60m\"\ntime_scale = 1\n[network]\nnodes = 2\n\
             masternodes = 2\n{extra}\n[[check]]\nkind = \"no_fork\"\n\
             [[check]]\nkind = \"common_height\"\nmin_height = 1000\n"
        ),
        "ff.toml",
    )
    .unwrap()
}

fn sample(t: u64, node: &str, height: u64, hash: &str) -> Sample {
    Sample {
        t,
        node: node.into(),
        up: true,
        status: Some(StatusView {
            node_id: node.into(),
            ip: "10.0.0.1".parse().unwrap(),
            height,
            tip_hash: hash.into(),
            genesis_hash: "g".into(),
            peers: 1,
            masternode: true,
            syncing: false,
            uptime_ms: t,
        }),
        peers: None,
        kernel: None,
    }
}

/// n1 and n2 agree until 10 min, then disagree on the hash at height 10.
fn forked(end: u64) -> Timeline {
    let mut samples = vec![];
    for i in 0..=end / MIN {
        let t = i * MIN;
        let h = i;
        samples.push(sample(t, "n1", h, &format!("a{h}")));
        let other = if h == 10 {
            "b10".to_string()
        } else {
            format!("a{h}")
        };
        samples.push(sample(t, "n2", h, &other));
    }
    Timeline {
        time_scale: 1.0,
        nodes: ["n1", "n2"]
            .iter()
            .enumerate()
            .map(|(i, n)| NodeInfo {
                name: n.to_string(),
                ip: format!("10.0.0.{}", i + 1).parse().unwrap(),
                masternode: true,
            })
            .collect(),
        samples,
        end,
        ..Default::default()
    }
}

#[test]
fn a_fork_stops_the_run_once_settled() {
    let sc = scenario("");
    // At 10 min the fork is on the timeline but not settled yet.
    assert_eq!(judge(&sc, &forked(10 * MIN)), None);
    let (kind, v) = judge(&sc, &forked(11 * MIN)).expect("final fork");
    assert_eq!(kind, CheckKind::NoFork);
    assert_eq!(v.t, 10 * MIN);
}

#[test]
fn an_end_judged_check_never_stops_a_run() {
    // common_height's min_height 1000 is violated on every prefix, yet
    // only no_fork may stop: a healthy prefix is never stopped.
    let sc = scenario("");
    let mut tl = forked(30 * MIN);
    tl.samples.retain(|s| s.t < 10 * MIN);
    assert!(!may_stop(CheckKind::CommonHeight));
    assert!(!may_stop(CheckKind::TxDelivery));
    assert_eq!(judge(&sc, &tl), None);
    assert_eq!(not_judged(&sc), vec!["common_height".to_string()]);
}

#[test]
fn a_violation_inside_an_open_fault_window_waits_for_it_to_close() {
    let sc = scenario("");
    let fault = |end: Option<u64>| FaultSpan {
        start: 9 * MIN,
        end,
        action: crate::scenario::FaultAction::Partition,
        nodes: vec!["n1".into()],
        cuts: vec![("n1".into(), "n2".into())],
        description: "isolate n1".into(),
        answers: Vec::new(),
    };
    let mut tl = forked(15 * MIN);
    tl.faults = vec![fault(None)];
    assert_eq!(judge(&sc, &tl), None, "fault still active");
    // Healed at 12 min; the default grace keeps the window open past 15 min.
    tl.faults = vec![fault(Some(12 * MIN))];
    assert_eq!(judge(&sc, &tl), None, "within grace of the heal");
    let mut tl = forked(40 * MIN);
    tl.faults = vec![fault(Some(12 * MIN))];
    assert!(judge(&sc, &tl).is_some(), "window closed: final");
}

#[test]
fn nothing_stops_before_every_late_joiner_started() {
    let sc = scenario("[[node]]\nname = \"n2\"\nstart_at = \"20m\"\n");
    let mut tl = forked(15 * MIN);
    tl.samples.retain(|s| s.node == "n1");
    assert_eq!(judge(&sc, &tl), None);
}

#[test]
fn packet_loss_excuses_nothing_so_it_does_not_delay_a_stop() {
    let sc = scenario("");
    let mut tl = forked(15 * MIN);
    tl.faults = vec![FaultSpan {
        start: 9 * MIN,
        end: None,
        action: crate::scenario::FaultAction::Loss,
        nodes: vec!["n2".into()],
        cuts: vec![],
        description: "loss 100% n2".into(),
        answers: Vec::new(),
    }];
    assert!(judge(&sc, &tl).is_some());
}

#[test]
fn replay_stops_where_a_live_run_would_with_the_full_runs_first_violation() {
    let sc = scenario("");
    let tl = forked(30 * MIN);
    let (at, kind, v) = replay(&sc, &tl).expect("stops");
    assert_eq!(kind, CheckKind::NoFork);
    let full = checks::evaluate_one(CheckKind::NoFork, &sc, &tl);
    assert_eq!(Some(v), full.first_violation, "same first violation");
    // First judged after the fork settled: 10 min + 3 s, on a 2 s cadence.
    assert!(at > 10 * MIN + 3_000 && at <= 10 * MIN + 5_000, "{at}");
    let p = prefix(&tl, 5 * MIN);
    assert!(p.samples.iter().all(|s| s.t <= 5 * MIN) && p.end == 5 * MIN);
}
