//! Log excerpts for `report.html`: the lines of the nodes involved in a
//! violation within [`EXCERPT_WALL`] of it, so the reader sees what the
//! nodes said at that moment without opening six log files.

use crate::observe::model::Timeline;
use std::path::Path;
use std::time::Duration;

/// Wall time either side of a violation whose log lines are embedded.
pub const EXCERPT_WALL: Duration = Duration::from_secs(5);
/// Most lines embedded per violation (the rest is in `logs/`).
pub const EXCERPT_MAX_LINES: usize = 200;

/// Unix ms of protocol time 0: from the nodes' event stamps (each event has
/// its wall `at_ms` and its protocol `t`), the median offset.
pub fn unix_ms_at_t0(tl: &Timeline) -> Option<f64> {
    let scale = if tl.time_scale > 0.0 {
        tl.time_scale
    } else {
        1.0
    };
    let mut offs: Vec<f64> = tl
        .events
        .iter()
        .map(|e| e.event.at_ms as f64 - e.t as f64 / scale)
        .collect();
    if offs.is_empty() {
        return None;
    }
    offs.sort_by(f64::total_cmp);
    Some(offs[offs.len() / 2])
}

/// Unix ms of a log line's leading RFC 3339 timestamp.
fn line_unix_ms(line: &str) -> Option<f64> {
    let stamp = line.split_whitespace().next()?;
    let t = humantime::parse_rfc3339_weak(stamp.trim_end_matches('Z')).ok()?;
    let d = t.duration_since(std::time::UNIX_EPOCH).ok()?;
    Some(d.as_secs_f64() * 1000.0)
}

/// `(node, line)` of `nodes`' logs in `logs_dir` within the excerpt window
/// around protocol time `t`, in time order, at most [`EXCERPT_MAX_LINES`].
pub fn excerpt(logs_dir: &Path, nodes: &[String], t: u64, tl: &Timeline) -> Vec<(String, String)> {
    let Some(t0) = unix_ms_at_t0(tl) else {
        return Vec::new();
    };
    let scale = if tl.time_scale > 0.0 {
        tl.time_scale
    } else {
        1.0
    };
    let at = t0 + t as f64 / scale;
    let half = EXCERPT_WALL.as_secs_f64() * 1000.0;
    let mut out: Vec<(f64, String, String)> = Vec::new();
    for n in nodes {
        let Ok(text) = std::fs::read_to_string(logs_dir.join(format!("{n}.log"))) else {
            continue;
        };
        out.extend(text.lines().filter_map(|l| {
            let ms = line_unix_ms(l)?;
            ((ms - at).abs() <= half).then(|| (ms, n.clone(), l.to_string()))
        }));
    }
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    if out.len() > EXCERPT_MAX_LINES {
        // Keep the lines closest to the violation.
        let centre = out.partition_point(|x| x.0 < at);
        let lo = centre.saturating_sub(EXCERPT_MAX_LINES / 2);
        let hi = (lo + EXCERPT_MAX_LINES).min(out.len());
        out = out[hi.saturating_sub(EXCERPT_MAX_LINES)..hi].to_vec();
    }
    out.into_iter().map(|(_, n, l)| (n, l)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::model::NodeEvent;
    use timed::api::types::{EventKind, EventView};

    #[test]
    fn lines_near_the_violation_of_the_involved_nodes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("n1.log"),
            "2026-11-30T07:00:00.000000Z  INFO a: early\n\
             2026-11-30T07:00:09.000000Z  INFO a: <near> & close\n\
             2026-11-30T07:00:20.000000Z  INFO a: late\nno stamp here\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("n2.log"),
            "2026-11-30T07:00:11.000000Z  WARN b: other node\n",
        )
        .unwrap();
        // t = 0 at 07:00:00 wall; time scale 10: protocol 100 s = wall 10 s.
        let base = humantime::parse_rfc3339("2026-11-30T07:00:00Z").unwrap();
        let at_ms = base
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let tl = Timeline {
            time_scale: 10.0,
            events: vec![NodeEvent {
                t: 0,
                node: "n1".into(),
                event: EventView {
                    seq: 1,
                    at_ms,
                    kind: EventKind::Connected,
                    peer_ip: None,
                    direction: None,
                    reason: None,
                },
            }],
            ..Default::default()
        };
        let ex = excerpt(dir.path(), &["n1".into(), "n2".into()], 100_000, &tl);
        let lines: Vec<&str> = ex.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].contains("<near>"));
        assert_eq!(ex[1].0, "n2");
    }
}
