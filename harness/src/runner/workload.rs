//! The transaction workload for `tx_delivery` (`[workload] tx_interval`):
//! signed transfers between the testnet's genesis wallets, submitted to a
//! random running node every `tx_interval` of protocol time; at the end,
//! every node's chain is read back so the check can see which accepted
//! transactions made it everywhere.

use crate::observe::model::TxRecord;
use crate::observe::recorder::Live;
use crate::provider::docker::DockerCluster;
use crate::scenario::{ms, Scenario};
use ed25519_dalek::SigningKey;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::SocketAddr;
use std::time::Duration;
use timed::api::types::{StatusView, TxAccepted};
use timed::chain::tx;
use timed::chain::types::{Block, OutPoint, TxOut};
use timed::keys;

/// `GET /utxos/{pubkey}` element (mirrors the node's `UtxoView`).
#[derive(serde::Deserialize)]
struct Utxo {
    outpoint: OutPoint,
    output: TxOut,
}

const TIMEOUT: Duration = Duration::from_secs(2);

pub struct Workload {
    interval_ms: u64,
    next_at: u64,
    /// (node name, wallet key) from the testnet folder.
    wallets: Vec<SigningKey>,
    turn: usize,
    /// Outputs our submitted transactions spend (the node may not have
    /// finalized them yet, so its UTXO list can still show them).
    spent: HashSet<OutPoint>,
    rng: StdRng,
    http: reqwest::Client,
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
            http: reqwest::Client::new(),
            submitted: Vec::new(),
            rejected: 0,
            last_error: None,
        })
    }

    /// Submit one transaction if one is due.
    pub async fn tick(&mut self, t: u64, cluster: &DockerCluster, live: &HashMap<String, Live>) {
        if t < self.next_at {
            return;
        }
        self.next_at = t + self.interval_ms;
        let up: Vec<&String> = live.iter().filter(|(_, l)| l.up).map(|(n, _)| n).collect();
        if up.is_empty() {
            return;
        }
        let node = up[self.rng.gen_range(0..up.len())].clone();
        let Some(addr) = cluster.api_addr(&node) else {
            return;
        };
        match self.submit_one(addr).await {
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
    async fn submit_one(&mut self, addr: SocketAddr) -> Result<Option<String>, String> {
        let n = self.wallets.len();
        for _ in 0..n {
            let from = self.turn % n;
            self.turn += 1;
            let wallet = &self.wallets[from];
            let to = keys::pubkey(&self.wallets[(from + 1) % n]);
            let url = format!("http://{addr}/utxos/{}", keys::pubkey(wallet).to_hex());
            let utxos: Vec<Utxo> = self
                .http
                .get(&url)
                .timeout(TIMEOUT)
                .send()
                .await
                .map_err(|e| format!("GET {url}: {e}"))?
                .json()
                .await
                .map_err(|e| format!("GET {url}: {e}"))?;
            let free: Vec<(OutPoint, TxOut)> = utxos
                .into_iter()
                .filter(|u| !self.spent.contains(&u.outpoint))
                .map(|u| (u.outpoint, u.output))
                .collect();
            let amount = self.rng.gen_range(1..=100);
            let Ok(transfer) = tx::build_transfer(wallet, &free, to, amount) else {
                continue;
            };
            let resp = self
                .http
                .post(format!("http://{addr}/tx"))
                .json(&transfer)
                .timeout(TIMEOUT)
                .send()
                .await
                .map_err(|e| format!("POST /tx: {e}"))?;
            if !resp.status().is_success() {
                let status = resp.status();
                let body = resp.text().await.unwrap_or_default();
                return Err(format!("POST /tx: {status}: {body}"));
            }
            let accepted: TxAccepted = resp.json().await.map_err(|e| e.to_string())?;
            self.spent.extend(transfer.inputs.iter().map(|i| i.prev));
            return Ok(Some(accepted.txid));
        }
        Ok(None)
    }
}

/// Every node's chain as txids (nodes whose API does not answer are left out).
pub async fn read_chains(
    cluster: &DockerCluster,
    nodes: &[String],
) -> BTreeMap<String, BTreeSet<String>> {
    let http = reqwest::Client::new();
    let reads = nodes.iter().map(|n| {
        let http = http.clone();
        async move {
            let addr = cluster.api_addr(n)?;
            let txids = read_chain(&http, addr).await.ok()?;
            Some((n.clone(), txids))
        }
    });
    futures::future::join_all(reads)
        .await
        .into_iter()
        .flatten()
        .collect()
}

async fn read_chain(http: &reqwest::Client, addr: SocketAddr) -> reqwest::Result<BTreeSet<String>> {
    let status: StatusView = get_json(http, format!("http://{addr}/status")).await?;
    let mut out = BTreeSet::new();
    for h in 1..=status.height {
        let block: Block = get_json(http, format!("http://{addr}/blocks/{h}")).await?;
        out.extend(block.txs.iter().map(|t| tx::txid(t).to_hex()));
    }
    Ok(out)
}

async fn get_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: String,
) -> reqwest::Result<T> {
    http.get(url).timeout(TIMEOUT).send().await?.json().await
}
