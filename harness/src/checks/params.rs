//! Check parameters: what the scenario says, or defaults derived from the
//! protocol's own timers.

use crate::scenario::{ms, CheckSpec, Scenario};
use timed::constants::{BACKOFF_MAX, DEFAULT_P2P_PORT, MAX_MISSED_PONGS, PING_INTERVAL};

/// Everything a check needs besides the timeline, in protocol ms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Params {
    /// Time after a node (or a pair's later node) starts before the check applies.
    pub warmup: u64,
    /// Time after a fault ends during which fault-related effects are excused.
    pub grace: u64,
    /// `common_height`: agreement required this long after the last heal.
    pub within: u64,
    /// `common_height`: the agreed height must be at least this.
    pub min_height: u64,
    pub block_interval: u64,
    /// `progress`: longest acceptable gap between new blocks while a quorum exists.
    pub stall: u64,
    /// The P2P port (either end of a kernel connection).
    pub p2p_port: u16,
}

impl Params {
    /// Parameters of `spec` in `scenario`, with defaults:
    ///
    /// - `warmup` = max(one ping interval, two block intervals): a healthy
    ///   mesh forms in well under a second, but simultaneous-open races are
    ///   resolved and the first ping round-trip has happened only after one
    ///   ping interval, and two block intervals let consensus produce its
    ///   first block.
    /// - `grace` = (missed pongs + 1) x ping interval + max dial backoff +
    ///   one block interval: after a heal, a side that has not yet noticed
    ///   the cut times the dead connection out only after N missed pongs,
    ///   its dialer may then sit in backoff up to the maximum, and catching
    ///   up takes about a block.
    /// - `within` = grace + two block intervals.
    /// - `min_height` = 1 (at least one block beyond genesis).
    /// - `stall` = five block intervals (round timeouts and a proposer that
    ///   is down cost a few rounds, not five blocks).
    pub fn new(scenario: &Scenario, spec: &CheckSpec) -> Self {
        let block = ms(scenario.network.block_interval).max(1);
        let ping = ms(PING_INTERVAL);
        let warmup = spec.warmup.map(ms).unwrap_or(ping.max(2 * block));
        let grace = spec
            .grace
            .map(ms)
            .unwrap_or((u64::from(MAX_MISSED_PONGS) + 1) * ping + ms(BACKOFF_MAX) + block);
        Params {
            warmup,
            grace,
            within: spec.within.map(ms).unwrap_or(grace + 2 * block),
            min_height: spec.min_height.unwrap_or(1),
            block_interval: block,
            stall: 5 * block,
            p2p_port: DEFAULT_P2P_PORT,
        }
    }
}
