//! The scenario one explored seed runs: the file's scenario with that seed,
//! its `[nemesis]` kinds narrowed to what the provider can model, and in
//! swarm mode (Groce et al., "Swarm Testing", ISSTA 2012) a subset of the
//! kinds drawn from the seed, so rare combinations (only kills, only
//! partitions and restarts) get whole runs to themselves.

use crate::runner::Provider;
use crate::scenario::{FaultAction, Scenario, Shape, ALL_SHAPES};
use crate::splitmix::{unit_of as unit, SplitMix};
use std::collections::BTreeMap;

/// Fault kinds the sim provider cannot model yet (`sim::faults`): none
/// since pause, loss, latency and cpu_throttle run in sim; a kind added to
/// the format before sim models it goes here.
pub const SIM_UNSUPPORTED: [FaultAction; 0] = [];

/// One SplitMix64 step over a bare state (the draw must replay).
fn splitmix(state: &mut u64) -> u64 {
    let mut r = SplitMix(*state);
    let x = r.next_u64();
    *state = r.0;
    x
}

/// The kinds the provider can run, in file order (sim drops
/// [`SIM_UNSUPPORTED`]).
pub fn runnable(kinds: &[FaultAction], provider: Provider) -> Vec<FaultAction> {
    kinds
        .iter()
        .copied()
        .filter(|k| provider != Provider::Sim || !SIM_UNSUPPORTED.contains(k))
        .collect()
}

/// The feature name of a kind (what steering credits).
pub fn kind_name(k: FaultAction) -> String {
    format!("{k:?}").to_lowercase()
}

/// The feature name of a partition shape.
pub fn shape_name(s: Shape) -> String {
    format!("partition:{s:?}").to_lowercase()
}

/// Each item on with its weight's probability (1/2 when unweighted) from
/// the seed's stream; never empty (an empty draw keeps one item, also
/// chosen by the seed).
fn subset<T: Copy>(items: &[T], st: &mut u64, p: impl Fn(T) -> f64) -> Vec<T> {
    let mut on: Vec<T> = items
        .iter()
        .copied()
        .filter(|x| unit(splitmix(st)) < p(*x))
        .collect();
    if on.is_empty() && !items.is_empty() {
        on.push(items[(splitmix(st) % items.len() as u64) as usize]);
    }
    on
}

/// Swarm draw of the kinds (and, when `partition` is among them, of its
/// shapes): each on with the steering weight of its feature (1/2 without).
pub fn draw(
    kinds: &[FaultAction],
    shapes: &[Shape],
    seed: u64,
    weights: &BTreeMap<String, f64>,
) -> (Vec<FaultAction>, Vec<Shape>) {
    let mut st = seed ^ 0x5_7A2B_u64.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let w = |name: String| *weights.get(&name).unwrap_or(&0.5);
    let on = subset(kinds, &mut st, |k| w(kind_name(k)));
    let shapes = subset(shapes, &mut st, |s| w(shape_name(s)));
    (on, shapes)
}

/// What a seed drew, as steering features: its kinds, and its shapes when
/// it may partition.
pub fn features(sc: &Scenario) -> Vec<String> {
    let Some(n) = &sc.nemesis else {
        return Vec::new();
    };
    let mut f: Vec<String> = n.actions.iter().map(|k| kind_name(*k)).collect();
    if n.actions.contains(&FaultAction::Partition) {
        let shapes = n.shapes.clone().unwrap_or_else(|| ALL_SHAPES.to_vec());
        f.extend(shapes.into_iter().map(shape_name));
    }
    f
}

/// The scenario seed `seed` runs; `None` when the provider can model none
/// of the nemesis kinds. `weights` steer the swarm draw (`steer`).
pub fn seed_scenario(
    base: &Scenario,
    seed: u64,
    swarm: bool,
    provider: Provider,
    weights: &BTreeMap<String, f64>,
) -> Option<Scenario> {
    let mut sc = base.clone();
    sc.seed = seed;
    if let Some(n) = sc.nemesis.as_mut() {
        let kinds = runnable(&n.actions, provider);
        if kinds.is_empty() {
            return None;
        }
        if swarm {
            let shapes = n.shapes.clone().unwrap_or_else(|| ALL_SHAPES.to_vec());
            let (k, s) = draw(&kinds, &shapes, seed, weights);
            if k.contains(&FaultAction::Partition) {
                n.shapes = Some(s);
            }
            n.actions = k;
        } else {
            n.actions = kinds;
        }
    }
    Some(sc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use FaultAction as A;

    #[test]
    fn swarm_draw_is_deterministic_nonempty_and_varies() {
        let kinds = [A::Kill, A::Restart, A::Partition, A::Wipe];
        let none = BTreeMap::new();
        let mut distinct = std::collections::BTreeSet::new();
        let mut shape_sets = std::collections::BTreeSet::new();
        for seed in 0..64 {
            let (d, s) = draw(&kinds, &ALL_SHAPES, seed, &none);
            assert_eq!(
                (d.clone(), s.clone()),
                draw(&kinds, &ALL_SHAPES, seed, &none)
            );
            assert!(!d.is_empty() && !s.is_empty());
            assert!(d.iter().all(|k| kinds.contains(k)));
            distinct.insert(format!("{d:?}"));
            shape_sets.insert(format!("{s:?}"));
        }
        // 15 non-empty subsets of 4: 64 seeds must reach most of them.
        assert!(distinct.len() >= 12, "{distinct:?}");
        assert!(shape_sets.len() >= 12, "{shape_sets:?}");
    }

    #[test]
    fn weights_move_the_draw() {
        let kinds = [A::Kill, A::Partition];
        let lean = BTreeMap::from([("kill".to_string(), 0.05), ("partition".to_string(), 0.95)]);
        let (mut kill, mut part) = (0, 0);
        for seed in 0..200 {
            let (d, _) = draw(&kinds, &ALL_SHAPES, seed, &lean);
            kill += d.contains(&A::Kill) as u32;
            part += d.contains(&A::Partition) as u32;
        }
        assert!(part > 170 && kill < 40, "partition {part}, kill {kill}");
    }

    #[test]
    fn sim_runs_every_fault_kind() {
        let kinds = [
            A::Kill,
            A::Pause,
            A::Partition,
            A::Loss,
            A::Latency,
            A::CpuThrottle,
        ];
        assert_eq!(runnable(&kinds, Provider::Sim), kinds.to_vec());
        assert_eq!(runnable(&kinds, Provider::Docker), kinds.to_vec());
    }
}
