//! [`Nemesis`]: walks a [`Schedule`], applies each step to a [`Cluster`],
//! owns the faults that are active, and records them as [`FaultSpan`]s.
//!
//! Network faults are kept as *desired state*: after every change the
//! nemesis recomputes, per node, the rules its chain must hold (every active
//! cut into that node + every active loss on it) and re-installs only the
//! nodes whose rules changed. A node whose process (re)starts has a new
//! network namespace, so [`Nemesis::on_node_started`] installs its rules
//! again; the nemesis calls it itself after its own restarts, and the runner
//! must call it after any start it does (late joiners).

use super::netfilter::{self, Rule};
use super::schedule::{fmt_ms, Fault, Phase, Schedule, Step};
use crate::observe::model::FaultSpan;
use crate::provider::Cluster;
use anyhow::{anyhow, Context};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;
use timed::constants::DEFAULT_P2P_PORT;

/// A fault that has started and not ended yet.
#[derive(Debug)]
struct Active {
    fault: Fault,
    /// Index into `spans`.
    span: usize,
}

pub struct Nemesis {
    plan: Schedule,
    /// Index of the first step of `plan` not handed out by `due_steps` yet.
    next: usize,
    active: BTreeMap<usize, Active>,
    spans: Vec<FaultSpan>,
    /// What we last installed in each node's chain (empty = nothing).
    installed: BTreeMap<String, Vec<Rule>>,
    /// Nodes whose last install failed: state unknown, re-install.
    dirty: BTreeSet<String>,
    /// Latency last installed per node (netem; only with `latency`).
    delays: BTreeMap<String, u64>,
    /// Active clock skew per node, kept across wipes.
    skews: BTreeMap<String, i64>,
    /// `netfilter::check` passed.
    checked: bool,
    /// Loss is limited to this TCP port so API polling stays clean.
    p2p_port: u16,
}

impl Nemesis {
    pub fn new(plan: Schedule) -> Self {
        Nemesis {
            plan,
            next: 0,
            active: BTreeMap::new(),
            spans: Vec::new(),
            installed: BTreeMap::new(),
            dirty: BTreeSet::new(),
            delays: BTreeMap::new(),
            skews: BTreeMap::new(),
            checked: false,
            p2p_port: DEFAULT_P2P_PORT,
        }
    }

    pub fn schedule(&self) -> &Schedule {
        &self.plan
    }

    /// Protocol ms of the next step not handed out yet (to sleep until).
    pub fn next_at(&self) -> Option<u64> {
        self.plan.steps.get(self.next).map(|s| s.at_ms)
    }

    /// Every step due at `now_ms` (protocol ms) not handed out before, in
    /// order. Apply them in that order.
    pub fn due_steps(&mut self, now_ms: u64) -> Vec<Step> {
        let start = self.next;
        while self
            .plan
            .steps
            .get(self.next)
            .is_some_and(|s| s.at_ms <= now_ms)
        {
            self.next += 1;
        }
        self.plan.steps[start..self.next].to_vec()
    }

    /// Faults as applied so far (active ones have `end: None`).
    pub fn spans(&self) -> Vec<FaultSpan> {
        self.spans.clone()
    }

    /// Protocol ms now, given the caller's `now` at the start of an
    /// operation and the wall time it took (restarts take seconds).
    fn later(&self, now_ms: u64, began: Instant) -> u64 {
        now_ms + (began.elapsed().as_secs_f64() * 1000.0 * self.plan.time_scale.max(0.0)) as u64
    }

    /// Apply one step; returns the line to show in the progress output (it
    /// is logged too).
    pub async fn apply<C: Cluster>(
        &mut self,
        step: &Step,
        cluster: &C,
        now_ms: u64,
    ) -> anyhow::Result<String> {
        let began = Instant::now();
        let what = match step.phase {
            Phase::Start => self.start(step, cluster, now_ms, began).await,
            Phase::End => self.end(step, cluster, now_ms, began).await,
        }
        .with_context(|| format!("{}", step))?;
        let sign = if step.phase == Phase::Start { '+' } else { '-' };
        let line = format!(
            "[{}] {sign}{}#{} {}: {what}",
            fmt_ms(now_ms),
            step.fault.action(),
            step.id,
            step.fault.describe()
        );
        tracing::info!(target: "nemesis", "{line}");
        Ok(line)
    }

