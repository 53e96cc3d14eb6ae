//! The harness's observation inside the simulation: a turmoil client that
//! polls every node every `interval` of virtual time, as the docker poller
//! does over HTTP, and pushes the same [`Sample`]s and [`NodeEvent`]s into
//! the same [`Recorder`].
//!
//! The node's API is called in-process: the node's own axum `Router`
//! ([`timed::api::router`]) answers a `tower::ServiceExt::oneshot` request,
//! so the handlers and their JSON are exactly what `GET /status` serves,
//! without an HTTP stack in the simulated network (its sockets would show
//! up in the connection table and cost virtual time per poll). The kernel
//! view comes from the simulated network's [`ConnTable`], not the node.

use super::host::{now_ms, NodeCtl, SIM_EPOCH_MS};
use super::transport::ConnTable;
use crate::observe::model::{NodeEvent, Sample};
use crate::observe::recorder::Recorder;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use timed::api::types::{EventView, PeerView, StatusView};
use timed::api::ApiState;
use tower::ServiceExt;

/// Pages of `/events` read per poll at most (as the docker poller).
const EVENT_PAGES: usize = 20;

pub struct SimObserver {
    pub nodes: Vec<Arc<NodeCtl>>,
    pub table: ConnTable,
    pub recorder: Arc<Mutex<Recorder>>,
    pub interval: Duration,
    pub p2p_port: u16,
    /// Observe until this protocol ms.
    pub until_ms: u64,
}

/// Per node: the highest event seq seen from its current process.
#[derive(Default, Clone)]
struct Cursor {
    after: u64,
    last_uptime: Option<u64>,
}

impl SimObserver {
    pub async fn run(self) -> turmoil::Result {
        let mut cursors = vec![Cursor::default(); self.nodes.len()];
        loop {
            let t = now_ms();
            if t >= self.until_ms {
                return Ok(());
            }
            for (ctl, cur) in self.nodes.iter().zip(cursors.iter_mut()) {
                self.poll_one(ctl, cur, t).await;
            }
            tokio::time::sleep(self.interval).await;
        }
    }

    async fn poll_one(&self, ctl: &NodeCtl, cur: &mut Cursor, t: u64) {
        let api = ctl.api();
        let (status, peers) = match &api {
            Some(a) => (
                get::<StatusView>(a, "/status").await,
                get::<Vec<PeerView>>(a, "/peers").await,
            ),
            None => (None, None),
        };
        if let Some(s) = &status {
            if cur.last_uptime.is_some_and(|u| s.uptime_ms < u) {
                cur.after = 0; // a restarted node numbers its events from 1
            }
            cur.last_uptime = Some(s.uptime_ms);
        }
        let mut events = Vec::new();
        if let (Some(a), Some(_)) = (&api, &status) {
            for _ in 0..EVENT_PAGES {
                let page: Option<Vec<EventView>> =
                    get(a, &format!("/events?after={}", cur.after)).await;
                let Some(page) = page.filter(|p| !p.is_empty()) else {
                    break;
                };
                for ev in page {
                    if ev.seq <= cur.after {
                        continue;
                    }
                    cur.after = ev.seq;
                    events.push(NodeEvent {
                        t: ev.at_ms.saturating_sub(SIM_EPOCH_MS),
                        node: ctl.name.clone(),
                        event: ev,
                    });
                }
            }
        }
        // The network's own view: only while the host runs software (a
        // down container has no readable TCP table on docker either).
        let kernel = status
            .is_some()
            .then(|| self.table.of_host(ctl.ip, self.p2p_port));
        let sample = Sample {
            t,
            node: ctl.name.clone(),
            up: status.is_some(),
            status,
            peers,
            kernel,
        };
        let mut rec = self.recorder.lock().unwrap();
        rec.push_sample(sample);
        rec.push_events(events);
    }
}

/// `GET path` on the node's router, in-process.
async fn get<T: serde::de::DeserializeOwned>(api: &ApiState, path: &str) -> Option<T> {
    let req = Request::get(path).body(Body::empty()).ok()?;
    let resp = timed::api::router(api.clone()).oneshot(req).await.ok()?;
    if resp.status() != StatusCode::OK {
        return None;
    }
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}
