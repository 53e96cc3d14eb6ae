//! The fault schedule: the scenario's `[[fault]]` timeline plus the seeded
//! random `[nemesis]`, expanded into an ordered list of timed [`Step`]s
//! (start and end of each fault, protocol ms since the run started).
//!
//! Pure and deterministic: every choice left open by the scenario (which node
//! to kill, which node to isolate, the ring order, skew amounts, when random
//! faults happen) is drawn here from the seed with a small fixed PRNG
//! (SplitMix64, so replays stay identical whatever `rand` version is in use).
//! The result names exact nodes and cuts, prints one line per step and is
//! stored in `report.json`; the same scenario and `--seed` give the same
//! schedule.

use super::grudge::{self, Cut};
use crate::scenario::{
    no_netem_message, parse_skew, Capabilities, FaultAction, FaultSpec, NemesisSpec, Scenario,
    Shape,
};
use anyhow::{anyhow, bail};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// One fault with every target resolved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Fault {
    /// Drop packets along `cuts` (directed, see `grudge`).
    Partition { description: String, cuts: Vec<Cut> },
    /// End every active partition, loss and latency fault now.
    Heal,
    /// SIGKILL, then start (at once, or at the end step when it has one).
    Kill { nodes: Vec<String> },
    /// SIGTERM and wait, then start (at once, or at the end step).
    Restart { nodes: Vec<String> },
    /// Freeze (cgroup freezer); resumed at the end step or by `heal_all`.
    Pause { nodes: Vec<String> },
    /// Replace with an empty data dir (at once, or kill now and come back
    /// empty at the end step).
    Wipe { nodes: Vec<String> },
    /// Restart with the node's chain clock offset; restart without at the end.
    ClockSkew { nodes: Vec<String>, skew_ms: i64 },
    /// Drop received P2P packets with this probability.
    Loss {
        nodes: Vec<String>,
        probability: f64,
    },
    /// Delay outgoing packets (netem; only when the kernel has it).
    Latency { nodes: Vec<String>, delay_ms: u64 },
}

impl Fault {
    /// The fault's kind, as named in scenarios, spans, reports and logs.
    pub fn action(&self) -> FaultAction {
        match self {
            Fault::Partition { .. } => FaultAction::Partition,
            Fault::Heal => FaultAction::Heal,
            Fault::Kill { .. } => FaultAction::Kill,
            Fault::Restart { .. } => FaultAction::Restart,
            Fault::Pause { .. } => FaultAction::Pause,
            Fault::Wipe { .. } => FaultAction::Wipe,
            Fault::ClockSkew { .. } => FaultAction::ClockSkew,
            Fault::Loss { .. } => FaultAction::Loss,
            Fault::Latency { .. } => FaultAction::Latency,
        }
    }

    /// Nodes acted on: targets, or every node on either side of a cut.
    pub fn nodes(&self) -> Vec<String> {
        match self {
            Fault::Partition { cuts, .. } => {
                let mut v: Vec<String> = cuts
                    .iter()
                    .flat_map(|(a, b)| [a.clone(), b.clone()])
                    .collect();
                v.sort_by_key(|n| node_key(n));
                v.dedup();
                v
            }
            Fault::Heal => Vec::new(),
            Fault::Kill { nodes }
            | Fault::Restart { nodes }
            | Fault::Pause { nodes }
            | Fault::Wipe { nodes }
            | Fault::ClockSkew { nodes, .. }
            | Fault::Loss { nodes, .. }
            | Fault::Latency { nodes, .. } => nodes.clone(),
        }
    }

    /// Network faults live in the namespace and end at `heal`.
    pub fn is_network(&self) -> bool {
        matches!(
            self,
            Fault::Partition { .. } | Fault::Loss { .. } | Fault::Latency { .. }
        )
    }

    /// One human line: what this fault does.
    pub fn describe(&self) -> String {
        let nodes = self.nodes().join(" ");
        match self {
            Fault::Partition { description, cuts } => {
                format!("{description} ({} cuts)", cuts.len())
            }
            Fault::Heal => "heal every partition, loss and latency".into(),
            Fault::ClockSkew { skew_ms, .. } => format!("{nodes} clock {skew_ms:+}ms"),
            Fault::Loss { probability, .. } => {
                format!("{nodes} drop {:.1}% of P2P packets", probability * 100.0)
            }
            Fault::Latency { delay_ms, .. } => format!("{nodes} +{delay_ms}ms"),
            _ => nodes,
        }
    }
}

