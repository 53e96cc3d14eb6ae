//! `harness bench --provider sim`: six-masternodes (one protocol hour),
//! churn, an n-node mesh per `--sizes`, each with its wall time, CPU time,
//! peak RSS and speed-up over real time; then `harness explore` on churn
//! with two jobs (seeds per minute).

use crate::explore::{self, swarm, ExploreOptions};
use crate::runner::bench::{mesh_scenario, Row};
use crate::runner::{run as run_scenario, Exit, Provider, RunOptions, RunOutcome};
use crate::scenario::{Capabilities, Scenario};
use std::path::Path;
use std::time::{Duration, Instant};
use timed::constants::{MAX_INBOUND_PEERS, MAX_OUTBOUND_PEERS};

/// The six-masternodes hour must take at most this much wall time.
const SIX_TARGET: Duration = Duration::from_secs(5);
/// ... i.e. at least this speed-up over real time (docker: 30x).
const SIX_SPEEDUP_TARGET: f64 = 700.0;
/// A 100-node hour must take less than this.
const MESH_TARGET: Duration = Duration::from_secs(60);
/// Explore throughput target on churn with two jobs (issue 14).
const EXPLORE_TARGET_PER_MIN: f64 = 100.0;
/// Jobs of the explore measurement (the machine has two cores).
const EXPLORE_JOBS: usize = 2;

/// What one simulated run cost.
struct Cost {
    wall: Duration,
    cpu: Duration,
    /// Peak resident set during the run (VmHWM reset before it), MiB.
    peak_rss_mib: Option<f64>,
}

impl Cost {
    fn speedup(&self, protocol: Duration) -> f64 {
        protocol.as_secs_f64() / self.wall.as_secs_f64().max(1e-9)
    }

    fn describe(&self, protocol: Duration, verdict: &str) -> String {
        format!(
            "{:.2} s wall, {:.2} CPU-s, {} peak RSS, {:.0}x real time ({verdict})",
            self.wall.as_secs_f64(),
            self.cpu.as_secs_f64(),
            self.peak_rss_mib
                .map_or("?".into(), |m| format!("{m:.0} MiB")),
            self.speedup(protocol)
        )
    }
}

/// User + system CPU time of this process so far (every thread).
fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes the struct we hand it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Reset this process's peak RSS to its current RSS (Linux: clear_refs 5).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Peak resident set of this process since the last reset (VmHWM), MiB.
fn peak_rss_mib() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

async fn measured_run(sc: Scenario, out: &Path) -> (RunOutcome, Cost) {
    let opts = RunOptions {
        provider: Provider::Sim,
        quiet: true,
        out: Some(out.to_path_buf()),
        ..Default::default()
    };
    reset_peak_rss();
    let (t0, c0) = (Instant::now(), cpu_time());
    let r = run_scenario(sc, &opts).await;
    let cost = Cost {
        wall: t0.elapsed(),
        cpu: cpu_time().saturating_sub(c0),
        peak_rss_mib: peak_rss_mib(),
    };
    (r, cost)
}

fn verdict(r: &RunOutcome) -> String {
    match r.exit {
        Exit::Pass => "pass".into(),
        e => format!(
            "{e:?}: {}",
            r.error.clone().unwrap_or_else(|| first_failure(r))
        ),
    }
}

/// What the nodes wrote per block (all nodes' frames and bytes), from the
/// run's performance figures: the protocol's cost, whatever the machine.
fn traffic(r: &RunOutcome) -> String {
    let perf = r.report.as_ref().and_then(|rep| rep.perf.as_ref());
    match perf.and_then(|p| Some((p.messages_per_block?, p.bytes_per_block?))) {
        Some((frames, bytes)) => format!(
            "{} frames, {:.1} MiB per block",
            si(frames),
            bytes / (1024.0 * 1024.0)
        ),
        None => "no blocks".into(),
    }
}

/// 1234 -> "1.2k", 2345678 -> "2.3M".
fn si(v: f64) -> String {
    match v {
        v if v >= 1e6 => format!("{:.1}M", v / 1e6),
        v if v >= 1e3 => format!("{:.1}k", v / 1e3),
        v => format!("{v:.0}"),
    }
}

fn first_failure(r: &RunOutcome) -> String {
    r.report
        .as_ref()
        .and_then(|rep| rep.checks.iter().find(|c| !c.passed))
        .map(|c| c.name.clone())
        .unwrap_or_default()
}

/// Churn with the fault kinds the simulation cannot model dropped (the
/// same filter `harness explore` applies); the names of the dropped kinds.
fn churn_for_sim(mut churn: Scenario) -> (Scenario, Vec<String>) {
    let mut dropped = Vec::new();
    if let Some(n) = churn.nemesis.as_mut() {
        let keep = swarm::runnable(&n.actions, Provider::Sim);
        dropped = n
            .actions
            .iter()
            .filter(|k| !keep.contains(k))
            .map(|k| format!("{k:?}").to_lowercase())
            .collect();
        n.actions = keep;
    }
    (churn, dropped)
}

