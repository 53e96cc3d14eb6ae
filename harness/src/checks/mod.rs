//! Checks: pure functions over an observation [`Timeline`], so each one is
//! unit-tested with synthetic timelines and no Docker.
//!
//! Public API (what the runner calls):
//! - [`evaluate`]`(&scenario, &timeline) -> Vec<CheckResult>`: one result per
//!   `[[check]]` of the scenario, in the scenario's order.
//! - [`evaluate_one`]`(kind, &scenario, &timeline)` for a single check
//!   (e.g. a live progress line).
//! - [`Params::new`] shows the defaults for `warmup`, `grace`, `within`.
//!
//! Every time here is protocol ms since the run started. A result carries
//! the FIRST violation (time, nodes, message) and a short measured summary.
//! Checks are fault-aware through the timeline's fault spans, scoped per
//! pair and per node, never the whole network: a pair cut by a partition,
//! or a pair touching a node killed/restarted/paused/wiped, is excused during
//! `[fault start, fault end + grace]`, and must then reconnect exactly once
//! per fault. Nodes started with a foreign genesis are ignored everywhere.
//!
//! Modules, one check each: `no_cycling`, `one_peer_per_ip`, `common_height`,
//! `no_fork`, `progress`, `tx_delivery`, `node_up` (every node that should
//! run runs), `kernel_view` (`/peers` = kernel table), `dial_backoff` (no
//! dial storm), `height_lag` (nobody trails the top), `probe_answers` (the
//! protocol faults were answered honestly); `view` is the shared
//! index, `params` the defaults, `testkit` the synthetic timelines.

mod common_height;
mod dial_backoff;
mod handshakes;
mod heard;
mod height_lag;
mod kernel_view;
mod no_cycling;
mod no_fork;
mod node_up;
mod one_peer_per_ip;
mod params;
mod probe_answers;
mod progress;
mod tx_delivery;
mod view;

#[cfg(test)]
mod testkit;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_agreement;
#[cfg(test)]
mod tests_counts;
#[cfg(test)]
mod tests_details;
#[cfg(test)]
mod tests_dial;
#[cfg(test)]
mod tests_faults;
#[cfg(test)]
mod tests_frozen;
#[cfg(test)]
mod tests_lag;
#[cfg(test)]
mod tests_rules;
#[cfg(test)]
mod tests_scale;
#[cfg(test)]
mod tests_throttle;
#[cfg(test)]
mod tests_tie_break;
#[cfg(test)]
mod tests_unlogged;

pub use crate::scenario::fmt_ms;
pub use params::Params;
pub use view::{View, Window};

use crate::observe::model::Timeline;
use crate::scenario::{CheckKind, CheckSpec, Scenario};
use serde::{Deserialize, Serialize};

/// The first thing that went wrong, for a human to start from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// Protocol ms since the run started.
    pub t: u64,
    /// The nodes involved, sorted (`["n1", "n2"]` for a pair).
    pub nodes: Vec<String>,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    pub kind: CheckKind,
    /// `no_cycling`, ... (the kind's name; the JUnit test case name).
    pub name: String,
    pub passed: bool,
    pub first_violation: Option<Violation>,
    /// How many violations were found in total (the first is reported).
    pub violations: usize,
    /// A short measured summary, e.g. "15 pairs connected once; 0 ping timeouts".
    pub details: String,
    /// The protocol-time window the check covered.
    pub evaluated_from: u64,
    pub evaluated_to: u64,
    /// Wall microseconds this check's own evaluation took (set by the runner, which
    /// times each check; 0 when not measured). JUnit's testcase `time`.
    #[serde(default)]
    pub eval_us: u64,
}

/// Evaluate every check of the scenario over the timeline.
pub fn evaluate(scenario: &Scenario, timeline: &Timeline) -> Vec<CheckResult> {
    let view = View::new(scenario, timeline);
    scenario
        .checks
        .iter()
        .map(|spec| run(spec, scenario, &view))
        .collect()
}

/// Evaluate one check kind, with the scenario's parameters for it if the
/// scenario lists it, else the defaults.
pub fn evaluate_one(kind: CheckKind, scenario: &Scenario, timeline: &Timeline) -> CheckResult {
    let default = CheckSpec {
        kind,
        within: None,
        min_height: None,
        warmup: None,
        grace: None,
    };
    let spec = scenario.check(kind).unwrap_or(&default);
    run(spec, scenario, &View::new(scenario, timeline))
}

fn run(spec: &CheckSpec, scenario: &Scenario, view: &View) -> CheckResult {
    let p = Params::new(scenario, spec);
    let outcome = match spec.kind {
        CheckKind::NoCycling => no_cycling::check(view, &p),
        CheckKind::OnePeerPerIp => one_peer_per_ip::check(view, &p),
        CheckKind::CommonHeight => common_height::check(view, &p),
        CheckKind::NoFork => no_fork::check(view, &p),
        CheckKind::Progress => progress::check(view, &p),
        CheckKind::TxDelivery => tx_delivery::check(view, &p),
        CheckKind::NodeUp => node_up::check(view, &p),
        CheckKind::KernelView => kernel_view::check(view, &p),
        CheckKind::DialBackoff => dial_backoff::check(view, &p),
        CheckKind::HeightLag => height_lag::check(view, &p),
        CheckKind::ProbeAnswers => probe_answers::check(view, &p),
    };
    outcome.into_result(spec.kind)
}

/// What one check found: violations in any order, a summary and its window.
struct Outcome {
    violations: Vec<Violation>,
    details: String,
    from: u64,
    to: u64,
}

impl Outcome {
    fn new(from: u64, to: u64) -> Self {
        Outcome {
            violations: Vec::new(),
            details: String::new(),
            from,
            to,
        }
    }

    fn violation(&mut self, t: u64, nodes: &[&str], message: impl Into<String>) {
        let mut nodes: Vec<String> = nodes.iter().map(|n| n.to_string()).collect();
        nodes.sort_by_key(|n| node_sort_key(n));
        nodes.dedup();
        self.violations.push(Violation {
            t,
            nodes,
            message: message.into(),
        });
    }

    fn into_result(self, kind: CheckKind) -> CheckResult {
        let first = self
            .violations
            .iter()
            .min_by_key(|v| (v.t, v.nodes.clone()))
            .cloned();
        CheckResult {
            kind,
            name: kind.name().to_string(),
            passed: first.is_none(),
            first_violation: first,
            violations: self.violations.len(),
            details: self.details,
            evaluated_from: self.from,
            evaluated_to: self.to,
            eval_us: 0,
        }
    }
}

/// `n2` before `n10`.
fn node_sort_key(n: &str) -> (usize, String) {
    (
        crate::scenario::node_index(n).unwrap_or(usize::MAX),
        n.to_string(),
    )
}

/// "n1, n2, n3" (or "none").
fn list(nodes: &[impl AsRef<str>]) -> String {
    if nodes.is_empty() {
        return "none".into();
    }
    nodes
        .iter()
        .map(AsRef::as_ref)
        .collect::<Vec<_>>()
        .join(", ")
}
