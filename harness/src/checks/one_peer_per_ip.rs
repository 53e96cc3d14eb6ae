//! `one_peer_per_ip`: at most one connection per remote IP, and a full mesh.
//!
//! The seeds keyed peers by `IP:port`, so one machine counted once per
//! ephemeral port and the registry held two connections to one peer. Checked
//! in both views:
//! - node view: a `/peers` answer never lists one IP twice (strict: the
//!   registry must never hold a duplicate, not even briefly);
//! - kernel view: never two ESTABLISHED sockets on the P2P port to one
//!   remote IP in two consecutive polls of a node (a simultaneous open
//!   legitimately has two sockets for the few ms of its tie-break, which one
//!   poll can catch; a duplicate that survives a poll interval is the bug);
//! - full mesh: after warm-up and outside fault windows (+ grace), each
//!   running node's peers are exactly the other running, reachable nodes,
//!   in two consecutive polls (a single short gap is `no_cycling`'s concern).

use super::params::fmt_ms;
use super::view::View;
use super::{list, Outcome, Params};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

pub(super) fn check(v: &View, p: &Params) -> Outcome {
    let from = v.first_up.values().min().copied().unwrap_or(0);
    let mut out = Outcome::new(from, v.tl.end);
    let disturbed = v.disturbance_windows(p.grace);
    let mut polls = 0usize;
    let mut mesh_polls = 0usize;
    let mut max_kernel = 0usize;
    for node in &v.nodes {
        let mut prev_dup: Option<(u64, Vec<String>)> = None;
        let mut prev_mesh_bad: Option<u64> = None;
        for s in v.samples_of(node) {
            if !s.up {
                prev_dup = None;
                prev_mesh_bad = None;
                continue;
            }
            polls += 1;
            // Node view: one entry per IP.
            if let Some(peers) = &s.peers {
                for (ip, n) in count(peers.iter().map(|x| x.ip)) {
                    if n > 1 {
                        let who = v.name_of(ip).unwrap_or("an unknown node");
                        out.violation(
                            s.t,
                            &[node, who],
                            format!("node view: {node} lists {n} connections to {who} ({ip})"),
                        );
                    }
                }
            }
            // Kernel view: one socket per remote IP, over two polls.
            let dups: Vec<String> = s
                .kernel
                .as_ref()
                .map(|conns| {
                    let per_ip = count(
                        conns
                            .iter()
                            .filter(|c| c.local_port == p.p2p_port || c.remote_port == p.p2p_port)
                            .map(|c| c.remote_ip),
                    );
                    max_kernel = max_kernel.max(per_ip.values().copied().max().unwrap_or(0));
                    per_ip
                        .into_iter()
                        .filter(|(_, n)| *n > 1)
                        .map(|(ip, n)| {
                            format!(
                                "{}={n}",
                                v.name_of(ip).map_or(ip.to_string(), str::to_string)
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            if let Some((t0, before)) = &prev_dup {
                for d in dups.iter().filter(|d| before.contains(d)) {
                    let who = d.split('=').next().unwrap_or_default();
                    out.violation(
                        *t0,
                        &[node, who],
                        format!(
                            "kernel view: {node} holds {} ESTABLISHED sockets to {who} on port {} \
                             (seen at {} and {})",
                            d.split('=').nth(1).unwrap_or("2"),
                            p.p2p_port,
                            fmt_ms(*t0),
                            fmt_ms(s.t)
                        ),
                    );
                }
            }
            prev_dup = (!dups.is_empty()).then_some((s.t, dups));
            // Full mesh.
            if !mesh_applies(v, p, &disturbed, node, s.t) {
                prev_mesh_bad = None;
                continue;
            }
            let Some(peers) = &s.peers else { continue };
            mesh_polls += 1;
            let have: BTreeSet<IpAddr> = peers.iter().map(|x| x.ip).collect();
            let want: BTreeSet<IpAddr> = v
                .nodes
                .iter()
                .filter(|o| *o != node && v.running(o, s.t) && !v.separated(node, o, s.t))
                .filter_map(|o| v.ip_of(o))
                .collect();
            if have == want {
                prev_mesh_bad = None;
                continue;
            }
            match prev_mesh_bad {
                None => prev_mesh_bad = Some(s.t),
                Some(t0) => {
                    let name = |ip: &IpAddr| v.name_of(*ip).map_or(ip.to_string(), str::to_string);
                    let missing: Vec<String> = want.difference(&have).map(name).collect();
                    let extra: Vec<String> = have.difference(&want).map(name).collect();
                    let mut involved: Vec<&str> = vec![node];
                    involved.extend(missing.iter().chain(&extra).map(String::as_str));
                    out.violation(
                        t0,
                        &involved,
                        format!(
                            "full mesh: {node} has {} peers, expected {} (missing: {}; unexpected: {}) \
                             from {} to {}",
                            have.len(),
                            want.len(),
                            list(&missing),
                            list(&extra),
                            fmt_ms(t0),
                            fmt_ms(s.t)
                        ),
                    );
                }
            }
        }
    }
    out.details = format!(
        "{} polls, max {} kernel socket(s) per remote IP; full mesh checked in {} polls outside faults",
        polls, max_kernel, mesh_polls
    );
    out
}

/// The mesh is expected at `t` for `node`: past its and every other node's
/// warm-up (late joiners), and outside every disturbance window.
fn mesh_applies(v: &View, p: &Params, disturbed: &[super::Window], node: &str, t: u64) -> bool {
    let warmed = |n: &String| v.first_up.get(n).is_none_or(|f| t >= f + p.warmup);
    v.first_up.get(node).is_some_and(|f| t >= f + p.warmup)
        && v.nodes.iter().all(warmed)
        && !disturbed.iter().any(|w| w.contains(t))
}

fn count(ips: impl Iterator<Item = IpAddr>) -> BTreeMap<IpAddr, usize> {
    let mut m = BTreeMap::new();
    for ip in ips {
        *m.entry(ip).or_insert(0) += 1;
    }
    m
}
