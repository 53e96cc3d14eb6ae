//! `harness run`: one scenario end to end, in the stages of CometBFT's e2e
//! runner, each its own function or module:
//!
//! setup (scenario, testnet configs, image, network, containers) -> start ->
//! wait ready -> perturb + wait (faults, late joiners, workload, progress)
//! -> test (checks) -> report -> cleanup.
//!
//! Cleanup runs whatever happened before it: pass, check failure, error,
//! panic (caught with `catch_unwind`) and Ctrl-C (a `select!` against the
//! stages; exit 130 after cleanup). A `Drop` on the cluster is the last
//! backstop. Nothing of the run is left behind unless `--keep`.

pub mod bench;
pub mod failfast;
pub mod perturb;
pub mod progress;
pub mod ready;
pub mod scrape;
pub mod sim;
pub mod suite;
/// Where the testnet stage lives (the providers share it).
pub use crate::provider::testnet;
pub mod verdict;
pub mod workload;

use crate::nemesis::{self, Nemesis, Schedule};
use crate::observe::model::NodeInfo;
use crate::observe::{Observer, PollConfig, RunClock};
use crate::provider::docker::{self, cleanup, ApiAccess, ClusterOptions, DockerCluster};
use crate::provider::error::{infra, is_infra, InfraError};
use crate::provider::image;
use crate::scenario::{self, ms, Scenario};
use futures::FutureExt;
use perturb::Faults;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Process exit codes (DESIGN.md contract).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    Pass = 0,
    CheckFailed = 1,
    Usage = 2,
    Infra = 3,
    Interrupted = 130,
}

impl Exit {
    pub fn code(self) -> i32 {
        self as i32
    }
    /// The worse of two outcomes (for suites): interrupted > infra > usage > failed > pass.
    pub fn worst(self, other: Exit) -> Exit {
        self.max(other)
    }
}

#[derive(Clone, Debug)]
pub struct RunOptions {
    pub time_scale: Option<f64>,
    pub seed: Option<u64>,
    /// Output folder; default `runs/<scenario>-<run id>/`.
    pub out: Option<PathBuf>,
    pub keep: bool,
    pub api_access: ApiAccess,
    pub poll: PollConfig,
    /// Wall time for every started node's API to answer.
    pub ready_timeout: Duration,
    /// No progress line (tests, benches).
    pub quiet: bool,
    /// Extra arguments for every node's `timed run`.
    pub node_args: Vec<String>,
    /// Stop at the first final violation ([`failfast`]).
    pub fail_fast: bool,
    /// Run this `timed` binary (image built from it, tagged by its hash).
    pub timed: Option<PathBuf>,
    /// Which provider runs the nodes.
    pub provider: Provider,
    /// Sim only: run this stored schedule (a `report.json` `schedule` as
    /// JSON) instead of the one the seed builds (`harness shrink`'s candidates).
    pub schedule: Option<PathBuf>,
    /// Sim only: which runs write `timeline.json` and `report.html`.
    pub artefacts: Artefacts,
}

/// Which runs write their large files (`timeline.json`, ~17 MB for churn,
/// and `report.html`); `report.json`, `junit.xml` and the logs are always
/// written. A sim run is deterministic, so a passing run's files are
/// regenerated bit for bit by rerunning it (its replay command).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Artefacts {
    /// Every run (the default of `harness run`).
    #[default]
    All,
    /// Only a run that did not pass (the default of `harness explore`'s
    /// seeds: serialising and hashing the timeline was a twentieth of a
    /// passing seed's CPU). A passing run's report then has no digest.
    OnFailure,
}

/// Where the nodes of a run live (DESIGN.md: `--provider docker|sim`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Provider {
    /// Real containers (the truth; the default).
    #[default]
    Docker,
    /// In-process on turmoil's deterministic simulated network, virtual time.
    Sim,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            time_scale: None,
            seed: None,
            out: None,
            keep: false,
            api_access: ApiAccess::ContainerIp,
            poll: PollConfig::default(),
            ready_timeout: Duration::from_secs(60),
            quiet: false,
            node_args: Vec::new(),
            fail_fast: false,
            timed: None,
            provider: Provider::Docker,
            schedule: None,
            artefacts: Artefacts::All,
        }
    }
}

