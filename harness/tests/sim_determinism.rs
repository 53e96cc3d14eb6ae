//! `--provider sim` determinism as a tested property: the same scenario and
//! seed give a byte-identical timeline.json (same sha256 in report.json);
//! another seed gives another fault schedule and another timeline.

use harness::runner::{self, Exit, Provider, RunOptions};
use harness::scenario::Capabilities;
use std::path::Path;

/// Four masternodes for 12 protocol minutes under a seeded random nemesis
/// (kills, graceful restarts, partitions) with the usual checks.
const SCENARIO: &str = r#"
name = "sim-determinism"
duration = "12m"
seed = 7

[network]
nodes = 4
masternodes = 4
block_interval = "30s"

[nemesis]
interval = "2m"
for = "40s"
actions = ["kill", "restart", "partition"]
start = "2m"
stop = "9m"

[[check]]
kind = "no_fork"

[[check]]
kind = "common_height"
within = "3m"
min_height = 10
"#;

async fn run(dir: &Path, name: &str, seed: u64) -> harness::report::RunReport {
    let file = dir.join("sim-determinism.toml");
    std::fs::write(&file, SCENARIO).unwrap();
    let mut sc = runner::load(&file, &Capabilities::all()).expect("valid scenario");
    sc.seed = seed;
    let opts = RunOptions {
        provider: Provider::Sim,
        out: Some(dir.join(name)),
        quiet: true,
        ..Default::default()
    };
    let outcome = runner::run(sc, &opts).await;
    assert!(
        matches!(outcome.exit, Exit::Pass | Exit::CheckFailed),
        "the simulation ran: {:?} {:?}",
        outcome.exit,
        outcome.error
    );
    outcome.report.expect("a report")
}

#[tokio::test]
async fn the_same_seed_gives_a_byte_identical_timeline_and_another_seed_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let a = run(dir.path(), "a", 7).await;
    let b = run(dir.path(), "b", 7).await;
    let c = run(dir.path(), "c", 8).await;
    let bytes = |n: &str| std::fs::read(dir.path().join(n).join("timeline.json")).unwrap();
    assert!(a.timeline_sha256.is_some());
    assert_eq!(
        a.timeline_sha256, b.timeline_sha256,
        "same seed, same digest"
    );
    assert!(bytes("a") == bytes("b"), "same seed, same bytes");
    let steps =
        |r: &harness::report::RunReport| r.schedule.as_ref().map(|s| s.steps.len()).unwrap_or(0);
    assert!(steps(&a) > 0, "the nemesis drew faults");
    assert_ne!(a.schedule, c.schedule, "another seed, another schedule");
    assert_ne!(
        a.timeline_sha256, c.timeline_sha256,
        "another seed, another timeline"
    );
    assert!(a.passed(), "checks: {:?}", a.checks);
}
