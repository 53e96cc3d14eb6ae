use super::*;
use crate::checks::{CheckResult, Violation};
use crate::observe::model::{FaultSpan, NodeEvent, NodeInfo, Sample, Timeline};
use crate::scenario::CheckKind;
use timed::api::types::{EventKind, EventView, PeerView, StatusView};

const MIN: u64 = 60_000;

fn ip(i: usize) -> std::net::IpAddr {
    format!("172.28.0.{}", 10 + i).parse().unwrap()
}

fn peer(i: usize) -> PeerView {
    PeerView {
        ip: ip(i),
        listen_port: 24100,
        direction: timed::api::types::Direction::Outbound,
        connection_id: i as u64,
        connected_at_ms: 0,
        last_seen_ms: 0,
        rtt_ms: None,
        pings_sent: 0,
        pongs_received: 0,
        ping_timeouts: 0,
        connects: 1,
    }
}

/// `n` nodes in a full mesh, polled every `every` ms for `end` ms, one block
/// a minute; node 2 drops its link to node 1 between 10 and 12 min (under a
/// partition) and reconnects.
pub fn synthetic(n: usize, end: u64, every: u64) -> Timeline {
    let mut samples = Vec::new();
    let mut events = Vec::new();
    let mut t = 0;
    while t <= end {
        for i in 1..=n {
            let cut = (i == 1 || i == 2) && (10 * MIN..12 * MIN).contains(&t);
            let peers = (1..=n)
                .filter(|j| *j != i && !(cut && (*j == 1 || *j == 2)))
                .map(peer)
                .collect();
            samples.push(Sample {
                t,
                node: format!("n{i}"),
                up: true,
                status: Some(StatusView {
                    node_id: format!("id{i}"),
                    ip: ip(i),
                    height: t / MIN,
                    tip_hash: format!("h{}", t / MIN),
                    genesis_hash: "g".into(),
                    peers: n - 1,
                    masternode: true,
                    syncing: false,
                    uptime_ms: t,
                }),
                peers: Some(peers),
                kernel: None,
            });
        }
        t += every;
    }
    for (t, kind, reason) in [
        (MIN / 100, EventKind::Connected, None),
        (10 * MIN, EventKind::Disconnected, Some("ping timeout <x>")),
        (12 * MIN, EventKind::Connected, None),
    ] {
        events.push(NodeEvent {
            t,
            node: "n1".into(),
            event: EventView {
                seq: t,
                at_ms: 1_700_000_000_000 + t,
                kind,
                peer_ip: Some(ip(2)),
                direction: None,
                reason: reason.map(String::from),
            },
        });
    }
    Timeline {
        time_scale: 1.0,
        nodes: (1..=n)
            .map(|i| NodeInfo {
                name: format!("n{i}"),
                ip: ip(i),
                masternode: true,
            })
            .collect(),
        samples,
        events,
        faults: vec![FaultSpan {
            start: 10 * MIN,
            end: Some(12 * MIN),
            action: crate::scenario::FaultAction::Partition,
            nodes: vec!["n1".into()],
            cuts: vec![("n1".into(), "n2".into()), ("n2".into(), "n1".into())],
            description: "isolate n1 <from> n2".into(),
            answers: Vec::new(),
        }],
        end,
        ..Default::default()
    }
}

pub fn report_for(tl: &Timeline) -> RunReport {
    let json = serde_json::json!({
        "scenario": "html-<test>", "run_id": "r1", "seed": 1, "time_scale": 1.0,
        "wall_ms": tl.end, "protocol_ms": tl.end, "checks": []
    });
    let mut r: RunReport = serde_json::from_value(json).unwrap();
    r.faults = tl.faults.clone();
    r.checks = vec![
        CheckResult {
            kind: CheckKind::NoCycling,
            name: "no_cycling".into(),
            passed: false,
            first_violation: Some(Violation {
                t: 12 * MIN,
                nodes: vec!["n1".into(), "n2".into()],
                message: "n1 reconnected to n2 & <more>".into(),
            }),
            violations: 1,
            details: "d".into(),
            evaluated_from: 0,
            evaluated_to: tl.end,
            eval_us: 2000,
        },
        CheckResult {
            kind: CheckKind::NoFork,
            name: "no_fork".into(),
            passed: true,
            first_violation: None,
            violations: 0,
            details: "ok".into(),
            evaluated_from: 0,
            evaluated_to: tl.end,
            eval_us: 500,
        },
    ];
    r
}

#[test]
fn page_has_lanes_faults_violation_and_escaped_log_excerpt() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    // 12 min after t0 = 1_700_000_000_000 ms.
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_700_000_000_000 + 12 * MIN);
    let stamp = humantime::format_rfc3339_micros(at);
    std::fs::write(
        logs.join("n1.log"),
        format!("{stamp}  INFO timed: peer connected ip=<script>alert(1)</script>\n"),
    )
    .unwrap();
    let tl = synthetic(3, 20 * MIN, 10_000);
    let r = report_for(&tl);
    let path = write(dir.path(), &r, Some(&tl)).unwrap();
    let html = std::fs::read_to_string(path).unwrap();
    assert_eq!(html.matches("<g class=\"lane\"").count(), 3, "3 pairs");
    assert!(html.contains("class=\"fault\" data-kind=\"partition\""));
    assert!(
        html.contains("isolate n1 &lt;from&gt; n2"),
        "fault label escaped"
    );
    assert!(html.contains("class=\"violation\" data-check=\"no_cycling\""));
    assert!(html.contains("id=\"v-no_cycling\""));
    assert!(
        html.contains("class=\"reconnect\""),
        "the reconnect at 12 min"
    );
    assert!(html.contains("ping timeout &lt;x&gt;"));
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "log line escaped"
    );
    assert!(!html.contains("<script"), "no script, nothing fetched");
    assert!(
        !html
            .replace("xmlns=\"http://www.w3.org/2000/svg\"", "")
            .contains("http"),
        "no URL but the SVG namespace"
    );
    assert!(html.contains("(1 lines)"), "one excerpt line");
    assert!(html.contains("html-&lt;test&gt; <span class=\"failed\" id=\"verdict\">FAILED"));
}

#[test]
fn index_links_every_report_with_its_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let tl = synthetic(2, 5 * MIN, 10_000);
    let mut pass = report_for(&tl);
    pass.checks.retain(|c| c.passed);
    let fail = report_for(&tl);
    let p = write_index(dir.path(), &[("a".into(), pass), ("b".into(), fail)]).unwrap();
    let html = std::fs::read_to_string(p).unwrap();
    assert!(html.contains("<a href=\"a/report.html\">"));
    assert!(html.contains("class=\"passed\">PASSED"));
    assert!(html.contains("class=\"failed\">FAILED"));
    assert!(html.contains("no_cycling"));
}

/// A 30-node, one-hour run polled every 2 s (what the recorder keeps at
/// time scale 1) stays a page a browser opens: its size is bounded here;
/// `REPORT_HTML_OUT=path` also writes it, for measuring render time.
#[test]
fn thirty_nodes_one_hour_stays_small() {
    let tl = synthetic(30, 60 * MIN, 2_000);
    let r = report_for(&tl);
    let html = render(&r, Some(&tl), std::path::Path::new("/nonexistent"));
    assert_eq!(html.matches("<g class=\"lane\"").count(), 435);
    assert!(html.len() < 3_000_000, "{} bytes", html.len());
    if let Ok(p) = std::env::var("REPORT_HTML_OUT") {
        std::fs::write(p, &html).unwrap();
    }
}
