//! `harness validate` and `harness run` accept and reject exactly the same
//! files, with the same `file:line:column` lines: every rule's bad example
//! goes through both commands' library paths, and every scenario in
//! `scenarios/` through both as a good one.
//!
//! - `validate` (and `list`) call `runner::load(path, caps)`.
//! - `run` calls `runner::load(path, caps)` for every file first, then, per
//!   scenario, `runner::schedule(&scenario, caps)` before any container.
//!   The schedule step is also fed the parsed but unvalidated file, to show
//!   it applies the same rules on its own rather than trusting the load.

use harness::nemesis::schedule::Phase;
use harness::runner;
use harness::scenario::{self, Capabilities};
use std::path::{Path, PathBuf};

const BASE: &str =
    "name = \"bad\"\nduration = \"10m\"\n\n[network]\nnodes = 4\n\n[[check]]\nkind = \"no_fork\"\n";

/// A `[[fault]]` table appended to the base (its header on line 10).
fn fault(body: &str) -> String {
    format!("{BASE}\n[[fault]]\n{body}")
}

fn nemesis(body: &str) -> String {
    format!("{BASE}\n[nemesis]\n{body}")
}

/// One bad example per rule: (file text, a fragment of the expected message).
fn bad_examples() -> Vec<(String, &'static str)> {
    let b = |from: &str, to: &str| BASE.replace(from, to);
    vec![
        // Root.
        (b("\"bad\"", "\"b d\""), "name must be non-empty"),
        (b("\"10m\"", "\"0s\""), "duration must be > 0"),
        (
            b("duration = \"10m\"", "duration = \"10m\"\ntime_scale = 0"),
            "time_scale must be > 0",
        ),
        // Network.
        (b("nodes = 4", "nodes = 0"), "nodes must be >= 1"),
        (
            b("nodes = 4", "nodes = 4\nmasternodes = 0"),
            "masternodes must be >= 1",
        ),
        (
            b("nodes = 4", "nodes = 4\nmasternodes = 5"),
            "masternodes = 5 but the network has only 4 nodes",
        ),
        (
            b("nodes = 4", "nodes = 4\nblock_interval = \"0s\""),
            "block_interval must be > 0",
        ),
        (
            b("nodes = 4", "nodes = 4\nbootstrap_fanout = 4"),
            "bootstrap_fanout must be between 1 and nodes - 1 = 3",
        ),
        // Nodes.
        (
            format!("{BASE}\n[[node]]\nname = \"n7\"\n"),
            "unknown node `n7`",
        ),
        (
            format!("{BASE}\n[[node]]\nname = \"n2\"\n\n[[node]]\nname = \"n2\"\n"),
            "node `n2` has two [[node]] tables",
        ),
        (
            format!("{BASE}\n[[node]]\nname = \"n2\"\nstart_at = \"10m\"\n"),
            "start_at = 10m00s is not inside the run's duration (10m00s)",
        ),
        (
            format!("{BASE}\n[[node]]\nname = \"n2\"\nbootstrap = []\n"),
            "bootstrap must name at least one node",
        ),
        (
            format!("{BASE}\n[[node]]\nname = \"n2\"\nbootstrap = [\"n9\"]\n"),
            "unknown node `n9`",
        ),
        (
            format!("{BASE}\n[[node]]\nname = \"n2\"\nbootstrap = [\"n2\"]\n"),
            "a node cannot bootstrap from itself",
        ),
        (
            format!("{BASE}\n[[node]]\nname = \"n2\"\nforeign_genesis = true\n"),
            "a foreign-genesis node must not be one",
        ),
        // Fault timing.
        (
            fault("at = \"10m\"\naction = \"kill\"\n"),
            "at = 10m00s is not inside the run's duration (10m00s)",
        ),
        (
            fault("at = \"1m\"\nfor = \"0s\"\naction = \"pause\"\n"),
            "`for` must be > 0",
        ),
        (
            fault("at = \"9m\"\nfor = \"2m\"\naction = \"pause\"\n"),
            "at + for = 11m00s ends after the run's duration (10m00s)",
        ),
        (
            fault("at = \"1m\"\nfor = \"1m\"\naction = \"heal\"\n"),
            "`heal` takes no `for`",
        ),
        // Keys of another action.
        (
            fault("at = \"1m\"\naction = \"kill\"\nshape = \"halves\"\n"),
            "`shape` only applies to action = \"partition\", not \"kill\"",
        ),
        (
            fault("at = \"1m\"\naction = \"kill\"\ngroups = [[\"n1\"]]\n"),
            "`groups` only applies to action = \"partition\"",
        ),
        (
            fault("at = \"1m\"\naction = \"kill\"\none_way = true\n"),
            "`one_way` only applies to action = \"partition\"",
        ),
        (
            fault("at = \"1m\"\naction = \"kill\"\nprobability = 0.1\n"),
            "`probability` only applies to action = \"loss\"",
        ),
        (
            fault("at = \"1m\"\naction = \"kill\"\nskew = \"+1s\"\n"),
            "`skew` only applies to action = \"clock_skew\"",
        ),
        (
            fault("at = \"1m\"\naction = \"kill\"\ndelay = \"1s\"\n"),
            "`delay` only applies to action = \"latency\"",
        ),
        (
            fault("at = \"1m\"\naction = \"pause\"\ncpus = 0.05\n"),
            "`cpus` only applies to action = \"cpu_throttle\", not \"pause\"",
        ),
        // Targets.
        (
            fault("at = \"1m\"\naction = \"kill\"\nnodes = []\n"),
            "nodes must name at least one node",
        ),
        (
            fault("at = \"1m\"\naction = \"kill\"\nnodes = [\"n9\"]\n"),
            "unknown node `n9`: this network has n1..n4",
        ),
        // Per-kind values.
        (
            fault("at = \"1m\"\naction = \"loss\"\n"),
            "action = \"loss\" needs `probability`",
        ),
        (
            fault("at = \"1m\"\naction = \"loss\"\nprobability = 1.5\n"),
            "probability must be between 0 and 1 (exclusive), got 1.5",
        ),
        (
            fault("at = \"1m\"\nfor = \"1m\"\naction = \"latency\"\ndelay = \"50ms\"\n"),
            "latency needs the netem qdisc",
        ),
        (
            fault("at = \"1m\"\naction = \"clock_skew\"\n"),
            "action = \"clock_skew\" needs `skew`",
        ),
        (
            fault("at = \"1m\"\naction = \"clock_skew\"\nskew = \"soon\"\n"),
            "skew must be a signed duration",
        ),
        (
            fault("at = \"1m\"\nfor = \"1m\"\naction = \"cpu_throttle\"\n"),
            "action = \"cpu_throttle\" needs `cpus`",
        ),
        (
            fault("at = \"1m\"\nfor = \"1m\"\naction = \"cpu_throttle\"\ncpus = 0\n"),
            "cpus must be between 0.01 (the runtime's smallest quota) and 1 (a whole core starves nothing), got 0",
        ),
        (
            fault("at = \"1m\"\nfor = \"1m\"\naction = \"cpu_throttle\"\ncpus = 2.5\n"),
            "cpus must be between 0.01 (the runtime's smallest quota) and 1 (a whole core starves nothing), got 2.5",
        ),
        (
            fault("at = \"1m\"\naction = \"cpu_throttle\"\ncpus = 0.05\n"),
            "action = \"cpu_throttle\" needs `for`",
        ),
        // Protocol faults.
        (
            fault("at = \"1m\"\nfor = \"1m\"\naction = \"crossed_dial\"\n"),
            "action = \"crossed_dial\" is instantaneous and takes no `for`",
        ),
        (
            fault("at = \"1m\"\naction = \"duplicate_dial\"\nrepeat = 0\n"),
            "repeat must be between 1 and 100, got 0",
        ),
        (
            fault("at = \"1m\"\naction = \"stale_hello\"\nrepeat = 101\n"),
            "repeat must be between 1 and 100, got 101",
        ),
        (
            fault("at = \"1m\"\naction = \"crossed_dial\"\nnodes = [\"n1\"]\n"),
            "action = \"crossed_dial\" takes exactly two nodes",
        ),
        (
            fault("at = \"1m\"\naction = \"crossed_dial\"\nnodes = [\"n1\", \"n2\"]\npeer = \"n3\"\n"),
            "`peer` does not apply to action = \"crossed_dial\"",
        ),
        (
            fault("at = \"1m\"\naction = \"crossed_dial\"\nnodes = [\"n2\", \"n2\"]\n"),
            "action = \"crossed_dial\" needs two different nodes, got `n2` twice",
        ),
        (
            fault("at = \"1m\"\naction = \"duplicate_dial\"\nnodes = [\"n1\", \"n2\"]\n"),
            "action = \"duplicate_dial\" takes one node",
        ),
        (
            fault("at = \"1m\"\naction = \"stale_hello\"\nnodes = [\"n1\"]\npeer = \"n1\"\n"),
            "action = \"stale_hello\" needs two different nodes, got `n1` twice",
        ),
        (
            fault("at = \"1m\"\naction = \"duplicate_dial\"\nnodes = [\"n1\"]\npeer = \"n9\"\n"),
            "unknown node `n9`",
        ),
        (
            format!(
                "{BASE}\n[[node]]\nname = \"n4\"\nforeign_genesis = true\n\n[[fault]]\nat = \"1m\"\n\
                 action = \"stale_hello\"\nnodes = [\"n1\"]\npeer = \"n4\"\n"
            ),
            "node `n4` runs a foreign genesis",
        ),
        (
            BASE.replace("nodes = 4", "nodes = 1")
                + "\n[[fault]]\nat = \"1m\"\naction = \"crossed_dial\"\n",
            "action = \"crossed_dial\" needs at least 2 nodes",
        ),
        (
            fault("at = \"1m\"\naction = \"kill\"\npeer = \"n2\"\n"),
            "`peer` only applies to the protocol faults",
        ),
        (
            fault("at = \"1m\"\naction = \"kill\"\nrepeat = 2\n"),
            "`repeat` only applies to the protocol faults",
        ),
        (
            fault("at = \"1m\"\naction = \"kill\"\nduring = \"handshake\"\n"),
            "`during` only applies to the protocol faults",
        ),
        // Mid-handshake probes: the frozen peer is named and paused.
        (
            fault("at = \"1m\"\naction = \"duplicate_dial\"\nduring = \"handshake\"\n"),
            "`during` applies to crossed_dial and stale_hello",
        ),
        (
            fault("at = \"1m\"\naction = \"crossed_dial\"\nduring = \"handshake\"\n"),
            "with during = \"handshake\" needs both nodes named",
        ),
        (
            fault(
                "at = \"1m\"\naction = \"crossed_dial\"\nnodes = [\"n1\", \"n2\"]\n\
                 during = \"handshake\"\n",
            ),
            "during = \"handshake\" needs `n2` frozen: add a `pause` of `n2`",
        ),
        (
            fault(
                "at = \"1m\"\naction = \"pause\"\nnodes = [\"n1\", \"n2\"]\nfor = \"5m\"\n\n\
                 [[fault]]\nat = \"2m\"\naction = \"stale_hello\"\nnodes = [\"n1\"]\n\
                 peer = \"n2\"\nduring = \"handshake\"\n",
            ),
            "needs `n1` running to dial `n2`",
        ),
        // Between redials: stale Hellos only, the peer frozen all the same.
        (
            fault(
                "at = \"1m\"\naction = \"crossed_dial\"\nnodes = [\"n1\", \"n2\"]\n\
                 during = \"idle\"\n",
            ),
            "`during = \"idle\"` applies to stale_hello",
        ),
        (
            fault(
                "at = \"1m\"\naction = \"stale_hello\"\nnodes = [\"n1\"]\npeer = \"n2\"\n\
                 during = \"idle\"\n",
            ),
            "during = \"idle\" needs `n2` frozen: add a `pause` of `n2`",
        ),

        // Partitions.
        (
            fault("at = \"1m\"\naction = \"partition\"\ngroups = [[\"n1\"]]\nnodes = [\"n1\"]\n"),
            "`nodes` only applies to shape = \"isolate\", not to `groups`",
        ),
        (
            fault("at = \"1m\"\naction = \"partition\"\nshape = \"halves\"\ngroups = [[\"n1\"]]\n"),
            "either `shape` or `groups`, not both",
        ),
        (
            fault("at = \"1m\"\naction = \"partition\"\n"),
            "action = \"partition\" needs `shape`",
        ),
        (
            BASE.replace("nodes = 4", "nodes = 2")
                + "\n[[fault]]\nat = \"1m\"\naction = \"partition\"\nshape = \"bridge\"\n",
            "shape Bridge needs at least 3 nodes, the network has 2",
        ),
        (
            fault("at = \"1m\"\naction = \"partition\"\nshape = \"halves\"\nnodes = [\"n1\"]\n"),
            "`nodes` only applies to shape = \"isolate\"",
        ),
        (
            fault("at = \"1m\"\naction = \"partition\"\nshape = \"isolate\"\nnodes = [\"n1\", \"n2\", \"n3\", \"n4\"]\n"),
            "isolating every node cuts nothing",
        ),
        (
            fault("at = \"1m\"\naction = \"partition\"\nshape = \"bridge\"\none_way = true\n"),
            "`one_way` only applies to shape = \"halves\" or \"isolate\", or to `groups`",
        ),
        (
            fault("at = \"1m\"\naction = \"partition\"\nshape = \"majorities-ring\"\none_way = true\n"),
            "`one_way` only applies to shape = \"halves\" or \"isolate\", or to `groups`",
        ),
        (
            fault("at = \"1m\"\naction = \"partition\"\ngroups = [[\"n1\", \"n2\", \"n3\", \"n4\"]]\n"),
            "these groups cut nothing",
        ),
        (
            fault("at = \"1m\"\naction = \"partition\"\ngroups = [[\"n1\"], []]\n"),
            "every partition group needs at least one node",
        ),
        (
            fault("at = \"1m\"\naction = \"partition\"\ngroups = [[\"n1\"], [\"n9\"]]\n"),
            "unknown node `n9`",
        ),
        (
            fault("at = \"1m\"\naction = \"partition\"\ngroups = [[\"n1\", \"n2\"], [\"n2\", \"n3\"]]\n"),
            "node `n2` is in two partition groups",
        ),
        // The random nemesis.
        (
            nemesis("interval = \"0s\"\nactions = [\"kill\"]\n"),
            "interval must be > 0",
        ),
        (
            nemesis("interval = \"1m\"\nactions = []\n"),
            "actions must list at least one fault action",
        ),
        (
            nemesis("interval = \"1m\"\nactions = [\"latency\"]\n"),
            "latency needs the netem qdisc",
        ),
        (
            nemesis("interval = \"1m\"\nactions = [\"kill\", \"heal\"]\n"),
            "`heal` is not a random fault",
        ),
        (
            nemesis("interval = \"1m\"\nactions = [\"kill\"]\nstop = \"11m\"\n"),
            "stop = 11m00s is after the run's duration (10m00s)",
        ),
        (
            nemesis("interval = \"1m\"\nactions = [\"kill\"]\nstart = \"5m\"\nstop = \"5m\"\n"),
            "start must be before stop",
        ),
        (
            nemesis("interval = \"1m\"\nactions = [\"kill\"]\nmust_reach = [\"round_gt0\", \"tie_brake_remote\"]\n"),
            "unknown coverage event `tie_brake_remote` in must_reach",
        ),
        (
            nemesis("interval = \"1m\"\nactions = [\"partition\"]\nshapes = []\n"),
            "shapes must list at least one partition shape",
        ),
        // Workload and checks.
        (
            format!("{BASE}\n[workload]\ntx_interval = \"0s\"\n"),
            "tx_interval must be > 0",
        ),
        (
            "name = \"bad\"\nduration = \"10m\"\n\n[network]\nnodes = 4\n".to_string(),
            "no [[check]]",
        ),
        (
            format!("{BASE}\n[[check]]\nkind = \"no_fork\"\n"),
            "check `no_fork` is listed twice",
        ),
        (
            b("kind = \"no_fork\"", "kind = \"no_fork\"\nwithin = \"1m\""),
            "`within` only applies to kind = \"common_height\"",
        ),
        (
            b("kind = \"no_fork\"", "kind = \"no_fork\"\nmin_height = 3"),
            "`min_height` only applies to kind = \"common_height\"",
        ),
        (
            b("no_fork", "tx_delivery"),
            "tx_delivery needs a [workload] table",
        ),
        (
            b("kind = \"no_fork\"", "kind = \"no_fork\"\nwarmup = \"10m\""),
            "warmup must be shorter than the run's duration",
        ),
    ]
}

