//! Coverage that steers: swarm draws lean toward the fault kinds and
//! partition shapes whose seeds reached rare protocol events
//! (`report::coverage`).
//!
//! Each finished seed earns the rarity of each event it reached,
//! `1 / (1 + seeds before it that reached the event)` (the first seed to
//! reach an event earns a whole point, a common event almost nothing), and
//! every feature it drew (a kind, or `partition:<shape>`) is credited with
//! it; a feature's credit is its mean over the seeds that drew it. Its
//! inclusion probability is then [`P_MIN`] + ([`P_MAX`] - [`P_MIN`]) x
//! credit / best credit (1/2 before any credit). Deterministic given the first seed: seed `s` is steered only
//! by seeds below `s - LAG`, in seed order, and does not start before all
//! of those have finished, whatever `--jobs` is and whichever seed ends
//! first.

use std::collections::{BTreeMap, BTreeSet};

/// Seed `s` uses the results of seeds `< s - LAG` (more than the usual
/// number of jobs, so the pool rarely waits for a straggler).
pub const LAG: u64 = 8;
/// Inclusion probability of the least credited feature.
pub const P_MIN: f64 = 0.25;
/// Inclusion probability of the best credited feature.
pub const P_MAX: f64 = 0.75;

/// What one finished seed drew and reached.
#[derive(Clone, Debug, Default)]
struct Done {
    features: Vec<String>,
    reached: Vec<String>,
}

#[derive(Clone, Debug, Default)]
pub struct Steer {
    first: u64,
    done: BTreeMap<u64, Done>,
}

impl Steer {
    pub fn new(first: u64) -> Steer {
        Steer {
            first,
            done: BTreeMap::new(),
        }
    }

    /// Seeds `first..s - LAG` (the ones that steer `s`).
    fn window(&self, seed: u64) -> std::ops::Range<u64> {
        self.first..seed.saturating_sub(LAG).max(self.first)
    }

    /// Whether every seed that steers `seed` has finished.
    pub fn ready(&self, seed: u64) -> bool {
        self.window(seed).all(|s| self.done.contains_key(&s))
    }

    /// A finished seed: the features it drew and the events it reached.
    pub fn record(&mut self, seed: u64, features: Vec<String>, reached: Vec<String>) {
        self.done.insert(seed, Done { features, reached });
    }

    /// Inclusion probability per credited feature for `seed` (a feature
    /// not in the map: 1/2).
    pub fn weights(&self, seed: u64) -> BTreeMap<String, f64> {
        let mut seen: BTreeMap<&str, u64> = BTreeMap::new();
        // feature -> (summed gain, seeds that drew it)
        let mut credit: BTreeMap<String, (f64, u64)> = BTreeMap::new();
        for s in self.window(seed) {
            let Some(d) = self.done.get(&s) else { continue };
            let gain: f64 = d
                .reached
                .iter()
                .map(|e| 1.0 / (1.0 + *seen.get(e.as_str()).unwrap_or(&0) as f64))
                .sum();
            for f in &d.features {
                let c = credit.entry(f.clone()).or_default();
                c.0 += gain;
                c.1 += 1;
            }
            for e in &d.reached {
                *seen.entry(e.as_str()).or_default() += 1;
            }
        }
        let mean: BTreeMap<String, f64> = credit
            .into_iter()
            .map(|(f, (gain, n))| (f, gain / n as f64))
            .collect();
        let best = mean.values().cloned().fold(0.0, f64::max);
        if best <= 0.0 {
            return BTreeMap::new();
        }
        mean.into_iter()
            .map(|(f, c)| (f, P_MIN + (P_MAX - P_MIN) * c / best))
            .collect()
    }

    /// Events reached by any finished seed, with how many seeds reached each.
    pub fn union(&self) -> BTreeMap<String, u64> {
        let mut u = BTreeMap::new();
        for d in self.done.values() {
            for e in d.reached.iter().collect::<BTreeSet<_>>() {
                *u.entry(e.clone()).or_default() += 1;
            }
        }
        u
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(x: &[&str]) -> Vec<String> {
        x.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_kind_that_reached_a_rare_event_gets_the_highest_weight() {
        let mut st = Steer::new(1);
        // Seeds 1-4: kills reach only the common event; seed 5 (partition)
        // reaches the tie-break first.
        for s in 1..=4 {
            st.record(s, v(&["kill"]), v(&["round_gt0"]));
        }
        st.record(
            5,
            v(&["partition", "partition:bridge"]),
            v(&["round_gt0", "tie_break_remote"]),
        );
        // Seed 13 sees seeds 1..5 (13 - LAG = 5 excluded): only kills.
        let w = st.weights(13);
        assert_eq!(w.get("kill"), Some(&P_MAX));
        assert!(!w.contains_key("partition"));
        let w = st.weights(14);
        assert!(w["partition"] > w["kill"], "{w:?}");
        assert_eq!(w["partition"], P_MAX);
        assert!(w["kill"] >= P_MIN && w["kill"] < P_MAX);
        assert_eq!(st.union()["round_gt0"], 5);
        assert_eq!(st.union()["tie_break_remote"], 1);
    }

    #[test]
    fn a_seed_waits_for_every_seed_that_steers_it_and_not_for_more() {
        let mut st = Steer::new(10);
        assert!(st.ready(10) && st.ready(18));
        assert!(!st.ready(19));
        st.record(10, v(&[]), v(&[]));
        assert!(st.ready(19));
        // Later seeds finishing first do not make 20 ready (11 is missing).
        st.record(12, v(&[]), v(&[]));
        assert!(!st.ready(20));
        assert!(st.weights(40).is_empty());
    }
}
