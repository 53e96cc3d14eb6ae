//! Semantic validation: everything a well-typed scenario can still get wrong
//! (unknown nodes, faults outside the run, overlapping partition groups,
//! features this machine lacks). All problems are reported at once, each
//! with `file:line:column` when the scenario came from a file.

use super::derived::parse_skew;
use super::error::{ScenarioError, ScenarioErrors};
use super::source::{Section, Source};
use super::types::{CheckKind, FaultAction, FaultSpec, Scenario, Shape};
use std::collections::BTreeSet;
use std::time::Duration;

/// What the machine running the scenario can do. Features default to
/// "absent" so a scenario needing one is rejected rather than silently
/// run without it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// The kernel has the netem qdisc (needed for `latency`).
    pub netem: bool,
}

impl Capabilities {
    /// Every optional feature present (for `harness validate --all-features`
    /// and tests).
    pub fn all() -> Self {
        Capabilities { netem: true }
    }
}

/// Check a parsed scenario against its own rules and this machine.
pub fn validate(s: &Scenario, caps: &Capabilities) -> Result<(), ScenarioErrors> {
    let mut v = Validator {
        src: s.source.as_deref(),
        errors: Vec::new(),
        names: s.node_names().into_iter().collect(),
    };
    v.root(s);
    v.network(s);
    for (i, n) in s.nodes.iter().enumerate() {
        v.node(s, i, n);
    }
    for (i, f) in s.faults.iter().enumerate() {
        v.fault(s, caps, i, f);
    }
    v.nemesis(s, caps);
    v.workload(s);
    v.checks(s);
    if v.errors.is_empty() {
        Ok(())
    } else {
        // File order, so the first line printed is the first thing to fix.
        v.errors
            .sort_by_key(|e| e.location.map_or((usize::MAX, 0), |l| (l.line, l.column)));
        Err(ScenarioErrors(v.errors))
    }
}

/// The message for `latency` (or any netem feature) on a kernel without it.
pub fn no_netem_message(what: &str) -> String {
    format!(
        "{what} needs the netem qdisc, which this machine's kernel lacks \
         (no sch_netem); remove it or run on a host with netem"
    )
}

struct Validator<'a> {
    src: Option<&'a Source>,
    errors: Vec<ScenarioError>,
    names: BTreeSet<String>,
}

