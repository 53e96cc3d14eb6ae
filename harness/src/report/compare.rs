//! `harness compare BASE_RUN NEW_RUN [--max-regression 20%]`: the
//! performance figures of two runs of the same scenario and seed (two
//! builds), side by side with their ratio; a figure worse than the base by
//! more than the threshold (and by more than its noise slack) is a
//! regression.

use super::perf::{Figure, Worse};
use super::RunReport;
use std::fmt::Write;

/// Why two runs cannot be compared (exit 2).
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Refusal {
    /// Different scenarios measure different things.
    #[error("different scenarios: base `{0}`, new `{1}`")]
    Scenario(String, String),
    /// Another seed is another fault schedule and workload.
    #[error("different seeds: base {0}, new {1} (run both with --seed)")]
    Seed(u64, u64),
    /// Rates and latencies depend on the time scale.
    #[error("different time scales: base {0}, new {1}")]
    TimeScale(f64, f64),
    /// Virtual-time figures of the simulation are not wall-time figures
    /// of containers (a provider-less report is an older docker one).
    #[error("different providers: base {0}, new {1}")]
    Provider(String, String),
    /// A report written before performance figures existed, or of a run
    /// that stopped before measuring.
    #[error("{0} has no performance figures")]
    NoFigures(&'static str),
}

/// One row of the comparison.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub name: String,
    pub unit: &'static str,
    pub base: Option<f64>,
    pub new: Option<f64>,
    /// new / base, when both are there and base > 0.
    pub ratio: Option<f64>,
    pub regression: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    pub rows: Vec<Row>,
    /// Threshold as a fraction (0.2 = 20%).
    pub max_regression: f64,
}

impl Comparison {
    pub fn regressions(&self) -> Vec<&Row> {
        self.rows.iter().filter(|r| r.regression).collect()
    }

    /// Largest relative change either way among the figures both runs have
    /// (the noise band when both runs are of one build).
    pub fn spread(&self) -> Option<(f64, &str)> {
        self.rows
            .iter()
            .filter_map(|r| Some(((r.ratio? - 1.0).abs(), r.name.as_str())))
            .max_by(|a, b| a.0.total_cmp(&b.0))
    }
}

/// Parse `20%`, `20` or `0.2`... as a fraction: `20%` and `20` are 0.2.
pub fn parse_threshold(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let (num, pct) = match t.strip_suffix('%') {
        Some(n) => (n, true),
        None => (t, false),
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("bad threshold `{s}` (e.g. 20%)"))?;
    let frac = if pct || v >= 1.0 { v / 100.0 } else { v };
    if !(frac.is_finite() && frac >= 0.0) {
        return Err(format!("bad threshold `{s}`"));
    }
    Ok(frac)
}

pub fn compare(
    base: &RunReport,
    new: &RunReport,
    max_regression: f64,
) -> Result<Comparison, Refusal> {
    if base.scenario != new.scenario {
        return Err(Refusal::Scenario(
            base.scenario.clone(),
            new.scenario.clone(),
        ));
    }
    if base.seed != new.seed {
        return Err(Refusal::Seed(base.seed, new.seed));
    }
    if base.time_scale != new.time_scale {
        return Err(Refusal::TimeScale(base.time_scale, new.time_scale));
    }
    let provider = |r: &RunReport| r.provider.clone().unwrap_or_else(|| "docker".into());
    if provider(base) != provider(new) {
        return Err(Refusal::Provider(provider(base), provider(new)));
    }
    let b = base.perf.as_ref().ok_or(Refusal::NoFigures("base"))?;
    let n = new.perf.as_ref().ok_or(Refusal::NoFigures("new"))?;
    let nf = n.figures();
    let rows = b
        .figures()
        .into_iter()
        .map(|bf| {
            let newv = nf.iter().find(|f| f.name == bf.name).and_then(|f| f.value);
            row(&bf, newv, max_regression)
        })
        // A figure neither run has (a simulated node's CPU and memory:
        // every node shares one process) says nothing.
        .filter(|r| r.base.is_some() || r.new.is_some())
        .collect();
    Ok(Comparison {
        rows,
        max_regression,
    })
}

fn row(base: &Figure, new: Option<f64>, max: f64) -> Row {
    let ratio = match (base.value, new) {
        (Some(b), Some(n)) if b > 0.0 => Some(n / b),
        _ => None,
    };
    let regression = match (base.value, new) {
        (Some(b), Some(n)) => {
            let (worse_by, limit) = match base.worse {
                Worse::Higher => (n - b, b * max),
                Worse::Lower => (b - n, b * max),
            };
            worse_by > limit && worse_by > base.slack
        }
        // A figure the base had and the new build lost (e.g. no commit
        // measured at all) is a regression too.
        (Some(_), None) => true,
        _ => false,
    };
    Row {
        name: base.name.clone(),
        unit: base.unit,
        base: base.value,
        new,
        ratio,
        regression,
    }
}

