//! Per-IP log summaries for things a remote host can make us do in bulk:
//! refused sockets, rejected handshakes, failed dials. The first occurrence
//! per IP and kind in a period is logged at once; the rest are counted and
//! written by [`flush_loop`] as ONE line per IP and kind per
//! `LOG_SUMMARY_INTERVAL` (count, last reason). Past `LOG_SUMMARY_MAX_IPS`
//! IPs in a period, further IPs are summed into one "other IPs" line.
//! Events and metrics are unaffected: this only shapes the log.

use super::Shared;
use crate::constants::{LOG_SUMMARY_INTERVAL, LOG_SUMMARY_MAX_IPS};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use tracing::{info, warn};

/// What happened, per IP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Noted {
    /// An inbound socket dropped before its handshake (ban, rate limit).
    InboundRefused,
    /// An inbound handshake we rejected.
    HandshakeRejected,
    /// One of our dials that failed.
    DialFailed,
}

impl Noted {
    fn what(self) -> &'static str {
        match self {
            Noted::InboundRefused => "inbound connection dropped before handshake",
            Noted::HandshakeRejected => "inbound handshake rejected",
            Noted::DialFailed => "dial failed",
        }
    }
}

struct Tally {
    /// Occurrences since the line that was written at once.
    more: u64,
    last_reason: String,
}

#[derive(Default)]
pub struct LogSummary {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    per_ip: HashMap<(Noted, IpAddr), Tally>,
    /// Occurrences from IPs beyond `LOG_SUMMARY_MAX_IPS` this period.
    others: HashMap<Noted, u64>,
}

impl LogSummary {
    /// Record one occurrence; logs a line only for the first one per IP and
    /// kind in the current period.
    pub fn note(&self, kind: Noted, ip: IpAddr, reason: &dyn std::fmt::Display) {
        let mut inner = self.inner.lock().unwrap();
        if let Some(t) = inner.per_ip.get_mut(&(kind, ip)) {
            t.more += 1;
            t.last_reason = reason.to_string();
            return;
        }
        if inner.per_ip.len() >= LOG_SUMMARY_MAX_IPS {
            *inner.others.entry(kind).or_insert(0) += 1;
            return;
        }
        inner.per_ip.insert(
            (kind, ip),
            Tally {
                more: 0,
                last_reason: String::new(),
            },
        );
        drop(inner);
        match kind {
            Noted::HandshakeRejected => info!(ip = %ip, reason = %reason, "{}", kind.what()),
            _ => warn!(ip = %ip, reason = %reason, "{}", kind.what()),
        }
    }

    /// Write the period's summary lines and start a new period. Returns the
    /// number of lines written.
    pub fn flush(&self) -> usize {
        let inner = std::mem::take(&mut *self.inner.lock().unwrap());
        let mut lines = 0;
        for ((kind, ip), t) in inner.per_ip {
            if t.more > 0 {
                warn!(ip = %ip, count = t.more, last_reason = %t.last_reason, period = ?LOG_SUMMARY_INTERVAL, "{} (repeated)", kind.what());
                lines += 1;
            }
        }
        for (kind, n) in inner.others {
            warn!(ip = "other IPs", count = n, period = ?LOG_SUMMARY_INTERVAL, "{} (repeated)", kind.what());
            lines += 1;
        }
        lines
    }
}

/// Flush the summaries every `LOG_SUMMARY_INTERVAL` (wall time).
pub(crate) async fn flush_loop(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(LOG_SUMMARY_INTERVAL);
    tick.tick().await;
    loop {
        tokio::select! {
            biased;
            _ = shared.shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        shared.log_summary.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_at_once_then_one_summary_per_ip_and_kind() {
        let s = LogSummary::default();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        for i in 0..1000 {
            s.note(Noted::InboundRefused, a, &format!("rate limit {i}"));
        }
        s.note(Noted::DialFailed, b, &"connect: refused");
        {
            let inner = s.inner.lock().unwrap();
            let t = &inner.per_ip[&(Noted::InboundRefused, a)];
            assert_eq!((t.more, t.last_reason.as_str()), (999, "rate limit 999"));
        }
        assert_eq!(
            s.flush(),
            1,
            "b happened once: its line was already written"
        );
        assert_eq!(s.flush(), 0, "a new period starts empty");
    }

    #[test]
    fn ips_beyond_the_cap_share_one_line() {
        let s = LogSummary::default();
        for i in 0..(LOG_SUMMARY_MAX_IPS as u32 + 500) {
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            s.note(Noted::InboundRefused, ip, &"banned");
        }
        assert_eq!(s.inner.lock().unwrap().per_ip.len(), LOG_SUMMARY_MAX_IPS);
        assert_eq!(s.flush(), 1);
    }
}
