//! The chain with real `timed` processes over TCP on 127.x loopback:
//! agreement, fault tolerance (1 of 4 and 2 of 4 down), catch-up of a fresh
//! node from one peer, a block fetched on a peer's `NewTip` notice, a tip
//! not asked of a peer that just told it, SIGKILL survival and transaction
//! propagation.
//!
//! Block interval 2 s at --time-scale 10: a block every ~200 ms of wall time.
//! Every wait is a generous poll-until-condition (a loaded 2-core machine).

mod support;

use std::time::Duration;
use support::chain::chain_spec;
use support::Cluster;
use timed::api::types::EventKind;
use timed::chain::tx::build_transfer;
use timed::chain::types::{OutPoint, TxOut};
use timed::keys;
use timed::wire::{NetworkMessage, Request, Response};

const INTERVAL: Duration = Duration::from_secs(2);
const SCALE: f64 = 10.0;
const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_masternodes_agree_and_continue_with_one_stopped() {
    let mut c = Cluster::stopped(chain_spec(4, 4, INTERVAL), SCALE);
    c.start_all();
    c.wait_height(&[0, 1, 2, 3], 5, WAIT).await;
    let (h, _) = c.wait_same_tip(&[0, 1, 2, 3], WAIT).await;
    c.assert_same_chain(&[0, 1, 2, 3], h).await;

    // 3 of 4 is more than 2/3 of the weight: blocks continue.
    c.nodes[3].sigterm();
    let before = c.nodes[0].height().await.unwrap();
    c.wait_height(&[0, 1, 2], before + 5, WAIT).await;
    let (h, _) = c.wait_same_tip(&[0, 1, 2], WAIT).await;
    c.assert_same_chain(&[0, 1, 2], h).await;
    // Finalized blocks carry their commits.
    let (b, _) = c.nodes[1].block(h).await.unwrap();
    assert!(b.commit.is_some_and(|cm| cm.signatures.len() >= 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_of_four_stopped_finalize_nothing_and_resume_after_restart() {
    let mut c = Cluster::stopped(chain_spec(4, 4, INTERVAL), SCALE);
    c.start_all();
    c.wait_height(&[0, 1, 2, 3], 3, WAIT).await;
    c.nodes[2].sigterm();
    c.nodes[3].sigterm();
    // Let anything already in flight land, then watch: nothing may finalize.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stalled = c.heights(&[0, 1]).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        c.heights(&[0, 1]).await,
        stalled,
        "a 2/4 minority finalized a block"
    );
    let (h, _) = c.wait_same_tip(&[0, 1], WAIT).await;
    c.assert_same_chain(&[0, 1], h).await;

    c.nodes[2].start();
    c.nodes[3].start();
    c.wait_height(&[0, 1, 2, 3], h + 3, WAIT).await;
    let (h2, _) = c.wait_same_tip(&[0, 1, 2, 3], WAIT).await;
    c.assert_same_chain(&[0, 1, 2, 3], h2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_node_catches_up_from_a_single_peer() {
    let mut c = Cluster::stopped(chain_spec(5, 4, INTERVAL), SCALE);
    for k in 0..4 {
        c.nodes[k].start();
    }
    c.wait_height(&[0, 1, 2, 3], 15, WAIT).await;
    // The follower knows exactly one peer and has an empty data dir.
    let peer = c.nodes[0].p2p.to_string();
    c.nodes[4].set_args(&["--bootstrap", &peer]);
    assert!(!c.testnet.nodes[4].config.data_dir.exists());
    c.nodes[4].start();
    let target = c.nodes[0].height().await.unwrap();
    c.wait_height(&[4], target, WAIT).await;
    let (h, _) = c.wait_same_tip(&[0, 4], WAIT).await;
    c.assert_same_chain(&[0, 4], h).await;
    let started = c.nodes[4].events_of(EventKind::SyncStarted).await;
    assert!(!started.is_empty(), "the follower logged a sync");
    assert!(!c.nodes[4].status().await.unwrap().masternode);
}

/// Heights a node logged as finalized from `source` (consensus or announcement).
async fn finalized_from(node: &support::NodeProc, source: &str) -> Vec<u64> {
    node.events_of(EventKind::BlockFinalized)
        .await
        .into_iter()
        .filter_map(|e| e.reason)
        .filter(|r| r.ends_with(&format!("source={source}")))
        .filter_map(|r| {
            r.split_whitespace()
                .find_map(|w| w.strip_prefix("height="))
                .and_then(|h| h.parse().ok())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notice_of_the_next_block_makes_a_node_fetch_it_and_take_it_as_announced() {
    // Two validators make blocks 1..3 and stop; a third node, never
    // connected to them, hears "height 1" from a peer that holds it.
    let mut c = Cluster::stopped(chain_spec(3, 2, INTERVAL), SCALE);
    c.nodes[0].start();
    c.nodes[1].start();
    c.wait_height(&[0, 1], 3, WAIT).await;
    let (block, hash) = c.nodes[0].block(1).await.unwrap();
    c.nodes[0].sigterm();
    c.nodes[1].sigterm();
    c.nodes[2].start();
    c.nodes[2].wait_ready().await;
    assert_eq!(c.nodes[2].height().await, Some(0));

    let ip = support::unique_ips(1)[0];
    let mut p = support::FakePeer::handshake(ip, c.nodes[2].p2p, c.hello())
        .await
        .unwrap();
    p.send(&NetworkMessage::NewTip { height: 1, hash })
        .await
        .unwrap();
    let id = loop {
        match p.recv(Duration::from_secs(10)).await {
            Some(NetworkMessage::Request {
                id,
                body: Request::GetBlocks { from: 1, count: 1 },
            }) => break id,
            Some(_) => continue,
            None => panic!("the node never asked for the announced block"),
        }
    };
    let answer = NetworkMessage::Response {
        id,
        body: Response::Blocks {
            blocks: vec![block],
        },
    };
    p.send(&answer).await.unwrap();
    c.wait_height(&[2], 1, WAIT).await;
    assert_eq!(finalized_from(&c.nodes[2], "announcement").await, vec![1]);
}

/// When `p` was asked for its tip (since `t0`), reading until `until`:
/// pings are answered, tip questions answered "height 0".
async fn tip_questions(
    p: &mut support::FakePeer,
    t0: std::time::Instant,
    until: std::time::Instant,
) -> Vec<Duration> {
    let mut asked = Vec::new();
    while let Some(left) = until.checked_duration_since(std::time::Instant::now()) {
        let answer = match p.recv(left).await {
            Some(NetworkMessage::Ping { nonce }) => NetworkMessage::Pong { nonce },
            Some(NetworkMessage::Request {
                id,
                body: Request::GetTip,
            }) => {
                asked.push(t0.elapsed());
                let hash = timed::chain::types::Hash([0; 32]);
                NetworkMessage::Response {
                    id,
                    body: Response::Tip { height: 0, hash },
                }
            }
            Some(_) => continue,
            None => break,
        };
        p.send(&answer).await.unwrap();
    }
    asked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_told_its_tip_lately_is_not_asked_for_it_until_its_word_is_old() {
    // A node alone at height 0 (its validators never start) and two fake
    // peers at height 0: one says so with a notice, the other waits to be
    // asked. SYNC_TIP_FRESH (60 protocol s) is 6 s here, a sync tick 0.5 s.
    let mut c = Cluster::stopped(chain_spec(3, 2, INTERVAL), SCALE);
    c.nodes[2].start();
    c.nodes[2].wait_ready().await;
    let ips = support::unique_ips(2);
    let node = c.nodes[2].p2p;
    let mut told = support::FakePeer::handshake(ips[0], node, c.hello())
        .await
        .unwrap();
    let mut asked = support::FakePeer::handshake(ips[1], node, c.hello())
        .await
        .unwrap();
    let hash = timed::chain::types::Hash([0; 32]);
    told.send(&NetworkMessage::NewTip { height: 0, hash })
        .await
        .unwrap();
    let t0 = std::time::Instant::now();
    let until = t0 + Duration::from_secs(12);
    let (told_asked, other_asked) = tokio::join!(
        tip_questions(&mut told, t0, until),
        tip_questions(&mut asked, t0, until)
    );
    let early = |v: &[Duration]| v.iter().filter(|d| **d < Duration::from_secs(4)).count();
    assert!(
        early(&other_asked) >= 1,
        "the other peer is asked on the ticks: {other_asked:?}"
    );
    assert_eq!(
        early(&told_asked),
        0,
        "a peer that just told its tip is not asked for it: {told_asked:?}"
    );
    assert!(
        !told_asked.is_empty(),
        "once its word is old, the peer is asked again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_run_restarts_with_the_chain_intact() {
    let mut c = Cluster::stopped(chain_spec(4, 4, INTERVAL), SCALE);
    c.start_all();
    c.wait_height(&[0, 1, 2, 3], 4, WAIT).await;
    let before = c.nodes[1].height().await.unwrap();
    c.nodes[1].kill9();
    // Killed while the others keep finalizing: restart on the same data dir.
    c.nodes[1].start();
    c.wait_height(&[1], before, Duration::from_secs(20)).await;
    c.assert_same_chain(&[0, 1], before).await;
    let target = c.nodes[0].height().await.unwrap() + 3;
    c.wait_height(&[0, 1, 2, 3], target, WAIT).await;
    let (h, _) = c.wait_same_tip(&[0, 1, 2, 3], WAIT).await;
    c.assert_same_chain(&[0, 1, 2, 3], h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_submitted_to_one_node_ends_up_in_every_chain() {
    let mut c = Cluster::stopped(chain_spec(4, 4, INTERVAL), SCALE);
    c.start_all();
    c.wait_height(&[0, 1, 2, 3], 2, WAIT).await;

    let wallet = c.testnet.nodes[0].wallet.clone();
    let to = keys::pubkey(&c.testnet.nodes[3].wallet);
    let utxos: Vec<(OutPoint, TxOut)> = {
        let v = c.nodes[0]
            .get_json(&format!("/utxos/{}", keys::pubkey(&wallet)))
            .await;
        v.as_array()
            .unwrap()
            .iter()
            .map(|u| {
                (
                    serde_json::from_value(u["outpoint"].clone()).unwrap(),
                    serde_json::from_value(u["output"].clone()).unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(utxos.len(), 1, "the genesis allocation");
    let tx = build_transfer(&wallet, &utxos, to, 1234).unwrap();
    let body = serde_json::to_string(&tx).unwrap();
    let (code, v) = c.nodes[0].post_json("/tx", body.clone()).await;
    assert_eq!(code, 200, "{v}");
    let txid = v["txid"].as_str().unwrap().to_string();

    // Rejections come back as 4xx with a reason.
    let (code, v) = c.nodes[0].post_json("/tx", body).await;
    assert!((400..500).contains(&code), "{code} {v}");
    assert!(v["error"].as_str().unwrap().len() > 5);
    let (code, v) = c.nodes[0].post_json("/tx", "{not json".into()).await;
    assert_eq!(code, 400, "{v}");
    let double = build_transfer(&wallet, &utxos, to, 7).unwrap();
    let (code, v) = c.nodes[0]
        .post_json("/tx", serde_json::to_string(&double).unwrap())
        .await;
    assert!((400..500).contains(&code), "{code} {v}");
    assert!(v["error"].as_str().unwrap().contains("double spend"), "{v}");

    // Wait until every node has the tx in a block.
    let deadline = std::time::Instant::now() + WAIT;
    let mut found_at = vec![None; 4];
    while found_at.iter().any(|f| f.is_none()) {
        assert!(
            std::time::Instant::now() < deadline,
            "tx not everywhere: {found_at:?}"
        );
        for (k, slot) in found_at.iter_mut().enumerate() {
            if slot.is_some() {
                continue;
            }
            let h = c.nodes[k].height().await.unwrap_or(0);
            for height in 1..=h {
                if let Some((b, _)) = c.nodes[k].block(height).await {
                    if b.txs
                        .iter()
                        .any(|t| timed::chain::tx::txid(t).to_hex() == txid)
                    {
                        *slot = Some(height);
                        break;
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(found_at.iter().all(|h| *h == found_at[0]), "{found_at:?}");
    // The recipient's output is spendable everywhere.
    let v = c.nodes[2].get_json(&format!("/utxos/{to}")).await;
    assert!(v
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u["output"]["amount"] == 1234));
}

/// Every masternode SIGKILLed at the same instant, three times, at whatever
/// point of a round each one was: the chain resumes each time, no fork.
/// (Before votes were persisted with the signed step, a restart in which
/// nobody could re-send its votes stalled the height for good.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_masternodes_killed_at_once_resume_the_chain() {
    let mut c = Cluster::stopped(chain_spec(4, 4, INTERVAL), SCALE);
    c.start_all();
    c.wait_height(&[0, 1, 2, 3], 3, WAIT).await;
    for round in 0..3 {
        // Different offsets into the block interval each time.
        tokio::time::sleep(Duration::from_millis(37 + 71 * round)).await;
        let top = c.heights(&[0, 1, 2, 3]).await.into_iter().flatten().max();
        for n in &mut c.nodes {
            n.kill9();
        }
        c.start_all();
        let top = top.unwrap();
        c.wait_height(&[0, 1, 2, 3], top + 3, WAIT).await;
    }
    let (h, _) = c.wait_same_tip(&[0, 1, 2, 3], WAIT).await;
    c.assert_same_chain(&[0, 1, 2, 3], h).await;
}
