//! Partitions as a *grudge*: the set of directed cuts `(from, to)`, each
//! meaning "packets from `from` to `to` are dropped" (enforced on `to`'s side,
//! see `netfilter`). Pure functions over node names, so every shape is
//! unit-tested here and the exact cuts can be printed in the schedule.
//!
//! A one-directional cut is still a real partition for TCP (the handshake
//! needs both directions), but it is kept directed because a real network
//! can fail one way and the checks may care about it.
//!
//! Random choices (which node to isolate, ring order) are made by the
//! schedule from the seed, never here: these functions are deterministic.

use std::collections::BTreeSet;

/// A directed cut: packets from `.0` to `.1` are dropped.
pub type Cut = (String, String);

/// Cut every pair of nodes that sit in different groups, both ways (or only
/// from the first group to the others when `one_way`). Nodes of `all` that no
/// group lists form one extra group of their own.
pub fn groups(all: &[String], groups: &[Vec<String>], one_way: bool) -> Vec<Cut> {
    let mut groups: Vec<Vec<String>> = groups.iter().filter(|g| !g.is_empty()).cloned().collect();
    let listed: BTreeSet<&String> = groups.iter().flatten().collect();
    let rest: Vec<String> = all
        .iter()
        .filter(|n| !listed.contains(n))
        .cloned()
        .collect();
    if !rest.is_empty() {
        groups.push(rest);
    }
    let mut cuts = BTreeSet::new();
    for (i, gi) in groups.iter().enumerate() {
        for (j, gj) in groups.iter().enumerate() {
            if i == j || (one_way && i != 0) {
                continue;
            }
            for a in gi {
                for b in gj {
                    cuts.insert((a.clone(), b.clone()));
                }
            }
        }
    }
    cuts.into_iter().collect()
}

/// The first ceil(n/2) nodes against the rest (the first half keeps the
/// majority when n is odd).
pub fn halves_groups(all: &[String]) -> Vec<Vec<String>> {
    let k = all.len().div_ceil(2);
    vec![all[..k].to_vec(), all[k..].to_vec()]
}

/// `targets` cut off from everybody else (they still talk among themselves).
pub fn isolate_groups(all: &[String], targets: &[String]) -> Vec<Vec<String>> {
    let rest = all
        .iter()
        .filter(|n| !targets.contains(n))
        .cloned()
        .collect();
    vec![targets.to_vec(), rest]
}

/// Jepsen's `bridge`: two halves that cannot talk to each other, and one
/// bridge node (the first node of the second half) that both halves reach.
pub fn bridge(all: &[String]) -> Vec<Cut> {
    let k = all.len() / 2;
    if all.len() < 3 {
        return Vec::new();
    }
    let (left, right) = (&all[..k], &all[k + 1..]);
    groups(&[], &[left.to_vec(), right.to_vec()], false)
}

/// Jepsen's `majorities-ring`: nodes sit on a ring in the given order; each
/// node hears exactly a majority (itself and its n/2 nearest neighbours: the
/// window of `n/2 + 1` nodes centred on it) and drops packets from everyone
/// else, so every node sees a majority but no two see the same one. For even
/// n the window has one more node on one side, so some cuts are one-way,
/// exactly as in Jepsen.
pub fn majorities_ring(ring: &[String]) -> Vec<Cut> {
    let n = ring.len();
    let m = n / 2 + 1;
    let mut cuts = BTreeSet::new();
    for start in 0..n {
        let window: Vec<&String> = (0..m).map(|k| &ring[(start + k) % n]).collect();
        let centre = window[m / 2];
        for from in ring.iter().filter(|x| !window.contains(x)) {
            cuts.insert((from.clone(), centre.clone()));
        }
    }
    cuts.into_iter().collect()
}

