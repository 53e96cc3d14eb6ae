//! `harness shrink`: delta-debug a failing schedule (Zeller's ddmin over
//! its faults, then shorter windows, then earlier starts), re-running each
//! candidate in sim (`run --schedule`) and keeping it only when it fails
//! the same check; confirm k of k reruns of the written file; write it to
//! `scenarios/regressions/<check>-<date>.toml`.

use super::child::{self, Outcome};
use super::regression::{self, Item};
use crate::runner::{Exit, Provider};
use crate::scenario::{fmt_ms, Scenario};
use std::path::{Path, PathBuf};

/// Confirmation reruns of the result (all must fail the same check).
pub const CONFIRM_RUNS: usize = 3;
/// Most candidate runs one shrink may spend (a 12-fault schedule needs
/// about 60 with ddmin plus the window passes).
pub const MAX_RUNS: usize = 400;
/// A window is not shortened below this (a fault must still be a fault).
pub const MIN_WINDOW_MS: u64 = 5_000;
/// The node count is not shrunk below this: bridge and majorities-ring
/// need 3 nodes, and below 3 validators one fault already stops consensus
/// (quorum is every node), a different protocol regime than the run's.
pub const MIN_NODES: usize = 3;

#[derive(Clone, Debug)]
pub struct ShrinkOptions {
    /// Where candidates run (`<work>/cand-N/`).
    pub work: PathBuf,
    /// Folder of regression scenarios.
    pub regressions: PathBuf,
    /// sim (default) or docker: with docker the written file must also fail there.
    pub provider: Provider,
    /// Docker: the `timed` binary the confirmation runs (a build with a
    /// hand-patched defect); sim candidates run the node code linked into
    /// this harness whatever this says.
    pub timed: Option<PathBuf>,
}

/// The failing run to shrink.
pub struct Failing {
    /// The scenario the run used (its file).
    pub scenario_file: PathBuf,
    pub scenario: Scenario,
    pub items: Vec<Item>,
    pub seed: u64,
    pub check: String,
    pub message: String,
}

/// A failing run folder (a `harness run` output or an explore seed folder).
pub fn from_run_dir(dir: &Path) -> anyhow::Result<Failing> {
    let dir = if dir.join("report.json").exists() {
        dir.to_path_buf()
    } else {
        dir.join("run")
    };
    let rep = child::read_report(&dir)?;
    let check = rep
        .checks
        .iter()
        .find(|c| !c.passed)
        .ok_or_else(|| anyhow::anyhow!("{}: no check failed in this run", dir.display()))?;
    let file = rep
        .file
        .clone()
        .ok_or_else(|| anyhow::anyhow!("report.json names no scenario file"))?;
    let schedule = rep
        .schedule
        .clone()
        .ok_or_else(|| anyhow::anyhow!("report.json has no schedule"))?;
    Ok(Failing {
        scenario: crate::scenario::load(&file)?,
        scenario_file: file,
        items: regression::items(&schedule),
        seed: rep.seed,
        check: check.name.clone(),
        message: check
            .first_violation
            .as_ref()
            .map(|v| v.message.clone())
            .unwrap_or_default(),
    })
}

/// Run `file` with `seed` in sim once and take its failure.
pub fn from_seed(file: &Path, seed: u64, work: &Path) -> anyhow::Result<Failing> {
    let base = crate::scenario::load(file)?;
    let sc = super::swarm::seed_scenario(&base, seed, false, Provider::Sim, &Default::default())
        .ok_or_else(|| anyhow::anyhow!("sim can model none of the nemesis kinds"))?;
    std::fs::create_dir_all(work)?;
    let path = work.join("seed.toml");
    std::fs::write(&path, toml::to_string(&sc)?)?;
    let out = work.join("seed-run");
    let o = child::run(&path, Provider::Sim, &out, Default::default())?;
    if !o.failed() {
        anyhow::bail!(
            "seed {seed} does not fail in sim (exit {}{})",
            o.exit,
            o.error.map(|e| format!(": {e}")).unwrap_or_default()
        );
    }
    from_run_dir(&out)
}

