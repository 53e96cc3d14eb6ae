//! `no_cycling`: after warm-up every pair stays connected on its first
//! connection: no reconnects, no ping timeouts, no silent socket loss.
//!
//! The seeds' signature bug was outbound pongs never read: a ping timeout
//! and a reconnect every 90 s. It is checked in three independent views,
//! because a node that lies about itself must not pass:
//! 1. node events (`connected` again, `disconnected` with any reason),
//! 2. node counters in `/peers` (`connects`, `ping_timeouts` growing),
//! 3. the kernel's TCP table: a pair's socket 4-tuple being replaced is a
//!    reconnect (replacements closer than a handshake can last are one
//!    simultaneous open resolving); a socket vanishing with nothing logged
//!    by either node is "a disconnect nobody logged".
//!
//! Plus: no handshake times out between running nodes outside the pair's
//! faults (a throttled CPU excuses nothing); see [`super::handshakes`].
//!
//! Fault-aware: in a pair's fault window (`[start, end + grace]` of a
//! partition cutting it or a process fault on either node, but not a pause
//! shorter than [`super::view::BRIEF_STALL`], which must cost nothing) disconnects are
//! expected, and each side may reconnect at most once per fault merged into
//! the window (more is a reconnect storm); at the window's end the pair must
//! be connected again.

use super::view::{View, Window};
use super::{Outcome, Params};
use crate::observe::model::Sample;
use crate::scenario::fmt_ms;
use std::collections::BTreeSet;
use std::net::IpAddr;
use timed::api::types::EventKind;

/// Which of the three views saw a reconnect (named in the message).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Evidence {
    /// The node's own `/events` (`connected` again).
    NodeEvents,
    /// The node's `/peers` counters (`connects` growing).
    NodeCounters,
    /// The kernel's TCP table (a socket 4-tuple replaced).
    KernelView,
}

impl std::fmt::Display for Evidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Evidence::NodeEvents => "node events",
            Evidence::NodeCounters => "node counters",
            Evidence::KernelView => "kernel view",
        })
    }
}

#[derive(Default)]
struct Stats {
    pairs: usize,
    clean_pairs: usize,
    reconnects: usize,
    ping_timeouts: usize,
    unlogged: usize,
    expected_reconnects: usize,
    windows: usize,
}

pub(super) fn check(v: &View, p: &Params) -> Outcome {
    let from = v.first_up.values().min().map_or(0, |t| t + p.warmup);
    let mut out = Outcome::new(from, v.tl.end);
    let mut st = Stats::default();
    for (a, b) in v.pairs() {
        let (Some(fa), Some(fb)) = (v.first_up.get(&a), v.first_up.get(&b)) else {
            continue;
        };
        let (Some(ip_a), Some(ip_b)) = (v.ip_of(&a), v.ip_of(&b)) else {
            continue;
        };
        st.pairs += 1;
        let before = out.violations.len();
        let pair = Pair {
            v,
            p,
            warm: fa.max(fb) + p.warmup,
            windows: v.link_windows(&a, &b, p.grace),
        };
        st.windows += pair.windows.len();
        for (me, peer, my_ip, peer_ip) in [(&a, &b, ip_a, ip_b), (&b, &a, ip_b, ip_a)] {
            let side = Side {
                primary: me == &a,
                me,
                peer,
                my_ip,
                peer_ip,
            };
            pair.events(&side, &mut out, &mut st);
            pair.counters(&side, &mut out, &mut st);
            pair.kernel(&side, &mut out, &mut st);
            pair.reconnected_after_faults(&side, &mut out);
        }
        if out.violations.len() == before {
            st.clean_pairs += 1;
        }
    }
    let handshake_timeouts = super::handshakes::check(v, &mut out);
    out.details = format!(
        "{} pairs, {} connected once; {} reconnects and {} ping timeouts logged outside faults, \
         {} unlogged disconnects (kernel view); {} expected reconnects in {} pair fault windows; \
         {handshake_timeouts} handshake timeouts outside faults",
        st.pairs,
        st.clean_pairs,
        st.reconnects,
        st.ping_timeouts,
        st.unlogged,
        st.expected_reconnects,
        st.windows
    );
    out
}

struct Pair<'a> {
    v: &'a View<'a>,
    p: &'a Params,
    /// Warm-up end for this pair (from the later node's start).
    warm: u64,
    windows: Vec<Window>,
}

struct Side<'a> {
    /// The pair's first node: the statistics count its event view only, so
    /// one reconnect is not counted once per side and view.
    primary: bool,
    me: &'a str,
    peer: &'a str,
    my_ip: IpAddr,
    peer_ip: IpAddr,
}