/// Short human form of a set of groups: `n1 n2 | n3 n4`.
pub fn describe_groups(groups: &[Vec<String>]) -> String {
    groups
        .iter()
        .map(|g| g.join(" "))
        .collect::<Vec<_>>()
        .join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("n{i}")).collect()
    }

    fn cut(cuts: &[Cut], a: &str, b: &str) -> bool {
        cuts.iter().any(|(x, y)| x == a && y == b)
    }

    fn symmetric(cuts: &[Cut]) -> bool {
        cuts.iter().all(|(a, b)| cut(cuts, b, a))
    }

    /// Who `node` still hears from (itself included).
    fn hears(all: &[String], cuts: &[Cut], node: &str) -> BTreeSet<String> {
        all.iter()
            .filter(|from| !cut(cuts, from, node))
            .cloned()
            .collect()
    }

    #[test]
    fn halves_splits_first_ceil_half_against_rest() {
        let all = nodes(5);
        let g = halves_groups(&all);
        assert_eq!(g, vec![nodes(3), vec!["n4".into(), "n5".into()]]);
        let cuts = groups(&all, &g, false);
        assert_eq!(cuts.len(), 2 * 3 * 2);
        assert!(symmetric(&cuts));
        assert!(cut(&cuts, "n1", "n4") && cut(&cuts, "n5", "n3"));
        assert!(!cut(&cuts, "n1", "n2") && !cut(&cuts, "n4", "n5"));
        assert_eq!(halves_groups(&nodes(6))[0], nodes(3));
    }

    #[test]
    fn isolate_cuts_targets_from_everyone_else_only() {
        let all = nodes(4);
        let cuts = groups(&all, &isolate_groups(&all, &["n2".into()]), false);
        assert!(symmetric(&cuts));
        assert_eq!(cuts.len(), 6);
        assert!(cuts.iter().all(|(a, b)| a == "n2" || b == "n2"));
        let two = groups(
            &all,
            &isolate_groups(&all, &["n1".into(), "n4".into()]),
            false,
        );
        assert!(
            !cut(&two, "n1", "n4"),
            "isolated nodes still see each other"
        );
        assert!(cut(&two, "n1", "n2") && cut(&two, "n3", "n4"));
    }

    #[test]
    fn bridge_node_reaches_both_halves_which_do_not_reach_each_other() {
        let all = nodes(5);
        let cuts = bridge(&all);
        assert!(symmetric(&cuts));
        // halves n1 n2 | bridge n3 | n4 n5
        for b in ["n1", "n2", "n4", "n5"] {
            assert!(!cut(&cuts, "n3", b) && !cut(&cuts, b, "n3"));
        }
        assert!(cut(&cuts, "n1", "n4") && cut(&cuts, "n5", "n2"));
        assert!(!cut(&cuts, "n1", "n2") && !cut(&cuts, "n4", "n5"));
        assert_eq!(cuts.len(), 8);
        assert!(bridge(&nodes(2)).is_empty());
    }

    #[test]
    fn explicit_groups_with_unlisted_nodes_forming_their_own_group() {
        let all = nodes(5);
        let g = vec![
            vec!["n1".to_string()],
            vec!["n2".to_string(), "n3".to_string()],
        ];
        let cuts = groups(&all, &g, false);
        assert!(symmetric(&cuts));
        // groups: n1 | n2 n3 | n4 n5
        assert!(cut(&cuts, "n1", "n2") && cut(&cuts, "n3", "n4") && cut(&cuts, "n5", "n1"));
        assert!(!cut(&cuts, "n4", "n5") && !cut(&cuts, "n2", "n3"));
        assert_eq!(cuts.len(), 2 * (2 + 2 + 4));
    }

    #[test]
    fn one_way_cuts_only_from_the_first_group() {
        let all = nodes(4);
        let g = vec![vec!["n1".to_string(), "n2".to_string()]];
        let cuts = groups(&all, &g, true);
        assert_eq!(cuts.len(), 4);
        assert!(cut(&cuts, "n1", "n3") && cut(&cuts, "n2", "n4"));
        assert!(!cut(&cuts, "n3", "n1") && !cut(&cuts, "n4", "n2"));
        assert!(!symmetric(&cuts));
    }

    #[test]
    fn majorities_ring_every_node_hears_a_distinct_majority() {
        for n in 3..=9 {
            let all = nodes(n);
            let cuts = majorities_ring(&all);
            let seen: Vec<BTreeSet<String>> = all.iter().map(|x| hears(&all, &cuts, x)).collect();
            for (x, s) in all.iter().zip(&seen) {
                assert_eq!(s.len(), n / 2 + 1, "n={n}: {x} hears {s:?}");
                assert!(s.contains(x));
            }
            let distinct: BTreeSet<_> = seen.iter().collect();
            assert_eq!(distinct.len(), n, "n={n}: majorities not distinct");
            assert!(cuts.iter().all(|(a, b)| a != b));
        }
    }

    #[test]
    fn majorities_ring_is_symmetric_for_odd_n_and_follows_the_ring() {
        let all = nodes(5);
        let cuts = majorities_ring(&all);
        assert!(symmetric(&cuts));
        // n1 hears its ring neighbours n5 and n2, not n3 or n4.
        assert_eq!(
            hears(&all, &cuts, "n1"),
            ["n1", "n2", "n5"].iter().map(|s| s.to_string()).collect()
        );
        // Even n: Jepsen's window is lopsided, so some cuts are one-way.
        assert!(!symmetric(&majorities_ring(&nodes(6))));
    }

    #[test]
    fn describe_groups_is_readable() {
        let g = halves_groups(&nodes(4));
        assert_eq!(describe_groups(&g), "n1 n2 | n3 n4");
    }
}