struct Tester<'a> {
    f: &'a Failing,
    opts: &'a ShrinkOptions,
    runs: usize,
    /// The node count candidates run with (the scenario's, until shrunk).
    nodes: usize,
}

impl Tester<'_> {
    /// Whether `items` still fail with `nodes` nodes.
    fn fails_with(&mut self, items: &[Item], nodes: usize) -> anyhow::Result<bool> {
        let keep = self.nodes;
        self.nodes = nodes;
        let r = self.fails(items);
        self.nodes = keep;
        r
    }
}

/// The scenario with only its first `nodes` nodes (masternodes capped).
pub fn with_nodes(sc: &Scenario, nodes: usize) -> Scenario {
    let mut sc = sc.clone();
    sc.network.nodes = nodes;
    sc.network.masternodes = sc.network.masternodes.map(|m| m.min(nodes));
    sc
}

/// Whether the last of `nodes` nodes can go: no fault of `items` and no
/// `[[node]]` table names it, and no bootstrap list needs it.
fn can_drop_last(sc: &Scenario, items: &[Item], nodes: usize) -> bool {
    let last = format!("n{nodes}");
    nodes > MIN_NODES
        && items.iter().all(|i| !i.fault.nodes().contains(&last))
        && sc
            .nodes
            .iter()
            .all(|n| n.name != last && n.bootstrap.as_ref().is_none_or(|b| !b.contains(&last)))
}

/// The shrinker's oracle: does this fault list still fail the same check?
trait Test {
    fn fails(&mut self, items: &[Item]) -> anyhow::Result<bool>;
}

impl Test for Tester<'_> {
    /// Runs the candidate in sim (`run --schedule`).
    fn fails(&mut self, items: &[Item]) -> anyhow::Result<bool> {
        if self.runs >= MAX_RUNS {
            return Ok(false);
        }
        self.runs += 1;
        let dir = self.opts.work.join(format!("cand-{}", self.runs));
        std::fs::create_dir_all(&dir)?;
        let sched = regression::schedule(items, self.f.seed, self.f.scenario.time_scale);
        let path = dir.join("schedule.json");
        std::fs::write(&path, serde_json::to_vec_pretty(&sched)?)?;
        let file = if self.nodes == self.f.scenario.network.nodes {
            self.f.scenario_file.clone()
        } else {
            let p = dir.join("scenario.toml");
            let sc = with_nodes(&self.f.scenario, self.nodes);
            std::fs::write(&p, toml::to_string(&sc)?)?;
            p
        };
        let extra = child::Extra {
            schedule: Some(&path),
            ..Default::default()
        };
        let o = child::run(&file, Provider::Sim, &dir.join("run"), extra)?;
        let ok = same(&o, &self.f.check);
        eprintln!(
            "shrink: candidate {} ({} faults, {} nodes): {}",
            self.runs,
            items.len(),
            self.nodes,
            if ok {
                "fails the same check, kept"
            } else {
                "no"
            }
        );
        Ok(ok)
    }
}

fn same(o: &Outcome, check: &str) -> bool {
    o.failed() && o.check.as_deref() == Some(check)
}

/// ddmin (Zeller and Hildebrandt 2002) over the fault list.
fn ddmin(t: &mut impl Test, mut items: Vec<Item>) -> anyhow::Result<Vec<Item>> {
    let mut n = 2usize;
    while items.len() >= 2 {
        let chunk = items.len().div_ceil(n);
        let parts: Vec<Vec<Item>> = items.chunks(chunk).map(|c| c.to_vec()).collect();
        let mut reduced = false;
        for (i, part) in parts.iter().enumerate() {
            if t.fails(part)? {
                items = part.clone();
                n = 2;
                reduced = true;
                break;
            }
            if parts.len() > 2 {
                let rest: Vec<Item> = parts
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .flat_map(|(_, p)| p.clone())
                    .collect();
                if t.fails(&rest)? {
                    items = rest;
                    n = (n - 1).max(2);
                    reduced = true;
                    break;
                }
            }
        }
        if !reduced {
            if n >= items.len() {
                break;
            }
            n = (n * 2).min(items.len());
        }
    }
    // A single fault may itself be unnecessary.
    if items.len() == 1 && t.fails(&[])? {
        items.clear();
    }
    Ok(items)
}

