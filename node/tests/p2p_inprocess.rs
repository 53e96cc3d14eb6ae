//! P2P stack with in-process nodes: real TCP on 127.x.y.z for races, and
//! in-memory duplex streams with tokio's paused clock for exact timing.

mod support;

use bytes::Bytes;
use ed25519_dalek::SigningKey;
use futures::StreamExt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use support::{fresh_key, os_connections, unique_ips, wait_until};
use timed::api::types::EventKind;
use timed::chain::types::{Hash, NodeId};
use timed::clock::Clock;
use timed::constants::{
    DEFAULT_P2P_PORT, MAGIC, MAX_MISSED_PONGS, PING_INTERVAL, PROTOCOL_VERSION,
};
use timed::net::auth::{self, Role};
use timed::net::{self, handshake, Inbound, NetConfig, NetHandle, RequestError};
use timed::wire::{encode, FrameCodec, Hello, NetworkMessage, Request, Response};
use tokio::io::{AsyncWriteExt, DuplexStream, ReadHalf, WriteHalf};
use tokio::sync::mpsc;
use tokio_util::codec::FramedRead;

const GENESIS: Hash = Hash([1; 32]);

async fn start_net(
    ip: IpAddr,
    scale: f64,
    bootstrap: Vec<SocketAddr>,
) -> (NetHandle, mpsc::Receiver<Inbound>) {
    let cfg = NetConfig {
        listen_ip: ip,
        p2p_port: DEFAULT_P2P_PORT,
        network: "timenet".into(),
        genesis_hash: GENESIS,
        key: fresh_key(),
        masternodes: Default::default(),
        bootstrap,
        height: 0,
    };
    net::start(cfg, Clock::new(scale)).await.unwrap()
}

fn addr(ip: IpAddr) -> SocketAddr {
    SocketAddr::new(ip, DEFAULT_P2P_PORT)
}

fn events(n: &NetHandle, kind: EventKind) -> Vec<timed::api::types::EventView> {
    n.events()
        .after(0, usize::MAX)
        .into_iter()
        .filter(|e| e.kind == kind)
        .collect()
}

/// Keep the app side of a net drained (as the chain service would).
fn drain(mut rx: mpsc::Receiver<Inbound>) {
    tokio::spawn(async move { while rx.recv().await.is_some() {} });
}

