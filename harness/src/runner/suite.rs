//! `harness run FILE|DIR...`: one scenario, or a suite with one combined
//! JUnit file, run one after the other or `--jobs J` at a time. The exit
//! code is the worst of all.
//!
//! Concurrent docker runs share nothing but the engine and the node image:
//! each has its own network (a free subnet), containers, iptables chains
//! (inside its nodes' namespaces) and output folder, and its cleanup removes
//! only its own run id. A docker run of six nodes at time scale 30 keeps
//! about a sixth of this 2-core machine busy, so two at a time halve the
//! suite's wall time without starving either (README "Measured").

use super::{apply_overrides, load, run, Exit, RunOptions, RunOutcome};
use crate::scenario::{self, Scenario};
use std::path::{Path, PathBuf};

/// Print what a finished run produced.
pub fn print_outcome(o: &RunOutcome) {
    if let Some(r) = &o.report {
        print!("{}", crate::report::summary_table(r));
    }
    // Also on stderr, for scripts that keep only stderr of a failed run.
    if let Some(e) = &o.error {
        eprintln!("error: {e}");
    }
    if o.kept {
        println!(
            "--keep: the containers and network of {} are still up; remove them with `harness down`",
            o.run_id
        );
    }
    let result = match o.exit {
        Exit::Pass => "PASSED",
        Exit::CheckFailed => "FAILED (a check failed)",
        Exit::Usage => "NOT RUN (bad scenario)",
        Exit::Infra => "ERROR (infrastructure)",
        Exit::Interrupted => "INTERRUPTED",
    };
    println!(
        "{} [{}]: {result}; output in {}",
        o.scenario,
        o.run_id,
        o.out_dir.display()
    );
}

/// Run `paths` (files or folders) as one scenario or a suite of `jobs`
/// scenarios at a time (at least 1).
pub async fn run_paths(
    paths: &[PathBuf],
    filter: Option<&str>,
    jobs: usize,
    opts: &RunOptions,
) -> Exit {
    let files = match scenario::expand(paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{e}");
            return Exit::Usage;
        }
    };
    if jobs > 1 && opts.provider == super::Provider::Sim {
        eprintln!(
            "--jobs applies to docker suites: sim runs in one process share tokio's \
             process-wide task numbering, so runs side by side would not replay bit for bit \
             (run the files one by one, or many seeds with `harness explore --jobs`)"
        );
        return Exit::Usage;
    }
    let caps = super::capabilities(opts.provider).await;
    let mut exit = Exit::Pass;
    let mut scenarios = Vec::new();
    for f in &files {
        match load(f, &caps) {
            Ok(mut sc) => {
                apply_overrides(&mut sc, opts);
                scenarios.push(sc);
            }
            Err(e) => {
                eprintln!("{e}");
                exit = Exit::Usage;
            }
        }
    }
    if exit != Exit::Pass {
        return exit;
    }
    let scenarios = scenario::filter(scenarios, filter);
    if scenarios.is_empty() {
        eprintln!("no scenario matches");
        return Exit::Usage;
    }
    if scenarios.len() == 1 && files.len() == 1 {
        let o = run(scenarios.into_iter().next().unwrap(), opts).await;
        print_outcome(&o);
        return o.exit;
    }
    let suite_dir = opts.out.clone().unwrap_or_else(|| {
        PathBuf::from("runs").join(format!("suite-{}", crate::observe::clock::unix_ms() / 1000))
    });
    let outcomes = if jobs <= 1 {
        one_at_a_time(scenarios, &suite_dir, opts).await
    } else {
        if let Err(e) = prebuild_image(opts).await {
            eprintln!("error: {e}");
            return Exit::Infra;
        }
        let n = scenarios.len();
        let outcomes = concurrently(scenarios, &suite_dir, jobs, opts).await;
        let interrupted = outcomes.iter().any(|o| o.exit == Exit::Interrupted);
        if outcomes.len() < n && !interrupted {
            exit = Exit::Infra;
        }
        outcomes
    };
    for o in &outcomes {
        exit = exit.worst(o.exit);
    }
    write_suite(&suite_dir, &outcomes);
    // Last, and also in a file: a CI log cut to its tail still names every
    // red run and the check that made it red.
    let summary = suite_summary(&outcomes);
    print!("{summary}");
    if let Err(e) = std::fs::write(suite_dir.join("summary.txt"), &summary) {
        eprintln!("writing {}: {e}", suite_dir.join("summary.txt").display());
    }
    println!(
        "suite: {} scenarios, output in {}",
        outcomes.len(),
        suite_dir.display()
    );
    exit
}

