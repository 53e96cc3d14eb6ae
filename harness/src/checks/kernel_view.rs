//! `kernel_view`: what a node says about its peers is what its kernel holds.
//!
//! Both ways, per poll of a running node:
//! - a peer listed in `/peers` with no ESTABLISHED socket on the P2P port
//!   to its IP is a zombie registry entry (the node believes it is
//!   connected and never redials);
//! - an ESTABLISHED P2P socket to a checked node that `/peers` does not
//!   list is a connection the registry lost track of (or a handshake).
//!
//! A mismatch may last as long as a handshake can (the node's handshake
//! limit, whose wall floor is what bounds it on a loaded machine; see
//! [`View::handshake_limit`]) plus one poll, because `/peers` and
//! `/proc/PID/net/tcp` are read a few ms apart. Longer fails. While a fault
//! that may cut the pair is in force (a partition between them, or a
//! process fault on either) the timer does not run: a paused node's kernel
//! completes TCP handshakes nobody answers.

use super::view::View;
use super::{Outcome, Params};
use crate::scenario::fmt_ms;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// Which way the two views disagree about one peer.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Mismatch {
    /// Listed, no socket.
    Zombie,
    /// Socket, not listed.
    Unlisted,
}

pub(super) fn check(v: &View, p: &Params) -> Outcome {
    let from = v.first_up.values().min().copied().unwrap_or(0);
    let mut out = Outcome::new(from, v.tl.end);
    let limit = v.handshake_limit() + v.poll;
    let mut compared = 0usize;
    let mut longest = 0u64;
    for node in &v.nodes {
        // (mismatch, peer) -> since when, and whether it was reported.
        let mut open: BTreeMap<(Mismatch, IpAddr), (u64, bool)> = BTreeMap::new();
        for s in v.samples_of(node) {
            let (true, Some(peers), Some(conns)) = (s.up, &s.peers, &s.kernel) else {
                open.clear();
                continue;
            };
            compared += 1;
            let listed: BTreeSet<IpAddr> = peers.iter().map(|x| x.ip).collect();
            let sockets: BTreeSet<IpAddr> = conns
                .iter()
                .filter(|c| c.local_port == p.p2p_port || c.remote_port == p.p2p_port)
                .map(|c| c.remote_ip)
                .collect();
            let mut now: BTreeSet<(Mismatch, IpAddr)> = BTreeSet::new();
            for other in v.nodes.iter().filter(|o| *o != node) {
                let Some(ip) = v.ip_of(other) else { continue };
                if v.fault_active(node, other, s.t) {
                    continue;
                }
                match (listed.contains(&ip), sockets.contains(&ip)) {
                    (true, false) => now.insert((Mismatch::Zombie, ip)),
                    (false, true) => now.insert((Mismatch::Unlisted, ip)),
                    _ => false,
                };
            }
            open.retain(|k, _| now.contains(k));
            for key in now {
                let (since, reported) = open.entry(key).or_insert((s.t, false));
                let age = s.t - *since;
                longest = longest.max(age);
                if age > limit && !*reported {
                    *reported = true;
                    let who = v.name_of(key.1).unwrap_or("?");
                    let what = match key.0 {
                        Mismatch::Zombie => format!(
                            "{node} lists {who} as a peer but holds no ESTABLISHED socket to it \
                             on port {} (a zombie registry entry)",
                            p.p2p_port
                        ),
                        Mismatch::Unlisted => format!(
                            "{node} holds an ESTABLISHED socket to {who} on port {} that its \
                             /peers does not list",
                            p.p2p_port
                        ),
                    };
                    out.violation(
                        *since,
                        &[node, who],
                        format!(
                            "{what}, from {} to {} at least (a handshake resolves within {})",
                            fmt_ms(*since),
                            fmt_ms(s.t),
                            fmt_ms(limit)
                        ),
                    );
                }
            }
        }
    }
    out.details = format!(
        "{compared} polls compared /peers with the kernel table; longest mismatch {} (limit {})",
        fmt_ms(longest),
        fmt_ms(limit)
    );
    out
}