/// What a run produced.
#[derive(Debug)]
pub struct RunOutcome {
    pub exit: Exit,
    pub scenario: String,
    pub run_id: String,
    pub out_dir: PathBuf,
    /// The error, for exits 2 and 3.
    pub error: Option<String>,
    /// The run's report (also written to `out_dir`); `None` only for a
    /// scenario rejected before anything ran.
    pub report: Option<crate::report::RunReport>,
    /// Wall time from start to every node seeing every other (None if never).
    pub full_mesh_after: Option<Duration>,
    /// Wall time of the cleanup stage.
    pub teardown: Duration,
    /// `--keep`: the run's containers and network were left up.
    pub kept: bool,
}

impl RunOutcome {
    /// A run of `sc` that has not failed yet (both providers start here).
    pub fn start(sc: &Scenario, run_id: &str, out_dir: &std::path::Path, kept: bool) -> Self {
        RunOutcome {
            exit: Exit::Pass,
            scenario: sc.name.clone(),
            run_id: run_id.to_string(),
            out_dir: out_dir.to_path_buf(),
            error: None,
            report: None,
            full_mesh_after: None,
            teardown: Duration::ZERO,
            kept,
        }
    }
}

/// `--out`, or `runs/<scenario>-<run id>`.
pub fn out_dir_for(sc: &Scenario, run_id: &str, opts: &RunOptions) -> PathBuf {
    opts.out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(format!("{}-{run_id}", sc.name)))
}

/// Apply command-line overrides to a loaded scenario.
pub fn apply_overrides(sc: &mut Scenario, opts: &RunOptions) {
    if let Some(x) = opts.time_scale {
        sc.time_scale = x;
    }
    if let Some(s) = opts.seed {
        sc.seed = s;
    }
}

/// What `provider` can run: the simulation has every capability (latency
/// and link shaping need no netem); docker has what this host's kernel has.
pub async fn capabilities(provider: Provider) -> scenario::Capabilities {
    match provider {
        Provider::Sim => scenario::Capabilities::all(),
        Provider::Docker => nemesis::probe_capabilities().await,
    }
}

/// Load and validate `path` for this machine (`caps` from
/// [`capabilities`]).
pub fn load(
    path: &Path,
    caps: &scenario::Capabilities,
) -> Result<Scenario, scenario::ScenarioErrors> {
    scenario::load_valid(path, caps)
}

/// The run's fault schedule: the scenario validated (the same single step
/// `harness validate` takes, so a file it accepts runs and one it rejects
/// fails here with the same `file:line:column` lines) and the seed's choices
/// made from the resulting plan.
pub fn schedule(
    sc: &Scenario,
    caps: &scenario::Capabilities,
) -> Result<nemesis::schedule::Schedule, scenario::ScenarioErrors> {
    let plan = scenario::validate(sc, caps)?;
    Ok(nemesis::schedule::build(sc, &plan))
}

/// Everything the cleanup stage needs, filled as setup progresses, so that a
/// run cancelled or panicking at any point is still cleaned up.
#[derive(Default)]
struct Teardown {
    docker: Option<bollard::Docker>,
    cluster: Option<Arc<DockerCluster>>,
}

