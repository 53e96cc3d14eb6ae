//! The rules of the protocol faults (`crossed_dial`, `duplicate_dial`,
//! `stale_hello`): which two nodes, how many probes. Resolved into
//! [`FaultPlan::Probe`]; the seed only picks a node left open.

use super::derived::{fmt_ms, ms};
use super::plan::{FaultPlan, PairPlan, ProbeKind, REPEAT_MAX};
use super::source::Section;
use super::types::{During, FaultAction, FaultSpec, Scenario};
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
        let during = self.during(s, sec, f, kind, &pair);
        (self.errors.len() == before).then_some(FaultPlan::Probe {
            kind,
            pair,
            repeat,
            during,
        })
    }

    /// Check `during`: `handshake` needs the pair named, `peer` frozen by a
    /// `pause` over the fault's `at` and `node` not frozen then (it must
    /// be the one dialing).
    fn during(
        &mut self,
        s: &Scenario,
        sec: Section,
        f: &FaultSpec,
        kind: ProbeKind,
        pair: &PairPlan,
    ) -> During {
        let action = f.action;
        let during = f.during.unwrap_or_default();
        if during == During::Established {
            return during;
        }
        if kind == ProbeKind::DuplicateDial {
            self.err_value(
                sec,
                "during",
                during.name(),
                "`during` applies to crossed_dial and stale_hello: a duplicate of a connection \
                 that is not there is a crossed dial (crossed_dial with during = \"handshake\")",
            );
            return during;
        }
        if during == During::Idle && kind != ProbeKind::StaleHello {
            self.err_value(
                sec,
                "during",
                during.name(),
                "`during = \"idle\"` applies to stale_hello: a crossed dial needs the node's own \
                 dial (during = \"handshake\")",
            );
            return during;
        }
        let (Some(node), Some(peer)) = (&pair.node, &pair.peer) else {
            self.err_value(
                sec,
                "during",
                during.name(),
                format!(
                    "action = \"{action}\" with during = \"{}\" needs both nodes named \
                     (the dialing node and the frozen peer; the seed cannot pick them)",
                    during.name()
                ),
            );
            return during;
        };
        let paused = |who: &str| {
            s.faults.iter().any(|g| {
                g.action == FaultAction::Pause
                    && g.nodes.as_ref().is_some_and(|n| n.iter().any(|x| x == who))
                    && g.at <= f.at
                    && g.duration.is_some_and(|d| g.at + d > f.at)
            })
        };
        if !paused(peer) {
            self.err_value(
                sec,
                "during",
                during.name(),
                format!(
                    "during = \"{}\" needs `{peer}` frozen: add a `pause` of `{peer}` \
                     that covers at = {} (`{node}` drops it and redials it only while it \
                     cannot answer)",
                    during.name(),
                    fmt_ms(ms(f.at))
                ),
            );
        }
        if paused(node) {
            self.err_value(
                sec,
                "during",
                during.name(),
                format!(
                    "during = \"{}\" needs `{node}` running to dial `{peer}`, but a \
                     `pause` of `{node}` covers at = {}",
                    during.name(),
                    fmt_ms(ms(f.at))
                ),
            );
        }
        during
    }
}
