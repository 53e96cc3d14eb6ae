//! [`Nemesis`]: walks a [`Schedule`], applies each step to a [`Cluster`],
//! owns the faults that are active, and records them as [`FaultSpan`]s.
//!
//! Network faults are kept as *desired state*, reconciled per node by
//! [`super::reconcile`] after every change. A node whose process
//! (re)starts has a new network namespace, so [`Nemesis::on_node_started`]
//! installs its rules again; the nemesis calls it itself after its own
//! restarts, and the runner must call it after any start it does (late
//! joiners).

use super::probe;
use super::reconcile::Nodes;
use super::schedule::{Fault, Phase, Schedule, Step};
use crate::observe::model::FaultSpan;
use crate::provider::Cluster;
use crate::scenario::fmt_ms;
use anyhow::Context;
use std::collections::BTreeMap;
use std::time::Instant;

/// A fault that has started and not ended yet.
#[derive(Debug)]
struct Active {
    fault: Fault,
    /// Index into `spans`.
    span: usize,
}

/// When an operation began: protocol ms by the run's clock, and the wall
/// instant (to tell how much protocol time the operation itself took).
#[derive(Clone, Copy)]
struct Moment {
    now: u64,
    began: Instant,
}

impl Moment {
    fn new(now: u64) -> Self {
        Moment {
            now,
            began: Instant::now(),
        }
    }
}

/// What applying a fault means to the nemesis: the one place that sorts
/// the fault kinds by how they are done and undone.
enum Effect<'a> {
    /// Partition, loss, latency: desired network state, reconciled per node.
    Network,
    /// End every active network fault.
    Heal,
    /// Kill, restart, wipe: the nodes go down (SIGKILL, or SIGTERM for a
    /// restart) and come back (a wipe with an empty data dir), at once or
    /// at the fault's end step.
    Outage {
        nodes: &'a [String],
        sigkill: bool,
        wipe: bool,
    },
    Pause(&'a [String]),
    ClockSkew {
        nodes: &'a [String],
        skew_ms: i64,
    },
    /// The nodes stay up with their CPU quota capped; lifted at the end.
    CpuThrottle {
        nodes: &'a [String],
        cpus: f64,
    },
    /// A protocol fault: the harness dials as a node ([`super::probe`]);
    /// instantaneous, its span carries the answers.
    Probe,
}

impl<'a> Effect<'a> {
    fn of(fault: &'a Fault) -> Self {
        let outage = |nodes: &'a [String], sigkill, wipe| Effect::Outage {
            nodes,
            sigkill,
            wipe,
        };
        match fault {
            Fault::Partition { .. } | Fault::Loss { .. } | Fault::Latency { .. } => Effect::Network,
            Fault::Heal => Effect::Heal,
            Fault::Kill { nodes } => outage(nodes, true, false),
            Fault::Restart { nodes } => outage(nodes, false, false),
            Fault::Wipe { nodes } => outage(nodes, true, true),
            Fault::Pause { nodes } => Effect::Pause(nodes),
            Fault::ClockSkew { nodes, skew_ms } => Effect::ClockSkew {
                nodes,
                skew_ms: *skew_ms,
            },
            Fault::CpuThrottle { nodes, cpus } => Effect::CpuThrottle { nodes, cpus: *cpus },
            Fault::CrossedDial { .. } | Fault::DuplicateDial { .. } | Fault::StaleHello { .. } => {
                Effect::Probe
            }
        }
    }
}

pub struct Nemesis {
    plan: Schedule,
    /// Index of the first step of `plan` not handed out by `due_steps` yet.
    next: usize,
    active: BTreeMap<usize, Active>,
    spans: Vec<FaultSpan>,
    /// Per-node state (namespace contents, clock skew), one owner.
    nodes: Nodes,
    /// Who the protocol faults speak as (empty: such a fault fails).
    identities: probe::Identities,
}

impl Nemesis {
    pub fn new(plan: Schedule) -> Self {
        Nemesis {
            plan,
            next: 0,
            active: BTreeMap::new(),
            spans: Vec::new(),
            nodes: Nodes::new(),
            identities: probe::Identities::new(),
        }
    }

