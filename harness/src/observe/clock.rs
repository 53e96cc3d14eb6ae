//! The run clock: protocol ms since the run started.
//!
//! Nodes run `time_scale` times faster than the wall clock, so one wall ms is
//! `time_scale` protocol ms. Node events carry unix wall ms (`at_ms`); they
//! are mapped onto the same axis so samples and events line up.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Clone, Copy, Debug)]
pub struct RunClock {
    start: Instant,
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
    ///
    /// The origin is re-read from the wall clock now, not kept from the
    /// start: the run axis is monotonic, and a VM's wall clock can step (a
    /// CI run saw +10 s mid-run), after which every event landed 10 s wall
    /// (5 protocol minutes) after the fault that caused it. Events are
    /// fetched within a poll of happening, so only those straddling a step
    /// are off, by the step.
    pub fn from_unix_ms(&self, at_ms: u64) -> u64 {
        let elapsed = self.start.elapsed().as_millis() as u64;
        let origin = unix_ms().saturating_sub(elapsed);
        (at_ms.saturating_sub(origin) as f64 * self.scale) as u64
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
        // The origin is re-read on each call: an event stamped now lands
        // at the run's elapsed time, whatever the wall clock did since.
        std::thread::sleep(Duration::from_millis(50));
        let t = c.from_unix_ms(unix_ms());
        assert!((500..=1_200).contains(&t), "{t}");
        assert_eq!(c.from_unix_ms(unix_ms() - 5_000), 0, "before the start");
        assert_eq!(c.to_wall(Duration::from_secs(60)), Duration::from_secs(5));
        assert_eq!(c.instant_at(12_000) - c.start, Duration::from_secs(1));
    }
}
