//! The Docker provider: one bridge network and one container per node,
//! everything labelled `timenet.run=<run id>` and removed at the end.
//!
//! Facts this relies on, probed on the dev machine (Docker 20.10, root):
//! - `docker inspect` gives the container's host PID, and `/proc/PID/net/tcp`
//!   read from the host is the container's netns TCP table (observation's
//!   kernel view), and `nsenter --net=/proc/PID/ns/net iptables` works (the
//!   nemesis). Both only need [`Cluster::pid`].
//! - The host reaches container IPs on a user bridge, so the harness talks
//!   to `http://<container ip>:24101`. Where it cannot (Docker Desktop, rootless),
//!   [`ApiAccess::Published`] publishes the API port on 127.0.0.1 instead.
//! - `docker pause` (cgroup freezer) works.

pub mod cleanup;
pub mod connect;
pub mod container;
pub mod network;

use crate::provider::error::InfraError;
use crate::provider::Cluster;
use bollard::container::{
    DownloadFromContainerOptions, KillContainerOptions, StartContainerOptions,
    StopContainerOptions, UpdateContainerOptions, WaitContainerOptions,
};
use bollard::Docker;
use container::{NodeSpec, RunSettings};
use futures::StreamExt;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// CFS period of a `cpu_throttle` quota, µs. Docker's default (100 ms):
/// short enough that a throttled node runs in slices of a few ms rather than
/// freezing for seconds, long enough that the 1 ms minimum quota gives 1 %.
const CPU_PERIOD_US: i64 = 100_000;

pub use network::RunNetwork;

/// How the harness reaches each node's HTTP API.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ApiAccess {
    /// `http://<container ip>:24101` (the host routes to the bridge).
    #[default]
    ContainerIp,
    /// A port published on 127.0.0.1 per container.
    Published,
}

/// A fresh run id: `tn-` + 6 hex digits.
pub fn new_run_id() -> String {
    format!("tn-{:06x}", rand::random::<u32>() & 0xff_ffff)
}

pub struct DockerCluster {
    docker: Docker,
    run: RunSettings,
    pub network: RunNetwork,
    nodes: Vec<NodeSpec>,
    api_access: ApiAccess,
    /// Published API ports, filled at start when `ApiAccess::Published`.
    published: Mutex<HashMap<String, u16>>,
    /// Set once cleanup ran (or `--keep` asked to leave things up).
    done: AtomicBool,
}

/// Extra options for [`DockerCluster::create`].
#[derive(Clone, Debug)]
pub struct ClusterOptions {
    pub image: String,
    pub time_scale: f64,
    pub api_access: ApiAccess,
    /// Appended to every node's `timed run` (e.g. `--log-json`).
    pub node_args: Vec<String>,
}

