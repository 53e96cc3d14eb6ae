//! `report.html`: one self-contained page per run (inline CSS and SVG, no
//! script or fetch from anywhere), and a suite's `index.html`.
//!
//! Top to bottom: the verdict and the summary table of checks; the
//! performance figures; every node's height over protocol time and one lane
//! per node pair (connected spans, reconnects, disconnects), both with the
//! fault windows shaded and labelled and each check's first violation
//! marked; then per failed check its violation and the log lines of the
//! nodes involved around it ([`logs`]), which each marker links to.

mod logs;
mod svg;

use super::{Outcome, RunReport};
use crate::checks::fmt_ms;
use crate::observe::model::Timeline;
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// HTML-escape text (also safe inside attribute values).
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font:13px/1.4 system-ui,sans-serif;margin:16px;color:#222}\
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:18px 0 6px}\
.passed{color:#17803d}.failed{color:#c62828}.error{color:#9a5b00}\
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left;\
vertical-align:top}th{background:#f3f3f3}td.num{text-align:right}\
svg.chart{display:block;border:1px solid #ddd;margin:4px 0}\
.fault{fill:rgba(255,150,0,.18);stroke:rgba(200,110,0,.6);stroke-dasharray:3 2}\
.fault-label{font-size:9px;fill:#8a4b00}.axis,.lane-label{font-size:9px;fill:#555}\
.tick{stroke:#ddd}.lane-bg{fill:#f6f6f6}.span{fill:#4caf50}\
.reconnect{fill:#1565c0;stroke:#fff;stroke-width:.5}.disconnect{stroke:#c62828;stroke-width:1.5}\
.violation line{stroke:#d50000;stroke-width:2}.violation path{fill:#d50000}\
.height{fill:none;stroke-width:1.5}pre{background:#fafafa;border:1px solid #ddd;padding:6px;\
overflow:auto;max-height:420px;font-size:11px}details{margin:4px 0}\
.note{color:#666}:target{outline:3px solid #ffb300}";

/// Write `out_dir/report.html`.
pub fn write(
    out_dir: &Path,
    report: &RunReport,
    timeline: Option<&Timeline>,
) -> anyhow::Result<PathBuf> {
    use anyhow::Context;
    std::fs::create_dir_all(out_dir)?;
    let path = out_dir.join("report.html");
    let html = render(report, timeline, &out_dir.join("logs"));
    std::fs::write(&path, html).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

fn outcome_word(r: &RunReport) -> (&'static str, &'static str) {
    match r.outcome() {
        Outcome::Passed => ("PASSED", "passed"),
        Outcome::Failed => ("FAILED", "failed"),
        Outcome::Error => ("ERROR", "error"),
    }
}

/// The page. `logs_dir` holds the `nK.log` files excerpts come from.
pub fn render(r: &RunReport, tl: Option<&Timeline>, logs_dir: &Path) -> String {
    let (word, class) = outcome_word(r);
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{name} {word}</title><style>{STYLE}</style></head><body>\
         <h1>{name} <span class=\"{class}\" id=\"verdict\">{word}</span></h1>\
         <div class=\"note\">{desc}</div><div>run {id}, seed {seed}, time scale {ts}, \
         {proto} protocol in {wall} wall{started}</div>",
        name = esc(&r.scenario),
        desc = esc(r.description.lines().next().unwrap_or("")),
        id = esc(&r.run_id),
        seed = r.seed,
        ts = r.time_scale,
        proto = fmt_ms(r.protocol_ms),
        wall = fmt_ms(r.wall_ms),
        started = r
            .started_at
            .as_ref()
            .map_or(String::new(), |s| format!(", started {}", esc(s))),
    );
    if let Some(e) = &r.error {
        let _ = write!(h, "<p class=\"error\">error: {}</p>", esc(e));
    }
    if let Some(s) = &r.fail_fast {
        let _ = write!(
            h,
            "<p class=\"failed\" id=\"fail-fast\">--fail-fast stopped the run at {} on {}'s \
             violation at {} ({} wall ms later); not judged: {}</p>",
            fmt_ms(s.stopped_at),
            esc(&s.check),
            fmt_ms(s.violation.t),
            s.wall_ms_after_violation,
            esc(&s.not_judged.join(", "))
        );
    }
    summary(&mut h, r);
    perf(&mut h, r);
    match tl {
        Some(tl) => {
            let _ = write!(
                h,
                "<h2>Height over protocol time</h2>{}<h2>Connections per node pair</h2>\
                 <div class=\"note\">green: connected (lower node's view); blue dot: a \
                 reconnect; red tick: a disconnect; orange: fault windows; red line: a \
                 check's first violation (click for its log lines)</div>{}",
                svg::heights(tl, &r.checks),
                svg::lanes(tl, &r.checks)
            );
            violations(&mut h, r, tl, logs_dir);
        }
        None => h.push_str("<p class=\"note\">no timeline: the run stopped before observing</p>"),
    }
    faults(&mut h, r);
    h.push_str("</body></html>\n");
    h
}

fn summary(h: &mut String, r: &RunReport) {
    h.push_str(
        "<h2>Checks</h2><table id=\"summary\"><tr><th>check</th><th>result</th>\
         <th>first violation</th><th>nodes</th><th>details</th><th>eval ms</th></tr>",
    );
    for c in &r.checks {
        let skipped = r
            .fail_fast
            .as_ref()
            .is_some_and(|s| s.not_judged.contains(&c.name));
        let (res, class) = match (c.passed, skipped) {
            (_, true) => ("NOT JUDGED", "note"),
            (true, _) => ("PASS", "passed"),
            (false, _) => ("FAIL", "failed"),
        };
        let (t, nodes) = match &c.first_violation {
            Some(v) => (
                format!("<a href=\"#v-{}\">{}</a>", esc(&c.name), fmt_ms(v.t)),
                esc(&v.nodes.join(", ")),
            ),
            None => ("-".into(), "-".into()),
        };
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"{class}\">{res}</td><td>{t}</td><td>{nodes}</td>\
             <td>{}</td><td class=\"num\">{:.3}</td></tr>",
            esc(&c.name),
            esc(&c.details),
            c.eval_us as f64 / 1000.0
        );
    }
    h.push_str("</table>");
}

fn perf(h: &mut String, r: &RunReport) {
    let Some(p) = &r.perf else { return };
    h.push_str("<h2>Performance</h2><table id=\"perf\"><tr><th>figure</th><th>value</th></tr>");
    for f in p.figures() {
        let v = f
            .value
            .map_or("-".to_string(), |v| format!("{v:.2} {}", f.unit));
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"num\">{}</td></tr>",
            esc(&f.name),
            esc(&v)
        );
    }
    h.push_str("</table>");
}

fn violations(h: &mut String, r: &RunReport, tl: &Timeline, logs_dir: &Path) {
    let failed: Vec<_> = r
        .checks
        .iter()
        .filter_map(|c| Some((c, c.first_violation.as_ref()?)))
        .collect();
    if failed.is_empty() {
        return;
    }
    h.push_str("<h2>Violations</h2>");
    for (c, v) in failed {
        let lines = logs::excerpt(logs_dir, &v.nodes, v.t, tl);
        let _ = write!(
            h,
            "<div class=\"violation-detail\" id=\"v-{name}\"><b>{name}</b> at {t} [{nodes}] \
             ({n} violation(s)): {msg}<details open><summary>log lines of {nodes} within \
             {w}s wall of it ({k} lines)</summary><pre>",
            name = esc(&c.name),
            t = fmt_ms(v.t),
            nodes = esc(&v.nodes.join(", ")),
            n = c.violations,
            msg = esc(&v.message),
            w = logs::EXCERPT_WALL.as_secs(),
            k = lines.len()
        );
        for (node, line) in &lines {
            let _ = writeln!(h, "{:<4} {}", esc(node), esc(line));
        }
        h.push_str("</pre></details></div>");
    }
}

fn faults(h: &mut String, r: &RunReport) {
    if r.faults.is_empty() {
        return;
    }
    h.push_str(
        "<h2>Faults applied</h2><table id=\"faults\"><tr><th>start</th><th>end</th>\
         <th>kind</th><th>nodes</th><th>shape</th></tr>",
    );
    for f in &r.faults {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            fmt_ms(f.start),
            f.end.map_or("end of run".into(), fmt_ms),
            esc(f.action.name()),
            esc(&f.nodes.join(", ")),
            esc(&f.description)
        );
    }
    h.push_str("</table>");
}

/// A suite's `index.html`: every scenario's verdict, linking its report
/// (`entries`: the run folders, relative to `dir`, with their reports).
pub fn write_index(dir: &Path, entries: &[(String, RunReport)]) -> anyhow::Result<PathBuf> {
    let mut h = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>timenet suite\
         </title><style>{STYLE}</style></head><body><h1>timenet suite</h1><table id=\"index\">\
         <tr><th>scenario</th><th>verdict</th><th>protocol</th><th>wall</th><th>failed checks\
         </th></tr>"
    );
    for (rel, r) in entries {
        let (word, class) = outcome_word(r);
        let failed: Vec<&str> = r
            .checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.name.as_str())
            .collect();
        let _ = write!(
            h,
            "<tr><td><a href=\"{}/report.html\">{}</a></td><td class=\"{class}\">{word}</td>\
             <td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(rel),
            esc(&r.scenario),
            fmt_ms(r.protocol_ms),
            fmt_ms(r.wall_ms),
            esc(&failed.join(", "))
        );
    }
    h.push_str("</table></body></html>\n");
    std::fs::create_dir_all(dir)?;
    let path = dir.join("index.html");
    std::fs::write(&path, h)?;
    Ok(path)
}

#[cfg(test)]
mod tests;