    fn open_span(&mut self, fault: &Fault, start: u64, end: Option<u64>) -> usize {
        let cuts = match fault {
            Fault::Partition { cuts, .. } => cuts.clone(),
            _ => Vec::new(),
        };
        self.spans.push(FaultSpan {
            start,
            end,
            action: fault.action(),
            nodes: fault.nodes(),
            cuts,
            description: fault.describe(),
        });
        self.spans.len() - 1
    }

    async fn start<C: Cluster>(
        &mut self,
        step: &Step,
        c: &C,
        now: u64,
        began: Instant,
    ) -> anyhow::Result<String> {
        let lasting = step.until_ms.is_some();
        let fault = &step.fault;
        let msg = match fault {
            Fault::Partition { cuts, .. } => {
                self.activate(step, now);
                let changed = self.sync_network(c).await?;
                format!(
                    "{} directed cuts installed on {}",
                    cuts.len(),
                    changed.join(" ")
                )
            }
            Fault::Loss { .. } | Fault::Latency { .. } => {
                self.activate(step, now);
                let changed = self.sync_network(c).await?;
                format!("installed on {}", changed.join(" "))
            }
            Fault::Heal => {
                let ended: Vec<usize> = self
                    .active
                    .iter()
                    .filter(|(_, a)| a.fault.is_network())
                    .map(|(id, _)| *id)
                    .collect();
                self.sync_without(&ended, c, now, began).await?;
                if ended.is_empty() {
                    "nothing to heal".into()
                } else {
                    let names: Vec<String> = ended.iter().map(|id| format!("#{id}")).collect();
                    format!("healed {}", names.join(" "))
                }
            }
            Fault::Kill { nodes } | Fault::Restart { nodes } | Fault::Wipe { nodes } => {
                let sigkill = !matches!(fault, Fault::Restart { .. });
                for n in nodes {
                    if sigkill {
                        c.kill(n).await
                    } else {
                        c.stop(n).await
                    }
                    .with_context(|| format!("stopping {n}"))?;
                }
                if lasting {
                    self.activate(step, now);
                    format!("down until {}", fmt_ms(step.until_ms.unwrap_or_default()))
                } else {
                    let wipe = matches!(fault, Fault::Wipe { .. });
                    self.bring_up(nodes, wipe, false, c).await?;
                    let end = self.later(now, began);
                    self.open_span(fault, now, Some(end));
                    format!("back up after {}", fmt_ms(end - now))
                }
            }
            Fault::Pause { nodes } => {
                for n in nodes {
                    c.pause(n).await.with_context(|| format!("pausing {n}"))?;
                }
                self.activate(step, now);
                "frozen".into()
            }
            Fault::ClockSkew { nodes, skew_ms } => {
                for n in nodes {
                    self.skews.insert(n.clone(), *skew_ms);
                }
                self.bring_up(nodes, false, true, c).await?;
                self.activate(step, now);
                format!("recreated with --clock-skew-ms {skew_ms}")
            }
        };
        Ok(msg)
    }

