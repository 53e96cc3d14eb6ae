//! The summary table printed at the end of a run: one row per check,
//! columns aligned, plain text (CI logs have no colors).

use super::{Outcome, RunReport};
use crate::checks::fmt_ms;

const HEADERS: [&str; 5] = ["check", "result", "first violation", "nodes", "details"];

/// An aligned table: check, result, first violation time, nodes, details;
/// then one line per failed check with its violation message.
pub fn summary_table(r: &RunReport) -> String {
    let rows: Vec<[String; 5]> = r
        .checks
        .iter()
        .map(|c| {
            let (t, nodes) = match &c.first_violation {
                Some(v) => (fmt_ms(v.t), v.nodes.join(",")),
                None => ("-".into(), "-".into()),
            };
            let skipped = r
                .fail_fast
                .as_ref()
                .is_some_and(|s| s.not_judged.contains(&c.name));
            [
                c.name.clone(),
                match (skipped, c.passed) {
                    (true, _) => "SKIP",
                    (false, true) => "PASS",
                    (false, false) => "FAIL",
                }
                .to_string(),
                t,
                nodes,
                c.details.clone(),
            ]
        })
        .collect();
    let mut widths = HEADERS.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 5]| -> String {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{cell:<w$}  "));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let outcome = match r.outcome() {
        Outcome::Passed => "PASSED",
        Outcome::Failed => "FAILED",
        Outcome::Error => "ERROR",
    };
    let mut out = format!(
        "{} {} (seed {}, time scale {}, {} protocol in {} wall)\n",
        r.scenario,
        outcome,
        r.seed,
        r.time_scale,
        fmt_ms(r.protocol_ms),
        fmt_ms(r.wall_ms)
    );
    out.push_str(&line(HEADERS));
    out.push_str(&line(
        widths.map(|w| "-".repeat(w)).each_ref().map(String::as_str),
    ));
    for row in &rows {
        out.push_str(&line(row.each_ref().map(String::as_str)));
    }
    for c in r.checks.iter().filter(|c| !c.passed) {
        if let Some(v) = &c.first_violation {
            out.push_str(&format!("{}: {}\n", c.name, v.message));
        }
    }
    if let Some(s) = &r.fail_fast {
        out.push_str(&format!(
            "{}: stopped at {} on {} (violation at {}, {} ms wall before the stop); \
             not judged: {}\n",
            s.cause.label(),
            fmt_ms(s.stopped_at),
            s.check,
            fmt_ms(s.violation.t),
            s.wall_ms_after_violation,
            s.not_judged.join(", ")
        ));
    }
    if let Some(e) = &r.error {
        out.push_str(&format!("error: {e}\n"));
    }
    if let Some(d) = &r.timeline_sha256 {
        out.push_str(&format!("timeline.json sha256 {d}\n"));
    }
    out
}
