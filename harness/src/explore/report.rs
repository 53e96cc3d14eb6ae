//! `explore.json` and `junit.xml` of an exploration.

use super::child::Outcome;
use super::ExploreOptions;
use crate::runner::Exit;
use crate::scenario::Scenario;
use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One explored seed.
#[derive(Clone, Debug, Serialize)]
pub struct SeedResult {
    pub seed: u64,
    pub outcome: Outcome,
    /// The nemesis kinds this seed drew from (swarm) or all runnable ones.
    pub kinds: Vec<String>,
    /// Its steering features: the kinds and, when it may partition, the
    /// partition shapes (`partition:<shape>`).
    pub features: Vec<String>,
    pub wall_ms: u64,
    pub run_dir: PathBuf,
    pub replay: String,
}

impl SeedResult {
    pub fn new(
        seed: u64,
        dir: &Path,
        outcome: Outcome,
        wall: Duration,
        opts: &ExploreOptions,
    ) -> SeedResult {
        let sc = crate::scenario::load(dir.join("scenario.toml")).ok();
        let features = sc.as_ref().map(super::swarm::features).unwrap_or_default();
        let kinds = sc
            .and_then(|s| s.nemesis)
            .map(|n| {
                n.actions
                    .iter()
                    .map(|k| format!("{k:?}").to_lowercase())
                    .collect()
            })
            .unwrap_or_default();
        let plain = plain_kinds(opts);
        SeedResult {
            seed,
            replay: super::replay(&opts.file, dir, seed, opts.provider, plain),
            outcome,
            kinds,
            features,
            wall_ms: wall.as_millis() as u64,
            run_dir: dir.join("run"),
        }
    }

    pub fn exit(&self) -> Exit {
        match self.outcome.exit {
            0 => Exit::Pass,
            1 => Exit::CheckFailed,
            2 => Exit::Usage,
            130 => Exit::Interrupted,
            _ => Exit::Infra,
        }
    }

    /// One line for a seed that did not pass.
    pub fn line(&self) -> String {
        let o = &self.outcome;
        let what = match (&o.check, &o.first_violation, &o.error) {
            (Some(c), Some(v), _) => format!("{c}: {}", v.message),
            (Some(c), None, _) => c.clone(),
            (None, _, Some(e)) => format!("error (exit {}): {e}", o.exit),
            (None, _, None) => format!("exit {}", o.exit),
        };
        format!(
            "seed {} FAILED {what}\n  replay: {}",
            self.seed, self.replay
        )
    }
}

/// Whether every seed's scenario is the file with `--seed` (no swarm draw
/// and no kind dropped for the provider).
fn plain_kinds(opts: &ExploreOptions) -> bool {
    if opts.swarm {
        return false;
    }
    crate::scenario::load(&opts.file)
        .ok()
        .and_then(|s| s.nemesis)
        .is_some_and(|n| super::swarm::runnable(&n.actions, opts.provider) == n.actions)
}

/// `explore.json`.
#[derive(Clone, Debug, Serialize)]
pub struct ExploreReport {
    pub scenario: String,
    pub file: PathBuf,
    pub provider: String,
    pub swarm: bool,
    pub jobs: usize,
    pub seeds_run: usize,
    pub failing_seeds: Vec<u64>,
    /// Seeds that ended in an error (exit 2/3/other), not a check.
    pub error_seeds: Vec<u64>,
    pub wall_ms: u64,
    pub seeds_per_minute: f64,
    /// Every coverage event -> how many seeds reached it (0: none did).
    pub coverage: BTreeMap<String, u64>,
    /// The scenario's `[nemesis] must_reach`.
    pub must_reach: Vec<String>,
    /// Events of `must_reach` that no seed reached (the exploration fails).
    pub unreached: Vec<String>,
    pub seeds: Vec<SeedResult>,
}

impl ExploreReport {
    pub fn new(
        base: &Scenario,
        opts: &ExploreOptions,
        seeds: Vec<SeedResult>,
        wall: Duration,
    ) -> ExploreReport {
        let failing_seeds = seeds
            .iter()
            .filter(|r| r.outcome.failed())
            .map(|r| r.seed)
            .collect();
        let error_seeds = seeds
            .iter()
            .filter(|r| r.outcome.exit != 0 && !r.outcome.failed())
            .map(|r| r.seed)
            .collect();
        let mut coverage: BTreeMap<String, u64> = crate::report::coverage::EVENTS
            .iter()
            .map(|(e, _)| (e.to_string(), 0))
            .collect();
        for r in &seeds {
            for e in &r.outcome.reached {
                *coverage.entry(e.clone()).or_default() += 1;
            }
        }
        let must_reach = base
            .nemesis
            .as_ref()
            .map(|n| n.must_reach.clone())
            .unwrap_or_default();
        let unreached = must_reach
            .iter()
            .filter(|e| coverage.get(*e).copied().unwrap_or(0) == 0)
            .cloned()
            .collect();
        ExploreReport {
            coverage,
            must_reach,
            unreached,
            scenario: base.name.clone(),
            file: opts.file.clone(),
            provider: super::child::provider_name(opts.provider).into(),
            swarm: opts.swarm,
            jobs: opts.jobs,
            seeds_run: seeds.len(),
            failing_seeds,
            error_seeds,
            wall_ms: wall.as_millis() as u64,
            seeds_per_minute: seeds.len() as f64 / wall.as_secs_f64().max(1e-3) * 60.0,
            seeds,
        }
    }