    async fn end<C: Cluster>(
        &mut self,
        step: &Step,
        c: &C,
        now: u64,
        began: Instant,
    ) -> anyhow::Result<String> {
        let Some(active) = self.active.get(&step.id) else {
            return Ok("already ended".into());
        };
        let msg = match &active.fault {
            Fault::Partition { .. } | Fault::Loss { .. } | Fault::Latency { .. } => {
                let changed = self.sync_without(&[step.id], c, now, began).await?;
                format!("removed from {}", changed.join(" "))
            }
            Fault::Kill { nodes } | Fault::Restart { nodes } | Fault::Wipe { nodes } => {
                let wipe = matches!(active.fault, Fault::Wipe { .. });
                let nodes = nodes.clone();
                self.bring_up(&nodes, wipe, false, c).await?;
                self.close(step.id, now, began);
                if wipe {
                    "back up with an empty data dir"
                } else {
                    "started again"
                }
                .into()
            }
            Fault::Pause { nodes } => {
                for n in nodes.clone() {
                    c.resume(&n)
                        .await
                        .with_context(|| format!("resuming {n}"))?;
                }
                self.close(step.id, now, began);
                "resumed".into()
            }
            Fault::ClockSkew { nodes, .. } => {
                let nodes = nodes.clone();
                for n in &nodes {
                    self.skews.remove(n);
                }
                self.bring_up(&nodes, false, true, c).await?;
                self.close(step.id, now, began);
                "recreated without skew".into()
            }
            Fault::Heal => "nothing to do".into(),
        };
        Ok(msg)
    }

    fn activate(&mut self, step: &Step, now: u64) {
        let span = self.open_span(&step.fault, now, None);
        self.active.insert(
            step.id,
            Active {
                fault: step.fault.clone(),
                span,
            },
        );
    }

    fn close(&mut self, id: usize, now: u64, began: Instant) {
        if let Some(a) = self.active.remove(&id) {
            self.spans[a.span].end = Some(self.later(now, began));
        }
    }

    /// End the network faults `ids`, sync, and close their spans at the
    /// time the rules were really gone.
    async fn sync_without<C: Cluster>(
        &mut self,
        ids: &[usize],
        c: &C,
        now: u64,
        began: Instant,
    ) -> anyhow::Result<Vec<String>> {
        let removed: Vec<(usize, Active)> = ids
            .iter()
            .filter_map(|id| self.active.remove(id).map(|a| (*id, a)))
            .collect();
        let changed = self.sync_network(c).await?;
        let end = self.later(now, began);
        for (_, a) in removed {
            self.spans[a.span].end = Some(end);
        }
        Ok(changed)
    }

    /// Start `nodes` again (after kill/stop), or recreate them when `wipe`
    /// or `recreate` (a clock skew change: `start` would keep the old flags),
    /// passing the node's current skew; then re-install their network faults.
    async fn bring_up<C: Cluster>(
        &mut self,
        nodes: &[String],
        wipe: bool,
        recreate: bool,
        c: &C,
    ) -> anyhow::Result<()> {
        for n in nodes {
            if wipe || recreate {
                let args = match self.skews.get(n) {
                    Some(ms) => vec!["--clock-skew-ms".to_string(), ms.to_string()],
                    None => Vec::new(),
                };
                c.recreate(n, wipe, args)
                    .await
                    .with_context(|| format!("recreating {n}"))?;
            } else {
                c.start(n).await.with_context(|| format!("starting {n}"))?;
            }
            self.on_node_started(n, c).await?;
        }
        Ok(())
    }

    /// The rules `node`'s chain must hold now: one drop per active cut into
    /// it, one loss rule per active loss fault on it.
    fn desired<C: Cluster>(&self, node: &str, c: &C) -> anyhow::Result<Vec<Rule>> {
        let mut sources = BTreeSet::new();
        let mut rules = Vec::new();
        for a in self.active.values() {
            match &a.fault {
                Fault::Partition { cuts, .. } => {
                    for (from, _) in cuts.iter().filter(|(_, to)| to == node) {
                        let ip = c
                            .node_ip(from)
                            .ok_or_else(|| anyhow!("no IP for node {from}"))?;
                        sources.insert(ip);
                    }
                }
                Fault::Loss { nodes, probability } if nodes.iter().any(|n| n == node) => {
                    rules.push(Rule::Loss {
                        probability: *probability,
                        port: Some(self.p2p_port),
                    });
                }
                _ => {}
            }
        }
        let mut all: Vec<Rule> = sources.into_iter().map(Rule::DropFrom).collect();
        all.extend(rules);
        Ok(all)
    }

