//! A small builder of synthetic timelines for the checks' unit tests:
//! a healthy full mesh producing blocks, plus one-line mutations that
//! inject each bug signature.

use crate::observe::model::{FaultSpan, KernelConn, NodeEvent, NodeInfo, Sample, Timeline};
use crate::scenario::{parse, FaultAction, Scenario};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use timed::api::types::{Direction, EventKind, EventView, PeerView, StatusView};

pub const P2P: u16 = 24100;
pub const SEC: u64 = 1000;
pub const MIN: u64 = 60 * SEC;

/// One TCP connection of a pair: up from `from` until `to`.
#[derive(Clone, Debug)]
struct Link {
    from: u64,
    to: Option<u64>,
    /// Why it closed (logged on both sides), `None` = nobody logged it.
    reason: Option<String>,
    /// The kernel socket disappears here (defaults to `to`).
    kernel_to: Option<u64>,
    /// Ephemeral port of the dialer (the lower node).
    port: u16,
}

pub struct Net {
    pub n: usize,
    pub end: u64,
    pub every: u64,
    pub block: u64,
    links: BTreeMap<(usize, usize), Vec<Link>>,
    stuck: BTreeMap<usize, u64>,
    bad_hash: Vec<(usize, u64)>,
    kernel_dups: Vec<(usize, usize, u64, u64)>,
    faults: Vec<FaultSpan>,
    /// `(node, from, to)`: the node is down (no API, no sockets).
    down: Vec<(usize, u64, u64)>,
    /// `(node, from, to)`: cut off from any quorum, the node keeps its height.
    stalled: Vec<(usize, u64, u64)>,
    next_port: u16,
}

pub fn name(i: usize) -> String {
    format!("n{i}")
}

pub fn ip(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(172, 28, 0, 10 + i as u8))
}

impl Net {
    /// `n` masternodes in a full mesh from t = 1 s, one block a minute,
    /// polled every 10 s for an hour.
    pub fn new(n: usize) -> Self {
        let mut net = Net {
            n,
            end: 60 * MIN,
            every: 10 * SEC,
            block: MIN,
            links: BTreeMap::new(),
            stuck: BTreeMap::new(),
            bad_hash: Vec::new(),
            kernel_dups: Vec::new(),
            faults: Vec::new(),
            down: Vec::new(),
            stalled: Vec::new(),
            next_port: 40000,
        };
        for a in 1..=n {
            for b in a + 1..=n {
                let port = net.port();
                net.links.insert(
                    (a, b),
                    vec![Link {
                        from: SEC + (a * 10 + b) as u64,
                        to: None,
                        reason: None,
                        kernel_to: None,
                        port,
                    }],
                );
            }
        }
        net
    }

    fn port(&mut self) -> u16 {
        self.next_port += 1;
        self.next_port
    }

    fn key(a: usize, b: usize) -> (usize, usize) {
        (a.min(b), a.max(b))
    }

    /// Close the pair's live connection at `t` (logged with `reason`) and
    /// open a new one 500 ms later.
    pub fn reconnect(&mut self, a: usize, b: usize, t: u64, reason: &str) -> &mut Self {
        self.close(a, b, t, Some(reason));
        self.open(a, b, t + 500)
    }

    pub fn close(&mut self, a: usize, b: usize, t: u64, reason: Option<&str>) -> &mut Self {
        let link = self
            .links
            .get_mut(&Self::key(a, b))
            .and_then(|ls| ls.last_mut())
            .expect("pair exists");
        assert!(link.to.is_none(), "pair already closed");
        link.to = Some(t);
        link.reason = reason.map(str::to_string);
        self
    }

    pub fn open(&mut self, a: usize, b: usize, t: u64) -> &mut Self {
        let port = self.port();
        self.links.entry(Self::key(a, b)).or_default().push(Link {
            from: t,
            to: None,
            reason: None,
            kernel_to: None,
            port,
        });
        self
    }

    /// Ping-timeout cycling: a reconnect every `period` from `first` on.
    pub fn cycle(&mut self, a: usize, b: usize, first: u64, period: u64) -> &mut Self {
        let mut t = first;
        while t + 500 < self.end {
            self.reconnect(a, b, t, "ping timeout");
            t += period;
        }
        self
    }

