//! The `harness` command line. Exit codes (DESIGN.md): 0 pass, 1 a check
//! failed, 2 bad scenario or usage, 3 infrastructure, 130 interrupted.

use clap::{Parser, Subcommand};
use harness::provider::docker::{cleanup, connect, ApiAccess};
use harness::provider::image;
use harness::runner::{self, bench, Exit, RunOptions};
use harness::scenario;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "harness",
    version,
    about = "timenet harness: runs timed networks in Docker, breaks them, checks them"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run scenario files (several files or a directory = a suite).
    Run(RunArgs),
    /// Run a scenario's random nemesis under many seeds, each in its own
    /// process; explore.json + junit.xml; exit 1 when any seed fails.
    Explore(harness::explore::ExploreOptions),
    /// Delta-debug a failing run's fault schedule into a minimal regression
    /// scenario (scenarios/regressions/<check>-<date>.toml).
    Shrink {
        /// A failing run folder (or explore seed folder); or use --seed with a FILE.
        target: PathBuf,
        /// Shrink this seed of the scenario FILE given as the target.
        #[arg(long)]
        seed: Option<u64>,
        /// sim (default), or docker: the shrunk file must also fail on docker.
        #[arg(long, value_enum, default_value = "sim")]
        provider: runner::Provider,
        #[arg(long, default_value = "scenarios/regressions")]
        regressions: PathBuf,
        /// Work folder for the candidates (default runs/shrink-<time>/).
        #[arg(long)]
        out: Option<PathBuf>,
        /// With --provider docker: confirm on this `timed` binary (an image
        /// is built from it, as `harness run --timed`).
        #[arg(long, value_name = "PATH")]
        timed: Option<PathBuf>,
    },
    /// Compare the performance figures of two runs of one scenario and seed
    /// (run folders or report.json files); exit 1 on a regression, 2 when
    /// the runs differ in scenario, seed, time scale or provider.
    Compare {
        base: PathBuf,
        new: PathBuf,
        /// Worse than the base by more than this is a regression.
        #[arg(long, default_value = "20%")]
        max_regression: String,
    },
    /// Check scenario files without running them.
    Validate {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// List scenarios with description and durations.
    List {
        #[arg(default_value = "scenarios")]
        dir: PathBuf,
    },
    /// Build (or rebuild with --force) the node image.
    Image {
        #[arg(long)]
        force: bool,
    },
    /// Re-evaluate the checks of a scenario on a stored run's timeline.json
    /// (after changing a check, or to try another `within`/`grace`).
    Recheck {
        scenario: PathBuf,
        /// A run folder's timeline.json.
        timeline: PathBuf,
        /// Also replay --fail-fast over the timeline: where it would have
        /// stopped, and on which violation.
        #[arg(long)]
        fail_fast: bool,
    },
    /// Remove the containers and networks of every earlier run.
    Down,
    /// Startup/teardown times and the largest network that stays green.
    Bench {
        /// Network sizes to try for the scale test.
        #[arg(long, value_delimiter = ',', default_value = "10,20,30")]
        sizes: Vec<usize>,
        /// Protocol duration of each scale run.
        #[arg(long, default_value = "6m", value_parser = humantime::parse_duration)]
        duration: Duration,
        #[arg(long, default_value_t = 12.0)]
        time_scale: f64,
        /// docker, or sim: six-masternodes and churn in the simulation, then
        /// an n-node mesh per --sizes (default none in sim) for --duration.
        #[arg(long, value_enum, default_value = "docker")]
        provider: runner::Provider,
        /// Scenario folder (sim: six-masternodes.toml and churn.toml).
        #[arg(long, default_value = "scenarios")]
        scenarios: PathBuf,
        /// sim only: seeds of the `explore` throughput measurement on churn
        /// (two jobs); 0 skips it.
        #[arg(long, default_value_t = 6)]
        explore_seeds: u64,
    },
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HARNESS_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let exit = rt.block_on(dispatch(cli.cmd));
    drop(rt);
    std::process::exit(exit.code());
}

