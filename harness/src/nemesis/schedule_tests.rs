//! The schedule from validated plans: order, seeded choices, replay.

use super::*;
use crate::scenario::{validate, Capabilities, FaultAction};

fn scenario(toml_faults: &str) -> Scenario {
    let text = format!(
        "name = \"t\"\nduration = \"1h\"\nseed = 7\n[network]\nnodes = 6\n{toml_faults}\n[[check]]\nkind = \"no_fork\"\n"
    );
    toml::from_str(&text).unwrap()
}

/// The schedule of a scenario that must validate on a host without netem.
fn sched(s: &Scenario) -> Schedule {
    sched_with(s, Capabilities::default())
}

fn sched_with(s: &Scenario, caps: Capabilities) -> Schedule {
    let plan = validate(s, &caps).unwrap_or_else(|e| panic!("{e}"));
    build(s, &plan)
}

#[test]
fn timeline_faults_expand_to_ordered_start_and_end_steps() {
    let s = scenario(
        r#"
        [[fault]]
        at = "20m"
        for = "5m"
        action = "partition"
        shape = "halves"
        [[fault]]
        at = "10m"
        action = "kill"
        nodes = ["n2"]
        [[fault]]
        at = "25m"
        for = "1m"
        action = "pause"
        nodes = ["n4"]
        "#,
    );
    let plan = sched(&s);
    let brief: Vec<(u64, usize, Phase)> = plan
        .steps
        .iter()
        .map(|s| (s.at_ms / 60_000, s.id, s.phase))
        .collect();
    assert_eq!(
        brief,
        vec![
            (10, 2, Phase::Start),
            (20, 1, Phase::Start),
            (25, 1, Phase::End),
            (25, 3, Phase::Start),
            (26, 3, Phase::End)
        ]
    );
    let Fault::Partition { cuts, description } = &plan.steps[1].fault else {
        panic!()
    };
    assert_eq!(cuts.len(), 18);
    assert_eq!(description, "halves n1 n2 n3 | n4 n5 n6");
    assert_eq!(
        plan.steps[0].until_ms, None,
        "kill without `for` restarts at once"
    );
    assert_eq!(plan.steps[1].until_ms, Some(25 * 60_000));
}

#[test]
fn display_prints_one_line_per_step() {
    let s = scenario("[[fault]]\nat = \"90s\"\nfor = \"30s\"\naction = \"clock_skew\"\nnodes = [\"n3\"]\nskew = \"-2m\"\n");
    let plan = sched(&s);
    let text = plan.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(
        lines[0].contains("1m30s")
            && lines[0].contains("+clock_skew#1")
            && lines[0].contains("n3 clock -120000ms"),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("until 2m00s"), "{}", lines[0]);
    assert!(
        lines[1].trim_start().starts_with("2m00s  -clock_skew#1"),
        "{}",
        lines[1]
    );
}

#[test]
fn targets_left_open_are_chosen_by_seed_and_replay_identically() {
    let text = "[[fault]]\nat = \"1m\"\naction = \"partition\"\nshape = \"isolate\"\n[[fault]]\nat = \"2m\"\naction = \"restart\"\n";
    let a = sched(&scenario(text));
    let b = sched(&scenario(text));
    assert_eq!(a, b);
    let Fault::Partition { cuts, .. } = &a.steps[0].fault else {
        panic!()
    };
    assert_eq!(cuts.len(), 10, "one node isolated from five, both ways");
    // Different seeds choose different targets at least sometimes.
    let picks: std::collections::BTreeSet<Vec<String>> = (0..20)
        .map(|seed| {
            let mut s = scenario(text);
            s.seed = seed;
            sched(&s).steps[1].fault.nodes()
        })
        .collect();
    assert!(picks.len() > 1);
}

#[test]
fn schedule_roundtrips_through_json() {
    let s = scenario(
        "[[fault]]\nat = \"1m\"\nfor = \"1m\"\naction = \"loss\"\nnodes = [\"n1\"]\nprobability = 0.1\n[nemesis]\ninterval = \"5m\"\nactions = [\"kill\", \"partition\", \"wipe\"]\n",
    );
    let plan = sched(&s);
    let json = serde_json::to_string(&plan).unwrap();
    let back: Schedule = serde_json::from_str(&json).unwrap();
    assert_eq!(plan, back);
    assert!(json.contains("\"action\":\"loss\""));
}

#[test]
fn random_nemesis_is_deterministic_one_at_a_time_and_inside_its_window() {
    let s = scenario(
        "[nemesis]\ninterval = \"2m\"\nfor = \"1m\"\nactions = [\"kill\", \"partition\", \"pause\", \"clock_skew\", \"loss\", \"restart\", \"wipe\"]\nstart = \"5m\"\nstop = \"50m\"\n",
    );
    let a = sched(&s);
    assert_eq!(a, sched(&s));
    let mut other = s.clone();
    other.seed = 8;
    assert_ne!(a, sched(&other));
    let starts: Vec<&Step> = a.steps.iter().filter(|s| s.phase == Phase::Start).collect();
    assert!(
        starts.len() >= 15,
        "about (50-5)/2 faults, got {}",
        starts.len()
    );
    let mut last_end = 0;
    for st in &starts {
        assert!(st.at_ms >= 5 * 60_000);
        let end = st.until_ms.unwrap();
        assert_eq!(end - st.at_ms, 60_000);
        assert!(end <= 50 * 60_000);
        assert!(st.at_ms >= last_end, "faults overlap");
        last_end = end;
        assert_eq!(st.at_ms % 1000, 0, "whole seconds");
        assert_eq!(st.origin, Origin::Random);
    }
    let kinds: std::collections::BTreeSet<&str> =
        starts.iter().map(|s| s.fault.action().name()).collect();
    assert!(kinds.len() >= 5, "{kinds:?}");
}

#[test]
fn latency_is_scheduled_when_the_host_has_netem() {
    let s = scenario("[[fault]]\nat = \"1m\"\naction = \"latency\"\ndelay = \"100ms\"\n");
    let ok = sched_with(&s, Capabilities::all());
    assert_eq!(ok.steps[0].fault.action(), FaultAction::Latency);
    assert_eq!(
        ok.steps[0].fault.describe(),
        format!("{} +100ms", ok.steps[0].fault.nodes()[0])
    );
}

#[test]
fn random_partitions_use_a_seeded_ring_and_always_cut_something() {
    for seed in 0..30 {
        let mut s = scenario("[nemesis]\ninterval = \"2m\"\nactions = [\"partition\"]\n");
        s.seed = seed;
        for st in sched(&s).steps {
            let Fault::Partition { cuts, .. } = &st.fault else {
                panic!()
            };
            assert!(!cuts.is_empty());
        }
    }
}