    /// A second kernel socket between `a` and `b` from `t` on.
    pub fn kernel_duplicate(&mut self, a: usize, b: usize, t: u64) -> &mut Self {
        self.kernel_dups.push((a, b, t, u64::MAX));
        self
    }

    /// A second kernel socket between `a` and `b` during `[from, to)` only.
    pub fn kernel_duplicate_during(&mut self, a: usize, b: usize, from: u64, to: u64) -> &mut Self {
        self.kernel_dups.push((a, b, from, to));
        self
    }

    /// SIGTERM `node` at `from`, start it again at `to`: its peers log
    /// `shutdown` and reconnect once, a second after it is back.
    pub fn restart(&mut self, node: usize, from: u64, to: u64) -> &mut Self {
        for o in (1..=self.n).filter(|o| *o != node) {
            self.close(node, o, from, Some("shutdown"));
            self.open(node, o, to + SEC);
        }
        self.down.push((node, from, to));
        self.faults.push(FaultSpan {
            start: from,
            end: Some(to),
            action: FaultAction::Restart,
            nodes: vec![name(node)],
            cuts: Vec::new(),
            description: format!("restart {}", name(node)),
            answers: Vec::new(),
        });
        self
    }

    /// `node` starts only at `start` (a late joiner) and connects a second later.
    pub fn late(&mut self, node: usize, start: u64) -> &mut Self {
        for o in (1..=self.n).filter(|o| *o != node) {
            let link = &mut self.links.get_mut(&Self::key(node, o)).unwrap()[0];
            link.from = start + SEC + o as u64;
        }
        self.down.push((node, 0, start));
        self
    }

    /// `node` never connects to anyone (a foreign-genesis node that every
    /// handshake refuses).
    pub fn refused(&mut self, node: usize) -> &mut Self {
        self.links.retain(|(a, b), _| *a != node && *b != node);
        self
    }

    /// The pair's kernel socket disappears at `t`; nobody logs anything and
    /// both nodes keep listing each other.
    pub fn kernel_vanish(&mut self, a: usize, b: usize, t: u64) -> &mut Self {
        let link = self
            .links
            .get_mut(&Self::key(a, b))
            .unwrap()
            .last_mut()
            .unwrap();
        link.kernel_to = Some(t);
        self
    }

    /// `node` never gets past `height`.
    pub fn stuck(&mut self, node: usize, height: u64) -> &mut Self {
        self.stuck.insert(node, height);
        self
    }

    /// `node` reports another hash while at `height`.
    pub fn bad_hash(&mut self, node: usize, height: u64) -> &mut Self {
        self.bad_hash.push((node, height));
        self
    }

    /// A partition between `groups` from `start` to `end`: cross pairs time
    /// out by ping 90 s in and reconnect once, 2 s after the heal.
    pub fn partition(&mut self, groups: &[&[usize]], start: u64, end: u64) -> &mut Self {
        let mut cuts = Vec::new();
        for (i, g) in groups.iter().enumerate() {
            for h in &groups[i + 1..] {
                for &a in *g {
                    for &b in *h {
                        cuts.push((name(a), name(b)));
                        cuts.push((name(b), name(a)));
                        if start + 90 * SEC < end {
                            self.close(a, b, start + 90 * SEC, Some("ping timeout"));
                            self.open(a, b, end + 2 * SEC);
                        }
                    }
                }
            }
        }
        // A side holding no more than 2/3 of the masternodes stalls, as BFT
        // consensus must (all nodes are masternodes here).
        for g in groups {
            if 3 * g.len() <= 2 * self.n {
                self.stalled
                    .extend(g.iter().map(|&node| (node, start, end)));
            }
        }
        self.faults.push(FaultSpan {
            start,
            end: Some(end),
            action: FaultAction::Partition,
            nodes: groups[0].iter().map(|i| name(*i)).collect(),
            cuts,
            description: "test partition".into(),
            answers: Vec::new(),
        });
        self
    }