/// The table; regressions in red when `color` (a terminal).
pub fn render(c: &Comparison, color: bool) -> String {
    let fmt = |v: Option<f64>| match v {
        None => "-".to_string(),
        Some(x) if x.abs() >= 100.0 => format!("{x:.0}"),
        Some(x) => format!("{x:.2}"),
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<34} {:>12} {:>12} {:>7}  verdict",
        "figure", "base", "new", "ratio"
    );
    for r in &c.rows {
        let name = if r.unit.is_empty() {
            r.name.clone()
        } else {
            format!("{} ({})", r.name, r.unit)
        };
        let ratio = r.ratio.map_or("-".into(), |x| format!("{x:.2}"));
        let verdict = if r.regression { "REGRESSION" } else { "ok" };
        let line = format!(
            "{name:<34} {:>12} {:>12} {ratio:>7}  {verdict}",
            fmt(r.base),
            fmt(r.new)
        );
        if r.regression && color {
            let _ = writeln!(out, "\x1b[31m{line}\x1b[0m");
        } else {
            let _ = writeln!(out, "{line}");
        }
    }
    if let Some((s, name)) = c.spread() {
        let _ = writeln!(
            out,
            "largest change: {:.1}% ({name}); threshold {:.0}%",
            s * 100.0,
            c.max_regression * 100.0
        );
    }
    let regs = c.regressions();
    if regs.is_empty() {
        let _ = writeln!(out, "no regression");
    } else {
        let names: Vec<&str> = regs.iter().map(|r| r.name.as_str()).collect();
        let _ = writeln!(out, "REGRESSION in: {}", names.join(", "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::perf::Perf;

    fn report(seed: u64, fin_p50: f64) -> RunReport {
        let json = serde_json::json!({
            "scenario": "s", "run_id": "r", "seed": seed, "time_scale": 30.0,
            "wall_ms": 1, "protocol_ms": 1, "checks": []
        });
        let mut r: RunReport = serde_json::from_value(json).unwrap();
        r.perf = Some(Perf {
            full_mesh_ms: Some(1500),
            finality_p50_ms: Some(fin_p50),
            finality_p95_ms: Some(fin_p50 * 2.0),
            finality_max_ms: Some(fin_p50 * 3.0),
            blocks: 60,
            blocks_per_protocol_hour: Some(60.0),
            reconnects: 0,
            ..Default::default()
        });
        r
    }

    #[test]
    fn same_figures_pass_and_a_slowdown_names_finality() {
        let same = compare(&report(1, 20.0), &report(1, 21.0), 0.2).unwrap();
        assert!(same.regressions().is_empty(), "{}", render(&same, false));
        let slow = compare(&report(1, 20.0), &report(1, 400.0), 0.2).unwrap();
        let names: Vec<&str> = slow.regressions().iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["finality p50", "finality p95", "finality max"]);
        let text = render(&slow, true);
        assert!(text.contains("\x1b[31mfinality p50"), "{text}");
        assert!(!render(&slow, false).contains('\x1b'));
        assert!(text.contains("REGRESSION in: finality p50"), "{text}");
    }

    #[test]
    fn small_absolute_changes_are_noise() {
        // 1 -> 2 ms is +100% but within the 2 ms slack of p50.
        let c = compare(&report(1, 1.0), &report(1, 2.0), 0.2).unwrap();
        assert!(!c.rows[1].regression);
        // Fewer blocks per hour is worse.
        let mut worse = report(1, 20.0);
        worse.perf.as_mut().unwrap().blocks_per_protocol_hour = Some(30.0);
        let c = compare(&report(1, 20.0), &worse, 0.2).unwrap();
        assert_eq!(c.regressions()[0].name, "blocks per protocol hour");
    }

    #[test]
    fn refuses_other_scenario_seed_provider_or_missing_figures() {
        assert_eq!(
            compare(&report(1, 1.0), &report(2, 1.0), 0.2),
            Err(Refusal::Seed(1, 2))
        );
        let mut other = report(1, 1.0);
        other.scenario = "t".into();
        assert!(matches!(
            compare(&report(1, 1.0), &other, 0.2),
            Err(Refusal::Scenario(..))
        ));
        let mut sim = report(1, 1.0);
        sim.provider = Some("sim".into());
        assert_eq!(
            compare(&report(1, 1.0), &sim, 0.2),
            Err(Refusal::Provider("docker".into(), "sim".into()))
        );
        let both = compare(&sim, &sim, 0.2).unwrap();
        assert!(
            both.rows.iter().all(|r| r.base.is_some()),
            "no row for a figure neither run has: {}",
            render(&both, false)
        );
        assert!(both.rows.iter().any(|r| r.name == "finality p50"));
        let mut none = report(1, 1.0);
        none.perf = None;
        assert_eq!(
            compare(&none, &report(1, 1.0), 0.2),
            Err(Refusal::NoFigures("base"))
        );
    }

    #[test]
    fn thresholds_parse() {
        assert_eq!(parse_threshold("20%"), Ok(0.2));
        assert_eq!(parse_threshold("20"), Ok(0.2));
        assert_eq!(parse_threshold("0.5"), Ok(0.5));
        assert!(parse_threshold("abc").is_err());
        assert!(parse_threshold("-5%").is_err());
    }
}
