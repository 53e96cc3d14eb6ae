//! Providers run the nodes. CONTRACT: the [`Cluster`] trait, which the
//! nemesis and the runner drive; `docker` implements it with bollard.

pub mod docker;
pub mod error;
pub mod image;
pub mod testnet;

use std::net::IpAddr;

/// Operations on the running nodes of one run, by node name (`n3`).
#[allow(async_fn_in_trait)]
pub trait Cluster {
    /// Names of all nodes, in order n1..nN.
    fn node_names(&self) -> Vec<String>;
    fn node_ip(&self, node: &str) -> Option<IpAddr>;
    /// Host PID of the node's process (enter its namespaces via /proc/PID);
    /// `None` if not running.
    async fn pid(&self, node: &str) -> anyhow::Result<Option<u32>>;
    /// SIGKILL; the node stays down until `start`.
    async fn kill(&self, node: &str) -> anyhow::Result<()>;
    /// SIGTERM and wait for a clean exit; the node stays down until `start`.
    async fn stop(&self, node: &str) -> anyhow::Result<()>;
    /// Start a stopped node (keeps its data dir).
    async fn start(&self, node: &str) -> anyhow::Result<()>;
    /// Freeze / thaw every process of the node (cgroup freezer).
    async fn pause(&self, node: &str) -> anyhow::Result<()>;
    async fn resume(&self, node: &str) -> anyhow::Result<()>;
    /// Cap the node's CPU to `cpus` cores through the runtime's CPU quota
    /// (`None`: lift the cap). Kept across `stop`/`start`, not `recreate`.
    async fn throttle(&self, node: &str, cpus: Option<f64>) -> anyhow::Result<()>;
    /// Replace the node with a fresh one: empty data dir, same identity and
    /// IP; `extra_args` are appended to `timed run` (e.g. clock skew). Started.
    async fn recreate(&self, node: &str, wipe: bool, extra_args: Vec<String>)
        -> anyhow::Result<()>;
}
