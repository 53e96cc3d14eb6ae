//! The authenticated handshake against REAL `timed` processes over TCP
//! (issue 15 point 5): a node id is accepted only with a proof made by its
//! key over a nonce drawn for that connection.
//! (a) a peer at another IP claiming n2's id while n2 is connected is
//!     rejected, n2 stays connected;
//! (b) a proof recorded on one connection and replayed on another (it signs
//!     the wrong nonce) is rejected;
//! (c) a genesis masternode's id proven with a non-genesis key is rejected
//!     as an impostor; its genesis key is accepted.

mod support;

use std::net::IpAddr;
use std::time::Duration;
use support::{fresh_key, unique_base_ip, unique_ips, Cluster, FakePeer, NodeProc};
use timed::chain::keys;
use timed::net::auth::{self, Role};
use timed::net::EventKind;
use timed::testnet::TestnetSpec;
use timed::wire::{Hello, NetworkMessage};

const STEP: Duration = Duration::from_secs(10);

/// Three nodes, n1 the only masternode; full mesh.
async fn cluster() -> Cluster {
    let spec = TestnetSpec {
        nodes: 3,
        masternodes: 1,
        base_ip: unique_base_ip(),
        ..Default::default()
    };
    let c = Cluster::start_with(spec, 1.0);
    c.wait_full_mesh(Duration::from_secs(60)).await;
    c
}

/// `node`'s `handshake_rejected` reasons for inbound handshakes from `ip`.
async fn rejections(node: &NodeProc, ip: IpAddr) -> Vec<String> {
    node.events_of(EventKind::HandshakeRejected)
        .await
        .into_iter()
        .filter(|e| e.peer_ip == Some(ip))
        .filter_map(|e| e.reason)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_at_another_ip_claiming_n2s_id_is_rejected_and_n2_stays() {
    let c = cluster().await;
    let (n1, n2) = (&c.nodes[0], &c.nodes[1]);
    let n2_id = keys::node_id(&c.testnet.nodes[1].key);
    let attacker = unique_ips(1)[0];
    let hello = Hello {
        node_id: n2_id,
        ..c.hello()
    };
    let r = FakePeer::handshake_as(attacker, n1.p2p, hello, &fresh_key()).await;
    let want = format!("bad identity proof from node {n2_id}");
    assert_eq!(
        r.err().as_deref(),
        Some(want.as_str()),
        "the impostor's answer"
    );
    assert_eq!(rejections(n1, attacker).await, vec![want.clone()]);
    let line = n1
        .log()
        .lines()
        .find(|l| l.contains("bad identity proof"))
        .map(str::to_owned)
        .unwrap_or_default();
    assert!(line.contains(&attacker.to_string()), "log line: {line:?}");
    // n2 keeps its one connection: listed, never reconnected.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let peers = n1.peers().await.unwrap();
    assert!(peers.iter().all(|p| p.ip != attacker), "{peers:?}");
    let n2_row = peers.iter().find(|p| p.ip == n2.ip).expect("n2 connected");
    assert_eq!(n2_row.connects, 1, "n2 was never disconnected");
    let gone = n1.events_of(EventKind::Disconnected).await;
    assert!(gone.iter().all(|e| e.peer_ip != Some(n2.ip)), "{gone:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proof_replayed_from_a_recorded_handshake_is_rejected() {
    let c = cluster().await;
    let n1 = &c.nodes[0];
    let key = fresh_key();
    let hello = Hello {
        node_id: keys::node_id(&key),
        nonce: rand::random(),
        ..c.hello()
    };
    let ips = unique_ips(2);
    // The recorded handshake: an honest one, step by step.
    let mut honest = FakePeer::connect(ips[0], n1.p2p).await.unwrap();
    honest
        .send(&NetworkMessage::Handshake(hello.clone()))
        .await
        .unwrap();
    let Some(NetworkMessage::HandshakeAuth { hello: first, .. }) = honest.recv(STEP).await else {
        panic!("no handshake auth")
    };
    let recorded = auth::prove(&key, Role::Dialer, &hello, first.nonce);
    honest
        .send(&NetworkMessage::HandshakeProof { proof: recorded })
        .await
        .unwrap();
    assert_eq!(honest.recv(STEP).await, Some(NetworkMessage::HandshakeAck));
    // The replay: the same Hello and the recorded proof, on a new connection.
    let mut replay = FakePeer::connect(ips[1], n1.p2p).await.unwrap();
    replay
        .send(&NetworkMessage::Handshake(hello.clone()))
        .await
        .unwrap();
    let Some(NetworkMessage::HandshakeAuth { hello: second, .. }) = replay.recv(STEP).await else {
        panic!("no handshake auth")
    };
    assert_ne!(second.nonce, first.nonce, "a fresh nonce per connection");
    replay
        .send(&NetworkMessage::HandshakeProof { proof: recorded })
        .await
        .unwrap();
    let want = format!("bad identity proof from node {}", hello.node_id);
    assert_eq!(
        replay.recv(STEP).await,
        Some(NetworkMessage::Reject {
            reason: want.clone()
        })
    );
    assert!(replay.wait_closed(STEP).await, "closed after the reject");
    assert_eq!(rejections(n1, ips[1]).await, vec![want]);
    let peers = n1.peers().await.unwrap();
    assert!(peers.iter().any(|p| p.ip == ips[0]), "the honest one stays");
    assert!(peers.iter().all(|p| p.ip != ips[1]), "{peers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_masternode_id_with_a_non_genesis_key_is_rejected_its_genesis_key_is_not() {
    let c = cluster().await;
    let n2 = &c.nodes[1];
    let mn = &c.testnet.nodes[0]; // n1, the genesis masternode
    let mn_id = keys::node_id(&mn.key);
    assert_eq!(c.testnet.genesis.masternodes[0].node_id, mn_id);
    let ips = unique_ips(2);
    let claim = Hello {
        node_id: mn_id,
        ..c.hello()
    };
    let r = FakePeer::handshake_as(ips[0], n2.p2p, claim.clone(), &fresh_key()).await;
    let want = format!("bad identity proof: claims genesis masternode {mn_id} without its key");
    assert_eq!(r.err().as_deref(), Some(want.as_str()));
    assert_eq!(rejections(n2, ips[0]).await, vec![want]);
    // The genesis key itself (what the harness's protocol faults use).
    let mut ok = FakePeer::handshake_as(ips[1], n2.p2p, claim, &mn.key)
        .await
        .expect("the genesis key is accepted");
    assert!(ok.ping(STEP).await.is_some());
}
