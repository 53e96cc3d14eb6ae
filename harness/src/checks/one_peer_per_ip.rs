//! `one_peer_per_ip`: at most one connection per remote IP, and a full mesh.
//!
//! The seeds keyed peers by `IP:port`, so one machine counted once per
//! ephemeral port and the registry held two connections to one peer. Checked
//! in both views:
//! - node view: a `/peers` answer never lists one IP twice (strict: the
//!   registry must never hold a duplicate, not even briefly);
//! - kernel view: never two ESTABLISHED sockets on the P2P port to one
//!   remote IP for longer than a handshake can take. A simultaneous open
//!   legitimately has two sockets until the tie-break answers, and the TCP
//!   handshake of a dial completes in the peer's kernel before the busy peer
//!   reads its Hello: on a loaded machine (30 containers on 2 cores) that
//!   took 0.4 s, longer than a poll interval. A dial nobody answers is
//!   closed at the node's handshake timeout, so two sockets that both
//!   outlive it are two connections: the seeds' bug. Sockets are tracked by
//!   their ports, so a pair that cycles sockets does not look like one old
//!   duplicate (that is `no_cycling`'s concern).
//! - full mesh: after warm-up and outside fault windows (+ grace), each
//!   running node's peers are exactly the other running, reachable nodes,
//!   in two consecutive polls (a single short gap is `no_cycling`'s concern).

use super::view::View;
use super::{list, Outcome, Params};
use crate::scenario::fmt_ms;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// A kernel socket by its two ends on the node's side of the pair.
type SocketId = (u16, IpAddr, u16);

pub(super) fn check(v: &View, p: &Params) -> Outcome {
    let from = v.first_up.values().min().copied().unwrap_or(0);
    let mut out = Outcome::new(from, v.tl.end);
    let disturbed = v.disturbance_windows(p.grace);
    let mut polls = 0usize;
    let mut mesh_polls = 0usize;
    let mut max_kernel = 0usize;
    let limit = v.handshake_limit();
    for node in &v.nodes {
        // When each socket was first seen, and the duplicates reported.
        let mut first_seen: BTreeMap<SocketId, u64> = BTreeMap::new();
        let mut reported: BTreeSet<(IpAddr, u64)> = BTreeSet::new();
        let mut prev_mesh_bad: Option<u64> = None;
        for s in v.samples_of(node) {
            if !s.up {
                first_seen.clear();
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
            // Kernel view: one socket per remote IP, but for a handshake.
            if let Some(conns) = &s.kernel {
                let mut per_ip: BTreeMap<IpAddr, Vec<u64>> = BTreeMap::new();
                for c in conns
                    .iter()
                    .filter(|c| c.local_port == p.p2p_port || c.remote_port == p.p2p_port)
                {
                    let id = (c.local_port, c.remote_ip, c.remote_port);
                    let seen = *first_seen.entry(id).or_insert(s.t);
                    per_ip.entry(c.remote_ip).or_default().push(seen);
                }
                for (ip, mut seen) in per_ip {
                    max_kernel = max_kernel.max(seen.len());
                    if seen.len() < 2 {
                        continue;
                    }
                    // Two sockets have coexisted since the second appeared.
                    seen.sort_unstable();
                    let since = seen[1];
                    if s.t - since <= limit || !reported.insert((ip, since)) {
                        continue;
                    }
                    let who = v.name_of(ip).map_or(ip.to_string(), str::to_string);
                    out.violation(
                        since,
                        &[node, &who],
                        format!(
                            "kernel view: {node} holds {} ESTABLISHED sockets to {who} on port {} \
                             from {} to {} at least (a handshake resolves within {})",
                            seen.len(),
                            p.p2p_port,
                            fmt_ms(since),
                            fmt_ms(s.t),
                            fmt_ms(limit)
                        ),
                    );
                }
            }
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
