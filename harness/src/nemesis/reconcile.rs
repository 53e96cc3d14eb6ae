//! Per-node state of the nemesis and the reconciliation of each node's
//! network namespace with the faults that are active.
//!
//! Network faults are *desired state*: after every change the nemesis asks
//! [`Nodes::sync`] to compute, per node, the rules its chain must hold (every
//! active cut into that node + every active loss on it) and its netem delay,
//! and to re-install only the nodes whose state differs. One [`NodeState`]
//! per node owns everything known about it (what its namespace holds,
//! whether that is in doubt, its clock skew), so no two maps can disagree.

use super::netfilter::{self, Rule};
use super::schedule::Fault;
use crate::provider::Cluster;
use anyhow::{anyhow, Context};
use std::collections::{BTreeMap, BTreeSet};
use timed::constants::DEFAULT_P2P_PORT;

/// What one node's namespace holds (or should hold): our chain's rules and
/// the netem delay on its `eth0` (0 = none).
#[derive(Clone, Debug, Default, PartialEq)]
struct Net {
    rules: Vec<Rule>,
    delay_ms: u64,
}

impl Net {
    fn is_empty(&self) -> bool {
        self.rules.is_empty() && self.delay_ms == 0
    }
}

/// Everything the nemesis knows about one node.
#[derive(Debug, Default)]
struct NodeState {
    /// What its current namespace holds (`Default`: nothing, as in a fresh
    /// namespace).
    net: Net,
    /// The last install failed: the namespace's state is unknown, so it is
    /// re-installed at the next sync whatever `net` says.
    in_doubt: bool,
    /// Its active clock skew, kept across wipes and restarts.
    skew_ms: Option<i64>,
    /// Its active CPU cap in cores (`cpu_throttle`), applied again after a
    /// recreate (a new container has no quota).
    cpus: Option<f64>,
}

impl NodeState {
    fn needs(&self, want: &Net) -> bool {
        self.in_doubt || self.net != *want
    }

    /// The process (re)started or is gone: so is its namespace.
    fn namespace_gone(&mut self) {
        self.net = Net::default();
    }
}

/// The per-node state of every node the nemesis has touched.
pub(super) struct Nodes {
    nodes: BTreeMap<String, NodeState>,
    /// `netfilter::check` passed.
    checked: bool,
    /// Loss is limited to this TCP port so API polling stays clean.
    p2p_port: u16,
}

impl Nodes {
    pub(super) fn new() -> Self {
        Nodes {
            nodes: BTreeMap::new(),
            checked: false,
            p2p_port: DEFAULT_P2P_PORT,
        }
    }

    fn state(&mut self, node: &str) -> &mut NodeState {
        self.nodes.entry(node.to_string()).or_default()
    }

    /// The node's active clock skew (for the flags of a recreate).
    pub(super) fn skew_ms(&self, node: &str) -> Option<i64> {
        self.nodes.get(node).and_then(|s| s.skew_ms)
    }

    pub(super) fn set_skew(&mut self, node: &str, skew_ms: Option<i64>) {
        self.state(node).skew_ms = skew_ms;
    }

    /// The node's active CPU cap, cores.
    pub(super) fn cpus(&self, node: &str) -> Option<f64> {
        self.nodes.get(node).and_then(|s| s.cpus)
    }

    pub(super) fn set_cpus(&mut self, node: &str, cpus: Option<f64>) {
        self.state(node).cpus = cpus;
    }

    /// What `node`'s namespace must hold under the `active` faults: one drop
    /// per active cut into it, one loss rule per active loss on it, the
    /// largest active latency on it.
    fn desired<C: Cluster>(&self, node: &str, active: &[&Fault], c: &C) -> anyhow::Result<Net> {
        let mut sources = BTreeSet::new();
        let mut losses = Vec::new();
        let mut delay_ms = 0;
        let targets = |nodes: &[String]| nodes.iter().any(|n| n == node);
        for fault in active {
            match fault {
                Fault::Partition { cuts, .. } => {
                    for (from, _) in cuts.iter().filter(|(_, to)| to == node) {
                        let ip = c
                            .node_ip(from)
                            .ok_or_else(|| anyhow!("no IP for node {from}"))?;
                        sources.insert(ip);
                    }
                }
                Fault::Loss { nodes, probability } if targets(nodes) => losses.push(Rule::Loss {
                    probability: *probability,
                    port: Some(self.p2p_port),
                }),
                Fault::Latency {
                    nodes, delay_ms: d, ..
                } if targets(nodes) => {
                    delay_ms = delay_ms.max(*d);
                }
                _ => {}
            }
        }
        let mut rules: Vec<Rule> = sources.into_iter().map(Rule::DropFrom).collect();
        rules.extend(losses);
        Ok(Net { rules, delay_ms })
    }

