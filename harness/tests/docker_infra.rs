//! Infrastructure failures (issue 7, harness side): each is exit code 3 with
//! a message naming the cause, logs collected, nothing left behind.

mod docker_common;

use docker_common::{leftovers, options, scenario};
use harness::provider::docker::{connect, network, ClusterOptions, DockerCluster};
use harness::provider::image;
use harness::runner::{self, testnet, Exit};
use std::process::Command;
use std::time::Duration;

/// Any check: a scenario without one is refused before anything starts, and
/// these tests are about what happens after that.
const NO_FORK: &str = "[[check]]\nkind = \"no_fork\"";

const SCENARIO: &str = r#"
name = "no-docker"
duration = "1m"
[network]
nodes = 2
[[check]]
kind = "one_peer_per_ip"
"#;

#[test]
fn no_docker_engine_is_exit_3_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.toml");
    std::fs::write(&file, SCENARIO).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["run", "--quiet", "--out"])
        .arg(dir.path().join("out"))
        .arg(&file)
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "stderr: {stderr}");
    assert!(stderr.contains("no Docker engine"), "stderr: {stderr}");
    assert!(
        stderr.contains("/nonexistent/docker.sock"),
        "stderr: {stderr}"
    );
    // The report still says what happened.
    let report = std::fs::read_to_string(dir.path().join("out/report.json")).unwrap();
    assert!(report.contains("no Docker engine"));
}

#[test]
fn bad_scenario_is_exit_2_with_file_line_column() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(
        &file,
        "name = \"x\"\nduration = \"1m\"\nbogus = 1\n[network]\nnodes = 2\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["run", "--quiet"])
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(stderr.contains("bad.toml:3:"), "stderr: {stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_that_exits_early_is_exit_3_with_its_log_and_nothing_left() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(dir.path());
    // `timed run` refuses an unknown flag and exits at once.
    opts.node_args = vec!["--no-such-flag".into()];
    let out = runner::run(scenario("exits-early", 2, "1m", NO_FORK), &opts).await;
    assert_eq!(out.exit, Exit::Infra);
    let err = out.error.unwrap();
    assert!(err.contains("exited with code"), "{err}");
    assert!(
        err.contains("--no-such-flag"),
        "the node's own message is shown: {err}"
    );
    assert!(dir.path().join("logs/n1.log").is_file(), "logs collected");
    let (c, n) = leftovers(&out.run_id).await;
    assert!(c.is_empty() && n.is_empty(), "left behind: {c:?} {n:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_never_becomes_ready_is_exit_3_and_nothing_left() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(dir.path());
    // The API listens on the container's own loopback: the node runs, and
    // the harness can never reach it. (A 1 ms deadline alone was not
    // enough: on a fast host both APIs answered at the first look.)
    opts.node_args = vec!["--api-ip".into(), "127.0.0.1".into()];
    opts.ready_timeout = Duration::from_secs(3);
    let out = runner::run(scenario("never-ready", 2, "1m", NO_FORK), &opts).await;
    assert_eq!(out.exit, Exit::Infra);
    let err = out.error.unwrap();
    assert!(err.contains("never became ready"), "{err}");
    let (c, n) = leftovers(&out.run_id).await;
    assert!(c.is_empty() && n.is_empty(), "left behind: {c:?} {n:?}");
}

/// A cluster dropped without teardown (a panic unwinding through the
/// runner) removes its containers and network from `Drop`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_cluster_cleans_up_after_itself() {
    let dir = tempfile::tempdir().unwrap();
    let docker = connect::connect().await.unwrap();
    let img = image::ensure(&docker, false).await.unwrap();
    let run_id = harness::provider::docker::new_run_id();
    let net = network::create(&docker, &run_id, 2).await.unwrap();
    let sc = scenario("dropped", 2, "1m", "");
    let tn = testnet::write(&sc, net.base_ip, &dir.path().join("testnet")).unwrap();
    let cluster = DockerCluster::create(
        docker,
        &run_id,
        net,
        &dir.path().join("testnet"),
        &tn,
        ClusterOptions {
            image: img.tag,
            time_scale: 12.0,
            api_access: Default::default(),
            node_args: vec![],
        },
    )
    .await
    .unwrap();
    cluster
        .start_many(&["n1".into(), "n2".into()])
        .await
        .unwrap();
    let (c, _) = leftovers(&run_id).await;
    assert_eq!(c.len(), 2);
    drop(cluster);
    let (c, n) = leftovers(&run_id).await;
    assert!(c.is_empty() && n.is_empty(), "left behind: {c:?} {n:?}");
}

/// Two runs at once get distinct ids, names and subnets and both pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_runs_do_not_collide() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let check = "[[check]]\nkind = \"one_peer_per_ip\"\n";
    let (oa, ob) = (options(a.path()), options(b.path()));
    let (ra, rb) = tokio::join!(
        runner::run(scenario("twin-a", 2, "2m", check), &oa),
        runner::run(scenario("twin-b", 2, "2m", check), &ob),
    );
    assert_ne!(ra.run_id, rb.run_id);
    assert_eq!(ra.exit, Exit::Pass, "{:?}", ra.error);
    assert_eq!(rb.exit, Exit::Pass, "{:?}", rb.error);
    let ip = |r: &harness::report::RunReport| r.nodes[0].ip.unwrap();
    assert_ne!(
        ip(ra.report.as_ref().unwrap()),
        ip(rb.report.as_ref().unwrap())
    );
}

/// `--keep` leaves the network up for debugging; removing by label clears it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_leaves_the_run_up_until_down() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(dir.path());
    opts.keep = true;
    let check = "[[check]]\nkind = \"one_peer_per_ip\"\n";
    let out = runner::run(scenario("kept", 2, "1m", check), &opts).await;
    assert!(out.kept);
    let (c, n) = leftovers(&out.run_id).await;
    assert_eq!((c.len(), n.len()), (2, 1), "kept: {c:?} {n:?}");
    assert!(
        dir.path().join("logs/n2.log").is_file(),
        "logs collected even with --keep"
    );
    let docker = connect::connect().await.unwrap();
    harness::provider::docker::cleanup::down(&docker, Some(&out.run_id))
        .await
        .unwrap();
    let (c, n) = leftovers(&out.run_id).await;
    assert!(c.is_empty() && n.is_empty(), "left behind: {c:?} {n:?}");
}
