//! A concrete fault list: built from a schedule, turned back into one (for
//! `run --schedule`), and written as a standalone scenario with an explicit
//! `[[fault]]` list and no `[nemesis]` (`scenarios/regressions/`).

use crate::nemesis::grudge::Cut;
use crate::nemesis::schedule::{Fault, Origin, Phase, Schedule, Step};
use crate::scenario::{During, FaultAction, FaultSpec, Scenario};
use std::collections::BTreeSet;
use std::time::Duration;

/// One fault of a schedule: when, how long, what.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    pub at_ms: u64,
    pub for_ms: Option<u64>,
    pub fault: Fault,
}

/// The faults of a schedule, in start order.
pub fn items(s: &Schedule) -> Vec<Item> {
    s.steps
        .iter()
        .filter(|st| st.phase == Phase::Start)
        .map(|st| Item {
            at_ms: st.at_ms,
            for_ms: st.until_ms.map(|u| u - st.at_ms),
            fault: st.fault.clone(),
        })
        .collect()
}

/// The schedule of a fault list (ids in list order).
pub fn schedule(items: &[Item], seed: u64, time_scale: f64) -> Schedule {
    let mut steps = Vec::new();
    for (i, it) in items.iter().enumerate() {
        let until = it.for_ms.map(|d| it.at_ms + d);
        if let Some(end) = until {
            steps.push(Step {
                at_ms: end,
                id: i + 1,
                phase: Phase::End,
                until_ms: until,
                origin: Origin::Timeline,
                fault: it.fault.clone(),
            });
        }
        steps.push(Step {
            at_ms: it.at_ms,
            id: i + 1,
            phase: Phase::Start,
            until_ms: until,
            origin: Origin::Timeline,
            fault: it.fault.clone(),
        });
    }
    steps.sort_by_key(|s| (s.at_ms, s.phase, s.id));
    Schedule {
        seed,
        time_scale,
        steps,
    }
}

/// Why a fault list cannot be a scenario file.
#[derive(Debug, thiserror::Error)]
pub enum NotExpressible {
    /// A partition whose cuts are not "every pair across groups, both ways"
    /// (a bridge or majorities ring over a seed-shuffled ring).
    #[error(
        "fault {0} ({1}) is not a group partition; the [[fault]] format cannot state its cuts"
    )]
    Partition(usize, String),
}

/// The groups of a two-way group partition: the classes of "not cut".
pub fn groups_of(all: &[String], cuts: &[Cut]) -> Option<Vec<Vec<String>>> {
    let cut: BTreeSet<(&str, &str)> = cuts.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    if cut.iter().any(|(a, b)| !cut.contains(&(*b, *a))) {
        return None;
    }
    let mut groups: Vec<Vec<String>> = Vec::new();
    for n in all {
        match groups
            .iter_mut()
            .find(|g| !cut.contains(&(g[0].as_str(), n.as_str())))
        {
            Some(g) => g.push(n.clone()),
            None => groups.push(vec![n.clone()]),
        }
    }
    // An equivalence only if nobody inside a group is cut from another.
    let ok = groups.iter().all(|g| {
        g.iter()
            .all(|a| g.iter().all(|b| !cut.contains(&(a.as_str(), b.as_str()))))
    }) && groups.iter().enumerate().all(|(i, g)| {
        groups.iter().skip(i + 1).all(|h| {
            g.iter()
                .all(|a| h.iter().all(|b| cut.contains(&(a.as_str(), b.as_str()))))
        })
    });
    (ok && groups.len() > 1).then_some(groups)
}

fn spec(it: &Item, action: FaultAction) -> FaultSpec {
    FaultSpec {
        at: Duration::from_millis(it.at_ms),
        duration: it.for_ms.map(Duration::from_millis),
        action,
        shape: None,
        groups: None,
        nodes: None,
        one_way: false,
        probability: None,
        skew: None,
        delay: None,
        jitter: None,
        rate_kbit: None,
        reorder: None,
        duplicate: None,
        cpus: None,
        peer: None,
        repeat: None,
        during: None,
    }
}

