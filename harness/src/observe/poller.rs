//! One poller task per node: `/status`, `/peers`, `/events?after=SEQ` over
//! HTTP and the kernel TCP table from `/proc`, every `interval` (wall).

use super::clock::RunClock;
use super::kernel;
use super::model::{KernelConn, NodeEvent};
use super::recorder::Recorder;
use futures::future::BoxFuture;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use timed::api::types::{EventView, PeerView, StatusView};

/// Where the poller finds a node's host PID (for `/proc/PID/net/tcp`).
/// Implemented by providers; looked up again whenever reading fails (a
/// restarted container has a new PID).
pub trait PidSource: Send + Sync + 'static {
    fn pid<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Option<u32>>;
}

/// Where the poller finds a node's API (it can move: published ports change
/// on restart).
pub trait ApiSource: Send + Sync + 'static {
    fn api_addr(&self, node: &str) -> Option<SocketAddr>;
}

#[derive(Clone, Debug)]
pub struct PollConfig {
    pub interval: Duration,
    /// Per-request timeout (wall). Short: a paused node must not stall polling.
    pub request_timeout: Duration,
    pub p2p_port: u16,
}

impl Default for PollConfig {
    fn default() -> Self {
        PollConfig {
            interval: Duration::from_millis(300),
            request_timeout: Duration::from_millis(800),
            p2p_port: timed::constants::DEFAULT_P2P_PORT,
        }
    }
}

pub(crate) struct Poller<S> {
    pub node: String,
    pub clock: RunClock,
    pub http: reqwest::Client,
    pub cfg: PollConfig,
    pub source: Arc<S>,
    pub recorder: Arc<Mutex<Recorder>>,
}

/// Per-node state carried between polls.
#[derive(Default)]
struct State {
    pid: Option<u32>,
    /// Highest event seq seen from the current process of the node.
    after: u64,
    last_uptime: Option<u64>,
    kernel_warned: bool,
}

impl<S: PidSource + ApiSource> Poller<S> {
    pub async fn run(self) {
        let mut tick = tokio::time::interval(self.cfg.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut st = State::default();
        loop {
            tick.tick().await;
            self.poll_once(&mut st).await;
        }
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, addr: SocketAddr, path: &str) -> Option<T> {
        let url = format!("http://{addr}{path}");
        let resp = self
            .http
            .get(&url)
            .timeout(self.cfg.request_timeout)
            .send()
            .await
            .ok()?;
        if !resp.status().is_success() {
            return None;
        }
        resp.json().await.ok()
    }

    async fn poll_once(&self, st: &mut State) {
        let t = self.clock.now();
        let addr = self.source.api_addr(&self.node);
        let (status, peers) = match addr {
            Some(a) => tokio::join!(
                self.get::<StatusView>(a, "/status"),
                self.get::<Vec<PeerView>>(a, "/peers")
            ),
            None => (None, None),
        };
        // A restarted node numbers its events from 1 again.
        if let Some(s) = &status {
            if st.last_uptime.is_some_and(|u| s.uptime_ms < u) {
                st.after = 0;
            }
            st.last_uptime = Some(s.uptime_ms);
        }
        let events = match (addr, &status) {
            (Some(a), Some(_)) => self.follow_events(a, st).await,
            _ => Vec::new(),
        };
        let kernel = self.read_kernel(st).await;
        let api = (status, peers);
        let mut rec = self.recorder.lock().unwrap();
        rec.record_poll(t, &self.node, api, kernel, events);
    }

    /// Page through `/events?after=SEQ` until caught up, so every connect and
    /// disconnect between two polls is seen even if the peer list looks the
    /// same before and after.
    async fn follow_events(&self, addr: SocketAddr, st: &mut State) -> Vec<NodeEvent> {
        let mut out = Vec::new();
        for _ in 0..20 {
            let page: Option<Vec<EventView>> =
                self.get(addr, &format!("/events?after={}", st.after)).await;
            let Some(page) = page.filter(|p| !p.is_empty()) else {
                break;
            };
            let t = |at: u64| self.clock.from_unix_ms(at);
            NodeEvent::take_page(page, &mut st.after, &self.node, t, &mut out);
        }
        out
    }

    async fn read_kernel(&self, st: &mut State) -> Option<Vec<KernelConn>> {
        for attempt in 0..2 {
            if st.pid.is_none() || attempt == 1 {
                st.pid = self.source.pid(&self.node).await;
            }
            let pid = st.pid?;
            match kernel::read(pid, self.cfg.p2p_port) {
                Ok(c) => return Some(c),
                Err(e) if attempt == 1 && !st.kernel_warned => {
                    st.kernel_warned = true;
                    tracing::error!(node = %self.node, pid, error = %e,
                        "cannot read the kernel TCP table from the host; the run fails as an infrastructure error if this lasts");
                }
                Err(_) => {}
            }
        }
        None
    }
}
