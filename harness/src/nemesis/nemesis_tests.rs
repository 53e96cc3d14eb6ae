//! The nemesis against a fake cluster: call order, spans, heal.

use super::*;
use crate::scenario::{validate, Capabilities, FaultAction, Scenario};
use std::cell::RefCell;
use std::net::IpAddr;

/// Records every call; reports no PID, so network faults are tracked
/// (spans, state) but nothing is installed (that is the Docker test).
#[derive(Default)]
struct Fake {
    calls: RefCell<Vec<String>>,
}

impl Fake {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.calls.borrow_mut())
    }
    fn log(&self, s: String) -> anyhow::Result<()> {
        self.calls.borrow_mut().push(s);
        Ok(())
    }
}

impl Cluster for Fake {
    fn node_names(&self) -> Vec<String> {
        (1..=4).map(|i| format!("n{i}")).collect()
    }
    fn node_ip(&self, node: &str) -> Option<IpAddr> {
        let k: u8 = node[1..].parse().ok()?;
        Some([10, 0, 0, 10 + k].into())
    }
    async fn pid(&self, _: &str) -> anyhow::Result<Option<u32>> {
        Ok(None)
    }
    async fn kill(&self, n: &str) -> anyhow::Result<()> {
        self.log(format!("kill {n}"))
    }
    async fn stop(&self, n: &str) -> anyhow::Result<()> {
        self.log(format!("stop {n}"))
    }
    async fn start(&self, n: &str) -> anyhow::Result<()> {
        self.log(format!("start {n}"))
    }
    async fn pause(&self, n: &str) -> anyhow::Result<()> {
        self.log(format!("pause {n}"))
    }
    async fn resume(&self, n: &str) -> anyhow::Result<()> {
        self.log(format!("resume {n}"))
    }
    async fn throttle(&self, n: &str, cpus: Option<f64>) -> anyhow::Result<()> {
        match cpus {
            Some(c) => self.log(format!("throttle {n} {c}")),
            None => self.log(format!("unthrottle {n}")),
        }
    }
    async fn recreate(&self, n: &str, wipe: bool, args: Vec<String>) -> anyhow::Result<()> {
        self.log(
            format!("recreate {n} wipe={wipe} {}", args.join(" "))
                .trim()
                .to_string(),
        )
    }
}

fn nemesis(faults: &str) -> Nemesis {
    let text = format!(
        "name = \"t\"\nduration = \"1h\"\n[network]\nnodes = 4\n{faults}\n[[check]]\nkind = \"no_fork\"\n"
    );
    let sc: Scenario = toml::from_str(&text).unwrap();
    let plan = validate(&sc, &Capabilities::default()).unwrap_or_else(|e| panic!("{e}"));
    Nemesis::new(super::super::schedule::build(&sc, &plan))
}

/// Apply every step due up to `t` (each at its own planned time).
async fn run_until(nem: &mut Nemesis, c: &Fake, t: u64) -> Vec<String> {
    let mut lines = Vec::new();
    for step in nem.due_steps(t) {
        lines.push(nem.apply(&step, c, step.at_ms).await.unwrap());
    }
    lines
}

#[tokio::test]
async fn process_faults_call_the_cluster_in_order() {
    let c = Fake::default();
    let mut nem = nemesis(
        r#"
        [[fault]]
        at = "1m"
        action = "kill"
        nodes = ["n1"]
        [[fault]]
        at = "2m"
        for = "1m"
        action = "restart"
        nodes = ["n2"]
        [[fault]]
        at = "4m"
        for = "1m"
        action = "pause"
        nodes = ["n3"]
        [[fault]]
        at = "6m"
        action = "wipe"
        nodes = ["n4"]
        "#,
    );
    run_until(&mut nem, &c, 60_000).await;
    assert_eq!(
        c.take(),
        ["kill n1", "start n1"],
        "kill without `for`: at once"
    );
    run_until(&mut nem, &c, 150_000).await;
    assert_eq!(
        c.take(),
        ["stop n2"],
        "restart with `for`: down until its end"
    );
    run_until(&mut nem, &c, 180_000).await;
    assert_eq!(c.take(), ["start n2"]);
    run_until(&mut nem, &c, 300_000).await;
    assert_eq!(c.take(), ["pause n3", "resume n3"]);
    run_until(&mut nem, &c, 360_000).await;
    assert_eq!(c.take(), ["kill n4", "recreate n4 wipe=true"]);
    let spans = nem.spans();
    let brief: Vec<(&str, u64, Option<u64>)> = spans
        .iter()
        .map(|s| (s.action.name(), s.start, s.end))
        .collect();
    assert_eq!(brief[1], ("restart", 120_000, Some(180_000)));
    assert_eq!(brief[2], ("pause", 240_000, Some(300_000)));
    assert!(
        brief[0].2.is_some_and(|e| e >= 60_000),
        "instant kill has an end"
    );
    assert!(spans.iter().all(|s| s.cuts.is_empty()));
}

