//! The test and report stages: checks over the timeline, then the run's
//! files (`report.json`, `junit.xml`, `timeline.json`). The one place the
//! runner meets `checks` and `report`.

use crate::checks::{self, CheckResult};
use crate::nemesis::Schedule;
use crate::observe::model::{FaultSpan, Timeline};
use crate::report::perf::Perf;
use crate::report::{EarlyStop, NodeReport, RunReport};
use crate::scenario::Scenario;
use std::path::Path;
use std::time::Instant;

/// What the test stage found, and what the report needs from the run.
#[derive(Clone, Debug, Default)]
pub struct Findings {
    pub checks: Vec<CheckResult>,
    pub faults: Vec<FaultSpan>,
    pub nodes: Vec<NodeReport>,
    pub protocol_ms: u64,
    pub perf: Option<Perf>,
    pub fail_fast: Option<EarlyStop>,
    /// Rare protocol events the nodes counted (`report::coverage`).
    pub coverage: crate::report::coverage::Coverage,
}

/// Every check of the scenario over the timeline, each timed on its own
/// (wall microseconds in `eval_us`). After an early stop, the checks judged only at
/// the end are reported as not judged (passed, with that said) rather
/// than judged on a run cut short.
pub fn run_checks(
    sc: &Scenario,
    timeline: &Timeline,
    stop: Option<&EarlyStop>,
) -> Vec<CheckResult> {
    sc.checks
        .iter()
        .map(|spec| {
            let name = spec.kind.name();
            if let Some(stop) = stop.filter(|s| s.not_judged.iter().any(|n| n == name)) {
                return CheckResult {
                    kind: spec.kind,
                    name: name.to_string(),
                    passed: true,
                    first_violation: None,
                    violations: 0,
                    details: format!(
                        "not judged: --fail-fast stopped the run at {} ({} failed), before \
                         the end this check judges",
                        checks::fmt_ms(stop.stopped_at),
                        stop.check
                    ),
                    evaluated_from: 0,
                    evaluated_to: 0,
                    eval_us: 0,
                };
            }
            let t0 = Instant::now();
            let mut r = checks::evaluate_one(spec.kind, sc, timeline);
            r.eval_us = t0.elapsed().as_micros() as u64;
            r
        })
        .collect()
}

/// Test stage: every check of the scenario over the timeline, and each
/// node's final state.
pub fn evaluate(sc: &Scenario, timeline: &Timeline, stop: Option<EarlyStop>) -> Findings {
    let nodes = timeline
        .nodes
        .iter()
        .map(|n| {
            let last = timeline.samples.iter().rev().find(|s| s.node == n.name);
            NodeReport {
                name: n.name.clone(),
                ip: Some(n.ip),
                masternode: n.masternode,
                up: last.is_some_and(|s| s.up),
                status: last.and_then(|s| s.status.clone()),
                log: None,
            }
        })
        .collect();
    Findings {
        checks: run_checks(sc, timeline, stop.as_ref()),
        faults: timeline.faults.clone(),
        nodes,
        protocol_ms: timeline.end,
        perf: None,
        fail_fast: stop,
        coverage: Default::default(),
    }
}

/// Everything observed, for debugging a failure offline. Returns the
/// sha256 (hex) of the bytes written.
pub fn write_timeline(out: &Path, timeline: &Timeline) -> anyhow::Result<String> {
    use sha2::Digest;
    std::fs::create_dir_all(out)?;
    let bytes = serde_json::to_vec(timeline)?;
    std::fs::write(out.join("timeline.json"), &bytes)?;
    Ok(hex::encode(sha2::Sha256::digest(&bytes)))
}

/// The run's report, from whatever the run got to (`findings` is `None`
/// when it stopped before the checks; `error` says why).
/// Facts about a run that do not come from the timeline.
pub struct RunMeta {
    pub provider: &'static str,
    pub timeline_sha256: Option<String>,
    pub run_id: String,
    pub started_at: String,
    pub wall_ms: u64,
    pub schedule: Option<Schedule>,
}

pub fn build_report(
    sc: &Scenario,
    meta: RunMeta,
    findings: Option<Findings>,
    error: Option<String>,
    out: &Path,
) -> RunReport {
    let f = findings.unwrap_or_default();
    let nodes = if f.nodes.is_empty() {
        sc.node_names()
            .into_iter()
            .map(|name| NodeReport {
                masternode: sc.is_masternode(&name),
                name,
                ip: None,
                up: false,
                status: None,
                log: None,
            })
            .collect()
    } else {
        f.nodes
    };
    let nodes = nodes
        .into_iter()
        .map(|mut n| {
            let log = out.join("logs").join(format!("{}.log", n.name));
            n.log = log.is_file().then_some(log);
            n
        })
        .collect();
    RunReport {
        scenario: sc.name.clone(),
        description: sc.description.clone(),
        file: sc.source.as_ref().map(|s| s.path.clone()),
        run_id: meta.run_id,
        seed: sc.seed,
        time_scale: sc.time_scale,
        started_at: Some(meta.started_at),
        wall_ms: meta.wall_ms,
        protocol_ms: f.protocol_ms,
        schedule: meta.schedule,
        faults: f.faults,
        checks: f.checks,
        nodes,
        error,
        perf: f.perf,
        fail_fast: f.fail_fast,
        coverage: f.coverage,
        provider: Some(meta.provider.to_string()),
        timeline_sha256: meta.timeline_sha256,
    }
}
