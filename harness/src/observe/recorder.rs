//! Collects samples and events into a [`Timeline`] with bounded memory.
//!
//! A node is polled a few times a second, but its state rarely changes.
//! A sample is stored when anything a check looks at changed (up/down,
//! height, tip, the set of connections with their ids and counters, the
//! kernel's set) and otherwise at most every `keepalive`, so a 30-node,
//! hour-long run stays a few MB. The newest sample of each node is always kept
//! at the end, so the final state is on the timeline.

use super::model::{KernelConn, NodeEvent, NodeInfo, Sample, Timeline};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use timed::api::types::{PeerView, StatusView};

/// Wall ms between two stored identical samples of a node on docker.
/// Bounds: far below every check window measured in wall time (tens of s),
/// far above the poll (300 ms), so a quiet node costs a sample per 2 s.
pub const KEEPALIVE_WALL_MS: f64 = 2_000.0;

/// The keepalive in protocol ms at `time_scale`, the same for both providers
/// (the simulation has no wall time: it takes the docker run's interval).
pub fn keepalive_protocol_ms(time_scale: f64) -> u64 {
    (KEEPALIVE_WALL_MS * time_scale) as u64
}

/// What must change for a sample to be stored before the keepalive.
#[derive(PartialEq)]
struct Fingerprint {
    up: bool,
    height: Option<u64>,
    tip: Option<String>,
    syncing: Option<bool>,
    peers: Option<Vec<(IpAddr, u64, u64, u64)>>,
    kernel: Option<Vec<KernelConn>>,
}

fn fingerprint(s: &Sample) -> Fingerprint {
    Fingerprint {
        up: s.up,
        height: s.status.as_ref().map(|st| st.height),
        tip: s.status.as_ref().map(|st| st.tip_hash.clone()),
        syncing: s.status.as_ref().map(|st| st.syncing),
        peers: s.peers.as_ref().map(|ps| {
            let mut v: Vec<_> = ps
                .iter()
                .map(|p| (p.ip, p.connection_id, p.connects, p.ping_timeouts))
                .collect();
            v.sort();
            v
        }),
        kernel: s.kernel.clone(),
    }
}

struct NodeTrack {
    last_kept: Option<(u64, Fingerprint)>,
    /// Newest sample, stored or not.
    newest: Option<Sample>,
    newest_kept: bool,
}

/// Newest state of one node, for the progress line.
#[derive(Clone, Debug, Default)]
pub struct Live {
    pub up: bool,
    pub height: Option<u64>,
    pub peers: Option<usize>,
    pub kernel_peers: Option<usize>,
}

impl Live {
    /// A node's newest state as one sample shows it.
    fn of(s: &Sample) -> Live {
        Live {
            up: s.up,
            height: s.status.as_ref().map(|st| st.height),
            peers: s.peers.as_ref().map(|p| p.len()),
            kernel_peers: s.kernel.as_ref().map(|k| k.len()),
        }
    }
}

/// Every running node sees every other running node, in its own view and in
/// the kernel's (when readable). Only before any late joiner is due.
pub fn is_full_mesh(live: &HashMap<String, Live>, late_pending: usize) -> bool {
    let up = live.values().filter(|l| l.up).count();
    up >= 2
        && live.len() - late_pending == up
        && live
            .values()
            .filter(|l| l.up)
            .all(|l| l.peers == Some(up - 1) && l.kernel_peers.is_none_or(|k| k == up - 1))
}

/// When a finished timeline first shows [`is_full_mesh`] (the docker run
/// judges it live, as it polls; the simulation afterwards, from the same
/// samples). A node never up so far counts as a late joiner not yet due.
pub fn full_mesh_at(tl: &Timeline) -> Option<u64> {
    let mut live: HashMap<String, Live> = HashMap::new();
    let mut ever_up: HashSet<&str> = HashSet::new();
    let mut samples: Vec<&Sample> = tl.samples.iter().collect();
    samples.sort_by_key(|s| s.t);
    for (i, s) in samples.iter().enumerate() {
        live.insert(s.node.clone(), Live::of(s));
        if s.up {
            ever_up.insert(&s.node);
        }
        // Judge once every sample of this instant is in.
        if samples.get(i + 1).is_some_and(|n| n.t == s.t) {
            continue;
        }
        let pending = live
            .keys()
            .filter(|n| !ever_up.contains(n.as_str()))
            .count();
        if is_full_mesh(&live, pending) {
            return Some(s.t);
        }
    }
    None
}

pub struct Recorder {
    time_scale: f64,
    nodes: Vec<NodeInfo>,
    samples: Vec<Sample>,
    events: Vec<NodeEvent>,
    track: HashMap<String, NodeTrack>,
    /// Protocol ms between stored identical samples.
    keepalive: u64,
}

impl Recorder {
    pub fn new(time_scale: f64, nodes: Vec<NodeInfo>, keepalive_protocol_ms: u64) -> Self {
        Recorder {
            time_scale,
            nodes,
            samples: Vec::new(),
            events: Vec::new(),
            track: HashMap::new(),
            keepalive: keepalive_protocol_ms,
        }
    }

    pub fn push_sample(&mut self, s: Sample) {
        let fp = fingerprint(&s);
        let tr = self.track.entry(s.node.clone()).or_insert(NodeTrack {
            last_kept: None,
            newest: None,
            newest_kept: false,
        });
        let keep = match &tr.last_kept {
            None => true,
            Some((t, last)) => *last != fp || s.t >= t + self.keepalive,
        };
        if keep {
            tr.last_kept = Some((s.t, fp));
            self.samples.push(s.clone());
        }
        tr.newest = Some(s);
        tr.newest_kept = keep;
    }