/// `harness run`'s command line.
#[derive(clap::Args)]
struct RunArgs {
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Override the scenario's time scale (1 = real time).
    #[arg(long)]
    time_scale: Option<f64>,
    /// Override the scenario's seed (replays a random nemesis).
    #[arg(long)]
    seed: Option<u64>,
    /// Output folder (default runs/<scenario>-<run id>/, or runs/suite-<time>/ for suites).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Leave containers and network up after the run (remove with `harness down`).
    #[arg(long)]
    keep: bool,
    /// Only scenarios whose name contains this (or matches this glob).
    #[arg(long)]
    filter: Option<String>,
    /// Suites: run this many scenarios at once, longest first (each its
    /// own network and containers; progress lines off, each result printed
    /// as its run ends).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=16))]
    jobs: u64,
    /// How to reach node APIs: container-ip (host routes to the bridge) or published.
    #[arg(long, value_enum, default_value = "container-ip")]
    api_access: ApiAccess,
    /// Poll interval per node, wall time (e.g. 300ms).
    #[arg(long, default_value = "300ms", value_parser = humantime::parse_duration)]
    poll: Duration,
    /// No live progress line.
    #[arg(long)]
    quiet: bool,
    /// Extra argument for every node's `timed run` (repeatable), e.g. --node-arg=--log-json.
    #[arg(long = "node-arg", allow_hyphen_values = true)]
    node_args: Vec<String>,
    /// docker (real containers) or sim (deterministic simulation, virtual
    /// time; --time-scale is ignored there: nodes run at scale 1).
    #[arg(long, value_enum, default_value = "docker")]
    provider: runner::Provider,
    /// Stop at the first violation that later observations cannot undo
    /// (checks judged every 2 s as the run goes); reports still written.
    #[arg(long)]
    fail_fast: bool,
    /// Run this `timed` binary (an image is built from it, tagged by its hash).
    #[arg(long, value_name = "PATH")]
    timed: Option<PathBuf>,
    /// Sim only: replay this stored schedule (JSON) instead of the seed's.
    #[arg(long, hide = true)]
    schedule: Option<PathBuf>,
    /// Sim only: write timeline.json and report.html for every run (all) or
    /// only for runs that do not pass (on-failure; a sim run replays bit
    /// for bit, so a passing run's files come back by rerunning it).
    #[arg(long, value_enum, default_value = "all")]
    artefacts: runner::Artefacts,
}

impl RunArgs {
    /// The runner's options for these arguments.
    fn options(&self) -> RunOptions {
        RunOptions {
            time_scale: self.time_scale,
            seed: self.seed,
            out: self.out.clone(),
            keep: self.keep,
            api_access: self.api_access,
            poll: harness::observe::PollConfig {
                interval: self.poll,
                ..Default::default()
            },
            quiet: self.quiet,
            node_args: self.node_args.clone(),
            fail_fast: self.fail_fast,
            timed: self.timed.clone(),
            provider: self.provider,
            schedule: self.schedule.clone(),
            artefacts: self.artefacts,
            ..Default::default()
        }
    }
}

