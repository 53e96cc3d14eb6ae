//! What a node takes from the machine it runs on, in one value: where its
//! sockets come from, where its chain is stored, how blocking work runs,
//! where its randomness comes from and how it checks consensus signatures.
//!
//! The `timed` binary uses [`NodeEnv::os`] (real TCP, a redb file in the
//! data dir, blocking work on tokio's blocking pool, OS entropy, every
//! signature checked by the node itself). An embedder such as the harness's
//! simulation provider passes its own transport and storage backend, runs
//! blocking work inline (no OS thread whose timing could decide anything),
//! seeds the node's RNG and shares one signature memo among its nodes,
//! without any simulation code in this crate.

pub use crate::chain::sig_check::{SigCheck, SigMemo};
pub use crate::chain::store::StoreLocation;
use crate::net::socket::{SharedTransport, TokioTransport};
pub use crate::rng::NodeRng;
use std::sync::Arc;
use tokio::sync::Semaphore;

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

/// A bounded pool for blocking work done on a peer's behalf: at most
/// `workers` jobs run at once, the rest wait as tasks (a few hundred bytes
/// each), never as threads. Each job runs by the node's [`Blocking`], so a
/// simulation keeps running it inline, in its own deterministic order.
#[derive(Clone)]
pub struct WorkPool {
    blocking: Blocking,
    slots: Arc<Semaphore>,
}

impl WorkPool {
    pub fn new(blocking: Blocking, workers: usize) -> Self {
        WorkPool {
            blocking,
            slots: Arc::new(Semaphore::new(workers.max(1))),
        }
    }

    /// Wait for a free worker, then run `f` on it.
    pub async fn run<T, F>(&self, f: F) -> T
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let _slot = self.slots.acquire().await.expect("the pool never closes");
        self.blocking.run(f).await
    }
}

/// Everything a node takes from its environment.
pub struct NodeEnv {
    pub transport: SharedTransport,
    /// `None`: the config's data dir.
    pub store: Option<StoreLocation>,
    pub blocking: Blocking,
    pub rng: NodeRng,
    /// How consensus signatures are checked (an embedder running many
    /// nodes in one process may share a memo among them).
    pub sig_check: SigCheck,
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
            sig_check: SigCheck::Direct,
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_work_pool_never_runs_more_than_its_workers_at_once() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let pool = WorkPool::new(Blocking::Pool, 2);
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let jobs: Vec<_> = (0..32)
            .map(|_| {
                let (pool, running, peak) = (pool.clone(), running.clone(), peak.clone());
                tokio::spawn(async move {
                    pool.run(move || {
                        let n = running.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(n, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(5));
                        running.fetch_sub(1, Ordering::SeqCst);
                    })
                    .await
                })
            })
            .collect();
        for j in jobs {
            j.await.unwrap();
        }
        assert_eq!(peak.load(Ordering::SeqCst), 2);
    }
}
