//! The chain service: the application side of the node. It consumes
//! [`Inbound`] from the network, runs consensus and sync, and answers peers'
//! requests. CONTRACT: [`ChainContext`], [`start`], [`ChainHandle`] methods.
//!
//! Ownership: [`Shared`] holds the chain state behind one mutex (short,
//! synchronous critical sections only) plus lock-free copies of what the
//! API polls. One task (the loop below) owns the consensus driver and
//! dispatches network input; the sync task runs beside it.

use super::genesis::Genesis;
use super::state::ChainState;
use super::store::Store;
use super::types::{Block, Hash, OutPoint, PubKey, Transaction, TxOut};
use crate::api::types::EventKind;
use crate::clock::Clock;
use crate::consensus::core::Core;
use crate::consensus::driver::Driver;
use crate::constants::{MAX_FRAME, SYNC_BATCH, TIMEOUT_PROPOSE};
use crate::env::{Blocking, StoreLocation};
use crate::net::{Inbound, NetHandle};
use crate::wire::{MasternodeInfo, NetworkMessage, Request, Response};
use ed25519_dalek::SigningKey;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, Notify};

pub struct ChainContext {
    pub clock: Clock,
    pub genesis: Genesis,
    pub key: SigningKey,
    pub masternode: bool,
    pub data_dir: PathBuf,
    /// `None`: `data_dir`.
    pub store: Option<StoreLocation>,
    pub blocking: Blocking,
    pub net: NetHandle,
    pub inbound: mpsc::Receiver<Inbound>,
}

/// Why a transaction was refused (the API turns this into a 4xx).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TxError {
    #[error("{0}")]
    Invalid(String),
    #[error("mempool full")]
    MempoolFull,
}

#[derive(Default)]
pub struct Metrics {
    pub blocks_finalized: AtomicU64,
    pub blocks_synced: AtomicU64,
    pub txs_accepted: AtomicU64,
    pub txs_rejected: AtomicU64,
    pub consensus_round: AtomicU64,
}

/// State shared by the service loop, the sync task and the API.
pub struct Shared {
    pub state: Mutex<ChainState>,
    pub store: Arc<Store>,
    pub genesis: Genesis,
    pub genesis_hash: Hash,
    pub net: NetHandle,
    pub clock: Clock,
    /// How store reads/writes and signature batches run (see [`Blocking`]).
    pub blocking: Blocking,
    height: AtomicU64,
    tip_hash: Mutex<Hash>,
    pub syncing: AtomicBool,
    /// Wakes the sync task (a peer is ahead of us).
    pub sync_kick: Notify,
    pub metrics: Metrics,
}

impl Shared {
    pub fn height(&self) -> u64 {
        self.height.load(Ordering::Acquire)
    }

    /// Copy the tip out of the locked state for lock-free readers, and tell
    /// the network what to advertise in handshakes.
    pub fn publish_tip(&self, st: &ChainState) {
        *self.tip_hash.lock().unwrap() = st.tip_hash;
        self.height.store(st.height(), Ordering::Release);
        self.net.set_height(st.height());
    }

    /// Bookkeeping for every newly final block, whatever its source.
    pub fn on_finalized(&self, height: u64, block: &Block, source: &str) {
        self.metrics
            .blocks_finalized
            .fetch_add(1, Ordering::Relaxed);
        self.net.events().record(
            EventKind::BlockFinalized,
            None,
            None,
            Some(format!(
                "height={height} hash={} txs={} source={source}",
                super::block::hash(block),
                block.txs.len()
            )),
        );
    }
}

#[derive(Clone)]
pub struct ChainHandle {
    shared: Arc<Shared>,
}

