//! Counters behind `GET /metrics` (Prometheus text format).

use super::reason::CloseReason;
use crate::constants::PING_RTT_BUCKETS;
use crate::histogram::Histogram;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

#[derive(Default)]
pub struct NetMetrics {
    pub connects_total: AtomicU64,
    pub dial_failures_total: AtomicU64,
    pub handshake_rejects_total: AtomicU64,
    pub ping_timeouts_total: AtomicU64,
    pub frames_in_total: AtomicU64,
    pub frames_out_total: AtomicU64,
    pub bytes_in_total: AtomicU64,
    pub bytes_out_total: AtomicU64,
    pub broadcast_dropped_total: AtomicU64,
    pub inbound_refused_total: AtomicU64,
    pub bans_total: AtomicU64,
    /// Peer requests that had to wait for the peer's request budget.
    pub requests_throttled_total: AtomicU64,
    /// Crossed dials (both reached the handshake) where the tie-break kept
    /// the peer's dial (our inbound) over ours.
    pub tie_break_remote_total: AtomicU64,
    /// Crossed dials where the tie-break kept our dial and refused the
    /// peer's inbound.
    pub tie_break_local_total: AtomicU64,
    /// Connections made by a dial to an address that had failed before
    /// (the dial waited out a backoff and then got through).
    pub redials_after_backoff_total: AtomicU64,
    /// Keyed by the reason's category ([`CloseReason::category`]).
    disconnects: Mutex<BTreeMap<&'static str, u64>>,
    /// Ping round trips (our ping to the peer's pong), every peer.
    pub ping_rtt: PingRtt,
}

/// The ping RTT histogram, with the buckets of [`PING_RTT_BUCKETS`].
pub struct PingRtt(pub Histogram);

impl Default for PingRtt {
    fn default() -> Self {
        PingRtt(Histogram::new(PING_RTT_BUCKETS))
    }
}

impl NetMetrics {
    pub fn inc(c: &AtomicU64) {
        c.fetch_add(1, Relaxed);
    }

    pub fn disconnected(&self, reason: &CloseReason) {
        *self
            .disconnects
            .lock()
            .unwrap()
            .entry(reason.category())
            .or_default() += 1;
    }

    /// Prometheus text for the net layer; `peers` is the live count.
    pub fn render(&self, peers: usize) -> String {
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, v: u64| {
            let _ = writeln!(out, "# HELP timed_{name} {help}");
            let _ = writeln!(out, "# TYPE timed_{name} counter");
            let _ = writeln!(out, "timed_{name} {v}");
        };
        let g = |c: &AtomicU64| c.load(Relaxed);
        counter(
            "connects_total",
            "Connections established.",
            g(&self.connects_total),
        );
        counter(
            "dial_failures_total",
            "Failed dials.",
            g(&self.dial_failures_total),
        );
        counter(
            "handshake_rejects_total",
            "Handshakes refused (either side).",
            g(&self.handshake_rejects_total),
        );
        counter(
            "ping_timeouts_total",
            "Connections closed for missed pongs.",
            g(&self.ping_timeouts_total),
        );
        counter("frames_in_total", "Frames read.", g(&self.frames_in_total));
        counter(
            "frames_out_total",
            "Frames written.",
            g(&self.frames_out_total),
        );
        counter(
            "bytes_in_total",
            "Frame bytes read.",
            g(&self.bytes_in_total),
        );
        counter(
            "bytes_out_total",
            "Frame bytes written.",
            g(&self.bytes_out_total),
        );
        counter(
            "broadcast_dropped_total",
            "Broadcast frames dropped for a full peer queue.",
            g(&self.broadcast_dropped_total),
        );
        counter(
            "inbound_refused_total",
            "Inbound sockets dropped before the handshake (rate, ban, limit).",
            g(&self.inbound_refused_total),
        );
        counter(
            "bans_total",
            "Peer IPs banned for misbehaviour.",
            g(&self.bans_total),
        );
        counter(
            "requests_throttled_total",
            "Peer requests that waited for the peer's request budget.",
            g(&self.requests_throttled_total),
        );
        counter(
            "tie_break_remote_total",
            "Crossed dials resolved for the peer's dial.",
            g(&self.tie_break_remote_total),
        );
        counter(
            "tie_break_local_total",
            "Crossed dials resolved for our dial.",
            g(&self.tie_break_local_total),
        );
        counter(
            "redials_after_backoff_total",
            "Connections made by a dial after a backoff.",
            g(&self.redials_after_backoff_total),
        );
        let _ = writeln!(out, "# HELP timed_peers Live connections.");
        let _ = writeln!(out, "# TYPE timed_peers gauge");
        let _ = writeln!(out, "timed_peers {peers}");
        let _ = writeln!(
            out,
            "# HELP timed_disconnects_total Connections closed, by reason."
        );
        let _ = writeln!(out, "# TYPE timed_disconnects_total counter");
        for (reason, n) in self.disconnects.lock().unwrap().iter() {
            let reason = reason.replace(['\\', '"', '\n'], "_");
            let _ = writeln!(out, "timed_disconnects_total{{reason=\"{reason}\"}} {n}");
        }
        self.ping_rtt.0.render(
            &mut out,
            "timed_ping_rtt_seconds",
            "Ping round trip (our ping to the peer's pong), every peer.",
        );
        out
    }
}
