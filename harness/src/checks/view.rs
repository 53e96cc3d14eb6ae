//! A read-only index over a [`Timeline`] that every check shares: node
//! liveness, who is ignored, fault windows per pair, quorum sides.

use crate::observe::model::{Answer, FaultSpan, KernelConn, Sample, Timeline};
use crate::observe::PollConfig;
use crate::scenario::{ms, FaultAction, Scenario};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::Duration;
use timed::constants::{
    HANDSHAKE_TIMEOUT, HANDSHAKE_TIMEOUT_FLOOR, MAX_MISSED_PONGS, PING_INTERVAL,
};

/// The longest pause that must cost no connection: its peers see at most
/// `MAX_MISSED_PONGS - 1` pings go unanswered, one short of a ping timeout.
pub const BRIEF_STALL: Duration =
    Duration::from_secs(PING_INTERVAL.as_secs() * (MAX_MISSED_PONGS as u64 - 1));

/// Wall time the harness may take to install or lift a partition's rules
/// on every node: up to 3.5 s seen on a loaded 2-core host (24 cuts on 7
/// nodes, split-below-quorum). Bounds: above that, and well below a
/// partition's length (150 s protocol of an 8 min split at time scale 30).
pub const RULES_SETTLE: Duration = Duration::from_secs(5);

/// Wall time a pause's recorded span may exceed the freeze itself: it opens
/// before the runtime's freeze call and closes after its thaw call returns
/// (brief-stall's 50 s pauses were recorded as 56-64 s at time scale 30 on a
/// loaded 2-core host, over [`BRIEF_STALL`], so nothing was judged). Bounds:
/// above those 0.47 s; below what would let a real freeze reach a peer's
/// third missed pong (a freeze must last about 3 ping intervals, 90 s, for
/// that; `BRIEF_STALL` + 0.5 s at time scale 30 is 75 s).
pub const PAUSE_SETTLE: Duration = Duration::from_millis(500);

/// A time window in which a pair (or node) is excused; `faults` is how many
/// fault spans were merged into it (each may cost one reconnect).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub start: u64,
    pub end: u64,
    pub faults: usize,
}

impl Window {
    pub fn contains(&self, t: u64) -> bool {
        t >= self.start && t <= self.end
    }
}

pub struct View<'a> {
    pub tl: &'a Timeline,
    /// Nodes the checks look at (all but foreign-genesis ones), in order.
    pub nodes: Vec<String>,
    pub ignored: BTreeSet<String>,
    pub masternodes: BTreeSet<String>,
    ip_to_name: BTreeMap<IpAddr, String>,
    samples: BTreeMap<String, Vec<&'a Sample>>,
    /// First time each node was seen up.
    pub first_up: BTreeMap<String, u64>,
    /// Protocol ms between two polls of one node: the poller's real cadence
    /// (slack for matching views), never the gap between stored samples.
    pub poll: u64,
    /// When each late joiner is started (`start_at`); others start at 0.
    start_at: BTreeMap<String, u64>,
    /// The faults are a random nemesis's draw for the seed (`[nemesis]`),
    /// not only the file's list: a kind may not have been drawn at all.
    pub drawn: bool,
}

impl<'a> View<'a> {
    pub fn new(scenario: &Scenario, tl: &'a Timeline) -> Self {
        let ignored: BTreeSet<String> = scenario.foreign_nodes().into_iter().collect();
        let nodes: Vec<String> = tl
            .nodes
            .iter()
            .map(|n| n.name.clone())
            .filter(|n| !ignored.contains(n))
            .collect();
        let masternodes = tl
            .nodes
            .iter()
            .filter(|n| n.masternode && !ignored.contains(&n.name))
            .map(|n| n.name.clone())
            .collect();
        let ip_to_name = tl.nodes.iter().map(|n| (n.ip, n.name.clone())).collect();
        let mut samples: BTreeMap<String, Vec<&Sample>> = BTreeMap::new();
        for s in &tl.samples {
            samples.entry(s.node.clone()).or_default().push(s);
        }
        let first_up = samples
            .iter()
            .filter_map(|(n, ss)| ss.iter().find(|s| s.up).map(|s| (n.clone(), s.t)))
            .collect();
        // Timelines recorded before `poll` existed: the default cadence.
        let poll = if tl.poll > 0 {
            tl.poll
        } else {
            (PollConfig::default().interval.as_millis() as f64 * tl.time_scale.max(0.0)) as u64
        }
        .max(1);
        let start_at = scenario
            .nodes
            .iter()
            .filter_map(|n| n.start_at.map(|d| (n.name.clone(), ms(d))))
            .collect();
        View {
            tl,
            nodes,
            ignored,
            masternodes,
            ip_to_name,
            samples,
            first_up,
            poll,
            start_at,
            drawn: scenario.nemesis.is_some(),
        }
    }

