//! The seeded random `[nemesis]` part of a schedule: which fault kind when,
//! on which node or shape (split out of `schedule`, which owns the types).

use super::schedule::{partition, push, Fault, Nodes, Origin, Rng, Step};
use crate::scenario::plan::{PartitionPlan, RandomKind, RandomPlan, Targets};

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
        let fault = random_fault(kind, nodes, &mut rng);
        *id += 1;
        push(steps, *id, t, Some(dur), Origin::Random, fault);
        let mut gap = interval / 2 + rng.below(interval.max(1));
        if interval >= 10_000 {
            // Whole seconds: a schedule people read and replay.
            gap -= gap % 1000;
        }
        t += gap.max(dur);
    }
}

fn random_fault(kind: RandomKind, nodes: &Nodes, rng: &mut Rng) -> Fault {
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
            let shapes = [
                PartitionPlan::Halves { one_way: false },
                isolate.clone(),
                PartitionPlan::Bridge,
                PartitionPlan::MajoritiesRing,
            ];
            let (mut description, mut cuts) = partition(rng.pick(&shapes), &ring, &one);
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
        },
        K::CpuThrottle => Fault::CpuThrottle {
            nodes: one,
            cpus: *rng.pick(&[0.05, 0.1, 0.2]),
        },
    }
}