    /// Bring every node's namespace to what the `active` faults want;
    /// returns the nodes that changed. A node that is not running is
    /// skipped: it gets its rules in [`Nodes::node_started`].
    pub(super) async fn sync<C: Cluster>(
        &mut self,
        active: &[&Fault],
        c: &C,
    ) -> anyhow::Result<Vec<String>> {
        let mut todo = Vec::new();
        for node in c.node_names() {
            let want = self.desired(&node, active, c)?;
            if self
                .nodes
                .get(&node)
                .map_or(!want.is_empty(), |s| s.needs(&want))
            {
                todo.push((node, want));
            }
        }
        self.install(todo, c).await
    }

    /// Remove our rules and delay from every node that may still hold any
    /// (end of run), whatever the active faults say.
    pub(super) async fn clear<C: Cluster>(&mut self, c: &C) -> anyhow::Result<Vec<String>> {
        let todo = c
            .node_names()
            .into_iter()
            .filter(|n| {
                self.nodes
                    .get(n)
                    .is_some_and(|s| s.in_doubt || !s.net.is_empty())
            })
            .map(|n| (n, Net::default()))
            .collect();
        self.install(todo, c).await
    }

    /// `node`'s process was (re)started: it has a fresh namespace, so install
    /// what the `active` faults want there again. Returns what was done.
    pub(super) async fn node_started<C: Cluster>(
        &mut self,
        node: &str,
        active: &[&Fault],
        c: &C,
    ) -> anyhow::Result<String> {
        self.state(node).namespace_gone();
        let want = self.desired(node, active, c)?;
        if want.is_empty() {
            return Ok(format!("{node} started: no network faults to re-apply"));
        }
        let n = want.rules.len();
        let changed = self.install(vec![(node.to_string(), want)], c).await?;
        let line = if !changed.is_empty() {
            format!("{node} started: re-applied {n} rules")
        } else {
            format!("{node} started but has no process yet: rules pending")
        };
        tracing::info!(target: "nemesis", "{line}");
        Ok(line)
    }

    /// Install each node's wanted state in its namespace, all nodes
    /// concurrently (a partition should start on every node at about the
    /// same instant; ~17 ms per node sequentially). Returns the nodes
    /// changed; nodes not running are skipped. On failure the other nodes
    /// are still installed and the failed one is retried at the next sync.
    async fn install<C: Cluster>(
        &mut self,
        todo: Vec<(String, Net)>,
        c: &C,
    ) -> anyhow::Result<Vec<String>> {
        let mut jobs = Vec::new();
        for (node, want) in todo {
            match c.pid(&node).await? {
                Some(pid) => {
                    let old_delay = self.state(&node).net.delay_ms;
                    jobs.push((node, pid, want, old_delay));
                }
                None => {
                    tracing::info!(target: "nemesis", "{node} not running: its rules will be installed when it starts");
                    self.state(&node).namespace_gone();
                }
            }
        }
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        if !self.checked {
            netfilter::check().await?;
            self.checked = true;
        }
        let results =
            futures::future::join_all(jobs.iter().map(|(node, pid, want, old_delay)| async move {
                netfilter::install(*pid, &want.rules)
                    .await
                    .with_context(|| format!("rules of {node}"))?;
                if want.delay_ms != *old_delay {
                    netfilter::set_latency(*pid, want.delay_ms)
                        .await
                        .with_context(|| format!("latency of {node}"))?;
                }
                anyhow::Ok(())
            }))
            .await;
        let mut changed = Vec::new();
        let mut first_err = None;
        for ((node, _, want, _), result) in jobs.into_iter().zip(results) {
            let state = self.state(&node);
            match result {
                Ok(()) => {
                    tracing::debug!(target: "nemesis", "{node}: {} rules, delay {}ms", want.rules.len(), want.delay_ms);
                    state.net = want;
                    state.in_doubt = false;
                    changed.push(node);
                }
                Err(e) => {
                    // Unknown state: force a full re-install next time.
                    state.in_doubt = true;
                    first_err = first_err.or(Some(e));
                }
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(changed),
        }
    }
}
