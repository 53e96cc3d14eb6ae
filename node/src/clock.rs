//! The one clock every protocol timer goes through.
//!
//! Protocol code never calls `tokio::time` or `SystemTime` directly: it asks
//! the clock, which scales protocol durations by `time_scale` and applies the
//! node's clock skew (a harness fault). Keeping this in one small type is what
//! lets a deterministic simulator run the same protocol code: under a
//! simulated runtime (turmoil pauses tokio's clock and advances it itself)
//! every `tokio::time` call here is virtual, and [`Clock::with_epoch`]
//! replaces the one OS clock read (`SystemTime`) with a fixed epoch plus
//! elapsed runtime time.

use std::future::Future;
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
    /// `Some(ms)`: wall time is this unix time at `started` plus the
    /// runtime's elapsed time (never the OS clock). `None`: the OS clock.
    epoch_ms: Option<u64>,
}

/// A deadline passed before the future finished.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("deadline elapsed")]
pub struct Elapsed;

impl Clock {
    /// `scale` > 1 runs every protocol timer that many times faster.
    pub fn new(scale: f64) -> Self {
        assert!(scale.is_finite() && scale > 0.0, "time scale must be > 0");
        Clock {
            scale,
            started: Instant::now(),
            skew_ms: Arc::new(AtomicI64::new(0)),
            epoch_ms: None,
        }
    }

    /// A clock whose wall time starts at `epoch_ms` (unix ms) now and runs
    /// with the runtime's clock: reproducible under a simulated runtime.
    pub fn with_epoch(scale: f64, epoch_ms: u64) -> Self {
        Clock {
            epoch_ms: Some(epoch_ms),
            ..Clock::new(scale)
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

    /// Sleep until `at` (a deadline computed from [`Clock::now`]).
    pub async fn sleep_until(&self, at: Instant) {
        tokio::time::sleep_until(at).await
    }

    /// Sleep a wall duration (machine guards, retry pauses): not scaled.
    pub async fn sleep_wall(&self, wall: Duration) {
        tokio::time::sleep(wall).await
    }

    /// Run `fut` for at most the wall duration `wall` (already scaled or
    /// guarded by the caller).
    pub async fn timeout<F: Future>(&self, wall: Duration, fut: F) -> Result<F::Output, Elapsed> {
        tokio::time::timeout(wall, fut).await.map_err(|_| Elapsed)
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
        if let Some(epoch) = self.epoch_ms {
            return epoch + self.started.elapsed().as_millis() as u64;
        }
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

    #[tokio::test(start_paused = true)]
    async fn an_epoch_clock_never_reads_the_os_clock() {
        let c = Clock::with_epoch(1.0, 1_000_000);
        assert_eq!(c.wall_ms(), 1_000_000);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(c.wall_ms(), 1_001_500);
        assert_eq!(
            c.timeout(Duration::from_millis(10), std::future::pending::<()>())
                .await,
            Err(Elapsed)
        );
    }
}