    fn height(&self, node: usize, t: u64) -> u64 {
        let stalled_since = self
            .stalled
            .iter()
            .find(|(n, from, to)| *n == node && t >= *from && t < *to)
            .map(|(_, from, _)| *from);
        let h = stalled_since.unwrap_or(t) / self.block;
        self.stuck.get(&node).copied().unwrap_or(h)
    }

    fn hash(&self, node: usize, h: u64) -> String {
        if self.bad_hash.contains(&(node, h)) {
            format!("evil{h}")
        } else {
            format!("h{h}")
        }
    }

    fn live(l: &Link, t: u64) -> bool {
        t >= l.from && l.to.is_none_or(|e| t < e)
    }

    fn kernel_live(l: &Link, t: u64) -> bool {
        Self::live(l, t) && l.kernel_to.is_none_or(|e| t < e)
    }

    pub fn build(&self) -> Timeline {
        let mut events = Vec::new();
        let mut seq = BTreeMap::<usize, u64>::new();
        let mut ev = |t: u64, node: usize, peer: usize, kind: EventKind, reason: Option<String>| {
            let s = seq.entry(node).or_default();
            *s += 1;
            NodeEvent {
                t,
                node: name(node),
                event: EventView {
                    seq: *s,
                    at_ms: t,
                    kind,
                    peer_ip: Some(ip(peer)),
                    direction: Some(if node < peer {
                        Direction::Outbound
                    } else {
                        Direction::Inbound
                    }),
                    reason,
                },
            }
        };
        for (&(a, b), links) in &self.links {
            for l in links {
                events.push(ev(l.from, a, b, EventKind::Connected, None));
                events.push(ev(l.from, b, a, EventKind::Connected, None));
                if let (Some(t), Some(r)) = (l.to, &l.reason) {
                    events.push(ev(t, a, b, EventKind::Disconnected, Some(r.clone())));
                    events.push(ev(t, b, a, EventKind::Disconnected, Some(r.clone())));
                }
            }
        }
        events.sort_by_key(|e| e.t);

        let mut samples = Vec::new();
        let mut t = 0;
        while t <= self.end {
            for node in 1..=self.n {
                samples.push(self.sample(node, t));
            }
            t += self.every;
        }
        // Each node logs every block it takes on as finalized by consensus.
        let mut top: BTreeMap<String, u64> = BTreeMap::new();
        for s in &samples {
            let Some(st) = &s.status else { continue };
            let h0 = *top.get(&s.node).unwrap_or(&0);
            for h in h0 + 1..=st.height {
                events.push(NodeEvent {
                    t: s.t,
                    node: s.node.clone(),
                    event: EventView {
                        seq: 0,
                        at_ms: s.t,
                        kind: EventKind::BlockFinalized,
                        peer_ip: None,
                        direction: None,
                        reason: Some(format!("height={h} hash=h{h} txs=0 source=consensus")),
                    },
                });
            }
            top.insert(s.node.clone(), h0.max(st.height));
        }
        events.sort_by_key(|e| e.t);
        Timeline {
            time_scale: 1.0,
            nodes: (1..=self.n)
                .map(|i| NodeInfo {
                    name: name(i),
                    ip: ip(i),
                    masternode: true,
                })
                .collect(),
            samples,
            events,
            faults: self.faults.clone(),
            end: self.end,
            poll: self.every,
            txs_submitted: Vec::new(),
            txs_in_chain: BTreeMap::new(),
        }
    }

