//! Performance figures of a run (`report.json` -> `perf`), and the flat list
//! of named figures `harness compare` puts side by side.
//!
//! Sources: each node's `/metrics` scraped through the run (counters summed
//! over restarts, see [`super::prom::Accumulated`]), the kernel's
//! `/proc/PID/{status,stat}` of each container's process, and the timeline.

use super::prom::{self, Accumulated};
use crate::observe::model::Timeline;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use timed::api::types::EventKind;

/// Peak memory and CPU of one node over the run (all its processes).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    /// Largest `VmHWM` seen (bytes).
    pub peak_rss_bytes: Option<u64>,
    /// user + system CPU time, summed over the node's processes.
    pub cpu_seconds: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodePerf {
    pub name: String,
    #[serde(flatten)]
    pub resources: Resources,
    /// Finality latency p50 of this node (ms).
    pub finality_p50_ms: Option<f64>,
}

/// The run's figures. Latencies are wall ms (what the network really took),
/// rates are per protocol hour (what the scenario describes). In a
/// simulated run latencies are virtual ms: the simulated network's, the
/// same for every run of a seed, so two builds differ by their code alone.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Perf {
    /// Start of the nodes to every node seeing every other (wall ms).
    pub full_mesh_ms: Option<u64>,
    pub finality_p50_ms: Option<f64>,
    pub finality_p95_ms: Option<f64>,
    pub finality_max_ms: Option<f64>,
    /// Commits measured (over all nodes).
    pub finality_samples: u64,
    pub ping_rtt_p50_ms: Option<f64>,
    pub ping_rtt_p95_ms: Option<f64>,
    /// Highest height reached.
    pub blocks: u64,
    pub blocks_per_protocol_hour: Option<f64>,
    /// Frames written by all nodes, per block.
    pub messages_per_block: Option<f64>,
    /// Frame bytes written by all nodes, per block.
    pub bytes_per_block: Option<f64>,
    /// Connections established beyond the first of each pair.
    pub reconnects: u64,
    pub nodes: Vec<NodePerf>,
}

/// Which way is worse, for `harness compare`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Worse {
    Higher,
    Lower,
}

/// One named figure.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    pub name: String,
    pub unit: &'static str,
    pub value: Option<f64>,
    pub worse: Worse,
    /// Differences up to this (in `unit`) are never a regression, whatever
    /// the ratio: 0 -> 1 reconnect or 30 -> 38 ms is noise, not a loss.
    /// The values cover the noise band of two runs of one build on the
    /// shared 2-core host (README "Measured"): wall-clock tails and the
    /// container start-up behind time-to-mesh swing with the host's load.
    pub slack: f64,
}

const FINALITY: &str = "timed_finality_latency_seconds";
const PING: &str = "timed_ping_rtt_seconds";

/// Compute the figures. `metrics`/`resources` are keyed by node name.
pub fn compute(
    tl: &Timeline,
    metrics: &BTreeMap<String, Accumulated>,
    resources: &BTreeMap<String, Resources>,
    full_mesh_ms: Option<u64>,
) -> Perf {
    let ms = |s: Option<f64>| s.map(|v| v * 1000.0);
    let fin = prom::merge(
        &metrics
            .values()
            .map(|m| m.buckets(FINALITY))
            .collect::<Vec<_>>(),
    );
    let ping = prom::merge(
        &metrics
            .values()
            .map(|m| m.buckets(PING))
            .collect::<Vec<_>>(),
    );
    let sum = |key: &str| -> Option<f64> {
        let vals: Vec<f64> = metrics.values().filter_map(|m| m.total(key)).collect();
        (!vals.is_empty()).then(|| vals.iter().sum())
    };
    let blocks = tl
        .samples
        .iter()
        .filter_map(|s| s.status.as_ref().map(|st| st.height))
        .max()
        .unwrap_or(0);
    let per_block = |v: Option<f64>| v.filter(|_| blocks > 0).map(|v| v / blocks as f64);
    let hours = tl.end as f64 / 3_600_000.0;
    let nodes = tl
        .nodes
        .iter()
        .map(|n| NodePerf {
            name: n.name.clone(),
            resources: resources.get(&n.name).cloned().unwrap_or_default(),
            finality_p50_ms: metrics
                .get(&n.name)
                .and_then(|m| ms(prom::quantile(&m.buckets(FINALITY), 0.5))),
        })
        .collect();
    Perf {
        full_mesh_ms,
        finality_p50_ms: ms(prom::quantile(&fin, 0.5)),
        finality_p95_ms: ms(prom::quantile(&fin, 0.95)),
        finality_max_ms: ms(metrics
            .values()
            .filter_map(|m| m.max(&format!("{FINALITY}_max")))
            .reduce(f64::max)),
        finality_samples: fin.last().map_or(0, |b| b.1 as u64),
        ping_rtt_p50_ms: ms(prom::quantile(&ping, 0.5)),
        ping_rtt_p95_ms: ms(prom::quantile(&ping, 0.95)),
        blocks,
        blocks_per_protocol_hour: (hours > 0.0).then(|| blocks as f64 / hours),
        messages_per_block: per_block(sum("timed_frames_out_total")),
        bytes_per_block: per_block(sum("timed_bytes_out_total")),
        reconnects: reconnects(tl),
        nodes,
    }
}

