//! The node's orchestrator: assembles one running node from its parts
//! (net, chain, consensus, sync, API) and runs the service loop that ties
//! them together. It sits above all of them: none of them imports it.
//!
//! | file | what |
//! |---|---|
//! | [`service`] | the service loop: network dispatch, consensus, sync, answering requests |
//! | [`driver`] | the consensus driver: feeds the pure core from the network and timers, persists before sending |
//! | [`gossip`] | which peer holds which consensus message: relay only where it may be missing, flood only a stuck height |

mod driver;
mod gossip;
pub mod service;

use crate::api::{self, ApiState};
use crate::chain::genesis::Genesis;
use crate::chain::keys;
use crate::clock::Clock;
use crate::config::NodeConfig;
use crate::constants::API_STOP_TIMEOUT;
use crate::env::NodeEnv;
use crate::live::ChainHandle;
use crate::net::{self, NetConfig, NetHandle};
use anyhow::Context;
use service::ChainContext;
use std::net::SocketAddr;
use tokio_util::sync::CancellationToken;
use tracing::info;

pub struct Node {
    pub net: NetHandle,
    pub chain: ChainHandle,
    pub p2p_addr: SocketAddr,
    pub api_addr: SocketAddr,
    /// The API's state: serve it with [`api::router`] in-process.
    pub api: ApiState,
    api_stop: CancellationToken,
    api_task: Option<tokio::task::JoinHandle<()>>,
}

/// Start every part of the node described by `cfg`; returns once the P2P
/// and API sockets are bound.
pub async fn start(cfg: &NodeConfig, clock: Clock) -> anyhow::Result<Node> {
    start_with(cfg, clock, NodeEnv::os()).await
}

/// [`start`] in the environment `env` (transport, storage, blocking work,
/// randomness, whether to serve the API).
pub async fn start_with(cfg: &NodeConfig, clock: Clock, env: NodeEnv) -> anyhow::Result<Node> {
    let genesis = Genesis::load(&cfg.genesis)?;
    let key = keys::load(&cfg.key)?;
    let node_id = keys::node_id(&key);
    if env.store.is_none() {
        std::fs::create_dir_all(&cfg.data_dir)
            .with_context(|| format!("creating data dir {}", cfg.data_dir.display()))?;
    }
    let net_cfg = NetConfig {
        listen_ip: cfg.listen_ip,
        p2p_port: cfg.p2p_port,
        network: genesis.network.clone(),
        genesis_hash: genesis.hash(),
        key: key.clone(),
        masternodes: genesis.masternodes.iter().map(|m| m.node_id).collect(),
        bootstrap: cfg.bootstrap.clone(),
        height: 0,
    };
    let (net, inbound) = net::start_with(net_cfg, clock.clone(), env.transport, env.rng)
        .await
        .with_context(|| format!("binding P2P on {}", cfg.p2p_addr()))?;
    let chain = service::start(ChainContext {
        clock: clock.clone(),
        genesis,
        key,
        masternode: cfg.masternode,
        data_dir: cfg.data_dir.clone(),
        store: env.store,
        blocking: env.blocking,
        sig_check: env.sig_check,
        net: net.clone(),
        inbound,
    })
    .await?;
    let api_stop = CancellationToken::new();
    let state = ApiState {
        net: net.clone(),
        chain: chain.clone(),
        clock,
        node_id: node_id.to_hex(),
        ip: cfg.listen_ip,
        masternode: cfg.masternode,
    };
    let api_task = if env.serve_api {
        let stop = api_stop.clone().cancelled_owned();
        Some(api::serve(cfg.api_addr(), state.clone(), stop).await?)
    } else {
        None
    };
    info!(
        name = %cfg.name,
        ip = %cfg.listen_ip,
        node_id = %node_id,
        p2p = %cfg.p2p_addr(),
        api = %cfg.api_addr(),
        "node started"
    );
    Ok(Node {
        net,
        chain,
        p2p_addr: cfg.p2p_addr(),
        api_addr: cfg.api_addr(),
        api: state,
        api_stop,
        api_task,
    })
}

impl Node {
    /// Close every connection with reason `shutdown`, then stop the API.
    pub async fn shutdown(self) {
        self.net.shutdown().await;
        self.api_stop.cancel();
        if let Some(task) = self.api_task {
            let clock = self.api.clock.clone();
            let _ = clock.timeout(API_STOP_TIMEOUT, task).await;
        }
    }
}
