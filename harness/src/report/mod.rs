//! Reports of a run: `report.json`, `junit.xml` and the summary table.
//!
//! Public API (what the runner calls):
//! - fill a [`RunReport`] (scenario, seed, time scale, durations, the nemesis
//!   schedule, the faults as applied, check results, every node's final
//!   status) and call [`write`]`(out_dir, &report)`: writes
//!   `out_dir/report.json` and `out_dir/junit.xml`, returns their paths;
//! - [`summary_table`]`(&report)`: the aligned text table printed at the end;
//! - [`write_suite_junit`]`(path, &[reports])`: one JUnit file for a suite
//!   (one `<testsuite>` per scenario);
//! - [`junit_report`] / [`RunReport::exit_code`] for callers that need them;
//! - [`perf`]: the performance figures (from [`prom`] scrapes and `/proc`);
//! - [`coverage`]: rare protocol events reached (from the same scrapes);
//! - [`compare`]: `harness compare BASE NEW` over two reports' figures;
//! - [`html`]: the self-contained `report.html` (written by [`write`] when
//!   given the timeline) and a suite's `index.html`.
//!
//! JUnit mapping: one `<testsuite>` per scenario, one `<testcase>` per
//! check (classname = scenario name); a failed check is a `<failure>` whose
//! message is the first violation; the suite's properties carry seed, time
//! scale and durations, and every test case's system-out lists the faults
//! applied, so a CI viewer shows what the network went through next to
//! each verdict. An infrastructure error becomes an `<error>` test case.

pub mod compare;
pub mod coverage;
pub mod html;
mod junit;
pub mod perf;
pub mod prom;
mod table;

pub use junit::{junit_report, write_suite_junit};
pub use table::summary_table;

use crate::checks::CheckResult;
use crate::nemesis::Schedule;
use crate::observe::model::FaultSpan;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use timed::api::types::StatusView;

/// Everything known about one scenario run, as written to `report.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    pub scenario: String,
    #[serde(default)]
    pub description: String,
    /// The scenario file, if it came from one.
    #[serde(default)]
    pub file: Option<PathBuf>,
    pub run_id: String,
    pub seed: u64,
    pub time_scale: f64,
    /// Wall-clock start, RFC 3339 (UTC).
    #[serde(default)]
    pub started_at: Option<String>,
    /// Wall time the run took (setup to teardown).
    pub wall_ms: u64,
    /// Protocol time observed (the timeline's `end`).
    pub protocol_ms: u64,
    /// The fault schedule as planned (timeline faults + seeded nemesis).
    #[serde(default)]
    pub schedule: Option<Schedule>,
    /// The faults as actually applied (start/end when they happened).
    #[serde(default)]
    pub faults: Vec<FaultSpan>,
    pub checks: Vec<CheckResult>,
    /// Every node's final state.
    #[serde(default)]
    pub nodes: Vec<NodeReport>,
    /// Set when the run could not complete (infrastructure or usage).
    #[serde(default)]
    pub error: Option<String>,
    /// Which provider ran the nodes: `docker` or `sim`.
    #[serde(default)]
    pub provider: Option<String>,
    /// sha256 of the run's `timeline.json` (hex): two `sim` runs of the
    /// same scenario and seed print the same digest.
    #[serde(default)]
    pub timeline_sha256: Option<String>,
    /// Performance figures (`harness compare` reads these).
    #[serde(default)]
    pub perf: Option<perf::Perf>,
    /// Set when `--fail-fast` stopped the run at a final violation.
    #[serde(default)]
    pub fail_fast: Option<EarlyStop>,
    /// Rare protocol events the nodes counted (event -> count; empty when
    /// no node's `/metrics` was read).
    #[serde(default)]
    pub coverage: coverage::Coverage,
}

/// Why `--fail-fast` stopped a run before its end.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EarlyStop {
    /// Why the run was judged while it ran.
    #[serde(default)]
    pub cause: StopCause,
    /// The check whose final violation stopped the run.
    pub check: String,
    pub violation: crate::checks::Violation,
    /// Protocol ms at which the run was stopped.
    pub stopped_at: u64,
    /// Wall ms from the violation to the stop (protocol gap / time scale).
    #[serde(default)]
    pub wall_ms_after_violation: u64,
    /// Checks judged only at the end, which an early stop leaves unjudged.
    pub not_judged: Vec<String>,
}

/// Why a run was judged before its end.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopCause {
    /// `--fail-fast` was given.
    #[default]
    FailFast,
    /// A simulated run without `--fail-fast` went into a socket storm
    /// (`sim::stop`): judged as with `--fail-fast` so it ends with a verdict.
    SocketStorm,
}

impl StopCause {
    /// How the report names it.
    pub fn label(self) -> &'static str {
        match self {
            StopCause::FailFast => "--fail-fast",
            StopCause::SocketStorm => "socket storm (judged as with --fail-fast)",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeReport {
    pub name: String,
    pub ip: Option<IpAddr>,
    pub masternode: bool,
    /// Running and answering at the end.
    pub up: bool,
    /// The last `/status` seen.
    pub status: Option<StatusView>,
    /// The node's log file in the output folder.
    #[serde(default)]
    pub log: Option<PathBuf>,
}

/// Outcome of a run, in the order of severity the exit code reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Passed,
    Failed,
    Error,
}

impl RunReport {
    pub fn outcome(&self) -> Outcome {
        if self.error.is_some() {
            Outcome::Error
        } else if self.checks.iter().all(|c| c.passed) {
            Outcome::Passed
        } else {
            Outcome::Failed
        }
    }

    pub fn passed(&self) -> bool {
        self.outcome() == Outcome::Passed
    }

    /// DESIGN.md exit codes: 0 pass, 1 a check failed, 3 infrastructure
    /// (2, bad scenario or usage, is decided before any run exists).
    pub fn exit_code(&self) -> i32 {
        match self.outcome() {
            Outcome::Passed => 0,
            Outcome::Failed => 1,
            Outcome::Error => 3,
        }
    }

    /// The worst exit code over a suite.
    pub fn suite_exit_code(reports: &[RunReport]) -> i32 {
        let codes = reports.iter().map(RunReport::exit_code);
        if codes.clone().any(|c| c == 3) {
            3
        } else {
            codes.max().unwrap_or(0)
        }
    }
}

/// `report.json` as written (the report plus its outcome, for `jq` users).
#[derive(Serialize)]
struct JsonReport<'a> {
    outcome: Outcome,
    #[serde(flatten)]
    report: &'a RunReport,
}

/// Paths of the files [`write`] produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    pub json: PathBuf,
    pub junit: PathBuf,
}

/// Write `report.json` and `junit.xml` into `out_dir` (created if needed).
pub fn write(out_dir: &Path, report: &RunReport) -> anyhow::Result<Written> {
    use anyhow::Context;
    std::fs::create_dir_all(out_dir)
        .with_context(|| format!("creating report folder {}", out_dir.display()))?;
    let json = out_dir.join("report.json");
    let body = serde_json::to_vec_pretty(&JsonReport {
        outcome: report.outcome(),
        report,
    })?;
    std::fs::write(&json, body).with_context(|| format!("writing {}", json.display()))?;
    let junit = out_dir.join("junit.xml");
    write_suite_junit(&junit, std::slice::from_ref(report))?;
    Ok(Written { json, junit })
}

/// Read a `report.json` back (e.g. to combine a suite's JUnit afterwards).
pub fn read(path: &Path) -> anyhow::Result<RunReport> {
    use anyhow::Context;
    let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&text).with_context(|| format!("parsing {}", path.display()))
}

#[cfg(test)]
mod tests;
