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
//!
//! Process faults without a process:
//! - `pause` (SIGSTOP / cgroup freezer) closes the node's freeze gate:
//!   every timer of its clock and every socket read, write and accept
//!   waits, while the simulated kernel still completes handshakes and
//!   buffers what peers send; on resume the late timers fire at once and
//!   the buffered bytes are read, as after SIGCONT. Its API does not answer
//!   the poller meanwhile (docker's poll times out), its kernel table is
//!   still read. turmoil cannot skip a host's ticks, so the gate is the
//!   freeze: tasks that were already runnable finish their current step.
//! - `cpu_throttle` is a CPU quota: the gate is open for as many ticks of
//!   every period as `cpus` pays for at [`TICK_CPU_CHARGE`] each (at least
//!   one; see [`CPU_PERIOD_MIN`]) and closed for the rest, so work waits up to one period, as under the CFS quota. Work
//!   itself takes no virtual time: a throttled node is slow to react, not
//!   slow to compute.
//!
//! Protocol faults (`crossed_dial`, `duplicate_dial`, `stale_hello`) are
//! handed to the prober client (`super::probe`), which runs the docker
//! nemesis's probe protocol from inside the impersonated nodes' hosts; the
//! simulation is stepped until its answers are back (the docker nemesis
//! awaits the probe the same way), and the span carries them.
//!
//! Link faults (`loss`, `latency` with its sim-only shaping) are desired
//! state too: the effect of every directed link is recomputed from the
//! active faults and handed to the [`Shaper`] (see `shaper.rs` for what
//! each effect models). `loss` on a node acts on what it receives (as the
//! docker rule drops its incoming P2P packets), `latency` on what it sends
//! (netem on its egress).

use super::clock::now_ms_of;
use super::constants::{CPU_PERIOD_MIN, MAX_LATENCY, STALE_HELLO_LATENCY, TICK_CPU_CHARGE};
use super::host::NodeCtl;
use super::probe::Request;
use super::shaper::{LinkEffect, Shaper};
use crate::nemesis::schedule::{Fault, Phase, Schedule, Step};
use crate::observe::model::FaultSpan;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;
use turmoil::Sim;

/// Virtual time a graceful stop may take before the node is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);

pub struct SimNemesis {
    plan: Schedule,
    next: usize,
    nodes: BTreeMap<String, Arc<NodeCtl>>,
    /// Active lasting faults: fault id -> (fault, index into `spans`).
    active: BTreeMap<usize, (Fault, usize)>,
    spans: Vec<FaultSpan>,
    /// Directed cuts installed in turmoil now.
    installed: BTreeSet<(IpAddr, IpAddr)>,
    /// Link effects of loss and latency faults.
    shaper: Shaper,
    /// Nodes whose freeze gate is closed now (paused or out of quota).
    gated: BTreeSet<String>,
    /// Nodes killed during their pause: the new process runs (a killed
    /// container is not frozen any more); forgotten when the pause ends.
    unfrozen: BTreeSet<String>,
    /// The prober client's inbox (protocol faults); dropped after the
    /// last step so the client ends.
    prober: Option<UnboundedSender<Request>>,
    /// One line per applied step, for the run's log.
    pub log: Vec<String>,
}

impl SimNemesis {
    pub fn new(
        plan: Schedule,
        nodes: &[Arc<NodeCtl>],
        shaper: Shaper,
        prober: Option<UnboundedSender<Request>>,
    ) -> Self {
        SimNemesis {
            plan,
            next: 0,
            nodes: nodes.iter().map(|n| (n.name.clone(), n.clone())).collect(),
            active: BTreeMap::new(),
            spans: Vec::new(),
            installed: BTreeSet::new(),
            shaper,
            gated: BTreeSet::new(),
            unfrozen: BTreeSet::new(),
            prober,
            log: Vec::new(),
        }
    }

    pub fn next_at(&self) -> Option<u64> {
        self.plan.steps.get(self.next).map(|s| s.at_ms)
    }

    pub fn spans(&self) -> Vec<FaultSpan> {
        self.spans.clone()
    }