/// Sort `n2` before `n10`.
fn node_key(n: &str) -> (usize, String) {
    (
        n.trim_start_matches('n').parse().unwrap_or(usize::MAX),
        n.to_string(),
    )
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Ends sort before starts at the same instant (one heals, then the next
    /// fault begins).
    End,
    Start,
}

/// Where a fault came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// A `[[fault]]` entry of the scenario.
    Timeline,
    /// Drawn by the seeded `[nemesis]`.
    Random,
}

/// One timed step of the schedule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// Protocol ms since the run started.
    pub at_ms: u64,
    /// Fault number (1-based, unique in the schedule); start and end share it.
    pub id: usize,
    pub phase: Phase,
    /// Planned end of the fault (`None`: instantaneous, or until `heal` /
    /// the end of the run).
    pub until_ms: Option<u64>,
    pub origin: Origin,
    pub fault: Fault,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = match self.phase {
            Phase::Start => '+',
            Phase::End => '-',
        };
        let origin = match self.origin {
            Origin::Timeline => "",
            Origin::Random => " (random)",
        };
        let until = match (self.phase, self.until_ms) {
            (Phase::Start, Some(u)) => format!(" until {}", fmt_ms(u)),
            _ => String::new(),
        };
        write!(
            f,
            "{:>12}  {sign}{}#{}  {}{until}{origin}",
            fmt_ms(self.at_ms),
            self.fault.action(),
            self.id,
            self.fault.describe()
        )
    }
}

/// Protocol ms as a humantime string (`20m`, `1h 2m 30s`).
pub fn fmt_ms(ms: u64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    humantime::format_duration(Duration::from_millis(ms)).to_string()
}

/// The whole expanded schedule of a run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    pub seed: u64,
    pub time_scale: f64,
    /// Ordered by (`at_ms`, phase, id).
    pub steps: Vec<Step>,
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in &self.steps {
            writeln!(f, "{s}")?;
        }
        Ok(())
    }
}

/// Tiny, stable PRNG (SplitMix64): the schedule must replay identically.
struct Rng(u64);

impl Rng {
    fn new(seed: u64, stream: u64) -> Self {
        Rng(seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i as u64 + 1) as usize);
        }
    }
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

/// Expand a scenario's faults and random nemesis into a schedule.
pub fn build(scenario: &Scenario, caps: &Capabilities) -> anyhow::Result<Schedule> {
    let all = scenario.node_names();
    let foreign = scenario.foreign_nodes();
    let nodes = Nodes {
        pickable: all
            .iter()
            .filter(|n| !foreign.contains(n))
            .cloned()
            .collect(),
        all,
    };
    let mut steps = Vec::new();
    let mut id = 0;
    for (i, spec) in scenario.faults.iter().enumerate() {
        let mut rng = Rng::new(scenario.seed, i as u64 + 1);
        let fault = resolve(spec, &nodes, &mut rng, caps).map_err(|e| {
            anyhow!(
                "fault #{} ({:?} at {}): {e}",
                i + 1,
                spec.action,
                fmt_ms(ms(spec.at))
            )
        })?;
        if matches!(fault, Fault::Heal) && spec.duration.is_some() {
            bail!("fault #{} (heal): `heal` takes no `for`", i + 1);
        }
        id += 1;
        push(
            &mut steps,
            id,
            ms(spec.at),
            spec.duration.map(ms),
            Origin::Timeline,
            fault,
        );
    }
    if let Some(nemesis) = &scenario.nemesis {
        random(nemesis, scenario, &nodes, caps, &mut id, &mut steps)
            .map_err(|e| anyhow!("[nemesis]: {e}"))?;
    }
    steps.sort_by_key(|s| (s.at_ms, s.phase, s.id));
    Ok(Schedule {
        seed: scenario.seed,
        time_scale: scenario.time_scale,
        steps,
    })
}

fn push(steps: &mut Vec<Step>, id: usize, at: u64, dur: Option<u64>, origin: Origin, fault: Fault) {
    let until = dur.map(|d| at + d);
    if let Some(end) = until {
        steps.push(Step {
            at_ms: end,
            id,
            phase: Phase::End,
            until_ms: until,
            origin,
            fault: fault.clone(),
        });
    }
    steps.push(Step {
        at_ms: at,
        id,
        phase: Phase::Start,
        until_ms: until,
        origin,
        fault,
    });
}