fn spin(us: u64) {
    let t = std::time::Instant::now();
    while t.elapsed() < Duration::from_micros(us) {
        std::hint::spin_loop();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_simultaneous_opens_each_end_with_one_connection_and_no_redial() {
    let mut crossed = 0;
    for round in 0..100 {
        let ips: [IpAddr; 2] = unique_ips(2).try_into().unwrap();
        let (a, ra) = start_net(ips[0], 100.0, vec![]).await;
        let (b, rb) = start_net(ips[1], 100.0, vec![]).await;
        drain(ra);
        drain(rb);
        let (ja, jb) = (rand::random::<u64>() % 300, rand::random::<u64>() % 300);
        let (a2, b2) = (a.clone(), b.clone());
        let da = tokio::spawn(async move {
            spin(ja);
            a2.dial_now(addr(ips[1]))
        });
        let db = tokio::spawn(async move {
            spin(jb);
            b2.dial_now(addr(ips[0]))
        });
        assert!(da.await.unwrap() | db.await.unwrap());
        wait_until("one connection", Duration::from_secs(10), || async {
            (a.peer_count() == 1 && b.peer_count() == 1).then_some(())
        })
        .await;
        // Longer than TIE_BREAK_RETRY (20 ms here) plus a few dial ticks.
        tokio::time::sleep(Duration::from_millis(60)).await;
        let (pa, pb) = (a.peer_views(), b.peer_views());
        assert_eq!((pa.len(), pb.len()), (1, 1), "round {round}");
        assert_eq!(
            (pa[0].connects, pb[0].connects),
            (1, 1),
            "round {round}: redialled"
        );
        assert_ne!(pa[0].direction, pb[0].direction, "round {round}");
        for n in [&a, &b] {
            assert!(events(n, EventKind::DialFailed).is_empty(), "round {round}");
            assert!(
                events(n, EventKind::Disconnected).is_empty(),
                "round {round}"
            );
        }
        // A refused duplicate socket may linger in the kernel for a moment
        // while it closes; it must go away, the kept one must stay.
        wait_until("one kernel socket", Duration::from_secs(5), || async {
            (os_connections(&ips, DEFAULT_P2P_PORT).len() == 1).then_some(())
        })
        .await;
        if !events(&a, EventKind::RejectedDuplicate).is_empty()
            || !events(&b, EventKind::RejectedDuplicate).is_empty()
        {
            crossed += 1;
        }
        a.shutdown().await;
        b.shutdown().await;
    }
    // The tie-break path itself must have been exercised, not just dodged.
    assert!(
        crossed >= 10,
        "only {crossed} rounds had crossing handshakes"
    );
    eprintln!("{crossed}/100 rounds had crossing dials resolved by the tie-break");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_dial_is_rejected_once_and_never_retried() {
    let ip = unique_ips(1)[0];
    let (a, rx) = start_net(ip, 10.0, vec![addr(ip)]).await;
    drain(rx);
    wait_until(
        "self connection detected",
        Duration::from_secs(10),
        || async { (events(&a, EventKind::HandshakeRejected).len() == 2).then_some(()) },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await; // 15 dial ticks
    let rejects = events(&a, EventKind::HandshakeRejected);
    assert_eq!(
        rejects.len(),
        2,
        "one inbound + one outbound record: {rejects:?}"
    );
    assert!(rejects
        .iter()
        .all(|e| e.reason.as_deref() == Some("self connection")));
    assert!(events(&a, EventKind::DialFailed).is_empty());
    assert_eq!(a.peer_count(), 0);
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_timeout_fails_the_caller_only_and_the_late_response_is_dropped() {
    let ips: [IpAddr; 2] = unique_ips(2).try_into().unwrap();
    let (a, ra) = start_net(ips[0], 10.0, vec![]).await;
    let (b, mut rb) = start_net(ips[1], 10.0, vec![]).await;
    drain(ra);
    a.dial_now(addr(ips[1]));
    wait_until("connected", Duration::from_secs(10), || async {
        (a.peer_count() == 1 && b.peer_count() == 1).then_some(())
    })
    .await;
    let conn_id = a.peer_views()[0].connection_id;
    // 1 s protocol = 100 ms wall at scale 10; b does not answer in time.
    let a2 = a.clone();
    let slow = tokio::spawn(async move {
        a2.request(ips[1], Request::GetTip, Duration::from_secs(1))
            .await
    });
    let late_id = loop {
        match rb.recv().await.unwrap() {
            Inbound::Request {
                id,
                body: Request::GetTip,
                ..
            } => break id,
            _ => continue,
        }
    };
    assert_eq!(slow.await.unwrap(), Err(RequestError::Timeout(ips[1])));
    let tip = |height| Response::Tip {
        height,
        hash: Hash([0; 32]),
    };
    b.respond(ips[0], late_id, tip(999)).unwrap(); // late: must be dropped
    let a3 = a.clone();
    let fresh = tokio::spawn(async move {
        a3.request(ips[1], Request::GetTip, Duration::from_secs(50))
            .await
    });
    let id = loop {
        match rb.recv().await.unwrap() {
            Inbound::Request {
                id,
                body: Request::GetTip,
                ..
            } => break id,
            _ => continue,
        }
    };
    b.respond(ips[0], id, tip(1)).unwrap();
    assert_eq!(fresh.await.unwrap(), Ok(tip(1)));
    let p = a.peer_views();
    assert_eq!(
        (p.len(), p[0].connection_id, p[0].connects),
        (1, conn_id, 1)
    );
    assert!(events(&a, EventKind::Disconnected).is_empty());
    a.shutdown().await;
    b.shutdown().await;
}

/// A fake peer's key and its Hello (a fresh nonce).
fn identity() -> (SigningKey, Hello) {
    let key = fresh_key();
    let hello = Hello {
        magic: MAGIC,
        version: PROTOCOL_VERSION,
        network: "timenet".into(),
        genesis_hash: GENESIS,
        node_id: timed::chain::keys::node_id(&key),
        nonce: rand::random(),
        listen_port: 0,
        height: 0,
    };
    (key, hello)
}

type FakeReader = FramedRead<ReadHalf<DuplexStream>, FrameCodec>;

/// A fake peer over an in-memory stream, handshake done.
async fn fake_peer(node: &NetHandle, ip: IpAddr) -> (FakeReader, WriteHalf<DuplexStream>) {
    let (ours, theirs) = tokio::io::duplex(1 << 20);
    node.accept_stream(ip, theirs);
    let (r, mut w) = tokio::io::split(ours);
    let mut r = FramedRead::new(r, FrameCodec::new(1 << 20));
    let (key, hello) = identity();
    handshake::client(&mut r, &mut w, &key, &hello)
        .await
        .unwrap();
    (r, w)
}

/// The dialer's first two steps by hand: send a Hello, read the node's
/// `HandshakeAuth`; returns our proof over its nonce, not yet sent.
async fn hello_and_proof(r: &mut FakeReader, w: &mut WriteHalf<DuplexStream>) -> Bytes {
    let (key, hello) = identity();
    w.write_all(&encode(&NetworkMessage::Handshake(hello.clone())))
        .await
        .unwrap();
    let f = r.next().await.unwrap().unwrap();
    let NetworkMessage::HandshakeAuth { hello: theirs, .. } = timed::wire::decode(&f).unwrap()
    else {
        panic!("expected handshake auth")
    };
    let proof = auth::prove(&key, Role::Dialer, &hello, theirs.nonce);
    encode(&NetworkMessage::HandshakeProof { proof })
}

#[tokio::test(start_paused = true)]
async fn withheld_pongs_close_the_connection_at_exactly_n_missed_pings() {
    let (a, rx) = start_net(unique_ips(1)[0], 1.0, vec![]).await;
    drain(rx);
    let fake = unique_ips(1)[0];
    let (mut r, _w) = fake_peer(&a, fake).await;
    let t0 = tokio::time::Instant::now();
    let mut pings = 0;
    while let Some(Ok(frame)) = r.next().await {
        if let NetworkMessage::Ping { .. } = timed::wire::decode(&frame).unwrap() {
            pings += 1;
        }
    }
    let elapsed = t0.elapsed();
    let expected = PING_INTERVAL * MAX_MISSED_PONGS;
    assert_eq!(pings, MAX_MISSED_PONGS, "pings sent before closing");
    assert!(
        elapsed >= expected && elapsed < expected + Duration::from_secs(1),
        "{elapsed:?}"
    );
    let d = events(&a, EventKind::Disconnected);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].reason.as_deref(), Some("ping timeout"));
    assert!(a.metrics_text().contains("timed_ping_timeouts_total 1"));

    // The peer comes back: its entry carries the IP's history.
    let (_r, _w) = fake_peer(&a, fake).await;
    let p = a.peer_views();
    assert_eq!((p.len(), p[0].connects, p[0].ping_timeouts), (1, 2, 1));
}

#[tokio::test(start_paused = true)]
async fn answered_pings_keep_the_connection_up_forever() {
    let (a, rx) = start_net(unique_ips(1)[0], 1.0, vec![]).await;
    drain(rx);
    let (mut r, mut w) = fake_peer(&a, unique_ips(1)[0]).await;
    let t0 = tokio::time::Instant::now();
    let mut pongs = 0;
    while t0.elapsed() < PING_INTERVAL * 20 {
        let frame = r.next().await.unwrap().unwrap();
        if let NetworkMessage::Ping { nonce } = timed::wire::decode(&frame).unwrap() {
            w.write_all(&encode(&NetworkMessage::Pong { nonce }))
                .await
                .unwrap();
            pongs += 1;
        }
    }
    assert!(pongs >= 20);
    let p = a.peer_views();
    assert_eq!((p.len(), p[0].ping_timeouts), (1, 0));
    assert!(p[0].rtt_ms.is_some());
}

/// Undecodable lines close only that connection, with a reason; unknown
/// types and unknown fields are tolerated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_corpus_closes_with_a_reason_and_tolerates_unknowns() {
    let (a, rx) = start_net(unique_ips(1)[0], 1.0, vec![]).await;
    drain(rx);
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let bad: Vec<Vec<u8>> = vec![
        b"{not json".to_vec(),
        b"".to_vec(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"\"just a string\"".to_vec(),
        b"42".to_vec(),
        b"{}".to_vec(),
        br#"{"type":"ping"}"#.to_vec(),
        br#"{"type":"ping","nonce":-1}"#.to_vec(),
        br#"{"type":"ping","nonce":"7"}"#.to_vec(),
        br#"{"type":"ping","nonce":18446744073709551616}"#.to_vec(),
        br#"{"type":"ping","nonce":1}}"#.to_vec(),
        br#"{"type":"ping","nonce":1} {"type":"ping","nonce":2}"#.to_vec(),
        br#"{"type":"request","id":1}"#.to_vec(),
        br#"{"type":"block_announcement","block":{}}"#.to_vec(),
        br#"{"type":"transaction","tx":[1,2,3]}"#.to_vec(),
        br#"{"type":7}"#.to_vec(),
        vec![0xff, 0xfe, 0x00, 0x7b],
        b"{\"type\":\"ping\",\"nonce\":1".to_vec(),
        deep.into_bytes(),
    ];
    let ips = unique_ips(bad.len());
    for (line, ip) in bad.iter().zip(&ips) {
        let (mut r, mut w) = fake_peer(&a, *ip).await;
        w.write_all(line).await.unwrap();
        w.write_all(b"\n").await.unwrap();
        let closed = tokio::time::timeout(Duration::from_secs(5), async {
            while let Some(Ok(_)) = r.next().await {}
        })
        .await;
        assert!(
            closed.is_ok(),
            "not closed after {:?}",
            String::from_utf8_lossy(&line[..line.len().min(60)])
        );
        let reason = wait_until("disconnect event", Duration::from_secs(5), || async {
            events(&a, EventKind::Disconnected)
                .into_iter()
                .find(|e| e.peer_ip == Some(*ip))
                .and_then(|e| e.reason)
        })
        .await;
        assert!(reason.starts_with("malformed frame: "), "{reason}");
    }
    // Tolerated: unknown type, unknown request kind (answered with an
    // error, issue 15), unknown extra field. The connection stays up.
    let (mut r, mut w) = fake_peer(&a, unique_ips(1)[0]).await;
    w.write_all(b"{\"type\":\"from_the_future\",\"x\":[1]}\n")
        .await
        .unwrap();
    w.write_all(b"{\"type\":\"request\",\"id\":1,\"body\":{\"kind\":\"nope\"}}\n")
        .await
        .unwrap();
    w.write_all(b"{\"type\":\"ping\",\"nonce\":77,\"extra\":true}\n")
        .await
        .unwrap();
    loop {
        let f = tokio::time::timeout(Duration::from_secs(5), r.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if timed::wire::decode(&f).unwrap() == (NetworkMessage::Pong { nonce: 77 }) {
            break;
        }
    }
    // Two malformed frames from one IP ban it: its next socket is dropped
    // before the handshake.
    let repeat = unique_ips(1)[0];
    for _ in 0..2 {
        let (mut r, mut w) = fake_peer(&a, repeat).await;
        w.write_all(b"garbage\n").await.unwrap();
        while let Some(Ok(_)) = r.next().await {}
    }
    wait_until("ban", Duration::from_secs(5), || async {
        events(&a, EventKind::Banned)
            .into_iter()
            .find(|e| e.peer_ip == Some(repeat))
    })
    .await;
    let (ours, theirs) = tokio::io::duplex(1024);
    a.accept_stream(repeat, theirs);
    let (r, mut w) = tokio::io::split(ours);
    let _ = w
        .write_all(&encode(&NetworkMessage::Handshake(identity().1)))
        .await;
    let mut r = FramedRead::new(r, FrameCodec::new(1 << 20));
    assert!(tokio::time::timeout(Duration::from_secs(5), r.next())
        .await
        .unwrap()
        .is_none());
    a.shutdown().await;
}

/// The acceptor sends nothing before a valid Hello, and gives up at the
/// handshake deadline with a reason.
#[tokio::test(start_paused = true)]
async fn acceptor_is_silent_before_the_hello_and_enforces_the_handshake_deadline() {
    let (a, rx) = start_net(unique_ips(1)[0], 1.0, vec![]).await;
    drain(rx);
    let ip = unique_ips(1)[0];
    let (ours, theirs) = tokio::io::duplex(1 << 16);
    a.accept_stream(ip, theirs);
    let (r, _w) = tokio::io::split(ours);
    let mut r = FramedRead::new(r, FrameCodec::new(1 << 20));
    let t0 = tokio::time::Instant::now();
    let first = r.next().await.unwrap().unwrap();
    let waited = t0.elapsed();
    assert_eq!(
        timed::wire::decode(&first).unwrap(),
        NetworkMessage::Reject {
            reason: "handshake timeout".into()
        }
    );
    let deadline = timed::constants::HANDSHAKE_TIMEOUT;
    assert!(
        waited >= deadline && waited < deadline + Duration::from_secs(1),
        "{waited:?}"
    );
    assert!(r.next().await.is_none(), "closed after the reject");
    let e = events(&a, EventKind::HandshakeRejected);
    assert_eq!(e[0].reason.as_deref(), Some("handshake timeout"));
}

/// Before the handshake a line may be at most MAX_FRAME_PRE_HANDSHAKE bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversize_pre_handshake_line_is_refused_before_buffering() {
    let (a, rx) = start_net(unique_ips(1)[0], 1.0, vec![]).await;
    drain(rx);
    let (ours, theirs) = tokio::io::duplex(1 << 20);
    a.accept_stream(unique_ips(1)[0], theirs);
    let (r, mut w) = tokio::io::split(ours);
    let mut r = FramedRead::new(r, FrameCodec::new(1 << 20));
    let line = vec![b'{'; timed::constants::MAX_FRAME_PRE_HANDSHAKE + 1];
    w.write_all(&line).await.unwrap();
    let first = tokio::time::timeout(Duration::from_secs(5), r.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    match timed::wire::decode(&first).unwrap() {
        NetworkMessage::Reject { reason } => {
            assert!(reason.starts_with("handshake frame too long"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    a.shutdown().await;
}

/// A peer that never reads neither slows broadcasts to others nor stays:
/// its queue overflows (drops counted), the writer times out and closes it,
/// and a reading peer receives every frame.
#[tokio::test(start_paused = true)]
async fn a_deaf_peer_never_delays_broadcasts_to_others_and_is_closed_at_the_write_timeout() {
    let (a, rx) = start_net(unique_ips(1)[0], 1.0, vec![]).await;
    drain(rx);
    // Deaf: a 1 KiB pipe nobody reads.
    let deaf_ip = unique_ips(1)[0];
    let (deaf, theirs) = tokio::io::duplex(1024);
    a.accept_stream(deaf_ip, theirs);
    let (dr, mut dw) = tokio::io::split(deaf);
    let mut dr = FramedRead::new(dr, FrameCodec::new(1 << 20));
    let proof = hello_and_proof(&mut dr, &mut dw).await;
    dw.write_all(&proof).await.unwrap(); // and never reads again
    let (mut good_r, mut good_w) = fake_peer(&a, unique_ips(1)[0]).await;
    wait_until("both registered", Duration::from_secs(60), || async {
        (a.peer_count() == 2).then_some(())
    })
    .await;
    const N: usize = 3000;
    let reader = tokio::spawn(async move {
        let mut got = 0;
        while got < N {
            let f = good_r.next().await.unwrap().unwrap();
            match timed::wire::decode(&f).unwrap() {
                NetworkMessage::MasternodeAnnouncement { .. } => got += 1,
                NetworkMessage::Ping { nonce } => {
                    let _ = good_w
                        .write_all(&encode(&NetworkMessage::Pong { nonce }))
                        .await;
                }
                _ => {}
            }
        }
        got
    });
    let msg = NetworkMessage::MasternodeAnnouncement {
        info: timed::wire::MasternodeInfo {
            node_id: NodeId([5; 32]),
            tier: "bronze".into(),
            weight: 10,
            ip: None,
        },
    };
    let t0 = tokio::time::Instant::now();
    for _ in 0..N / 100 {
        for _ in 0..100 {
            a.broadcast(&msg);
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(reader.await.unwrap(), N, "the reading peer got every frame");
    assert!(
        t0.elapsed() < Duration::from_secs(1),
        "broadcast was held up"
    );
    let dropped = a
        .metrics_text()
        .lines()
        .find_map(|l| {
            l.strip_prefix("timed_broadcast_dropped_total ")
                .map(|v| v.parse::<u64>().unwrap())
        })
        .unwrap();
    assert!(dropped > 0, "the deaf peer's full queue must drop");
    let reason = wait_until("deaf peer closed", Duration::from_secs(120), || async {
        events(&a, EventKind::Disconnected)
            .into_iter()
            .find(|e| e.peer_ip == Some(deaf_ip))
            .and_then(|e| e.reason)
    })
    .await;
    assert_eq!(reason, "write timeout");
    assert!(t0.elapsed() >= timed::constants::WRITE_TIMEOUT);
    drop(dr);
}

/// A handshake whose dialer already hung up (its FIN queued right behind
/// its proof, as when a frozen node drains its accept backlog after resume)
/// is stale: it is neither registered nor acked, so no phantom
/// connect/disconnect is logged. Found by the paused-node scenario.
///
/// One thread: the proof and the FIN are both queued before the node's task
/// can run again (on two workers the node could read the proof before the
/// FIN was written, a live dialer after all: the test raced its subject).
#[tokio::test(flavor = "current_thread")]
async fn a_stale_handshake_from_a_dialer_that_already_hung_up_is_not_registered() {
    let (a, rx) = start_net(unique_ips(1)[0], 1.0, vec![]).await;
    drain(rx);
    let ip = unique_ips(1)[0];
    let (ours, theirs) = tokio::io::duplex(1 << 16);
    let (r, mut w) = tokio::io::split(ours);
    a.accept_stream(ip, theirs);
    let mut r = FramedRead::new(r, FrameCodec::new(1 << 20));
    let proof = hello_and_proof(&mut r, &mut w).await;
    w.write_all(&proof).await.unwrap();
    w.shutdown().await.unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(10), r.next())
        .await
        .expect("the acceptor closes the stale stream");
    assert!(answer.is_none(), "no ack for a stale handshake: {answer:?}");
    assert!(events(&a, EventKind::Connected).is_empty());
    assert!(a.peer_views().is_empty());
    // A live dialer from the same IP is still welcome afterwards.
    let (_r, _w) = fake_peer(&a, ip).await;
    assert_eq!(events(&a, EventKind::Connected).len(), 1);
    a.shutdown().await;
}

/// A dialer may pipeline frames right behind its proof: nothing is lost or
/// refused (the stale-handshake probe must give the frame back).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_pipelined_behind_the_proof_are_processed() {
    let (a, rx) = start_net(unique_ips(1)[0], 1.0, vec![]).await;
    drain(rx);
    let ip = unique_ips(1)[0];
    let (ours, theirs) = tokio::io::duplex(1 << 16);
    let (r, mut w) = tokio::io::split(ours);
    a.accept_stream(ip, theirs);
    let mut r = FramedRead::new(r, FrameCodec::new(1 << 20));
    let mut burst = hello_and_proof(&mut r, &mut w).await.to_vec();
    burst.extend_from_slice(&encode(&NetworkMessage::Ping { nonce: 42 }));
    w.write_all(&burst).await.unwrap();
    let mut got_pong = false;
    for _ in 0..4 {
        let f = tokio::time::timeout(Duration::from_secs(10), r.next())
            .await
            .expect("frames arrive")
            .expect("stream open")
            .unwrap();
        match timed::wire::decode(&f).unwrap() {
            NetworkMessage::Pong { nonce: 42 } => {
                got_pong = true;
                break;
            }
            NetworkMessage::Reject { reason } => panic!("refused: {reason}"),
            _ => {}
        }
    }
    assert!(got_pong, "the pipelined ping was answered");
    assert_eq!(events(&a, EventKind::Connected).len(), 1);
    a.shutdown().await;
}
