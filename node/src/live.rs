//! The live chain: state shared by the node's tasks (the service loop,
//! the consensus driver, sync) and read by the API through [`ChainHandle`].
//!
//! Ownership: [`Shared`] holds the chain state behind one mutex (short,
//! synchronous critical sections only) plus lock-free copies of what the
//! API polls. It sits below the orchestrator ([`crate::node`]), so consensus
//! and sync use it without importing the orchestrator.

use crate::chain::block;
use crate::chain::genesis::Genesis;
use crate::chain::mempool::TxError;
use crate::chain::state::ChainState;
use crate::chain::store::Store;
use crate::chain::types::{Block, Hash, OutPoint, PubKey, Transaction, TxOut};
use crate::clock::Clock;
use crate::consensus::rare::RareEvents;
use crate::constants::FINALITY_LATENCY_BUCKETS;
use crate::env::{Blocking, WorkPool};
use crate::histogram::Histogram;
use crate::net::{EventKind, NetHandle};
use crate::wire::NetworkMessage;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

pub struct Metrics {
    pub blocks_finalized: AtomicU64,
    pub blocks_synced: AtomicU64,
    pub txs_accepted: AtomicU64,
    pub txs_rejected: AtomicU64,
    pub consensus_round: AtomicU64,
    /// The consensus core's rare events (copied from it by the service loop).
    pub consensus_rare: Mutex<RareEvents>,
    /// Catch-ups (sync that applied blocks) started with exactly one peer
    /// connected: the node relied on one peer for its chain.
    pub catchups_one_peer: AtomicU64,
    /// First proposal seen (or sent) at a height -> that height committed
    /// by consensus here (synced blocks are not counted).
    pub finality_latency: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            blocks_finalized: AtomicU64::default(),
            blocks_synced: AtomicU64::default(),
            txs_accepted: AtomicU64::default(),
            txs_rejected: AtomicU64::default(),
            consensus_round: AtomicU64::default(),
            consensus_rare: Mutex::new(RareEvents::default()),
            catchups_one_peer: AtomicU64::default(),
            finality_latency: Histogram::new(FINALITY_LATENCY_BUCKETS),
        }
    }
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
    /// Where peers' block-range requests are served: `SERVE_WORKERS` at once.
    pub serve_pool: WorkPool,
    pub(crate) height: AtomicU64,
    pub(crate) tip_hash: Mutex<Hash>,
    pub syncing: AtomicBool,
    /// Wakes the sync task (a peer is ahead of us).
    pub sync_kick: Notify,
    /// The height a `NewTip` notice is fetching, 0 when none is: one fetch
    /// at a time, however many peers announce the same block
    /// ([`crate::sync::on_new_tip`]).
    pub notice_fetch: AtomicU64,
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
                block::hash(block),
                block.txs.len()
            )),
        );
    }
}

/// The API's and the node's handle to the running chain.
#[derive(Clone)]
pub struct ChainHandle {
    shared: Arc<Shared>,
}

impl ChainHandle {
    pub fn new(shared: Arc<Shared>) -> Self {
        ChainHandle { shared }
    }

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
        let mut text = format!(
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
        );
        let rare = *m.consensus_rare.lock().unwrap();
        for (name, help, v) in [
            (
                "consensus_rounds_above_zero_total",
                "Consensus rounds above 0 started.",
                rare.rounds_above_zero,
            ),
            (
                "consensus_nil_precommits_total",
                "Nil precommits cast.",
                rare.nil_precommits,
            ),
            (
                "consensus_lock_changes_total",
                "Locks moved from one value to another.",
                rare.lock_changes,
            ),
            (
                "consensus_locks_restored_total",
                "Locks restored from the store after a restart mid-height.",
                rare.locks_restored,
            ),
            (
                "catchups_one_peer_total",
                "Catch-ups that applied blocks with exactly one peer connected.",
                g(&m.catchups_one_peer),
            ),
        ] {
            text.push_str(&format!(
                "# HELP timed_{name} {help}\n# TYPE timed_{name} counter\ntimed_{name} {v}\n"
            ));
        }
        m.finality_latency.render(
            &mut text,
            "timed_finality_latency_seconds",
            "First proposal seen at a height to its commit (wall seconds).",
        );
        text
    }
}
