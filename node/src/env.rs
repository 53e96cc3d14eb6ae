//! What a node takes from the machine it runs on, in one value: where its
//! sockets come from, where its chain is stored, how blocking work runs and
//! where its randomness comes from.
//!
//! The `timed` binary uses [`NodeEnv::os`] (real TCP, a redb file in the
//! data dir, blocking work on tokio's blocking pool, OS entropy). An
//! embedder such as the harness's simulation provider passes its own
//! transport and storage backend, runs blocking work inline (no OS thread
//! whose timing could decide anything) and seeds the node's RNG, without
//! any simulation code in this crate.

use crate::net::socket::{SharedTransport, TokioTransport};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Where the chain store lives.
pub enum StoreLocation {
    /// `DIR/chain.redb` on the file system.
    Dir(PathBuf),
    /// A redb storage backend supplied by the embedder (one per start).
    Backend(Box<dyn redb::StorageBackend>),
}

impl std::fmt::Debug for StoreLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreLocation::Dir(d) => write!(f, "Dir({})", d.display()),
            StoreLocation::Backend(b) => write!(f, "Backend({b:?})"),
        }
    }
}

/// How CPU- or disk-bound work (redb reads and writes, signature batches)
/// runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Blocking {
    /// On tokio's blocking thread pool, so the async tasks keep running.
    #[default]
    Pool,
    /// On the calling task, at once: nothing outside the runtime's own
    /// scheduling decides when the result is there.
    Inline,
}

impl Blocking {
    /// Run `f` and wait for its result. A panic in `f` is propagated.
    pub async fn run<T, F>(self, f: F) -> T
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        match self {
            Blocking::Inline => f(),
            Blocking::Pool => match tokio::task::spawn_blocking(f).await {
                Ok(t) => t,
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            },
        }
    }

    /// Run `f` without waiting for it.
    pub fn spawn<F>(self, f: F)
    where
        F: FnOnce() + Send + 'static,
    {
        match self {
            Blocking::Inline => f(),
            Blocking::Pool => {
                tokio::task::spawn_blocking(f);
            }
        }
    }
}

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

/// Everything a node takes from its environment.
pub struct NodeEnv {
    pub transport: SharedTransport,
    /// `None`: the config's data dir.
    pub store: Option<StoreLocation>,
    pub blocking: Blocking,
    pub rng: NodeRng,
    /// Bind and serve the HTTP API (the embedder may call
    /// [`crate::api::router`] in-process instead).
    pub serve_api: bool,
}

impl NodeEnv {
    /// The real machine: TCP, files, the blocking pool, OS entropy.
    pub fn os() -> Self {
        NodeEnv {
            transport: TokioTransport::shared(),
            store: None,
            blocking: Blocking::Pool,
            rng: NodeRng::from_entropy(),
            serve_api: true,
        }
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

    #[tokio::test]
    async fn inline_and_pool_give_the_same_result() {
        assert_eq!(Blocking::Inline.run(|| 2 + 2).await, 4);
        assert_eq!(Blocking::Pool.run(|| 2 + 2).await, 4);
    }
}