    /// Whether the exploration fails: a seed failed, or an event of
    /// `must_reach` was never reached.
    pub fn exit(&self) -> Exit {
        if !self.unreached.is_empty() {
            Exit::CheckFailed
        } else {
            Exit::Pass
        }
    }

    /// One line: which events how many seeds reached.
    pub fn coverage_line(&self) -> String {
        let parts: Vec<String> = self
            .coverage
            .iter()
            .map(|(e, n)| {
                let must = if self.must_reach.contains(e) { "*" } else { "" };
                format!("{e}{must} {n}")
            })
            .collect();
        let mut line = format!("coverage (seeds reaching each event): {}", parts.join(", "));
        if !self.unreached.is_empty() {
            line.push_str(&format!(
                "\nmust_reach FAILED: no seed reached {}",
                self.unreached.join(", ")
            ));
        }
        line
    }

    pub fn summary(&self) -> String {
        format!(
            "explore {}: {} seeds in {:.1} s ({:.0}/min, {} jobs, provider {}{}): {} failing {:?}, {} errors {:?}",
            self.scenario,
            self.seeds_run,
            self.wall_ms as f64 / 1000.0,
            self.seeds_per_minute,
            self.jobs,
            self.provider,
            if self.swarm { ", swarm" } else { "" },
            self.failing_seeds.len(),
            self.failing_seeds,
            self.error_seeds.len(),
            self.error_seeds
        )
    }

    /// One test case per seed that did not pass (and one passing case
    /// saying how many seeds ran, so a green exploration is visible).
    pub fn junit(&self) -> Report {
        let mut junit = Report::new("timenet-explore");
        let mut suite = TestSuite::new(format!("explore {}", self.scenario));
        suite.set_time(Duration::from_millis(self.wall_ms));
        for (k, v) in [
            ("provider", self.provider.clone()),
            ("swarm", self.swarm.to_string()),
            ("seeds_run", self.seeds_run.to_string()),
            ("seeds_per_minute", format!("{:.1}", self.seeds_per_minute)),
        ] {
            suite.add_property(Property::new(k, v));
        }
        let mut all = TestCase::new(
            format!("{} seeds explored", self.seeds_run),
            TestCaseStatus::success(),
        );
        all.set_time(Duration::from_millis(self.wall_ms));
        suite.add_test_case(all);
        for e in &self.must_reach {
            let status = if self.unreached.contains(e) {
                let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                st.set_message(format!("no seed of {} reached {e}", self.seeds_run));
                st.set_type("must_reach");
                st
            } else {
                TestCaseStatus::success()
            };
            suite.add_test_case(TestCase::new(format!("must_reach {e}"), status));
        }
        for r in self.seeds.iter().filter(|r| r.outcome.exit != 0) {
            let kind = if r.outcome.failed() {
                NonSuccessKind::Failure
            } else {
                NonSuccessKind::Error
            };
            let mut status = TestCaseStatus::non_success(kind);
            let o = &r.outcome;
            let msg = match (&o.check, &o.first_violation, &o.error) {
                (Some(c), Some(v), _) => format!("{c}: {}", v.message),
                (Some(c), None, _) => c.clone(),
                (None, _, Some(e)) => e.clone(),
                (None, _, None) => format!("exit {}", o.exit),
            };
            status.set_message(msg.as_str());
            if let Some(c) = &o.check {
                status.set_type(c.as_str());
            }
            status.set_description(format!("replay: {}", r.replay));
            let mut case = TestCase::new(format!("seed {}", r.seed), status);
            case.set_time(Duration::from_millis(r.wall_ms));
            case.set_system_out(format!(
                "replay: {}\nkinds: {}\nrun: {}",
                r.replay,
                r.kinds.join(", "),
                r.run_dir.display()
            ));
            suite.add_test_case(case);
        }
        junit.add_test_suite(suite);
        junit
    }
}

pub fn write(out: &Path, rep: &ExploreReport) -> anyhow::Result<()> {
    std::fs::write(out.join("explore.json"), serde_json::to_vec_pretty(rep)?)?;
    std::fs::write(out.join("junit.xml"), rep.junit().to_string()?)?;
    Ok(())
}
