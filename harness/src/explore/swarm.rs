//! The scenario one explored seed runs: the file's scenario with that seed,
//! its `[nemesis]` kinds narrowed to what the provider can model, and in
//! swarm mode (Groce et al., "Swarm Testing", ISSTA 2012) a subset of the
//! kinds drawn from the seed, so rare combinations (only kills, only
//! partitions and restarts) get whole runs to themselves.

use crate::runner::Provider;
use crate::scenario::{FaultAction, Scenario};

/// Fault kinds the sim provider cannot model yet (`sim::faults`): none
/// since pause, loss, latency and cpu_throttle run in sim; a kind added to
/// the format before sim models it goes here.
pub const SIM_UNSUPPORTED: [FaultAction; 0] = [];

/// SplitMix64 step (the schedule's PRNG, restated: the draw must replay).
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
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

/// Swarm draw: each kind on with probability 1/2 from the seed; never
/// empty (an empty draw keeps one kind, also chosen by the seed).
pub fn draw(kinds: &[FaultAction], seed: u64) -> Vec<FaultAction> {
    let mut st = seed ^ 0x5_7A2B_u64.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut on: Vec<FaultAction> = kinds
        .iter()
        .copied()
        .filter(|_| splitmix(&mut st) & 1 == 1)
        .collect();
    if on.is_empty() && !kinds.is_empty() {
        on.push(kinds[(splitmix(&mut st) % kinds.len() as u64) as usize]);
    }
    on
}

/// The scenario seed `seed` runs; `None` when the provider can model none
/// of the nemesis kinds.
pub fn seed_scenario(
    base: &Scenario,
    seed: u64,
    swarm: bool,
    provider: Provider,
) -> Option<Scenario> {
    let mut sc = base.clone();
    sc.seed = seed;
    if let Some(n) = sc.nemesis.as_mut() {
        let kinds = runnable(&n.actions, provider);
        if kinds.is_empty() {
            return None;
        }
        n.actions = if swarm { draw(&kinds, seed) } else { kinds };
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
        let mut distinct = std::collections::BTreeSet::new();
        for seed in 0..64 {
            let d = draw(&kinds, seed);
            assert_eq!(d, draw(&kinds, seed));
            assert!(!d.is_empty());
            assert!(d.iter().all(|k| kinds.contains(k)));
            distinct.insert(format!("{d:?}"));
        }
        // 15 non-empty subsets of 4: 64 seeds must reach most of them.
        assert!(distinct.len() >= 12, "{distinct:?}");
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
