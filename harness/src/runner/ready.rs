//! The wait-ready stage: every started node's API answers, or the run stops
//! with an infrastructure error naming the node (and its last log lines when
//! its container exited).

use crate::observe::Observer;
use crate::provider::docker::DockerCluster;
use crate::provider::error::infra;
use std::time::{Duration, Instant};

pub async fn wait(
    cluster: &DockerCluster,
    observer: &Observer,
    nodes: &[String],
    deadline: Duration,
) -> anyhow::Result<Duration> {
    let t0 = Instant::now();
    let mut last_exit_check = Instant::now();
    loop {
        let live = observer.live();
        let pending: Vec<&String> = nodes
            .iter()
            .filter(|n| !live.get(*n).is_some_and(|l| l.up))
            .collect();
        if pending.is_empty() {
            return Ok(t0.elapsed());
        }
        if last_exit_check.elapsed() >= Duration::from_millis(500) {
            last_exit_check = Instant::now();
            for n in &pending {
                if let Some(code) = cluster.exit_code(n).await? {
                    let tail = cluster.log_tail(n, 20).await;
                    return Err(infra(format!(
                        "node {n} (container {}) exited with code {code} before its API answered; \
                         last log lines:\n{tail}",
                        cluster.container_name(n).unwrap_or("?")
                    )));
                }
            }
        }
        if t0.elapsed() >= deadline {
            let names: Vec<&str> = pending.iter().map(|s| s.as_str()).collect();
            let addr = cluster
                .api_addr(names[0])
                .map_or("?".to_string(), |a| a.to_string());
            return Err(infra(format!(
                "node(s) {} never became ready: API (e.g. http://{addr}/status) not answering \
                 within {}s",
                names.join(", "),
                deadline.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
