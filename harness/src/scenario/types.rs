//! The scenario file format (DESIGN.md "Scenario file"). Unknown keys are
//! rejected everywhere; durations are humantime strings in protocol time.

use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    /// What bug class this scenario guards against (shown by `harness list`).
    #[serde(default)]
    pub description: String,
    /// Protocol time the run lasts.
    #[serde(with = "humantime_serde")]
    pub duration: Duration,
    /// Node timers and the schedule run this many times faster (default 1).
    #[serde(default = "one")]
    pub time_scale: f64,
    #[serde(default)]
    pub seed: u64,
    pub network: NetworkSpec,
    /// Per-node overrides (late start, bootstrap peers).
    #[serde(default, rename = "node")]
    pub nodes: Vec<NodeSpec>,
    #[serde(default, rename = "fault")]
    pub faults: Vec<FaultSpec>,
    #[serde(default)]
    pub nemesis: Option<NemesisSpec>,
    #[serde(default)]
    pub workload: Option<WorkloadSpec>,
    #[serde(default, rename = "check")]
    pub checks: Vec<CheckSpec>,
    /// Where this scenario was read from (file path + text), so validation
    /// errors can point at `file:line:column`. Not part of the file format.
    #[serde(skip)]
    pub source: Option<std::sync::Arc<super::source::Source>>,
}

fn one() -> f64 {
    1.0
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    /// Nodes are named n1..nN.
    pub nodes: usize,
    /// The first `masternodes` nodes are masternodes (default: all).
    #[serde(default)]
    pub masternodes: Option<usize>,
    #[serde(default = "sixty_s", with = "humantime_serde")]
    pub block_interval: Duration,
    /// How many following nodes each node bootstraps from (default 2).
    #[serde(default)]
    pub bootstrap_fanout: Option<usize>,
}

fn sixty_s() -> Duration {
    Duration::from_secs(60)
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    pub name: String,
    /// Start this node only at this protocol time (a late joiner).
    #[serde(default, with = "humantime_serde")]
    pub start_at: Option<Duration>,
    /// Replace the node's bootstrap list with these nodes.
    #[serde(default)]
    pub bootstrap: Option<Vec<String>>,
    /// Start this node with a different genesis (another network's node
    /// wandering in). The others must refuse its handshake; the checks
    /// ignore it (it is neither expected in the mesh nor on the chain).
    #[serde(default)]
    pub foreign_genesis: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultAction {
    Partition,
    Heal,
    Kill,
    Restart,
    Pause,
    Wipe,
    #[serde(alias = "clock-skew")]
    ClockSkew,
    Loss,
    Latency,
    /// Cap the node's CPU (container CPU quota) for a window.
    #[serde(alias = "cpu-throttle")]
    CpuThrottle,
    /// Protocol fault: the harness dials `nodes[0]` and `nodes[1]` at once,
    /// each dial from the other's network namespace with its testnet key.
    #[serde(alias = "crossed-dial")]
    CrossedDial,
    /// Protocol fault: a second connection to `nodes[0]` from `peer`'s IP
    /// with `peer`'s key, while `peer` is connected.
    #[serde(alias = "duplicate-dial")]
    DuplicateDial,
    /// Protocol fault: a Hello from `peer`'s IP whose dialer hangs up at once.
    #[serde(alias = "stale-hello")]
    StaleHello,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Shape {
    Halves,
    Isolate,
    Bridge,
    #[serde(alias = "majorities_ring")]
    MajoritiesRing,
}

/// The four named shapes, in declaration order: what a random partition
/// draws from when `[nemesis] shapes` is left out.
pub const ALL_SHAPES: [Shape; 4] = [
    Shape::Halves,
    Shape::Isolate,
    Shape::Bridge,
    Shape::MajoritiesRing,
];

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    #[serde(with = "humantime_serde")]
    pub at: Duration,
    /// Auto-heal / resume / restart after this long.
    #[serde(default, rename = "for", with = "humantime_serde")]
    pub duration: Option<Duration>,
    pub action: FaultAction,
    /// Partition shape (or `groups`).
    #[serde(default)]
    pub shape: Option<Shape>,
    #[serde(default)]
    pub groups: Option<Vec<Vec<String>>>,
    /// Target nodes of process faults, `isolate`, `loss`, `clock_skew`.
    #[serde(default)]
    pub nodes: Option<Vec<String>>,
    /// Drop only packets from the first group to the others.
    #[serde(default)]
    pub one_way: bool,
    /// `loss`: probability a packet is dropped, 0 < p < 1.
    #[serde(default)]
    pub probability: Option<f64>,
    /// `clock_skew`: offset of the node's chain clock, e.g. "+30s" or "-2m".
    #[serde(default)]
    pub skew: Option<String>,
    /// `latency`: added delay (needs netem).
    #[serde(default, with = "humantime_serde")]
    pub delay: Option<Duration>,
    /// `latency`, sim only: up to this much more delay, uniform per message.
    #[serde(default, with = "humantime_serde")]
    pub jitter: Option<Duration>,
    /// `latency`, sim only: the link's bandwidth in kilobits per second.
    #[serde(default)]
    pub rate_kbit: Option<u64>,
    /// `latency`, sim only: probability a message overtakes those before it.
    #[serde(default)]
    pub reorder: Option<f64>,
    /// `latency`, sim only: probability a message is delivered twice.
    #[serde(default)]
    pub duplicate: Option<f64>,
    /// `cpu_throttle`: CPU the node may use, in cores (0.05 = 5 % of one core).
    #[serde(default)]
    pub cpus: Option<f64>,
    /// `duplicate_dial`, `stale_hello`: the node whose IP and key the
    /// harness dials `nodes[0]` with (default: picked by the seed).
    #[serde(default)]
    pub peer: Option<String>,
    /// Protocol faults: how many times the probe is repeated (default 1).
    #[serde(default)]
    pub repeat: Option<u32>,
    /// `crossed_dial`, `stale_hello`: when the probes go out (default
    /// `established`: at once, on the running pair).
    #[serde(default)]
    pub during: Option<During>,
}

/// When a protocol fault's probes go out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum During {
    /// At once, while `node` and `peer` are connected.
    #[default]
    Established,
    /// Once `node` has dropped `peer` (frozen by a `pause` that covers the
    /// fault) and `node`'s redial to it is mid-handshake: TCP established
    /// into the frozen peer's backlog, Hello sent, no answer. Each probe
    /// waits for a fresh such dial. `node`'s registry then holds
    /// `Dialing { handshaking: true }` for `peer`'s IP, and a probe as
    /// `peer` reaches the tie-break of two handshaking dials.
    Handshake,
    /// `stale_hello` only: once `node` has dropped the frozen `peer` and
    /// holds no socket to it at all (between two of its redials). A node
    /// that registers a stale Hello then has nothing else to refuse it
    /// with: no connection to call it a duplicate of, no dial of its own
    /// to break a tie with. Each probe waits for such a moment.
    Idle,
}

