//! The run clock: protocol ms since the run started.
//!
//! Nodes run `time_scale` times faster than the wall clock, so one wall ms is
//! `time_scale` protocol ms. Node events carry unix wall ms (`at_ms`); they
//! are mapped onto the same axis so samples and events line up.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Clone, Copy, Debug)]
pub struct RunClock {
    start: Instant,
    start_unix_ms: u64,
    scale: f64,
}

pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl RunClock {
    /// Start the run clock now.
    pub fn start(time_scale: f64) -> RunClock {
        RunClock {
            start: Instant::now(),
            start_unix_ms: unix_ms(),
            scale: time_scale,
        }
    }

    pub fn time_scale(&self) -> f64 {
        self.scale
    }

    /// Protocol ms since start.
    pub fn now(&self) -> u64 {
        (self.start.elapsed().as_secs_f64() * 1000.0 * self.scale) as u64
    }

    pub fn wall_elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// A node's unix wall ms on the run axis (0 for anything before start).
    pub fn from_unix_ms(&self, at_ms: u64) -> u64 {
        (at_ms.saturating_sub(self.start_unix_ms) as f64 * self.scale) as u64
    }

    /// Wall time that a protocol duration takes.
    pub fn to_wall(&self, protocol: Duration) -> Duration {
        protocol.div_f64(self.scale)
    }

    /// The wall instant at which protocol time `t_ms` is reached.
    pub fn instant_at(&self, t_ms: u64) -> Instant {
        self.start + Duration::from_millis(t_ms).div_f64(self.scale)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_wall_to_protocol_time() {
        let c = RunClock::start(12.0);
        assert_eq!(c.from_unix_ms(c.start_unix_ms + 1000), 12_000);
        assert_eq!(c.from_unix_ms(c.start_unix_ms - 5), 0);
        assert_eq!(c.to_wall(Duration::from_secs(60)), Duration::from_secs(5));
        assert_eq!(c.instant_at(12_000) - c.start, Duration::from_secs(1));
    }
}