/// Options of the bench: what to run besides six-masternodes and churn.
pub struct SimBench<'a> {
    pub scenarios: &'a Path,
    /// Mesh sizes, each for `duration`.
    pub sizes: &'a [usize],
    pub duration: Duration,
    /// Seeds of the explore measurement on churn (0: skip it).
    pub explore_seeds: u64,
}

pub async fn run_bench(b: &SimBench<'_>) -> anyhow::Result<Vec<Row>> {
    let caps = Capabilities::all();
    let tmp = std::env::temp_dir().join(format!("timenet-bench-sim-{}", std::process::id()));
    let mut rows = Vec::new();

    let six = crate::runner::load(&b.scenarios.join("six-masternodes.toml"), &caps)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let protocol = six.duration;
    eprintln!("bench sim: six-masternodes...");
    let (r, cost) = measured_run(six, &tmp.join("six")).await;
    rows.push(Row {
        what: format!("six-masternodes ({})", humantime::format_duration(protocol)),
        value: format!("{}, {}", cost.describe(protocol, &verdict(&r)), traffic(&r)),
        target: format!("<= {} s, >= {SIX_SPEEDUP_TARGET:.0}x", SIX_TARGET.as_secs()),
        ok: r.exit == Exit::Pass && cost.wall <= SIX_TARGET,
    });

    let churn_file = b.scenarios.join("churn.toml");
    let churn = crate::runner::load(&churn_file, &caps).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (churn, dropped) = churn_for_sim(churn);
    let protocol = churn.duration;
    eprintln!("bench sim: churn...");
    let (r, cost) = measured_run(churn, &tmp.join("churn")).await;
    rows.push(Row {
        what: if dropped.is_empty() {
            format!("churn ({})", humantime::format_duration(protocol))
        } else {
            format!(
                "churn ({}) without {}",
                humantime::format_duration(protocol),
                dropped.join(",")
            )
        },
        value: format!("{}, {}", cost.describe(protocol, &verdict(&r)), traffic(&r)),
        target: "-".into(),
        ok: r.exit == Exit::Pass,
    });

    for &n in b.sizes {
        eprintln!(
            "bench sim: {n}-node mesh for {}...",
            humantime::format_duration(b.duration)
        );
        // Time scale 30, as every shipped scenario: the simulation ignores
        // it but stores identical samples at that docker run's keepalive
        // (60 protocol s; at scale 1 it would be 2 s, 9 GB for 100 nodes).
        let sc = mesh_scenario(n, b.duration, 30.0)?;
        let meshed_by = match sc.network.bootstrap_fanout {
            Some(f) => format!("each bootstraps from the next {f}"),
            None => "gossip".into(),
        };
        let (r, cost) = measured_run(sc, &tmp.join(format!("n{n}"))).await;
        let hour = n >= 100 && b.duration >= Duration::from_secs(3600);
        rows.push(Row {
            what: format!(
                "{n}-node mesh ({}): all {n} masternodes, {} connections, {meshed_by} (node limits {MAX_OUTBOUND_PEERS} out / {MAX_INBOUND_PEERS} in)",
                humantime::format_duration(b.duration),
                n * n.saturating_sub(1) / 2
            ),
            value: format!("{}, {}", cost.describe(b.duration, &verdict(&r)), traffic(&r)),
            target: if hour {
                format!("< {} s", MESH_TARGET.as_secs())
            } else {
                "-".into()
            },
            ok: r.exit == Exit::Pass && (!hour || cost.wall < MESH_TARGET),
        });
    }

    if b.explore_seeds > 0 {
        eprintln!(
            "bench sim: explore churn, {} seeds, --jobs {EXPLORE_JOBS}...",
            b.explore_seeds
        );
        rows.push(explore_row(&churn_file, b.explore_seeds, &tmp.join("explore")).await?);
    }
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(rows)
}

/// `harness explore churn.toml --seeds N --jobs 2` (one process per seed,
/// as the command runs it): seeds per minute of wall time.
async fn explore_row(file: &Path, seeds: u64, out: &Path) -> anyhow::Result<Row> {
    let base =
        crate::runner::load(file, &Capabilities::all()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let opts = ExploreOptions {
        file: file.to_path_buf(),
        seeds: Some(seeds),
        budget: None,
        first_seed: 1,
        provider: Provider::Sim,
        jobs: EXPLORE_JOBS,
        swarm: false,
        out: Some(out.to_path_buf()),
        quiet: true,
        artefacts: crate::runner::Artefacts::OnFailure,
    };
    let t0 = Instant::now();
    let (exit, rep) = tokio::task::spawn_blocking(move || explore::run(&base, &opts)).await?;
    let wall = t0.elapsed();
    let done = rep.as_ref().map_or(0, |r| r.seeds.len());
    let per_min = done as f64 / wall.as_secs_f64().max(1e-9) * 60.0;
    Ok(Row {
        what: format!("explore churn, --jobs {EXPLORE_JOBS}"),
        value: format!(
            "{per_min:.1} seeds/min ({done} seeds in {:.1} s, {exit:?})",
            wall.as_secs_f64()
        ),
        target: format!(">= {EXPLORE_TARGET_PER_MIN:.0}/min"),
        ok: per_min >= EXPLORE_TARGET_PER_MIN,
    })
}
