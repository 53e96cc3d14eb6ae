//! The `sim` provider: every node of a scenario in-process on turmoil's
//! deterministic simulated network, in virtual time, with the docker run's
//! scenario file, fault schedule, checks and reports.
//!
//! | file | owns |
//! |---|---|
//! | [`transport`] | the node's `Transport` on turmoil TCP; the network's own connection table (kernel view) |
//! | [`disk`] | redb's storage backend that loses unsynced writes on a kill |
//! | [`host`] | one node as a turmoil host: its software and the harness's handles on it |
//! | [`observe`] | the poller inside the simulation (the node's router, in-process) |
//! | [`faults`] | the fault schedule applied to turmoil (second implementation of the nemesis) |
//! | [`probe`] | protocol faults: the probe protocol run from inside the impersonated nodes' hosts |
//! | [`shaper`] | link effects (delay, jitter, loss as retransmission, bandwidth, reorder, duplicate) |
//! | [`workload`] | the transaction workload through the nodes' routers |
//! | [`constants`] | tunables of the simulated faults |
//! | [`logs`] | per-node log files from one thread |
//! | [`task_ids`] | tokio's process-wide task ids aligned before a run |
//! | [`stop`] | `--fail-fast` in sim, and the socket-storm guard that turns it on |
//!
//! Time: nodes run at time scale 1 in virtual time; the scenario's
//! `time_scale` and `--time-scale` are ignored (reported as 1). The tick
//! is [`TICK`]. One thread runs the whole simulation (turmoil drives one
//! current-thread runtime per host), so nothing but the seed decides the
//! schedule: the same scenario and seed give a byte-identical timeline.

pub mod clock;
pub mod constants;
pub mod disk;
pub mod faults;
pub mod host;
pub mod logs;
pub mod observe;
pub mod probe;
pub mod shaper;
pub mod stop;
pub mod task_ids;
pub mod transport;
pub mod workload;

use crate::nemesis::schedule::Schedule;
use crate::observe::model::{NodeInfo, Timeline};
use crate::observe::recorder::Recorder;
use crate::scenario::{ms, Scenario};
use faults::SimNemesis;
use host::{NodeCtl, RunShared};
use shaper::Shaper;
use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use timed::config::NodeConfig;
use timed::env::SigMemo;
use transport::ConnTable;
use workload::WorkloadResult;

/// Virtual time per simulation step. Inside a step each host's own timers
/// fire at their exact virtual ms (its paused tokio clock advances timer by
/// timer); the step only quantises the network: a segment is delivered at
/// the first step boundary after its latency (turmoil's default, 0-100 ms,
/// mean 20 ms), so every hop takes one or two steps (50-100 ms). Every
/// protocol timer that decides something is 500 ms or more (consensus
/// round delta 500 ms, prevote/precommit 1 s, dial tick 1 s, tie-break
/// retry 2 s, handshake 10 s, ping 30 s): a consensus round's three hops
/// (150-300 ms) and a handshake's four stay well inside them. Bounds: at
/// most 100 ms (above the latency cap every hop is exactly one step and the
/// seeded latency stops varying interleavings); 10 ms cost five times the
/// steps for the same protocol hour (measured: per-host stepping was half
/// of the CPU at 10 ms).
pub const TICK: Duration = Duration::from_millis(50);
/// Base IP of node 1 in the simulated network (no real interface is used).
pub const BASE_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 11);
/// Virtual time between two polls of a node. The docker poller polls every
/// 300 ms of wall time, i.e. every 9 protocol s at time scale 30; 1 s of
/// protocol time is still nine times finer than that and far below every
/// check window (grace, warmup: tens of seconds), while 300 ms made the
/// poll (three JSON round trips per node through its router) a quarter of
/// the simulation's CPU. Events are not sampled: every poll reads the
/// node's whole event log since the last one.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// What a simulated run produced.
pub struct SimRun {
    pub timeline: Timeline,
    /// The fault steps as applied, one line each.
    pub applied: Vec<String>,
    pub steps: u64,
    /// Every node's `/metrics`, accumulated over its processes (the
    /// report's coverage and performance figures come from it).
    pub metrics: std::collections::BTreeMap<String, crate::report::prom::Accumulated>,
    /// The run stopped at a final violation ([`stop`]).
    pub stop: Option<crate::report::EarlyStop>,
}

