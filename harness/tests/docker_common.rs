//! Helpers shared by the Docker tests (`mod docker_common;` in each).
#![allow(dead_code)]

use harness::provider::docker::{cleanup, connect};
use harness::runner::RunOptions;
use harness::scenario::{self, Scenario};
use std::time::Duration;

/// A small network: `nodes` nodes, `duration` of protocol time at 12x.
pub fn scenario(name: &str, nodes: usize, duration: &str, checks: &str) -> Scenario {
    let text = format!(
        r#"
name = "{name}"
duration = "{duration}"
time_scale = 12
seed = 3
[network]
nodes = {nodes}
block_interval = "60s"
{checks}
"#
    );
    scenario::parse(&text, format!("<{name}>")).expect("test scenario parses")
}

pub fn options(out: &std::path::Path) -> RunOptions {
    RunOptions {
        out: Some(out.to_path_buf()),
        quiet: true,
        ready_timeout: Duration::from_secs(90),
        ..Default::default()
    }
}

/// Containers and networks Docker still has for this run id.
pub async fn leftovers(run_id: &str) -> (Vec<String>, Vec<String>) {
    let docker = connect::connect().await.expect("docker");
    (
        cleanup::containers(&docker, Some(run_id)).await.unwrap(),
        cleanup::networks(&docker, Some(run_id)).await.unwrap(),
    )
}
