//! The fault schedule: the scenario's `[[fault]]` timeline plus the seeded
//! random `[nemesis]`, expanded into an ordered list of timed [`Step`]s
//! (start and end of each fault, protocol ms since the run started).
//!
//! Pure and deterministic: every choice left open by the scenario (which node
//! to kill, which node to isolate, the ring order, skew amounts, when random
//! faults happen) is drawn here from the seed with a small fixed PRNG
//! (SplitMix64, so replays stay identical whatever `rand` version is in use).
//! The result names exact nodes and cuts, prints one line per step and is
//! stored in `report.json`; the same scenario and `--seed` give the same
//! schedule.

pub use super::fault::Fault;
use super::grudge::{self, Cut};
use crate::scenario::plan::{
    FaultPlan, LinkShape, PairPlan, PartitionPlan, ProbeKind, RandomKind, RandomPlan, Targets,
    RANDOM_PROBE_REPEAT,
};
use crate::scenario::{fmt_ms, During, Plan, Scenario, Shape};
use crate::splitmix::SplitMix;
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Ends sort before starts at the same instant (one heals, then the next
    /// fault begins).
    End,
    Start,
}

/// Where a fault came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// A `[[fault]]` entry of the scenario.
    Timeline,
    /// Drawn by the seeded `[nemesis]`.
    Random,
}

/// One timed step of the schedule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// Protocol ms since the run started.
    pub at_ms: u64,
    /// Fault number (1-based, unique in the schedule); start and end share it.
    pub id: usize,
    pub phase: Phase,
    /// Planned end of the fault (`None`: instantaneous, or until `heal` /
    /// the end of the run).
    pub until_ms: Option<u64>,
    pub origin: Origin,
    pub fault: Fault,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = match self.phase {
            Phase::Start => '+',
            Phase::End => '-',
        };
        let origin = match self.origin {
            Origin::Timeline => "",
            Origin::Random => " (random)",
        };
        let until = match (self.phase, self.until_ms) {
            (Phase::Start, Some(u)) => format!(" until {}", fmt_ms(u)),
            _ => String::new(),
        };
        write!(
            f,
            "{:>12}  {sign}{}#{}  {}{until}{origin}",
            fmt_ms(self.at_ms),
            self.fault.action(),
            self.id,
            self.fault.describe()
        )
    }
}

/// The whole expanded schedule of a run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    pub seed: u64,
    pub time_scale: f64,
    /// Ordered by (`at_ms`, phase, id).
    pub steps: Vec<Step>,
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in &self.steps {
            writeln!(f, "{s}")?;
        }
        Ok(())
    }
}

/// Tiny, stable PRNG (SplitMix64): the schedule must replay identically.
pub(super) struct Rng(SplitMix);

impl Rng {
    pub(super) fn new(seed: u64, stream: u64) -> Self {
        Rng(SplitMix(seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
    }
    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }
    /// Uniform in `0..n` (n > 0).
    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub(super) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    pub(super) fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i as u64 + 1) as usize);
        }
    }
}

/// Expand a validated scenario's fault plan (from [`crate::scenario::validate`])
/// into a schedule: only the seed's choices are made here, so it cannot fail.
pub fn build(scenario: &Scenario, plan: &Plan) -> Schedule {
    let all = scenario.node_names();
    let foreign = scenario.foreign_nodes();
    let nodes = Nodes {
        pickable: all
            .iter()
            .filter(|n| !foreign.contains(n))
            .cloned()
            .collect(),
        all,
    };
    let mut steps = Vec::new();
    let mut id = 0;
    for planned in &plan.faults {
        let mut rng = Rng::new(scenario.seed, planned.number as u64);
        let fault = resolve(&planned.fault, &nodes, &mut rng);
        id += 1;
        push(
            &mut steps,
            id,
            planned.at_ms,
            planned.for_ms,
            Origin::Timeline,
            fault,
        );
    }
    if let Some(nemesis) = &plan.nemesis {
        random(nemesis, scenario.seed, &nodes, &mut id, &mut steps);
    }
    steps.sort_by_key(|s| (s.at_ms, s.phase, s.id));
    Schedule {
        seed: scenario.seed,
        time_scale: scenario.time_scale,
        steps,
    }
}

pub(super) fn push(
    steps: &mut Vec<Step>,
    id: usize,
    at: u64,
    dur: Option<u64>,
    origin: Origin,
    fault: Fault,
) {
    let until = dur.map(|d| at + d);
    if let Some(end) = until {
        steps.push(Step {
            at_ms: end,
            id,
            phase: Phase::End,
            until_ms: until,
            origin,
            fault: fault.clone(),
        });
    }
    steps.push(Step {
        at_ms: at,
        id,
        phase: Phase::Start,
        until_ms: until,
        origin,
        fault,
    });
}