/// Open the store, start consensus/sync/request handling; returns at once.
pub async fn start(ctx: ChainContext) -> anyhow::Result<ChainHandle> {
    let at = ctx
        .store
        .unwrap_or_else(|| StoreLocation::Dir(ctx.data_dir.clone()));
    let state = ChainState::open_at(at, &ctx.genesis)?;
    let me = crate::keys::node_id(&ctx.key);
    let in_genesis = state.validators.weight(&me).is_some();
    if ctx.masternode && !in_genesis {
        tracing::warn!(node_id = %me, "configured as masternode but not in genesis: following only");
    }
    let last_signed = state.store.last_signed()?;
    tracing::info!(
        height = state.height(),
        tip = %state.tip_hash,
        validators = state.validators.len(),
        masternode = ctx.masternode && in_genesis,
        "chain opened"
    );
    let shared = Arc::new(Shared {
        store: state.store.clone(),
        genesis_hash: ctx.genesis.hash(),
        height: AtomicU64::new(state.height()),
        tip_hash: Mutex::new(state.tip_hash),
        state: Mutex::new(state),
        genesis: ctx.genesis,
        net: ctx.net,
        clock: ctx.clock.clone(),
        blocking: ctx.blocking,
        syncing: AtomicBool::new(false),
        sync_kick: Notify::new(),
        metrics: Metrics::default(),
    });
    shared.net.set_height(shared.height());
    // Only configured masternodes that are in genesis sign anything: a core
    // with a key outside the validator set follows without voting.
    let key = if ctx.masternode {
        ctx.key
    } else {
        SigningKey::from_bytes(&[0u8; 32])
    };
    let validators = shared.state.lock().unwrap().validators.clone();
    let core = Core::new(
        shared.genesis_hash,
        key,
        validators,
        shared.height() + 1,
        last_signed,
    );
    let driver = Driver::new(core, shared.clone(), ctx.clock.clone(), me);
    let (advanced_tx, advanced_rx) = mpsc::unbounded_channel();
    tokio::spawn(crate::sync::run(shared.clone(), advanced_tx));
    tokio::spawn(run(shared.clone(), driver, ctx.inbound, advanced_rx));
    Ok(ChainHandle { shared })
}

/// The service loop: network input, consensus timers, chain advances.
async fn run(
    shared: Arc<Shared>,
    mut driver: Driver,
    mut inbound: mpsc::Receiver<Inbound>,
    mut advanced: mpsc::UnboundedReceiver<()>,
) {
    let mut rebroadcast = shared.clock.interval(TIMEOUT_PROPOSE);
    loop {
        let deadline = driver.next_deadline();
        // Biased (one fixed order, no runtime randomness): the timers first,
        // they are rare, so a busy inbound queue cannot starve them.
        tokio::select! {
            biased;
            _ = sleep_until(&shared.clock, deadline) => driver.on_deadline(),
            Some(()) = advanced.recv() => driver.on_chain_advanced(),
            _ = rebroadcast.tick() => driver.rebroadcast(None),
            m = inbound.recv() => match m {
                Some(m) => on_inbound(&shared, &mut driver, m),
                None => {
                    tracing::info!("network closed; chain service stops");
                    return;
                }
            },
        }
        shared
            .metrics
            .consensus_round
            .store(driver.round() as u64, Ordering::Relaxed);
    }
}