    /// Whether a poll of `node` at `t` that found `status` and, by the
    /// poller's own change counters, the same peers and kernel connections
    /// as the node's newest sample, would store nothing: the node was up,
    /// its height, tip and syncing flag match, and the keepalive is not
    /// due. The poller may then skip reading the peers and the kernel
    /// (the simulation's 100-node mesh spent an eighth of its CPU on those
    /// reads); the newest sample keeps its own time.
    pub fn would_skip(&self, t: u64, node: &str, status: &StatusView) -> bool {
        let Some(tr) = self.track.get(node) else {
            return false;
        };
        let Some((kept_at, fp)) = &tr.last_kept else {
            return false;
        };
        fp.up
            && t < kept_at + self.keepalive
            && fp.height == Some(status.height)
            && fp.tip.as_deref() == Some(status.tip_hash.as_str())
            && fp.syncing == Some(status.syncing)
    }

    /// One poll of one node: what its API said (`up` when it answered), the
    /// network's own view of its connections, and its new events. Both
    /// providers' pollers record through this.
    pub fn record_poll(
        &mut self,
        t: u64,
        node: &str,
        api: (Option<StatusView>, Option<Vec<PeerView>>),
        kernel: Option<Vec<KernelConn>>,
        events: Vec<NodeEvent>,
    ) {
        let (status, peers) = api;
        self.push_sample(Sample {
            t,
            node: node.to_string(),
            up: status.is_some(),
            status,
            peers,
            kernel,
        });
        self.push_events(events);
    }

    pub fn push_events(&mut self, evs: impl IntoIterator<Item = NodeEvent>) {
        self.events.extend(evs);
    }

    pub fn live(&self) -> HashMap<String, Live> {
        self.track
            .iter()
            .filter_map(|(n, tr)| {
                let s = tr.newest.as_ref()?;
                Some((n.clone(), Live::of(s)))
            })
            .collect()
    }

    /// The timeline so far, as [`finish`](Self::finish) would return it now,
    /// leaving the recorder running (`--fail-fast` judges it as the run goes).
    pub fn snapshot(&self, end: u64) -> Timeline {
        let mut samples = self.samples.clone();
        samples.extend(
            self.track
                .values()
                .filter(|tr| !tr.newest_kept)
                .filter_map(|tr| tr.newest.clone()),
        );
        samples.sort_by(|a, b| a.t.cmp(&b.t).then_with(|| a.node.cmp(&b.node)));
        let mut events = self.events.clone();
        events.sort_by_key(|e| e.t);
        Timeline {
            time_scale: self.time_scale,
            nodes: self.nodes.clone(),
            samples,
            events,
            end,
            ..Default::default()
        }
    }

    /// The timeline, ordered by time, ending at `end` (protocol ms).
    pub fn finish(mut self, end: u64) -> Timeline {
        for tr in self.track.values_mut() {
            if let (Some(s), false) = (tr.newest.take(), tr.newest_kept) {
                self.samples.push(s);
            }
        }
        self.samples
            .sort_by(|a, b| a.t.cmp(&b.t).then_with(|| a.node.cmp(&b.node)));
        self.events.sort_by_key(|e| e.t);
        Timeline {
            time_scale: self.time_scale,
            nodes: self.nodes,
            samples: self.samples,
            events: self.events,
            end,
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(t: u64, up: bool) -> Sample {
        Sample {
            t,
            node: "n1".into(),
            up,
            status: None,
            peers: None,
            kernel: Some(vec![]),
        }
    }

    #[test]
    fn stores_changes_and_keepalives_and_the_final_sample() {
        let mut r = Recorder::new(1.0, vec![], 1000);
        r.push_sample(sample(0, true)); // first: kept
        r.push_sample(sample(300, true)); // same: dropped
        r.push_sample(sample(600, false)); // changed: kept
        r.push_sample(sample(900, false)); // same: dropped
        r.push_sample(sample(1700, false)); // keepalive: kept
        r.push_sample(sample(2000, false)); // same, but final: kept at finish
        let snap = r.snapshot(2100);
        let tl = r.finish(2100);
        assert_eq!(snap, tl, "a snapshot is what finish would return");
        let ts: Vec<_> = tl.samples.iter().map(|s| s.t).collect();
        assert_eq!(ts, vec![0, 600, 1700, 2000]);
        assert_eq!(tl.end, 2100);
    }

    fn status(height: u64, syncing: bool) -> StatusView {
        StatusView {
            node_id: "aa".into(),
            ip: "10.0.0.1".parse().unwrap(),
            height,
            tip_hash: format!("tip{height}"),
            genesis_hash: "g".into(),
            peers: 0,
            masternode: true,
            syncing,
            uptime_ms: 0,
        }
    }

    #[test]
    fn a_poll_may_skip_only_what_would_not_be_stored() {
        let mut r = Recorder::new(1.0, vec![], 1000);
        assert!(
            !r.would_skip(0, "n1", &status(5, false)),
            "nothing stored yet"
        );
        let mut s = sample(0, true);
        s.status = Some(status(5, false));
        r.push_sample(s);
        assert!(r.would_skip(300, "n1", &status(5, false)));
        assert!(!r.would_skip(300, "n2", &status(5, false)), "another node");
        assert!(!r.would_skip(300, "n1", &status(6, false)), "a new height");
        assert!(!r.would_skip(300, "n1", &status(5, true)), "syncing");
        assert!(
            !r.would_skip(1000, "n1", &status(5, false)),
            "keepalive due"
        );
        r.push_sample(sample(400, false));
        assert!(!r.would_skip(500, "n1", &status(5, false)), "it was down");
    }
}
