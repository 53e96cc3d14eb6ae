//! [`Fault`]: one fault with every target resolved, as the schedule holds
//! it, `report.json` stores it and the nemeses apply it.

use super::grudge::Cut;
use crate::scenario::plan::LinkShape;
use crate::scenario::{During, FaultAction};
use serde::{Deserialize, Serialize};

/// One fault with every target resolved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Fault {
    /// Drop packets along `cuts` (directed, see `grudge`).
    Partition { description: String, cuts: Vec<Cut> },
    /// End every active partition, loss and latency fault now.
    Heal,
    /// SIGKILL, then start (at once, or at the end step when it has one).
    Kill { nodes: Vec<String> },
    /// SIGTERM and wait, then start (at once, or at the end step).
    Restart { nodes: Vec<String> },
    /// Freeze (cgroup freezer); resumed at the end step or by `heal_all`.
    Pause { nodes: Vec<String> },
    /// Replace with an empty data dir (at once, or kill now and come back
    /// empty at the end step).
    Wipe { nodes: Vec<String> },
    /// Restart with the node's chain clock offset; restart without at the end.
    ClockSkew { nodes: Vec<String>, skew_ms: i64 },
    /// Drop received P2P packets with this probability.
    Loss {
        nodes: Vec<String>,
        probability: f64,
    },
    /// Delay outgoing packets (netem; only when the kernel has it), and in
    /// the simulation also jitter, bandwidth, reordering, duplication.
    Latency {
        nodes: Vec<String>,
        delay_ms: u64,
        #[serde(default, skip_serializing_if = "LinkShape::is_plain")]
        shape: LinkShape,
    },
    /// Cap the container's CPU to `cpus` cores (runtime CPU quota); lifted
    /// at the end step or by `heal_all`. The node stays up, only slow.
    CpuThrottle { nodes: Vec<String>, cpus: f64 },
    /// `node` and `peer` dialed at the same instant, each from the other's
    /// network namespace with the other's key, `repeat` times. With
    /// `During::Handshake`: only `node` is dialed (as the frozen `peer`),
    /// each time while its own redial to `peer` is mid-handshake.
    CrossedDial {
        node: String,
        peer: String,
        repeat: u32,
        during: During,
    },
    /// A second connection to `node` from `peer`'s IP and key, `repeat` times.
    DuplicateDial {
        node: String,
        peer: String,
        repeat: u32,
    },
    /// A Hello to `node` from `peer`'s IP and key, its dialer already gone
    /// (the proof and the FIN behind it in one segment on docker, in one
    /// step in sim). With `During::Handshake`: while `node` is not
    /// connected to the frozen `peer` (its redial is mid-handshake); with
    /// `During::Idle`: while `node` holds no socket to it at all.
    StaleHello {
        node: String,
        peer: String,
        repeat: u32,
        during: During,
    },
}

impl Fault {
    /// The timeline record of this fault over `start..end` (protocol ms;
    /// `None`: still open). Both providers' nemeses record through this.
    pub fn span(&self, start: u64, end: Option<u64>) -> crate::observe::model::FaultSpan {
        let cuts = match self {
            Fault::Partition { cuts, .. } => cuts.clone(),
            _ => Vec::new(),
        };
        crate::observe::model::FaultSpan {
            start,
            end,
            action: self.action(),
            nodes: self.nodes(),
            cuts,
            description: self.describe(),
            answers: Vec::new(),
        }
    }

    /// The fault's kind, as named in scenarios, spans, reports and logs.
    pub fn action(&self) -> FaultAction {
        match self {
            Fault::Partition { .. } => FaultAction::Partition,
            Fault::Heal => FaultAction::Heal,
            Fault::Kill { .. } => FaultAction::Kill,
            Fault::Restart { .. } => FaultAction::Restart,
            Fault::Pause { .. } => FaultAction::Pause,
            Fault::Wipe { .. } => FaultAction::Wipe,
            Fault::ClockSkew { .. } => FaultAction::ClockSkew,
            Fault::Loss { .. } => FaultAction::Loss,
            Fault::Latency { .. } => FaultAction::Latency,
            Fault::CpuThrottle { .. } => FaultAction::CpuThrottle,
            Fault::CrossedDial { .. } => FaultAction::CrossedDial,
            Fault::DuplicateDial { .. } => FaultAction::DuplicateDial,
            Fault::StaleHello { .. } => FaultAction::StaleHello,
        }
    }