/// The run's nodes, and those a seeded choice may pick (not the
/// foreign-genesis ones, which the checks ignore).
pub(super) struct Nodes {
    pub(super) all: Vec<String>,
    pub(super) pickable: Vec<String>,
}

/// Targets named in the file, or one node chosen by the seed.
fn targets(t: &Targets, nodes: &Nodes, rng: &mut Rng) -> Vec<String> {
    match t {
        Targets::Named(named) => named.clone(),
        Targets::Seeded => vec![rng.pick(&nodes.pickable).clone()],
    }
}

fn resolve(plan: &FaultPlan, nodes: &Nodes, rng: &mut Rng) -> Fault {
    match plan {
        FaultPlan::Partition(p) => {
            let isolated = match p {
                PartitionPlan::Isolate { targets: t, .. } => targets(t, nodes, rng),
                _ => Vec::new(),
            };
            let (description, cuts) = partition(p, &nodes.all, &isolated);
            Fault::Partition { description, cuts }
        }
        FaultPlan::Heal => Fault::Heal,
        FaultPlan::Kill(t) => Fault::Kill {
            nodes: targets(t, nodes, rng),
        },
        FaultPlan::Restart(t) => Fault::Restart {
            nodes: targets(t, nodes, rng),
        },
        FaultPlan::Pause(t) => Fault::Pause {
            nodes: targets(t, nodes, rng),
        },
        FaultPlan::Wipe(t) => Fault::Wipe {
            nodes: targets(t, nodes, rng),
        },
        FaultPlan::ClockSkew {
            targets: t,
            skew_ms,
        } => Fault::ClockSkew {
            nodes: targets(t, nodes, rng),
            skew_ms: *skew_ms,
        },
        FaultPlan::Loss {
            targets: t,
            probability,
        } => Fault::Loss {
            nodes: targets(t, nodes, rng),
            probability: *probability,
        },
        FaultPlan::Latency {
            targets: t,
            delay_ms,
            shape,
        } => Fault::Latency {
            nodes: targets(t, nodes, rng),
            delay_ms: *delay_ms,
            shape: shape.clone(),
        },
        FaultPlan::CpuThrottle { targets: t, cpus } => Fault::CpuThrottle {
            nodes: targets(t, nodes, rng),
            cpus: *cpus,
        },
        FaultPlan::Probe {
            kind,
            pair,
            repeat,
            during,
        } => {
            let (node, peer) = probe_pair(pair, nodes, rng);
            probe_fault(*kind, node, peer, *repeat, *during)
        }
    }
}

/// The two nodes of a protocol fault: as named, or picked by the seed among
/// the others (validation saw to it that the network has two).
fn probe_pair(pair: &PairPlan, nodes: &Nodes, rng: &mut Rng) -> (String, String) {
    let mut pick = |not: Option<&String>| {
        let others: Vec<String> = nodes
            .pickable
            .iter()
            .filter(|n| Some(*n) != not)
            .cloned()
            .collect();
        rng.pick(&others).clone()
    };
    let node = pair
        .node
        .clone()
        .unwrap_or_else(|| pick(pair.peer.as_ref()));
    let peer = pair.peer.clone().unwrap_or_else(|| pick(Some(&node)));
    (node, peer)
}

/// Description and cuts of a partition over `ring` (node order matters for
/// every shape); `isolated` are the resolved targets of an `Isolate`.
pub(super) fn partition(
    p: &PartitionPlan,
    ring: &[String],
    isolated: &[String],
) -> (String, Vec<Cut>) {
    let by_groups = |name: &str, g: &[Vec<String>], one_way: bool| {
        let desc = format!("{name} {}", grudge::describe_groups(g));
        let desc = if one_way {
            format!("{desc} one-way")
        } else {
            desc
        };
        (desc, grudge::groups(ring, g, one_way))
    };
    match p {
        PartitionPlan::Groups { groups, one_way } => by_groups("groups", groups, *one_way),
        PartitionPlan::Halves { one_way } => {
            by_groups("halves", &grudge::halves_groups(ring), *one_way)
        }
        PartitionPlan::Isolate { one_way, .. } => {
            by_groups("isolate", &grudge::isolate_groups(ring, isolated), *one_way)
        }
        PartitionPlan::Bridge => {
            let k = ring.len() / 2;
            let desc = format!(
                "bridge {} <{}> {}",
                ring[..k].join(" "),
                ring.get(k).cloned().unwrap_or_default(),
                ring.get(k + 1..).unwrap_or_default().join(" ")
            );
            (desc, grudge::bridge(ring))
        }
        PartitionPlan::MajoritiesRing => (
            format!("majorities-ring {}", ring.join(" ")),
            grudge::majorities_ring(ring),
        ),
    }
}

