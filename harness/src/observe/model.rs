//! The observation timeline: everything the harness saw during a run.
//!
//! Checks are pure functions over this type, so every check can be unit-tested
//! with a synthetic timeline and no Docker. All times are **protocol ms since
//! the run started** (wall ms x time_scale), so scenario durations like
//! `within = "3m"` compare directly.

use crate::scenario::FaultAction;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use timed::api::types::{EventKind, EventView, PeerView, StatusView};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// `n1`, `n2`, ...
    pub name: String,
    pub ip: IpAddr,
    pub masternode: bool,
}

/// One kernel-level TCP connection of a node on the P2P port (either end).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct KernelConn {
    pub local_ip: IpAddr,
    pub local_port: u16,
    pub remote_ip: IpAddr,
    pub remote_port: u16,
}

/// One poll of one node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub t: u64,
    pub node: String,
    /// Container running and API answering.
    pub up: bool,
    pub status: Option<StatusView>,
    pub peers: Option<Vec<PeerView>>,
    /// ESTABLISHED sockets on the P2P port from `/proc/PID/net/tcp{,6}`,
    /// read independently of what the node says. `None` if unreadable.
    pub kernel: Option<Vec<KernelConn>>,
}

/// An event the node reported through `/events`, stamped on the run's clock.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeEvent {
    pub t: u64,
    pub node: String,
    pub event: EventView,
}

impl NodeEvent {
    /// The events of one `/events?after=SEQ` page that are new (seq above
    /// `*after`, which advances to the last one), stamped on the run's
    /// clock by `t(at_ms)`. Both providers' pollers read pages through this.
    pub fn take_page(
        page: Vec<EventView>,
        after: &mut u64,
        node: &str,
        t: impl Fn(u64) -> u64,
        out: &mut Vec<NodeEvent>,
    ) {
        for ev in page {
            if ev.seq <= *after {
                continue;
            }
            *after = ev.seq;
            out.push(NodeEvent {
                t: t(ev.at_ms),
                node: node.to_string(),
                event: ev,
            });
        }
    }
}

/// The `reason` of a `disconnected` event after a ping timeout: the node's
/// contract string (DESIGN.md, "close with reason `ping timeout`").
const PING_TIMEOUT_REASON: &str = "ping timeout";

impl NodeEvent {
    /// The height of a `block_finalized` event (its reason reads
    /// `height=N hash=... txs=... source=consensus|announcement`); blocks
    /// fetched by sync log none.
    pub fn finalized_height(&self) -> Option<u64> {
        if self.event.kind != EventKind::BlockFinalized {
            return None;
        }
        self.event.reason.as_deref().and_then(|r| {
            r.split_whitespace()
                .find_map(|w| w.strip_prefix("height="))
                .and_then(|x| x.parse().ok())
        })
    }

    /// The node closed this connection because its pings went unanswered.
    /// Read here, where the API's text becomes the timeline, so the checks
    /// ask a question instead of matching strings.
    pub fn is_ping_timeout(&self) -> bool {
        self.event.kind == EventKind::Disconnected
            && self.event.reason.as_deref() == Some(PING_TIMEOUT_REASON)
    }
}

/// A fault as it actually happened (start/end as applied, not as planned).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultSpan {
    pub start: u64,
    /// `None` while still active at the end of the run.
    pub end: Option<u64>,
    /// What kind of fault; serialized as its scenario name (`partition`,
    /// `kill`, `clock_skew`, ...), so stored timelines keep loading.
    pub action: FaultAction,
    /// Nodes the fault acted on (processes), or every node on either side of a cut.
    pub nodes: Vec<String>,
    /// Directed cuts `(from, to)`: packets from `from` to `to` are dropped.
    pub cuts: Vec<(String, String)>,
    pub description: String,
    /// Protocol faults only: what the node answered each probe, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub answers: Vec<ProbeAnswer>,
}

/// What a node answered one probe of a protocol fault (`crossed_dial`,
/// `duplicate_dial`, `stale_hello`): the harness dialed `node` from
/// `from`'s network namespace with `from`'s testnet key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeAnswer {
    /// Protocol ms the probe was sent.
    pub t: u64,
    /// The node that answered (the one dialed).
    pub node: String,
    /// The node impersonated (its IP and key).
    pub from: String,
    pub answer: Answer,
    /// A probe that met the node's own handshaking dial to `from`
    /// (`crossed_dial` with `during = "handshake"`): both node ids, which
    /// decide the honest answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tie_break: Option<TieBreak>,
}

