//! `junit.xml` through `quick-junit`: one test suite per scenario, one test
//! case per check.

use super::RunReport;
use crate::checks::fmt_ms;
use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};
use std::path::Path;
use std::time::Duration;

/// The JUnit document for a set of runs (one `<testsuite>` each).
pub fn junit_report(name: &str, reports: &[RunReport]) -> Report {
    let mut junit = Report::new(name);
    let mut total = Duration::ZERO;
    for r in reports {
        let wall = Duration::from_millis(r.wall_ms);
        total += wall;
        junit.add_test_suite(suite(r, wall));
    }
    junit.set_time(total);
    junit
}

/// Write one combined JUnit file for a suite of runs.
pub fn write_suite_junit(path: &Path, reports: &[RunReport]) -> anyhow::Result<()> {
    use anyhow::Context;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let xml = junit_report("timenet", reports).to_string()?;
    std::fs::write(path, xml).with_context(|| format!("writing {}", path.display()))
}

fn suite(r: &RunReport, wall: Duration) -> TestSuite {
    let mut suite = TestSuite::new(r.scenario.as_str());
    suite.set_time(wall);
    let props = [
        ("run_id", r.run_id.clone()),
        ("seed", r.seed.to_string()),
        ("time_scale", r.time_scale.to_string()),
        ("protocol_duration", fmt_ms(r.protocol_ms)),
        ("wall_duration", fmt_ms(r.wall_ms)),
        ("faults_applied", r.faults.len().to_string()),
    ];
    for (k, v) in props {
        suite.add_property(Property::new(k, v));
    }
    if !r.description.is_empty() {
        suite.add_property(Property::new("description", r.description.as_str()));
    }
    let faults = faults_text(r);
    suite.set_system_out(faults.as_str());
    if let Some(err) = &r.error {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
        status.set_message(err.as_str());
        status.set_type("infrastructure");
        let mut case = TestCase::new("run", status);
        case.set_classname(r.scenario.as_str());
        case.set_system_out(faults.as_str());
        suite.add_test_case(case);
    }
    let not_judged = |name: &str| {
        r.fail_fast
            .as_ref()
            .is_some_and(|s| s.not_judged.iter().any(|n| n == name))
    };
    for c in &r.checks {
        let status = match &c.first_violation {
            None if not_judged(&c.name) => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(c.details.as_str());
                s
            }
            None if c.passed => TestCaseStatus::success(),
            v => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                let msg = match v {
                    Some(v) => {
                        format!("at {} [{}]: {}", fmt_ms(v.t), v.nodes.join(", "), v.message)
                    }
                    None => "failed".to_string(),
                };
                s.set_message(msg);
                s.set_type(c.name.as_str());
                s.set_description(format!("{} violation(s); {}", c.violations, c.details));
                s
            }
        };
        let mut case = TestCase::new(c.name.as_str(), status);
        case.set_classname(r.scenario.as_str());
        // The check's own evaluation time (0 when it was not measured).
        case.set_time(Duration::from_micros(c.eval_us));
        case.add_property(Property::new(
            "window",
            format!("{}..{}", fmt_ms(c.evaluated_from), fmt_ms(c.evaluated_to)),
        ));
        case.set_system_out(format!("{}\n{faults}", c.details));
        suite.add_test_case(case);
    }
    suite
}

/// The faults of the run as plain lines (applied, else planned).
pub(super) fn faults_text(r: &RunReport) -> String {
    if !r.faults.is_empty() {
        let mut s = String::from("faults applied:\n");
        for f in &r.faults {
            let end = f.end.map_or("end of run".to_string(), fmt_ms);
            s.push_str(&format!(
                "  {}..{} {} {}\n",
                fmt_ms(f.start),
                end,
                f.action,
                if f.description.is_empty() {
                    f.nodes.join(",")
                } else {
                    f.description.clone()
                }
            ));
        }
        return s;
    }
    match &r.schedule {
        Some(s) if !s.steps.is_empty() => format!("fault schedule (planned):\n{s}"),
        _ => "no faults\n".to_string(),
    }
}
