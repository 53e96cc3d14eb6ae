//! Redial backoff: exponential with jitter, applied only after failures.

use crate::constants::{BACKOFF_BASE, BACKOFF_JITTER, BACKOFF_MAX};
use crate::rng::NodeRng;
use std::time::Duration;

/// Protocol-time delay before the next dial after `failures` consecutive
/// failures (`failures >= 1`): BASE doubling up to MAX, plus up to
/// `BACKOFF_JITTER` of itself at random so peers do not redial in lockstep.
pub fn delay(failures: u32, rng: &NodeRng) -> Duration {
    let base = base_delay(failures);
    let jitter = rng.unit_up_to(BACKOFF_JITTER);
    base.mul_f64(1.0 + jitter)
}

/// The deterministic part of [`delay`].
pub fn base_delay(failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(20);
    BACKOFF_BASE.saturating_mul(1u32 << exp).min(BACKOFF_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_with_bounded_jitter() {
        assert_eq!(base_delay(1), BACKOFF_BASE);
        assert_eq!(base_delay(2), BACKOFF_BASE * 2);
        assert_eq!(base_delay(3), BACKOFF_BASE * 4);
        assert_eq!(base_delay(100), BACKOFF_MAX);
        for f in 1..10 {
            let d = delay(f, &NodeRng::from_seed(f as u64));
            assert!(d >= base_delay(f));
            assert!(d <= base_delay(f).mul_f64(1.0 + BACKOFF_JITTER));
        }
    }
}
