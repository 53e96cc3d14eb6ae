//! A fixed-bucket Prometheus histogram for `/metrics`.
//!
//! The rest of `/metrics` is hand-written exposition text (counters and
//! gauges as atomics, rendered by their owners), so a histogram that is a
//! few atomics and renders itself fits it better than a registry crate that
//! would own every metric. Lock-free: `observe` is a handful of relaxed
//! atomic adds, safe from any task.
//!
//! Exposition (text format 0.0.4): cumulative `_bucket{le=".."}` lines
//! ending with `le="+Inf"`, then `_sum` and `_count`; plus a `_max` gauge
//! (largest value observed since start), which a histogram cannot give and
//! a regression report wants.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

pub struct Histogram {
    /// Upper bounds in seconds, strictly increasing.
    bounds: &'static [f64],
    /// Per-bucket (not cumulative) counts; one more than `bounds` (+Inf).
    counts: Vec<AtomicU64>,
    sum_us: AtomicU64,
    max_us: AtomicU64,
}

impl Histogram {
    /// `bounds`: upper bounds in seconds, strictly increasing and finite.
    pub fn new(bounds: &'static [f64]) -> Self {
        assert!(
            bounds.windows(2).all(|w| w[0] < w[1]) && bounds.iter().all(|b| b.is_finite()),
            "histogram bounds must be finite and strictly increasing"
        );
        Histogram {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_us: AtomicU64::new(0),
            max_us: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        // `le` is inclusive: a value equal to a bound counts in that bucket.
        let i = self.bounds.partition_point(|b| *b < secs);
        self.counts[i].fetch_add(1, Relaxed);
        let us = d.as_micros().min(u64::MAX as u128) as u64;
        self.sum_us.fetch_add(us, Relaxed);
        self.max_us.fetch_max(us, Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Relaxed)).sum()
    }

    /// Append the exposition lines for metric `name` (e.g.
    /// `timed_ping_rtt_seconds`).
    pub fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} histogram");
        let mut cumulative = 0;
        for (i, c) in self.counts.iter().enumerate() {
            cumulative += c.load(Relaxed);
            let le = match self.bounds.get(i) {
                Some(b) => format!("{b}"),
                None => "+Inf".to_string(),
            };
            let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {cumulative}");
        }
        let secs = |us: u64| us as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {}", secs(self.sum_us.load(Relaxed)));
        let _ = writeln!(out, "{name}_count {cumulative}");
        let _ = writeln!(out, "# HELP {name}_max Largest value observed.");
        let _ = writeln!(out, "# TYPE {name}_max gauge");
        let _ = writeln!(out, "{name}_max {}", secs(self.max_us.load(Relaxed)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static BOUNDS: [f64; 3] = [0.01, 0.1, 1.0];

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn buckets_are_cumulative_inclusive_and_end_with_inf() {
        let h = Histogram::new(&BOUNDS);
        for d in [ms(5), ms(10), ms(50), ms(2000)] {
            h.observe(d);
        }
        let mut out = String::new();
        h.render(&mut out, "t_x_seconds", "test");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines,
            [
                "# HELP t_x_seconds test",
                "# TYPE t_x_seconds histogram",
                "t_x_seconds_bucket{le=\"0.01\"} 2",
                "t_x_seconds_bucket{le=\"0.1\"} 3",
                "t_x_seconds_bucket{le=\"1\"} 3",
                "t_x_seconds_bucket{le=\"+Inf\"} 4",
                "t_x_seconds_sum 2.065",
                "t_x_seconds_count 4",
                "# HELP t_x_seconds_max Largest value observed.",
                "# TYPE t_x_seconds_max gauge",
                "t_x_seconds_max 2",
            ]
        );
        assert_eq!(h.count(), 4);
    }

    #[test]
    fn empty_histogram_renders_zeroes() {
        let h = Histogram::new(&BOUNDS);
        let mut out = String::new();
        h.render(&mut out, "t", "h");
        assert!(out.contains("t_bucket{le=\"+Inf\"} 0\n"), "{out}");
        assert!(out.contains("t_count 0\nt_max") || out.contains("t_count 0\n# HELP"));
        assert!(out.contains("t_max 0\n"), "{out}");
    }

    #[test]
    #[should_panic(expected = "strictly increasing")]
    fn unordered_bounds_are_refused() {
        static BAD: [f64; 2] = [1.0, 0.5];
        Histogram::new(&BAD);
    }

    #[test]
    fn constants_bounds_are_valid() {
        Histogram::new(crate::constants::PING_RTT_BUCKETS);
        Histogram::new(crate::constants::FINALITY_LATENCY_BUCKETS);
    }
}