    fn desired_delay(&self, node: &str) -> u64 {
        self.active
            .values()
            .filter_map(|a| match &a.fault {
                Fault::Latency { nodes, delay_ms } if nodes.iter().any(|n| n == node) => {
                    Some(*delay_ms)
                }
                _ => None,
            })
            .max()
            .unwrap_or(0)
    }

    /// Bring every node's chain (and netem delay) to the desired state;
    /// returns the nodes that changed. A node that is not running is
    /// skipped: it gets its rules in `on_node_started`.
    async fn sync_network<C: Cluster>(&mut self, c: &C) -> anyhow::Result<Vec<String>> {
        let mut todo = Vec::new();
        for node in c.node_names() {
            let want = self.desired(&node, c)?;
            let delay = self.desired_delay(&node);
            let have = self.installed.get(&node).cloned().unwrap_or_default();
            let have_delay = self.delays.get(&node).copied().unwrap_or(0);
            if want != have || delay != have_delay || self.dirty.contains(&node) {
                todo.push((node, want, delay));
            }
        }
        self.install(todo, c).await
    }

    /// Install each `(node, rules, delay)` in its node's namespace, all
    /// nodes concurrently (a partition should start on every node at about
    /// the same instant; ~17 ms per node sequentially). Returns the nodes
    /// changed; nodes not running are skipped (they get their rules in
    /// `on_node_started`). On failure the other nodes are still installed
    /// and the failed one is retried at the next sync.
    async fn install<C: Cluster>(
        &mut self,
        todo: Vec<(String, Vec<Rule>, u64)>,
        c: &C,
    ) -> anyhow::Result<Vec<String>> {
        let mut jobs = Vec::new();
        for (node, rules, delay) in todo {
            match c.pid(&node).await? {
                Some(pid) => {
                    let old_delay = self.delays.get(&node).copied().unwrap_or(0);
                    jobs.push((node, pid, rules, delay, old_delay));
                }
                None => {
                    tracing::info!(target: "nemesis", "{node} not running: its rules will be installed when it starts");
                    self.installed.remove(&node);
                    self.delays.remove(&node);
                }
            }
        }
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        if !self.checked {
            netfilter::check().await?;
            self.checked = true;
        }
        let results = futures::future::join_all(jobs.iter().map(
            |(node, pid, rules, delay, old_delay)| async move {
                netfilter::install(*pid, rules)
                    .await
                    .with_context(|| format!("rules of {node}"))?;
                if delay != old_delay {
                    netfilter::set_latency(*pid, *delay)
                        .await
                        .with_context(|| format!("latency of {node}"))?;
                }
                anyhow::Ok(())
            },
        ))
        .await;
        let mut changed = Vec::new();
        let mut first_err = None;
        for ((node, _, rules, delay, _), result) in jobs.into_iter().zip(results) {
            match result {
                Ok(()) => {
                    self.dirty.remove(&node);
                    tracing::debug!(target: "nemesis", "{node}: {} rules, delay {delay}ms", rules.len());
                    self.installed.insert(node.clone(), rules);
                    self.delays.insert(node.clone(), delay);
                    changed.push(node);
                }
                Err(e) => {
                    // Unknown state: force a full re-install next time.
                    self.dirty.insert(node);
                    first_err = first_err.or(Some(e));
                }
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(changed),
        }
    }

    /// `node`'s process was (re)started: it has a fresh network namespace,
    /// so install its active partition/loss/latency rules again. Call after
    /// every start the nemesis did not do itself. Returns what was done.
    pub async fn on_node_started<C: Cluster>(
        &mut self,
        node: &str,
        c: &C,
    ) -> anyhow::Result<String> {
        // The old namespace is gone with everything in it.
        self.installed.remove(node);
        self.delays.remove(node);
        let want = self.desired(node, c)?;
        let delay = self.desired_delay(node);
        if want.is_empty() && delay == 0 {
            return Ok(format!("{node} started: no network faults to re-apply"));
        }
        let changed = self
            .install(vec![(node.to_string(), want.clone(), delay)], c)
            .await?;
        let line = if !changed.is_empty() {
            format!("{node} started: re-applied {} rules", want.len())
        } else {
            format!("{node} started but has no process yet: rules pending")
        };
        tracing::info!(target: "nemesis", "{line}");
        Ok(line)
    }

    /// End every active fault (cleanup, end of run): heal the network,
    /// resume paused nodes, start nodes that are down. Clock skews stay (a
    /// recreate at teardown is wasted work) but their spans are closed.
    /// Tries everything; returns the lines of what was done, or the first
    /// error after trying the rest.
    pub async fn heal_all<C: Cluster>(
        &mut self,
        c: &C,
        now_ms: u64,
    ) -> anyhow::Result<Vec<String>> {
        let began = Instant::now();
        let mut lines = Vec::new();
        let mut first_err = None;
        let ids: Vec<usize> = self.active.keys().copied().collect();
        let network: Vec<usize> = ids
            .iter()
            .copied()
            .filter(|id| self.active[id].fault.is_network())
            .collect();
        match self.sync_without(&network, c, now_ms, began).await {
            Ok(changed) if !changed.is_empty() => {
                lines.push(format!("healed network on {}", changed.join(" ")))
            }
            Ok(_) => {}
            Err(e) => first_err = first_err.or(Some(e)),
        }
        // Whatever happened above, no node should keep our rules.
        let leftover: Vec<(String, Vec<Rule>, u64)> = c
            .node_names()
            .into_iter()
            .filter(|n| {
                self.dirty.contains(n)
                    || self.installed.get(n).is_some_and(|r| !r.is_empty())
                    || self.delays.get(n).is_some_and(|d| *d > 0)
            })
            .map(|n| (n, Vec::new(), 0))
            .collect();
        if let Err(e) = self.install(leftover, c).await {
            first_err = first_err.or(Some(e));
        }
        for id in ids.iter().filter(|id| !network.contains(id)) {
            let Some(fault) = self.active.get(id).map(|a| a.fault.clone()) else {
                continue;
            };
            let result = match &fault {
                Fault::Pause { nodes } => {
                    let mut r = Ok(());
                    for n in nodes {
                        r = r.and(c.resume(n).await.with_context(|| format!("resuming {n}")));
                    }
                    r.map(|_| format!("resumed {}", nodes.join(" ")))
                }
                Fault::Kill { nodes } | Fault::Restart { nodes } | Fault::Wipe { nodes } => {
                    let wipe = matches!(fault, Fault::Wipe { .. });
                    self.bring_up(nodes, wipe, false, c)
                        .await
                        .map(|_| format!("started {}", nodes.join(" ")))
                }
                _ => Ok(format!("{}#{id} closed", fault.action())),
            };
            self.close(*id, now_ms, began);
            match result {
                Ok(l) => lines.push(l),
                Err(e) => first_err = first_err.or(Some(e)),
            }
        }
        for l in &lines {
            tracing::info!(target: "nemesis", "heal_all: {l}");
        }
        match first_err {
            Some(e) => Err(e.context("heal_all")),
            None => Ok(lines),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{Capabilities, Scenario};
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
        async fn recreate(&self, n: &str, wipe: bool, args: Vec<String>) -> anyhow::Result<()> {
            self.log(
                format!("recreate {n} wipe={wipe} {}", args.join(" "))
                    .trim()
                    .to_string(),
            )
        }
    }

    fn nemesis(faults: &str) -> Nemesis {
        let text = format!("name = \"t\"\nduration = \"1h\"\n[network]\nnodes = 4\n{faults}");
        let sc: Scenario = toml::from_str(&text).unwrap();
        Nemesis::new(super::super::schedule::build(&sc, &Capabilities::default()).unwrap())
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
        assert!(nem.spans()[0].separates("n1", "n3", 90_000));
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
}