impl Validator<'_> {
    fn err(&mut self, section: Section, key: Option<&str>, msg: impl Into<String>) {
        self.errors
            .push(ScenarioError::at(self.src, section, key, msg));
    }

    fn err_value(&mut self, section: Section, key: &str, value: &str, msg: impl Into<String>) {
        let needle = format!("\"{value}\"");
        self.errors.push(ScenarioError::at_value(
            self.src, section, key, &needle, msg,
        ));
    }

    /// Every name in `names` must be a node of the network.
    fn known_nodes(&mut self, section: Section, key: &str, names: &[String], n: usize) {
        for name in names {
            if !self.names.contains(name) {
                self.err_value(
                    section,
                    key,
                    name,
                    format!("unknown node `{name}`: this network has n1..n{n}"),
                );
            }
        }
    }

    fn root(&mut self, s: &Scenario) {
        let valid_name = !s.name.is_empty()
            && s.name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid_name {
            self.err(
                Section::Root,
                Some("name"),
                "name must be non-empty and use only letters, digits, `-` and `_` \
                 (it names the run's output folder)",
            );
        }
        if s.duration.is_zero() {
            self.err(Section::Root, Some("duration"), "duration must be > 0");
        }
        if !(s.time_scale.is_finite() && s.time_scale > 0.0) {
            self.err(
                Section::Root,
                Some("time_scale"),
                format!("time_scale must be > 0, got {}", s.time_scale),
            );
        }
    }

    fn network(&mut self, s: &Scenario) {
        let n = s.network.nodes;
        if n == 0 {
            self.err(Section::Network, Some("nodes"), "nodes must be >= 1");
        }
        match s.network.masternodes {
            Some(0) => self.err(
                Section::Network,
                Some("masternodes"),
                "masternodes must be >= 1 (no masternode, no blocks)",
            ),
            Some(m) if m > n => self.err(
                Section::Network,
                Some("masternodes"),
                format!("masternodes = {m} but the network has only {n} nodes"),
            ),
            _ => {}
        }
        if s.network.block_interval.is_zero() {
            self.err(
                Section::Network,
                Some("block_interval"),
                "block_interval must be > 0",
            );
        }
        if let Some(f) = s.network.bootstrap_fanout {
            if f == 0 || f >= n.max(1) {
                self.err(
                    Section::Network,
                    Some("bootstrap_fanout"),
                    format!(
                        "bootstrap_fanout must be between 1 and nodes - 1 = {}",
                        n.saturating_sub(1)
                    ),
                );
            }
        }
    }

    fn node(&mut self, s: &Scenario, i: usize, spec: &super::types::NodeSpec) {
        let sec = Section::Node(i);
        let n = s.network.nodes;
        if !self.names.contains(&spec.name) {
            self.err(
                sec,
                Some("name"),
                format!("unknown node `{}`: this network has n1..n{n}", spec.name),
            );
        }
        if s.nodes[..i].iter().any(|o| o.name == spec.name) {
            self.err(
                sec,
                Some("name"),
                format!("node `{}` has two [[node]] tables", spec.name),
            );
        }
        if let Some(at) = spec.start_at {
            if at >= s.duration {
                self.err(
                    sec,
                    Some("start_at"),
                    format!(
                        "start_at = {} is not inside the run's duration ({})",
                        fmt_d(at),
                        fmt_d(s.duration)
                    ),
                );
            }
        }
        if let Some(boot) = &spec.bootstrap {
            if boot.is_empty() {
                self.err(
                    sec,
                    Some("bootstrap"),
                    "bootstrap must name at least one node",
                );
            }
            self.known_nodes(sec, "bootstrap", boot, n);
            if boot.contains(&spec.name) {
                self.err_value(
                    sec,
                    "bootstrap",
                    &spec.name,
                    "a node cannot bootstrap from itself",
                );
            }
        }
        if spec.foreign_genesis && s.is_masternode(&spec.name) {
            self.err(
                sec,
                Some("foreign_genesis"),
                format!(
                    "`{}` is a masternode; a foreign-genesis node must not be one \
                     (its votes would be missing from the real network): use a node after n{}",
                    spec.name,
                    s.masternode_count()
                ),
            );
        }
    }

    fn fault(&mut self, s: &Scenario, caps: &Capabilities, i: usize, f: &FaultSpec) {
        let sec = Section::Fault(i);
        let n = s.network.nodes;
        let action = f.action.name();
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
        // Keys that only make sense for one action.
        let only = |key: &str, present: bool, wanted: FaultAction| -> Option<(String, String)> {
            (present && f.action != wanted).then(|| {
                (
                    key.to_string(),
                    format!(
                        "`{key}` only applies to action = \"{}\", not \"{action}\"",
                        wanted.name()
                    ),
                )
            })
        };
        let misplaced = [
            only("shape", f.shape.is_some(), FaultAction::Partition),
            only("groups", f.groups.is_some(), FaultAction::Partition),
            only("one_way", f.one_way, FaultAction::Partition),
            only("probability", f.probability.is_some(), FaultAction::Loss),
            only("skew", f.skew.is_some(), FaultAction::ClockSkew),
            only("delay", f.delay.is_some(), FaultAction::Latency),
        ];
        for (key, msg) in misplaced.into_iter().flatten() {
            self.err(sec, Some(&key), msg);
        }
        if let Some(nodes) = &f.nodes {
            if nodes.is_empty() {
                self.err(sec, Some("nodes"), "nodes must name at least one node");
            }
            self.known_nodes(sec, "nodes", nodes, n);
        }
        match f.action {
            FaultAction::Partition => self.partition(s, sec, f),
            // Process faults without `nodes` act on one node picked by the
            // seed (replayable with `--seed`).
            FaultAction::Kill
            | FaultAction::Restart
            | FaultAction::Pause
            | FaultAction::Wipe
            | FaultAction::ClockSkew
            | FaultAction::Heal => {}
            FaultAction::Loss => match f.probability {
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
                _ => {}
            },
            FaultAction::Latency => {
                if !caps.netem {
                    self.err(sec, Some("action"), no_netem_message("latency"));
                } else if f.delay.is_none_or(|d| d.is_zero()) {
                    self.err(sec, None, "action = \"latency\" needs `delay` > 0");
                }
            }
        }
        if f.action == FaultAction::ClockSkew {
            match &f.skew {
                None => self.err(
                    sec,
                    None,
                    "action = \"clock_skew\" needs `skew`, e.g. \"+30s\"",
                ),
                Some(k) => {
                    if let Err(e) = parse_skew(k) {
                        self.err(
                            sec,
                            Some("skew"),
                            format!("skew must be a signed duration like \"+30s\" or \"-2m\": {e}"),
                        );
                    }
                }
            }
        }
    }

    fn partition(&mut self, s: &Scenario, sec: Section, f: &FaultSpec) {
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
            (Some(shape), None) => {
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
                if f.nodes.is_some() && *shape != Shape::Isolate {
                    self.err(
                        sec,
                        Some("nodes"),
                        "`nodes` only applies to shape = \"isolate\"",
                    );
                }
            }
            (None, Some(groups)) => {
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
                    if g.is_empty() {
                        self.err(
                            sec,
                            Some("groups"),
                            "every partition group needs at least one node",
                        );
                    }
                    self.known_nodes(sec, "groups", g, n);
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
        }
    }

    /// Point at the *second* occurrence of a quoted value (the duplicate).
    fn err_last_value(&mut self, sec: Section, key: &str, value: &str, msg: String) {
        let mut e = ScenarioError::at(self.src, sec, Some(key), msg);
        if let (Some(src), Some(loc)) = (self.src, e.location) {
            let needle = format!("\"{value}\"");
            let line_start: usize = src
                .text
                .split_inclusive('\n')
                .take(loc.line - 1)
                .map(str::len)
                .sum();
            let rest = &src.text[line_start..];
            let end = rest.find("\n[").map_or(rest.len(), |i| i + 1);
            let hits: Vec<usize> = rest[..end].match_indices(&needle).map(|(i, _)| i).collect();
            if hits.len() >= 2 {
                e.location = Some(src.location(line_start + hits[1]));
            }
        }
        self.errors.push(e);
    }

    fn nemesis(&mut self, s: &Scenario, caps: &Capabilities) {
        let Some(nem) = &s.nemesis else { return };
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
        for a in &nem.actions {
            match a {
                FaultAction::Latency if !caps.netem => {
                    self.err_value(sec, "actions", "latency", no_netem_message("latency"))
                }
                FaultAction::Heal => self.err_value(
                    sec,
                    "actions",
                    "heal",
                    "`heal` is not a random fault: every nemesis fault heals itself after `for`",
                ),
                _ => {}
            }
        }
        let start = nem.start.unwrap_or_default();
        let stop = nem.stop.unwrap_or(s.duration);
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
    }

    fn workload(&mut self, s: &Scenario) {
        if let Some(w) = &s.workload {
            if w.tx_interval.is_zero() {
                self.err(
                    Section::Workload,
                    Some("tx_interval"),
                    "tx_interval must be > 0",
                );
            }
        }
    }

    fn checks(&mut self, s: &Scenario) {
        if s.checks.is_empty() {
            self.err(
                Section::Root,
                None,
                "no [[check]]: a scenario without checks proves nothing \
                 (kinds: no_cycling, one_peer_per_ip, common_height, no_fork, progress, tx_delivery)",
            );
        }
        for (i, c) in s.checks.iter().enumerate() {
            let sec = Section::Check(i);
            if s.checks[..i].iter().any(|o| o.kind == c.kind) {
                self.err(
                    sec,
                    Some("kind"),
                    format!("check `{}` is listed twice", c.kind),
                );
            }
            if c.kind != CheckKind::CommonHeight {
                if c.within.is_some() {
                    self.err(
                        sec,
                        Some("within"),
                        "`within` only applies to kind = \"common_height\"",
                    );
                }
                if c.min_height.is_some() {
                    self.err(
                        sec,
                        Some("min_height"),
                        "`min_height` only applies to kind = \"common_height\"",
                    );
                }
            }
            if c.kind == CheckKind::TxDelivery && s.workload.is_none() {
                self.err(
                    sec,
                    Some("kind"),
                    "tx_delivery needs a [workload] table (tx_interval) so there are transactions to deliver",
                );
            }
            if let Some(w) = c.warmup {
                if w >= s.duration {
                    self.err(
                        sec,
                        Some("warmup"),
                        "warmup must be shorter than the run's duration",
                    );
                }
            }
        }
    }
}

fn fmt_d(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}
