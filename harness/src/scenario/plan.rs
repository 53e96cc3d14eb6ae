//! The resolved fault plan: what [`super::validate`] hands on once a
//! scenario's faults passed every rule (CometBFT's manifest -> testnet step).
//!
//! Each `[[fault]]` becomes one [`FaultPlan`] variant per fault kind carrying
//! only the fields that kind uses, already parsed and checked (skews in ms,
//! probabilities in range, node names known, a `one_way` only where it can
//! apply), plus where the fault was written. What is still open here is only
//! what the seed decides (`nemesis::schedule::build` picks it), so building a
//! schedule from a plan cannot fail: `harness validate` and `harness run`
//! accept and reject exactly the same files.

use serde::{Deserialize, Serialize};

use super::source::Location;
use super::types::{During, Shape};

/// Every fault of a valid scenario, in file order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// The `[[fault]]` timeline.
    pub faults: Vec<PlannedFault>,
    /// The seeded random nemesis, if the scenario has one.
    pub nemesis: Option<RandomPlan>,
}

/// One `[[fault]]`, resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedFault {
    /// 1-based position among the `[[fault]]` tables.
    pub number: usize,
    /// Its `[[fault]]` header in the file (`None` for scenarios built in code).
    pub location: Option<Location>,
    /// Protocol ms since the run started.
    pub at_ms: u64,
    /// How long it lasts (`None`: instantaneous, or until `heal` / the end).
    pub for_ms: Option<u64>,
    pub fault: FaultPlan,
}

/// One variant per fault kind, each with exactly what that kind needs.
#[derive(Clone, Debug, PartialEq)]
pub enum FaultPlan {
    Partition(PartitionPlan),
    /// Ends every active partition, loss and latency fault (never has `for`).
    Heal,
    Kill(Targets),
    Restart(Targets),
    Pause(Targets),
    Wipe(Targets),
    ClockSkew {
        targets: Targets,
        skew_ms: i64,
    },
    Loss {
        targets: Targets,
        /// Strictly between 0 and 1.
        probability: f64,
    },
    /// Only planned when the machine has netem (or is the simulation).
    Latency {
        targets: Targets,
        delay_ms: u64,
        /// What only the simulation shapes (default: nothing).
        shape: LinkShape,
    },
    /// Cap the nodes' CPU for `for` (always has one).
    CpuThrottle {
        targets: Targets,
        /// Cores, within [`CPUS_MIN`, `CPUS_MAX`].
        cpus: f64,
    },
    /// A protocol fault (instantaneous, never has `for`).
    Probe {
        kind: ProbeKind,
        pair: PairPlan,
        /// Within [1, [`REPEAT_MAX`]].
        repeat: u32,
        /// `Handshake` only for `crossed_dial` and `stale_hello` with both
        /// nodes named, inside a `pause` of `peer` that `node` is not under.
        during: During,
    },
}

/// The parts of a `latency` fault only the simulation can apply (the
/// kernel here has no netem; netem cannot reorder or duplicate one TCP
/// stream's messages at all). All zero / `None`: a plain fixed delay.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LinkShape {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub jitter_ms: u64,
    /// Bandwidth, kilobits per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_kbit: Option<u64>,
    #[serde(default, skip_serializing_if = "is_zero_f")]
    pub reorder: f64,
    #[serde(default, skip_serializing_if = "is_zero_f")]
    pub duplicate: f64,
}

impl LinkShape {
    pub fn is_plain(&self) -> bool {
        *self == LinkShape::default()
    }
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

fn is_zero_f(v: &f64) -> bool {
    *v == 0.0
}

/// Which race a protocol fault forces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeKind {
    /// Both nodes of the pair dialed at once, each from the other's netns.
    CrossedDial,
    /// A second connection to `node` from `peer`'s IP.
    DuplicateDial,
    /// A Hello to `node` from `peer`'s IP whose dialer has hung up.
    StaleHello,
}

/// The two nodes of a protocol fault: `node` is dialed with `peer`'s IP and
/// key (a crossed dial also the other way). Known, distinct nodes when
/// named; the seed picks what is open (never the other one of the pair).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PairPlan {
    pub node: Option<String>,
    pub peer: Option<String>,
}

/// Most probes one protocol fault may send: each is a real connection to a
/// node, which also counts it against its per-IP inbound rate limit.
pub const REPEAT_MAX: u32 = 100;

/// Smallest `cpus` of a `cpu_throttle`: the container runtime's minimum
/// CPU quota is 1 ms per 100 ms period.
pub const CPUS_MIN: f64 = 0.01;
/// Largest `cpus` of a `cpu_throttle`: a whole core or more no longer
/// starves a node (it mostly uses one thread at a time).
pub const CPUS_MAX: f64 = 1.0;

/// Which nodes a fault acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Targets {
    /// Named in the file; known nodes, at least one.
    Named(Vec<String>),
    /// One node picked by the seed (never a foreign-genesis one).
    Seeded,
}

/// A partition that cuts something on this network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PartitionPlan {
    /// Disjoint groups of known nodes; unlisted nodes form one more group.
    Groups {
        groups: Vec<Vec<String>>,
        one_way: bool,
    },
    Halves {
        one_way: bool,
    },
    /// `targets` cut off from the rest (never every node).
    Isolate {
        targets: Targets,
        one_way: bool,
    },
    /// Jepsen's bridge (at least 3 nodes; two-way only).
    Bridge,
    /// Jepsen's majorities ring (at least 3 nodes; two-way only).
    MajoritiesRing,
}

/// The seeded random nemesis, resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct RandomPlan {
    /// The `[nemesis]` header in the file.
    pub location: Option<Location>,
    /// Mean protocol ms between random faults (> 0).
    pub interval_ms: u64,
    /// How long each random fault lasts (> 0).
    pub for_ms: u64,
    /// Kinds to draw from (never empty; no `heal`; `latency` only with netem).
    pub kinds: Vec<RandomKind>,
    /// No random fault starts before `start_ms` or ends after `stop_ms`.
    pub start_ms: u64,
    pub stop_ms: u64,
    /// Shapes a random partition draws from (never empty; file order).
    pub shapes: Vec<Shape>,
    /// Coverage events some explored seed must reach (known names only).
    pub must_reach: Vec<String>,
}

/// A fault kind the random nemesis can draw (every one heals after `for`,
/// so `heal` is not among them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RandomKind {
    Partition,
    Kill,
    Restart,
    Pause,
    Wipe,
    ClockSkew,
    Loss,
    Latency,
    CpuThrottle,
    /// A protocol fault between two nodes the seed picks, repeated
    /// [`RANDOM_PROBE_REPEAT`] times (instantaneous: `for` does not apply).
    Probe(ProbeKind),
}

/// Probes of one protocol fault drawn by the random nemesis: a crossed
/// dial of 3 is 6 dials, enough that a race lost one way in one attempt is
/// tried again, and 3 stays far below the per-IP inbound rate limit.
pub const RANDOM_PROBE_REPEAT: u32 = 3;