impl Pair<'_> {
    fn window(&self, t: u64) -> Option<usize> {
        self.windows.iter().position(|w| w.contains(t))
    }

    /// Count a reconnect seen at `t` by one view (`used` is that view's
    /// per-window budget use).
    #[allow(clippy::too_many_arguments)]
    fn reconnect(
        &self,
        s: &Side,
        t: u64,
        n: usize,
        used: &mut [usize],
        view: Evidence,
        out: &mut Outcome,
        st: &mut Stats,
    ) {
        let counted = if s.primary && view == Evidence::NodeEvents {
            n
        } else {
            0
        };
        match self.window(t) {
            Some(i) => {
                used[i] += n;
                let w = self.windows[i];
                if used[i] > w.faults {
                    st.reconnects += counted;
                    out.violation(
                        t,
                        &[s.me, s.peer],
                        format!(
                            "{}: {} reconnected to {} {} times in the fault window {}..{} \
                             ({} fault(s) allow {}): a reconnect storm",
                            view,
                            s.me,
                            s.peer,
                            used[i],
                            fmt_ms(w.start),
                            fmt_ms(w.end),
                            w.faults,
                            w.faults
                        ),
                    );
                } else {
                    st.expected_reconnects += counted;
                }
            }
            None => {
                st.reconnects += counted;
                out.violation(
                    t,
                    &[s.me, s.peer],
                    format!(
                        "{view}: {} reconnected to {} outside any fault: connection cycling",
                        s.me, s.peer
                    ),
                );
            }
        }
    }

    fn events(&self, s: &Side, out: &mut Outcome, st: &mut Stats) {
        let mut used = vec![0; self.windows.len()];
        let mut connected_before = false;
        for e in self
            .v
            .tl
            .events
            .iter()
            .filter(|e| e.node == s.me && e.event.peer_ip == Some(s.peer_ip))
        {
            match e.event.kind {
                EventKind::Connected => {
                    if connected_before && e.t >= self.warm {
                        self.reconnect(s, e.t, 1, &mut used, Evidence::NodeEvents, out, st);
                    }
                    connected_before = true;
                }
                EventKind::Disconnected if e.t >= self.warm => {
                    if self.window(e.t).is_some() {
                        continue;
                    }
                    if e.is_ping_timeout() {
                        st.ping_timeouts += 1;
                    }
                    let reason = e.event.reason.as_deref().unwrap_or("no reason given");
                    out.violation(
                        e.t,
                        &[s.me, s.peer],
                        format!(
                            "node events: {} disconnected from {} ({reason}) outside any fault",
                            s.me, s.peer
                        ),
                    );
                }
                _ => {}
            }
        }
    }

    fn counters(&self, s: &Side, out: &mut Outcome, st: &mut Stats) {
        let mut used = vec![0; self.windows.len()];
        let mut prev: Option<(u64, u64)> = None; // (connects, ping_timeouts)
        for sample in self.v.samples_of(s.me) {
            let Some(pv) = sample
                .peers
                .as_ref()
                .and_then(|ps| ps.iter().find(|x| x.ip == s.peer_ip))
            else {
                continue;
            };
            if let Some((connects, timeouts)) = prev {
                let t = sample.t;
                if t >= self.warm && pv.connects > connects && connects >= 1 {
                    let n = (pv.connects - connects) as usize;
                    self.reconnect(s, t, n, &mut used, Evidence::NodeCounters, out, st);
                }
                if t >= self.warm && pv.ping_timeouts > timeouts && self.window(t).is_none() {
                    out.violation(
                        t,
                        &[s.me, s.peer],
                        format!(
                            "node counters: {}'s ping_timeouts for {} went {} -> {} outside any fault",
                            s.me, s.peer, timeouts, pv.ping_timeouts
                        ),
                    );
                }
            }
            // A counter going down means the process restarted: new baseline.
            prev = Some((pv.connects, pv.ping_timeouts));
        }
    }

    fn kernel(&self, s: &Side, out: &mut Outcome, st: &mut Stats) {
        let mut used = vec![0; self.windows.len()];
        let mut known: BTreeSet<(u16, u16)> = BTreeSet::new();
        let mut prev: Option<(u64, BTreeSet<(u16, u16)>)> = None;
        // When the pair's latest connection (as the kernel shows it) was
        // first seen.
        let mut last_new: Option<u64> = None;
        let limit = self.v.handshake_limit();
        for sample in self.v.samples_of(s.me) {
            let Some(conns) = self.v.kernel_to(sample, s.peer_ip, self.p.p2p_port) else {
                continue; // unreadable this round: compare with the next readable one
            };
            let cur: BTreeSet<(u16, u16)> = conns
                .iter()
                .map(|c| (c.local_port, c.remote_port))
                .collect();
            let t = sample.t;
            if known.is_empty() && !cur.is_empty() {
                last_new = Some(t);
            }
            if let Some((pt, before)) = &prev {
                let fresh = cur.difference(&known).next().is_some();
                // A new socket while none of the old ones lives on is a
                // reconnect; a new one beside a live one is a duplicate
                // (one_peer_per_ip's business). A socket first seen while
                // the pair's fault is still in force is a dial attempt
                // into it (a paused peer's kernel completes the TCP
                // handshake nobody answers), not a connection: only
                // sockets after the heal/resume count toward the budget.
                //
                // A simultaneous open can also show its two sockets one
                // after the other, when a poll falls between the TCP
                // connect of the dial that loses the tie-break and that of
                // the one that wins (CI saw it after a heal: 9 s apart at
                // time scale 30). A socket that follows the pair's latest
                // one within the handshake limit is therefore that same
                // attempt; a storm still counts once per limit.
                if fresh
                    && !known.is_empty()
                    && cur.is_disjoint(before)
                    && !self.v.fault_active(s.me, s.peer, t)
                    && last_new.is_none_or(|f| t.saturating_sub(f) >= limit)
                {
                    last_new = Some(t);
                    if t >= self.warm {
                        self.reconnect(s, t, 1, &mut used, Evidence::KernelView, out, st);
                    }
                }
                if t >= self.warm {
                    let gone: Vec<&(u16, u16)> = before.difference(&cur).collect();
                    // Only the loss of the pair's connection counts: a
                    // duplicate closing beside a surviving socket is a
                    // resolved tie-break.
                    let lost = cur.is_disjoint(before);
                    if !gone.is_empty()
                        && lost
                        && self.window(t).is_none()
                        && self.window(*pt).is_none()
                        // A sample's kernel table is read after its API
                        // and events, up to a poll after `t` on a loaded
                        // host (slow-node on docker: a restart 5 s protocol
                        // after `t` had already closed the socket), and the
                        // node logs the close within a poll of that.
                        && !self.disconnect_logged(
                            s,
                            pt.saturating_sub(self.v.poll),
                            t + 2 * self.v.poll,
                        )
                    {
                        st.unlogged += 1;
                        out.violation(
                            t,
                            &[s.me, s.peer],
                            format!(
                                "kernel view: {}'s socket to {} (local port {}, remote port {}) \
                                 disappeared between {} and {}, but no node logged a disconnect{}",
                                s.me,
                                s.peer,
                                gone[0].0,
                                gone[0].1,
                                fmt_ms(*pt),
                                fmt_ms(t),
                                if still_listed(sample, s.peer_ip) {
                                    " and the node still reports it connected"
                                } else {
                                    ""
                                }
                            ),
                        );
                    }
                }
            }
            known.extend(cur.iter().copied());
            prev = Some((t, cur));
        }
    }

    /// Whether either node logged closing a connection of the other in
    /// `[from, to]` (a disconnect, a duplicate refused by the tie-break, or
    /// a handshake that ended before the connection was registered).
    fn disconnect_logged(&self, s: &Side, from: u64, to: u64) -> bool {
        self.v.tl.events.iter().any(|e| {
            e.t >= from
                && e.t <= to
                && matches!(
                    e.event.kind,
                    EventKind::Disconnected
                        | EventKind::RejectedDuplicate
                        | EventKind::HandshakeRejected
                )
                && ((e.node == s.me && e.event.peer_ip == Some(s.peer_ip))
                    || (e.node == s.peer && e.event.peer_ip == Some(s.my_ip)))
        })
    }

    /// At the end of each fault window (if the run lasted that long), both
    /// nodes running, `me` must list `peer` again.
    fn reconnected_after_faults(&self, s: &Side, out: &mut Outcome) {
        for w in &self.windows {
            if w.end > self.v.tl.end
                || !self.v.running(s.me, w.end)
                || !self.v.running(s.peer, w.end)
            {
                continue;
            }
            if self.v.separated(s.me, s.peer, w.end) {
                continue;
            }
            let listed = self
                .v
                .latest(s.me, w.end)
                .and_then(|x| x.peers.as_ref())
                .map(|ps| ps.iter().any(|x| x.ip == s.peer_ip));
            if listed == Some(false) {
                out.violation(
                    w.end,
                    &[s.me, s.peer],
                    format!(
                        "{} had not reconnected to {} by {} (fault window {}..{} plus grace)",
                        s.me,
                        s.peer,
                        fmt_ms(w.end),
                        fmt_ms(w.start),
                        fmt_ms(w.end)
                    ),
                );
            }
        }
    }
}

fn still_listed(sample: &Sample, peer: IpAddr) -> bool {
    sample
        .peers
        .as_ref()
        .is_some_and(|ps| ps.iter().any(|x| x.ip == peer))
}
