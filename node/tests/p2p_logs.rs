//! The node's log cannot be forged or flooded by a peer (REAL `timed`).
//!
//! - Peer text (a handshake's `network`) carrying a newline, a fake
//!   `ERROR` line and an ANSI escape appears escaped, on one line.
//! - Hundreds of refused connects from one IP produce O(1) log lines.

mod support;

use std::time::Duration;
use support::{unique_ips, Cluster, FakePeer};

const FORGED: &str = "ERROR timed::node: FORGED consensus failure";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_text_cannot_forge_a_log_line_or_inject_escapes() {
    let c = Cluster::start(1, 1.0);
    let node = &c.nodes[0];
    node.wait_ready().await;
    let ip = unique_ips(1)[0];
    let mut hello = c.hello();
    hello.network = format!("timenet\n2026-11-30T00:00:00.000000Z {FORGED}\x1b[31m\r\x07");
    let r = FakePeer::handshake(ip, node.p2p, hello).await;
    let reason = r.err().expect("a foreign network must be rejected");
    assert!(reason.contains("network mismatch"), "{reason}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let log = node.log();
    let forged: Vec<&str> = log.lines().filter(|l| l.contains(FORGED)).collect();
    assert!(
        !forged.is_empty(),
        "the reject is logged with the peer's text"
    );
    for l in &forged {
        assert!(
            l.contains(&ip.to_string()),
            "peer text started a line of its own: {l:?}"
        );
    }
    for (bad, name) in [('\x1b', "ESC"), ('\r', "CR"), ('\x07', "BEL")] {
        assert!(
            !log.contains(bad),
            "raw {name} from a peer reached the log: {:?}",
            forged
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_connects_are_summarised_not_logged_one_line_each() {
    let c = Cluster::start(1, 1.0);
    let node = &c.nodes[0];
    node.wait_ready().await;
    let ip = unique_ips(1)[0];
    let attempts = 400;
    for _ in 0..attempts {
        if let Ok(p) = FakePeer::connect(ip, node.p2p).await {
            drop(p);
        }
    }
    let refused = node.metric("timed_inbound_refused_total").await.unwrap();
    assert!(
        refused >= 300.0,
        "only {refused} refused: the test did not attack"
    );
    // Past one summary period, so the summary line is in the log too.
    tokio::time::sleep(timed::constants::LOG_SUMMARY_INTERVAL + Duration::from_secs(1)).await;
    let needle = ip.to_string();
    let lines: Vec<String> = node
        .log()
        .lines()
        .filter(|l| l.contains(&needle))
        .map(str::to_string)
        .collect();
    eprintln!(
        "{refused} refused connects -> {} log lines naming the IP; last: {:?}",
        lines.len(),
        lines.last()
    );
    assert!(
        lines.len() <= 6,
        "{} log lines for {refused} refused connects",
        lines.len()
    );
    assert!(
        lines.iter().any(|l| l.contains("count=")),
        "no summary line with a count: {lines:?}"
    );
}
