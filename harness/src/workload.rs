//! The transaction workload for `tx_delivery` (`[workload] tx_interval`),
//! whatever carries its calls: signed transfers between the testnet's
//! genesis wallets, one every `tx_interval` of protocol time to a node the
//! seed picks among the running ones; at the end every node's chain is read
//! back so the check can see which accepted transactions made it everywhere.
//!
//! The calls go through a [`TxApi`]: HTTP on docker
//! (`runner::workload`), the node's router in-process in the simulation
//! (`sim::workload`).

use crate::observe::model::TxRecord;
use crate::scenario::{ms, Scenario};
use ed25519_dalek::SigningKey;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeSet, HashSet};
use timed::api::types::{StatusView, TxAccepted};
use timed::chain::tx;
use timed::chain::types::{Block, OutPoint, Transaction, TxOut};
use timed::keys;

/// `GET /utxos/{pubkey}` element (mirrors the node's `UtxoView`).
#[derive(serde::Deserialize)]
pub struct Utxo {
    pub outpoint: OutPoint,
    pub output: TxOut,
}

/// One node's API as the workload uses it. Errors are the text the run
/// logs (an API edge).
#[allow(async_fn_in_trait)]
pub trait TxApi {
    async fn utxos(&self, pubkey_hex: &str) -> Result<Vec<Utxo>, String>;
    async fn submit(&self, tx: &Transaction) -> Result<TxAccepted, String>;
    async fn status(&self) -> Result<StatusView, String>;
    async fn block(&self, height: u64) -> Result<Block, String>;
}

pub struct Workload {
    interval_ms: u64,
    next_at: u64,
    /// Wallet keys from the testnet folder, in node order.
    wallets: Vec<SigningKey>,
    turn: usize,
    /// Outputs our submitted transactions spend (the node may not have
    /// finalized them yet, so its UTXO list can still show them).
    spent: HashSet<OutPoint>,
    rng: StdRng,
    pub submitted: Vec<TxRecord>,
    pub rejected: usize,
    last_error: Option<String>,
}

impl Workload {
    /// `None` when the scenario has no `[workload]`.
    pub fn new(sc: &Scenario, testnet: &timed::testnet::Testnet) -> Option<Workload> {
        let w = sc.workload.as_ref()?;
        Some(Workload {
            interval_ms: ms(w.tx_interval).max(1),
            next_at: ms(w.tx_interval),
            wallets: testnet.nodes.iter().map(|n| n.wallet.clone()).collect(),
            turn: 0,
            spent: HashSet::new(),
            rng: StdRng::seed_from_u64(sc.seed ^ 0x7478),
            submitted: Vec::new(),
            rejected: 0,
            last_error: None,
        })
    }

    /// If a transaction is due at `t`, the node (one of `up`) to send it to.
    pub fn due<'a>(&mut self, t: u64, up: &'a [String]) -> Option<&'a String> {
        if t < self.next_at {
            return None;
        }
        self.next_at = t + self.interval_ms;
        if up.is_empty() {
            return None;
        }
        Some(&up[self.rng.gen_range(0..up.len())])
    }

    /// Submit one transaction to `node` and record the outcome.
    pub async fn submit_to<A: TxApi>(&mut self, t: u64, node: String, api: &A) {
        match self.submit_one(api).await {
            Ok(Some(txid)) => self.submitted.push(TxRecord { t, txid, node }),
            Ok(None) => {}
            Err(e) => {
                self.rejected += 1;
                if self.last_error.as_deref() != Some(e.as_str()) {
                    tracing::warn!(node, error = %e, "workload: transaction not accepted");
                    self.last_error = Some(e);
                }
            }
        }
    }

    /// One transfer from the next wallet with unspent funds to another wallet.
    /// `Ok(None)`: no wallet has confirmed funds right now (change pending).
    async fn submit_one<A: TxApi>(&mut self, api: &A) -> Result<Option<String>, String> {
        let n = self.wallets.len();
        for _ in 0..n {
            let from = self.turn % n;
            self.turn += 1;
            let wallet = &self.wallets[from];
            let to = keys::pubkey(&self.wallets[(from + 1) % n]);
            let utxos = api.utxos(&keys::pubkey(wallet).to_hex()).await?;
            let free: Vec<(OutPoint, TxOut)> = utxos
                .into_iter()
                .filter(|u| !self.spent.contains(&u.outpoint))
                .map(|u| (u.outpoint, u.output))
                .collect();
            let amount = self.rng.gen_range(1..=100);
            let Ok(transfer) = tx::build_transfer(wallet, &free, to, amount) else {
                continue;
            };
            let accepted = api.submit(&transfer).await?;
            self.spent.extend(transfer.inputs.iter().map(|i| i.prev));
            return Ok(Some(accepted.txid));
        }
        Ok(None)
    }
}

/// Every txid in one node's chain.
pub async fn read_chain<A: TxApi>(api: &A) -> Result<BTreeSet<String>, String> {
    let status = api.status().await?;
    let mut out = BTreeSet::new();
    for h in 1..=status.height {
        let block = api.block(h).await?;
        out.extend(block.txs.iter().map(|t| tx::txid(t).to_hex()));
    }
    Ok(out)
}
