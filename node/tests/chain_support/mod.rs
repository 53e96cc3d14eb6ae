//! Minimal helpers for the chain integration tests and the chain benchmark:
//! write a testnet on 127.x.y.z loopback addresses, spawn real `timed`
//! processes, stop/kill/restart them, and poll their HTTP API.
#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use timed::api::types::{EventKind, EventView, StatusView};
use timed::chain::types::{Block, Hash};
use timed::testnet::{self, Testnet, TestnetSpec};

pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub net: Testnet,
    pub time_scale: f64,
    procs: Vec<Option<Child>>,
    extra_args: Vec<Vec<String>>,
    http: reqwest::Client,
}

pub fn timed_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_timed"))
}

impl Cluster {
    /// `nodes` nodes (the first `masternodes` vote) on 127.`a`.`b`.11+,
    /// fully meshed through bootstrap lists.
    pub fn new(
        a: u8,
        b: u8,
        nodes: usize,
        masternodes: usize,
        block_interval: Duration,
        time_scale: f64,
    ) -> Cluster {
        let dir = tempfile::tempdir().expect("tempdir");
        let spec = TestnetSpec {
            nodes,
            masternodes,
            base_ip: Ipv4Addr::new(127, a, b, 11),
            seed: a as u64 * 256 + b as u64,
            block_interval,
            bootstrap_fanout: nodes - 1,
            ..Default::default()
        };
        let net = testnet::write(&spec, dir.path()).expect("testnet");
        Cluster {
            dir,
            procs: (0..nodes).map(|_| None).collect(),
            extra_args: vec![vec![]; nodes],
            net,
            time_scale,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap(),
        }
    }

    pub fn len(&self) -> usize {
        self.net.nodes.len()
    }

    pub fn p2p_addr(&self, k: usize) -> SocketAddr {
        self.net.nodes[k].config.p2p_addr()
    }

    pub fn log_path(&self, k: usize) -> PathBuf {
        self.dir.path().join(format!("node{}.log", k + 1))
    }

    pub fn data_dir(&self, k: usize) -> &Path {
        &self.net.nodes[k].config.data_dir
    }

    /// Extra command-line arguments for node `k` (e.g. `--bootstrap`).
    pub fn set_args(&mut self, k: usize, args: &[&str]) {
        self.extra_args[k] = args.iter().map(|s| s.to_string()).collect();
    }

    pub fn start(&mut self, k: usize) {
        assert!(self.procs[k].is_none(), "node {k} already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path(k))
            .unwrap();
        let child = Command::new(timed_bin())
            .arg("run")
            .arg("--config")
            .arg(&self.net.nodes[k].config_path)
            .arg("--time-scale")
            .arg(self.time_scale.to_string())
            .args(&self.extra_args[k])
            .env(
                "RUST_LOG",
                std::env::var("CHAIN_TEST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn timed");
        self.procs[k] = Some(child);
    }

    pub fn start_all(&mut self) {
        for k in 0..self.len() {
            self.start(k);
        }
    }

    pub fn running(&self, k: usize) -> bool {
        self.procs[k].is_some()
    }

    fn signal(&mut self, k: usize, sig: i32) {
        if let Some(mut c) = self.procs[k].take() {
            unsafe {
                libc::kill(c.id() as i32, sig);
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if c.try_wait().unwrap().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Graceful stop (SIGTERM).
    pub fn stop(&mut self, k: usize) {
        self.signal(k, libc::SIGTERM)
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill(&mut self, k: usize) {
        self.signal(k, libc::SIGKILL)
    }

    fn api(&self, k: usize, path: &str) -> String {
        format!("http://{}{}", self.net.nodes[k].config.api_addr(), path)
    }

    pub async fn status(&self, k: usize) -> Option<StatusView> {
        let r = self.http.get(self.api(k, "/status")).send().await.ok()?;
        r.json().await.ok()
    }

    pub async fn block(&self, k: usize, h: u64) -> Option<(Block, Hash)> {
        let r = self
            .http
            .get(self.api(k, &format!("/blocks/{h}")))
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

    pub async fn events(&self, k: usize, kind: EventKind) -> Vec<EventView> {
        let mut out = vec![];
        let mut after = 0;
        loop {
            let Ok(r) = self
                .http
                .get(self.api(k, &format!("/events?after={after}")))
                .send()
                .await
            else {
                return out;
            };
            let page: Vec<EventView> = r.json().await.unwrap_or_default();
            if page.is_empty() {
                return out;
            }
            after = page.last().unwrap().seq;
            out.extend(page.into_iter().filter(|e| e.kind == kind));
        }
    }

    pub async fn post_json(&self, k: usize, path: &str, body: String) -> (u16, serde_json::Value) {
        let r = self
            .http
            .post(self.api(k, path))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("post");
        let code = r.status().as_u16();
        (code, r.json().await.unwrap_or(serde_json::Value::Null))
    }

    pub async fn get_json(&self, k: usize, path: &str) -> serde_json::Value {
        self.http
            .get(self.api(k, path))
            .send()
            .await
            .expect("get")
            .json()
            .await
            .expect("json")
    }

    pub async fn height(&self, k: usize) -> Option<u64> {
        self.status(k).await.map(|s| s.height)
    }

    /// Heights of the given nodes (None for an unreachable node).
    pub async fn heights(&self, nodes: &[usize]) -> Vec<Option<u64>> {
        let mut v = vec![];
        for &k in nodes {
            v.push(self.height(k).await);
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
                let (_, hash) = self
                    .block(k, height)
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
                tips.push(self.status(k).await.map(|s| (s.height, s.tip_hash)));
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

    pub fn dump_logs(&self) {
        for k in 0..self.len() {
            if let Ok(s) = std::fs::read_to_string(self.log_path(k)) {
                let lines: Vec<&str> = s.lines().collect();
                let tail = &lines[lines.len().saturating_sub(40)..];
                eprintln!(
                    "----- node{} log (last {} lines) -----\n{}",
                    k + 1,
                    tail.len(),
                    tail.join("\n")
                );
            }
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for k in 0..self.procs.len() {
            self.kill(k);
        }
    }
}
