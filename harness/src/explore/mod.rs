//! `harness explore`: the scenario's random nemesis under many seeds, each
//! seed in its own process (`child`), `jobs` at a time; a live progress
//! line; `explore.json` and `junit.xml` (one test case per failing seed with
//! its first violation and replay command). `harness shrink` (`shrink`)
//! turns a failing seed into a minimal regression scenario.
//!
//! Module map: `swarm` (the per-seed scenario: provider filter, swarm
//! draw), `steer` (coverage that steers the swarm draw), `child` (one run in a re-executed harness), `report` (explore.json
//! and JUnit), `shrink` (delta debugging of a failing schedule),
//! `regression` (a schedule written as a standalone `[[fault]]` scenario).

pub mod child;
pub mod regression;
pub mod report;
pub mod shrink;
pub mod steer;
pub mod swarm;

use crate::runner::{Exit, Provider};
use crate::scenario::Scenario;
use report::{ExploreReport, SeedResult};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

/// How often the pool looks at its children.
const POLL: Duration = Duration::from_millis(20);

/// `harness explore`'s options: the command line itself (clap) and what a
/// library caller fills in.
#[derive(Clone, Debug, clap::Args)]
pub struct ExploreOptions {
    /// The scenario file as given (for replay commands).
    pub file: PathBuf,
    /// How many seeds (default 100 unless --for).
    #[arg(long)]
    pub seeds: Option<u64>,
    /// Keep starting seeds for this long (wall time), e.g. 10m.
    #[arg(long = "for", value_parser = humantime::parse_duration)]
    pub budget: Option<Duration>,
    /// First seed (seeds are first, first+1, ...).
    #[arg(long, default_value_t = 1)]
    pub first_seed: u64,
    #[arg(long, value_enum, default_value = "sim")]
    pub provider: Provider,
    /// Parallel runs (worker processes).
    #[arg(long, default_value_t = 2)]
    pub jobs: usize,
    /// Swarm testing: each seed also draws which fault kinds are enabled.
    #[arg(long)]
    pub swarm: bool,
    /// Output folder (default runs/explore-<scenario>-<time>/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[arg(long)]
    pub quiet: bool,
    /// Which seeds write timeline.json and report.html (sim): on-failure
    /// (default; a passing seed replays bit for bit) or all.
    #[arg(long, value_enum, default_value = "on-failure")]
    pub artefacts: crate::runner::Artefacts,
}

impl ExploreOptions {
    /// Where this exploration writes (the command line fills in a stamped
    /// default; a library caller without one writes to runs/explore).
    pub fn out_dir(&self) -> &Path {
        self.out.as_deref().unwrap_or(Path::new("runs/explore"))
    }
}