/// Run one loaded scenario (overrides already applied).
pub async fn run(sc: Scenario, opts: &RunOptions) -> RunOutcome {
    if opts.provider == Provider::Sim {
        return sim::run(sc, opts).await;
    }
    let run_id = docker::new_run_id();
    let out_dir = out_dir_for(&sc, &run_id, opts);
    let mut outcome = RunOutcome::start(&sc, &run_id, &out_dir, opts.keep);
    // The schedule comes from the one validation step (run here on the
    // scenario as overridden): a fault this host cannot do is a bad scenario
    // (exit 2, `file:line:column`), found before any container.
    let caps = nemesis::probe_capabilities().await;
    let plan = match schedule(&sc, &caps) {
        Ok(p) => p,
        Err(e) => {
            outcome.exit = Exit::Usage;
            outcome.error = Some(e.to_string());
            return outcome;
        }
    };
    let started_at = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let wall0 = Instant::now();
    let schedule = plan.clone();
    let slot = Arc::new(Mutex::new(Teardown::default()));
    let stages =
        AssertUnwindSafe(stages(&sc, plan, &run_id, &out_dir, opts, slot.clone())).catch_unwind();
    let result = tokio::select! {
        r = stages => match r {
            Ok(r) => r,
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<String>().cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "panic".into());
                Err(anyhow::anyhow!("the harness panicked: {msg}"))
            }
        },
        _ = tokio::signal::ctrl_c() => Err(anyhow::Error::new(Interrupted)),
    };
    let t0 = Instant::now();
    let cleanup_err = teardown(&slot, &out_dir, &run_id, opts.keep).await.err();
    outcome.teardown = t0.elapsed();
    let mut findings = None;
    let mut timeline = None;
    let mut digest = None;
    match result {
        Ok(done) => {
            digest = Some(done.timeline_sha256);
            outcome.exit = if done.findings.checks.iter().all(|c| c.passed) {
                Exit::Pass
            } else {
                Exit::CheckFailed
            };
            outcome.full_mesh_after = done.full_mesh_after;
            findings = Some(done.findings);
            timeline = Some(done.timeline);
        }
        Err(e) if e.downcast_ref::<Interrupted>().is_some() => {
            outcome.exit = Exit::Interrupted;
            outcome.error = Some("interrupted (Ctrl-C); the run was cleaned up".into());
        }
        Err(e) => {
            outcome.exit = Exit::Infra;
            let kind = if is_infra(&e) {
                "infrastructure error"
            } else {
                "harness error"
            };
            outcome.error = Some(format!("{kind}: {e:#}"));
        }
    }
    if let Some(e) = cleanup_err {
        let msg = format!("cleanup of {run_id} failed: {e:#} (run `harness down`)");
        outcome.error = Some(match outcome.error.take() {
            Some(prev) => format!("{prev}\n{msg}"),
            None => msg,
        });
        outcome.exit = outcome.exit.worst(Exit::Infra);
    }
    // --- report (after cleanup, so the node logs are on disk) ---
    let report = verdict::build_report(
        &sc,
        verdict::RunMeta {
            run_id: run_id.clone(),
            started_at,
            wall_ms: wall0.elapsed().as_millis() as u64,
            schedule: Some(schedule),
            provider: "docker",
            timeline_sha256: digest,
        },
        findings,
        outcome.error.clone(),
        &outcome.out_dir,
    );
    if let Err(e) = crate::report::write(&outcome.out_dir, &report) {
        eprintln!("writing the report to {}: {e:#}", outcome.out_dir.display());
        outcome.exit = outcome.exit.worst(Exit::Infra);
    }
    if let Err(e) = crate::report::html::write(&outcome.out_dir, &report, timeline.as_ref()) {
        eprintln!(
            "writing report.html to {}: {e:#}",
            outcome.out_dir.display()
        );
        outcome.exit = outcome.exit.worst(Exit::Infra);
    }
    outcome.report = Some(report);
    outcome
}

#[derive(Debug, thiserror::Error)]
#[error("interrupted")]
struct Interrupted;

/// What the stages hand to the caller on a completed run.
struct Done {
    findings: verdict::Findings,
    timeline_sha256: String,
    full_mesh_after: Option<Duration>,
    /// For `report.html`.
    timeline: crate::observe::model::Timeline,
}

async fn teardown(
    slot: &Mutex<Teardown>,
    out: &Path,
    run_id: &str,
    keep: bool,
) -> anyhow::Result<()> {
    let (docker, cluster) = {
        let mut s = slot.lock().unwrap();
        (s.docker.take(), s.cluster.take())
    };
    if let Some(c) = cluster {
        c.teardown(Some(&out.join("logs")), keep).await?;
    }
    // Whatever setup created before the cluster existed (the network, a
    // half-created set of containers) goes too.
    if let (Some(d), false) = (docker, keep) {
        cleanup::down(&d, Some(run_id)).await?;
    }
    Ok(())
}