/// The `[[fault]]` list of a fault list.
pub fn fault_specs(items: &[Item], all: &[String]) -> Result<Vec<FaultSpec>, NotExpressible> {
    let mut out = Vec::new();
    for (i, it) in items.iter().enumerate() {
        let mut s = spec(it, it.fault.action());
        match &it.fault {
            Fault::Partition { cuts, description } => {
                s.groups = Some(
                    groups_of(all, cuts)
                        .ok_or_else(|| NotExpressible::Partition(i + 1, description.clone()))?,
                );
            }
            Fault::Heal => {}
            Fault::ClockSkew { nodes, skew_ms } => {
                s.nodes = Some(nodes.clone());
                s.skew = Some(format!("{skew_ms:+}ms"));
            }
            Fault::Loss { nodes, probability } => {
                s.nodes = Some(nodes.clone());
                s.probability = Some(*probability);
            }
            Fault::Latency {
                nodes,
                delay_ms,
                shape,
            } => {
                s.nodes = Some(nodes.clone());
                s.delay = Some(Duration::from_millis(*delay_ms));
                s.jitter = (shape.jitter_ms > 0).then(|| Duration::from_millis(shape.jitter_ms));
                s.rate_kbit = shape.rate_kbit;
                s.reorder = (shape.reorder > 0.0).then_some(shape.reorder);
                s.duplicate = (shape.duplicate > 0.0).then_some(shape.duplicate);
            }
            Fault::CpuThrottle { nodes, cpus } => {
                s.nodes = Some(nodes.clone());
                s.cpus = Some(*cpus);
            }
            Fault::CrossedDial {
                node,
                peer,
                repeat,
                during,
            } => {
                s.nodes = Some(vec![node.clone(), peer.clone()]);
                s.repeat = Some(*repeat);
                s.during = (*during != During::Established).then_some(*during);
            }
            Fault::DuplicateDial { node, peer, repeat } => {
                s.nodes = Some(vec![node.clone()]);
                s.peer = Some(peer.clone());
                s.repeat = Some(*repeat);
            }
            Fault::StaleHello {
                node,
                peer,
                repeat,
                during,
            } => {
                s.nodes = Some(vec![node.clone()]);
                s.peer = Some(peer.clone());
                s.repeat = Some(*repeat);
                s.during = (*during != During::Established).then_some(*during);
            }
            Fault::Kill { nodes }
            | Fault::Restart { nodes }
            | Fault::Pause { nodes }
            | Fault::Wipe { nodes } => s.nodes = Some(nodes.clone()),
        }
        out.push(s);
    }
    Ok(out)
}

/// The standalone regression scenario: `base` with `items` as its
/// `[[fault]]` list, no `[nemesis]`, and a description from the violation.
pub fn scenario(
    base: &Scenario,
    items: &[Item],
    name: &str,
    description: String,
) -> Result<Scenario, NotExpressible> {
    let mut sc = base.clone();
    sc.name = name.to_string();
    sc.description = description;
    sc.nemesis = None;
    sc.faults = fault_specs(items, &base.node_names())?;
    sc.source = None;
    Ok(sc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nemesis::grudge;

    fn names(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("n{i}")).collect()
    }

    #[test]
    fn group_partitions_round_trip_and_a_bridge_does_not() {
        let all = names(5);
        let g = vec![vec!["n1".to_string(), "n4".into()], vec!["n2".into()]];
        let cuts = grudge::groups(&all, &g, false);
        let back = groups_of(&all, &cuts).expect("groups");
        assert_eq!(grudge::groups(&all, &back, false).len(), cuts.len());
        let mut a: Vec<_> = grudge::groups(&all, &back, false);
        let mut b = cuts.clone();
        a.sort();
        b.sort();
        assert_eq!(a, b);
        assert!(groups_of(&all, &grudge::bridge(&all)).is_none());
        assert!(groups_of(&all, &grudge::groups(&all, &g, true)).is_none());
    }

    #[test]
    fn items_and_schedule_round_trip() {
        let it = vec![
            Item {
                at_ms: 5_000,
                for_ms: Some(60_000),
                fault: Fault::Kill {
                    nodes: vec!["n2".into()],
                },
            },
            Item {
                at_ms: 1_000,
                for_ms: None,
                fault: Fault::Heal,
            },
        ];
        let s = schedule(&it, 3, 1.0);
        assert_eq!(s.steps.len(), 3);
        let mut back = items(&s);
        back.sort_by_key(|i| i.at_ms);
        let mut want = it.clone();
        want.sort_by_key(|i| i.at_ms);
        assert_eq!(back, want);
    }
}
