//! P2P stack with REAL `timed` processes on 127.x.y.z loopback aliases.

mod support;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::Duration;
use support::{os_connections, wait_until, Cluster, FakePeer};
use timed::api::types::{Direction, EventKind};
use timed::constants::DEFAULT_P2P_PORT;
use timed::wire::Hello;

/// Each unordered pair once, both ends agree on who dialed, and the kernel
/// sees exactly one established socket per pair.
async fn assert_one_connection_per_pair(c: &Cluster) {
    let ips = c.ips();
    let mut views = vec![];
    for n in &c.nodes {
        let peers = n.peers().await.unwrap();
        let distinct: BTreeSet<IpAddr> = peers.iter().map(|p| p.ip).collect();
        assert_eq!(
            distinct.len(),
            peers.len(),
            "{}: two rows for one IP",
            n.name
        );
        assert_eq!(peers.len(), ips.len() - 1, "{}: {peers:?}", n.name);
        views.push(peers);
    }
    for (i, a) in c.nodes.iter().enumerate() {
        for p in &views[i] {
            let j = ips.iter().position(|ip| *ip == p.ip).unwrap();
            let back = views[j].iter().find(|q| q.ip == a.ip).unwrap();
            assert_ne!(
                p.direction, back.direction,
                "{} <-> {}",
                a.name, c.nodes[j].name
            );
        }
    }
    let os = os_connections(&ips, DEFAULT_P2P_PORT);
    let pairs: BTreeSet<(IpAddr, IpAddr)> = os
        .iter()
        .map(|(a, d)| (a.ip().min(d.ip()), a.ip().max(d.ip())))
        .collect();
    let n = ips.len();
    assert_eq!(os.len(), n * (n - 1) / 2, "kernel view: {os:?}");
    assert_eq!(pairs.len(), n * (n - 1) / 2, "kernel view: {os:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn six_nodes_form_a_full_mesh_with_one_connection_per_pair() {
    let c = Cluster::start(6, 10.0);
    c.wait_full_mesh(Duration::from_secs(30)).await;
    // Let any straggling duplicate dials settle, then look twice.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_one_connection_per_pair(&c).await;
    for n in &c.nodes {
        for p in n.peers().await.unwrap() {
            assert_eq!(p.connects, 1, "{} -> {}", n.name, p.ip);
        }
        assert!(n.metric("timed_peers").await == Some(5.0));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mismatched_handshakes_are_rejected_with_a_reason_in_events() {
    let c = Cluster::start(1, 1.0);
    let node = &c.nodes[0];
    node.wait_ready().await;
    let ok = c.hello();
    let cases: Vec<(Hello, &str)> = vec![
        (
            Hello {
                magic: 0xdead_beef,
                ..ok.clone()
            },
            "magic mismatch",
        ),
        (
            Hello {
                version: 99,
                ..ok.clone()
            },
            "version mismatch",
        ),
        (
            Hello {
                network: "othernet".into(),
                ..ok.clone()
            },
            "network mismatch",
        ),
        (
            Hello {
                genesis_hash: timed::chain::types::Hash([7; 32]),
                ..ok.clone()
            },
            "genesis mismatch: ours",
        ),
    ];
    let from = support::unique_ips(cases.len());
    for ((hello, want), ip) in cases.into_iter().zip(from) {
        let reason = FakePeer::handshake(ip, node.p2p, hello)
            .await
            .err()
            .unwrap();
        assert!(reason.starts_with(want), "{reason}");
        let events = node.events_of(EventKind::HandshakeRejected).await;
        assert!(
            events
                .iter()
                .any(|e| e.peer_ip == Some(ip)
                    && e.reason.as_deref().unwrap_or("").starts_with(want)),
            "{want} not in {events:?}"
        );
    }
    // The right hello still works afterwards.
    let mut p = FakePeer::handshake(support::unique_ips(1)[0], node.p2p, ok)
        .await
        .unwrap();
    assert!(p.ping(Duration::from_secs(5)).await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_networks_with_different_genesis_refuse_each_other_on_both_sides() {
    let base = support::unique_base_ip();
    let spec = |seed| timed::testnet::TestnetSpec {
        nodes: 1,
        masternodes: 1,
        base_ip: base,
        seed,
        ..Default::default()
    };
    let a = Cluster::start_with(spec(1), 10.0);
    let b_ip = std::net::Ipv4Addr::from(u32::from(base) + 1);
    let mut b = Cluster::start_with(
        timed::testnet::TestnetSpec {
            base_ip: b_ip,
            ..spec(2)
        },
        10.0,
    );
    // b bootstraps from a.
    b.nodes[0].kill9();
    b.nodes[0].extra_args = vec!["--bootstrap".into(), a.nodes[0].p2p.to_string()];
    b.nodes[0].start();
    for (me, other) in [(&a.nodes[0], &b.nodes[0]), (&b.nodes[0], &a.nodes[0])] {
        wait_until(
            "genesis mismatch event",
            Duration::from_secs(20),
            || async {
                me.events_of(EventKind::HandshakeRejected)
                    .await
                    .into_iter()
                    .find(|e| {
                        e.peer_ip == Some(other.ip)
                            && e.reason
                                .as_deref()
                                .unwrap_or("")
                                .contains("genesis mismatch")
                    })
            },
        )
        .await;
        assert!(me.peers().await.unwrap().is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_peer_is_redialled_with_growing_backoff_and_never_while_connected() {
    let mut c = Cluster::start(2, 10.0);
    c.wait_full_mesh(Duration::from_secs(30)).await;
    let b_ip = c.nodes[1].ip;
    c.nodes[1].kill9();
    let a = &c.nodes[0];
    let fails = wait_until("5 dial failures", Duration::from_secs(30), || async {
        let f: Vec<_> = a
            .events_of(EventKind::DialFailed)
            .await
            .into_iter()
            .filter(|e| e.peer_ip == Some(b_ip))
            .collect();
        (f.len() >= 5).then_some(f)
    })
    .await;
    let gaps: Vec<i64> = fails
        .windows(2)
        .map(|w| w[1].at_ms as i64 - w[0].at_ms as i64)
        .collect();
    for w in gaps.windows(2) {
        assert!(
            w[1] + 50 > w[0],
            "backoff must not shrink: gaps {gaps:?} ms"
        );
    }
    assert!(
        gaps[3] >= 3 * gaps[0],
        "backoff must grow: gaps {gaps:?} ms"
    );

    c.nodes[1].restart();
    wait_until("reconnect", Duration::from_secs(30), || async {
        let p = c.nodes[0].peers().await.ok()?;
        (p.len() == 1 && p[0].connects == 2).then_some(())
    })
    .await;
    let seq = c.nodes[0].events(0).await.unwrap().last().unwrap().seq;
    tokio::time::sleep(Duration::from_secs(2)).await; // 20 dial ticks at scale 10
    let later = c.nodes[0].events(seq).await.unwrap();
    assert!(
        later
            .iter()
            .all(|e| e.kind != EventKind::DialFailed && e.kind != EventKind::Connected),
        "no dial while connected: {later:?}"
    );
    let p = c.nodes[0].peers().await.unwrap();
    assert_eq!((p.len(), p[0].connects), (1, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_connections_with_reason_shutdown_and_exits_zero() {
    let mut c = Cluster::start(2, 10.0);
    c.wait_full_mesh(Duration::from_secs(30)).await;
    let status = c.nodes[1].sigterm().expect("exits within 10 s");
    assert!(status.success(), "{status:?}");
    assert!(c.nodes[1].log().contains("reason=shutdown"));
    let b_ip = c.nodes[1].ip;
    let ev = wait_until("disconnect seen", Duration::from_secs(10), || async {
        c.nodes[0]
            .events_of(EventKind::Disconnected)
            .await
            .into_iter()
            .find(|e| e.peer_ip == Some(b_ip))
    })
    .await;
    assert_eq!(ev.reason.as_deref(), Some("connection closed by peer"));
}

/// One protocol hour at --time-scale 60 (one wall minute): no reconnect,
/// no ping timeout, pings flowing the whole time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_six_nodes_one_protocol_hour_without_reconnects() {
    let c = Cluster::start(6, 60.0);
    c.wait_full_mesh(Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(61)).await;
    // On a reconnect, say why before failing: the pair's events and log lines.
    for n in &c.nodes {
        for p in n.peers().await.unwrap() {
            if p.connects != 1 {
                for e in n.events(0).await.unwrap_or_default() {
                    if e.peer_ip == Some(p.ip) {
                        eprintln!("{} event: {e:?}", n.name);
                    }
                }
                let ip = p.ip.to_string();
                for line in n.log().lines().filter(|l| l.contains(&ip)) {
                    eprintln!("{} log: {line}", n.name);
                }
            }
        }
    }
    assert_one_connection_per_pair(&c).await;
    for n in &c.nodes {
        // Node-wide, so a connection closed by a ping timeout and replaced
        // is counted too (per-peer counters belong to the live connection).
        assert_eq!(
            n.metric("timed_ping_timeouts_total").await,
            Some(0.0),
            "{}",
            n.name
        );
        for p in n.peers().await.unwrap() {
            assert_eq!(p.connects, 1, "{} reconnected to {}", n.name, p.ip);
            assert_eq!(p.ping_timeouts, 0);
            assert!(
                p.pings_sent >= 100,
                "{} -> {}: {} pings",
                n.name,
                p.ip,
                p.pings_sent
            );
            assert!(p.pongs_received + 1 >= p.pings_sent);
        }
        let disc = n.events_of(EventKind::Disconnected).await;
        assert!(disc.is_empty(), "{}: {disc:?}", n.name);
        assert_eq!(n.metric("timed_ping_timeouts_total").await, Some(0.0));
        assert_eq!(
            n.events_of(EventKind::Connected).await.len(),
            5,
            "{}: exactly one connect per peer",
            n.name
        );
    }
    let _ = Direction::Inbound;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_serves_status_peers_events_metrics_and_json_errors() {
    let c = Cluster::start(2, 10.0);
    c.wait_full_mesh(Duration::from_secs(30)).await;
    let n = &c.nodes[0];
    let s = n.status().await.unwrap();
    assert_eq!((s.ip, s.peers), (n.ip, 1));
    assert_eq!(s.genesis_hash, c.testnet.genesis.hash().to_hex());
    let all = n.events(0).await.unwrap();
    assert!(all.iter().any(|e| e.kind == EventKind::Connected));
    let last = all.last().unwrap().seq;
    assert!(n.events(last).await.unwrap().is_empty());
    let (code, ct, body) = n.get_raw("/events").await.unwrap();
    assert_eq!((code, ct.as_str()), (200, "application/json"));
    assert!(body.starts_with('['));
    let (code, ct, body) = n.get_raw("/events?after=abc").await.unwrap();
    assert_eq!((code, ct.as_str()), (400, "application/json"), "{body}");
    let err: timed::api::types::ApiError = serde_json::from_str(&body).unwrap();
    assert!(err.error.contains("after"), "{}", err.error);
    let (code, _, body) = n.get_raw("/no/such/thing").await.unwrap();
    assert_eq!(code, 404);
    serde_json::from_str::<timed::api::types::ApiError>(&body).unwrap();
    let (code, ct, m) = n.get_raw("/metrics").await.unwrap();
    assert_eq!(code, 200);
    assert!(ct.starts_with("text/plain"), "{ct}");
    for name in [
        "timed_peers 1",
        "timed_connects_total",
        "timed_ping_timeouts_total",
        "timed_frames_in_total",
    ] {
        assert!(m.contains(name), "{name} missing from /metrics");
    }
}
