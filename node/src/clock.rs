//! The one clock every protocol timer goes through.
//!
//! Protocol code never calls `tokio::time` or `SystemTime` directly: it asks
//! the clock, which scales protocol durations by `time_scale` and applies the
//! node's clock skew (a harness fault). Keeping this in one small type is what
//! lets a deterministic simulator run the same protocol code: under a
//! simulated runtime (turmoil pauses tokio's clock and advances it itself)
//! every `tokio::time` call here is virtual, and [`Clock::with_epoch`]
//! replaces the one OS clock read (`SystemTime`) with a fixed epoch plus
//! elapsed runtime time. Under the simulation a [`Gate`] can also freeze
//! every timer (a paused or CPU-starved process: timers fire late, at once).

use crate::gate::Gate;
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
    /// `Some`: the simulation's freeze gate; every timer waits on it after
    /// it expires. `None` (a real process): timers never wait on anything.
    gate: Option<Arc<Gate>>,
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
            gate: None,
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

    /// This clock with its timers held by `gate` while it is closed.
    pub fn with_gate(self, gate: Arc<Gate>) -> Self {
        Clock {
            gate: Some(gate),
            ..self
        }
    }

    /// Wait while the freeze gate (if any) is closed.
    async fn thaw(&self) {
        if let Some(g) = &self.gate {
            g.pass().await
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
        tokio::time::sleep(self.protocol(protocol)).await;
        self.thaw().await
    }

    /// Sleep until `at` (a deadline computed from [`Clock::now`]).
    pub async fn sleep_until(&self, at: Instant) {
        tokio::time::sleep_until(at).await;
        self.thaw().await
    }

    /// Sleep a wall duration (machine guards, retry pauses): not scaled.
    pub async fn sleep_wall(&self, wall: Duration) {
        tokio::time::sleep(wall).await;
        self.thaw().await
    }

    /// Run `fut` for at most the wall duration `wall` (already scaled or
    /// guarded by the caller).
    pub async fn timeout<F: Future>(&self, wall: Duration, fut: F) -> Result<F::Output, Elapsed> {
        let r = tokio::time::timeout(wall, fut).await.map_err(|_| Elapsed);
        self.thaw().await;
        r
    }

    pub fn interval(&self, protocol: Duration) -> Interval {
        let mut i = tokio::time::interval(self.protocol(protocol));
        i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Interval {
            inner: i,
            gate: self.gate.clone(),
        }
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

/// A periodic timer of the [`Clock`] (tokio's, held by the clock's gate).
#[derive(Debug)]
pub struct Interval {
    inner: tokio::time::Interval,
    gate: Option<Arc<Gate>>,
}

impl Interval {
    /// The next tick (cancel-safe while the gate is open, as tokio's).
    pub async fn tick(&mut self) -> Instant {
        let t = self.inner.tick().await;
        if let Some(g) = &self.gate {
            g.pass().await
        }
        t
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

    #[tokio::test(start_paused = true)]
    async fn a_closed_gate_holds_every_timer_until_it_opens() {
        let gate = Arc::new(Gate::default());
        let c = Clock::with_epoch(1.0, 0).with_gate(gate.clone());
        gate.close();
        let c2 = c.clone();
        let sleeper = tokio::spawn(async move { c2.sleep(Duration::from_secs(1)).await });
        let mut tick = c.interval(Duration::from_secs(1));
        let ticker = tokio::spawn(async move {
            tick.tick().await;
        });
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert!(!sleeper.is_finished() && !ticker.is_finished());
        gate.open();
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert!(sleeper.is_finished() && ticker.is_finished());
    }
}