/// One line per run (result, seed, wall time); under each red run, one
/// line per failed check with its first violation, or the run's error.
fn suite_summary(outcomes: &[RunOutcome]) -> String {
    let width = outcomes.iter().map(|o| o.scenario.len()).max().unwrap_or(0);
    let red = outcomes.iter().filter(|o| o.exit != Exit::Pass).count();
    let mut s = format!(
        "suite result: {} of {} passed\n",
        outcomes.len() - red,
        outcomes.len()
    );
    for o in outcomes {
        let result = match o.exit {
            Exit::Pass => "PASSED",
            Exit::CheckFailed => "FAILED",
            Exit::Usage => "NOT RUN",
            Exit::Infra => "ERROR",
            Exit::Interrupted => "INTERRUPTED",
        };
        let (seed, wall) = o
            .report
            .as_ref()
            .map_or((String::from("-"), 0), |r| (r.seed.to_string(), r.wall_ms));
        s.push_str(&format!(
            "  {:<width$}  {result:<11}  seed {seed:<6}  {:.1} s wall  [{}]\n",
            o.scenario,
            wall as f64 / 1000.0,
            o.run_id
        ));
        if let Some(e) = &o.error {
            s.push_str(&format!("      error: {e}\n"));
        }
        let failed = o
            .report
            .iter()
            .flat_map(|r| &r.checks)
            .filter(|c| !c.passed);
        for c in failed {
            match &c.first_violation {
                Some(v) => s.push_str(&format!(
                    "      {} at {} [{}] ({} violation(s)): {}\n",
                    c.name,
                    crate::checks::fmt_ms(v.t),
                    v.nodes.join(","),
                    c.violations,
                    v.message
                )),
                None => s.push_str(&format!("      {}: {}\n", c.name, c.details)),
            }
        }
    }
    s
}

/// The suite in file order, each run's progress line live; stops after an
/// interrupted run.
async fn one_at_a_time(scenarios: Vec<Scenario>, dir: &Path, opts: &RunOptions) -> Vec<RunOutcome> {
    let mut outcomes = Vec::new();
    for sc in scenarios {
        let mut o = opts.clone();
        o.out = Some(dir.join(&sc.name));
        println!("== {} ==", sc.name);
        let out = run(sc, &o).await;
        print_outcome(&out);
        let stop = out.exit == Exit::Interrupted;
        outcomes.push(out);
        if stop {
            break;
        }
    }
    outcomes
}

/// `jobs` runs at a time, longest first (the longest-processing-time rule:
/// the last scenario to finish is a short one). Each run has its own thread
/// and tokio runtime, as if it were its own process: a run's end-of-run
/// check evaluation never delays another run's polls, and the probes'
/// single-threaded futures need no `Send`. Progress lines are off (they
/// would interleave); each outcome is printed when its run ends, and the
/// outcomes come back in file order. After a Ctrl-C no new run starts
/// (every run already going sees the signal, cleans up and reports itself
/// interrupted).
async fn concurrently(
    scenarios: Vec<Scenario>,
    dir: &Path,
    jobs: usize,
    opts: &RunOptions,
) -> Vec<RunOutcome> {
    let order = longest_first(&scenarios);
    let mut slots: Vec<Option<Scenario>> = scenarios.into_iter().map(Some).collect();
    let mut queue = order
        .into_iter()
        .map(|i| (i, slots[i].take().expect("each index once")));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut tx = Some(tx);
    let mut running = 0;
    let mut done: Vec<(usize, RunOutcome)> = Vec::new();
    let mut interrupted = false;
    loop {
        while running < jobs && !interrupted {
            let (Some((i, sc)), Some(sender)) = (queue.next(), tx.as_ref()) else {
                break;
            };
            let mut o = opts.clone();
            o.out = Some(dir.join(&sc.name));
            o.quiet = true;
            println!("== {} (started) ==", sc.name);
            let sender = sender.clone();
            std::thread::spawn(move || {
                let rt = tokio::runtime::Runtime::new().expect("a tokio runtime for a suite run");
                let _ = sender.send((i, rt.block_on(run(sc, &o))));
            });
            running += 1;
        }
        if running == 0 {
            break;
        }
        if queue.len() == 0 || interrupted {
            // Only the running threads hold senders now: if one dies without
            // its outcome, `recv` ends instead of waiting forever.
            tx = None;
        }
        let Some((i, out)) = rx.recv().await else {
            eprintln!("error: a suite run's thread ended without an outcome");
            break;
        };
        running -= 1;
        print_outcome(&out);
        interrupted |= out.exit == Exit::Interrupted;
        done.push((i, out));
    }
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, o)| o).collect()
}