impl DockerCluster {
    /// Create (not start) one container per testnet node on `network`.
    /// On error, whatever was created is removed before returning.
    pub async fn create(
        docker: Docker,
        run_id: &str,
        network: RunNetwork,
        testnet_dir: &Path,
        testnet: &timed::testnet::Testnet,
        opts: ClusterOptions,
    ) -> anyhow::Result<DockerCluster> {
        let run = RunSettings {
            run_id: run_id.to_string(),
            network: network.name.clone(),
            image: opts.image,
            time_scale: opts.time_scale,
            publish_api: opts.api_access == ApiAccess::Published,
            node_args: opts.node_args,
        };
        let nodes = testnet
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let ip = match n.config.listen_ip {
                    IpAddr::V4(ip) => ip,
                    IpAddr::V6(_) => unreachable!("the docker provider builds IPv4 testnets"),
                };
                NodeSpec {
                    name: n.name.clone(),
                    index: i + 1,
                    ip,
                    container: format!("timenet-{run_id}-{}", n.name),
                    host_dir: testnet_dir.join(format!("node{}", i + 1)),
                    genesis: testnet_dir.join("genesis.json"),
                }
            })
            .collect();
        let cluster = DockerCluster {
            docker,
            run,
            network,
            nodes,
            api_access: opts.api_access,
            published: Mutex::new(HashMap::new()),
            done: AtomicBool::new(false),
        };
        // Create in parallel: 30 sequential creates cost seconds.
        let created =
            futures::future::join_all(cluster.nodes.iter().map(|n| cluster.create_one(n, &[])))
                .await;
        if let Some(e) = created.into_iter().find_map(Result::err) {
            return Err(e);
        }
        Ok(cluster)
    }

    async fn create_one(&self, node: &NodeSpec, extra: &[String]) -> anyhow::Result<()> {
        container::create(&self.docker, &self.run, node, extra)
            .await
            .map_err(|e| InfraError(format!("creating container {}: {e}", node.container)))?;
        let tar = container::config_tar(node)?;
        container::upload(&self.docker, &node.container, tar, "/")
            .await
            .map_err(|e| InfraError(format!("copying config into {}: {e}", node.container)))?;
        Ok(())
    }

    pub fn docker(&self) -> &Docker {
        &self.docker
    }
    pub fn run_id(&self) -> &str {
        &self.run.run_id
    }
    pub fn container_name(&self, node: &str) -> Option<&str> {
        self.spec(node).ok().map(|n| n.container.as_str())
    }

    fn spec(&self, node: &str) -> anyhow::Result<&NodeSpec> {
        self.nodes
            .iter()
            .find(|n| n.name == node)
            .ok_or_else(|| anyhow::anyhow!("no node named {node}"))
    }

    /// The address the harness uses for `node`'s HTTP API.
    pub fn api_addr(&self, node: &str) -> Option<SocketAddr> {
        let spec = self.spec(node).ok()?;
        match self.api_access {
            ApiAccess::ContainerIp => Some(SocketAddr::new(spec.ip.into(), container::API_PORT)),
            ApiAccess::Published => {
                let port = *self.published.lock().unwrap().get(node)?;
                Some(SocketAddr::from(([127, 0, 0, 1], port)))
            }
        }
    }

    /// Start several nodes at once (as close to simultaneously as the engine allows).
    pub async fn start_many(&self, nodes: &[String]) -> anyhow::Result<()> {
        let results = futures::future::join_all(nodes.iter().map(|n| self.start(n))).await;
        results.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
        Ok(())
    }

    /// Container state: `Some(exit code)` if it has exited, `None` while it
    /// runs or has not started yet.
    pub async fn exit_code(&self, node: &str) -> anyhow::Result<Option<i64>> {
        let spec = self.spec(node)?;
        let info = self.docker.inspect_container(&spec.container, None).await?;
        let state = info.state.unwrap_or_default();
        let status = state.status.map(|s| s.to_string()).unwrap_or_default();
        Ok((status == "exited" || status == "dead").then(|| state.exit_code.unwrap_or(-1)))
    }

    /// Last lines of a node's log, for error messages.
    pub async fn log_tail(&self, node: &str, lines: usize) -> String {
        match self.spec(node) {
            Ok(s) => cleanup::log_tail(&self.docker, &s.container, lines).await,
            Err(_) => String::new(),
        }
    }

    async fn refresh_published_port(&self, spec: &NodeSpec) -> anyhow::Result<()> {
        if self.api_access != ApiAccess::Published {
            return Ok(());
        }
        let info = self.docker.inspect_container(&spec.container, None).await?;
        let port = info
            .network_settings
            .and_then(|n| n.ports)
            .and_then(|p| {
                p.get(&format!("{}/tcp", container::API_PORT))
                    .cloned()
                    .flatten()
            })
            .and_then(|b| b.first()?.host_port.clone())
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| anyhow::anyhow!("{}: API port not published", spec.container))?;
        self.published
            .lock()
            .unwrap()
            .insert(spec.name.clone(), port);
        Ok(())
    }

    /// Save every node's log to `<dir>/<node>.log`, then remove the run's
    /// containers and network. Idempotent. With `keep`, logs are saved and
    /// everything is left running.
    pub async fn teardown(&self, logs_dir: Option<&Path>, keep: bool) -> anyhow::Result<()> {
        if self.done.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        if let Some(dir) = logs_dir {
            let saves = self.nodes.iter().map(|n| {
                let path: PathBuf = dir.join(format!("{}.log", n.name));
                async move {
                    if let Err(e) = cleanup::save_logs(&self.docker, &n.container, &path).await {
                        tracing::warn!(node = %n.name, error = %e, "could not save log");
                    }
                }
            });
            futures::future::join_all(saves).await;
        }
        if keep {
            return Ok(());
        }
        cleanup::down(&self.docker, Some(&self.run.run_id)).await?;
        Ok(())
    }
}

/// Backstop for panics and early returns that skipped `teardown`: remove the
/// run's containers and network on a separate thread with its own runtime
/// (a `Drop` cannot await, and may run inside a runtime that is shutting down).
impl Drop for DockerCluster {
    fn drop(&mut self) {
        if self.done.load(Ordering::SeqCst) {
            return;
        }
        let run_id = self.run.run_id.clone();
        let docker = self.docker.clone();
        let joined = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(cleanup::down(&docker, Some(&run_id)))
        })
        .join();
        match joined {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => eprintln!("cleanup of {} failed: {e}", self.run.run_id),
            Err(_) => eprintln!("cleanup of {} panicked", self.run.run_id),
        }
    }
}

/// Errors for stopping something that is already stopped are not errors here.
fn ignore_not_running(r: Result<(), bollard::errors::Error>) -> anyhow::Result<()> {
    match r {
        Ok(()) => Ok(()),
        Err(e) => {
            let s = e.to_string();
            if s.contains("is not running") || s.contains("304") || s.contains("not paused") {
                Ok(())
            } else {
                Err(e.into())
            }
        }
    }
}

