//! The perturb + wait stages: from "all initial nodes ready" to the end of
//! the scenario's duration, on the protocol clock. Starts late joiners at
//! their `start_at`, drives the fault injector, runs the workload, and keeps
//! the progress line fresh.

use super::failfast;
use super::progress::Progress;
use super::workload::Workload;
use crate::nemesis::Nemesis;
use crate::observe::recorder::is_full_mesh;
use crate::observe::{Observer, RunClock};
use crate::provider::docker::DockerCluster;
use crate::provider::Cluster;
use crate::report::EarlyStop;
use crate::scenario::{ms, Scenario};
use std::time::Duration;

/// The fault injector as the run loop drives it: due steps applied in
/// order, nodes the runner starts itself reported so their netns gets the
/// active rules, active faults listed for the progress line.
pub struct Faults {
    pub nemesis: Nemesis,
}

impl Faults {
    async fn tick(&mut self, clock: &RunClock, cluster: &DockerCluster, progress: &Progress) {
        for step in self.nemesis.due_steps(clock.now()) {
            // Each step at the time it is really applied: steps due
            // together run one after the other, and a protocol fault can
            // take protocol minutes (a mid-handshake probe waits for a
            // redial), so the tick's time would date the later steps'
            // spans and answers minutes early.
            let now = clock.now();
            match self.nemesis.apply(&step, cluster, now).await {
                Ok(line) => progress.note(&line),
                // A fault that could not be applied is shown and the run
                // goes on: its span tells the checks what really happened.
                Err(e) => progress.note(&format!("nemesis: {e:#}")),
            }
        }
    }

    fn active(&self) -> Vec<String> {
        self.nemesis
            .spans()
            .iter()
            .filter(|s| s.end.is_none())
            .map(|s| format!("{} {}", s.action, s.description))
            .collect()
    }
}

/// How the perturb stage ended.
pub struct Ended {
    /// Wall time from start to every node seeing every other (None if never).
    pub full_mesh: Option<Duration>,
    /// `--fail-fast` found a final violation and stopped the run.
    pub stop: Option<EarlyStop>,
}

/// Run until protocol time reaches the scenario's duration, or, with
/// `fail_fast`, until a check has a final violation ([`failfast`]).
#[allow(clippy::too_many_arguments)]
pub async fn run(
    sc: &Scenario,
    cluster: &DockerCluster,
    observer: &Observer,
    clock: RunClock,
    faults: &mut Faults,
    workload: &mut Option<Workload>,
    progress: &mut Progress,
    fail_fast: bool,
) -> anyhow::Result<Ended> {
    let duration = ms(sc.duration);
    let mut late: Vec<(u64, String)> = sc
        .node_names()
        .into_iter()
        .map(|n| (ms(sc.start_at(&n)), n))
        .filter(|(at, _)| *at > 0)
        .collect();
    late.sort();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut full_mesh = None;
    let mut judged_at = std::time::Instant::now();
    let mut stop = None;
    loop {
        tick.tick().await;
        let t = clock.now();
        if t >= duration {
            break;
        }
        if fail_fast && judged_at.elapsed() >= failfast::JUDGE_EVERY {
            judged_at = std::time::Instant::now();
            let mut tl = observer.snapshot();
            tl.faults = faults.nemesis.spans();
            let sc2 = sc.clone();
            let found = tokio::task::spawn_blocking(move || failfast::judge(&sc2, &tl)).await?;
            if let Some((kind, violation)) = found {
                let t = clock.now();
                progress.note(&format!(
                    "t {}s: --fail-fast: {} failed at {}: {}; stopping the run",
                    t / 1000,
                    kind.name(),
                    crate::checks::fmt_ms(violation.t),
                    violation.message
                ));
                let after = (t.saturating_sub(violation.t) as f64 / sc.time_scale) as u64;
                stop = Some(EarlyStop {
                    cause: crate::report::StopCause::FailFast,
                    check: kind.name().to_string(),
                    violation,
                    stopped_at: t,
                    wall_ms_after_violation: after,
                    not_judged: failfast::not_judged(sc),
                });
                break;
            }
        }
        while late.first().is_some_and(|(at, _)| *at <= t) {
            let (_, node) = late.remove(0);
            progress.note(&format!("t {}s: starting late joiner {node}", t / 1000));
            cluster.start(&node).await?;
            match faults.nemesis.on_node_started(&node, cluster).await {
                Ok(line) => tracing::info!("{line}"),
                Err(e) => progress.note(&format!("nemesis: {e:#}")),
            }
        }
        faults.tick(&clock, cluster, progress).await;
        let live = observer.live();
        if let Some(w) = workload.as_mut() {
            w.tick(t, cluster, &live).await;
        }
        if full_mesh.is_none() && is_full_mesh(&live, late.len()) {
            full_mesh = Some(clock.wall_elapsed());
            progress.note(&format!(
                "t {}s: full mesh after {:.1}s wall",
                t / 1000,
                clock.wall_elapsed().as_secs_f64()
            ));
        }
        let line = progress.line(t, duration, clock.wall_elapsed(), &live, &faults.active());
        progress.update(t, line);
    }
    Ok(Ended { full_mesh, stop })
}
