//! Values derived from a scenario that the runner, nemesis and checks share,
//! so "n3", "masternode" and "wall time" mean the same thing everywhere.

use super::types::{CheckKind, CheckSpec, NodeSpec, Scenario};
use std::time::Duration;

impl Scenario {
    /// `n1..nN`.
    pub fn node_names(&self) -> Vec<String> {
        (1..=self.network.nodes).map(|i| format!("n{i}")).collect()
    }

    /// Number of masternodes (default: every node).
    pub fn masternode_count(&self) -> usize {
        self.network.masternodes.unwrap_or(self.network.nodes)
    }

    /// The first `masternodes` nodes are masternodes.
    pub fn is_masternode(&self, node: &str) -> bool {
        node_index(node).is_some_and(|i| i >= 1 && i <= self.masternode_count())
    }

    /// Per-node overrides for `node`, if any.
    pub fn node_spec(&self, node: &str) -> Option<&NodeSpec> {
        self.nodes.iter().find(|n| n.name == node)
    }

    /// Protocol time at which `node` starts (0 unless a late joiner).
    pub fn start_at(&self, node: &str) -> Duration {
        self.node_spec(node)
            .and_then(|n| n.start_at)
            .unwrap_or_default()
    }

    /// Nodes started with a foreign genesis: refused by the others and
    /// ignored by every check.
    pub fn foreign_nodes(&self) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|n| n.foreign_genesis)
            .map(|n| n.name.clone())
            .collect()
    }

    /// Wall time of a protocol duration: `d / time_scale`.
    pub fn wall(&self, d: Duration) -> Duration {
        d.div_f64(self.time_scale)
    }

    /// Wall time of the whole run.
    pub fn wall_duration(&self) -> Duration {
        self.wall(self.duration)
    }

    /// The `[[check]]` of this kind, if the scenario asks for it.
    pub fn check(&self, kind: CheckKind) -> Option<&CheckSpec> {
        self.checks.iter().find(|c| c.kind == kind)
    }
}

/// `"n3"` -> `Some(3)`.
pub fn node_index(node: &str) -> Option<usize> {
    node.strip_prefix('n')?.parse().ok()
}

/// Protocol milliseconds of a duration (timeline times are protocol ms).
pub fn ms(d: Duration) -> u64 {
    d.as_millis().min(u128::from(u64::MAX)) as u64
}

/// Protocol ms as a short human string: `1h02m03s`, `4m10.5s`, `20m00s`,
/// `750ms`. The one time format of every message, schedule line, report
/// and progress line.
pub fn fmt_ms(t: u64) -> String {
    if t < 1000 {
        return format!("{t}ms");
    }
    let secs = t / 1000;
    let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    let frac = match t % 1000 {
        0 => String::new(),
        f => format!(".{}", format!("{f:03}").trim_end_matches('0')),
    };
    match (h, m) {
        (0, 0) => format!("{s}{frac}s"),
        (0, m) => format!("{m}m{s:02}{frac}s"),
        (h, m) => format!("{h}h{m:02}m{s:02}{frac}s"),
    }
}

/// A scenario duration in the same format as [`fmt_ms`].
pub fn fmt_d(d: Duration) -> String {
    fmt_ms(ms(d))
}

impl CheckKind {
    /// The name used in scenario files and reports (`no_cycling`).
    pub fn name(self) -> &'static str {
        match self {
            CheckKind::NoCycling => "no_cycling",
            CheckKind::OnePeerPerIp => "one_peer_per_ip",
            CheckKind::CommonHeight => "common_height",
            CheckKind::NoFork => "no_fork",
            CheckKind::Progress => "progress",
            CheckKind::TxDelivery => "tx_delivery",
            CheckKind::NodeUp => "node_up",
            CheckKind::KernelView => "kernel_view",
            CheckKind::DialBackoff => "dial_backoff",
            CheckKind::HeightLag => "height_lag",
            CheckKind::ProbeAnswers => "probe_answers",
        }
    }
}

impl std::fmt::Display for CheckKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl super::types::FaultAction {
    /// The name used in scenario files and fault spans (`clock_skew`).
    pub fn name(self) -> &'static str {
        use super::types::FaultAction::*;
        match self {
            Partition => "partition",
            Heal => "heal",
            Kill => "kill",
            Restart => "restart",
            Pause => "pause",
            Wipe => "wipe",
            ClockSkew => "clock_skew",
            Loss => "loss",
            Latency => "latency",
            CpuThrottle => "cpu_throttle",
            CrossedDial => "crossed_dial",
            DuplicateDial => "duplicate_dial",
            StaleHello => "stale_hello",
        }
    }

    /// Takes a node's process away (stopped, frozen or restarted), so its
    /// connections drop.
    pub fn is_process_fault(self) -> bool {
        use super::types::FaultAction::*;
        matches!(self, Kill | Restart | Pause | Wipe | ClockSkew)
    }

    /// Cuts links between nodes (its span carries the directed cuts).
    pub fn cuts_links(self) -> bool {
        self == super::types::FaultAction::Partition
    }

    /// May disconnect nodes: a cut or a process fault (`loss` and
    /// `latency` must not disturb the mesh; `heal` only ends faults).
    pub fn disturbs_network(self) -> bool {
        self.cuts_links() || self.is_process_fault()
    }
}

impl std::fmt::Display for super::types::FaultAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Parse a clock skew like `"+30s"`, `"-2m"` or `"90s"` into signed protocol ms.
pub fn parse_skew(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let (sign, rest) = match s.as_bytes().first() {
        Some(b'-') => (-1, &s[1..]),
        Some(b'+') => (1, &s[1..]),
        _ => (1, s),
    };
    let d = humantime::parse_duration(rest.trim()).map_err(|e| e.to_string())?;
    Ok(sign * i64::try_from(d.as_millis()).map_err(|_| "skew too large".to_string())?)
}

#[cfg(test)]
mod tests {
    use super::fmt_ms;

    #[test]
    fn formats_protocol_times() {
        assert_eq!(fmt_ms(0), "0ms");
        assert_eq!(fmt_ms(750), "750ms");
        assert_eq!(fmt_ms(1_500), "1.5s");
        assert_eq!(fmt_ms(185_000), "3m05s");
        assert_eq!(fmt_ms(3_723_000), "1h02m03s");
        assert_eq!(fmt_ms(60_000), "1m00s");
        assert_eq!(fmt_ms(3_600_000), "1h00m00s");
        assert_eq!(fmt_ms(181_115), "3m01.115s");
    }
}