impl Cluster for DockerCluster {
    fn node_names(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.name.clone()).collect()
    }

    fn node_ip(&self, node: &str) -> Option<IpAddr> {
        self.spec(node).ok().map(|n| IpAddr::V4(n.ip))
    }

    async fn pid(&self, node: &str) -> anyhow::Result<Option<u32>> {
        let spec = self.spec(node)?;
        let info = self.docker.inspect_container(&spec.container, None).await?;
        let state = info.state.unwrap_or_default();
        Ok(match (state.running, state.pid) {
            (Some(true), Some(pid)) if pid > 0 => Some(pid as u32),
            _ => None,
        })
    }

    async fn kill(&self, node: &str) -> anyhow::Result<()> {
        let spec = self.spec(node)?;
        let opts = KillContainerOptions { signal: "SIGKILL" };
        ignore_not_running(
            self.docker
                .kill_container(&spec.container, Some(opts))
                .await,
        )?;
        // Wait until the engine agrees it is gone (so a `start` right after works).
        let wait = WaitContainerOptions {
            condition: "not-running",
        };
        let mut s = self.docker.wait_container(&spec.container, Some(wait));
        while let Some(r) = s.next().await {
            // A non-zero exit code arrives as an error; SIGKILL gives 137.
            if let Err(e) = r {
                tracing::debug!(node, error = %e, "wait after kill");
            }
        }
        Ok(())
    }

    async fn stop(&self, node: &str) -> anyhow::Result<()> {
        let spec = self.spec(node)?;
        let opts = StopContainerOptions { t: 10 };
        ignore_not_running(
            self.docker
                .stop_container(&spec.container, Some(opts))
                .await,
        )
    }

    async fn start(&self, node: &str) -> anyhow::Result<()> {
        let spec = self.spec(node)?;
        self.docker
            .start_container(&spec.container, None::<StartContainerOptions<String>>)
            .await
            .map_err(|e| InfraError(format!("starting container {}: {e}", spec.container)))?;
        self.refresh_published_port(spec).await
    }

    async fn pause(&self, node: &str) -> anyhow::Result<()> {
        let spec = self.spec(node)?;
        Ok(self.docker.pause_container(&spec.container).await?)
    }

    async fn resume(&self, node: &str) -> anyhow::Result<()> {
        let spec = self.spec(node)?;
        ignore_not_running(self.docker.unpause_container(&spec.container).await)
    }

    async fn throttle(&self, node: &str, cpus: Option<f64>) -> anyhow::Result<()> {
        let spec = self.spec(node)?;
        // CFS bandwidth: `quota` µs of CPU per `CPU_PERIOD_US`; -1 lifts it.
        let quota = cpus.map_or(-1, |c| (c * CPU_PERIOD_US as f64).round() as i64);
        let opts = UpdateContainerOptions::<String> {
            cpu_period: Some(CPU_PERIOD_US),
            cpu_quota: Some(quota),
            ..Default::default()
        };
        self.docker
            .update_container(&spec.container, opts)
            .await
            .map_err(|e| {
                InfraError(format!(
                    "setting the CPU quota of {} to {quota} µs per {CPU_PERIOD_US} µs: {e}",
                    spec.container
                ))
                .into()
            })
    }

    async fn recreate(
        &self,
        node: &str,
        wipe: bool,
        extra_args: Vec<String>,
    ) -> anyhow::Result<()> {
        let spec = self.spec(node)?.clone();
        let t0 = Instant::now();
        // Keep the chain unless wiping: copy the data dir out of the old
        // container and into the new one (it lives in the writable layer).
        self.stop(node).await?;
        let data = if wipe {
            None
        } else {
            let opts = DownloadFromContainerOptions {
                path: spec.data_path(),
            };
            let mut s = self
                .docker
                .download_from_container(&spec.container, Some(opts));
            let mut tar = Vec::new();
            let mut ok = true;
            while let Some(chunk) = s.next().await {
                match chunk {
                    Ok(b) => tar.extend_from_slice(&b),
                    Err(e) => {
                        // No data dir yet (node never wrote one): nothing to keep.
                        tracing::debug!(node, error = %e, "no data dir to carry over");
                        ok = false;
                        break;
                    }
                }
            }
            ok.then_some(tar)
        };
        cleanup::remove(&self.docker, std::slice::from_ref(&spec.container), &[]).await?;
        self.create_one(&spec, &extra_args).await?;
        if let Some(tar) = data {
            // The archive's root entry is `data/`, so unpack into the node folder.
            let dir = format!("{}/node{}", container::MOUNT, spec.index);
            container::upload(&self.docker, &spec.container, tar, &dir).await?;
        }
        self.start(node).await?;
        tracing::info!(
            node,
            wipe,
            elapsed_ms = t0.elapsed().as_millis() as u64,
            "recreated"
        );
        Ok(())
    }
}

impl crate::observe::PidSource for DockerCluster {
    fn pid<'a>(&'a self, node: &'a str) -> futures::future::BoxFuture<'a, Option<u32>> {
        Box::pin(async move { Cluster::pid(self, node).await.ok().flatten() })
    }
}

impl crate::observe::ApiSource for DockerCluster {
    fn api_addr(&self, node: &str) -> Option<SocketAddr> {
        DockerCluster::api_addr(self, node)
    }
}