/// The ids of a mid-handshake crossing, hex (the byte order of the ids,
/// as the node compares them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TieBreak {
    /// The dialed node's id.
    pub node_id: String,
    /// The impersonated dialer's id.
    pub from_id: String,
}

impl TieBreak {
    /// The ids of a probe to the node `node` as `from`.
    pub fn of(node: &ed25519_dalek::SigningKey, from: &ed25519_dalek::SigningKey) -> Self {
        let hex = |k| hex::encode(timed::keys::node_id(k).0);
        TieBreak {
            node_id: hex(node),
            from_id: hex(from),
        }
    }

    /// Whether the dialer's connection wins (the lower id's dial is kept,
    /// on both sides): the node must then take the probe over its own dial.
    pub fn dialer_wins(&self) -> bool {
        self.from_id < self.node_id
    }
}

/// The first thing a probed node sent back on the harness's connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Answer {
    /// `HandshakeAck`: the node took the connection as a live peer.
    Ack,
    /// `Reject` with the node's reason.
    Reject { reason: String },
    /// The node closed the connection without a frame (a refusal before
    /// the handshake, or a stale Hello dropped unregistered).
    Closed,
    /// Nothing within the handshake limit (the node neither answered nor
    /// closed).
    Silent,
    /// The probe could not be made (no namespace, connect refused...).
    Failed { error: String },
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Answer::Ack => f.write_str("handshake ack"),
            Answer::Reject { reason } => write!(f, "reject \"{}\"", reason.escape_debug()),
            Answer::Closed => f.write_str("closed without a frame"),
            Answer::Silent => f.write_str("no answer"),
            Answer::Failed { error } => write!(f, "probe failed: {error}"),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    pub time_scale: f64,
    pub nodes: Vec<NodeInfo>,
    /// Ordered by `t`.
    pub samples: Vec<Sample>,
    /// Ordered by `t`.
    pub events: Vec<NodeEvent>,
    pub faults: Vec<FaultSpan>,
    /// Protocol ms at which observation stopped.
    pub end: u64,
    /// Protocol ms between two polls of one node: the poller's cadence
    /// (300 ms wall x time scale), not the gap between stored samples
    /// (identical samples are stored only every few seconds). 0 in
    /// timelines recorded before this field existed.
    #[serde(default)]
    pub poll: u64,
    /// Transactions the workload submitted and a node accepted (2xx), ordered by `t`.
    #[serde(default)]
    pub txs_submitted: Vec<TxRecord>,
    /// Transaction ids found in each node's chain at the end of the run
    /// (node name -> txids). A node missing here could not be read.
    #[serde(default)]
    pub txs_in_chain: BTreeMap<String, BTreeSet<String>>,
}

/// A transaction the harness submitted and `node` accepted at protocol time `t`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxRecord {
    pub t: u64,
    pub txid: String,
    pub node: String,
}

impl Timeline {
    /// The node with this name, if any.
    pub fn node(&self, name: &str) -> Option<&NodeInfo> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// Samples of one node, in time order.
    pub fn samples_of<'a>(&'a self, node: &'a str) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| s.node == node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stored timelines name faults by their scenario strings; the typed
    /// kind must read and write exactly those.
    #[test]
    fn fault_kinds_keep_their_timeline_strings() {
        use FaultAction::*;
        let all = [
            (Partition, "partition"),
            (Heal, "heal"),
            (Kill, "kill"),
            (Restart, "restart"),
            (Pause, "pause"),
            (Wipe, "wipe"),
            (ClockSkew, "clock_skew"),
            (Loss, "loss"),
            (Latency, "latency"),
            (CpuThrottle, "cpu_throttle"),
            (CrossedDial, "crossed_dial"),
            (DuplicateDial, "duplicate_dial"),
            (StaleHello, "stale_hello"),
        ];
        for (kind, text) in all {
            let stored = format!(
                r#"{{"start":1,"end":null,"action":"{text}","nodes":["n1"],"cuts":[],"description":"d"}}"#
            );
            let span: FaultSpan = serde_json::from_str(&stored).unwrap();
            assert_eq!(span.action, kind);
            assert_eq!(serde_json::to_string(&span).unwrap(), stored);
            assert_eq!(kind.to_string(), text);
        }
        let bad = r#"{"start":1,"end":null,"action":"melt","nodes":[],"cuts":[],"description":""}"#;
        assert!(serde_json::from_str::<FaultSpan>(bad).is_err());
    }
}
