//! The one clock every protocol timer goes through.
//!
//! Protocol code never calls `tokio::time` or `SystemTime` directly: it asks
//! the clock, which scales protocol durations by `time_scale` and applies the
//! node's clock skew (a harness fault). Keeping this in one small type is what
//! lets a deterministic simulator be plugged in later without touching
//! protocol code.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use tokio::time::Instant;

#[derive(Clone, Debug)]
pub struct Clock {
    scale: f64,
    started: Instant,
    /// Skew added to chain time, in ms (can be negative).
    skew_ms: Arc<AtomicI64>,
}

impl Clock {
    /// `scale` > 1 runs every protocol timer that many times faster.
    pub fn new(scale: f64) -> Self {
        assert!(scale.is_finite() && scale > 0.0, "time scale must be > 0");
        Clock {
            scale,
            started: Instant::now(),
            skew_ms: Arc::new(AtomicI64::new(0)),
        }
    }

    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// A protocol duration converted to the wall duration to wait for.
    pub fn protocol(&self, d: Duration) -> Duration {
        d.div_f64(self.scale)
    }

    /// A machine-guard deadline: the scaled protocol duration, but never less
    /// than `floor` of wall time.
    pub fn guarded(&self, d: Duration, floor: Duration) -> Duration {
        self.protocol(d).max(floor)
    }

    /// Wall time converted back to protocol time (for reporting).
    pub fn to_protocol(&self, wall: Duration) -> Duration {
        wall.mul_f64(self.scale)
    }

    pub fn now(&self) -> Instant {
        Instant::now()
    }

    pub async fn sleep(&self, protocol: Duration) {
        tokio::time::sleep(self.protocol(protocol)).await
    }

    pub fn interval(&self, protocol: Duration) -> tokio::time::Interval {
        let mut i = tokio::time::interval(self.protocol(protocol));
        i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        i
    }

    /// Milliseconds since this node started (wall).
    pub fn uptime_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Real unix time in ms, unskewed: used for events and logs so the
    /// harness can line up what several nodes saw.
    pub fn wall_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64
    }

    /// The node's idea of time for block timestamps: wall time plus skew.
    pub fn chain_time_ms(&self) -> u64 {
        (self.wall_ms() as i64 + self.skew_ms.load(Ordering::Relaxed)).max(0) as u64
    }

    pub fn set_skew_ms(&self, skew: i64) {
        self.skew_ms.store(skew, Ordering::Relaxed)
    }

    pub fn skew_ms(&self) -> i64 {
        self.skew_ms.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_protocol_durations_and_keeps_floors() {
        let c = Clock::new(60.0);
        assert_eq!(c.protocol(Duration::from_secs(60)), Duration::from_secs(1));
        assert_eq!(
            c.guarded(Duration::from_secs(10), Duration::from_secs(3)),
            Duration::from_secs(3)
        );
        assert_eq!(
            c.to_protocol(Duration::from_secs(1)),
            Duration::from_secs(60)
        );
    }
}
