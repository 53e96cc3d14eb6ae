//! `harness bench --provider sim`: wall time of protocol hours in the
//! simulation, the churn scenario, optional large meshes, and the peak RSS
//! of the process that ran them all.

use super::bench::{mesh_scenario, Row};
use super::{run as run_scenario, Exit, Provider, RunOptions, RunOutcome};
use crate::scenario::{Capabilities, FaultAction, Scenario};
use std::path::Path;
use std::time::{Duration, Instant};

/// The six-masternodes hour must take at most this much wall time.
const SIX_TARGET: Duration = Duration::from_secs(5);
/// A 100-node hour must take less than this.
const MESH_TARGET: Duration = Duration::from_secs(60);

async fn timed_run(sc: Scenario, out: &Path) -> (RunOutcome, Duration) {
    let opts = RunOptions {
        provider: Provider::Sim,
        quiet: true,
        out: Some(out.to_path_buf()),
        ..Default::default()
    };
    let t0 = Instant::now();
    let r = run_scenario(sc, &opts).await;
    (r, t0.elapsed())
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

fn first_failure(r: &RunOutcome) -> String {
    r.report
        .as_ref()
        .and_then(|rep| rep.checks.iter().find(|c| !c.passed))
        .map(|c| c.name.clone())
        .unwrap_or_default()
}

/// Peak resident set of this process so far (VmHWM), in MiB.
fn peak_rss_mib() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

pub async fn run_bench(
    scenarios: &Path,
    sizes: &[usize],
    duration: Duration,
) -> anyhow::Result<Vec<Row>> {
    let caps = Capabilities::all();
    let tmp = std::env::temp_dir().join(format!("timenet-bench-sim-{}", std::process::id()));
    let mut rows = Vec::new();

    let six = super::load(&scenarios.join("six-masternodes.toml"), &caps)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let protocol = six.duration;
    let (r, wall) = timed_run(six, &tmp.join("six")).await;
    rows.push(Row {
        what: format!(
            "six-masternodes ({} protocol): wall",
            humantime::format_duration(protocol)
        ),
        value: format!("{:.2} s ({})", wall.as_secs_f64(), verdict(&r)),
        target: format!("<= {} s", SIX_TARGET.as_secs()),
        ok: r.exit == Exit::Pass && wall <= SIX_TARGET,
    });
    rows.push(Row {
        what: "six-masternodes: speed-up over real time".into(),
        value: format!("{:.0}x", protocol.as_secs_f64() / wall.as_secs_f64()),
        target: ">= 700x".into(),
        ok: protocol.as_secs_f64() / wall.as_secs_f64() >= 700.0,
    });

    let mut churn =
        super::load(&scenarios.join("churn.toml"), &caps).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut dropped = Vec::new();
    if let Some(n) = churn.nemesis.as_mut() {
        // pause is not modelled in the simulation yet: bench the rest.
        n.actions.retain(|a| {
            let keep = !matches!(a, FaultAction::Pause);
            if !keep {
                dropped.push("pause");
            }
            keep
        });
    }
    let (r, wall) = timed_run(churn, &tmp.join("churn")).await;
    rows.push(Row {
        what: if dropped.is_empty() {
            "churn: wall".into()
        } else {
            format!("churn without {}: wall", dropped.join(","))
        },
        value: format!("{:.2} s ({})", wall.as_secs_f64(), verdict(&r)),
        target: "-".into(),
        ok: r.exit == Exit::Pass,
    });

    for &n in sizes {
        eprintln!(
            "bench sim: {n}-node mesh for {}...",
            humantime::format_duration(duration)
        );
        let (r, wall) =
            timed_run(mesh_scenario(n, duration, 1.0)?, &tmp.join(format!("n{n}"))).await;
        let target = if n >= 100 && duration >= Duration::from_secs(3600) {
            format!("< {} s", MESH_TARGET.as_secs())
        } else {
            "-".into()
        };
        rows.push(Row {
            what: format!(
                "{n}-node mesh ({}): wall",
                humantime::format_duration(duration)
            ),
            value: format!("{:.2} s ({})", wall.as_secs_f64(), verdict(&r)),
            target,
            ok: r.exit == Exit::Pass && (n < 100 || wall < MESH_TARGET),
        });
    }
    rows.push(Row {
        what: "peak RSS of the bench process".into(),
        value: peak_rss_mib().map_or("unknown".into(), |m| format!("{m:.0} MiB")),
        target: "-".into(),
        ok: true,
    });
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(rows)
}
