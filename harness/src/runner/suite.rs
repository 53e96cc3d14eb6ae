//! `harness run FILE|DIR...`: one scenario, or a suite run one after the
//! other with one combined JUnit file. The exit code is the worst of all.

use super::{apply_overrides, load, run, Exit, RunOptions, RunOutcome};
use crate::scenario;
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

pub async fn run_paths(paths: &[PathBuf], filter: Option<&str>, opts: &RunOptions) -> Exit {
    let files = match scenario::expand(paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{e}");
            return Exit::Usage;
        }
    };
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
    let mut outcomes = Vec::new();
    for sc in scenarios {
        let mut o = opts.clone();
        o.out = Some(suite_dir.join(&sc.name));
        println!("== {} ==", sc.name);
        let out = run(sc, &o).await;
        print_outcome(&out);
        exit = exit.worst(out.exit);
        let stop = out.exit == Exit::Interrupted;
        outcomes.push(out);
        if stop {
            break;
        }
    }
    write_suite(&suite_dir, &outcomes);
    println!(
        "suite: {} scenarios, output in {}",
        outcomes.len(),
        suite_dir.display()
    );
    exit
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
