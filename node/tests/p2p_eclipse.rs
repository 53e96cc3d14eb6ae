//! Address-book poisoning and eclipse against REAL `timed` processes.
//!
//! One attacker peer answers n1's GetPeers with 100,000 addresses: 40 of them
//! are sybil listeners that complete handshakes, the rest lead nowhere. The
//! honest nodes must (1) make a bounded number of dials to addresses nobody
//! ever connected to, (2) still learn and dial a new honest address within
//! one discovery round, and (3) never give the attacker's addresses more than
//! their share of outbound slots.

mod support;

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::{unique_base_ip, unique_ips, wait_until, Cluster, FakePeer};
use timed::constants::{
    DISCOVERY_INTERVAL, MAX_OUTBOUND_PER_SOURCE, NEW_DIALS_PER_MINUTE, NEW_DIAL_BURST,
};
use timed::wire::{encode, FrameCodec, Hello, NetworkMessage, PeerAddr, Request, Response};
use tokio_util::codec::FramedRead;

const SCALE: f64 = 10.0;
const JUNK: u32 = 100_000;
const SYBILS: usize = 40;

/// Answer pings and requests like a live peer would; `peers` is the answer
/// to every GetPeers. Returns when the connection closes.
async fn serve_peer(
    mut reader: FramedRead<tokio::net::tcp::OwnedReadHalf, FrameCodec>,
    mut w: tokio::net::tcp::OwnedWriteHalf,
    peers: Arc<Vec<PeerAddr>>,
) {
    use futures::StreamExt;
    use tokio::io::AsyncWriteExt;
    while let Some(Ok(frame)) = reader.next().await {
        let reply = match timed::wire::decode(&frame) {
            Ok(NetworkMessage::Ping { nonce }) => NetworkMessage::Pong { nonce },
            Ok(NetworkMessage::Request {
                id,
                body: Request::GetPeers,
            }) => NetworkMessage::Response {
                id,
                body: Response::Peers {
                    peers: (*peers).clone(),
                },
            },
            _ => continue,
        };
        if w.write_all(&encode(&reply)).await.is_err() {
            return;
        }
    }
}

/// A listener that completes the acceptor handshake with anyone and then
/// behaves; records the IP of every dialer that got through.
async fn listener(
    at: SocketAddr,
    hello: Hello,
    dialers: Arc<Mutex<Vec<IpAddr>>>,
) -> tokio::task::JoinHandle<()> {
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_reuseaddr(true).unwrap();
    sock.bind(at).unwrap();
    let l = sock.listen(64).unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((s, from)) = l.accept().await else {
                return;
            };
            let key = support::fresh_key();
            let hello = Hello {
                node_id: timed::chain::keys::node_id(&key),
                nonce: rand::random(),
                listen_port: at.port(),
                ..hello.clone()
            };
            let dialers = dialers.clone();
            tokio::spawn(async move {
                let (r, mut w) = s.into_split();
                let mut reader = FramedRead::new(r, FrameCodec::new(1 << 20));
                if !support::accept_handshake(&mut reader, &mut w, &key, hello).await {
                    return;
                }
                dialers.lock().unwrap().push(from.ip());
                serve_peer(reader, w, Arc::new(vec![])).await;
            });
        }
    })
}

async fn dial_failures(c: &Cluster) -> f64 {
    let mut sum = 0.0;
    for n in &c.nodes {
        sum += n.metric("timed_dial_failures_total").await.unwrap_or(0.0);
    }
    sum
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_poisoned_peers_answer_cannot_flood_dials_starve_learning_or_eclipse() {
    let c = Cluster::start(3, SCALE);
    c.wait_full_mesh(Duration::from_secs(60)).await;
    let n1 = &c.nodes[0];

    // Sybils: 40 listeners that handshake; junk: 99,960 dead addresses.
    let sybil_ips = unique_ips(SYBILS);
    let dialers = Arc::new(Mutex::new(vec![]));
    let mut tasks = vec![];
    let mut poison: Vec<PeerAddr> = vec![];
    for ip in &sybil_ips {
        let at = SocketAddr::new(*ip, 24100);
        tasks.push(listener(at, c.hello(), dialers.clone()).await);
        poison.push(PeerAddr {
            ip: *ip,
            port: 24100,
        });
    }
    let junk_base = u32::from(Ipv4Addr::new(127, unique_base_ip().octets()[1], 0, 1));
    for i in 0..JUNK - SYBILS as u32 {
        poison.push(PeerAddr {
            ip: IpAddr::V4(Ipv4Addr::from(junk_base + i)),
            port: 24100,
        });
    }
    let poison = Arc::new(poison);
    let attacker_ips = unique_ips(2);
    let attacker = FakePeer::handshake(attacker_ips[0], n1.p2p, c.hello())
        .await
        .unwrap();
    let FakePeer { reader, writer } = attacker;
    tokio::spawn(serve_peer(reader, writer.into_inner(), poison.clone()));

    // (1) Dials to addresses nobody ever connected to stay under the cap.
    let base = dial_failures(&c).await;
    let window = Duration::from_secs(20);
    tokio::time::sleep(window).await;
    let dials = dial_failures(&c).await - base;
    let minutes = window.as_secs_f64() * SCALE / 60.0;
    let per_node = NEW_DIAL_BURST as f64 + NEW_DIALS_PER_MINUTE as f64 * (minutes + 1.0);
    let bound = 3.0 * per_node;
    eprintln!("dial failures on 3 nodes in {window:?} after the poison: {dials} (bound {bound})");
    assert!(
        dials <= bound,
        "{dials} failed dials to dead addresses in {window:?} (bound {bound})"
    );

    // (2) A new honest peer H connects to n2 only; n1 must learn H's address
    // through gossip and dial it within one discovery round.
    let h_ip = attacker_ips[1];
    let h_at = SocketAddr::new(h_ip, 24100);
    let h_dialers = Arc::new(Mutex::new(vec![]));
    tasks.push(listener(h_at, c.hello(), h_dialers.clone()).await);
    let mut h_hello = c.hello();
    h_hello.listen_port = 24100;
    let h = FakePeer::handshake(h_ip, c.nodes[1].p2p, h_hello)
        .await
        .unwrap();
    let FakePeer { reader, writer } = h;
    tokio::spawn(serve_peer(reader, writer.into_inner(), Arc::new(vec![])));
    let round = DISCOVERY_INTERVAL.div_f64(SCALE);
    let t = Instant::now();
    wait_until(
        "n1 dials the new honest address",
        round * 2 + Duration::from_secs(5),
        || {
            let d = h_dialers.clone();
            let n1_ip = n1.ip;
            async move { d.lock().unwrap().contains(&n1_ip).then_some(()) }
        },
    )
    .await;
    eprintln!(
        "n1 dialled the new honest address {:?} after H joined",
        t.elapsed()
    );

    // (3) The attacker's sybils hold at most their share of n1's slots.
    let sybils: HashSet<IpAddr> = sybil_ips.iter().copied().collect();
    let peers = n1.peers().await.unwrap();
    let held = peers.iter().filter(|p| sybils.contains(&p.ip)).count();
    eprintln!(
        "n1: {} peers, {held} of them attacker sybils (cap {MAX_OUTBOUND_PER_SOURCE})",
        peers.len()
    );
    assert!(
        held <= MAX_OUTBOUND_PER_SOURCE,
        "attacker sybils hold {held} of n1's connections (cap {MAX_OUTBOUND_PER_SOURCE})"
    );
    for t in tasks {
        t.abort();
    }
}