    /// When `node` is started: its `start_at`, else the run's start.
    pub fn start_at(&self, node: &str) -> u64 {
        self.start_at.get(node).copied().unwrap_or(0)
    }

    /// The name of the (non-ignored or ignored) node with this IP.
    pub fn name_of(&self, ip: IpAddr) -> Option<&str> {
        self.ip_to_name.get(&ip).map(String::as_str)
    }

    pub fn ip_of(&self, node: &str) -> Option<IpAddr> {
        self.tl.node(node).map(|n| n.ip)
    }

    pub fn samples_of(&self, node: &str) -> &[&'a Sample] {
        self.samples.get(node).map_or(&[], Vec::as_slice)
    }

    /// The node's latest sample at or before `t`.
    pub fn latest(&self, node: &str, t: u64) -> Option<&'a Sample> {
        let ss = self.samples_of(node);
        let i = ss.partition_point(|s| s.t <= t);
        (i > 0).then(|| ss[i - 1])
    }

    /// Up (running, API answering) according to its latest sample.
    pub fn running(&self, node: &str, t: u64) -> bool {
        self.latest(node, t).is_some_and(|s| s.up)
    }

    /// All distinct sample times, sorted.
    pub fn sample_times(&self) -> Vec<u64> {
        let set: BTreeSet<u64> = self.tl.samples.iter().map(|s| s.t).collect();
        set.into_iter().collect()
    }

    /// Whether the fault cuts `a` from `b` (either direction).
    pub fn cuts_pair(f: &FaultSpan, a: &str, b: &str) -> bool {
        f.action.cuts_links()
            && f.cuts
                .iter()
                .any(|(x, y)| (x == a && y == b) || (x == b && y == a))
    }

    /// Whether the fault takes `node`'s process away.
    pub fn hits_node(f: &FaultSpan, node: &str) -> bool {
        f.action.is_process_fault() && f.nodes.iter().any(|n| n == node)
    }

    fn fault_end(&self, f: &FaultSpan) -> u64 {
        f.end.unwrap_or(self.tl.end).max(f.start)
    }

    /// Merged windows `[start, end + grace]` of the faults that may
    /// disconnect `a` from `b`.
    pub fn pair_windows(&self, a: &str, b: &str, grace: u64) -> Vec<Window> {
        self.windows(
            |f| Self::cuts_pair(f, a, b) || Self::hits_node(f, a) || Self::hits_node(f, b),
            grace,
        )
    }

    /// [`Self::pair_windows`] for the link itself: a pause shorter than
    /// [`BRIEF_STALL`] excuses nothing, because it cannot cost the pair its
    /// connection (peers miss at most `MAX_MISSED_PONGS - 1` pongs). What
    /// the frozen node cannot do meanwhile (answer its API, keep its
    /// height) is still excused by the other windows.
    /// Each honest `HandshakeAck` to a tie-break probe between the pair
    /// inside a window allows one more reconnect there: the node rightly
    /// took the probe (the lower id's dial) as the peer, and lost it when
    /// the probe hung up.
    pub fn link_windows(&self, a: &str, b: &str, grace: u64) -> Vec<Window> {
        let mut ws = self.windows(
            |f| {
                !self.brief_stall(f)
                    && (Self::cuts_pair(f, a, b) || Self::hits_node(f, a) || Self::hits_node(f, b))
            },
            grace,
        );
        for t in self.tie_break_acks(a, b) {
            if let Some(w) = ws.iter_mut().find(|w| w.contains(t)) {
                w.faults += 1;
            }
        }
        ws
    }

    /// When a node of the pair took the other's crossing dial mid-handshake
    /// as the tie-break says (the dialer had the lower id).
    fn tie_break_acks(&self, a: &str, b: &str) -> Vec<u64> {
        let pair = |x: &str, y: &str| (x == a && y == b) || (x == b && y == a);
        self.tl
            .faults
            .iter()
            .flat_map(|f| &f.answers)
            .filter(|p| pair(&p.node, &p.from) && p.answer == Answer::Ack)
            .filter(|p| p.tie_break.as_ref().is_some_and(|tb| tb.dialer_wins()))
            .map(|p| p.t)
            .collect()
    }

    /// A pause that ended within [`BRIEF_STALL`] of its start, allowing
    /// [`PAUSE_SETTLE`] (wall) for the runtime's freeze and thaw calls that
    /// the recorded span includes.
    pub fn brief_stall(&self, f: &FaultSpan) -> bool {
        let settle = (ms(PAUSE_SETTLE) as f64 * self.tl.time_scale.max(0.0)) as u64;
        f.action == FaultAction::Pause
            && f.end
                .is_some_and(|e| e.saturating_sub(f.start) < ms(BRIEF_STALL) + settle)
    }

    /// Merged windows `[start, end + grace]` of the process faults on `node`.
    pub fn node_windows(&self, node: &str, grace: u64) -> Vec<Window> {
        self.windows(|f| Self::hits_node(f, node), grace)
    }

    /// Merged windows `[start, end + grace]` of the CPU throttles on
    /// `node`: it may trail the top height there (and only there: a
    /// throttled node is up, so every pair and mesh rule still holds).
    pub fn throttle_windows(&self, node: &str, grace: u64) -> Vec<Window> {
        self.windows(
            |f| f.action == FaultAction::CpuThrottle && f.nodes.iter().any(|n| n == node),
            grace,
        )
    }

    /// Merged windows `[start, end + grace]` of every partition.
    pub fn partition_windows(&self, grace: u64) -> Vec<Window> {
        self.windows(|f| f.action.cuts_links(), grace)
    }

    fn windows(&self, pick: impl Fn(&FaultSpan) -> bool, grace: u64) -> Vec<Window> {
        let mut ws: Vec<Window> = self
            .tl
            .faults
            .iter()
            .filter(|f| pick(f))
            .map(|f| Window {
                start: f.start,
                end: self.fault_end(f).saturating_add(grace),
                faults: 1,
            })
            .collect();
        ws.sort_by_key(|w| w.start);
        let mut merged: Vec<Window> = Vec::new();
        for w in ws {
            match merged.last_mut() {
                Some(m) if w.start <= m.end => {
                    m.end = m.end.max(w.end);
                    m.faults += w.faults;
                }
                _ => merged.push(w),
            }
        }
        merged
    }

    /// Whether a fault that may disconnect `a` from `b` is still in force at
    /// `t` (a partition between them, or a process fault on either one),
    /// as opposed to the grace period after it.
    pub fn fault_active(&self, a: &str, b: &str, t: u64) -> bool {
        self.tl.faults.iter().any(|f| {
            t >= f.start
                && t < self.fault_end(f)
                && (Self::cuts_pair(f, a, b) || Self::hits_node(f, a) || Self::hits_node(f, b))
        })
    }

    /// Whether `a` and `b` are cut from each other at `t`.
    pub fn separated(&self, a: &str, b: &str, t: u64) -> bool {
        self.tl
            .faults
            .iter()
            .any(|f| t >= f.start && f.end.is_none_or(|e| t < e) && Self::cuts_pair(f, a, b))
    }

    /// The running nodes `node` can reach at `t`, directly or through
    /// others (consensus messages are relayed), itself included.
    pub fn component(&self, node: &str, t: u64) -> Vec<String> {
        let up: Vec<&String> = self.nodes.iter().filter(|n| self.running(n, t)).collect();
        let mut seen = vec![node.to_string()];
        let mut i = 0;
        while i < seen.len() {
            let cur = seen[i].clone();
            for u in &up {
                if !seen.iter().any(|s| s == *u) && !self.separated(&cur, u, t) {
                    seen.push((*u).clone());
                }
            }
            i += 1;
        }
        seen
    }

    /// Whether `node` is cut off from every quorum at `t` by a partition:
    /// everything it can reach holds no more than 2/3 of the masternodes.
    ///
    /// Only while the cuts are surely in force: from [`RULES_SETTLE`] (wall)
    /// after the span's start to as long before its end. The span is wide
    /// on purpose (it opens before the first rule goes in and closes after
    /// the last one is gone, so excuses cover every cut), but a node whose
    /// rules are not yet in, or already gone, may still finalize with the
    /// rest.
    pub fn cut_from_quorum(&self, node: &str, t: u64) -> bool {
        let settle = (ms(RULES_SETTLE) as f64 * self.tl.time_scale.max(0.0)) as u64;
        let partitioned = self.tl.faults.iter().any(|f| {
            f.action.cuts_links() && t >= f.start + settle && t + settle < self.fault_end(f)
        });
        let total = self.masternodes.len();
        partitioned && total > 0 && {
            let reach = self.component(node, t);
            let mn = self
                .masternodes
                .iter()
                .filter(|m| reach.contains(m))
                .count();
            3 * mn <= 2 * total
        }
    }

    /// The largest group of running masternodes that all reach each other at
    /// `t` and hold more than 2/3 of the masternodes (equal weights), if any.
    ///
    /// Conservative on purpose: a group counts only if it is a clique of the
    /// "not separated" relation (a `bridge` node's neighbourhood is not), so
    /// progress is never demanded where consensus may legitimately stall.
    /// Of two such groups of one size (a cut between two nodes only), the
    /// first-listed masternode's is taken, so a report always names the same.
    pub fn quorum_side(&self, t: u64) -> Option<Vec<String>> {
        let total = self.masternodes.len();
        if total == 0 {
            return None;
        }
        let up: Vec<&String> = self
            .masternodes
            .iter()
            .filter(|m| self.running(m, t))
            .collect();
        let mut best: Option<Vec<String>> = None;
        for v in &up {
            let group: Vec<&String> = up
                .iter()
                .copied()
                .filter(|u| u == v || !self.separated(v, u, t))
                .collect();
            let clique = group
                .iter()
                .all(|x| group.iter().all(|y| x == y || !self.separated(x, y, t)));
            if clique
                && 3 * group.len() > 2 * total
                && best.as_ref().is_none_or(|b| group.len() > b.len())
            {
                best = Some(group.into_iter().cloned().collect());
            }
        }
        best
    }

    /// The longest a pending handshake lives on a node, in protocol ms: the
    /// node's handshake timeout, or its wall-clock floor at this time scale.
    /// A kernel socket younger than this may be a handshake that a
    /// tie-break is about to close; one that outlives it is a connection.
    pub fn handshake_limit(&self) -> u64 {
        let floor = (ms(HANDSHAKE_TIMEOUT_FLOOR) as f64 * self.tl.time_scale.max(0.0)) as u64;
        ms(HANDSHAKE_TIMEOUT).max(floor)
    }

    /// Kernel connections of `node`'s sample to `peer` on the P2P port.
    pub fn kernel_to<'s>(
        &self,
        sample: &'s Sample,
        peer: IpAddr,
        p2p_port: u16,
    ) -> Option<Vec<&'s KernelConn>> {
        sample.kernel.as_ref().map(|conns| {
            conns
                .iter()
                .filter(|c| {
                    c.remote_ip == peer && (c.local_port == p2p_port || c.remote_port == p2p_port)
                })
                .collect()
        })
    }

    /// Unordered pairs of checked nodes.
    pub fn pairs(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (i, a) in self.nodes.iter().enumerate() {
            for b in &self.nodes[i + 1..] {
                out.push((a.clone(), b.clone()));
            }
        }
        out
    }
}
