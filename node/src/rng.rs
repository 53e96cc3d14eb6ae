//! The node's one source of randomness. Its own module (not part of
//! [`crate::env`]) so the network can draw from it without importing the
//! environment, which imports the network's transport.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::{Arc, Mutex};

/// The node's one source of randomness (nonces, backoff jitter): seeded
/// from OS entropy in production, from the scenario seed in a simulation.
#[derive(Clone, Debug)]
pub struct NodeRng(Arc<Mutex<StdRng>>);

impl NodeRng {
    pub fn from_seed(seed: u64) -> Self {
        NodeRng(Arc::new(Mutex::new(StdRng::seed_from_u64(seed))))
    }

    pub fn from_entropy() -> Self {
        NodeRng(Arc::new(Mutex::new(StdRng::from_entropy())))
    }

    pub fn u64(&self) -> u64 {
        self.0.lock().unwrap().gen()
    }

    /// Uniform in `0.0..=max`.
    pub fn unit_up_to(&self, max: f64) -> f64 {
        self.0.lock().unwrap().gen_range(0.0..=max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_draws() {
        let (a, b) = (NodeRng::from_seed(7), NodeRng::from_seed(7));
        let da: Vec<u64> = (0..4).map(|_| a.u64()).collect();
        let db: Vec<u64> = (0..4).map(|_| b.u64()).collect();
        assert_eq!(da, db);
        assert_ne!(
            da,
            (0..4)
                .map(|_| NodeRng::from_seed(8).u64())
                .collect::<Vec<_>>()
        );
    }
}
