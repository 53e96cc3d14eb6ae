//! Hostile peers against a REAL `timed` process: junk frames, endless lines,
//! a peer that never reads, a connection flood. A well-behaved peer must keep
//! getting pongs in < 1 s throughout, and the node stays healthy.

mod support;

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{unique_ips, wait_until, Cluster, FakePeer};
use timed::api::types::EventKind;
use timed::constants::MAX_FRAME;
use timed::wire::{encode, NetworkMessage, Request};

/// A good peer pinging every 100 ms until `stop`; returns the worst RTT and
/// how many pings were answered.
fn good_peer(mut p: FakePeer, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<(Duration, usize)> {
    tokio::spawn(async move {
        let mut worst = Duration::ZERO;
        let mut n = 0;
        while !stop.load(Ordering::Relaxed) {
            let rtt = p
                .ping(Duration::from_secs(5))
                .await
                .expect("good peer lost its pong");
            worst = worst.max(rtt);
            n += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        (worst, n)
    })
}

async fn disconnect_reason(c: &Cluster, ip: IpAddr, timeout: Duration) -> String {
    wait_until("disconnect event", timeout, || async {
        c.nodes[0]
            .events_of(EventKind::Disconnected)
            .await
            .into_iter()
            .find(|e| e.peer_ip == Some(ip))
            .and_then(|e| e.reason)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn junk_frames_and_an_endless_line_close_only_their_connections() {
    let c = Cluster::start(1, 1.0);
    let node = &c.nodes[0];
    node.wait_ready().await;
    let ips = unique_ips(3);
    let good = FakePeer::handshake(ips[2], node.p2p, c.hello())
        .await
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let pinger = good_peer(good, stop.clone());

    // 80 frames of max-size junk.
    let mut junk = FakePeer::handshake(ips[0], node.p2p, c.hello())
        .await
        .unwrap();
    let mut frame = vec![b'x'; MAX_FRAME];
    frame.push(b'\n');
    let frame = bytes::Bytes::from(frame);
    let junk_task = tokio::spawn(async move {
        for _ in 0..80 {
            if junk.send_raw(frame.clone()).await.is_err() {
                break;
            }
        }
        junk.wait_closed(Duration::from_secs(30)).await
    });
    // One 100 MB line, no newline.
    let mut long = FakePeer::handshake(ips[1], node.p2p, c.hello())
        .await
        .unwrap();
    let chunk = bytes::Bytes::from(vec![b'y'; 1 << 20]);
    let long_task = tokio::spawn(async move {
        for _ in 0..100 {
            if long.send_raw(chunk.clone()).await.is_err() {
                break;
            }
        }
        long.wait_closed(Duration::from_secs(30)).await
    });
    assert!(junk_task.await.unwrap(), "junk peer not disconnected");
    assert!(
        long_task.await.unwrap(),
        "endless-line peer not disconnected"
    );
    let r = disconnect_reason(&c, ips[0], Duration::from_secs(10)).await;
    assert!(r.starts_with("malformed frame"), "{r}");
    let r = disconnect_reason(&c, ips[1], Duration::from_secs(10)).await;
    assert!(r.starts_with("frame too long"), "{r}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let peers = node.peers().await.unwrap();
    assert_eq!(peers.iter().map(|p| p.ip).collect::<Vec<_>>(), vec![ips[2]]);
    stop.store(true, Ordering::Relaxed);
    let (worst, n) = pinger.await.unwrap();
    assert!(
        n >= 3 && worst < Duration::from_secs(1),
        "good peer: {n} pongs, worst {worst:?}"
    );
    let rss = node.rss_kib().unwrap();
    eprintln!("node RSS after the attack: {rss} KiB; good peer worst RTT {worst:?}");
    assert!(rss < 96 * 1024, "RSS {rss} KiB after the attack");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_never_reads_is_closed_at_the_write_timeout() {
    // Scale 4: the write timeout hits its 5 s wall floor while the ping
    // timeout (90 s protocol) is 22 s away, so only the writer can close it.
    let c = Cluster::start(1, 4.0);
    let node = &c.nodes[0];
    node.wait_ready().await;
    let ips = unique_ips(2);
    let good = FakePeer::handshake(ips[1], node.p2p, c.hello())
        .await
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let pinger = good_peer(good, stop.clone());

    let mut deaf = FakePeer::connect_with(ips[0], node.p2p, Some(4096))
        .await
        .unwrap();
    let key = support::fresh_key();
    let hello = timed::wire::Hello {
        node_id: timed::chain::keys::node_id(&key),
        ..c.hello()
    };
    timed::net::handshake::client(&mut deaf.reader, deaf.writer.get_mut(), &key, &hello)
        .await
        .unwrap();
    // Many requests whose answers the node must write and we never read,
    // paced so the node's writer queue keeps up and the socket fills.
    let mut chunk = Vec::new();
    for id in 0..500u64 {
        chunk.extend_from_slice(&encode(&NetworkMessage::Request {
            id,
            body: Request::GetPeers,
        }));
    }
    let chunk = bytes::Bytes::from(chunk);
    let t0 = Instant::now();
    let _writer = tokio::spawn(async move {
        for _ in 0..400 {
            if deaf.send_raw(chunk.clone()).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        tokio::time::sleep(Duration::from_secs(60)).await; // keep the socket, never read
        drop(deaf);
    });
    let r = disconnect_reason(&c, ips[0], Duration::from_secs(40)).await;
    let took = t0.elapsed();
    assert_eq!(r, "write timeout");
    assert!(took >= Duration::from_secs(4), "closed after {took:?}");
    stop.store(true, Ordering::Relaxed);
    let (worst, n) = pinger.await.unwrap();
    assert!(
        n >= 10 && worst < Duration::from_secs(1),
        "good peer: {n} pongs, worst {worst:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_connection_attempts_from_one_ip_leave_at_most_one_connection() {
    let c = Cluster::start(1, 1.0);
    let node = &c.nodes[0];
    node.wait_ready().await;
    let ips = unique_ips(2);
    let good = FakePeer::handshake(ips[1], node.p2p, c.hello())
        .await
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let pinger = good_peer(good, stop.clone());

    let flooder = ips[0];
    let mut kept = vec![];
    for batch in 0..10 {
        let tasks: Vec<_> = (0..100)
            .map(|_| {
                let hello = c.hello();
                let to = node.p2p;
                tokio::spawn(async move { FakePeer::handshake(flooder, to, hello).await.ok() })
            })
            .collect();
        for t in tasks {
            if let Some(p) = t.await.unwrap() {
                kept.push(p); // hold accepted ones open
            }
        }
        assert!(
            kept.len() <= 1,
            "batch {batch}: {} connections accepted",
            kept.len()
        );
    }
    let peers = node.peers().await.unwrap();
    assert!(peers.iter().filter(|p| p.ip == flooder).count() <= 1);
    assert!(node.metric("timed_inbound_refused_total").await.unwrap() >= 900.0);
    node.status().await.unwrap();
    stop.store(true, Ordering::Relaxed);
    let (worst, n) = pinger.await.unwrap();
    assert!(
        n >= 1 && worst < Duration::from_secs(1),
        "good peer: {n} pongs, worst {worst:?}"
    );
}
