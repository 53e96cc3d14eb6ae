//! One run in its own process: the harness binary re-executed as
//! `harness run FILE --provider P --out DIR --quiet [--schedule S]`.
//! A process per run isolates a panic or a hang to that seed and keeps each
//! simulation's determinism (no state shared between runs).

use crate::checks::Violation;
use crate::report::RunReport;
use crate::runner::{Artefacts, Provider};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// What one child run ended with.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Outcome {
    /// The child's exit code (DESIGN.md: 0 pass, 1 check failed, 2, 3, 130).
    pub exit: i32,
    /// The first failing check, if any.
    pub check: Option<String>,
    pub first_violation: Option<Violation>,
    /// Faults the schedule held (start steps).
    pub faults: usize,
    /// The run's error (exit 2/3), or why its report could not be read.
    pub error: Option<String>,
    /// Rare protocol events the run reached (`report::coverage`), count > 0.
    #[serde(default)]
    pub reached: Vec<String>,
}

impl Outcome {
    pub fn failed(&self) -> bool {
        self.exit == 1
    }
}

/// What a child run gets besides its scenario, provider and folder.
#[derive(Clone, Copy, Debug, Default)]
pub struct Extra<'a> {
    /// Sim: replay this stored schedule (JSON) instead of the seed's.
    pub schedule: Option<&'a Path>,
    /// Docker: run this `timed` binary (`harness run --timed`); the
    /// simulation runs the node code linked into the harness and ignores it.
    pub timed: Option<&'a Path>,
    /// Which runs write `timeline.json` and `report.html` (sim only).
    pub artefacts: Artefacts,
}

/// Start one run; stdout and stderr go to `out/harness.log`.
pub fn spawn(
    scenario: &Path,
    provider: Provider,
    out: &Path,
    extra: Extra<'_>,
) -> std::io::Result<Child> {
    std::fs::create_dir_all(out)?;
    let log = std::fs::File::create(out.join("harness.log"))?;
    command(&std::env::current_exe()?, scenario, provider, out, extra)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
}

/// `exe run SCENARIO --provider P --out DIR --quiet` and the extras.
fn command(
    exe: &Path,
    scenario: &Path,
    provider: Provider,
    out: &Path,
    extra: Extra<'_>,
) -> Command {
    let mut cmd = Command::new(exe);
    cmd.arg("run")
        .arg(scenario)
        .arg("--provider")
        .arg(provider_name(provider))
        .arg("--out")
        .arg(out)
        .arg("--quiet");
    if let Some(s) = extra.schedule {
        cmd.arg("--schedule").arg(s);
    }
    if let (Some(t), Provider::Docker) = (extra.timed, provider) {
        cmd.arg("--timed").arg(t);
    }
    if extra.artefacts == Artefacts::OnFailure {
        cmd.args(["--artefacts", "on-failure"]);
    }
    cmd
}

pub fn provider_name(p: Provider) -> &'static str {
    match p {
        Provider::Docker => "docker",
        Provider::Sim => "sim",
    }
}

/// Read a finished run's outcome from its `report.json`.
pub fn outcome(out: &Path, exit: i32) -> Outcome {
    let mut o = Outcome {
        exit,
        check: None,
        first_violation: None,
        faults: 0,
        error: None,
        reached: Vec::new(),
    };
    match read_report(out) {
        Ok(r) => {
            if let Some(c) = r.checks.iter().find(|c| !c.passed) {
                o.check = Some(c.name.clone());
                o.first_violation = c.first_violation.clone();
            }
            o.faults = r.schedule.as_ref().map_or(0, |s| {
                s.steps
                    .iter()
                    .filter(|s| s.phase == crate::nemesis::schedule::Phase::Start)
                    .count()
            });
            o.error = r.error;
            o.reached = crate::report::coverage::reached(&r.coverage);
        }
        Err(e) if exit != 0 => {
            let log = std::fs::read_to_string(out.join("harness.log")).unwrap_or_default();
            let tail: String = log.lines().rev().take(3).collect::<Vec<_>>().join(" | ");
            o.error = Some(format!("{e:#}; log: {tail}"));
        }
        Err(e) => o.error = Some(format!("{e:#}")),
    }
    o
}

pub fn read_report(out: &Path) -> anyhow::Result<RunReport> {
    use anyhow::Context;
    let p: PathBuf = out.join("report.json");
    let bytes = std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?;
    serde_json::from_slice(&bytes).with_context(|| format!("parsing {}", p.display()))
}

/// Run one child to its end.
pub fn run(
    scenario: &Path,
    provider: Provider,
    out: &Path,
    extra: Extra<'_>,
) -> std::io::Result<Outcome> {
    let status = spawn(scenario, provider, out, extra)?.wait()?;
    Ok(outcome(out, status.code().unwrap_or(-1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(provider: Provider, extra: Extra<'_>) -> Vec<String> {
        let (exe, sc, out) = (Path::new("h"), Path::new("s.toml"), Path::new("o"));
        command(exe, sc, provider, out, extra)
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn docker_children_run_the_given_timed_binary_and_sim_children_ignore_it() {
        let extra = Extra {
            timed: Some(Path::new("/tmp/timed-patched")),
            ..Default::default()
        };
        let docker = args(Provider::Docker, extra);
        let at = docker.iter().position(|a| a == "--timed").expect("--timed");
        assert_eq!(docker[at + 1], "/tmp/timed-patched");
        assert!(!args(Provider::Sim, extra).contains(&"--timed".to_string()));
        let plain = args(Provider::Docker, Extra::default());
        assert!(!plain.contains(&"--timed".to_string()), "{plain:?}");
    }

    #[test]
    fn a_stored_schedule_is_passed_on() {
        let extra = Extra {
            schedule: Some(Path::new("sched.json")),
            ..Default::default()
        };
        let a = args(Provider::Sim, extra);
        let at = a
            .iter()
            .position(|a| a == "--schedule")
            .expect("--schedule");
        assert_eq!(a[at + 1], "sched.json");
        assert!(!a.contains(&"--artefacts".to_string()), "{a:?}");
        let seeds = Extra {
            artefacts: Artefacts::OnFailure,
            ..Default::default()
        };
        let a = args(Provider::Sim, seeds);
        let at = a
            .iter()
            .position(|a| a == "--artefacts")
            .expect("--artefacts");
        assert_eq!(a[at + 1], "on-failure");
    }
}
