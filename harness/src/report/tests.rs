use super::*;
use crate::checks::{CheckResult, Violation};
use crate::scenario::CheckKind;

fn check(kind: CheckKind, violation: Option<Violation>) -> CheckResult {
    CheckResult {
        kind,
        name: kind.name().into(),
        passed: violation.is_none(),
        violations: usize::from(violation.is_some()),
        first_violation: violation,
        details: "15 pairs, 15 connected once".into(),
        evaluated_from: 120_000,
        evaluated_to: 3_600_000,
        eval_us: 1200,
    }
}

fn sample(name: &str, fail: bool) -> RunReport {
    RunReport {
        provider: None,
        timeline_sha256: None,
        scenario: name.into(),
        description: "guards against cycling".into(),
        file: Some(format!("scenarios/{name}.toml").into()),
        run_id: "r1".into(),
        seed: 42,
        time_scale: 30.0,
        started_at: None,
        wall_ms: 125_000,
        protocol_ms: 3_600_000,
        schedule: None,
        faults: vec![FaultSpan {
            start: 1_200_000,
            end: Some(1_500_000),
            action: crate::scenario::FaultAction::Partition,
            nodes: vec!["n1".into(), "n2".into(), "n3".into()],
            cuts: vec![("n1".into(), "n4".into())],
            description: "halves: n1,n2,n3 | n4,n5,n6".into(),
            answers: Vec::new(),
        }],
        checks: vec![
            check(CheckKind::NoCycling, None),
            check(
                CheckKind::CommonHeight,
                fail.then(|| Violation {
                    t: 3_600_000,
                    nodes: vec!["n6".into()],
                    message: "n6 at height 0 & <stuck>".into(),
                }),
            ),
        ],
        nodes: vec![NodeReport {
            name: "n1".into(),
            ip: Some("172.28.0.11".parse().unwrap()),
            masternode: true,
            up: true,
            status: None,
            log: Some("logs/n1.log".into()),
        }],
        error: None,
        perf: None,
        fail_fast: None,
        coverage: Default::default(),
    }
}

#[test]
fn writes_json_and_junit_that_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let r = sample("six-masternodes", true);
    let w = write(dir.path(), &r).unwrap();
    assert_eq!(read(&w.json).unwrap(), r);
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&w.json).unwrap()).unwrap();
    assert_eq!(json["outcome"], "failed");
    assert_eq!(json["checks"][1]["first_violation"]["nodes"][0], "n6");
    let xml = std::fs::read_to_string(&w.junit).unwrap();
    assert!(
        xml.contains(r#"<testsuite name="six-masternodes" tests="2""#),
        "{xml}"
    );
    assert!(xml.contains(r#"failures="1""#), "{xml}");
    assert!(
        xml.contains("at 1h00m00s [n6]: n6 at height 0 &amp; &lt;stuck&gt;"),
        "{xml}"
    );
    assert!(
        xml.contains("halves: n1,n2,n3 | n4,n5,n6"),
        "faults listed: {xml}"
    );
    assert!(
        xml.contains(r#"<property name="seed" value="42"/>"#),
        "{xml}"
    );
    assert_eq!(r.exit_code(), 1);
    // Each testcase's time is its check's own evaluation time (1.2 ms, rounded).
    assert_eq!(xml.matches(r#"time="0.001""#).count(), 2, "{xml}");
    assert!(
        !xml.contains("62.5"),
        "not the run's wall time split: {xml}"
    );
}

#[test]
fn suite_junit_has_one_testsuite_per_scenario_and_errors_count() {
    let dir = tempfile::tempdir().unwrap();
    let mut broken = sample("churn", false);
    broken.error = Some("no Docker engine at /var/run/docker.sock".into());
    let reports = [sample("a", false), broken];
    let path = dir.path().join("nested/junit.xml");
    write_suite_junit(&path, &reports).unwrap();
    let xml = std::fs::read_to_string(&path).unwrap();
    assert_eq!(xml.matches("<testsuite ").count(), 2, "{xml}");
    assert!(xml.contains(r#"errors="1""#), "{xml}");
    assert!(xml.contains("no Docker engine"), "{xml}");
    assert_eq!(RunReport::suite_exit_code(&reports), 3);
    assert_eq!(RunReport::suite_exit_code(&reports[..1]), 0);
}

#[test]
fn summary_table_is_aligned() {
    let t = summary_table(&sample("six-masternodes", true));
    let lines: Vec<&str> = t.lines().collect();
    assert!(
        lines[0].starts_with(
            "six-masternodes FAILED (seed 42, time scale 30, 1h00m00s protocol in 2m05s wall)"
        ),
        "{t}"
    );
    assert!(
        lines[1].starts_with("check          result  first violation  nodes  details"),
        "{t}"
    );
    assert!(
        lines[3].starts_with("no_cycling     PASS    -                -      15 pairs"),
        "{t}"
    );
    assert!(
        lines[4].starts_with("common_height  FAIL    1h00m00s         n6     15 pairs"),
        "{t}"
    );
    assert_eq!(lines[5], "common_height: n6 at height 0 & <stuck>");
}