/// Halve each window while it still fails.
fn shorten(t: &mut impl Test, mut items: Vec<Item>) -> anyhow::Result<Vec<Item>> {
    for i in 0..items.len() {
        while let Some(d) = items[i].for_ms.filter(|d| d / 2 >= MIN_WINDOW_MS) {
            let mut c = items.clone();
            c[i].for_ms = Some(d / 2 - (d / 2) % 1000);
            if !t.fails(&c)? {
                break;
            }
            items = c;
        }
    }
    Ok(items)
}

/// Move each fault halfway to the end of the one before it while it still fails.
fn earlier(t: &mut impl Test, mut items: Vec<Item>) -> anyhow::Result<Vec<Item>> {
    items.sort_by_key(|i| i.at_ms);
    for i in 0..items.len() {
        let floor = if i == 0 {
            0
        } else {
            items[i - 1].at_ms + items[i - 1].for_ms.unwrap_or(0)
        };
        while items[i].at_ms > floor + 2 * MIN_WINDOW_MS {
            let mut c = items.clone();
            let to = floor + (items[i].at_ms - floor) / 2;
            c[i].at_ms = to - to % 1000;
            if !t.fails(&c)? {
                break;
            }
            items = c;
        }
    }
    Ok(items)
}

/// Drop the last node while no remaining fault names it and it still fails.
fn fewer_nodes(t: &mut Tester, items: &[Item]) -> anyhow::Result<usize> {
    while can_drop_last(&t.f.scenario, items, t.nodes) {
        if !t.fails_with(items, t.nodes - 1)? {
            break;
        }
        t.nodes -= 1;
    }
    Ok(t.nodes)
}

/// What shrink produced.
pub struct Shrunk {
    pub before: Vec<Item>,
    pub after: Vec<Item>,
    pub runs: usize,
    pub file: Option<PathBuf>,
    /// Node count before and after.
    pub nodes: (usize, usize),
}

pub fn list(items: &[Item]) -> String {
    items
        .iter()
        .map(|i| {
            format!(
                "  at {:>7} for {:>7}  {:<10} {}\n",
                fmt_ms(i.at_ms),
                i.for_ms.map_or("-".into(), fmt_ms),
                format!("{:?}", i.fault.action()).to_lowercase(),
                i.fault.describe()
            )
        })
        .collect()
}

