//! The harness's observation inside the simulation: every node is polled
//! every `interval` of virtual time, as the docker poller does over HTTP,
//! into the same [`Sample`]s and [`NodeEvent`]s of the same [`Recorder`].
//!
//! A running node is polled by an agent task inside its own host: every
//! turmoil host has its own runtime clock, and the API reports durations
//! (`uptime_ms`, `connected_at_ms`) from the node's clock, which only
//! means something read from that runtime. A turmoil client records the
//! down samples of nodes that are not running.
//!
//! The node's API is read in-process: the functions that build the bodies
//! of `GET /status`, `/peers`, `/events` and `/metrics`
//! ([`timed::api::net_routes`]) are called on the node's [`ApiState`], so
//! the views are the ones the HTTP handlers serve, without an HTTP stack in
//! the simulated network (its sockets would show up in the connection
//! table and cost virtual time per poll) and without a JSON encode and
//! decode per poll (that round trip through the node's router was a fifth
//! of a churn run's CPU). The HTTP/JSON layer itself is exercised by the
//! docker provider. The kernel view comes from the simulated network's
//! [`ConnTable`], not the node. A poll skips reading the peers and the
//! kernel view when both change counters stand where they stood at the last
//! read, no event came and the recorder would store nothing
//! ([`Recorder::would_skip`]): a quiet 100-node mesh is nearly all such
//! polls.

use super::clock::{now_ms, SIM_EPOCH_MS};
use super::transport::ConnTable;
use crate::observe::model::{NodeEvent, Sample};
use crate::observe::recorder::Recorder;
use crate::report::prom::{self, Accumulated};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use timed::api::net_routes::{events_after, metrics_text, status_view};
use timed::api::ApiState;

/// Pages of `/events` read per poll at most (as the docker poller).
const EVENT_PAGES: usize = 20;

/// What every poller of one run shares.
pub struct SimObserver {
    pub table: ConnTable,
    pub recorder: Arc<Mutex<Recorder>>,
    pub interval: Duration,
    pub p2p_port: u16,
    /// Observe until this protocol ms.
    pub until_ms: u64,
    /// Event cursor per node name, kept across the node's restarts.
    cursors: Mutex<BTreeMap<String, Cursor>>,
    /// Every node's `/metrics` over its processes (for `report::coverage`).
    metrics: Mutex<BTreeMap<String, Accumulated>>,
}

/// Per node: the highest event seq seen from its current process.
#[derive(Default, Clone)]
struct Cursor {
    after: u64,
    last_uptime: Option<u64>,
    /// The node's peer change counter and its host's kernel change counter
    /// at the last full read of both (`None`: read them next time).
    read_at: Option<(u64, u64)>,
}

impl SimObserver {
    pub fn new(
        table: ConnTable,
        recorder: Arc<Mutex<Recorder>>,
        interval: Duration,
        p2p_port: u16,
        until_ms: u64,
    ) -> Arc<SimObserver> {
        Arc::new(SimObserver {
            table,
            recorder,
            interval,
            p2p_port,
            until_ms,
            cursors: Mutex::new(BTreeMap::new()),
            metrics: Mutex::new(BTreeMap::new()),
        })
    }

    /// Read a node process's `/metrics` once, as it stops (killed, stopped,
    /// or running at the end of the run). Counters only grow within a
    /// process, so this one read holds everything the process counted:
    /// nothing a kill cuts off is lost (docker's scraper, every 2 s of
    /// wall time, loses the last seconds before a kill), and the text is
    /// not rendered and parsed every few polls (a twentieth of a churn
    /// run's CPU when it was).
    pub fn last_metrics(&self, name: &str, api: &ApiState) {
        let parsed = prom::parse(&metrics_text(api));
        let mut m = self.metrics.lock().unwrap();
        m.entry(name.to_string()).or_default().push_last(parsed);
    }

    /// Every node's accumulated `/metrics` so far.
    pub fn metrics(&self) -> BTreeMap<String, Accumulated> {
        self.metrics.lock().unwrap().clone()
    }

    /// The turmoil client: a down sample for every node not running, every
    /// interval, until the end of the run.
    /// `down()` names the nodes whose software is not running right now.
    pub async fn watch_down<F>(self: Arc<Self>, down: F) -> turmoil::Result
    where
        F: Fn() -> Vec<String>,
    {
        loop {
            let t = now_ms();
            if t >= self.until_ms {
                return Ok(());
            }
            for node in down() {
                self.recorder.lock().unwrap().push_sample(Sample {
                    t,
                    node,
                    up: false,
                    status: None,
                    peers: None,
                    kernel: None,
                });
            }
            tokio::time::sleep(self.interval).await;
        }
    }

    /// The agent inside a running node's host: poll `api` every interval.
    /// While `paused`, the node answers nothing (docker's poller times out)
    /// but its kernel table is still read.
    pub async fn agent(
        self: Arc<Self>,
        name: String,
        ip: std::net::IpAddr,
        api: ApiState,
        paused: Arc<AtomicBool>,
    ) {
        loop {
            let t = now_ms();
            if t >= self.until_ms {
                return;
            }
            if paused.load(Ordering::Relaxed) {
                let kernel = Some(self.table.of_host(ip, self.p2p_port));
                let mut rec = self.recorder.lock().unwrap();
                rec.record_poll(t, &name, (None, None), kernel, Vec::new());
            } else {
                self.poll_one(&name, ip, &api, t);
            }
            tokio::time::sleep(self.interval).await;
        }
    }

    fn poll_one(&self, name: &str, ip: std::net::IpAddr, api: &ApiState, t: u64) {
        let mut cur = self
            .cursors
            .lock()
            .unwrap()
            .get(name)
            .cloned()
            .unwrap_or_default();
        let status = status_view(api);
        if cur.last_uptime.is_some_and(|u| status.uptime_ms < u) {
            cur.after = 0; // a restarted node numbers its events from 1
            cur.read_at = None; // and counts its peer changes from 0
        }
        cur.last_uptime = Some(status.uptime_ms);
        let mut events = Vec::new();
        for _ in 0..EVENT_PAGES {
            let page = events_after(api, cur.after);
            if page.is_empty() {
                break;
            }
            let t = |at: u64| at.saturating_sub(SIM_EPOCH_MS);
            NodeEvent::take_page(page, &mut cur.after, name, t, &mut events);
        }
        // Peers and kernel unchanged since the last full read, no events,
        // nothing the recorder would store: skip the two reads. The run's
        // last polls always read them (the final sample is fresh; a sleep
        // may wake a tick late, hence two intervals).
        let changes = (api.net.peer_changes(), self.table.changes_of(ip));
        let last = t + 2 * self.interval.as_millis() as u64 >= self.until_ms;
        let unchanged = cur.read_at == Some(changes) && events.is_empty() && !last;
        if unchanged && self.recorder.lock().unwrap().would_skip(t, name, &status) {
            self.cursors.lock().unwrap().insert(name.to_string(), cur);
            return;
        }
        let peers = api.net.peer_views();
        // The network's own view: only while the host runs software (a
        // down container has no readable TCP table on docker either).
        let kernel = Some(self.table.of_host(ip, self.p2p_port));
        cur.read_at = Some(changes);
        self.cursors.lock().unwrap().insert(name.to_string(), cur);
        let api = (Some(status), Some(peers));
        let mut rec = self.recorder.lock().unwrap();
        rec.record_poll(t, name, api, kernel, events);
    }
}