async fn dispatch(cmd: Cmd) -> Exit {
    match cmd {
        Cmd::Run(args) => {
            runner::suite::run_paths(
                &args.paths,
                args.filter.as_deref(),
                args.jobs as usize,
                &args.options(),
            )
            .await
        }
        Cmd::Explore(mut opts) => {
            let caps = runner::capabilities(opts.provider).await;
            let base = match runner::load(&opts.file, &caps) {
                Ok(sc) => sc,
                Err(e) => {
                    eprintln!("{e}");
                    return Exit::Usage;
                }
            };
            opts.out
                .get_or_insert_with(|| stamp(&format!("explore-{}", base.name)));
            tokio::task::block_in_place(|| harness::explore::run(&base, &opts).0)
        }
        Cmd::Shrink {
            target,
            seed,
            provider,
            regressions,
            out,
            timed,
        } => tokio::task::block_in_place(|| {
            let opts = harness::explore::shrink::ShrinkOptions {
                work: out.unwrap_or_else(|| stamp("shrink")),
                regressions,
                provider,
                timed,
            };
            shrink(&target, seed, opts)
        }),
        Cmd::Validate { paths } => validate(&paths, &harness::nemesis::probe_capabilities().await),
        Cmd::List { dir } => list(&dir, &harness::nemesis::probe_capabilities().await),
        Cmd::Image { force } => {
            infra(async {
                let docker = connect::connect().await?;
                let img = image::ensure(&docker, force).await?;
                println!(
                    "{} ({}; {} from {})",
                    img.tag,
                    if img.built { "built" } else { "up to date" },
                    &img.sha256[..16],
                    img.binary.display()
                );
                Ok(())
            })
            .await
        }
        Cmd::Recheck {
            scenario,
            timeline,
            fail_fast,
        } => recheck(&scenario, &timeline, fail_fast),
        Cmd::Compare {
            base,
            new,
            max_regression,
        } => compare(&base, &new, &max_regression),
        Cmd::Down => {
            infra(async {
                let docker = connect::connect().await?;
                let (c, n) = cleanup::down(&docker, None).await?;
                println!("removed {c} containers and {n} networks of earlier timenet runs");
                Ok(())
            })
            .await
        }
        Cmd::Bench {
            sizes,
            duration,
            provider: runner::Provider::Sim,
            scenarios,
            explore_seeds,
            ..
        } => {
            // --sizes and --duration default to the docker scale test; in
            // sim the default is issue 13's row: 100 nodes for one hour.
            let given = |flag: &str| std::env::args().any(|a| a.starts_with(flag));
            let sizes = if given("--sizes") { sizes } else { vec![100] };
            let duration = if given("--duration") {
                duration
            } else {
                Duration::from_secs(3600)
            };
            let bench = harness::bench_sim::SimBench {
                scenarios: &scenarios,
                sizes: &sizes,
                duration,
                explore_seeds,
            };
            match harness::bench_sim::run_bench(&bench).await {
                Ok(rows) => {
                    println!("{}", bench::table(&rows));
                    Exit::Pass
                }
                Err(e) => {
                    eprintln!("error: {e:#}");
                    Exit::Infra
                }
            }
        }
        Cmd::Bench {
            sizes,
            duration,
            time_scale,
            ..
        } => match bench::run(&sizes, duration, time_scale).await {
            Ok(report) => {
                println!("{report}");
                Exit::Pass
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                Exit::Infra
            }
        },
    }
}

/// `runs/<what>-<utc time>`.
fn stamp(what: &str) -> PathBuf {
    let t = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        .to_string()
        .replace(':', "");
    PathBuf::from("runs").join(format!("{what}-{}", t.trim_end_matches('Z')))
}

fn shrink(
    target: &std::path::Path,
    seed: Option<u64>,
    opts: harness::explore::shrink::ShrinkOptions,
) -> Exit {
    use harness::explore::shrink as sh;
    let failing = match seed {
        Some(s) => sh::from_seed(target, s, &opts.work),
        None => sh::from_run_dir(target),
    };
    let failing = match failing {
        Ok(f) => f,
        Err(e) => {
            eprintln!("shrink: {e:#}");
            return Exit::Usage;
        }
    };
    match sh::shrink(&failing, &opts) {
        Ok((exit, s)) => {
            println!(
                "before ({} faults):\n{}",
                s.before.len(),
                sh::list(&s.before)
            );
            println!(
                "after ({} faults, nodes {} -> {}, {} candidate runs):\n{}",
                s.after.len(),
                s.nodes.0,
                s.nodes.1,
                s.runs,
                sh::list(&s.after)
            );
            if let Some(f) = &s.file {
                println!("wrote {}", f.display());
            }
            exit
        }
        Err(e) => {
            eprintln!("shrink: {e:#}");
            Exit::Infra
        }
    }
}

async fn infra(f: impl std::future::Future<Output = anyhow::Result<()>>) -> Exit {
    match f.await {
        Ok(()) => Exit::Pass,
        Err(e) => {
            eprintln!("error: {e:#}");
            Exit::Infra
        }
    }
}

fn validate(paths: &[PathBuf], caps: &scenario::Capabilities) -> Exit {
    let files = match scenario::expand(paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{e}");
            return Exit::Usage;
        }
    };
    let mut exit = Exit::Pass;
    for f in files {
        match runner::load(&f, caps) {
            Ok(sc) => println!("ok  {} ({})", f.display(), sc.name),
            Err(e) => {
                eprintln!("{e}");
                exit = Exit::Usage;
            }
        }
    }
    exit
}