/// The run's nodes, and those a seeded choice may pick (not the
/// foreign-genesis ones, which the checks ignore).
struct Nodes {
    all: Vec<String>,
    pickable: Vec<String>,
}

/// Targets of a process fault: named nodes (checked) or one chosen by seed.
fn targets(spec: &FaultSpec, nodes: &Nodes, rng: &mut Rng) -> anyhow::Result<Vec<String>> {
    let all = &nodes.all;
    match &spec.nodes {
        Some(nodes) if nodes.is_empty() => bail!("`nodes` is empty"),
        Some(nodes) => {
            for n in nodes {
                if !all.contains(n) {
                    bail!("unknown node {n:?} (nodes are n1..n{})", all.len());
                }
            }
            Ok(nodes.clone())
        }
        None => Ok(vec![rng.pick(&nodes.pickable).clone()]),
    }
}

fn resolve(
    spec: &FaultSpec,
    all: &Nodes,
    rng: &mut Rng,
    caps: &Capabilities,
) -> anyhow::Result<Fault> {
    use FaultAction as A;
    Ok(match spec.action {
        A::Partition => partition(spec, all, rng)?,
        A::Heal => Fault::Heal,
        A::Kill => Fault::Kill {
            nodes: targets(spec, all, rng)?,
        },
        A::Restart => Fault::Restart {
            nodes: targets(spec, all, rng)?,
        },
        A::Pause => Fault::Pause {
            nodes: targets(spec, all, rng)?,
        },
        A::Wipe => Fault::Wipe {
            nodes: targets(spec, all, rng)?,
        },
        A::ClockSkew => {
            let skew = spec
                .skew
                .as_deref()
                .ok_or_else(|| anyhow!("`clock_skew` needs `skew`, e.g. \"+30s\""))?;
            Fault::ClockSkew {
                nodes: targets(spec, all, rng)?,
                skew_ms: parse_skew(skew).map_err(|e| anyhow!("bad skew {skew:?}: {e}"))?,
            }
        }
        A::Loss => {
            let p = spec
                .probability
                .ok_or_else(|| anyhow!("`loss` needs `probability` (0 < p < 1)"))?;
            if !(p > 0.0 && p < 1.0) {
                bail!("`probability` must be strictly between 0 and 1, got {p}");
            }
            Fault::Loss {
                nodes: targets(spec, all, rng)?,
                probability: p,
            }
        }
        A::Latency => {
            if !caps.netem {
                bail!(no_netem_message("`latency`"));
            }
            let delay = spec
                .delay
                .ok_or_else(|| anyhow!("`latency` needs `delay`, e.g. \"200ms\""))?;
            Fault::Latency {
                nodes: targets(spec, all, rng)?,
                delay_ms: ms(delay),
            }
        }
    })
}

fn partition(spec: &FaultSpec, nodes: &Nodes, rng: &mut Rng) -> anyhow::Result<Fault> {
    let all = &nodes.all;
    let (description, cuts) = match (&spec.shape, &spec.groups) {
        (Some(_), Some(_)) => bail!("give either `shape` or `groups`, not both"),
        (None, None) => bail!("`partition` needs `shape` or `groups`"),
        (None, Some(groups)) => {
            let mut seen = Vec::new();
            for n in groups.iter().flatten() {
                if !all.contains(n) {
                    bail!(
                        "unknown node {n:?} in `groups` (nodes are n1..n{})",
                        all.len()
                    );
                }
                if seen.contains(&n) {
                    bail!("node {n:?} is in two groups");
                }
                seen.push(n);
            }
            let cuts = grudge::groups(all, groups, spec.one_way);
            (format!("groups {}", grudge::describe_groups(groups)), cuts)
        }
        (Some(shape), None) => {
            let isolate = match shape {
                Shape::Isolate => targets(spec, nodes, rng)?,
                _ if spec.nodes.is_some() => bail!("`nodes` only applies to shape `isolate`"),
                _ => Vec::new(),
            };
            shape_cuts(*shape, all, &isolate, spec.one_way)?
        }
    };
    if cuts.is_empty() {
        bail!("this partition cuts nothing with {} nodes", all.len());
    }
    let description = if spec.one_way {
        format!("{description} one-way")
    } else {
        description
    };
    Ok(Fault::Partition { description, cuts })
}

