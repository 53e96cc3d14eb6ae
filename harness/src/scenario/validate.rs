//! Semantic validation: everything a well-typed scenario can still get wrong
//! (unknown nodes, faults outside the run, overlapping partition groups,
//! features this machine lacks). All problems are reported at once, each
//! with `file:line:column` when the scenario came from a file.

use super::derived::fmt_d;
use super::error::{ScenarioError, ScenarioErrors};
use super::plan::Plan;
use super::source::{Section, Source};
use super::types::{CheckKind, Scenario};
use std::collections::BTreeSet;

/// What the machine running the scenario can do. Features default to
/// "absent" so a scenario needing one is rejected rather than silently
/// run without it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// The kernel has the netem qdisc (needed for `latency`).
    pub netem: bool,
    /// Links can be shaped beyond a fixed delay (`latency`'s `jitter`,
    /// `rate_kbit`, `reorder`, `duplicate`): only the simulation can.
    pub link_shaping: bool,
}

impl Capabilities {
    /// Every optional feature present (for `harness validate --all-features`
    /// and tests).
    pub fn all() -> Self {
        Capabilities {
            netem: true,
            link_shaping: true,
        }
    }
}

/// Check a parsed scenario against its own rules and this machine; its
/// resolved fault [`Plan`] if it passes. The one validation step: `harness
/// validate` and `harness run` both call it, and the schedule is built from
/// the plan without further checks.
pub fn validate(s: &Scenario, caps: &Capabilities) -> Result<Plan, ScenarioErrors> {
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
    let faults: Vec<_> = s
        .faults
        .iter()
        .enumerate()
        .filter_map(|(i, f)| v.fault(s, caps, i, f))
        .collect();
    let nemesis = v.nemesis(s, caps);
    v.workload(s);
    v.checks(s);
    if v.errors.is_empty() {
        Ok(Plan { faults, nemesis })
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

/// The message for a `latency` key only `--provider sim` can apply.
pub fn sim_only_message(key: &str) -> String {
    format!(
        "`{key}` is applied only by `--provider sim` (the docker provider's netem \
         delay is a fixed delay per node, and no kernel reorders or duplicates one \
         TCP stream's messages); run this scenario with --provider sim"
    )
}

/// Collects every problem of one scenario (the fault rules live in
/// `fault_rules.rs`).
pub(super) struct Validator<'a> {
    pub(super) src: Option<&'a Source>,
    pub(super) errors: Vec<ScenarioError>,
    names: BTreeSet<String>,
}

impl Validator<'_> {
    pub(super) fn err(&mut self, section: Section, key: Option<&str>, msg: impl Into<String>) {
        self.errors
            .push(ScenarioError::at(self.src, section, key, msg));
    }

    pub(super) fn err_value(
        &mut self,
        section: Section,
        key: &str,
        value: &str,
        msg: impl Into<String>,
    ) {
        let needle = format!("\"{value}\"");
        self.errors.push(ScenarioError::at_value(
            self.src, section, key, &needle, msg,
        ));
    }

    /// A list of node names under `key`: not empty (else `if_empty`), and
    /// every name a node of the network.
    pub(super) fn node_list(&mut self, sec: Section, key: &str, names: &[String], if_empty: &str) {
        if names.is_empty() {
            self.err(sec, Some(key), if_empty);
        }
        self.known_nodes(sec, key, names);
    }

    /// Every name in `names` must be a node of the network (`n1..nN`).
    fn known_nodes(&mut self, section: Section, key: &str, names: &[String]) {
        let n = self.names.len();
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
            self.node_list(
                sec,
                "bootstrap",
                boot,
                "bootstrap must name at least one node",
            );
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

    /// Point at the *second* occurrence of a quoted value (the duplicate).
    pub(super) fn err_last_value(&mut self, sec: Section, key: &str, value: &str, msg: String) {
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