    /// Nodes acted on: targets, or every node on either side of a cut.
    pub fn nodes(&self) -> Vec<String> {
        match self {
            Fault::Partition { cuts, .. } => {
                let mut v: Vec<String> = cuts
                    .iter()
                    .flat_map(|(a, b)| [a.clone(), b.clone()])
                    .collect();
                v.sort_by_key(|n| node_key(n));
                v.dedup();
                v
            }
            Fault::Heal => Vec::new(),
            Fault::Kill { nodes }
            | Fault::Restart { nodes }
            | Fault::Pause { nodes }
            | Fault::Wipe { nodes }
            | Fault::ClockSkew { nodes, .. }
            | Fault::Loss { nodes, .. }
            | Fault::Latency { nodes, .. }
            | Fault::CpuThrottle { nodes, .. } => nodes.clone(),
            Fault::CrossedDial { node, peer, .. }
            | Fault::DuplicateDial { node, peer, .. }
            | Fault::StaleHello { node, peer, .. } => vec![node.clone(), peer.clone()],
        }
    }

    /// Network faults live in the namespace and end at `heal`.
    pub fn is_network(&self) -> bool {
        matches!(
            self,
            Fault::Partition { .. } | Fault::Loss { .. } | Fault::Latency { .. }
        )
    }

    /// Protocol faults: the harness dials as a node (`nemesis::probe`).
    pub fn is_probe(&self) -> bool {
        matches!(
            self,
            Fault::CrossedDial { .. } | Fault::DuplicateDial { .. } | Fault::StaleHello { .. }
        )
    }

    /// One human line: what this fault does.
    pub fn describe(&self) -> String {
        let nodes = self.nodes().join(" ");
        match self {
            Fault::Partition { description, cuts } => {
                format!("{description} ({} cuts)", cuts.len())
            }
            Fault::Heal => "heal every partition, loss and latency".into(),
            Fault::ClockSkew { skew_ms, .. } => format!("{nodes} clock {skew_ms:+}ms"),
            Fault::Loss { probability, .. } => {
                format!("{nodes} drop {:.1}% of P2P packets", probability * 100.0)
            }
            Fault::Latency {
                delay_ms, shape, ..
            } => {
                let mut d = format!("{nodes} +{delay_ms}ms");
                if shape.jitter_ms > 0 {
                    d += &format!(" ±{}ms", shape.jitter_ms);
                }
                if let Some(r) = shape.rate_kbit {
                    d += &format!(" {r}kbit/s");
                }
                if shape.reorder > 0.0 {
                    d += &format!(" reorder {:.1}%", shape.reorder * 100.0);
                }
                if shape.duplicate > 0.0 {
                    d += &format!(" duplicate {:.1}%", shape.duplicate * 100.0);
                }
                d
            }
            Fault::CpuThrottle { cpus, .. } => {
                format!("{nodes} CPU capped to {:.0}% of a core", cpus * 100.0)
            }
            Fault::CrossedDial {
                node,
                peer,
                repeat,
                during: During::Established,
            } => format!("{node} <-> {peer} dials crossed x{repeat}"),
            Fault::CrossedDial {
                node, peer, repeat, ..
            } => {
                format!("{peer} -> {node} while {node}'s dial to {peer} is mid-handshake x{repeat}")
            }
            Fault::DuplicateDial { node, peer, repeat } => {
                format!("second connection {peer} -> {node} x{repeat}")
            }
            Fault::StaleHello {
                node,
                peer,
                repeat,
                during: During::Established,
            } => format!("stale Hello {peer} -> {node} x{repeat}"),
            Fault::StaleHello {
                node,
                peer,
                repeat,
                during: During::Handshake,
            } => format!("stale Hello {peer} -> {node} while not connected x{repeat}"),
            Fault::StaleHello {
                node,
                peer,
                repeat,
                during: During::Idle,
            } => format!(
                "stale Hello {peer} -> {node} while {node} holds no socket to {peer} x{repeat}"
            ),
            _ => nodes,
        }
    }
}

/// Sort `n2` before `n10`.
fn node_key(n: &str) -> (usize, String) {
    (
        n.trim_start_matches('n').parse().unwrap_or(usize::MAX),
        n.to_string(),
    )
}