/// Cuts of a named shape over `ring` (node order matters for every shape).
fn shape_cuts(
    shape: Shape,
    ring: &[String],
    isolate: &[String],
    one_way: bool,
) -> anyhow::Result<(String, Vec<Cut>)> {
    Ok(match shape {
        Shape::Halves => {
            let g = grudge::halves_groups(ring);
            (
                format!("halves {}", grudge::describe_groups(&g)),
                grudge::groups(ring, &g, one_way),
            )
        }
        Shape::Isolate => {
            let g = grudge::isolate_groups(ring, isolate);
            (
                format!("isolate {}", grudge::describe_groups(&g)),
                grudge::groups(ring, &g, one_way),
            )
        }
        Shape::Bridge | Shape::MajoritiesRing if one_way => {
            bail!("`one_way` needs halves, isolate or groups")
        }
        Shape::Bridge => {
            let k = ring.len() / 2;
            let desc = format!(
                "bridge {} <{}> {}",
                ring[..k].join(" "),
                ring.get(k).cloned().unwrap_or_default(),
                ring.get(k + 1..).unwrap_or_default().join(" ")
            );
            (desc, grudge::bridge(ring))
        }
        Shape::MajoritiesRing => (
            format!("majorities-ring {}", ring.join(" ")),
            grudge::majorities_ring(ring),
        ),
    })
}

/// The seeded random nemesis: one fault at a time, each lasting `for`
/// (default interval/2), starts spaced by `interval` on average
/// (uniform in [interval/2, 3*interval/2], whole seconds, never overlapping), inside
/// [start, stop] (default [interval, duration - interval], leaving time to
/// converge before the end).
fn random(
    spec: &NemesisSpec,
    scenario: &Scenario,
    nodes: &Nodes,
    caps: &Capabilities,
    id: &mut usize,
    steps: &mut Vec<Step>,
) -> anyhow::Result<()> {
    let interval = ms(spec.interval);
    if interval == 0 {
        bail!("`interval` must be > 0");
    }
    if spec.actions.is_empty() {
        bail!("`actions` is empty");
    }
    for a in &spec.actions {
        match a {
            FaultAction::Heal => {
                bail!("`heal` is not a random action (every random fault heals after `for`)")
            }
            FaultAction::Latency if !caps.netem => bail!(no_netem_message("`latency`")),
            _ => {}
        }
    }
    let dur = spec.duration.map(ms).unwrap_or(interval / 2).max(1);
    let start = spec.start.map(ms).unwrap_or(interval);
    let stop = spec
        .stop
        .map(ms)
        .unwrap_or(ms(scenario.duration).saturating_sub(interval));
    let mut rng = Rng::new(scenario.seed, 0x7A11_D0E5);
    let mut t = start;
    while t + dur <= stop {
        let action = *rng.pick(&spec.actions);
        let fault = random_fault(action, nodes, &mut rng)?;
        *id += 1;
        push(steps, *id, t, Some(dur), Origin::Random, fault);
        let mut gap = interval / 2 + rng.below(interval.max(1));
        if interval >= 10_000 {
            // Whole seconds: a schedule people read and replay.
            gap -= gap % 1000;
        }
        t += gap.max(dur);
    }
    Ok(())
}

