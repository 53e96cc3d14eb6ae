//! Reading the node's `/metrics` (Prometheus text format 0.0.4): samples by
//! name and labels, counters that survive process restarts, and quantiles
//! from histogram buckets.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One scrape: `name{labels}` (labels exactly as written) -> value.
pub type Scrape = BTreeMap<String, f64>;

/// Parse exposition text; comments and malformed lines are skipped (a
/// figure that is missing shows as "-", it does not fail the run).
pub fn parse(text: &str) -> Scrape {
    let mut out = Scrape::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let value = match value {
            "+Inf" => f64::INFINITY,
            v => match v.parse::<f64>() {
                Ok(v) => v,
                Err(_) => continue,
            },
        };
        out.insert(key.trim().to_string(), value);
    }
    out
}

/// Counters of one node over a run in which its process may restart (and
/// its counters start again from 0): every value is the total over all of
/// the node's processes, gauges named in `maxima` are the largest seen.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Accumulated {
    /// Sum of the last value of every earlier process.
    offset: Scrape,
    last: Scrape,
    /// Largest value seen of the `_max` gauges.
    maxima: Scrape,
}

impl Accumulated {
    /// Fold in a scrape. A counter lower than last time means a new process:
    /// everything of the old one goes into the offset.
    pub fn push(&mut self, s: Scrape) {
        let restarted = s
            .iter()
            .any(|(k, v)| k.ends_with("_total") && self.last.get(k).is_some_and(|old| v < old));
        if restarted {
            for (k, v) in std::mem::take(&mut self.last) {
                *self.offset.entry(k).or_default() += v;
            }
        }
        for (k, v) in &s {
            if k.ends_with("_max") {
                let m = self.maxima.entry(k.clone()).or_insert(*v);
                *m = m.max(*v);
            }
        }
        self.last = s;
    }

    /// Fold in the last scrape of a process (read as it stops): the next
    /// scrape is a new process whatever its values, so a later process
    /// whose counters all passed this one's is still not taken for it.
    pub fn push_last(&mut self, s: Scrape) {
        self.push(s);
        for (k, v) in std::mem::take(&mut self.last) {
            *self.offset.entry(k).or_default() += v;
        }
    }

    /// The run-long value of a counter or histogram series.
    pub fn total(&self, key: &str) -> Option<f64> {
        let a = self.last.get(key);
        let b = self.offset.get(key);
        if a.is_none() && b.is_none() {
            return None;
        }
        Some(a.copied().unwrap_or(0.0) + b.copied().unwrap_or(0.0))
    }

    pub fn max(&self, key: &str) -> Option<f64> {
        self.maxima.get(key).copied()
    }

    /// `(upper bound, cumulative count)` of histogram `name`, ascending.
    pub fn buckets(&self, name: &str) -> Vec<(f64, f64)> {
        let prefix = format!("{name}_bucket{{le=\"");
        let mut keys: Vec<&String> = self.last.keys().chain(self.offset.keys()).collect();
        keys.sort();
        keys.dedup();
        let mut out: Vec<(f64, f64)> = keys
            .into_iter()
            .filter_map(|k| {
                let le = k.strip_prefix(&prefix)?.strip_suffix("\"}")?;
                let le = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().ok()?
                };
                Some((le, self.total(k)?))
            })
            .collect();
        out.sort_by(|a, b| a.0.total_cmp(&b.0));
        out
    }
}

/// Add the buckets of several nodes (same bounds) into one histogram.
pub fn merge(all: &[Vec<(f64, f64)>]) -> Vec<(f64, f64)> {
    let mut acc: BTreeMap<u64, (f64, f64)> = BTreeMap::new();
    for h in all {
        for (le, c) in h {
            let e = acc.entry(le.to_bits()).or_insert((*le, 0.0));
            e.1 += c;
        }
    }
    let mut v: Vec<(f64, f64)> = acc.into_values().collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    v
}