    fn sample(&self, node: usize, t: u64) -> Sample {
        if self
            .down
            .iter()
            .any(|&(n, from, to)| n == node && t >= from && t < to)
        {
            return Sample {
                t,
                node: name(node),
                up: false,
                status: None,
                peers: None,
                kernel: None,
            };
        }
        let mut peers = Vec::new();
        let mut kernel = Vec::new();
        for other in (1..=self.n).filter(|o| *o != node) {
            let links = self
                .links
                .get(&Self::key(node, other))
                .map_or(&[][..], Vec::as_slice);
            let connects = links.iter().filter(|l| l.from <= t).count() as u64;
            let timeouts = links
                .iter()
                .filter(|l| {
                    l.to.is_some_and(|e| e <= t) && l.reason.as_deref() == Some("ping timeout")
                })
                .count() as u64;
            let dialer = node < other;
            let conn = |port: u16| {
                if dialer {
                    KernelConn {
                        local_ip: ip(node),
                        local_port: port,
                        remote_ip: ip(other),
                        remote_port: P2P,
                    }
                } else {
                    KernelConn {
                        local_ip: ip(node),
                        local_port: P2P,
                        remote_ip: ip(other),
                        remote_port: port,
                    }
                }
            };
            for l in links {
                if Self::live(l, t) {
                    peers.push(PeerView {
                        ip: ip(other),
                        listen_port: P2P,
                        direction: if dialer {
                            Direction::Outbound
                        } else {
                            Direction::Inbound
                        },
                        connection_id: u64::from(l.port),
                        connected_at_ms: l.from,
                        last_seen_ms: t,
                        rtt_ms: Some(0.3),
                        pings_sent: t / 30_000,
                        pongs_received: t / 30_000,
                        ping_timeouts: timeouts,
                        connects,
                    });
                }
                if Self::kernel_live(l, t) {
                    kernel.push(conn(l.port));
                }
            }
            for &(a, b, from, to) in &self.kernel_dups {
                if Self::key(a, b) == Self::key(node, other) && t >= from && t < to {
                    kernel.push(conn(9));
                }
            }
        }
        let h = self.height(node, t);
        Sample {
            t,
            node: name(node),
            up: true,
            status: Some(StatusView {
                node_id: format!("id{node}"),
                ip: ip(node),
                height: h,
                tip_hash: self.hash(node, h),
                genesis_hash: "g".into(),
                peers: peers.len(),
                masternode: true,
                syncing: false,
                uptime_ms: t,
            }),
            peers: Some(peers),
            kernel: Some(kernel),
        }
    }
}

/// The six-masternodes scenario's checks, for `n` nodes and an hour.
pub fn scenario(n: usize) -> Scenario {
    scenario_with(n, "")
}

/// [`scenario`] plus more TOML (e.g. `[[node]]` tables for late joiners).
pub fn scenario_with(n: usize, extra: &str) -> Scenario {
    let text = format!(
        r#"
name = "test"
duration = "1h"
[network]
nodes = {n}
block_interval = "60s"
[[check]]
kind = "no_cycling"
[[check]]
kind = "one_peer_per_ip"
[[check]]
kind = "common_height"
within = "3m"
min_height = 40
[[check]]
kind = "no_fork"
[[check]]
kind = "progress"
[[check]]
kind = "node_up"
[[check]]
kind = "kernel_view"
[[check]]
kind = "dial_backoff"
[[check]]
kind = "height_lag"
{extra}
"#
    );
    parse(&text, "test.toml").expect("test scenario parses")
}

/// `node` logs an event of `kind` about its outbound connection to
/// `target` at `t`, with `reason`; the timeline stays in time order.
pub fn outbound_event(
    tl: &mut Timeline,
    node: usize,
    target: IpAddr,
    t: u64,
    kind: EventKind,
    reason: &str,
) {
    tl.events.push(NodeEvent {
        t,
        node: name(node),
        event: EventView {
            seq: 0,
            at_ms: t,
            kind,
            peer_ip: Some(target),
            direction: Some(Direction::Outbound),
            reason: Some(reason.into()),
        },
    });
    tl.events.sort_by_key(|e| e.t);
}

/// Every sample of `node` (every node if `None`) in `[from, to)` reports
/// height `height`, on the tip `h<height>` the other samples use.
pub fn hold_height(tl: &mut Timeline, node: Option<&str>, from: u64, to: u64, height: u64) {
    for s in tl
        .samples
        .iter_mut()
        .filter(|s| node.is_none_or(|n| s.node == n) && (from..to).contains(&s.t))
    {
        if let Some(st) = s.status.as_mut() {
            st.height = height;
            st.tip_hash = format!("h{height}");
        }
    }
}