#[tokio::test]
async fn clock_skew_recreates_with_the_flag_and_a_wipe_keeps_it() {
    let c = Fake::default();
    let mut nem = nemesis(
        r#"
        [[fault]]
        at = "1m"
        for = "10m"
        action = "clock_skew"
        nodes = ["n2"]
        skew = "-2m"
        [[fault]]
        at = "5m"
        action = "wipe"
        nodes = ["n2"]
        "#,
    );
    run_until(&mut nem, &c, 60_000).await;
    assert_eq!(c.take(), ["recreate n2 wipe=false --clock-skew-ms -120000"]);
    run_until(&mut nem, &c, 300_000).await;
    assert_eq!(
        c.take(),
        ["kill n2", "recreate n2 wipe=true --clock-skew-ms -120000"]
    );
    run_until(&mut nem, &c, 660_000).await;
    assert_eq!(
        c.take(),
        ["recreate n2 wipe=false"],
        "skew removed at the end"
    );
}

#[tokio::test]
async fn heal_ends_network_faults_and_their_planned_ends_become_noops() {
    let c = Fake::default();
    let mut nem = nemesis(
        r#"
        [[fault]]
        at = "1m"
        for = "30m"
        action = "partition"
        shape = "halves"
        [[fault]]
        at = "2m"
        for = "30m"
        action = "pause"
        nodes = ["n4"]
        [[fault]]
        at = "3m"
        action = "heal"
        "#,
    );
    run_until(&mut nem, &c, 120_000).await;
    assert_eq!(nem.spans()[0].cuts.len(), 8);
    assert!(nem.spans()[0]
        .cuts
        .contains(&("n1".to_string(), "n3".to_string())));
    let lines = run_until(&mut nem, &c, 180_000).await;
    assert!(lines[0].contains("healed #1"), "{lines:?}");
    assert_eq!(nem.spans()[0].end, Some(180_000));
    assert_eq!(nem.spans()[1].end, None, "heal leaves process faults alone");
    let lines = run_until(&mut nem, &c, 31 * 60_000).await;
    assert!(lines[0].contains("-partition#1") && lines[0].contains("already ended"));
    c.take();
    let lines = nem.heal_all(&c, 31 * 60_000).await.unwrap();
    // The pause (2m + 30m) is still on: heal_all resumes it.
    assert_eq!(lines, ["resumed n4"]);
    assert_eq!(c.take(), ["resume n4"]);
}

#[tokio::test]
async fn heal_all_resumes_paused_and_starts_down_nodes() {
    let c = Fake::default();
    let mut nem = nemesis(
        r#"
        [[fault]]
        at = "1m"
        action = "pause"
        nodes = ["n1"]
        [[fault]]
        at = "1m"
        for = "50m"
        action = "kill"
        nodes = ["n2"]
        [[fault]]
        at = "1m"
        for = "50m"
        action = "loss"
        nodes = ["n3"]
        probability = 0.1
        "#,
    );
    run_until(&mut nem, &c, 60_000).await;
    c.take();
    let lines = nem.heal_all(&c, 600_000).await.unwrap();
    let mut calls = c.take();
    calls.sort();
    assert_eq!(calls, ["resume n1", "start n2"]);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(nem.spans().iter().all(|s| s.end.is_some()));
}

#[tokio::test]
async fn cpu_throttle_is_lifted_at_its_end_kept_across_a_wipe_and_at_heal_all() {
    let c = Fake::default();
    let mut nem = nemesis(
        r#"
        [[fault]]
        at = "1m"
        for = "5m"
        action = "cpu_throttle"
        nodes = ["n2"]
        cpus = 0.05
        [[fault]]
        at = "2m"
        action = "wipe"
        nodes = ["n2"]
        [[fault]]
        at = "10m"
        for = "50m"
        action = "cpu_throttle"
        nodes = ["n3"]
        cpus = 0.2
        "#,
    );
    let lines = run_until(&mut nem, &c, 60_000).await;
    assert_eq!(c.take(), ["throttle n2 0.05"]);
    assert!(
        lines[0].contains("n2 CPU capped to 5% of a core"),
        "{lines:?}"
    );
    run_until(&mut nem, &c, 120_000).await;
    assert_eq!(
        c.take(),
        ["kill n2", "recreate n2 wipe=true", "throttle n2 0.05"],
        "a new container gets the cap again"
    );
    run_until(&mut nem, &c, 360_000).await;
    assert_eq!(c.take(), ["unthrottle n2"]);
    let span = &nem.spans()[0];
    assert_eq!(
        (span.action, span.start, span.end, span.nodes.clone()),
        (
            FaultAction::CpuThrottle,
            60_000,
            Some(360_000),
            vec!["n2".into()]
        )
    );
    run_until(&mut nem, &c, 600_000).await;
    assert_eq!(c.take(), ["throttle n3 0.2"]);
    let lines = nem.heal_all(&c, 900_000).await.unwrap();
    assert_eq!(c.take(), ["unthrottle n3"]);
    assert_eq!(lines, ["lifted the CPU cap of n3"]);
    assert!(nem.spans().iter().all(|s| s.end.is_some()));
}
