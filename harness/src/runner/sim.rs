//! `harness run --provider sim`: the run stages for the simulation
//! provider. Same scenario validation, schedule, checks, report and exit
//! codes as docker; the nodes, the network and time are simulated
//! ([`crate::sim`]).

use super::{verdict, Exit, RunOptions, RunOutcome};
use crate::scenario::{Capabilities, Scenario};
use crate::sim;
use std::time::Instant;

pub async fn run(mut sc: Scenario, opts: &RunOptions) -> RunOutcome {
    let run_id = format!("sim-{}", crate::provider::docker::new_run_id());
    let out_dir = super::out_dir_for(&sc, &run_id, opts);
    let mut outcome = RunOutcome::start(&sc, &run_id, &out_dir, false);
    // Identical samples are stored at the protocol interval the scenario's
    // docker run stores them (60 protocol s at time scale 30): every change
    // a check reads is stored when it happens, so the keepalive only bounds
    // how long a quiet node goes unrecorded. A fixed 2 protocol s (30 times
    // docker's density) made a 100-node hour's timeline 5.7 GB.
    let keepalive_ms = crate::observe::recorder::keepalive_protocol_ms(sc.time_scale);
    // Virtual time: the nodes run at scale 1 whatever the file or the
    // command line says (the simulation is as fast as the CPU allows).
    if sc.time_scale != 1.0 && !opts.quiet {
        eprintln!(
            "sim: time scale {} ignored; nodes run at scale 1 in virtual time",
            sc.time_scale
        );
    }
    sc.time_scale = 1.0;
    // The same single validation step as docker and `harness validate`;
    // the simulation has every optional capability (latency needs no netem).
    let plan = match super::schedule(&sc, &Capabilities::all()) {
        Ok(p) => p,
        Err(e) => {
            outcome.exit = Exit::Usage;
            outcome.error = Some(format!("{}: {e}", sc.name));
            return outcome;
        }
    };
    let plan = match &opts.schedule {
        None => plan,
        Some(path) => match std::fs::read(path)
            .map_err(anyhow::Error::from)
            .and_then(|b| Ok(serde_json::from_slice(&b)?))
        {
            Ok(stored) => stored,
            Err(e) => {
                outcome.exit = Exit::Usage;
                outcome.error = Some(format!("--schedule {}: {e:#}", path.display()));
                return outcome;
            }
        },
    };
    if !plan.steps.is_empty() && !opts.quiet {
        eprint!("fault schedule (seed {}):\n{plan}", plan.seed);
    }
    let started_at = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let wall0 = Instant::now();
    // turmoil blocks on one runtime per host: its own thread, outside ours.
    let (tx, rx) = tokio::sync::oneshot::channel();
    let (sc2, plan2, out2) = (sc.clone(), plan.clone(), out_dir.clone());
    let rule = sim::stop::StopRule::new(opts.fail_fast, sc.node_names().len(), judge(&sc));
    std::thread::spawn(move || {
        let _ = tx.send(sim::run(&sc2, plan2, &out2, rule, keepalive_ms));
    });
    let result = match rx.await {
        Ok(r) => r,
        Err(_) => Err(anyhow::anyhow!("the simulation thread panicked")),
    };
    let mut findings = None;
    let mut digest = None;
    let mut timeline = None;
    match result {
        Ok(run) => {
            tracing::info!(
                steps = run.steps,
                faults = run.applied.len(),
                "simulation done"
            );
            if let Some(s) = &run.stop {
                if !opts.quiet {
                    eprintln!(
                        "t {}s: stopped early: {} failed at {}: {}",
                        s.stopped_at / 1000,
                        s.check,
                        crate::checks::fmt_ms(s.violation.t),
                        s.violation.message
                    );
                }
            }
            let mut f = verdict::evaluate(&sc, &run.timeline, run.stop.clone());
            f.coverage = crate::report::coverage::from_metrics(&run.metrics);
            // The same figures as docker's, in virtual time: latencies are
            // the simulated network's, deterministic for a seed. No
            // per-node CPU or memory: every node shares this process.
            f.perf = Some(crate::report::perf::compute(
                &run.timeline,
                &run.metrics,
                &Default::default(),
                crate::observe::recorder::full_mesh_at(&run.timeline),
            ));
            let passed = f.checks.iter().all(|c| c.passed);
            if !passed || opts.artefacts == super::Artefacts::All {
                match verdict::write_timeline(&out_dir, &run.timeline) {
                    Ok(d) => digest = Some(d),
                    Err(e) => {
                        outcome.exit = Exit::Infra;
                        outcome.error = Some(format!("writing the timeline: {e:#}"));
                    }
                }
                timeline = Some(run.timeline);
            }
            if outcome.error.is_none() {
                outcome.exit = if passed {
                    Exit::Pass
                } else {
                    Exit::CheckFailed
                };
            }
            findings = Some(f);
        }
        Err(e) => {
            outcome.exit = Exit::Infra;
            outcome.error = Some(format!("simulation error: {e:#}"));
        }
    }
    let report = verdict::build_report(
        &sc,
        verdict::RunMeta {
            provider: "sim",
            timeline_sha256: digest,
            run_id,
            started_at,
            wall_ms: wall0.elapsed().as_millis() as u64,
            schedule: Some(plan),
        },
        findings,
        outcome.error.clone(),
        &out_dir,
    );
    if let Err(e) = crate::report::write(&out_dir, &report) {
        eprintln!("writing the report to {}: {e:#}", out_dir.display());
        outcome.exit = outcome.exit.worst(Exit::Infra);
    }
    let html = outcome.exit != Exit::Pass || opts.artefacts == super::Artefacts::All;
    if html {
        if let Err(e) = crate::report::html::write(&out_dir, &report, timeline.as_ref()) {
            eprintln!("writing report.html to {}: {e:#}", out_dir.display());
            outcome.exit = outcome.exit.worst(Exit::Infra);
        }
    }
    outcome.report = Some(report);
    outcome
}

/// docker's `--fail-fast` judgement over a simulated timeline (time scale
/// 1: the gap from the violation to the stop is virtual ms).
fn judge(sc: &Scenario) -> sim::stop::Judge {
    let sc = sc.clone();
    Box::new(move |tl| {
        let (kind, violation) = super::failfast::judge(&sc, tl)?;
        Some(crate::report::EarlyStop {
            cause: crate::report::StopCause::FailFast,
            check: kind.name().to_string(),
            stopped_at: tl.end,
            wall_ms_after_violation: tl.end.saturating_sub(violation.t),
            not_judged: super::failfast::not_judged(&sc),
            violation,
        })
    })
}