    /// The run's testnet identities, for the protocol faults (the runner
    /// sets them; a protocol fault without them fails to apply).
    pub fn with_identities(mut self, identities: probe::Identities) -> Self {
        self.identities = identities;
        self
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

    /// Protocol ms now, given when the operation began (restarts take
    /// seconds of wall time).
    fn later(&self, at: Moment) -> u64 {
        let wall_ms = at.began.elapsed().as_secs_f64() * 1000.0;
        at.now + (wall_ms * self.plan.time_scale.max(0.0)) as u64
    }

    /// Apply one step; returns the line to show in the progress output (it
    /// is logged too).
    pub async fn apply<C: Cluster>(
        &mut self,
        step: &Step,
        cluster: &C,
        now_ms: u64,
    ) -> anyhow::Result<String> {
        let at = Moment::new(now_ms);
        let what = match step.phase {
            Phase::Start => self.start(step, cluster, at).await,
            Phase::End => self.end(step, cluster, at).await,
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
        self.spans.push(fault.span(start, end));
        self.spans.len() - 1
    }

    async fn start<C: Cluster>(
        &mut self,
        step: &Step,
        c: &C,
        at: Moment,
    ) -> anyhow::Result<String> {
        let (fault, now) = (&step.fault, at.now);
        let msg = match Effect::of(fault) {
            Effect::Network => {
                self.activate(step, now);
                let changed = self.sync_network(c).await?.join(" ");
                match fault {
                    Fault::Partition { cuts, .. } => {
                        format!("{} directed cuts installed on {changed}", cuts.len())
                    }
                    _ => format!("installed on {changed}"),
                }
            }
            Effect::Heal => {
                let ended: Vec<usize> = self
                    .active
                    .iter()
                    .filter(|(_, a)| a.fault.is_network())
                    .map(|(id, _)| *id)
                    .collect();
                self.sync_without(&ended, c, at).await?;
                if ended.is_empty() {
                    "nothing to heal".into()
                } else {
                    let names: Vec<String> = ended.iter().map(|id| format!("#{id}")).collect();
                    format!("healed {}", names.join(" "))
                }
            }
            Effect::Outage {
                nodes,
                sigkill,
                wipe,
            } => {
                for n in nodes {
                    if sigkill {
                        c.kill(n).await
                    } else {
                        c.stop(n).await
                    }
                    .with_context(|| format!("stopping {n}"))?;
                }
                match step.until_ms {
                    Some(until) => {
                        self.activate(step, now);
                        format!("down until {}", fmt_ms(until))
                    }
                    None => {
                        self.bring_up(nodes, wipe, false, c).await?;
                        let end = self.later(at);
                        self.open_span(fault, now, Some(end));
                        format!("back up after {}", fmt_ms(end - now))
                    }
                }
            }
            Effect::Pause(nodes) => {
                for n in nodes {
                    c.pause(n).await.with_context(|| format!("pausing {n}"))?;
                }
                self.activate(step, now);
                "frozen".into()
            }
            Effect::ClockSkew { nodes, skew_ms } => {
                for n in nodes {
                    self.nodes.set_skew(n, Some(skew_ms));
                }
                self.bring_up(nodes, false, true, c).await?;
                self.activate(step, now);
                format!("recreated with --clock-skew-ms {skew_ms}")
            }
            Effect::CpuThrottle { nodes, cpus } => {
                for n in nodes {
                    c.throttle(n, Some(cpus))
                        .await
                        .with_context(|| format!("throttling {n}"))?;
                    self.nodes.set_cpus(n, Some(cpus));
                }
                self.activate(step, now);
                format!("CPU quota {cpus} core(s)")
            }
            Effect::Probe => {
                let stamp = probe::Stamp {
                    now,
                    began: tokio::time::Instant::from_std(at.began),
                    time_scale: self.plan.time_scale,
                };
                let (answers, summary) = probe::run(fault, &self.identities, c, stamp).await?;
                let span = self.open_span(fault, now, Some(self.later(at)));
                // The summary in the label too: report.html shows it on the
                // fault's band.
                let s = &mut self.spans[span];
                s.answers = answers;
                s.description = format!("{}: {summary}", s.description);
                summary
            }
        };
        Ok(msg)
    }

    async fn end<C: Cluster>(&mut self, step: &Step, c: &C, at: Moment) -> anyhow::Result<String> {
        let Some(fault) = self.active.get(&step.id).map(|a| a.fault.clone()) else {
            return Ok("already ended".into());
        };
        let msg = match Effect::of(&fault) {
            Effect::Network => {
                let changed = self.sync_without(&[step.id], c, at).await?;
                format!("removed from {}", changed.join(" "))
            }
            Effect::Outage { nodes, wipe, .. } => {
                self.bring_up(nodes, wipe, false, c).await?;
                self.close(step.id, at);
                if wipe {
                    "back up with an empty data dir"
                } else {
                    "started again"
                }
                .into()
            }
            Effect::Pause(nodes) => {
                for n in nodes {
                    c.resume(n).await.with_context(|| format!("resuming {n}"))?;
                }
                self.close(step.id, at);
                "resumed".into()
            }
            Effect::ClockSkew { nodes, .. } => {
                for n in nodes {
                    self.nodes.set_skew(n, None);
                }
                self.bring_up(nodes, false, true, c).await?;
                self.close(step.id, at);
                "recreated without skew".into()
            }
            Effect::CpuThrottle { nodes, .. } => {
                self.unthrottle(nodes, c).await?;
                self.close(step.id, at);
                "CPU quota lifted".into()
            }
            Effect::Heal | Effect::Probe => "nothing to do".into(),
        };
        Ok(msg)
    }

    /// Lift the CPU cap of `nodes`; tries every node, first error after.
    async fn unthrottle<C: Cluster>(&mut self, nodes: &[String], c: &C) -> anyhow::Result<()> {
        let mut r = Ok(());
        for n in nodes {
            self.nodes.set_cpus(n, None);
            r = r.and(
                c.throttle(n, None)
                    .await
                    .with_context(|| format!("lifting the CPU cap of {n}")),
            );
        }
        r
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

    fn close(&mut self, id: usize, at: Moment) {
        if let Some(a) = self.active.remove(&id) {
            self.spans[a.span].end = Some(self.later(at));
        }
    }

    /// Reconcile every node's namespace with the active faults.
    async fn sync_network<C: Cluster>(&mut self, c: &C) -> anyhow::Result<Vec<String>> {
        let active: Vec<&Fault> = self.active.values().map(|a| &a.fault).collect();
        self.nodes.sync(&active, c).await
    }

    /// End the network faults `ids`, sync, and close their spans at the
    /// time the rules were really gone.
    async fn sync_without<C: Cluster>(
        &mut self,
        ids: &[usize],
        c: &C,
        at: Moment,
    ) -> anyhow::Result<Vec<String>> {
        let removed: Vec<Active> = ids.iter().filter_map(|id| self.active.remove(id)).collect();
        let changed = self.sync_network(c).await?;
        let end = self.later(at);
        for a in removed {
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
                let args = match self.nodes.skew_ms(n) {
                    Some(ms) => vec!["--clock-skew-ms".to_string(), ms.to_string()],
                    None => Vec::new(),
                };
                c.recreate(n, wipe, args)
                    .await
                    .with_context(|| format!("recreating {n}"))?;
                // A new container has no quota: a throttle outlives it.
                if let Some(cpus) = self.nodes.cpus(n) {
                    c.throttle(n, Some(cpus))
                        .await
                        .with_context(|| format!("throttling recreated {n}"))?;
                }
            } else {
                c.start(n).await.with_context(|| format!("starting {n}"))?;
            }
            self.on_node_started(n, c).await?;
        }
        Ok(())
    }

    /// `node`'s process was (re)started: it has a fresh network namespace,
    /// so install its active partition/loss/latency rules again. Call after
    /// every start the nemesis did not do itself. Returns what was done.
    pub async fn on_node_started<C: Cluster>(
        &mut self,
        node: &str,
        c: &C,
    ) -> anyhow::Result<String> {
        let active: Vec<&Fault> = self.active.values().map(|a| &a.fault).collect();
        self.nodes.node_started(node, &active, c).await
    }

    /// End every active fault (cleanup, end of run): heal the network,
    /// resume paused nodes, lift CPU caps, start nodes that are down. Clock skews stay (a
    /// recreate at teardown is wasted work) but their spans are closed.
    /// Tries everything; returns the lines of what was done, or the first
    /// error after trying the rest.
    pub async fn heal_all<C: Cluster>(
        &mut self,
        c: &C,
        now_ms: u64,
    ) -> anyhow::Result<Vec<String>> {
        let at = Moment::new(now_ms);
        let mut lines = Vec::new();
        let mut first_err = None;
        let ids: Vec<usize> = self.active.keys().copied().collect();
        let network: Vec<usize> = ids
            .iter()
            .copied()
            .filter(|id| self.active[id].fault.is_network())
            .collect();
        match self.sync_without(&network, c, at).await {
            Ok(changed) if !changed.is_empty() => {
                lines.push(format!("healed network on {}", changed.join(" ")))
            }
            Ok(_) => {}
            Err(e) => first_err = first_err.or(Some(e)),
        }
        // Whatever happened above, no node should keep our rules.
        if let Err(e) = self.nodes.clear(c).await {
            first_err = first_err.or(Some(e));
        }
        for id in ids.iter().filter(|id| !network.contains(id)) {
            let Some(fault) = self.active.get(id).map(|a| a.fault.clone()) else {
                continue;
            };
            let result = match Effect::of(&fault) {
                Effect::Pause(nodes) => {
                    let mut r = Ok(());
                    for n in nodes {
                        r = r.and(c.resume(n).await.with_context(|| format!("resuming {n}")));
                    }
                    r.map(|_| format!("resumed {}", nodes.join(" ")))
                }
                Effect::Outage { nodes, wipe, .. } => self
                    .bring_up(nodes, wipe, false, c)
                    .await
                    .map(|_| format!("started {}", nodes.join(" "))),
                Effect::CpuThrottle { nodes, .. } => self
                    .unthrottle(nodes, c)
                    .await
                    .map(|_| format!("lifted the CPU cap of {}", nodes.join(" "))),
                Effect::Network | Effect::Heal | Effect::ClockSkew { .. } | Effect::Probe => {
                    Ok(format!("{}#{id} closed", fault.action()))
                }
            };
            self.close(*id, at);
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
#[path = "nemesis_tests.rs"]
mod tests;
