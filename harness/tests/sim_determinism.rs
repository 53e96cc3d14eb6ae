//! `--provider sim` determinism as a tested property: the same scenario and
//! seed give a byte-identical timeline.json (same sha256 in report.json);
//! another seed gives another fault schedule and another timeline.

use harness::report::RunReport;
use std::path::Path;
use std::process::Command;

/// Four masternodes for 12 protocol minutes under a seeded random nemesis
/// (kills, graceful restarts, partitions, pauses, CPU quotas, loss,
/// latency) and a transaction workload, with the usual checks.
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
actions = ["kill", "restart", "partition", "pause", "cpu_throttle", "loss", "latency"]
start = "2m"
stop = "9m"

[workload]
tx_interval = "30s"

[[check]]
kind = "no_fork"

[[check]]
kind = "common_height"
within = "3m"
min_height = 10
"#;

/// One `harness run --provider sim` process (determinism is a property of
/// one invocation: tokio numbers tasks process-wide, and a crashed host's
/// tasks are dropped in an order that follows those numbers, so two runs
/// inside one process need not match; two invocations must).
fn run(dir: &Path, name: &str, seed: u64) -> RunReport {
    let file = dir.join("sim-determinism.toml");
    std::fs::write(&file, SCENARIO).unwrap();
    let out = dir.join(name);
    let status = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["run", "--provider", "sim", "--quiet", "--seed"])
        .arg(seed.to_string())
        .arg("--out")
        .arg(&out)
        .arg(&file)
        .status()
        .expect("harness runs");
    assert!(
        matches!(status.code(), Some(0) | Some(1)),
        "the simulation ran: {status:?}"
    );
    harness::report::read(&out.join("report.json")).expect("a report")
}

#[test]
fn the_same_seed_gives_a_byte_identical_timeline_and_another_seed_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let a = run(dir.path(), "a", 7);
    let b = run(dir.path(), "b", 7);
    let c = run(dir.path(), "c", 8);
    let bytes = |n: &str| std::fs::read(dir.path().join(n).join("timeline.json")).unwrap();
    assert!(a.timeline_sha256.is_some());
    assert_eq!(
        a.timeline_sha256, b.timeline_sha256,
        "same seed, same digest"
    );
    assert!(bytes("a") == bytes("b"), "same seed, same bytes");
    let steps = |r: &RunReport| r.schedule.as_ref().map(|s| s.steps.len()).unwrap_or(0);
    assert!(steps(&a) > 0, "the nemesis drew faults");
    assert_ne!(a.schedule, c.schedule, "another seed, another schedule");
    assert_ne!(
        a.timeline_sha256, c.timeline_sha256,
        "another seed, another timeline"
    );
    assert!(a.passed(), "checks: {:?}", a.checks);
}

/// Two runs of the same seed inside ONE process give the same timeline
/// (what running many seeds in one process needs): nothing process-global
/// (tokio's task ids, a cache, a counter) may leak into the schedule.
#[test]
fn two_runs_in_one_process_give_the_same_timeline() {
    use harness::runner::{self, Provider, RunOptions};
    let dir = tempfile::tempdir().unwrap();
    let sc = harness::scenario::parse(SCENARIO, "sim-determinism.toml").expect("parses");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let run = |name: &str| {
        let opts = RunOptions {
            provider: Provider::Sim,
            quiet: true,
            out: Some(dir.path().join(name)),
            ..Default::default()
        };
        let out = rt.block_on(runner::run(sc.clone(), &opts));
        out.report
            .and_then(|r| r.timeline_sha256)
            .expect("a digest")
    };
    let (a, b) = (run("a"), run("b"));
    assert_eq!(a, b, "the second run in the same process differs");
}

/// Sim runs side by side in one process would share tokio's task numbering
/// (above), so a sim suite refuses `--jobs` instead of running schedules
/// that do not replay.
#[test]
fn a_sim_suite_refuses_jobs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["run", "--provider", "sim", "--jobs", "2"])
        .arg(root.join("scenarios/six-masternodes.toml"))
        .arg(root.join("scenarios/churn.toml"))
        .output()
        .expect("harness runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("would not replay bit for bit"), "{err}");
}
