//! P2P benchmark (plain `main`, prints a table):
//! - idle RSS per node with 5 peers (real `timed` processes, VmRSS);
//! - small messages per second through one connection (in-process, TCP);
//! - time for 6 nodes to reach a full mesh from start at time-scale 1;
//! - one handshake: `dial_now` until both sides report the peer connected
//!   (in-process nets over loopback TCP, a fresh pair each time).
//!
//! Run: `cargo bench -p timed --bench p2p`

#[path = "../tests/support/mod.rs"]
mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{unique_ips, Cluster};
use timed::chain::types::{Hash, NodeId};
use timed::clock::Clock;
use timed::constants::DEFAULT_P2P_PORT;
use timed::net::{self, Inbound, NetConfig, SendError};
use timed::wire::{encode, MasternodeInfo, NetworkMessage};

struct Row {
    what: &'static str,
    value: String,
    target: &'static str,
    ok: bool,
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut rows = vec![];
    rt.block_on(async {
        rows.extend(mesh_and_rss().await);
        rows.push(throughput().await);
        rows.push(handshake().await);
    });
    println!();
    println!("| measure | value | target | ok |");
    println!("|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {} | {} |",
            r.what,
            r.value,
            r.target,
            if r.ok { "yes" } else { "NO" }
        );
    }
}

async fn mesh_and_rss() -> Vec<Row> {
    let t0 = Instant::now();
    let c = Cluster::start(6, 1.0);
    // Tight poll (10 ms) so the measurement is not the poll interval.
    loop {
        let mut all = true;
        for n in &c.nodes {
            if n.peers().await.map(|p| p.len()).unwrap_or(0) != 5 {
                all = false;
                break;
            }
        }
        if all {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "no full mesh in 60 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mesh = t0.elapsed();
    tokio::time::sleep(Duration::from_secs(3)).await; // idle
    let rss: Vec<u64> = c.nodes.iter().map(|n| n.rss_kib().unwrap()).collect();
    let max = *rss.iter().max().unwrap();
    let mean = rss.iter().sum::<u64>() / rss.len() as u64;
    vec![
        Row {
            what: "6 nodes: spawn to full mesh (time-scale 1)",
            value: format!("{} ms", mesh.as_millis()),
            target: "< 1000 ms",
            ok: mesh < Duration::from_secs(1),
        },
        Row {
            what: "idle RSS per node, 5 peers (max / mean)",
            value: format!(
                "{:.1} / {:.1} MiB",
                max as f64 / 1024.0,
                mean as f64 / 1024.0
            ),
            target: "<= 16 MiB",
            ok: max <= 16 * 1024,
        },
    ]
}

/// Handshakes measured (each on a fresh pair of nets).
const HANDSHAKES: usize = 50;

/// Wait for the first `PeerConnected` on a net's inbound queue.
async fn connected(rx: &mut tokio::sync::mpsc::Receiver<Inbound>) {
    while let Some(m) = rx.recv().await {
        if let Inbound::PeerConnected { .. } = m {
            return;
        }
    }
}

async fn handshake() -> Row {
    let mut took = vec![];
    for _ in 0..HANDSHAKES {
        let ips = unique_ips(2);
        let (a, mut ra) = net::start(bench_cfg(ips[0]), Clock::new(1.0))
            .await
            .unwrap();
        let (b, mut rb) = net::start(bench_cfg(ips[1]), Clock::new(1.0))
            .await
            .unwrap();
        let t0 = Instant::now();
        a.dial_now(SocketAddr::new(ips[1], DEFAULT_P2P_PORT));
        tokio::join!(connected(&mut ra), connected(&mut rb));
        took.push(t0.elapsed());
        a.shutdown().await;
        b.shutdown().await;
    }
    took.sort();
    let (p50, p95) = (took[took.len() / 2], took[took.len() * 95 / 100]);
    Row {
        what: "one handshake: dial_now -> both sides connected (in-process TCP)",
        value: format!("p50 {p50:.2?} / p95 {p95:.2?} ({HANDSHAKES} pairs)"),
        target: "< 10 ms p95",
        ok: p95 < Duration::from_millis(10),
    }
}

fn bench_cfg(ip: std::net::IpAddr) -> NetConfig {
    NetConfig {
        listen_ip: ip,
        p2p_port: DEFAULT_P2P_PORT,
        network: "bench".into(),
        genesis_hash: Hash([3; 32]),
        key: ed25519_dalek::SigningKey::from_bytes(&rand::random()),
        masternodes: Default::default(),
        bootstrap: vec![],
        height: 0,
    }
}

async fn throughput() -> Row {
    let ips = unique_ips(2);
    let cfg = bench_cfg;
    let (a, _ra) = net::start(cfg(ips[0]), Clock::new(1.0)).await.unwrap();
    let (b, mut rb) = net::start(cfg(ips[1]), Clock::new(1.0)).await.unwrap();
    a.dial_now(SocketAddr::new(ips[1], DEFAULT_P2P_PORT));
    while a.peer_count() == 0 || b.peer_count() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    const N: u64 = 500_000;
    let got = Arc::new(AtomicU64::new(0));
    let counter = got.clone();
    let consumer = tokio::spawn(async move {
        while let Some(m) = rb.recv().await {
            if let Inbound::Message { .. } = m {
                if counter.fetch_add(1, Ordering::Relaxed) + 1 == N {
                    return;
                }
            }
        }
    });
    let msg = NetworkMessage::MasternodeAnnouncement {
        info: MasternodeInfo {
            node_id: NodeId([9; 32]),
            tier: "bronze".into(),
            weight: 10,
            ip: None,
        },
    };
    let size = encode(&msg).len();
    let t0 = Instant::now();
    let mut sent = 0;
    while sent < N {
        match a.send_to_peer(ips[1], &msg) {
            Ok(()) => sent += 1,
            Err(SendError::QueueFull(_)) => tokio::task::yield_now().await,
            Err(e) => panic!("{e}"),
        }
    }
    consumer.await.unwrap();
    let secs = t0.elapsed().as_secs_f64();
    let rate = N as f64 / secs;
    a.shutdown().await;
    b.shutdown().await;
    Row {
        what: "messages/s through one connection (send_to_peer -> Inbound)",
        value: format!(
            "{:.0} msg/s ({size} B frames, {:.0} MB/s)",
            rate,
            rate * size as f64 / 1e6
        ),
        target: ">= 100000",
        ok: rate >= 100_000.0,
    }
}