/// Connections established beyond the first per pair, from the nodes'
/// `connected` events (each side logs one; the larger side count counts).
pub fn reconnects(tl: &Timeline) -> u64 {
    let mut per_side: HashMap<(String, String), u64> = HashMap::new();
    for e in &tl.events {
        if e.event.kind != EventKind::Connected {
            continue;
        }
        let Some(peer) = e
            .event
            .peer_ip
            .and_then(|ip| tl.nodes.iter().find(|n| n.ip == ip))
        else {
            continue;
        };
        *per_side
            .entry((e.node.clone(), peer.name.clone()))
            .or_default() += 1;
    }
    let mut pairs: BTreeMap<(String, String), u64> = BTreeMap::new();
    for ((a, b), n) in per_side {
        let key = if a < b { (a, b) } else { (b, a) };
        let e = pairs.entry(key).or_default();
        *e = (*e).max(n);
    }
    pairs.values().map(|n| n.saturating_sub(1)).sum()
}

impl Perf {
    /// Every figure by name, in a fixed order (per-node ones last).
    pub fn figures(&self) -> Vec<Figure> {
        let f = |name: &str, unit, value, worse, slack| Figure {
            name: name.to_string(),
            unit,
            value,
            worse,
            slack,
        };
        let mut v = vec![
            f(
                "time to full mesh",
                "ms",
                self.full_mesh_ms.map(|x| x as f64),
                Worse::Higher,
                2500.0,
            ),
            f(
                "finality p50",
                "ms",
                self.finality_p50_ms,
                Worse::Higher,
                10.0,
            ),
            f(
                "finality p95",
                "ms",
                self.finality_p95_ms,
                Worse::Higher,
                250.0,
            ),
            f(
                "finality max",
                "ms",
                self.finality_max_ms,
                Worse::Higher,
                500.0,
            ),
            f(
                "ping rtt p50",
                "ms",
                self.ping_rtt_p50_ms,
                Worse::Higher,
                1.0,
            ),
            f(
                "blocks per protocol hour",
                "blocks",
                self.blocks_per_protocol_hour,
                Worse::Lower,
                10.0,
            ),
            f(
                "messages per block",
                "frames",
                self.messages_per_block,
                Worse::Higher,
                30.0,
            ),
            f(
                "bytes per block",
                "bytes",
                self.bytes_per_block,
                Worse::Higher,
                8192.0,
            ),
            f(
                "reconnects",
                "",
                Some(self.reconnects as f64),
                Worse::Higher,
                1.0,
            ),
        ];
        for n in &self.nodes {
            v.push(f(
                &format!("{} peak RSS", n.name),
                "MiB",
                n.resources
                    .peak_rss_bytes
                    .map(|b| b as f64 / (1024.0 * 1024.0)),
                Worse::Higher,
                2.0,
            ));
            v.push(f(
                &format!("{} CPU", n.name),
                "s",
                n.resources.cpu_seconds,
                Worse::Higher,
                0.5,
            ));
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::model::{NodeEvent, NodeInfo};
    use timed::api::types::EventView;

    fn connected(t: u64, node: &str, peer: &str) -> NodeEvent {
        NodeEvent {
            t,
            node: node.into(),
            event: EventView {
                seq: t,
                at_ms: t,
                kind: EventKind::Connected,
                peer_ip: Some(format!("10.0.0.{}", &peer[1..]).parse().unwrap()),
                direction: None,
                reason: None,
            },
        }
    }

    #[test]
    fn reconnects_count_beyond_the_first_per_pair() {
        let tl = Timeline {
            nodes: (1..=3)
                .map(|i| NodeInfo {
                    name: format!("n{i}"),
                    ip: format!("10.0.0.{i}").parse().unwrap(),
                    masternode: true,
                })
                .collect(),
            events: vec![
                connected(1, "n1", "n2"),
                connected(1, "n2", "n1"),
                connected(1, "n1", "n3"),
                connected(5, "n1", "n2"),
                connected(5, "n2", "n1"),
                connected(9, "n2", "n1"),
            ],
            ..Default::default()
        };
        assert_eq!(reconnects(&tl), 2);
    }

    #[test]
    fn figures_from_scrapes() {
        let mut m = Accumulated::default();
        m.push(prom::parse(
            "timed_frames_out_total 100\ntimed_bytes_out_total 10000\n\
             timed_finality_latency_seconds_bucket{le=\"0.01\"} 5\n\
             timed_finality_latency_seconds_bucket{le=\"0.02\"} 10\n\
             timed_finality_latency_seconds_bucket{le=\"+Inf\"} 10\n\
             timed_finality_latency_seconds_max 0.019\n",
        ));
        let tl = Timeline {
            end: 1_800_000,
            samples: vec![crate::observe::model::Sample {
                t: 1,
                node: "n1".into(),
                up: true,
                status: Some(timed::api::types::StatusView {
                    node_id: "x".into(),
                    ip: "10.0.0.1".parse().unwrap(),
                    height: 10,
                    tip_hash: String::new(),
                    genesis_hash: String::new(),
                    peers: 0,
                    masternode: true,
                    syncing: false,
                    uptime_ms: 0,
                }),
                peers: None,
                kernel: None,
            }],
            ..Default::default()
        };
        let metrics = BTreeMap::from([("n1".to_string(), m)]);
        let p = compute(&tl, &metrics, &BTreeMap::new(), Some(1500));
        assert_eq!(p.blocks, 10);
        assert_eq!(p.blocks_per_protocol_hour, Some(20.0));
        assert_eq!(p.messages_per_block, Some(10.0));
        assert_eq!(p.bytes_per_block, Some(1000.0));
        assert!((p.finality_p50_ms.unwrap() - 10.0).abs() < 1e-9);
        assert!((p.finality_max_ms.unwrap() - 19.0).abs() < 1e-9);
        assert_eq!(p.finality_samples, 10);
        let names: Vec<String> = p.figures().into_iter().map(|f| f.name).collect();
        assert!(names.contains(&"finality p95".to_string()), "{names:?}");
    }
}
