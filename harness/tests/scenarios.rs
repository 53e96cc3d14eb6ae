//! Every scenario in `scenarios/` loads and validates; bad scenario texts
//! are rejected with the exact `file:line:column` and message.

use harness::scenario::{self, load_many, parse, validate, Capabilities, ScenarioErrors};
use std::path::PathBuf;
use std::time::Duration;

fn scenarios_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

#[test]
fn every_scenario_file_loads_and_validates() {
    let loaded = load_many(&[scenarios_dir()]);
    assert!(loaded.len() >= 11, "found {} scenarios", loaded.len());
    for result in loaded {
        let s = result.unwrap_or_else(|e| panic!("{e}"));
        let path = s.source.as_ref().unwrap().path.clone();
        validate(&s, &Capabilities::default()).unwrap_or_else(|e| panic!("{e}"));
        let stem = path.file_stem().unwrap().to_str().unwrap();
        assert_eq!(
            s.name,
            stem,
            "{}: name must match the file name",
            path.display()
        );
        assert!(
            s.description.len() > 40,
            "{}: needs a description of the bug it guards against",
            path.display()
        );
        // CI budget: 1 to 3 wall minutes each; pings stay >= 0.5 s wall.
        let wall = s.wall_duration();
        assert!(
            wall >= Duration::from_secs(60) && wall <= Duration::from_secs(180),
            "{}: {wall:?} wall",
            path.display()
        );
        assert!(s.time_scale <= 60.0, "{}", path.display());
    }
}

#[test]
fn the_suite_covers_every_failure_in_the_seeds() {
    let all: Vec<String> = load_many(&[scenarios_dir()])
        .into_iter()
        .map(|r| r.unwrap().description.to_lowercase())
        .collect();
    for needle in [
        "cycling",           // unanswered pongs
        "simultaneous open", // both sides closing
        "ip:port",           // IP:port identity duplicating peers
        "height 0",          // sync stuck with a single peer
        "genesis",           // genesis mismatch
        "fork",              // forks after a partition
    ] {
        assert!(
            all.iter().any(|d| d.contains(needle)),
            "no scenario guards against `{needle}`"
        );
    }
}

#[test]
fn six_masternodes_is_the_seeds_success_criteria() {
    let s = scenario::load(scenarios_dir().join("six-masternodes.toml")).unwrap();
    assert_eq!((s.network.nodes, s.masternode_count()), (6, 6));
    assert_eq!(s.duration, Duration::from_secs(3600));
    assert_eq!(s.wall_duration(), Duration::from_secs(120));
    let h = s.check(scenario::CheckKind::CommonHeight).unwrap();
    assert_eq!(
        (h.within, h.min_height),
        (Some(Duration::from_secs(180)), Some(40))
    );
}

const BASE: &str =
    "name = \"bad\"\nduration = \"10m\"\n\n[network]\nnodes = 4\n\n[[check]]\nkind = \"no_fork\"\n";