async fn stages(
    sc: &Scenario,
    plan: Schedule,
    run_id: &str,
    out: &Path,
    opts: &RunOptions,
    slot: Arc<Mutex<Teardown>>,
) -> anyhow::Result<Done> {
    // --- setup ---
    std::fs::create_dir_all(out)
        .map_err(|e| InfraError::new(format!("creating {}: {e}", out.display())))?;
    let docker = docker::connect::connect().await?;
    slot.lock().unwrap().docker = Some(docker.clone());
    let image = image::ensure_binary(&docker, false, opts.timed.as_deref()).await?;
    if image.built {
        eprintln!("built image {}", image.tag);
    }
    let net = docker::network::create(&docker, run_id, sc.network.nodes).await?;
    let testnet_dir = out.join("testnet");
    let testnet = testnet::write(sc, net.base_ip, &testnet_dir)?;
    eprintln!(
        "run {run_id}: {} nodes on {} ({}/24), output {}",
        sc.network.nodes,
        net.name,
        net.subnet,
        out.display()
    );
    let cluster = Arc::new(
        DockerCluster::create(
            docker.clone(),
            run_id,
            net,
            &testnet_dir,
            &testnet,
            ClusterOptions {
                image: image.tag.clone(),
                time_scale: sc.time_scale,
                api_access: opts.api_access,
                node_args: opts.node_args.clone(),
            },
        )
        .await?,
    );
    slot.lock().unwrap().cluster = Some(cluster.clone());
    let infos: Vec<NodeInfo> = testnet
        .nodes
        .iter()
        .map(|n| NodeInfo {
            name: n.name.clone(),
            ip: n.config.listen_ip,
            masternode: n.config.masternode,
        })
        .collect();
    let names = sc.node_names();
    let initial: Vec<String> = names
        .iter()
        .filter(|n| sc.start_at(n).is_zero())
        .cloned()
        .collect();

    // --- start ---
    let clock = RunClock::start(sc.time_scale);
    let observer = Observer::start(clock, infos, cluster.clone(), opts.poll.clone());
    let scraper = scrape::Scraper::start(names.clone(), cluster.clone());
    cluster.start_many(&initial).await?;

    // --- wait ready ---
    let ready_after = ready::wait(&cluster, &observer, &initial, opts.ready_timeout).await?;
    tracing::info!(
        ready_ms = ready_after.as_millis() as u64,
        "all initial nodes ready"
    );

    // --- perturb + wait ---
    if !plan.steps.is_empty() {
        eprint!("fault schedule (seed {}):\n{plan}", plan.seed);
    }
    let mut faults = Faults {
        nemesis: Nemesis::new(plan).with_identities(crate::nemesis::probe::identities(&testnet)),
    };
    let mut workload = workload::Workload::new(sc, &testnet);
    let mut progress = progress::Progress::new(ms(sc.duration), names.clone(), opts.quiet);
    let r = perturb::run(
        sc,
        &cluster,
        &observer,
        clock,
        &mut faults,
        &mut workload,
        &mut progress,
        opts.fail_fast,
    )
    .await;
    progress.finish();
    let ended = r?;
    let full_mesh_after = ended.full_mesh;
    let mut timeline = observer.finish();
    let (metrics, resources) = scraper.finish().await;
    // Heal before the end-of-run reads (workload chains) and so spans close.
    for line in faults.nemesis.heal_all(&*cluster, timeline.end).await? {
        tracing::info!("{line}");
    }
    timeline.faults = faults.nemesis.spans();
    if let Some(w) = &workload {
        timeline.txs_submitted = w.submitted.clone();
        timeline.txs_in_chain = workload::read_chains(&cluster, &names).await;
        eprintln!(
            "workload: {} transactions accepted, {} refused",
            w.submitted.len(),
            w.rejected
        );
    }

    // --- test ---
    let timeline_sha256 = verdict::write_timeline(out, &timeline)?;
    if let Some(msg) = crate::observe::kernel_view_gap(&timeline) {
        return Err(infra(msg));
    }
    let mut findings = verdict::evaluate(sc, &timeline, ended.stop);
    findings.coverage = crate::report::coverage::from_metrics(&metrics);
    findings.perf = Some(crate::report::perf::compute(
        &timeline,
        &metrics,
        &resources,
        full_mesh_after.map(|d| d.as_millis() as u64),
    ));
    Ok(Done {
        findings,
        timeline_sha256,
        full_mesh_after,
        timeline,
    })
}