/// The `q` quantile (0..=1) of cumulative buckets, interpolated linearly
/// inside the bucket it falls in (as Prometheus' `histogram_quantile`); a
/// quantile in the +Inf bucket is the largest finite bound. `None` when
/// empty.
pub fn quantile(buckets: &[(f64, f64)], q: f64) -> Option<f64> {
    let total = buckets.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let mut prev = (0.0, 0.0);
    for &(le, c) in buckets {
        if c >= rank {
            if le.is_infinite() {
                return Some(prev.0);
            }
            let width = c - prev.1;
            let frac = if width > 0.0 {
                (rank - prev.1) / width
            } else {
                1.0
            };
            return Some(prev.0 + (le - prev.0) * frac);
        }
        prev = (le, c);
    }
    Some(prev.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# HELP timed_x_total X.\n# TYPE timed_x_total counter\n\
        timed_x_total 7\ntimed_disconnects_total{reason=\"ping timeout\"} 2\n\
        h_bucket{le=\"0.01\"} 1\nh_bucket{le=\"0.1\"} 3\nh_bucket{le=\"+Inf\"} 4\n\
        h_sum 1.2\nh_count 4\nh_max 0.9\ngarbage line here\n";

    #[test]
    fn parses_names_labels_and_skips_junk() {
        let s = parse(TEXT);
        assert_eq!(s["timed_x_total"], 7.0);
        assert_eq!(s["timed_disconnects_total{reason=\"ping timeout\"}"], 2.0);
        assert_eq!(s["h_bucket{le=\"+Inf\"}"], 4.0);
        assert!(!s.keys().any(|k| k.starts_with("garbage")));
    }

    #[test]
    fn counters_survive_a_restart_and_maxima_are_kept() {
        let mut a = Accumulated::default();
        a.push(parse(TEXT));
        a.push(parse(
            "timed_x_total 2\nh_max 0.1\nh_bucket{le=\"+Inf\"} 1\n",
        ));
        assert_eq!(a.total("timed_x_total"), Some(9.0));
        assert_eq!(a.max("h_max"), Some(0.9));
        assert_eq!(a.total("h_bucket{le=\"+Inf\"}"), Some(5.0));
        assert_eq!(a.total("nope"), None);
        let b = a.buckets("h");
        assert_eq!(b, vec![(0.01, 1.0), (0.1, 3.0), (f64::INFINITY, 5.0)]);
    }

    #[test]
    fn a_process_read_once_as_it_stops_adds_up_even_when_the_next_counts_more() {
        let mut a = Accumulated::default();
        a.push_last(parse("timed_x_total 5\n"));
        // The next process counted more: `push` alone would take it for
        // the same process and lose the first 5.
        a.push_last(parse("timed_x_total 7\n"));
        assert_eq!(a.total("timed_x_total"), Some(12.0));
        a.push(parse("timed_x_total 1\n"));
        assert_eq!(a.total("timed_x_total"), Some(13.0));
    }

    #[test]
    fn quantiles_interpolate_within_a_bucket() {
        let b = vec![
            (0.01, 0.0),
            (0.02, 10.0),
            (0.05, 20.0),
            (f64::INFINITY, 20.0),
        ];
        assert!((quantile(&b, 0.5).unwrap() - 0.02).abs() < 1e-12);
        assert!((quantile(&b, 0.25).unwrap() - 0.015).abs() < 1e-12);
        assert!((quantile(&b, 0.95).unwrap() - 0.047).abs() < 1e-12);
        assert_eq!(quantile(&[(0.1, 0.0), (f64::INFINITY, 0.0)], 0.5), None);
        // Everything beyond the last bound: the last finite bound.
        assert_eq!(
            quantile(&[(0.1, 0.0), (f64::INFINITY, 3.0)], 0.5),
            Some(0.1)
        );
        let m = merge(&[b.clone(), b]);
        assert_eq!(m[1], (0.02, 20.0));
    }
}