pub fn shrink(f: &Failing, opts: &ShrinkOptions) -> anyhow::Result<(Exit, Shrunk)> {
    let n0 = f.scenario.network.nodes;
    let mut t = Tester {
        f,
        opts,
        runs: 0,
        nodes: n0,
    };
    let before = f.items.clone();
    eprintln!(
        "shrink: {} faults, failing {}: {}",
        before.len(),
        f.check,
        f.message
    );
    let mut items = ddmin(&mut t, before.clone())?;
    items = shorten(&mut t, items)?;
    items = earlier(&mut t, items)?;
    let nodes = fewer_nodes(&mut t, &items)?;
    let mut shrunk = Shrunk {
        before,
        after: items.clone(),
        runs: t.runs,
        file: None,
        nodes: (n0, nodes),
    };
    let date = &humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()[..10];
    let name = format!("{}-{date}", f.check);
    let description = format!(
        "Shrunk by `harness shrink` from seed {} of {} ({} faults -> {}). \
         It fails {}: {}",
        f.seed,
        f.scenario.name,
        shrunk.before.len(),
        items.len(),
        f.check,
        f.message
    );
    let description = if nodes < n0 {
        format!("{description} (nodes {n0} -> {nodes})")
    } else {
        description
    };
    let sc = regression::scenario(&with_nodes(&f.scenario, nodes), &items, &name, description)?;
    std::fs::create_dir_all(&opts.regressions)?;
    let mut path = opts.regressions.join(format!("{name}.toml"));
    let mut k = 2;
    while path.exists() {
        path = opts.regressions.join(format!("{name}-{k}.toml"));
        k += 1;
    }
    // Confirm on the file as written (k of k), before it lands.
    let tmp = opts.work.join("regression.toml");
    std::fs::write(&tmp, toml::to_string(&sc)?)?;
    let mut providers = vec![Provider::Sim];
    if opts.provider == Provider::Docker {
        providers.push(Provider::Docker);
    }
    for p in providers {
        let reruns = if p == Provider::Sim { CONFIRM_RUNS } else { 1 };
        for r in 0..reruns {
            let dir = opts
                .work
                .join(format!("confirm-{}-{r}", child::provider_name(p)));
            let extra = child::Extra {
                timed: opts.timed.as_deref(),
                ..Default::default()
            };
            let o = child::run(&tmp, p, &dir, extra)?;
            if !same(&o, &f.check) {
                eprintln!(
                    "shrink: the shrunk file did not fail {} on {} (rerun {}: exit {}, {:?}); not written",
                    f.check,
                    child::provider_name(p),
                    r + 1,
                    o.exit,
                    o.check
                );
                return Ok((Exit::CheckFailed, shrunk));
            }
        }
        eprintln!(
            "shrink: confirmed on {}: {reruns} of {reruns} runs fail {}",
            child::provider_name(p),
            f.check
        );
    }
    std::fs::copy(&tmp, &path)?;
    shrunk.file = Some(path);
    Ok((Exit::Pass, shrunk))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nemesis::schedule::Fault;

    /// Fails when faults on n2 and n5 are both present, n5's lasting >= 8s
    /// and starting after 20s (a synthetic interleaving bug).
    struct Oracle(usize);
    impl Test for Oracle {
        fn fails(&mut self, items: &[Item]) -> anyhow::Result<bool> {
            self.0 += 1;
            let on = |n: &str| {
                items
                    .iter()
                    .find(|i| i.fault.nodes() == vec![n.to_string()])
            };
            Ok(on("n2").is_some()
                && on("n5").is_some_and(|i| i.for_ms.unwrap_or(0) >= 8_000 && i.at_ms >= 20_000))
        }
    }

    #[test]
    fn ddmin_then_windows_then_earlier_reach_the_two_needed_faults() {
        let items: Vec<Item> = (1..=9)
            .map(|k| Item {
                at_ms: 60_000 * k,
                for_ms: Some(60_000),
                fault: Fault::Kill {
                    nodes: vec![format!("n{k}")],
                },
            })
            .collect();
        let mut o = Oracle(0);
        assert!(o.fails(&items).unwrap());
        let min = ddmin(&mut o, items).unwrap();
        assert_eq!(min.len(), 2, "{min:?}");
        let min = shorten(&mut o, min).unwrap();
        let n5 = min.iter().find(|i| i.fault.nodes() == ["n5"]).unwrap();
        assert!(
            n5.for_ms.unwrap() < 16_000 && n5.for_ms.unwrap() >= 8_000,
            "{n5:?}"
        );
        let min = earlier(&mut o, min).unwrap();
        assert!(o.fails(&min).unwrap());
        let n2 = min.iter().find(|i| i.fault.nodes() == ["n2"]).unwrap();
        assert!(n2.at_ms < 120_000, "{n2:?}");
        assert!(o.0 < 60, "{} oracle calls", o.0);
    }
}
