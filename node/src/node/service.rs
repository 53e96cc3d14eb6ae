//! The chain service: the application side of the node. It consumes
//! [`Inbound`] from the network, runs consensus and sync, and answers peers'
//! requests. CONTRACT: [`ChainContext`], [`start`].
//!
//! One task (the loop below) owns the consensus driver and dispatches
//! network input; the sync task runs beside it. The state they share is
//! [`crate::live::Shared`].

use super::driver::Driver;
use crate::chain::genesis::Genesis;
use crate::chain::sig_check::SigCheck;
use crate::chain::state::ChainState;
use crate::clock::Clock;
use crate::consensus::core::Core;
use crate::constants::{MAX_FRAME, SERVE_WORKERS, SYNC_BATCH, TIMEOUT_PROPOSE};
use crate::env::{Blocking, StoreLocation, WorkPool};
use crate::live::{ChainHandle, Metrics, Shared};
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
    pub sig_check: SigCheck,
    pub net: NetHandle,
    pub inbound: mpsc::Receiver<Inbound>,
}

/// Open the store, start consensus/sync/request handling; returns at once.
pub async fn start(ctx: ChainContext) -> anyhow::Result<ChainHandle> {
    let at = ctx
        .store
        .unwrap_or_else(|| StoreLocation::Dir(ctx.data_dir.clone()));
    let state = ChainState::open_at(at, &ctx.genesis)?;
    let me = crate::chain::keys::node_id(&ctx.key);
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
        serve_pool: WorkPool::new(ctx.blocking, SERVE_WORKERS),
        syncing: AtomicBool::new(false),
        sync_kick: Notify::new(),
        notice_fetch: AtomicU64::new(0),
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
    )
    .with_sig_check(ctx.sig_check);
    let driver = Driver::new(core, shared.clone(), ctx.clock.clone(), me);
    let (advanced_tx, advanced_rx) = mpsc::unbounded_channel();
    tokio::spawn(crate::sync::run(shared.clone(), advanced_tx.clone()));
    let advance = Advance {
        tx: advanced_tx,
        rx: advanced_rx,
    };
    tokio::spawn(run(shared.clone(), driver, ctx.inbound, advance));
    Ok(ChainHandle::new(shared))
}

/// "The chain advanced outside consensus": sync and notice fetches send,
/// the service loop receives and tells the driver.
struct Advance {
    tx: mpsc::UnboundedSender<()>,
    rx: mpsc::UnboundedReceiver<()>,
}

/// The service loop: network input, consensus timers, chain advances.
async fn run(
    shared: Arc<Shared>,
    mut driver: Driver,
    mut inbound: mpsc::Receiver<Inbound>,
    mut advance: Advance,
) {
    let mut rebroadcast = shared.clock.interval(TIMEOUT_PROPOSE);
    loop {
        let deadline = driver.next_deadline();
        // Biased (one fixed order, no runtime randomness): the timers first,
        // they are rare, so a busy inbound queue cannot starve them.
        tokio::select! {
            biased;
            _ = sleep_until(&shared.clock, deadline) => driver.on_deadline(),
            Some(()) = advance.rx.recv() => driver.on_chain_advanced(),
            _ = rebroadcast.tick() => driver.on_rebroadcast_tick(),
            m = inbound.recv() => match m {
                Some(m) => on_inbound(&shared, &mut driver, m, &advance.tx),
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
        *shared.metrics.consensus_rare.lock().unwrap() = driver.rare();
    }
}

async fn sleep_until(clock: &Clock, at: Option<crate::clock::Instant>) {
    match at {
        Some(at) => clock.sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn on_inbound(
    shared: &Arc<Shared>,
    driver: &mut Driver,
    m: Inbound,
    advanced: &mpsc::UnboundedSender<()>,
) {
    match m {
        Inbound::PeerConnected { ip, height, .. } => {
            if height > shared.height() {
                shared.sync_kick.notify_one();
            }
            driver.rebroadcast(Some(ip));
        }
        Inbound::Request { from, id, body } => answer(shared, from, id, body),
        Inbound::Message { from, msg } => match msg {
            NetworkMessage::Consensus { msg, sent_to } => {
                driver.on_peer_message(from, msg, sent_to)
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
            NetworkMessage::NewTip { height, .. } => {
                crate::sync::on_new_tip(shared, from, height, advanced)
            }
            _ => {}
        },
    }
}

/// Answer a peer's request. Block ranges are read and encoded off the
/// service loop, in the bounded serve pool; how many wait for it is bounded
/// by the net layer's per-peer in-flight cap.
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
            tokio::spawn(async move {
                let pool = shared.serve_pool.clone();
                pool.run(move || {
                    let r = match shared
                        .store
                        .blocks(start, count.min(SYNC_BATCH), MAX_FRAME / 2)
                    {
                        Ok(blocks) => Response::Blocks { blocks },
                        Err(e) => Response::Error {
                            reason: format!("store: {e:#}"),
                        },
                    };
                    // Encoded here too, on the pool's worker.
                    if let Err(e) = shared.net.respond(from, id, r) {
                        tracing::debug!(peer = %from, error = %e, "blocks response not sent");
                    }
                })
                .await
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
        Request::GetPeers | Request::Unknown => reply(Response::Error {
            reason: "answered by the network layer".into(),
        }),
    }
}