/// The `validate` command's path: the error lines, or `None` if accepted.
fn validate_path(path: &Path, caps: &Capabilities) -> Option<String> {
    runner::load(path, caps).err().map(|e| e.to_string())
}

/// The `run` command's path up to the first container: load every file,
/// then build the run's schedule.
fn run_path(path: &Path, caps: &Capabilities) -> Option<String> {
    match runner::load(path, caps) {
        Err(e) => Some(e.to_string()),
        Ok(sc) => runner::schedule(&sc, caps).err().map(|e| e.to_string()),
    }
}

/// The run's schedule step alone, on the parsed but unvalidated file.
fn schedule_step(path: &Path, caps: &Capabilities) -> Option<String> {
    let sc = scenario::load(path).unwrap_or_else(|e| panic!("should parse: {e}"));
    runner::schedule(&sc, caps).err().map(|e| e.to_string())
}

/// `bad.toml:L:C: message` on every line.
fn located(errors: &str, path: &Path) -> bool {
    errors.lines().all(|line| {
        let Some(rest) = line.strip_prefix(&format!("{}:", path.display())) else {
            return false;
        };
        let mut parts = rest.splitn(3, ':');
        let (l, c) = (parts.next(), parts.next());
        l.is_some_and(|l| l.parse::<usize>().is_ok())
            && c.is_some_and(|c| c.parse::<usize>().is_ok())
            && parts.next().is_some_and(|m| m.starts_with(' '))
    })
}

