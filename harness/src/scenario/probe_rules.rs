//! The rules of the protocol faults (`crossed_dial`, `duplicate_dial`,
//! `stale_hello`): which two nodes, how many probes. Resolved into
//! [`FaultPlan::Probe`]; the seed only picks a node left open.

use super::plan::{FaultPlan, PairPlan, ProbeKind, REPEAT_MAX};
use super::source::Section;
use super::types::{FaultAction, FaultSpec, Scenario};
use super::validate::Validator;

/// The probe kind of a protocol-fault action, `None` for every other action.
pub fn probe_kind(action: FaultAction) -> Option<ProbeKind> {
    match action {
        FaultAction::CrossedDial => Some(ProbeKind::CrossedDial),
        FaultAction::DuplicateDial => Some(ProbeKind::DuplicateDial),
        FaultAction::StaleHello => Some(ProbeKind::StaleHello),
        _ => None,
    }
}

impl Validator<'_> {
    /// Check a protocol fault; its plan if it broke no rule. `nodes` and
    /// `peer` are already checked to be known nodes by the caller.
    pub(super) fn probe(
        &mut self,
        s: &Scenario,
        sec: Section,
        f: &FaultSpec,
        kind: ProbeKind,
    ) -> Option<FaultPlan> {
        let before = self.errors.len();
        let action = f.action;
        if s.network.nodes < 2 {
            self.err(
                sec,
                Some("action"),
                format!("action = \"{action}\" needs at least 2 nodes"),
            );
        }
        if f.duration.is_some() {
            self.err(
                sec,
                Some("for"),
                format!(
                    "action = \"{action}\" is instantaneous and takes no `for` \
                     (use `repeat` for more probes)"
                ),
            );
        }
        let repeat = f.repeat.unwrap_or(1);
        if !(1..=REPEAT_MAX).contains(&repeat) {
            self.err(
                sec,
                Some("repeat"),
                format!("repeat must be between 1 and {REPEAT_MAX}, got {repeat}"),
            );
        }
        let nodes = f.nodes.clone().unwrap_or_default();
        let pair = match kind {
            ProbeKind::CrossedDial => {
                if f.peer.is_some() {
                    self.err(
                        sec,
                        Some("peer"),
                        "`peer` does not apply to action = \"crossed_dial\": name both \
                         nodes in `nodes`",
                    );
                }
                if f.nodes.is_some() && nodes.len() != 2 {
                    self.err(
                        sec,
                        Some("nodes"),
                        format!(
                            "action = \"crossed_dial\" takes exactly two nodes (the pair \
                             whose dials cross), got {}",
                            nodes.len()
                        ),
                    );
                }
                PairPlan {
                    node: nodes.first().cloned(),
                    peer: nodes.get(1).cloned(),
                }
            }
            ProbeKind::DuplicateDial | ProbeKind::StaleHello => {
                if f.nodes.is_some() && nodes.len() != 1 {
                    self.err(
                        sec,
                        Some("nodes"),
                        format!(
                            "action = \"{action}\" takes one node (the one dialed; `peer` \
                             names whose IP and key dial it), got {}",
                            nodes.len()
                        ),
                    );
                }
                PairPlan {
                    node: nodes.first().cloned(),
                    peer: f.peer.clone(),
                }
            }
        };
        if let (Some(a), Some(b)) = (&pair.node, &pair.peer) {
            if a == b {
                let key = if kind == ProbeKind::CrossedDial {
                    "nodes"
                } else {
                    "peer"
                };
                self.err(
                    sec,
                    Some(key),
                    format!("action = \"{action}\" needs two different nodes, got `{a}` twice"),
                );
            }
        }
        for name in [&pair.node, &pair.peer].into_iter().flatten() {
            if s.foreign_nodes().contains(name) {
                self.err_value(
                    sec,
                    if f.peer.as_ref() == Some(name) {
                        "peer"
                    } else {
                        "nodes"
                    },
                    name,
                    format!(
                        "node `{name}` runs a foreign genesis: it is no peer to impersonate \
                         or to probe"
                    ),
                );
            }
        }
        (self.errors.len() == before).then_some(FaultPlan::Probe { kind, pair, repeat })
    }
}
