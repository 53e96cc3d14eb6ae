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

pub use crate::chain::store::StoreLocation;
use crate::net::socket::{SharedTransport, TokioTransport};
pub use crate::rng::NodeRng;

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

    #[tokio::test]
    async fn inline_and_pool_give_the_same_result() {
        assert_eq!(Blocking::Inline.run(|| 2 + 2).await, 4);
        assert_eq!(Blocking::Pool.run(|| 2 + 2).await, 4);
    }
}
