//! The fault schedule applied to the simulation: the same [`Schedule`] the
//! docker nemesis walks, a second implementation of "apply a grudge, kill,
//! stop, start a node", recorded as the same [`FaultSpan`]s.
//!
//! Network faults are desired state, as on docker: after every change the
//! set of directed cuts of all active partitions is recomputed and only the
//! difference is applied to turmoil's links (`partition_oneway` /
//! `repair_oneway`). A cut drops segments in the simulator; turmoil's TCP
//! does not retransmit, so a stream that lost a segment stalls until the
//! node's ping timeout closes it (a real kernel would retransmit after the
//! heal): the same outcome for any cut longer than the ping timeout.

use super::clock::now_ms_of;
use super::host::NodeCtl;
use crate::nemesis::schedule::{Fault, Phase, Schedule, Step};
use crate::observe::model::FaultSpan;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use turmoil::Sim;

/// Virtual time a graceful stop may take before the node is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Faults the simulation cannot apply yet (checked before a run: exit 2).
pub fn unsupported(plan: &Schedule) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = plan
        .steps
        .iter()
        .filter_map(|s| match s.fault {
            Fault::Pause { .. } => Some("pause (no host freeze in turmoil yet)"),
            Fault::Loss { .. } => Some("loss (turmoil's TCP has no retransmission to model it)"),
            Fault::Latency { .. } => Some("latency (not wired to turmoil's link latency yet)"),
            Fault::CpuThrottle { .. } => Some("cpu_throttle (turmoil hosts have no CPU budget)"),
            Fault::CrossedDial { .. } | Fault::DuplicateDial { .. } | Fault::StaleHello { .. } => {
                Some(
                    "crossed_dial, duplicate_dial, stale_hello (cannot model yet: the harness \
                     would need its own turmoil host per impersonated node IP)",
                )
            }
            _ => None,
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

pub struct SimNemesis {
    plan: Schedule,
    next: usize,
    nodes: BTreeMap<String, Arc<NodeCtl>>,
    /// Active lasting faults: fault id -> (fault, index into `spans`).
    active: BTreeMap<usize, (Fault, usize)>,
    spans: Vec<FaultSpan>,
    /// Directed cuts installed in turmoil now.
    installed: BTreeSet<(IpAddr, IpAddr)>,
    /// One line per applied step, for the run's log.
    pub log: Vec<String>,
}

impl SimNemesis {
    pub fn new(plan: Schedule, nodes: &[Arc<NodeCtl>]) -> Self {
        SimNemesis {
            plan,
            next: 0,
            nodes: nodes.iter().map(|n| (n.name.clone(), n.clone())).collect(),
            active: BTreeMap::new(),
            spans: Vec::new(),
            installed: BTreeSet::new(),
            log: Vec::new(),
        }
    }

    pub fn next_at(&self) -> Option<u64> {
        self.plan.steps.get(self.next).map(|s| s.at_ms)
    }

    pub fn spans(&self) -> Vec<FaultSpan> {
        self.spans.clone()
    }

    /// Apply every step due at the simulation's time.
    pub fn apply_due(&mut self, sim: &mut Sim<'_>) {
        while let Some(step) = self.plan.steps.get(self.next).cloned() {
            if step.at_ms > now_ms_of(sim) {
                break;
            }
            self.next += 1;
            self.apply(&step, sim);
        }
    }

    fn apply(&mut self, step: &Step, sim: &mut Sim<'_>) {
        let now = now_ms_of(sim);
        let lasting = step.until_ms.is_some();
        match (step.phase, &step.fault) {
            (Phase::Start, Fault::Partition { .. }) => {
                self.activate(step, now);
                self.sync_network(sim);
            }
            (Phase::Start, Fault::Heal) => {
                let ids: Vec<usize> = self
                    .active
                    .iter()
                    .filter(|(_, (f, _))| f.is_network())
                    .map(|(id, _)| *id)
                    .collect();
                for id in ids {
                    self.close(id, now);
                }
                self.sync_network(sim);
            }
            (
                Phase::Start,
                f @ (Fault::Kill { nodes } | Fault::Restart { nodes } | Fault::Wipe { nodes }),
            ) => {
                for n in nodes {
                    match f {
                        Fault::Restart { .. } => self.stop(n, sim),
                        _ => self.kill(n, sim),
                    }
                }
                if lasting {
                    self.activate(step, now);
                } else {
                    let wipe = matches!(f, Fault::Wipe { .. });
                    for n in nodes {
                        self.start(n, wipe, sim);
                    }
                    let end = now_ms_of(sim);
                    self.open_span(f, now, Some(end));
                }
            }
            (Phase::Start, Fault::ClockSkew { nodes, skew_ms }) => {
                for n in nodes {
                    self.nodes[n].skew_ms.store(*skew_ms, Ordering::Relaxed);
                    self.stop(n, sim);
                    self.start(n, false, sim);
                }
                self.activate(step, now);
            }
            (Phase::End, _) => {
                let Some((fault, _)) = self.active.get(&step.id).cloned() else {
                    return;
                };
                match &fault {
                    Fault::Partition { .. } => {
                        self.close(step.id, now);
                        self.sync_network(sim);
                    }
                    Fault::Kill { nodes } | Fault::Restart { nodes } | Fault::Wipe { nodes } => {
                        let wipe = matches!(fault, Fault::Wipe { .. });
                        for n in nodes {
                            self.start(n, wipe, sim);
                        }
                        self.close(step.id, now_ms_of(sim));
                    }
                    Fault::ClockSkew { nodes, .. } => {
                        for n in nodes {
                            self.nodes[n].skew_ms.store(0, Ordering::Relaxed);
                            self.stop(n, sim);
                            self.start(n, false, sim);
                        }
                        self.close(step.id, now_ms_of(sim));
                    }
                    _ => self.close(step.id, now),
                }
            }
            // Rejected before the run by `unsupported`.
            (
                Phase::Start,
                Fault::Pause { .. }
                | Fault::Loss { .. }
                | Fault::Latency { .. }
                | Fault::CpuThrottle { .. }
                | Fault::CrossedDial { .. }
                | Fault::DuplicateDial { .. }
                | Fault::StaleHello { .. },
            ) => {
                unreachable!("unsupported fault reached the sim nemesis: {}", step)
            }
        }
        self.log.push(format!("{step}"));
    }

    /// End every fault still active at the end of the run (spans close).
    pub fn heal_all(&mut self, sim: &mut Sim<'_>) {
        let now = now_ms_of(sim);
        let ids: Vec<usize> = self.active.keys().copied().collect();
        for id in ids {
            let (fault, _) = self.active[&id].clone();
            if let Fault::Kill { nodes } | Fault::Restart { nodes } | Fault::Wipe { nodes } = &fault
            {
                let wipe = matches!(fault, Fault::Wipe { .. });
                for n in nodes {
                    self.start(n, wipe, sim);
                }
            }
            self.close(id, now);
        }
        self.sync_network(sim);
    }

    fn open_span(&mut self, fault: &Fault, start: u64, end: Option<u64>) -> usize {
        self.spans.push(fault.span(start, end));
        self.spans.len() - 1
    }

    fn activate(&mut self, step: &Step, now: u64) {
        let span = self.open_span(&step.fault, now, None);
        self.active.insert(step.id, (step.fault.clone(), span));
    }

    fn close(&mut self, id: usize, now: u64) {
        if let Some((_, span)) = self.active.remove(&id) {
            self.spans[span].end = Some(now);
        }
    }

    /// Make turmoil's links match the active partitions' cuts.
    fn sync_network(&mut self, sim: &mut Sim<'_>) {
        let mut want = BTreeSet::new();
        for (fault, _) in self.active.values() {
            if let Fault::Partition { cuts, .. } = fault {
                for (a, b) in cuts {
                    want.insert((self.nodes[a].ip, self.nodes[b].ip));
                }
            }
        }
        for (a, b) in self.installed.difference(&want) {
            sim.repair_oneway(*a, *b);
        }
        for (a, b) in want.difference(&self.installed) {
            sim.partition_oneway(*a, *b);
        }
        self.installed = want;
    }

    /// SIGKILL: the host's tasks are dropped, unsynced writes are lost.
    fn kill(&self, n: &str, sim: &mut Sim<'_>) {
        let ctl = &self.nodes[n];
        ctl.mark_down();
        sim.crash(ctl.ip);
        ctl.disk.crash();
    }

    /// SIGTERM: the node closes its connections and exits; killed if it
    /// has not within [`STOP_GRACE`] of virtual time.
    fn stop(&self, n: &str, sim: &mut Sim<'_>) {
        let ctl = &self.nodes[n];
        ctl.stop.lock().unwrap().cancel();
        let deadline = sim.elapsed() + STOP_GRACE;
        while sim.is_host_running(ctl.ip) && sim.elapsed() < deadline {
            if sim.step().is_err() {
                break;
            }
        }
        self.kill(n, sim);
    }

    fn start(&self, n: &str, wipe: bool, sim: &mut Sim<'_>) {
        let ctl = &self.nodes[n];
        if wipe {
            ctl.disk.wipe();
        }
        ctl.mark_down();
        sim.bounce(ctl.ip);
    }
}