#[test]
fn every_rule_rejects_the_same_way_in_validate_and_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    let caps = Capabilities::default();
    let cases = bad_examples();
    for (text, want) in &cases {
        std::fs::write(&path, text).unwrap();
        let v = validate_path(&path, &caps);
        let r = run_path(&path, &caps);
        let s = schedule_step(&path, &caps);
        let v = v.unwrap_or_else(|| panic!("validate accepted a bad file ({want}):\n{text}"));
        assert_eq!(
            Some(&v),
            r.as_ref(),
            "validate and run disagree on:\n{text}"
        );
        assert_eq!(
            Some(&v),
            s.as_ref(),
            "the run's schedule step disagrees on:\n{text}"
        );
        assert!(
            v.contains(want),
            "expected `{want}`, got:\n{v}\nfor:\n{text}"
        );
        assert!(located(&v, &path), "not file:line:column:\n{v}");
    }
    assert!(cases.len() >= 50, "{} rules", cases.len());
}

#[test]
fn a_one_way_bridge_points_at_its_one_way_line_in_both_paths() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        fault("at = \"1m\"\naction = \"partition\"\nshape = \"bridge\"\none_way = true\n"),
    )
    .unwrap();
    let want = format!(
        "{}:14:1: `one_way` only applies to shape = \"halves\" or \"isolate\", or to `groups`",
        path.display()
    );
    let caps = Capabilities::default();
    assert_eq!(validate_path(&path, &caps), Some(want.clone()));
    assert_eq!(run_path(&path, &caps), Some(want));
}

#[test]
fn latency_is_accepted_by_both_paths_on_a_host_with_netem() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ok.toml");
    std::fs::write(
        &path,
        fault("at = \"1m\"\nfor = \"1m\"\naction = \"latency\"\ndelay = \"50ms\"\n"),
    )
    .unwrap();
    assert_eq!(validate_path(&path, &Capabilities::all()), None);
    assert_eq!(run_path(&path, &Capabilities::all()), None);
}

#[test]
fn every_scenario_file_is_accepted_by_both_paths() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let files = scenario::expand(&[dir]).unwrap();
    assert!(files.len() >= 11, "found {} scenarios", files.len());
    for caps in [Capabilities::default(), Capabilities::all()] {
        for f in &files {
            assert_eq!(validate_path(f, &caps), None, "{}", f.display());
            assert_eq!(run_path(f, &caps), None, "{}", f.display());
            let sc = runner::load(f, &caps).unwrap();
            let sched = runner::schedule(&sc, &caps).unwrap();
            assert_eq!(sched, runner::schedule(&sc, &caps).unwrap(), "replays");
            let starts = sched.steps.iter().filter(|s| s.phase == Phase::Start);
            assert!(starts.count() >= sc.faults.len(), "{}", f.display());
        }
    }
}
