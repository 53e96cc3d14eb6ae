//! The transaction workload in the simulation: a turmoil client that, every
//! `tx_interval` of virtual time, submits a transfer to a running node
//! through the node's own router in-process (as the poller reads it, see
//! `observe.rs`), and at the end reads every running node's chain, so
//! `tx_delivery` checks the simulated run as it checks a docker one.

use super::clock::now_ms;
use super::constants::WORKLOAD_WAKE as WAKE;
use crate::workload::{read_chain, TxApi, Utxo, Workload};
use axum::body::Body;
use axum::http::Request;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use timed::api::types::{StatusView, TxAccepted};
use timed::api::ApiState;
use timed::chain::types::{Block, Transaction};
use tower::ServiceExt;

/// What the workload leaves for the timeline.
#[derive(Default)]
pub struct WorkloadResult {
    pub submitted: Vec<crate::observe::model::TxRecord>,
    pub rejected: usize,
    pub chains: BTreeMap<String, BTreeSet<String>>,
}

/// A node's API as its router answers in-process.
struct Router(ApiState);

impl Router {
    async fn call<T: serde::de::DeserializeOwned>(&self, req: Request<Body>) -> Result<T, String> {
        let what = format!("{} {}", req.method(), req.uri());
        let resp = timed::api::router(self.0.clone())
            .oneshot(req)
            .await
            .map_err(|e| format!("{what}: {e}"))?;
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .map_err(|e| format!("{what}: {e}"))?;
        if !status.is_success() {
            return Err(format!(
                "{what}: {status}: {}",
                String::from_utf8_lossy(&bytes)
            ));
        }
        serde_json::from_slice(&bytes).map_err(|e| format!("{what}: {e}"))
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, String> {
        let req = Request::get(path).body(Body::empty());
        self.call(req.map_err(|e| e.to_string())?).await
    }
}

impl TxApi for Router {
    async fn utxos(&self, pubkey_hex: &str) -> Result<Vec<Utxo>, String> {
        self.get(&format!("/utxos/{pubkey_hex}")).await
    }

    async fn submit(&self, tx: &Transaction) -> Result<TxAccepted, String> {
        let body = serde_json::to_vec(tx).map_err(|e| e.to_string())?;
        let req = Request::post("/tx")
            .header("content-type", "application/json")
            .body(Body::from(body))
            .map_err(|e| e.to_string())?;
        self.call(req).await
    }

    async fn status(&self) -> Result<StatusView, String> {
        self.get("/status").await
    }

    async fn block(&self, height: u64) -> Result<Block, String> {
        self.get(&format!("/blocks/{height}")).await
    }
}

/// The workload client: runs until `until_ms`, then reads the chains.
/// `up()` lists the nodes answering their API now (running, not paused),
/// in node order, with their API.
pub async fn run<F>(
    mut w: Workload,
    until_ms: u64,
    up: F,
    out: Arc<Mutex<WorkloadResult>>,
) -> turmoil::Result
where
    F: Fn() -> Vec<(String, ApiState)>,
{
    loop {
        let t = now_ms();
        if t >= until_ms {
            break;
        }
        let nodes = up();
        let names: Vec<String> = nodes.iter().map(|(n, _)| n.clone()).collect();
        if let Some(node) = w.due(t, &names).cloned() {
            let api = nodes
                .iter()
                .find(|(n, _)| *n == node)
                .map(|(_, a)| a.clone());
            if let Some(api) = api {
                w.submit_to(t, node, &Router(api)).await;
            }
        }
        tokio::time::sleep(WAKE).await;
    }
    let mut chains = BTreeMap::new();
    for (name, api) in up() {
        if let Ok(txids) = read_chain(&Router(api)).await {
            chains.insert(name, txids);
        }
    }
    *out.lock().unwrap() = WorkloadResult {
        submitted: std::mem::take(&mut w.submitted),
        rejected: w.rejected,
        chains,
    };
    Ok(())
}