async fn sleep_until(clock: &Clock, at: Option<crate::clock::Instant>) {
    match at {
        Some(at) => clock.sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn on_inbound(shared: &Arc<Shared>, driver: &mut Driver, m: Inbound) {
    match m {
        Inbound::PeerConnected { ip, height, .. } => {
            if height > shared.height() {
                shared.sync_kick.notify_one();
            }
            driver.rebroadcast(Some(ip));
        }
        Inbound::PeerDisconnected { .. } => {}
        Inbound::Request { from, id, body } => answer(shared, from, id, body),
        Inbound::Message { from, msg } => match msg {
            NetworkMessage::Consensus { msg } => {
                let fresh = driver.on_message(Some(from), msg.clone());
                if fresh {
                    // Relay once (duplicates are refused before this), so
                    // consensus also works across a non-full mesh.
                    shared
                        .net
                        .broadcast_except(&NetworkMessage::Consensus { msg }, from);
                }
            }
            NetworkMessage::Transaction { tx } => {
                let r = shared.state.lock().unwrap().submit(tx.clone());
                match r {
                    Ok(_) => {
                        shared.metrics.txs_accepted.fetch_add(1, Ordering::Relaxed);
                        shared
                            .net
                            .broadcast_except(&NetworkMessage::Transaction { tx }, from);
                    }
                    Err(e) => tracing::debug!(peer = %from, reason = %e, "gossiped tx not added"),
                }
            }
            NetworkMessage::BlockAnnouncement { block } => {
                let advanced = crate::sync::on_announcement(shared, from, block);
                if advanced {
                    driver.on_chain_advanced();
                }
            }
            _ => {}
        },
    }
}

/// Answer a peer's request. Block ranges are read off the service loop.
fn answer(shared: &Arc<Shared>, from: IpAddr, id: u64, body: Request) {
    let reply = |r: Response| {
        if let Err(e) = shared.net.respond(from, id, r) {
            tracing::debug!(peer = %from, error = %e, "response not sent");
        }
    };
    match body {
        Request::GetTip => reply(Response::Tip {
            height: shared.height(),
            hash: *shared.tip_hash.lock().unwrap(),
        }),
        Request::GetBlockHash { height } => {
            let hash = shared.state.lock().unwrap().block_hash_at(height);
            reply(Response::BlockHash { height, hash })
        }
        Request::GetBlocks { from: start, count } => {
            let shared = shared.clone();
            shared.clone().blocking.spawn(move || {
                let r = match shared
                    .store
                    .blocks(start, count.min(SYNC_BATCH), MAX_FRAME / 2)
                {
                    Ok(blocks) => Response::Blocks { blocks },
                    Err(e) => Response::Error {
                        reason: format!("store: {e:#}"),
                    },
                };
                if let Err(e) = shared.net.respond(from, id, r) {
                    tracing::debug!(peer = %from, error = %e, "blocks response not sent");
                }
            });
        }
        Request::GetPendingTransactions => reply(Response::PendingTransactions {
            txs: shared
                .state
                .lock()
                .unwrap()
                .mempool
                .take(crate::constants::MAX_BLOCK_TXS),
        }),
        Request::GetMasternodes => reply(Response::Masternodes {
            masternodes: shared
                .genesis
                .masternodes
                .iter()
                .map(|m| MasternodeInfo {
                    node_id: m.node_id,
                    tier: format!("{:?}", m.tier).to_lowercase(),
                    weight: m.tier.weight(),
                    ip: m.ip,
                })
                .collect(),
        }),
        Request::GetPeers => reply(Response::Error {
            reason: "GetPeers is answered by the network layer".into(),
        }),
    }
}

impl ChainHandle {
    pub fn height(&self) -> u64 {
        self.shared.height()
    }
    pub fn tip_hash(&self) -> Hash {
        *self.shared.tip_hash.lock().unwrap()
    }
    pub fn genesis_hash(&self) -> Hash {
        self.shared.genesis_hash
    }
    pub fn syncing(&self) -> bool {
        self.shared.syncing.load(Ordering::Relaxed)
    }
    pub fn block(&self, height: u64) -> Option<Block> {
        self.shared.store.block(height).ok().flatten()
    }
    /// Validate and add to the mempool, then gossip. Returns the txid.
    pub fn submit_tx(&self, tx: Transaction) -> Result<Hash, TxError> {
        let r = self.shared.state.lock().unwrap().submit(tx.clone());
        match &r {
            Ok(id) => {
                self.shared
                    .metrics
                    .txs_accepted
                    .fetch_add(1, Ordering::Relaxed);
                tracing::info!(txid = %id, "transaction accepted");
                self.shared
                    .net
                    .broadcast(&NetworkMessage::Transaction { tx });
            }
            Err(e) => {
                self.shared
                    .metrics
                    .txs_rejected
                    .fetch_add(1, Ordering::Relaxed);
                tracing::info!(reason = %e, "transaction rejected");
            }
        }
        r
    }
    /// Spendable outputs owned by `owner` (what a wallet builds from).
    pub fn utxos_of(&self, owner: &PubKey) -> Vec<(OutPoint, TxOut)> {
        self.shared.state.lock().unwrap().utxo.owned_by(owner)
    }
    pub fn mempool_len(&self) -> usize {
        self.shared.state.lock().unwrap().mempool.len()
    }
    /// Prometheus text lines for the chain's metrics.
    pub fn metrics_text(&self) -> String {
        let m = &self.shared.metrics;
        let g = |v: &AtomicU64| v.load(Ordering::Relaxed);
        let (mempool, utxos) = {
            let st = self.shared.state.lock().unwrap();
            (st.mempool.len(), st.utxo.len())
        };
        format!(
            "# TYPE timed_chain_height gauge\ntimed_chain_height {}\n\
             # TYPE timed_chain_syncing gauge\ntimed_chain_syncing {}\n\
             # TYPE timed_blocks_finalized_total counter\ntimed_blocks_finalized_total {}\n\
             # TYPE timed_blocks_synced_total counter\ntimed_blocks_synced_total {}\n\
             # TYPE timed_txs_accepted_total counter\ntimed_txs_accepted_total {}\n\
             # TYPE timed_txs_rejected_total counter\ntimed_txs_rejected_total {}\n\
             # TYPE timed_mempool_txs gauge\ntimed_mempool_txs {}\n\
             # TYPE timed_utxos gauge\ntimed_utxos {}\n\
             # TYPE timed_consensus_round gauge\ntimed_consensus_round {}\n",
            self.height(),
            self.syncing() as u8,
            g(&m.blocks_finalized),
            g(&m.blocks_synced),
            g(&m.txs_accepted),
            g(&m.txs_rejected),
            mempool,
            utxos,
            g(&m.consensus_round),
        )
    }
}
