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
    /// Wall time between two polls of one node.
    interval: std::time::Duration,
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
        let keepalive = recorder::keepalive_protocol_ms(clock.time_scale());
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
            interval: cfg.interval,
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
        let mut tl = rec.finish(end);
        tl.poll = (self.interval.as_secs_f64() * 1000.0 * self.clock.time_scale()) as u64;
        tl
    }
}

/// Polls in a row a running node's kernel TCP table may be unreadable (a
/// restarted container's new PID is looked up on the next read) before the
/// run is an infrastructure failure.
pub const KERNEL_BLIND_POLLS: u64 = 3;

/// The first stretch in which a node answered its API but its kernel TCP
/// table could not be read for more than [`KERNEL_BLIND_POLLS`] polls, as
/// a message; `None` if the kernel view held for the whole run.
///
/// The checks compare the node's word with the kernel's; without the
/// kernel view they would pass a node that lies, so an unreadable table
/// is an infrastructure failure (exit 3), never a silently skipped view.
pub fn kernel_view_gap(tl: &Timeline) -> Option<String> {
    let poll = if tl.poll > 0 {
        tl.poll
    } else {
        (PollConfig::default().interval.as_millis() as f64 * tl.time_scale.max(0.0)) as u64
    };
    let limit = KERNEL_BLIND_POLLS * poll.max(1);
    let mut found: Option<(u64, String)> = None;
    for n in &tl.nodes {
        let mut since: Option<u64> = None;
        let samples: Vec<_> = tl.samples_of(&n.name).collect();
        for (i, s) in samples.iter().enumerate() {
            let blind = s.up && s.kernel.is_none();
            match (blind, since) {
                (true, None) => since = Some(s.t),
                (false, Some(_)) => since = None,
                _ => {}
            }
            let until = samples.get(i + 1).map_or(tl.end, |x| x.t);
            if let Some(t0) = since.filter(|t0| blind && until.saturating_sub(*t0) > limit) {
                if found.as_ref().is_none_or(|(t, _)| t0 < *t) {
                    found = Some((
                        t0,
                        format!(
                            "kernel view lost: {} answered its API but its kernel TCP table \
                             could not be read from {} ms to {} ms (more than {} polls); \
                             the checks cannot compare its word with the kernel's",
                            n.name, t0, until, KERNEL_BLIND_POLLS
                        ),
                    ));
                }
                break;
            }
        }
    }
    found.map(|(_, m)| m)
}

impl Drop for Observer {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}
