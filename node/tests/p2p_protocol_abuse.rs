//! Protocol edge cases a hostile peer uses, against a REAL `timed`:
//! an unknown request kind is answered with an error (the connection
//! stays), and malformed frames before the handshake count toward the IP's
//! ban score like malformed frames after it; a peer announcing blocks
//! it cannot serve is asked for them and banned.

mod support;

use std::time::Duration;
use support::{unique_ips, Cluster, FakePeer};
use timed::net::EventKind;
use timed::wire::{NetworkMessage, Request, Response};

/// The node logged a ban of `ip`.
async fn banned(node: &support::NodeProc, ip: std::net::IpAddr) -> bool {
    node.events_of(EventKind::Banned)
        .await
        .into_iter()
        .any(|e| e.peer_ip == Some(ip))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_request_kind_gets_an_error_response_not_a_disconnect() {
    let c = Cluster::start(1, 1.0);
    let node = &c.nodes[0];
    node.wait_ready().await;
    let ip = unique_ips(1)[0];
    let mut p = FakePeer::handshake(ip, node.p2p, c.hello()).await.unwrap();
    let frame = br#"{"type":"request","id":77,"body":{"kind":"get_the_future","x":[1]}}"#;
    let mut raw = frame.to_vec();
    raw.push(b'\n');
    p.send_raw(bytes::Bytes::from(raw)).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let answer = loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match p.recv(left).await {
            Some(NetworkMessage::Response { id: 77, body }) => break Some(body),
            Some(_) => continue,
            None => break None,
        }
    };
    assert!(
        matches!(answer, Some(Response::Error { .. })),
        "answer to an unknown request kind: {answer:?}"
    );
    assert!(
        p.ping(Duration::from_secs(5)).await.is_some(),
        "the connection must survive an unknown request kind"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_frames_before_the_handshake_ban_the_ip() {
    let c = Cluster::start(1, 1.0);
    let node = &c.nodes[0];
    node.wait_ready().await;
    let ip = unique_ips(1)[0];
    for _ in 0..2 {
        let mut p = FakePeer::connect(ip, node.p2p).await.unwrap();
        p.send_raw(bytes::Bytes::from_static(b"{not json at all\n"))
            .await
            .unwrap();
        assert!(p.wait_closed(Duration::from_secs(10)).await);
    }
    let third = FakePeer::handshake(ip, node.p2p, c.hello()).await;
    assert!(
        third.is_err(),
        "an IP that sent two malformed pre-handshake frames was accepted"
    );
    assert!(banned(node, ip).await, "no banned event for {ip}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_announcing_a_block_it_cannot_serve_is_asked_for_it_then_banned() {
    // One of two validators up: no quorum, the node stays at height 0, so
    // height 1 is its next block for the whole test.
    let mut c = Cluster::stopped(
        support::chain::chain_spec(2, 2, Duration::from_secs(2)),
        1.0,
    );
    c.nodes[0].start();
    let node = &c.nodes[0];
    node.wait_ready().await;
    let ip = unique_ips(1)[0];
    let mut p = FakePeer::handshake(ip, node.p2p, c.hello()).await.unwrap();
    let notice = NetworkMessage::NewTip {
        height: 1,
        hash: timed::chain::types::Hash([7; 32]),
    };
    // A notice makes the node fetch that block from us; each empty answer
    // costs 50 of the ban score's 100. Notices that arrive while the
    // node's fetch is still in flight are dropped, so announce again until
    // it asks.
    for round in 0..2 {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let id = 'asked: loop {
            assert!(
                tokio::time::Instant::now() < deadline,
                "notice {round}: the node never asked for block 1"
            );
            p.send(&notice).await.unwrap();
            while let Some(m) = p.recv(Duration::from_millis(300)).await {
                if let NetworkMessage::Request {
                    id,
                    body: Request::GetBlocks { from: 1, count: 1 },
                } = m
                {
                    break 'asked id;
                }
            }
        };
        let empty = NetworkMessage::Response {
            id,
            body: Response::Blocks { blocks: vec![] },
        };
        p.send(&empty).await.unwrap();
    }
    assert!(
        p.wait_closed(Duration::from_secs(10)).await,
        "the node kept a peer that twice announced a block it could not serve"
    );
    assert!(banned(node, ip).await, "no banned event for {ip}");
    assert_eq!(node.height().await, Some(0));
}