    /// Apply every step due at the simulation's time, then open or close
    /// the freeze gates (CPU quotas turn every period).
    pub fn apply_due(&mut self, sim: &mut Sim<'_>) {
        while let Some(step) = self.plan.steps.get(self.next).cloned() {
            if step.at_ms > now_ms_of(sim) {
                break;
            }
            self.next += 1;
            self.apply(&step, sim);
        }
        if self.next >= self.plan.steps.len() {
            self.prober = None;
        }
        self.sync_gates(now_ms_of(sim));
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
                self.sync_links();
            }
            (Phase::Start, Fault::Loss { .. } | Fault::Latency { .. }) => {
                self.activate(step, now);
                self.sync_links();
            }
            (Phase::Start, Fault::Pause { .. } | Fault::CpuThrottle { .. }) => {
                self.activate(step, now);
                self.sync_gates(now);
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
                    Fault::Loss { .. } | Fault::Latency { .. } => {
                        self.close(step.id, now);
                        self.sync_links();
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
                    _ => {
                        self.close(step.id, now);
                        self.sync_gates(now);
                    }
                }
            }
            (
                Phase::Start,
                f @ (Fault::CrossedDial { .. }
                | Fault::DuplicateDial { .. }
                | Fault::StaleHello { .. }),
            ) => self.probe(f, now, sim),
        }
        self.log.push(format!("{step}"));
    }

    /// Carry out a protocol fault through the prober, stepping the
    /// simulation until it answers; its span carries the answers.
    fn probe(&mut self, f: &Fault, now: u64, sim: &mut Sim<'_>) {
        // A stale Hello's proof and FIN land in one step (constants).
        let fixed = match f {
            Fault::StaleHello { node, peer, .. } => {
                let ip = |n: &String| self.nodes.get(n).map(|c| c.ip);
                ip(node).zip(ip(peer))
            }
            _ => None,
        };
        if let Some((a, b)) = fixed {
            sim.set_link_latency(a, b, STALE_HELLO_LATENCY);
        }
        let (reply, mut answer) = tokio::sync::oneshot::channel();
        let request = Request {
            fault: f.clone(),
            now,
            reply,
        };
        let sent = self
            .prober
            .as_ref()
            .is_some_and(|p| p.send(request).is_ok());
        let outcome = loop {
            if !sent {
                break Err("the prober is not running".to_string());
            }
            if let Ok(out) = answer.try_recv() {
                break out;
            }
            if !matches!(sim.step(), Ok(false)) {
                break Err("the simulation ended during the probe".to_string());
            }
        };
        if let Some((a, b)) = fixed {
            // Back to turmoil's default draw (0 .. MAX_LATENCY).
            sim.set_link_latency(a, b, Duration::ZERO);
            sim.set_link_max_message_latency(a, b, MAX_LATENCY);
        }
        let span = self.open_span(f, now, Some(now_ms_of(sim)));
        let s = &mut self.spans[span];
        match outcome {
            Ok((answers, summary)) => {
                s.answers = answers;
                s.description = format!("{}: {summary}", s.description);
            }
            Err(e) => s.description = format!("{}: not carried out: {e}", s.description),
        }
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
        self.sync_links();
        self.sync_gates(now);
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

    /// Every directed link's effect from the active loss and latency faults.
    fn sync_links(&self) {
        let mut links: BTreeMap<(IpAddr, IpAddr), LinkEffect> = BTreeMap::new();
        let ips: Vec<(&String, IpAddr)> = self.nodes.iter().map(|(n, c)| (n, c.ip)).collect();
        for (fault, _) in self.active.values() {
            let (nodes, effect, outgoing) = match fault {
                Fault::Loss { nodes, probability } => (
                    nodes,
                    LinkEffect {
                        loss: *probability,
                        ..LinkEffect::default()
                    },
                    false,
                ),
                Fault::Latency {
                    nodes,
                    delay_ms,
                    shape,
                } => (
                    nodes,
                    LinkEffect {
                        delay: Duration::from_millis(*delay_ms),
                        jitter: Duration::from_millis(shape.jitter_ms),
                        rate: shape.rate_kbit.map(|k| k * 1000 / 8),
                        reorder: shape.reorder,
                        duplicate: shape.duplicate,
                        loss: 0.0,
                    },
                    true,
                ),
                _ => continue,
            };
            for n in nodes {
                let me = self.nodes[n].ip;
                for (_, other) in ips.iter().filter(|(m, _)| *m != n) {
                    let key = if outgoing { (me, *other) } else { (*other, me) };
                    links.entry(key).or_default().combine(&effect);
                }
            }
        }
        self.shaper.set(links);
    }

    /// Close the freeze gate of every paused node and of every throttled
    /// node outside its share of the current period; open the others.
    fn sync_gates(&mut self, now: u64) {
        let gating = |f: &Fault| matches!(f, Fault::Pause { .. } | Fault::CpuThrottle { .. });
        if self.gated.is_empty() && !self.active.values().any(|(f, _)| gating(f)) {
            return;
        }
        let tick = super::TICK.as_millis().max(1) as u64;
        let mut paused = BTreeSet::new();
        let mut want = BTreeSet::new();
        for (fault, span) in self.active.values() {
            match fault {
                Fault::Pause { nodes } => paused.extend(nodes.iter().cloned()),
                Fault::CpuThrottle { nodes, cpus } => {
                    let (period, run) = quota(tick, *cpus);
                    let phase = now.saturating_sub(self.spans[*span].start) % period;
                    if phase >= run {
                        want.extend(nodes.iter().cloned());
                    }
                }
                _ => {}
            }
        }
        self.unfrozen.retain(|n| paused.contains(n));
        for n in &paused {
            let frozen = !self.unfrozen.contains(n);
            self.nodes[n].paused.store(frozen, Ordering::Relaxed);
            if frozen {
                want.insert(n.clone());
            }
        }
        for n in self.gated.difference(&want) {
            self.nodes[n].paused.store(false, Ordering::Relaxed);
            self.nodes[n].gate.open();
        }
        for n in want.difference(&self.gated) {
            self.nodes[n].gate.close();
        }
        self.gated = want;
    }

    /// SIGKILL: the host's tasks are dropped, unsynced writes are lost.
    fn kill(&mut self, n: &str, sim: &mut Sim<'_>) {
        if self.gated.contains(n) {
            self.unfrozen.insert(n.to_string());
        }
        let ctl = &self.nodes[n];
        ctl.mark_down();
        sim.crash(ctl.ip);
        ctl.disk.crash();
    }

    /// SIGTERM: the node closes its connections and exits; killed if it
    /// has not within [`STOP_GRACE`] of virtual time.
    fn stop(&mut self, n: &str, sim: &mut Sim<'_>) {
        let ctl = self.nodes[n].clone();
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

/// A CPU quota of `cpus` cores at a `tick` (ms): its period and how long of
/// each period the gate is open (whole ticks, each charged
/// [`TICK_CPU_CHARGE`]; at least one).
fn quota(tick: u64, cpus: f64) -> (u64, u64) {
    let charge = TICK_CPU_CHARGE.as_millis() as f64;
    let period = (CPU_PERIOD_MIN.as_millis() as u64).max((charge / cpus).ceil() as u64);
    let ticks = ((period as f64 * cpus / charge).floor() as u64).max(1);
    (period, ticks * tick)
}

#[cfg(test)]
mod quota_tests {
    use super::quota;

    #[test]
    fn a_quota_buys_ticks_at_a_fixed_charge_whatever_the_tick() {
        // 1 %: one tick per second, at a 10 ms tick as at a 50 ms one.
        assert_eq!(quota(50, 0.01), (1000, 50));
        assert_eq!(quota(10, 0.01), (1000, 10));
        // 5 %: one tick per 200 ms.
        assert_eq!(quota(50, 0.05), (200, 50));
        // Half a core: 5 ticks per CFS period, so at 50 ms never closed.
        let (period, run) = quota(50, 0.5);
        assert_eq!(period, 100);
        assert!(run >= period);
        // A tenth of a percent: one tick per 10 s.
        assert_eq!(quota(50, 0.001), (10_000, 50));
    }
}
