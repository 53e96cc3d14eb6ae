//! The docker side of the transaction workload ([`crate::workload`]): its
//! calls over HTTP to the node's published API port, a node picked among
//! those the poller saw up, and the end-of-run chain reads.

use crate::observe::recorder::Live;
use crate::provider::docker::DockerCluster;
use crate::workload::{read_chain, TxApi, Utxo};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::time::Duration;
use timed::api::types::{StatusView, TxAccepted};
use timed::chain::types::{Block, Transaction};

pub use crate::workload::Workload;

const TIMEOUT: Duration = Duration::from_secs(2);

/// One node's API over HTTP.
struct Http {
    http: reqwest::Client,
    addr: SocketAddr,
}

impl Http {
    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, String> {
        let url = format!("http://{}{path}", self.addr);
        let resp = self.http.get(&url).timeout(TIMEOUT).send().await;
        let resp = resp.map_err(|e| format!("GET {url}: {e}"))?;
        resp.json().await.map_err(|e| format!("GET {url}: {e}"))
    }
}

impl TxApi for Http {
    async fn utxos(&self, pubkey_hex: &str) -> Result<Vec<Utxo>, String> {
        self.get(&format!("/utxos/{pubkey_hex}")).await
    }

    async fn submit(&self, tx: &Transaction) -> Result<TxAccepted, String> {
        let resp = self
            .http
            .post(format!("http://{}/tx", self.addr))
            .json(tx)
            .timeout(TIMEOUT)
            .send()
            .await
            .map_err(|e| format!("POST /tx: {e}"))?;
        if !resp.status().is_success() {
            let status = resp.status();
            let body = resp.text().await.unwrap_or_default();
            return Err(format!("POST /tx: {status}: {body}"));
        }
        resp.json().await.map_err(|e| e.to_string())
    }

    async fn status(&self) -> Result<StatusView, String> {
        self.get("/status").await
    }

    async fn block(&self, height: u64) -> Result<Block, String> {
        self.get(&format!("/blocks/{height}")).await
    }
}

impl Workload {
    /// Submit one transaction if one is due, to a node the poller saw up.
    pub async fn tick(&mut self, t: u64, cluster: &DockerCluster, live: &HashMap<String, Live>) {
        let mut up: Vec<String> = live
            .iter()
            .filter(|(_, l)| l.up)
            .map(|(n, _)| n.clone())
            .collect();
        up.sort();
        let Some(node) = self.due(t, &up).cloned() else {
            return;
        };
        let Some(addr) = cluster.api_addr(&node) else {
            return;
        };
        let api = Http {
            http: reqwest::Client::new(),
            addr,
        };
        self.submit_to(t, node, &api).await;
    }
}

/// Every node's chain as txids (nodes whose API does not answer are left out).
pub async fn read_chains(
    cluster: &DockerCluster,
    nodes: &[String],
) -> BTreeMap<String, std::collections::BTreeSet<String>> {
    let http = reqwest::Client::new();
    let reads = nodes.iter().map(|n| {
        let http = http.clone();
        async move {
            let addr = cluster.api_addr(n)?;
            let txids = read_chain(&Http { http, addr }).await.ok()?;
            Some((n.clone(), txids))
        }
    });
    futures::future::join_all(reads)
        .await
        .into_iter()
        .flatten()
        .collect()
}
