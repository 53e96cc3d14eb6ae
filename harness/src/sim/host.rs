//! One node as a turmoil host: its software (start `timed` in-process on
//! the simulated transport and disk) and the handles the harness keeps on it.

use super::clock::{now_ms, SIM_EPOCH_MS};
use super::disk::SimDisk;
use super::observe::SimObserver;
use super::probe::AgentSlot;
use super::shaper::Shaper;
use super::transport::{ConnTable, SimTransport};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use timed::api::ApiState;
use timed::clock::Clock;
use timed::config::NodeConfig;
use timed::env::{Blocking, NodeEnv, NodeRng, SigCheck, SigMemo, StoreLocation};
use timed::gate::Gate;
use tokio_util::sync::CancellationToken;

/// What the harness holds on one simulated node, shared with its software.
pub struct NodeCtl {
    pub name: String,
    pub ip: IpAddr,
    pub cfg: NodeConfig,
    pub disk: SimDisk,
    /// Protocol ms at which the node first starts (late joiners).
    pub start_at_ms: u64,
    /// Chain-clock skew applied at the next start (a fault).
    pub skew_ms: AtomicI64,
    /// The running node's API state; `None` while it is down.
    pub api: Mutex<Option<ApiState>>,
    /// Cancelled to stop the node gracefully (SIGTERM's equivalent).
    pub stop: Mutex<CancellationToken>,
    /// Closed while the node is frozen (pause) or out of CPU quota; it
    /// outlives restarts (a container's quota does). Owned by the faults.
    pub gate: Arc<Gate>,
    /// Paused (SIGSTOP): its API does not answer the poller.
    pub paused: Arc<AtomicBool>,
    /// The running node's probe agent (`super::probe`); `None` while down.
    pub probes: Arc<AgentSlot>,
    /// How many times the node's software started (seeds each start's RNG).
    starts: AtomicU64,
    run: RunShared,
}

/// What every node of one run shares.
#[derive(Clone)]
pub struct RunShared {
    /// The scenario seed (each node start's RNG derives from it).
    pub seed: u64,
    pub table: ConnTable,
    pub shaper: Shaper,
    pub observer: Arc<SimObserver>,
    /// One signature memo for every node of the run: a vote is checked
    /// once, not once per node (`timed::chain::sig_check`; every node of a
    /// 100-node mesh checks every vote, a fifth of the run's CPU).
    pub sigs: Arc<SigMemo>,
}

impl NodeCtl {
    pub fn new(name: String, cfg: NodeConfig, start_at_ms: u64, run: RunShared) -> Arc<NodeCtl> {
        Arc::new(NodeCtl {
            ip: cfg.listen_ip,
            name,
            cfg,
            disk: SimDisk::default(),
            start_at_ms,
            skew_ms: AtomicI64::new(0),
            api: Mutex::new(None),
            stop: Mutex::new(CancellationToken::new()),
            gate: Arc::new(Gate::default()),
            paused: Arc::new(AtomicBool::new(false)),
            probes: Arc::default(),
            starts: AtomicU64::new(0),
            run,
        })
    }

    pub fn api(&self) -> Option<ApiState> {
        self.api.lock().unwrap().clone()
    }

    /// Forget the running node (before its host is crashed or bounced),
    /// reading its process's counters first.
    pub fn mark_down(&self) {
        self.stopping();
        self.probes.set(None);
        *self.stop.lock().unwrap() = CancellationToken::new();
    }

    /// The running process ends: its last `/metrics` read (exactly once per
    /// process: the API handle is taken), then the node is down.
    pub fn stopping(&self) {
        let api = self.api.lock().unwrap().take();
        if let Some(api) = api {
            self.run.observer.last_metrics(&self.name, &api);
        }
    }

    /// The host's software: wait for the node's start time, start `timed`
    /// on the simulated transport and disk, run until stopped.
    pub async fn software(self: Arc<Self>) -> turmoil::Result {
        let now = now_ms();
        if now < self.start_at_ms {
            tokio::time::sleep(Duration::from_millis(self.start_at_ms - now)).await;
        }
        let start = self.starts.fetch_add(1, Ordering::Relaxed);
        let clock = Clock::with_epoch(1.0, SIM_EPOCH_MS + now_ms()).with_gate(self.gate.clone());
        clock.set_skew_ms(self.skew_ms.load(Ordering::Relaxed));
        let env = NodeEnv {
            transport: SimTransport::shared(
                self.run.table.clone(),
                self.gate.clone(),
                self.run.shaper.clone(),
            ),
            store: Some(StoreLocation::Backend(self.disk.backend())),
            blocking: Blocking::Inline,
            rng: NodeRng::from_seed(node_seed(self.run.seed, self.ip, start)),
            sig_check: SigCheck::Shared(self.run.sigs.clone()),
            serve_api: false,
        };
        let stop = self.stop.lock().unwrap().clone();
        let node = timed::node::start_with(&self.cfg, clock, env)
            .await
            .map_err(|e| format!("{}: {e:#}", self.name))?;
        *self.api.lock().unwrap() = Some(node.api.clone());
        let agent = tokio::spawn(self.run.observer.clone().agent(
            self.name.clone(),
            self.ip,
            node.api.clone(),
            self.paused.clone(),
        ));
        let (jobs, rx) = tokio::sync::mpsc::unbounded_channel();
        let prober = tokio::spawn(super::probe::agent(
            rx,
            self.run.table.clone(),
            self.run.shaper.clone(),
        ));
        self.probes.set(Some(jobs));
        stop.cancelled().await;
        agent.abort();
        prober.abort();
        self.probes.set(None);
        self.stopping();
        node.shutdown().await;
        Ok(())
    }
}

/// A node's RNG seed: the scenario seed, its IP and which start this is.
fn node_seed(seed: u64, ip: IpAddr, start: u64) -> u64 {
    let ip = match ip {
        IpAddr::V4(v4) => u32::from(v4) as u64,
        IpAddr::V6(v6) => u128::from(v6) as u64,
    };
    seed ^ ip.rotate_left(17) ^ start.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}