fn list(dir: &std::path::Path, caps: &scenario::Capabilities) -> Exit {
    let files = match scenario::expand(&[dir.to_path_buf()]) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{e}");
            return Exit::Usage;
        }
    };
    let mut exit = Exit::Pass;
    println!(
        "{:<22} {:>9} {:>9}  description",
        "name", "protocol", "wall"
    );
    for f in files {
        match runner::load(&f, caps) {
            Ok(sc) => println!(
                "{:<22} {:>9} {:>9}  {}",
                sc.name,
                humantime::format_duration(sc.duration).to_string(),
                humantime::format_duration(Duration::from_secs(sc.wall_duration().as_secs()))
                    .to_string(),
                short(&sc.description, 70)
            ),
            Err(e) => {
                eprintln!("{e}");
                exit = Exit::Usage;
            }
        }
    }
    exit
}

/// The first `max` characters of a description's first line.
fn short(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or("");
    match line.char_indices().nth(max) {
        Some((i, _)) => format!("{}...", &line[..i]),
        None => line.to_string(),
    }
}

/// `harness compare`: 0 no regression, 1 a regression, 2 not comparable.
fn compare(base: &std::path::Path, new: &std::path::Path, threshold: &str) -> Exit {
    use harness::report::compare;
    use std::io::IsTerminal;
    let max = match compare::parse_threshold(threshold) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("--max-regression: {e}");
            return Exit::Usage;
        }
    };
    let read = |p: &std::path::Path| {
        let file = if p.is_dir() {
            p.join("report.json")
        } else {
            p.to_path_buf()
        };
        harness::report::read(&file)
    };
    let (b, n) = match (read(base), read(new)) {
        (Ok(b), Ok(n)) => (b, n),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("{e:#}");
            return Exit::Usage;
        }
    };
    match compare::compare(&b, &n, max) {
        Ok(c) => {
            println!(
                "{} seed {} time scale {}: base {} vs new {}",
                b.scenario, b.seed, b.time_scale, b.run_id, n.run_id
            );
            print!("{}", compare::render(&c, std::io::stdout().is_terminal()));
            if c.regressions().is_empty() {
                Exit::Pass
            } else {
                Exit::CheckFailed
            }
        }
        Err(e) => {
            eprintln!("cannot compare: {e}");
            Exit::Usage
        }
    }
}

/// Evaluate `scenario`'s checks on a stored timeline; no Docker involved.
fn recheck(
    scenario_path: &std::path::Path,
    timeline_path: &std::path::Path,
    fail_fast: bool,
) -> Exit {
    let sc = match scenario::load(scenario_path) {
        Ok(sc) => sc,
        Err(e) => {
            eprintln!("{e}");
            return Exit::Usage;
        }
    };
    let timeline: harness::observe::model::Timeline = match std::fs::read(timeline_path)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{}: {e}", timeline_path.display());
            return Exit::Usage;
        }
    };
    if let Some(msg) = harness::observe::kernel_view_gap(&timeline) {
        eprintln!("{}: {msg}", timeline_path.display());
        return Exit::Infra;
    }
    let results = harness::checks::evaluate(&sc, &timeline);
    let mut failed = false;
    for r in &results {
        failed |= !r.passed;
        let verdict = if r.passed { "PASS" } else { "FAIL" };
        println!("{:<16} {verdict}  {}", r.name, r.details);
        if let Some(v) = &r.first_violation {
            println!("{:<16}       first violation: {}", "", v.message);
        }
    }
    if fail_fast {
        match runner::failfast::replay(&sc, &timeline) {
            Some((at, kind, v)) => println!(
                "--fail-fast would stop at {} on {} (violation at {} [{}]: {})",
                harness::checks::fmt_ms(at),
                kind.name(),
                harness::checks::fmt_ms(v.t),
                v.nodes.join(", "),
                v.message
            ),
            None => println!("--fail-fast would not stop this run"),
        }
    }
    if failed {
        Exit::CheckFailed
    } else {
        Exit::Pass
    }
}