impl During {
    pub fn name(self) -> &'static str {
        match self {
            During::Established => "established",
            During::Handshake => "handshake",
            During::Idle => "idle",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NemesisSpec {
    /// Mean protocol time between random faults.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// How long each random fault lasts (default: interval / 2).
    #[serde(default, rename = "for", with = "humantime_serde")]
    pub duration: Option<Duration>,
    pub actions: Vec<FaultAction>,
    /// No random faults before / after these protocol times.
    #[serde(default, with = "humantime_serde")]
    pub start: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    pub stop: Option<Duration>,
    /// Partition shapes a random `partition` draws from (default: all four
    /// named shapes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shapes: Option<Vec<Shape>>,
    /// Rare protocol events (`report::coverage::EVENTS`) that some seed of
    /// `harness explore` must reach, else the exploration fails: a schedule
    /// that never exercises the tie-break proves nothing about it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub must_reach: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    /// Protocol time between submitted transactions.
    #[serde(with = "humantime_serde")]
    pub tx_interval: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    NoCycling,
    OnePeerPerIp,
    CommonHeight,
    NoFork,
    Progress,
    TxDelivery,
    /// Every node that should be running is running and ready.
    NodeUp,
    /// A node's `/peers` and its kernel TCP table agree, both ways.
    KernelView,
    /// Dials to an unreachable peer follow the node's backoff.
    DialBackoff,
    /// No running node trails the network's highest height.
    HeightLag,
    /// Every protocol fault (`crossed_dial`, `duplicate_dial`,
    /// `stale_hello`) got an answer that keeps one connection per IP.
    ProbeAnswers,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckSpec {
    pub kind: CheckKind,
    /// `common_height`: agreement required within this long of the end/last heal.
    #[serde(default, with = "humantime_serde")]
    pub within: Option<Duration>,
    /// `common_height`: the common height must reach at least this.
    #[serde(default)]
    pub min_height: Option<u64>,
    /// Time after start before the check applies (default per check).
    #[serde(default, with = "humantime_serde")]
    pub warmup: Option<Duration>,
    /// Time after a fault ends during which the check is relaxed.
    #[serde(default, with = "humantime_serde")]
    pub grace: Option<Duration>,
}
