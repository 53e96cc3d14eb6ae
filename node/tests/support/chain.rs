//! Chain-level views over a [`Cluster`] of real `timed` processes, for the
//! chain tests and the chain benchmark: heights, blocks, agreement on a tip
//! and on the whole chain, and JSON calls (`/tx`, `/utxos`). Nodes are named
//! by index into `cluster.nodes`.

use super::{unique_base_ip, Cluster, NodeProc};
use std::time::{Duration, Instant};
use timed::chain::types::{Block, Hash};
use timed::testnet::TestnetSpec;

/// `nodes` nodes, the first `masternodes` of them voting, each bootstrapped
/// from all the others, on a fresh loopback range.
pub fn chain_spec(nodes: usize, masternodes: usize, block_interval: Duration) -> TestnetSpec {
    TestnetSpec {
        nodes,
        masternodes,
        base_ip: unique_base_ip(),
        block_interval,
        bootstrap_fanout: nodes - 1,
        ..Default::default()
    }
}

impl NodeProc {
    /// Extra command-line arguments for the next start (e.g. `--bootstrap`).
    pub fn set_args(&mut self, args: &[&str]) {
        self.extra_args = args.iter().map(|s| s.to_string()).collect();
    }

    pub async fn height(&self) -> Option<u64> {
        self.status().await.ok().map(|s| s.height)
    }

    /// The block at `h` and the hash the node reports for it.
    pub async fn block(&self, h: u64) -> Option<(Block, Hash)> {
        let r = self
            .http
            .get(self.url(&format!("/blocks/{h}")))
            .send()
            .await
            .ok()?;
        if !r.status().is_success() {
            return None;
        }
        let v: serde_json::Value = r.json().await.ok()?;
        let hash = Hash::from_hex(v["hash"].as_str()?).ok()?;
        Some((serde_json::from_value(v).ok()?, hash))
    }

    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        self.http
            .get(self.url(path))
            .send()
            .await
            .expect("get")
            .json()
            .await
            .expect("json")
    }

    /// POST a JSON body: status code and the JSON answer (Null if none).
    pub async fn post_json(&self, path: &str, body: String) -> (u16, serde_json::Value) {
        let r = self
            .http
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("post");
        let code = r.status().as_u16();
        (code, r.json().await.unwrap_or(serde_json::Value::Null))
    }
}

impl Cluster {
    pub fn start_all(&mut self) {
        for n in &mut self.nodes {
            n.start();
        }
    }

    /// Heights of the given nodes (None for an unreachable node).
    pub async fn heights(&self, nodes: &[usize]) -> Vec<Option<u64>> {
        let mut v = vec![];
        for &k in nodes {
            v.push(self.nodes[k].height().await);
        }
        v
    }

    /// Poll until every node in `nodes` is at height >= `h`.
    pub async fn wait_height(&self, nodes: &[usize], h: u64, timeout: Duration) {
        let start = Instant::now();
        loop {
            let hs = self.heights(nodes).await;
            if hs.iter().all(|x| x.is_some_and(|x| x >= h)) {
                return;
            }
            if start.elapsed() > timeout {
                self.dump_logs();
                panic!("nodes {nodes:?} did not reach height {h} in {timeout:?}: {hs:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every node in `nodes` has the same block hash at every height 0..=h.
    pub async fn assert_same_chain(&self, nodes: &[usize], h: u64) {
        for height in 0..=h {
            let mut first: Option<Hash> = None;
            for &k in nodes {
                let (_, hash) = self.nodes[k]
                    .block(height)
                    .await
                    .unwrap_or_else(|| panic!("node {k} has no block {height}"));
                match first {
                    None => first = Some(hash),
                    Some(f) => assert_eq!(f, hash, "fork at height {height}: node {k} differs"),
                }
            }
        }
    }

    /// Wait until all `nodes` report the same height and tip hash.
    pub async fn wait_same_tip(&self, nodes: &[usize], timeout: Duration) -> (u64, String) {
        let start = Instant::now();
        loop {
            let mut tips = vec![];
            for &k in nodes {
                let s = self.nodes[k].status().await.ok();
                tips.push(s.map(|s| (s.height, s.tip_hash)));
            }
            if tips.iter().all(|t| t.is_some() && t == &tips[0]) {
                return tips[0].clone().unwrap();
            }
            if start.elapsed() > timeout {
                self.dump_logs();
                panic!("nodes {nodes:?} never agreed on a tip: {tips:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The last 40 log lines of every node, to stderr (on a failed wait).
    pub fn dump_logs(&self) {
        for n in &self.nodes {
            let log = n.log();
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(40)..];
            eprintln!(
                "----- {} log (last {} lines) -----\n{}",
                n.name,
                tail.len(),
                tail.join("\n")
            );
        }
    }
}