/// Run the exploration; writes `explore.json` and `junit.xml` under `out`.
pub fn run(base: &Scenario, opts: &ExploreOptions) -> (Exit, Option<ExploreReport>) {
    if base.nemesis.is_none() {
        eprintln!(
            "{}: no [nemesis]: every seed would run the same schedule",
            opts.file.display()
        );
        return (Exit::Usage, None);
    }
    if let Err(e) = std::fs::create_dir_all(opts.out_dir()) {
        eprintln!("creating {}: {e}", opts.out_dir().display());
        return (Exit::Infra, None);
    }
    let dropped: Vec<String> = base
        .nemesis
        .iter()
        .flat_map(|n| n.actions.iter())
        .filter(|k| !swarm::runnable(&[**k], opts.provider).contains(k))
        .map(|k| format!("{k:?}").to_lowercase())
        .collect();
    if !dropped.is_empty() {
        eprintln!(
            "explore: --provider {} cannot model {}; exploring the other kinds",
            child::provider_name(opts.provider),
            dropped.join(", ")
        );
    }
    let limit = match (opts.seeds, opts.budget) {
        (Some(n), _) => Some(n),
        (None, None) => Some(100),
        (None, Some(_)) => None,
    };
    let bar = progress_bar(limit, opts.quiet);
    let wall0 = Instant::now();
    let mut next = opts.first_seed;
    let mut running: Vec<(u64, PathBuf, Child, Instant)> = Vec::new();
    let mut results: Vec<SeedResult> = Vec::new();
    let mut exit = Exit::Pass;
    let mut steer = steer::Steer::new(opts.first_seed);
    loop {
        while running.len() < opts.jobs.max(1)
            && limit.is_none_or(|n| next < opts.first_seed + n)
            && opts.budget.is_none_or(|b| wall0.elapsed() < b)
            && (!opts.swarm || steer.ready(next))
        {
            let seed = next;
            next += 1;
            match start_seed(base, seed, opts, &steer.weights(seed)) {
                Ok(Some((dir, ch))) => running.push((seed, dir, ch, Instant::now())),
                Ok(None) => {
                    eprintln!("explore: the provider can model none of the nemesis kinds");
                    return (Exit::Usage, None);
                }
                Err(e) => {
                    eprintln!("explore: seed {seed}: {e:#}");
                    return (Exit::Infra, None);
                }
            }
        }
        if running.is_empty() {
            break;
        }
        let mut i = 0;
        while i < running.len() {
            let done = running[i].2.try_wait();
            match done {
                Ok(None) => i += 1,
                Ok(Some(status)) => {
                    let (seed, dir, _, t0) = running.swap_remove(i);
                    let o = child::outcome(&dir.join("run"), status.code().unwrap_or(-1));
                    let r = SeedResult::new(seed, &dir, o, t0.elapsed(), opts);
                    steer.record(seed, r.features.clone(), r.outcome.reached.clone());
                    exit = exit.worst(r.exit());
                    if r.outcome.exit != 0 {
                        bar.println(r.line());
                    }
                    results.push(r);
                    // Kept current, so a stopped exploration still reports.
                    let partial = ExploreReport::new(base, opts, results.clone(), wall0.elapsed());
                    if let Err(e) = report::write(opts.out_dir(), &partial) {
                        bar.println(format!("writing the explore report: {e:#}"));
                    }
                    bar.inc(1);
                    bar.set_message(rate_message(&results, wall0.elapsed()));
                }
                Err(e) => {
                    eprintln!("explore: waiting for seed {}: {e}", running[i].0);
                    i += 1;
                }
            }
        }
        std::thread::sleep(POLL);
    }
    bar.finish_and_clear();
    results.sort_by_key(|r| r.seed);
    let rep = ExploreReport::new(base, opts, results, wall0.elapsed());
    if let Err(e) = report::write(opts.out_dir(), &rep) {
        eprintln!("writing the explore report: {e:#}");
        exit = exit.worst(Exit::Infra);
    }
    exit = exit.worst(rep.exit());
    println!("{}", rep.summary());
    println!("{}", rep.coverage_line());
    (exit, Some(rep))
}

/// Write the seed's scenario and start its run.
fn start_seed(
    base: &Scenario,
    seed: u64,
    opts: &ExploreOptions,
    weights: &std::collections::BTreeMap<String, f64>,
) -> anyhow::Result<Option<(PathBuf, Child)>> {
    let Some(sc) = swarm::seed_scenario(base, seed, opts.swarm, opts.provider, weights) else {
        return Ok(None);
    };
    let dir = opts.out_dir().join(format!("seed-{seed}"));
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("scenario.toml");
    std::fs::write(&file, toml::to_string(&sc)?)?;
    let ch = child::spawn(
        &file,
        opts.provider,
        &dir.join("run"),
        child::Extra {
            artefacts: opts.artefacts,
            ..Default::default()
        },
    )?;
    Ok(Some((dir, ch)))
}

fn rate_message(results: &[SeedResult], wall: Duration) -> String {
    let failed = results.iter().filter(|r| r.outcome.failed()).count();
    let per_min = results.len() as f64 / wall.as_secs_f64().max(1e-3) * 60.0;
    format!("{failed} failing, {per_min:.0} schedules/min")
}

fn progress_bar(limit: Option<u64>, quiet: bool) -> indicatif::ProgressBar {
    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
    let bar = match limit {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::new_spinner(),
    };
    if quiet {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    let style = match limit {
        Some(_) => "explore [{bar:30}] {pos}/{len} seeds, {msg} ({elapsed})",
        None => "explore {spinner} {pos} seeds, {msg} ({elapsed})",
    };
    if let Ok(s) = ProgressStyle::with_template(style) {
        bar.set_style(s.progress_chars("=> "));
    }
    bar.enable_steady_tick(Duration::from_millis(250));
    bar
}

/// The replay command of one seed: the file itself when the seed's
/// scenario equals the file with `--seed` (no swarm draw, no kind dropped),
/// else the seed's written scenario.
pub fn replay(file: &Path, seed_dir: &Path, seed: u64, provider: Provider, plain: bool) -> String {
    let p = child::provider_name(provider);
    if plain {
        format!(
            "harness run {} --provider {p} --seed {seed}",
            file.display()
        )
    } else {
        format!(
            "harness run {} --provider {p}",
            seed_dir.join("scenario.toml").display()
        )
    }
}