/// The seeded random nemesis: one fault at a time, each lasting `for`
/// (default interval/2), starts spaced by `interval` on average
/// (uniform in [interval/2, 3*interval/2], whole seconds, never overlapping), inside
/// [start, stop] (default [interval, duration - interval], leaving time to
/// converge before the end).
pub(super) fn random(
    plan: &RandomPlan,
    seed: u64,
    nodes: &Nodes,
    id: &mut usize,
    steps: &mut Vec<Step>,
) {
    let (interval, dur) = (plan.interval_ms, plan.for_ms);
    let mut rng = Rng::new(seed, 0x7A11_D0E5);
    let mut t = plan.start_ms;
    while t + dur <= plan.stop_ms {
        let kind = *rng.pick(&plan.kinds);
        let fault = random_fault(kind, &plan.shapes, nodes, &mut rng);
        *id += 1;
        let until = (!fault.is_probe()).then_some(dur);
        push(steps, *id, t, until, Origin::Random, fault);
        let mut gap = interval / 2 + rng.below(interval.max(1));
        if interval >= 10_000 {
            // Whole seconds: a schedule people read and replay.
            gap -= gap % 1000;
        }
        t += gap.max(dur);
    }
}

/// One random fault of `kind`; a partition takes one of `shapes` (never
/// empty: the plan's default is all four, in the order of [`Shape`]).
fn random_fault(kind: RandomKind, shapes: &[Shape], nodes: &Nodes, rng: &mut Rng) -> Fault {
    use RandomKind as K;
    let one = vec![rng.pick(&nodes.pickable).clone()];
    match kind {
        K::Partition => {
            let mut ring = nodes.all.to_vec();
            rng.shuffle(&mut ring);
            let isolate = PartitionPlan::Isolate {
                targets: Targets::Seeded,
                one_way: false,
            };
            let plans: Vec<PartitionPlan> = shapes
                .iter()
                .map(|s| match s {
                    Shape::Halves => PartitionPlan::Halves { one_way: false },
                    Shape::Isolate => isolate.clone(),
                    Shape::Bridge => PartitionPlan::Bridge,
                    Shape::MajoritiesRing => PartitionPlan::MajoritiesRing,
                })
                .collect();
            let (mut description, mut cuts) = partition(rng.pick(&plans), &ring, &one);
            if cuts.is_empty() {
                (description, cuts) = partition(&isolate, &ring, &one);
            }
            Fault::Partition { description, cuts }
        }
        K::Kill => Fault::Kill { nodes: one },
        K::Restart => Fault::Restart { nodes: one },
        K::Pause => Fault::Pause { nodes: one },
        K::Wipe => Fault::Wipe { nodes: one },
        K::ClockSkew => {
            let secs = 5 + rng.below(56) as i64;
            let sign = if rng.below(2) == 0 { -1 } else { 1 };
            Fault::ClockSkew {
                nodes: one,
                skew_ms: sign * secs * 1000,
            }
        }
        K::Loss => Fault::Loss {
            nodes: one,
            probability: *rng.pick(&[0.05, 0.1, 0.2]),
        },
        K::Latency => Fault::Latency {
            nodes: one,
            delay_ms: *rng.pick(&[50, 100, 200]),
            shape: LinkShape::default(),
        },
        K::CpuThrottle => Fault::CpuThrottle {
            nodes: one,
            cpus: *rng.pick(&[0.05, 0.1, 0.2]),
        },
        K::Probe(kind) => {
            let open = PairPlan {
                node: Some(one[0].clone()),
                peer: None,
            };
            let (node, peer) = probe_pair(&open, nodes, rng);
            probe_fault(kind, node, peer, RANDOM_PROBE_REPEAT, During::Established)
        }
    }
}

/// The fault of a protocol-fault kind (`during` is only carried by the
/// kinds that have it; validation refuses it elsewhere).
fn probe_fault(kind: ProbeKind, node: String, peer: String, repeat: u32, during: During) -> Fault {
    match kind {
        ProbeKind::CrossedDial => Fault::CrossedDial {
            node,
            peer,
            repeat,
            during,
        },
        ProbeKind::DuplicateDial => Fault::DuplicateDial { node, peer, repeat },
        ProbeKind::StaleHello => Fault::StaleHello {
            node,
            peer,
            repeat,
            during,
        },
    }
}

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod tests;