fn random_fault(action: FaultAction, nodes: &Nodes, rng: &mut Rng) -> anyhow::Result<Fault> {
    use FaultAction as A;
    let all = &nodes.all;
    let one = vec![rng.pick(&nodes.pickable).clone()];
    Ok(match action {
        A::Partition => {
            let mut ring = all.to_vec();
            rng.shuffle(&mut ring);
            let shapes = [
                Shape::Halves,
                Shape::Isolate,
                Shape::Bridge,
                Shape::MajoritiesRing,
            ];
            let shape = *rng.pick(&shapes);
            let (mut desc, mut cuts) = shape_cuts(shape, &ring, &one, false)?;
            if cuts.is_empty() {
                (desc, cuts) = shape_cuts(Shape::Isolate, &ring, &one, false)?;
            }
            Fault::Partition {
                description: desc,
                cuts,
            }
        }
        A::Kill => Fault::Kill { nodes: one },
        A::Restart => Fault::Restart { nodes: one },
        A::Pause => Fault::Pause { nodes: one },
        A::Wipe => Fault::Wipe { nodes: one },
        A::ClockSkew => {
            let secs = 5 + rng.below(56) as i64;
            let sign = if rng.below(2) == 0 { -1 } else { 1 };
            Fault::ClockSkew {
                nodes: one,
                skew_ms: sign * secs * 1000,
            }
        }
        A::Loss => Fault::Loss {
            nodes: one,
            probability: *rng.pick(&[0.05, 0.1, 0.2]),
        },
        A::Latency => Fault::Latency {
            nodes: one,
            delay_ms: *rng.pick(&[50, 100, 200]),
        },
        A::Heal => bail!("`heal` is not a random action"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(toml_faults: &str) -> Scenario {
        let text = format!(
            "name = \"t\"\nduration = \"1h\"\nseed = 7\n[network]\nnodes = 6\n{toml_faults}"
        );
        toml::from_str(&text).unwrap()
    }

    fn caps() -> Capabilities {
        Capabilities { netem: false }
    }

    #[test]
    fn timeline_faults_expand_to_ordered_start_and_end_steps() {
        let s = scenario(
            r#"
            [[fault]]
            at = "20m"
            for = "5m"
            action = "partition"
            shape = "halves"
            [[fault]]
            at = "10m"
            action = "kill"
            nodes = ["n2"]
            [[fault]]
            at = "25m"
            for = "1m"
            action = "pause"
            nodes = ["n4"]
            "#,
        );
        let plan = build(&s, &caps()).unwrap();
        let brief: Vec<(u64, usize, Phase)> = plan
            .steps
            .iter()
            .map(|s| (s.at_ms / 60_000, s.id, s.phase))
            .collect();
        assert_eq!(
            brief,
            vec![
                (10, 2, Phase::Start),
                (20, 1, Phase::Start),
                (25, 1, Phase::End),
                (25, 3, Phase::Start),
                (26, 3, Phase::End)
            ]
        );
        let Fault::Partition { cuts, description } = &plan.steps[1].fault else {
            panic!()
        };
        assert_eq!(cuts.len(), 18);
        assert_eq!(description, "halves n1 n2 n3 | n4 n5 n6");
        assert_eq!(
            plan.steps[0].until_ms, None,
            "kill without `for` restarts at once"
        );
        assert_eq!(plan.steps[1].until_ms, Some(25 * 60_000));
    }

    #[test]
    fn display_prints_one_line_per_step() {
        let s = scenario("[[fault]]\nat = \"90s\"\nfor = \"30s\"\naction = \"clock_skew\"\nnodes = [\"n3\"]\nskew = \"-2m\"\n");
        let plan = build(&s, &caps()).unwrap();
        let text = plan.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(
            lines[0].contains("1m 30s")
                && lines[0].contains("+clock_skew#1")
                && lines[0].contains("n3 clock -120000ms"),
            "{}",
            lines[0]
        );
        assert!(lines[0].contains("until 2m"), "{}", lines[0]);
        assert!(
            lines[1].trim_start().starts_with("2m  -clock_skew#1"),
            "{}",
            lines[1]
        );
    }

    #[test]
    fn targets_left_open_are_chosen_by_seed_and_replay_identically() {
        let text = "[[fault]]\nat = \"1m\"\naction = \"partition\"\nshape = \"isolate\"\n[[fault]]\nat = \"2m\"\naction = \"restart\"\n";
        let a = build(&scenario(text), &caps()).unwrap();
        let b = build(&scenario(text), &caps()).unwrap();
        assert_eq!(a, b);
        let Fault::Partition { cuts, .. } = &a.steps[0].fault else {
            panic!()
        };
        assert_eq!(cuts.len(), 10, "one node isolated from five, both ways");
        // Different seeds choose different targets at least sometimes.
        let picks: std::collections::BTreeSet<Vec<String>> = (0..20)
            .map(|seed| {
                let mut s = scenario(text);
                s.seed = seed;
                build(&s, &caps()).unwrap().steps[1].fault.nodes()
            })
            .collect();
        assert!(picks.len() > 1);
    }

    #[test]
    fn schedule_roundtrips_through_json() {
        let s = scenario(
            "[[fault]]\nat = \"1m\"\nfor = \"1m\"\naction = \"loss\"\nnodes = [\"n1\"]\nprobability = 0.1\n[nemesis]\ninterval = \"5m\"\nactions = [\"kill\", \"partition\", \"wipe\"]\n",
        );
        let plan = build(&s, &caps()).unwrap();
        let json = serde_json::to_string(&plan).unwrap();
        let back: Schedule = serde_json::from_str(&json).unwrap();
        assert_eq!(plan, back);
        assert!(json.contains("\"action\":\"loss\""));
    }

    #[test]
    fn random_nemesis_is_deterministic_one_at_a_time_and_inside_its_window() {
        let s = scenario(
            "[nemesis]\ninterval = \"2m\"\nfor = \"1m\"\nactions = [\"kill\", \"partition\", \"pause\", \"clock_skew\", \"loss\", \"restart\", \"wipe\"]\nstart = \"5m\"\nstop = \"50m\"\n",
        );
        let a = build(&s, &caps()).unwrap();
        assert_eq!(a, build(&s, &caps()).unwrap());
        let mut other = s.clone();
        other.seed = 8;
        assert_ne!(a, build(&other, &caps()).unwrap());
        let starts: Vec<&Step> = a.steps.iter().filter(|s| s.phase == Phase::Start).collect();
        assert!(
            starts.len() >= 15,
            "about (50-5)/2 faults, got {}",
            starts.len()
        );
        let mut last_end = 0;
        for st in &starts {
            assert!(st.at_ms >= 5 * 60_000);
            let end = st.until_ms.unwrap();
            assert_eq!(end - st.at_ms, 60_000);
            assert!(end <= 50 * 60_000);
            assert!(st.at_ms >= last_end, "faults overlap");
            last_end = end;
            assert_eq!(st.at_ms % 1000, 0, "whole seconds");
            assert_eq!(st.origin, Origin::Random);
        }
        let kinds: std::collections::BTreeSet<&str> =
            starts.iter().map(|s| s.fault.action().name()).collect();
        assert!(kinds.len() >= 5, "{kinds:?}");
    }

    #[test]
    fn bad_faults_are_rejected_with_clear_messages() {
        let cases = [
            ("[[fault]]\nat = \"1m\"\naction = \"latency\"\ndelay = \"100ms\"\n", "netem"),
            ("[[fault]]\nat = \"1m\"\naction = \"partition\"\n", "needs `shape` or `groups`"),
            ("[[fault]]\nat = \"1m\"\naction = \"kill\"\nnodes = [\"n9\"]\n", "unknown node \"n9\""),
            ("[[fault]]\nat = \"1m\"\naction = \"partition\"\ngroups = [[\"n1\"],[\"n1\",\"n2\"]]\n", "two groups"),
            ("[[fault]]\nat = \"1m\"\naction = \"loss\"\nprobability = 1.5\n", "between 0 and 1"),
            ("[[fault]]\nat = \"1m\"\naction = \"clock_skew\"\n", "needs `skew`"),
            ("[[fault]]\nat = \"1m\"\naction = \"partition\"\nshape = \"bridge\"\none_way = true\n", "one_way"),
            ("[nemesis]\ninterval = \"1m\"\nactions = [\"heal\"]\n", "not a random action"),
            ("[nemesis]\ninterval = \"1m\"\nactions = [\"latency\"]\n", "netem"),
        ];
        for (text, want) in cases {
            let err = build(&scenario(text), &caps()).unwrap_err().to_string();
            assert!(err.contains(want), "{text}: {err}");
        }
        // With netem present, latency is accepted.
        let ok = build(&scenario(cases[0].0), &Capabilities::all()).unwrap();
        assert_eq!(ok.steps[0].fault.action(), FaultAction::Latency);
    }

    #[test]
    fn random_partitions_use_a_seeded_ring_and_always_cut_something() {
        for seed in 0..30 {
            let mut s = scenario("[nemesis]\ninterval = \"2m\"\nactions = [\"partition\"]\n");
            s.seed = seed;
            for st in build(&s, &caps()).unwrap().steps {
                let Fault::Partition { cuts, .. } = &st.fault else {
                    panic!()
                };
                assert!(!cuts.is_empty());
            }
        }
    }
}
