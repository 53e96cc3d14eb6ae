//! Teardown: node logs out, containers and network gone. Used at the end of
//! every run (pass, fail, panic, Ctrl-C) and by `harness down`.

use bollard::container::{ListContainersOptions, LogOutput, LogsOptions, RemoveContainerOptions};
use bollard::network::ListNetworksOptions;
use bollard::Docker;
use futures::StreamExt;
use std::collections::HashMap;
use std::path::Path;

/// Label filter: one run (`Some(id)`) or every run (`None`).
fn filter(run_id: Option<&str>) -> HashMap<String, Vec<String>> {
    let label = match run_id {
        Some(id) => format!("timenet.run={id}"),
        None => "timenet.run".to_string(),
    };
    HashMap::from([("label".to_string(), vec![label])])
}

/// Names of the containers of one run or of all runs.
pub async fn containers(docker: &Docker, run_id: Option<&str>) -> anyhow::Result<Vec<String>> {
    let opts = ListContainersOptions {
        all: true,
        filters: filter(run_id),
        ..Default::default()
    };
    Ok(docker
        .list_containers(Some(opts))
        .await?
        .into_iter()
        .filter_map(|c| {
            c.names?
                .first()
                .map(|n| n.trim_start_matches('/').to_string())
        })
        .collect())
}

pub async fn networks(docker: &Docker, run_id: Option<&str>) -> anyhow::Result<Vec<String>> {
    let opts = ListNetworksOptions {
        filters: filter(run_id),
    };
    Ok(docker
        .list_networks(Some(opts))
        .await?
        .into_iter()
        .filter_map(|n| n.name)
        .collect())
}

/// Write the container's stdout+stderr to `path` (best effort).
pub async fn save_logs(docker: &Docker, container: &str, path: &Path) -> anyhow::Result<()> {
    let opts = LogsOptions::<String> {
        stdout: true,
        stderr: true,
        ..Default::default()
    };
    let mut stream = docker.logs(container, Some(opts));
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        match chunk? {
            LogOutput::StdOut { message }
            | LogOutput::StdErr { message }
            | LogOutput::Console { message } => out.extend_from_slice(&message),
            LogOutput::StdIn { .. } => {}
        }
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, out)?;
    Ok(())
}

/// The last `lines` lines of a container's log (for error messages).
pub async fn log_tail(docker: &Docker, container: &str, lines: usize) -> String {
    let opts = LogsOptions::<String> {
        stdout: true,
        stderr: true,
        tail: lines.to_string(),
        ..Default::default()
    };
    let mut stream = docker.logs(container, Some(opts));
    let mut out = String::new();
    while let Some(Ok(chunk)) = stream.next().await {
        out.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
    }
    out
}

/// Force-remove the given containers concurrently, then the networks.
pub async fn remove(
    docker: &Docker,
    containers: &[String],
    networks: &[String],
) -> anyhow::Result<()> {
    let rm = RemoveContainerOptions {
        force: true,
        v: true,
        ..Default::default()
    };
    // Kill first, then remove: force-removing many running containers at
    // once has left stale endpoints in Docker 20.10's network store
    // (moby/moby#42119: "has active endpoints" on a network with no
    // container, until the daemon restarts).
    let kill = bollard::container::KillContainerOptions { signal: "SIGKILL" };
    futures::future::join_all(
        containers
            .iter()
            .map(|c| docker.kill_container(c, Some(kill.clone()))),
    )
    .await;
    let results = futures::future::join_all(
        containers
            .iter()
            .map(|c| docker.remove_container(c, Some(rm))),
    )
    .await;
    let mut errors = Vec::new();
    for (c, r) in containers.iter().zip(results) {
        if let Err(e) = r {
            if !e.to_string().contains("No such container") {
                errors.push(format!("container {c}: {e}"));
            }
        }
    }
    for n in networks {
        if let Err(e) = remove_network(docker, n).await {
            // Last resort for an endpoint the engine kept after its container
            // went: force-disconnect every container name we know, retry once.
            for c in containers {
                let opts = bollard::network::DisconnectNetworkOptions {
                    container: c.as_str(),
                    force: true,
                };
                let _ = docker.disconnect_network(n, opts).await;
            }
            if docker.remove_network(n).await.is_err() {
                errors.push(format!(
                    "network {n}: {e} (a stale endpoint in the Docker engine; the network \
                     holds no container and does not affect other runs)"
                ));
            }
        }
    }
    anyhow::ensure!(
        errors.is_empty(),
        "cleanup left things behind: {}",
        errors.join("; ")
    );
    Ok(())
}

/// Remove a network, retrying while the engine still releases the
/// endpoints of containers it has just removed (seen with 20 containers on
/// Docker 20.10: "has active endpoints" right after every remove returned).
async fn remove_network(docker: &Docker, name: &str) -> Result<(), bollard::errors::Error> {
    let mut attempt = 0;
    loop {
        match docker.remove_network(name).await {
            Ok(()) => return Ok(()),
            Err(e) if e.to_string().contains("not found") => return Ok(()),
            Err(e) if e.to_string().contains("active endpoints") && attempt < 20 => {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Remove everything labelled with `run_id` (or every timenet run).
/// Returns (containers, networks) removed.
pub async fn down(docker: &Docker, run_id: Option<&str>) -> anyhow::Result<(usize, usize)> {
    let cs = containers(docker, run_id).await?;
    let ns = networks(docker, run_id).await?;
    remove(docker, &cs, &ns).await?;
    Ok((cs.len(), ns.len()))
}
