//! The API cannot be used to exhaust a REAL `timed`'s sockets or file
//! descriptors: idle API sockets are closed at the idle timeout, and under
//! `ulimit -n 256` an API and pre-handshake flood leaves `/status` and P2P
//! handshakes working.

mod support;

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use support::{unique_ips, wait_until, Cluster, FakePeer};
use timed::constants::API_IDLE_TIMEOUT;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

async fn open_from(ip: IpAddr, to: SocketAddr) -> Option<TcpStream> {
    let s = tokio::net::TcpSocket::new_v4().ok()?;
    s.bind(SocketAddr::new(ip, 0)).ok()?;
    tokio::time::timeout(Duration::from_secs(5), s.connect(to))
        .await
        .ok()?
        .ok()
}

/// Open `n` sockets from `ip` to `to` (some may fail under a tight limit).
async fn flood(ip: IpAddr, to: SocketAddr, n: usize) -> Vec<TcpStream> {
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        if let Some(s) = open_from(ip, to).await {
            v.push(s);
        }
    }
    v
}

/// Wait until the node closed `s` (EOF or reset); false at the deadline.
async fn closed_by_peer(mut s: TcpStream, deadline: tokio::time::Instant) -> bool {
    let mut b = [0u8; 64];
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut b)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_api_sockets_from_one_ip_are_closed_within_the_timeout() {
    let c = Cluster::start(1, 1.0);
    let node = &c.nodes[0];
    node.wait_ready().await;
    let ip = unique_ips(1)[0];
    let t0 = Instant::now();
    let socks = flood(ip, node.api, 1200).await;
    assert_eq!(socks.len(), 1200, "the kernel accepts every connect");
    let deadline = tokio::time::Instant::now() + API_IDLE_TIMEOUT + Duration::from_secs(10);
    let results =
        futures::future::join_all(socks.into_iter().map(|s| closed_by_peer(s, deadline))).await;
    let open = results.iter().filter(|c| !**c).count();
    eprintln!(
        "1200 idle API sockets: {open} still open after {:?}",
        t0.elapsed()
    );
    assert_eq!(open, 0, "{open} idle API sockets outlived the idle timeout");
    node.status().await.expect("/status after the flood");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_ulimit_256_an_api_and_handshake_flood_cannot_starve_status_or_p2p() {
    let mut c = Cluster::stopped(
        timed::testnet::TestnetSpec {
            nodes: 1,
            masternodes: 1,
            base_ip: support::unique_base_ip(),
            ..Default::default()
        },
        1.0,
    );
    c.nodes[0].nofile = Some(256);
    c.start_all();
    let node = &c.nodes[0];
    node.wait_ready().await;
    let ips = unique_ips(102);
    // 300 idle API sockets from one IP ...
    let _api = flood(ips[0], node.api, 300).await;
    // ... and 100 P2P sockets from 100 IPs that never send a handshake.
    let mut _p2p = vec![];
    for ip in &ips[1..101] {
        _p2p.extend(open_from(*ip, node.p2p).await);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let t = Instant::now();
    // A fresh client: the harness's pooled connection predates the flood.
    let fresh = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    wait_until(
        "/status under the flood",
        Duration::from_secs(10),
        || async {
            let r = fresh.get(node.url("/status")).send().await.ok()?;
            r.status().is_success().then_some(())
        },
    )
    .await;
    eprintln!("/status answered after {:?} under the flood", t.elapsed());
    let peer = FakePeer::handshake(ips[101], node.p2p, c.hello()).await;
    assert!(
        peer.is_ok(),
        "P2P handshake under the flood: {:?}",
        peer.err()
    );
    let log = node.log();
    assert!(
        !log.contains("Too many open files"),
        "the node ran out of descriptors: {}",
        log.lines()
            .find(|l| l.contains("Too many open files"))
            .unwrap()
    );
}