fn errors(text: &str, caps: Capabilities) -> Vec<String> {
    let s = parse(text, "bad.toml").unwrap_or_else(|e| panic!("should parse: {e}"));
    match validate(&s, &caps) {
        Ok(_) => Vec::new(),
        Err(ScenarioErrors(es)) => es.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn unknown_key_names_the_key_and_the_expected_ones() {
    let text = format!("{BASE}\n[[fault]]\nat = \"1m\"\nfo = \"2m\"\naction = \"kill\"\n");
    let e = parse(&text, "bad.toml").unwrap_err().to_string();
    assert!(
        e.starts_with("bad.toml:12:1: unknown field `fo`, expected one of `at`, `for`, `action`"),
        "{e}"
    );
}

#[test]
fn bad_duration_points_at_the_value() {
    let text = BASE.replace("\"10m\"", "\"10 parsecs\"");
    let e = parse(&text, "bad.toml").unwrap_err().to_string();
    assert!(e.starts_with("bad.toml:2:12: "), "{e}");
    assert!(e.contains("parsecs"), "{e}");
}

#[test]
fn unknown_check_kind_lists_the_known_ones() {
    let text = BASE.replace("no_fork", "no_spoon");
    let e = parse(&text, "bad.toml").unwrap_err().to_string();
    assert!(
        e.starts_with("bad.toml:8:8: unknown variant `no_spoon`, expected one of `no_cycling`"),
        "{e}"
    );
}

#[test]
fn missing_node_points_at_its_name() {
    let text = format!(
        "{BASE}\n[[fault]]\nat = \"1m\"\naction = \"partition\"\ngroups = [[\"n1\"], [\"n9\"]]\n"
    );
    assert_eq!(
        errors(&text, Capabilities::default()),
        ["bad.toml:13:20: unknown node `n9`: this network has n1..n4"]
    );
}

#[test]
fn overlapping_groups_point_at_the_second_occurrence() {
    let text = format!(
        "{BASE}\n[[fault]]\nat = \"1m\"\nfor = \"2m\"\naction = \"partition\"\ngroups = [[\"n1\", \"n2\"], [\"n2\", \"n3\"]]\n"
    );
    assert_eq!(
        errors(&text, Capabilities::default()),
        ["bad.toml:14:26: node `n2` is in two partition groups; groups must be disjoint"]
    );
}

#[test]
fn latency_is_rejected_without_netem_and_accepted_with_it() {
    let text = format!(
        "{BASE}\n[[fault]]\nat = \"1m\"\nfor = \"1m\"\naction = \"latency\"\ndelay = \"50ms\"\n"
    );
    let e = errors(&text, Capabilities::default());
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with(
            "bad.toml:13:1: latency needs the netem qdisc, which this machine's kernel lacks"
        ),
        "{e:?}"
    );
    assert!(errors(&text, Capabilities::all()).is_empty());
}

#[test]
fn link_shaping_keys_run_only_in_the_simulation() {
    let text = format!(
        "{BASE}\n[[fault]]\nat = \"1m\"\nfor = \"1m\"\naction = \"latency\"\ndelay = \"50ms\"\n\
         jitter = \"20ms\"\nreorder = 0.1\nduplicate = 0.05\nrate_kbit = 256\n"
    );
    // A docker host with netem: the plain delay would run, the rest not.
    let netem_only = Capabilities {
        netem: true,
        link_shaping: false,
    };
    let e = errors(&text, netem_only);
    assert_eq!(e.len(), 4, "{e:?}");
    for (err, key) in e
        .iter()
        .zip(["jitter", "reorder", "duplicate", "rate_kbit"])
    {
        assert!(
            err.contains(&format!("`{key}` is applied only by `--provider sim`")),
            "{err}"
        );
    }
    assert!(errors(&text, Capabilities::all()).is_empty());
    let bad = text.replace("reorder = 0.1", "reorder = 1.5");
    assert_eq!(
        errors(&bad, Capabilities::all()),
        ["bad.toml:16:1: reorder must be in [0, 1), got 1.5"]
    );
}

#[test]
fn sim_only_scenarios_validate_for_the_simulation_and_not_for_docker() {
    let loaded = load_many(&[scenarios_dir().join("sim")]);
    assert!(!loaded.is_empty(), "no scenario in scenarios/sim");
    for result in loaded {
        let s = result.unwrap_or_else(|e| panic!("{e}"));
        validate(&s, &Capabilities::all()).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            validate(&s, &Capabilities::default()).is_err(),
            "{}: a sim-only scenario must be refused by docker",
            s.name
        );
    }
}

#[test]
fn semantic_errors_are_all_reported_in_file_order() {
    let text = "name = \"bad\"\nduration = \"10m\"\ntime_scale = 0\n\n[network]\nnodes = 3\nmasternodes = 4\n\n\
        [[fault]]\nat = \"9m\"\nfor = \"2m\"\naction = \"loss\"\nprobability = 1.5\n\n[[check]]\nkind = \"progress\"\nwithin = \"1m\"\n";
    assert_eq!(
        errors(text, Capabilities::default()),
        [
            "bad.toml:3:1: time_scale must be > 0, got 0",
            "bad.toml:7:1: masternodes = 4 but the network has only 3 nodes",
            "bad.toml:11:1: at + for = 11m00s ends after the run's duration (10m00s)",
            "bad.toml:13:1: probability must be between 0 and 1 (exclusive), got 1.5",
            "bad.toml:17:1: `within` only applies to kind = \"common_height\"",
        ]
    );
}