/// The order to start a suite's runs in: indices by expected wall time
/// (protocol duration over time scale; setup and teardown are alike for
/// all), longest first, file order among equals.
fn longest_first(scenarios: &[Scenario]) -> Vec<usize> {
    let wall = |sc: &Scenario| sc.duration.as_secs_f64() / sc.time_scale.max(1e-9);
    let mut order: Vec<usize> = (0..scenarios.len()).collect();
    order.sort_by(|&a, &b| wall(&scenarios[b]).total_cmp(&wall(&scenarios[a])));
    order
}

/// Build the node image once before concurrent docker runs, so they do not
/// each build it at the same moment (sim runs need no image).
async fn prebuild_image(opts: &RunOptions) -> anyhow::Result<()> {
    if opts.provider != super::Provider::Docker {
        return Ok(());
    }
    let docker = crate::provider::docker::connect::connect().await?;
    let image =
        crate::provider::image::ensure_binary(&docker, false, opts.timed.as_deref()).await?;
    if image.built {
        eprintln!("built image {}", image.tag);
    }
    Ok(())
}

/// One JUnit file for the whole suite (each run also has its own).
fn write_suite(dir: &Path, outcomes: &[RunOutcome]) {
    let reports: Vec<_> = outcomes.iter().filter_map(|o| o.report.clone()).collect();
    let path = dir.join("junit.xml");
    match crate::report::write_suite_junit(&path, &reports) {
        Ok(()) => println!("suite JUnit: {}", path.display()),
        Err(e) => eprintln!("writing {}: {e:#}", path.display()),
    }
    let entries: Vec<(String, crate::report::RunReport)> = outcomes
        .iter()
        .filter_map(|o| {
            let rel = o.out_dir.strip_prefix(dir).unwrap_or(&o.out_dir);
            Some((rel.display().to_string(), o.report.clone()?))
        })
        .collect();
    match crate::report::html::write_index(dir, &entries) {
        Ok(p) => println!("suite index: {}", p.display()),
        Err(e) => eprintln!("writing the suite index in {}: {e:#}", dir.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(name: &str, duration: &str, time_scale: u32) -> Scenario {
        let text = format!(
            "name = \"{name}\"\nduration = \"{duration}\"\ntime_scale = {time_scale}\n\
             [network]\nnodes = 2\n"
        );
        scenario::parse(&text, format!("{name}.toml")).unwrap()
    }

    #[test]
    fn runs_start_longest_wall_time_first_and_equals_in_file_order() {
        let suite = [
            scenario("a", "40m", 30), // 80 s
            scenario("b", "58m", 20), // 174 s
            scenario("c", "1h", 30),  // 120 s
            scenario("d", "40m", 30), // 80 s
            scenario("e", "30m", 30), // 60 s
        ];
        assert_eq!(longest_first(&suite), [1, 2, 0, 3, 4]);
    }

    fn outcome(name: &str, exit: Exit, failed_check: Option<&str>) -> RunOutcome {
        let checks: Vec<_> = failed_check
            .into_iter()
            .map(|c| {
                serde_json::json!({
                    "kind": c, "name": c, "passed": false, "violations": 3,
                    "first_violation": { "t": 754_000, "nodes": ["n2", "n5"],
                                         "message": "n2 reconnected to n5" },
                    "details": "", "evaluated_from": 0, "evaluated_to": 1
                })
            })
            .collect();
        let report = serde_json::json!({
            "scenario": name, "run_id": "tn-1", "seed": 41, "time_scale": 30.0,
            "wall_ms": 61_500, "protocol_ms": 1, "checks": checks
        });
        RunOutcome {
            exit,
            report: Some(serde_json::from_value(report).unwrap()),
            ..RunOutcome::start(&scenario(name, "30m", 30), "tn-1", Path::new("runs"), false)
        }
    }

    #[test]
    fn the_summary_names_each_red_run_and_its_failed_check() {
        let mut infra = outcome("wiped-node", Exit::Infra, None);
        infra.error = Some("docker: no such network".into());
        let s = suite_summary(&[
            outcome("brief-stall", Exit::Pass, None),
            outcome("crossed-dials", Exit::CheckFailed, Some("no_cycling")),
            infra,
        ]);
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines[0], "suite result: 1 of 3 passed");
        assert!(
            lines[1].contains("brief-stall") && lines[1].contains("PASSED"),
            "{s}"
        );
        assert!(
            lines[2].contains("crossed-dials") && lines[2].contains("FAILED"),
            "{s}"
        );
        assert!(
            lines[2].contains("seed 41") && lines[2].contains("61.5 s wall"),
            "{s}"
        );
        assert_eq!(
            lines[3],
            "      no_cycling at 12m34s [n2,n5] (3 violation(s)): n2 reconnected to n5"
        );
        assert!(
            lines[4].contains("wiped-node") && lines[4].contains("ERROR"),
            "{s}"
        );
        assert_eq!(lines[5], "      error: docker: no such network");
        assert_eq!(lines.len(), 6, "{s}");
    }
}
