//! The fault rules: each `[[fault]]` and the `[nemesis]` checked and, when
//! they pass, resolved into the [`Plan`] (the one place these rules live;
//! the schedule only makes the seed's choices from the plan).

use super::derived::{fmt_d, ms, parse_skew};
use super::events::{is_event, COVERAGE_EVENTS};
use super::plan::{
    FaultPlan, LinkShape, PartitionPlan, PlannedFault, RandomKind, RandomPlan, Targets, CPUS_MAX,
    CPUS_MIN,
};
use super::source::Section;
use super::types::{FaultAction, FaultSpec, Scenario, Shape, ALL_SHAPES};
use super::validate::{no_netem_message, sim_only_message, Capabilities, Validator};
use std::collections::BTreeSet;

impl Validator<'_> {
    /// Check one `[[fault]]`; its plan if it broke no rule.
    pub(super) fn fault(
        &mut self,
        s: &Scenario,
        caps: &Capabilities,
        i: usize,
        f: &FaultSpec,
    ) -> Option<PlannedFault> {
        let before = self.errors.len();
        let sec = Section::Fault(i);
        self.fault_timing(s, sec, f);
        self.misplaced_keys(sec, f);
        self.misplaced_probe_keys(sec, f);
        let targets = self.targets(sec, f);
        if let Some(peer) = &f.peer {
            self.node_list(sec, "peer", std::slice::from_ref(peer), "");
        }
        let fault = match f.action {
            FaultAction::Partition => self.partition(s, sec, f, targets).map(FaultPlan::Partition),
            FaultAction::Heal => Some(FaultPlan::Heal),
            // Process faults without `nodes` act on one node picked by the
            // seed (replayable with `--seed`).
            FaultAction::Kill => Some(FaultPlan::Kill(targets)),
            FaultAction::Restart => Some(FaultPlan::Restart(targets)),
            FaultAction::Pause => Some(FaultPlan::Pause(targets)),
            FaultAction::Wipe => Some(FaultPlan::Wipe(targets)),
            FaultAction::ClockSkew => self
                .skew(sec, f)
                .map(|skew_ms| FaultPlan::ClockSkew { targets, skew_ms }),
            FaultAction::Loss => self.probability(sec, f).map(|probability| FaultPlan::Loss {
                targets,
                probability,
            }),
            FaultAction::Latency => {
                let shape = self.link_shape(sec, caps, f);
                if !caps.netem {
                    let why = no_netem_message("latency");
                    self.err(
                        sec,
                        Some("action"),
                        format!("{why}; --provider sim runs it"),
                    );
                    None
                } else if let Some(d) = f.delay.filter(|d| !d.is_zero()) {
                    let shape = shape?;
                    Some(FaultPlan::Latency {
                        targets,
                        delay_ms: ms(d),
                        shape,
                    })
                } else {
                    self.err(sec, None, "action = \"latency\" needs `delay` > 0");
                    None
                }
            }
            FaultAction::CpuThrottle => self
                .cpus(sec, f)
                .map(|cpus| FaultPlan::CpuThrottle { targets, cpus }),
            FaultAction::CrossedDial | FaultAction::DuplicateDial | FaultAction::StaleHello => {
                let kind = super::probe_rules::probe_kind(f.action)?;
                self.probe(s, sec, f, kind)
            }
        }?;
        (self.errors.len() == before).then(|| PlannedFault {
            number: i + 1,
            location: self.src.and_then(|src| src.find(sec, None)),
            at_ms: ms(f.at),
            for_ms: f.duration.map(ms),
            fault,
        })
    }

    fn fault_timing(&mut self, s: &Scenario, sec: Section, f: &FaultSpec) {
        if f.at >= s.duration {
            self.err(
                sec,
                Some("at"),
                format!(
                    "at = {} is not inside the run's duration ({})",
                    fmt_d(f.at),
                    fmt_d(s.duration)
                ),
            );
        }
        if let Some(d) = f.duration {
            if d.is_zero() {
                self.err(sec, Some("for"), "`for` must be > 0");
            } else if f.at + d > s.duration {
                self.err(
                    sec,
                    Some("for"),
                    format!(
                        "at + for = {} ends after the run's duration ({})",
                        fmt_d(f.at + d),
                        fmt_d(s.duration)
                    ),
                );
            }
            if f.action == FaultAction::Heal {
                self.err(sec, Some("for"), "`heal` takes no `for`");
            }
        }
    }

    /// Keys that only make sense for one action.
    fn misplaced_keys(&mut self, sec: Section, f: &FaultSpec) {
        let only = [
            ("shape", f.shape.is_some(), FaultAction::Partition),
            ("groups", f.groups.is_some(), FaultAction::Partition),
            ("one_way", f.one_way, FaultAction::Partition),
            ("probability", f.probability.is_some(), FaultAction::Loss),
            ("skew", f.skew.is_some(), FaultAction::ClockSkew),
            ("delay", f.delay.is_some(), FaultAction::Latency),
            ("jitter", f.jitter.is_some(), FaultAction::Latency),
            ("rate_kbit", f.rate_kbit.is_some(), FaultAction::Latency),
            ("reorder", f.reorder.is_some(), FaultAction::Latency),
            ("duplicate", f.duplicate.is_some(), FaultAction::Latency),
            ("cpus", f.cpus.is_some(), FaultAction::CpuThrottle),
        ];
        for (key, present, wanted) in only {
            if present && f.action != wanted {
                self.err(
                    sec,
                    Some(key),
                    format!(
                        "`{key}` only applies to action = \"{wanted}\", not \"{}\"",
                        f.action
                    ),
                );
            }
        }
    }

    /// Keys only the protocol faults take.
    fn misplaced_probe_keys(&mut self, sec: Section, f: &FaultSpec) {
        if super::probe_rules::probe_kind(f.action).is_some() {
            return;
        }
        let keys = [
            ("peer", f.peer.is_some()),
            ("repeat", f.repeat.is_some()),
            ("during", f.during.is_some()),
        ];
        for (key, present) in keys {
            if present {
                self.err(
                    sec,
                    Some(key),
                    format!(
                        "`{key}` only applies to the protocol faults (crossed_dial, \
                         duplicate_dial, stale_hello), not \"{}\"",
                        f.action
                    ),
                );
            }
        }
    }

    /// `nodes`, checked: named known nodes, or one picked by the seed.
    fn targets(&mut self, sec: Section, f: &FaultSpec) -> Targets {
        match &f.nodes {
            None => Targets::Seeded,
            Some(nodes) => {
                self.node_list(sec, "nodes", nodes, "nodes must name at least one node");
                Targets::Named(nodes.clone())
            }
        }
    }

    fn skew(&mut self, sec: Section, f: &FaultSpec) -> Option<i64> {
        let Some(k) = &f.skew else {
            self.err(
                sec,
                None,
                "action = \"clock_skew\" needs `skew`, e.g. \"+30s\"",
            );
            return None;
        };
        parse_skew(k)
            .map_err(|e| {
                self.err(
                    sec,
                    Some("skew"),
                    format!("skew must be a signed duration like \"+30s\" or \"-2m\": {e}"),
                )
            })
            .ok()
    }

    /// `cpus` of a `cpu_throttle`, and its window: a throttle left on until
    /// the end of the run would be a slower machine, not a fault.
    fn cpus(&mut self, sec: Section, f: &FaultSpec) -> Option<f64> {
        if f.duration.is_none() {
            self.err(
                sec,
                None,
                "action = \"cpu_throttle\" needs `for` (the throttle is lifted at its end)",
            );
        }
        match f.cpus {
            None => self.err(
                sec,
                None,
                format!(
                    "action = \"cpu_throttle\" needs `cpus` ({CPUS_MIN} <= cpus <= {CPUS_MAX}, \
                     in cores: 0.05 is 5 % of one core)"
                ),
            ),
            Some(c) if !(CPUS_MIN..=CPUS_MAX).contains(&c) => self.err(
                sec,
                Some("cpus"),
                format!(
                    "cpus must be between {CPUS_MIN} (the runtime's smallest quota) and \
                     {CPUS_MAX} (a whole core starves nothing), got {c}"
                ),
            ),
            Some(c) => return Some(c),
        }
        None
    }

    /// `latency`'s sim-only keys: refused where links cannot be shaped,
    /// probabilities in [0, 1), a rate above zero.
    fn link_shape(
        &mut self,
        sec: Section,
        caps: &Capabilities,
        f: &FaultSpec,
    ) -> Option<LinkShape> {
        let before = self.errors.len();
        let keys = [
            ("jitter", f.jitter.is_some()),
            ("rate_kbit", f.rate_kbit.is_some()),
            ("reorder", f.reorder.is_some()),
            ("duplicate", f.duplicate.is_some()),
        ];
        for (key, present) in keys {
            if present && !caps.link_shaping {
                self.err(sec, Some(key), sim_only_message(key));
            }
        }
        for (key, p) in [("reorder", f.reorder), ("duplicate", f.duplicate)] {
            if let Some(p) = p.filter(|p| !(*p >= 0.0 && *p < 1.0)) {
                self.err(sec, Some(key), format!("{key} must be in [0, 1), got {p}"));
            }
        }
        if f.rate_kbit == Some(0) {
            self.err(sec, Some("rate_kbit"), "rate_kbit must be > 0");
        }
        (self.errors.len() == before).then(|| LinkShape {
            jitter_ms: f.jitter.map(ms).unwrap_or(0),
            rate_kbit: f.rate_kbit,
            reorder: f.reorder.unwrap_or(0.0),
            duplicate: f.duplicate.unwrap_or(0.0),
        })
    }

    fn probability(&mut self, sec: Section, f: &FaultSpec) -> Option<f64> {
        match f.probability {
            None => self.err(
                sec,
                None,
                "action = \"loss\" needs `probability` (0 < p < 1)",
            ),
            Some(p) if !(p > 0.0 && p < 1.0) => self.err(
                sec,
                Some("probability"),
                format!("probability must be between 0 and 1 (exclusive), got {p}"),
            ),
            Some(p) => return Some(p),
        }
        None
    }

    fn partition(
        &mut self,
        s: &Scenario,
        sec: Section,
        f: &FaultSpec,
        targets: Targets,
    ) -> Option<PartitionPlan> {
        if f.groups.is_some() && f.nodes.is_some() {
            self.err(
                sec,
                Some("nodes"),
                "`nodes` only applies to shape = \"isolate\", not to `groups`",
            );
        }
        let n = s.network.nodes;
        match (&f.shape, &f.groups) {
            (Some(_), Some(_)) => self.err(
                sec,
                Some("groups"),
                "a partition takes either `shape` or `groups`, not both",
            ),
            (None, None) => self.err(
                sec,
                None,
                "action = \"partition\" needs `shape` (halves, isolate, bridge, \
                 majorities-ring) or `groups`",
            ),
            (Some(shape), None) => return self.shape(s, sec, f, *shape, targets),
            (None, Some(groups)) => {
                self.groups(sec, groups, n);
                return Some(PartitionPlan::Groups {
                    groups: groups.clone(),
                    one_way: f.one_way,
                });
            }
        }
        None
    }

    fn shape(
        &mut self,
        s: &Scenario,
        sec: Section,
        f: &FaultSpec,
        shape: Shape,
        targets: Targets,
    ) -> Option<PartitionPlan> {
        let n = s.network.nodes;
        let min = match shape {
            Shape::Halves | Shape::Isolate => 2,
            Shape::Bridge | Shape::MajoritiesRing => 3,
        };
        if n < min {
            self.err(
                sec,
                Some("shape"),
                format!("shape {shape:?} needs at least {min} nodes, the network has {n}"),
            );
        }
        if f.nodes.is_some() && shape != Shape::Isolate {
            self.err(
                sec,
                Some("nodes"),
                "`nodes` only applies to shape = \"isolate\"",
            );
        }
        let one_way = f.one_way;
        Some(match shape {
            Shape::Halves => PartitionPlan::Halves { one_way },
            Shape::Isolate => {
                let everyone = f.nodes.as_ref().is_some_and(|ns| {
                    let named: BTreeSet<&String> = ns.iter().collect();
                    s.node_names().iter().all(|x| named.contains(x))
                });
                if everyone {
                    self.err(
                        sec,
                        Some("nodes"),
                        "isolating every node cuts nothing: leave at least one node out",
                    );
                }
                PartitionPlan::Isolate { targets, one_way }
            }
            Shape::Bridge | Shape::MajoritiesRing if one_way => {
                self.err(
                    sec,
                    Some("one_way"),
                    "`one_way` only applies to shape = \"halves\" or \"isolate\", or to `groups`",
                );
                return None;
            }
            Shape::Bridge => PartitionPlan::Bridge,
            Shape::MajoritiesRing => PartitionPlan::MajoritiesRing,
        })
    }

    fn groups(&mut self, sec: Section, groups: &[Vec<String>], n: usize) {
        // Nodes not listed form one more group of their own.
        let listed: BTreeSet<&String> = groups.iter().flatten().collect();
        if groups.is_empty() || (groups.len() == 1 && listed.len() >= n) {
            self.err(
                sec,
                Some("groups"),
                "these groups cut nothing: list at least two groups, or one group \
                 (the unlisted nodes form the other side)",
            );
        }
        let mut seen = BTreeSet::new();
        for g in groups {
            self.node_list(
                sec,
                "groups",
                g,
                "every partition group needs at least one node",
            );
            for name in g {
                if !seen.insert(name.clone()) {
                    self.err_last_value(
                        sec,
                        "groups",
                        name,
                        format!(
                            "node `{name}` is in two partition groups; groups must be disjoint"
                        ),
                    );
                }
            }
        }
    }

    /// Check the `[nemesis]`; its plan if it broke no rule.
    pub(super) fn nemesis(&mut self, s: &Scenario, caps: &Capabilities) -> Option<RandomPlan> {
        let nem = s.nemesis.as_ref()?;
        let before = self.errors.len();
        let sec = Section::Nemesis;
        if nem.interval.is_zero() {
            self.err(sec, Some("interval"), "interval must be > 0");
        }
        if nem.actions.is_empty() {
            self.err(
                sec,
                Some("actions"),
                "actions must list at least one fault action",
            );
        }
        let mut kinds = Vec::new();
        for a in &nem.actions {
            let kind = match a {
                FaultAction::Partition => RandomKind::Partition,
                FaultAction::Kill => RandomKind::Kill,
                FaultAction::Restart => RandomKind::Restart,
                FaultAction::Pause => RandomKind::Pause,
                FaultAction::Wipe => RandomKind::Wipe,
                FaultAction::ClockSkew => RandomKind::ClockSkew,
                FaultAction::Loss => RandomKind::Loss,
                FaultAction::Latency if caps.netem => RandomKind::Latency,
                FaultAction::CpuThrottle => RandomKind::CpuThrottle,
                FaultAction::Latency => {
                    self.err_value(sec, "actions", "latency", no_netem_message("latency"));
                    continue;
                }
                FaultAction::CrossedDial | FaultAction::DuplicateDial | FaultAction::StaleHello
                    if s.network.nodes < 2 =>
                {
                    self.err_value(
                        sec,
                        "actions",
                        a.name(),
                        format!("`{a}` needs two nodes: the network has one"),
                    );
                    continue;
                }
                FaultAction::CrossedDial | FaultAction::DuplicateDial | FaultAction::StaleHello => {
                    match super::probe_rules::probe_kind(*a) {
                        Some(k) => RandomKind::Probe(k),
                        None => continue,
                    }
                }
                FaultAction::Heal => {
                    self.err_value(
                        sec,
                        "actions",
                        "heal",
                        "`heal` is not a random fault: every nemesis fault heals itself after `for`",
                    );
                    continue;
                }
            };
            kinds.push(kind);
        }
        let (start, stop) = (
            nem.start.unwrap_or_default(),
            nem.stop.unwrap_or(s.duration),
        );
        if stop > s.duration {
            self.err(
                sec,
                Some("stop"),
                format!(
                    "stop = {} is after the run's duration ({})",
                    fmt_d(stop),
                    fmt_d(s.duration)
                ),
            );
        }
        if start >= stop {
            self.err(sec, Some("start"), "start must be before stop");
        }
        let shapes = nem.shapes.clone().unwrap_or_else(|| ALL_SHAPES.to_vec());
        if shapes.is_empty() {
            self.err(
                sec,
                Some("shapes"),
                "shapes must list at least one partition shape (or be left out: all four)",
            );
        }
        for e in &nem.must_reach {
            if !is_event(e) {
                let known: Vec<&str> = COVERAGE_EVENTS.iter().map(|(k, _)| *k).collect();
                self.err_value(
                    sec,
                    "must_reach",
                    e,
                    format!(
                        "unknown coverage event `{e}` in must_reach (known: {})",
                        known.join(", ")
                    ),
                );
            }
        }
        let interval_ms = ms(nem.interval);
        (self.errors.len() == before).then(|| RandomPlan {
            location: self.src.and_then(|src| src.find(sec, None)),
            interval_ms,
            for_ms: nem.duration.map_or(interval_ms / 2, ms).max(1),
            kinds,
            // By default random faults keep one interval clear at both ends
            // (time to settle first and to converge before the end).
            start_ms: nem.start.map_or(interval_ms, ms),
            stop_ms: nem
                .stop
                .map_or(ms(s.duration).saturating_sub(interval_ms), ms),
            shapes,
            must_reach: nem.must_reach.clone(),
        })
    }
}
