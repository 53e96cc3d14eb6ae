//! Observation: polling node APIs, following events, reading kernel TCP tables.
//!
//! [`Observer::start`] spawns one [`poller`] task per node; they feed a
//! [`recorder::Recorder`], and [`Observer::finish`] turns it into the
//! [`model::Timeline`] the checks consume.

pub mod clock;
pub mod kernel;
pub mod model;
pub mod poller;
pub mod recorder;

pub use clock::RunClock;
pub use poller::{ApiSource, PidSource, PollConfig};

use model::{NodeInfo, Timeline};
use recorder::{Live, Recorder};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::task::JoinHandle;

pub struct Observer {
    clock: RunClock,
    recorder: Arc<Mutex<Recorder>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Observer {
    /// Start polling every node in `nodes` (down nodes are recorded as `up: false`).
    pub fn start<S: PidSource + ApiSource>(
        clock: RunClock,
        nodes: Vec<NodeInfo>,
        source: Arc<S>,
        cfg: PollConfig,
    ) -> Observer {
        // Identical samples are still stored every 2 s of wall time.
        let keepalive = (2000.0 * clock.time_scale()) as u64;
        let recorder = Arc::new(Mutex::new(Recorder::new(
            clock.time_scale(),
            nodes.clone(),
            keepalive,
        )));
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(2)
            .build()
            .expect("reqwest client");
        let tasks = nodes
            .iter()
            .map(|n| {
                let p = poller::Poller {
                    node: n.name.clone(),
                    clock,
                    http: http.clone(),
                    cfg: cfg.clone(),
                    source: source.clone(),
                    recorder: recorder.clone(),
                };
                tokio::spawn(p.run())
            })
            .collect();
        Observer {
            clock,
            recorder,
            tasks,
        }
    }

    pub fn clock(&self) -> RunClock {
        self.clock
    }

    /// Newest state per node (for the progress line and readiness).
    pub fn live(&self) -> HashMap<String, Live> {
        self.recorder.lock().unwrap().live()
    }

    /// The timeline up to now; polling goes on.
    pub fn snapshot(&self) -> Timeline {
        let end = self.clock.now();
        self.recorder.lock().unwrap().snapshot(end)
    }

    /// Stop polling and return the timeline up to now.
    pub fn finish(mut self) -> Timeline {
        for t in self.tasks.drain(..) {
            t.abort();
        }
        let end = self.clock.now();
        let rec = std::mem::replace(
            &mut *self.recorder.lock().unwrap(),
            Recorder::new(1.0, vec![], 0),
        );
        rec.finish(end)
    }
}

impl Drop for Observer {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}
