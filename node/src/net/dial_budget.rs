//! The global budget for dials to never-connected, gossip-learned
//! addresses: a token bucket refilled at `NEW_DIALS_PER_MINUTE` (protocol
//! time) up to `NEW_DIAL_BURST`. Whatever a peer tells us, the node makes at
//! most that many dials to strangers; bootstrap and tried addresses do not
//! spend it.

use crate::clock::{Clock, Instant};
use crate::constants::{NEW_DIALS_PER_MINUTE, NEW_DIAL_BURST};
use std::sync::Mutex;
use std::time::Duration;

pub struct DialBudget {
    clock: Clock,
    inner: Mutex<(f64, Instant)>,
}

impl DialBudget {
    pub fn new(clock: Clock) -> Self {
        let now = clock.now();
        DialBudget {
            clock,
            inner: Mutex::new((NEW_DIAL_BURST as f64, now)),
        }
    }

    /// Take one token if there is one.
    pub fn try_take(&self) -> bool {
        self.try_take_at(self.clock.now())
    }

    fn try_take_at(&self, now: Instant) -> bool {
        let mut g = self.inner.lock().unwrap();
        let (tokens, last) = &mut *g;
        let minute = self.clock.protocol(Duration::from_secs(60)).as_secs_f64();
        let elapsed = now.saturating_duration_since(*last).as_secs_f64();
        *tokens =
            (*tokens + elapsed / minute * NEW_DIALS_PER_MINUTE as f64).min(NEW_DIAL_BURST as f64);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_the_per_minute_rate() {
        let b = DialBudget::new(Clock::new(1.0));
        let t0 = Instant::now();
        let burst = (0..1000).filter(|_| b.try_take_at(t0)).count();
        assert_eq!(burst, NEW_DIAL_BURST as usize);
        let t1 = t0 + Duration::from_secs(60);
        let more = (0..1000).filter(|_| b.try_take_at(t1)).count();
        assert_eq!(more, NEW_DIALS_PER_MINUTE as usize);
    }
}
