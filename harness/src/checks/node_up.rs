//! `node_up`: every node that should be running is running.
//!
//! The other checks look at the nodes that are up; a node that dies after
//! a restart, a wipe or a resume, or a late joiner that dies at start, would
//! silently drop out of them while a quorum remains. So: from its start
//! (`start_at` for a late joiner, else the run's start) plus `grace`, and
//! outside its own process-fault windows (`[start, end + grace]` of a kill,
//! restart, pause, wipe or clock skew on that node), every node answers its
//! API. A node down or unready for longer than a handshake (in wall time:
//! a loaded machine may miss one poll) outside those windows fails, with
//! the time and the node.

use super::view::View;
use super::{Outcome, Params};
use crate::scenario::fmt_ms;

pub(super) fn check(v: &View, p: &Params) -> Outcome {
    let mut out = Outcome::new(0, v.tl.end);
    let tolerance = v.handshake_limit().max(2 * v.poll);
    let mut checked = 0usize;
    let mut excused = 0usize;
    let mut longest = 0u64;
    for node in &v.nodes {
        checked += 1;
        let from = v.start_at(node) + p.grace;
        let windows = v.node_windows(node, p.grace);
        excused += windows.len();
        for (t0, t1) in down_stretches(v, node) {
            // The parts of [t0, t1) in which the node must be up.
            for (a, b) in uncovered(t0.max(from), t1, &windows) {
                longest = longest.max(b - a);
                if b - a > tolerance {
                    let until = if t1 >= v.tl.end {
                        "the end of the run".to_string()
                    } else {
                        fmt_ms(t1)
                    };
                    out.violation(
                        a,
                        &[node],
                        format!(
                            "{node} was down (API not answering) from {} to {until} outside \
                             any process fault on it (started at {}, {} fault window(s) on it)",
                            fmt_ms(a),
                            fmt_ms(v.start_at(node)),
                            windows.len()
                        ),
                    );
                }
            }
        }
    }
    out.details = format!(
        "{checked} nodes checked from their start + {}; longest unexcused down time {} \
         (limit {}); {excused} process-fault window(s) excused",
        fmt_ms(p.grace),
        fmt_ms(longest),
        fmt_ms(tolerance)
    );
    out
}

/// `[from, to)` stretches in which `node`'s latest sample says down (a node
/// never sampled is down for the whole run).
fn down_stretches(v: &View, node: &str) -> Vec<(u64, u64)> {
    let ss = v.samples_of(node);
    if ss.is_empty() {
        return vec![(0, v.tl.end)];
    }
    let mut out = Vec::new();
    let mut since: Option<u64> = (ss[0].t > 0).then_some(0);
    for s in ss {
        match (s.up, since) {
            (false, None) => since = Some(s.t),
            (true, Some(t0)) => {
                out.push((t0, s.t));
                since = None;
            }
            _ => {}
        }
    }
    if let Some(t0) = since {
        out.push((t0, v.tl.end));
    }
    out
}

/// The parts of `[from, to)` that no window covers.
fn uncovered(from: u64, to: u64, windows: &[super::Window]) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut cur = from;
    for w in windows {
        if w.end < cur || cur >= to {
            continue;
        }
        if w.start > cur {
            out.push((cur, w.start.min(to)));
        }
        cur = cur.max(w.end);
    }
    if cur < to {
        out.push((cur, to));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::Window;
    use super::uncovered;

    fn w(start: u64, end: u64) -> Window {
        Window {
            start,
            end,
            faults: 1,
        }
    }

    #[test]
    fn uncovered_cuts_windows_out_of_a_stretch() {
        assert_eq!(uncovered(0, 100, &[]), [(0, 100)]);
        assert_eq!(
            uncovered(0, 100, &[w(10, 20), w(50, 60)]),
            [(0, 10), (20, 50), (60, 100)]
        );
        assert_eq!(uncovered(15, 55, &[w(10, 20), w(50, 60)]), [(20, 50)]);
        assert_eq!(uncovered(0, 100, &[w(0, 200)]), []);
        assert_eq!(uncovered(30, 40, &[w(10, 20)]), [(30, 40)]);
        // A window ending exactly at the stretch's end leaves no empty part.
        assert_eq!(uncovered(0, 100, &[w(50, 100)]), [(0, 50)]);
        assert_eq!(uncovered(0, 100, &[w(0, 100)]), []);
    }
}