/// Run the scenario to its end on this thread (call from a thread outside
/// any tokio runtime: turmoil blocks on one runtime per host). Writes the
/// testnet under `out/testnet` and the node logs under `out/logs`.
pub fn run(
    sc: &Scenario,
    plan: Schedule,
    out: &Path,
    rule: stop::StopRule,
    keepalive_ms: u64,
) -> anyhow::Result<SimRun> {
    let testnet_dir = out.join("testnet");
    let testnet = crate::provider::testnet::write(sc, BASE_IP, &testnet_dir)?;
    let table = ConnTable::default();
    let shaper = Shaper::new(sc.seed);
    let end_ms = ms(sc.duration);
    let p2p_port = testnet
        .nodes
        .first()
        .map(|n| n.config.p2p_port)
        .unwrap_or(timed::constants::DEFAULT_P2P_PORT);
    let recorder = Arc::new(Mutex::new(Recorder::new(1.0, Vec::new(), keepalive_ms)));
    let observer = observe::SimObserver::new(
        table.clone(),
        recorder.clone(),
        POLL_INTERVAL,
        p2p_port,
        end_ms,
    );
    let run = RunShared {
        seed: sc.seed,
        table: table.clone(),
        shaper: shaper.clone(),
        observer: observer.clone(),
        sigs: SigMemo::new(),
    };
    let mut ctls = Vec::new();
    for (k, n) in testnet.nodes.iter().enumerate() {
        let path = testnet_dir
            .join(format!("node{}", k + 1))
            .join("config.toml");
        let cfg = NodeConfig::load(&path)?;
        ctls.push(NodeCtl::new(
            n.name.clone(),
            cfg,
            ms(sc.start_at(&n.name)),
            run.clone(),
        ));
    }
    let infos: Vec<NodeInfo> = ctls
        .iter()
        .map(|c| NodeInfo {
            name: c.name.clone(),
            ip: c.ip,
            masternode: c.cfg.masternode,
        })
        .collect();
    let hosts: Vec<(String, String)> = ctls
        .iter()
        .map(|c| (c.ip.to_string(), c.name.clone()))
        .collect();
    let logs = logs::NodeLogs::create(&out.join("logs"), &hosts)?;
    let subscriber = logs.clone();
    *recorder.lock().unwrap() = Recorder::new(1.0, infos, keepalive_ms);
    let txs = Arc::new(Mutex::new(WorkloadResult::default()));
    let load = crate::workload::Workload::new(sc, &testnet).map(|w| (w, txs.clone()));
    // Last before the hosts' runtimes exist: every run of this process
    // numbers its tasks alike (see task_ids).
    task_ids::align();
    let result = tracing::subscriber::with_default(subscriber, || {
        let drivers = Drivers {
            shaper,
            load,
            ids: crate::nemesis::probe::identities(&testnet),
            rule,
        };
        simulate(sc, plan, &ctls, observer.clone(), drivers)
    });
    // The processes still running at the end (or at an early stop).
    for c in &ctls {
        c.stopping();
    }
    let metrics = observer.metrics();
    logs.flush();
    let (applied, spans, steps, stopped) = result?;
    let rec = std::mem::replace(
        &mut *recorder.lock().unwrap(),
        Recorder::new(1.0, vec![], 0),
    );
    let end = stopped.as_ref().map_or(end_ms, |s| s.stopped_at);
    let mut timeline = rec.finish(end);
    timeline.faults = spans;
    if sc.workload.is_some() {
        let w = std::mem::take(&mut *txs.lock().unwrap());
        tracing::info!(
            accepted = w.submitted.len(),
            refused = w.rejected,
            "workload done"
        );
        timeline.txs_submitted = w.submitted;
        timeline.txs_in_chain = w.chains;
    }
    Ok(SimRun {
        timeline,
        applied,
        steps,
        metrics,
        stop: stopped,
    })
}

