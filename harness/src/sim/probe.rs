//! Protocol faults in the simulation: the docker provider's probe protocol
//! (`nemesis::probe`: what a fault sends, how answers are classified) on a
//! second transport.
//!
//! A turmoil host is an IP, so a connection opened by software running in
//! a node's host leaves with that node's address, as a socket made in a
//! container's namespace does on docker. Each running node's host
//! therefore runs an [`agent`] beside `timed`: it opens the connections the
//! probes make as that node and talks on them with the shared
//! [`talk`]. The fault itself runs in the [`prober`] client (it opens no
//! socket of its own): the sim nemesis hands it the fault through a
//! channel and steps the simulation until its answers are back, as the
//! docker nemesis awaits a probe.
//!
//! The agent's connections go through the node's kernel view
//! ([`ConnTable`]) and link shaping like the node's own, but not through
//! its freeze gate: a socket in a frozen container's namespace still
//! works on docker.

use super::shaper::Shaper;
use super::transport::{ConnTable, SimTransport};
use crate::nemesis::probe::{self, talk, Identities, Identity, ProbeNet, Probed, Side, Talk};
use crate::nemesis::schedule::Fault;
use crate::observe::model::ProbeAnswer;
use crate::splitmix::SplitMix;
use futures::future::LocalBoxFuture;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use timed::gate::Gate;
use tokio::sync::{mpsc, oneshot};

/// One connection to make as the agent's node.
pub struct Job {
    to: SocketAddr,
    who: Identity,
    talk: Talk,
    reply: oneshot::Sender<Probed>,
}

/// Where a running node's agent takes its jobs.
pub type AgentTx = mpsc::UnboundedSender<Job>;

/// A node's agent while it runs, `None` while it is down. Filled and
/// cleared by the node's host (`super::host`), read by [`SimNet`].
#[derive(Default)]
pub struct AgentSlot(Mutex<Option<AgentTx>>);

impl AgentSlot {
    pub fn set(&self, agent: Option<AgentTx>) {
        *self.0.lock().unwrap() = agent;
    }

    pub fn get(&self) -> Option<AgentTx> {
        self.0.lock().unwrap().clone()
    }
}

/// The answers of one protocol fault and its one-line summary, or why it
/// could not be carried out.
pub type Outcome = Result<(Vec<ProbeAnswer>, String), String>;

/// One protocol fault for the prober, begun at protocol ms `now`.
pub struct Request {
    pub fault: Fault,
    pub now: u64,
    pub reply: oneshot::Sender<Outcome>,
}

/// Run inside a node's host for as long as the node runs: each job is a
/// connection from this host (the node's IP) and the probe's talk on it.
pub async fn agent(mut jobs: mpsc::UnboundedReceiver<Job>, table: ConnTable, shaper: Shaper) {
    // Its own gate, never closed: a pause freezes the node, not the probe.
    let transport = SimTransport::shared(table, Arc::new(Gate::default()), shaper);
    while let Some(job) = jobs.recv().await {
        let transport = transport.clone();
        tokio::spawn(async move {
            let got = match transport.connect(job.who.ip, job.to).await {
                Ok(c) => talk(c.read, c.write, &job.who, job.talk, &|| Ok(())).await,
                Err(e) => Probed::failed(format!("connect to {}: {e}", job.to)),
            };
            let _ = job.reply.send(got);
        });
    }
}

/// The sim's [`ProbeNet`]: a dial as a node is a job for its host's agent.
pub struct SimNet {
    agents: BTreeMap<String, Arc<AgentSlot>>,
    table: ConnTable,
    nonces: Mutex<SplitMix>,
}

impl SimNet {
    /// Each node's agent slot by name, and the network's connection table.
    pub fn new(agents: BTreeMap<String, Arc<AgentSlot>>, table: ConnTable, seed: u64) -> Self {
        SimNet {
            agents,
            table,
            nonces: Mutex::new(SplitMix(seed ^ 0x7072_6f62_6573)),
        }
    }
}

impl ProbeNet for SimNet {
    type Ready = AgentTx;

    fn ready<'a>(&'a self, from: &'a Side<'_>) -> LocalBoxFuture<'a, Result<AgentTx, String>> {
        let agent = self.agents.get(from.name).and_then(|a| a.get());
        Box::pin(async move { agent.ok_or_else(|| format!("{} is not running", from.name)) })
    }

    fn probe<'a>(
        &'a self,
        agent: AgentTx,
        from: &'a Side<'_>,
        to: &'a Side<'_>,
        talk: Talk,
    ) -> LocalBoxFuture<'a, Probed> {
        Box::pin(async move {
            let (reply, answer) = oneshot::channel();
            let job = Job {
                to: to.addr(),
                who: from.id.clone(),
                talk,
                reply,
            };
            if agent.send(job).is_err() {
                return Probed::failed(format!("{} is not running", from.name));
            }
            answer
                .await
                .unwrap_or_else(|_| Probed::failed(format!("{} went down mid-probe", from.name)))
        })
    }

    fn dials<'a>(
        &'a self,
        from: &'a Side<'_>,
        to: &'a Side<'_>,
    ) -> LocalBoxFuture<'a, Result<BTreeSet<u16>, String>> {
        let ports = self
            .table
            .of_host(from.id.ip, to.id.p2p_port)
            .into_iter()
            .filter(|c| SocketAddr::new(c.remote_ip, c.remote_port) == to.addr())
            .map(|c| c.local_port)
            .collect();
        Box::pin(async move { Ok(ports) })
    }

    fn nonce(&self) -> u64 {
        self.nonces.lock().unwrap().next_u64()
    }

    fn clock(&self) -> fn() -> std::time::Duration {
        || turmoil::sim_elapsed().unwrap_or_default()
    }
}

/// The turmoil client that carries out protocol faults, one at a time, in
/// virtual time (time scale 1); ends when the nemesis drops its sender.
pub async fn prober(
    mut requests: mpsc::UnboundedReceiver<Request>,
    net: SimNet,
    ids: Identities,
) -> turmoil::Result {
    while let Some(r) = requests.recv().await {
        let stamp = probe::Stamp {
            now: r.now,
            began: tokio::time::Instant::now(),
            time_scale: 1.0,
        };
        let out = probe::run_on(&r.fault, &ids, &net, stamp)
            .await
            .map_err(|e| format!("{e:#}"));
        let _ = r.reply.send(out);
    }
    Ok(())
}
