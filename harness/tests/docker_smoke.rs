//! A real 3-node network in Docker: it comes up to a full mesh in both the
//! nodes' view and the kernel's, the checks pass, the report and logs are
//! written, and nothing of the run is left behind.

mod docker_common;

use docker_common::{leftovers, options, scenario};
use harness::observe::model::Timeline;
use harness::runner::{self, Exit};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_full_mesh_in_both_views_and_nothing_left_behind() {
    let dir = tempfile::tempdir().unwrap();
    let sc = scenario(
        "smoke",
        3,
        "3m",
        "[[check]]\nkind = \"one_peer_per_ip\"\n[[check]]\nkind = \"no_cycling\"\n",
    );
    let out = runner::run(sc, &options(dir.path())).await;
    assert_eq!(
        out.exit,
        Exit::Pass,
        "run failed: {:?} {:#?}",
        out.error,
        out.report
    );
    assert!(out.full_mesh_after.is_some(), "never saw a full mesh");

    // Full mesh in both views at some sample, for every node.
    let tl: Timeline =
        serde_json::from_slice(&std::fs::read(dir.path().join("timeline.json")).unwrap()).unwrap();
    for n in &tl.nodes {
        let others: Vec<_> = tl
            .nodes
            .iter()
            .filter(|m| m.name != n.name)
            .map(|m| m.ip)
            .collect();
        let meshed = tl.samples.iter().filter(|s| s.node == n.name).any(|s| {
            let api: Vec<_> = s.peers.iter().flatten().map(|p| p.ip).collect();
            let kernel: Vec<_> = s.kernel.iter().flatten().map(|k| k.remote_ip).collect();
            others
                .iter()
                .all(|ip| api.contains(ip) && kernel.contains(ip))
                && api.len() == others.len()
                && kernel.len() == others.len()
        });
        assert!(
            meshed,
            "{} never saw both other nodes in both views",
            n.name
        );
    }
    assert!(!tl.events.is_empty(), "no node events were followed");

    // Report, JUnit and every node's log in the output folder.
    for f in [
        "report.json",
        "junit.xml",
        "logs/n1.log",
        "logs/n2.log",
        "logs/n3.log",
    ] {
        assert!(dir.path().join(f).is_file(), "{f} missing");
    }
    let log = std::fs::read_to_string(dir.path().join("logs/n1.log")).unwrap();
    assert!(!log.is_empty(), "n1's log is empty");

    let (containers, networks) = leftovers(&out.run_id).await;
    assert!(containers.is_empty(), "containers left: {containers:?}");
    assert!(networks.is_empty(), "networks left: {networks:?}");
}