/// `f`'s result, or Ok when there is nothing to run.
async fn optional<F: std::future::Future<Output = turmoil::Result>>(
    f: Option<F>,
) -> turmoil::Result {
    match f {
        Some(f) => f.await,
        None => Ok(()),
    }
}

type Simulated = (
    Vec<String>,
    Vec<crate::observe::model::FaultSpan>,
    u64,
    Option<crate::report::EarlyStop>,
);

/// What drives a run besides the nodes and the plan: the link shaper, the
/// workload, the identities the protocol-fault prober proves, and the rule
/// that may stop the run early.
struct Drivers {
    shaper: Shaper,
    load: Option<(crate::workload::Workload, Arc<Mutex<WorkloadResult>>)>,
    ids: crate::nemesis::probe::Identities,
    rule: stop::StopRule,
}

fn simulate(
    sc: &Scenario,
    plan: Schedule,
    ctls: &[Arc<NodeCtl>],
    observer: Arc<observe::SimObserver>,
    drivers: Drivers,
) -> anyhow::Result<Simulated> {
    let Drivers {
        shaper,
        load,
        ids,
        mut rule,
    } = drivers;
    let end_ms = observer.until_ms;
    let mut sim = turmoil::Builder::new()
        .simulation_duration(Duration::from_millis(end_ms) + Duration::from_secs(60))
        .tick_duration(TICK)
        .max_message_latency(constants::MAX_LATENCY)
        .rng_seed(sc.seed)
        .tcp_capacity(4096)
        .build();
    for ctl in ctls {
        let c = ctl.clone();
        sim.host(ctl.ip, move || c.clone().software());
    }
    let all = ctls.to_vec();
    let down = move || {
        all.iter()
            .filter(|c| c.api().is_none())
            .map(|c| c.name.clone())
            .collect()
    };
    let (table, recorder) = (observer.table.clone(), observer.recorder.clone());
    let watch = observer.watch_down(down);
    let load = load.map(|(w, out)| {
        let all = ctls.to_vec();
        let up = move || {
            all.iter()
                .filter(|c| !c.paused.load(std::sync::atomic::Ordering::Relaxed))
                .filter_map(|c| c.api().map(|a| (c.name.clone(), a)))
                .collect()
        };
        workload::run(w, end_ms, up, out)
    });
    // The prober only when the plan has protocol faults.
    let (prober, probing) = if plan.steps.iter().any(|s| s.fault.is_probe()) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let agents = ctls
            .iter()
            .map(|c| (c.name.clone(), c.probes.clone()))
            .collect();
        let net = probe::SimNet::new(agents, table.clone(), sc.seed);
        (Some(tx), Some(probe::prober(rx, net, ids)))
    } else {
        (None, None)
    };
    // The harness's side (down samples, workload, prober) is ONE client
    // host: turmoil ticks every host's runtime each step and walks every
    // link (one per pair of hosts) for every host, so a host more costs
    // every step of the run (six nodes and three clients: 9 hosts, 36
    // links; with one client: 7 and 21).
    sim.client("harness", async move {
        let (watched, loaded, probed) = tokio::join!(watch, optional(load), optional(probing));
        watched.and(loaded).and(probed)
    });
    let mut nemesis = SimNemesis::new(plan, ctls, shaper, prober);
    let mut steps = 0u64;
    let mut stopped = None;
    loop {
        nemesis.apply_due(&mut sim);
        let done = sim
            .step()
            .map_err(|e| anyhow::anyhow!("simulation failed: {e}"))?;
        steps += 1;
        if done {
            break;
        }
        let t = sim.elapsed().as_millis() as u64;
        if rule.due(t, table.len()) {
            let mut tl = recorder.lock().unwrap().snapshot(t);
            tl.faults = nemesis.spans();
            stopped = rule.judge(&tl);
            if stopped.is_some() {
                break;
            }
        }
    }
    nemesis.heal_all(&mut sim);
    Ok((nemesis.log.clone(), nemesis.spans(), steps, stopped))
}
