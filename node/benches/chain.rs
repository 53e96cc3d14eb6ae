//! Chain benchmark (plain `main`, prints a table):
//!
//! 1. catch-up speed: a fresh node syncs N blocks of 10 transactions each
//!    from a single peer on loopback (target >= 2,000 blocks/s);
//! 2. finality latency: 6 masternodes at --time-scale 1 on loopback, from
//!    the proposal (block time, stamped when the proposer builds it) to the
//!    commit on ALL nodes (target < 100 ms).
//!
//! Run: `cargo bench -p timed --bench chain` (env CATCHUP_BLOCKS, FINALITY_BLOCKS).

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};
use support::chain::chain_spec;
use support::Cluster;
use timed::api::types::EventKind;
use timed::chain::block;
use timed::chain::genesis::Genesis;
use timed::chain::state::ChainState;
use timed::chain::tx::{build_transfer, txid};
use timed::chain::types::{Block, BlockHeader, OutPoint, TxOut};
use timed::consensus::sign::{make_commit, sign_vote};
use timed::consensus::types::VoteKind;
use timed::keys;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Write `n` final blocks of 10 transactions each into node `k`'s data dir,
/// signed by the genesis masternodes (commit of 4/4).
fn generate_chain(c: &Cluster, k: usize, n: u64) {
    let genesis = Genesis::load(&c.testnet.nodes[k].config.genesis).unwrap();
    let mut st = ChainState::open(&c.testnet.nodes[k].config.data_dir, &genesis).unwrap();
    let chain = genesis.hash();
    let validators: Vec<_> = c
        .testnet
        .nodes
        .iter()
        .filter(|n| n.config.masternode)
        .map(|n| n.key.clone())
        .collect();
    let wallets: Vec<_> = c
        .testnet
        .nodes
        .iter()
        .take(10)
        .map(|n| n.wallet.clone())
        .collect();
    let mut coins: Vec<(OutPoint, TxOut)> = wallets
        .iter()
        .map(|w| st.utxo.owned_by(&keys::pubkey(w))[0].clone())
        .collect();
    let mut batch = vec![];
    for h in 1..=n {
        let mut txs = vec![];
        for (i, w) in wallets.iter().enumerate() {
            let tx = build_transfer(w, &coins[i..=i], keys::pubkey(w), 1).unwrap();
            let id = txid(&tx);
            coins[i] = (OutPoint { txid: id, index: 1 }, tx.outputs[1].clone());
            txs.push(tx);
        }
        let ids: Vec<_> = txs.iter().map(txid).collect();
        let prev = batch
            .last()
            .map(|b: &Block| block::hash(b))
            .unwrap_or(st.tip_hash);
        let mut b = Block {
            header: BlockHeader {
                height: h,
                prev_hash: prev,
                time_ms: 1_000 + h,
                proposer: keys::node_id(&validators[0]),
                tx_root: block::tx_root(&ids),
            },
            txs,
            commit: None,
        };
        let value = block::hash(&b);
        let votes: Vec<_> = validators
            .iter()
            .map(|v| sign_vote(v, &chain, VoteKind::Precommit, h, 0, Some(value)))
            .collect();
        b.commit = Some(make_commit(h, 0, value, &votes.iter().collect::<Vec<_>>()));
        batch.push(b);
        if batch.len() == 500 || h == n {
            let (applied, err) = st.apply_batch(std::mem::take(&mut batch), true);
            assert!(err.is_none(), "{err:?}");
            assert!(applied > 0);
        }
    }
    assert_eq!(st.height(), n);
}

async fn catch_up(n: u64) -> Vec<(String, String)> {
    // 10 nodes so there are 10 funded wallets; 4 masternodes sign commits.
    // Only node 5 (the serving peer) and node 6 (the fresh follower) run,
    // neither is a masternode.
    let mut c = Cluster::stopped(chain_spec(10, 4, Duration::from_secs(3600)), 1.0);
    let t = Instant::now();
    generate_chain(&c, 4, n);
    eprintln!("generated {n} blocks in {:.1?}", t.elapsed());
    let peer = c.nodes[4].p2p.to_string();
    c.nodes[4].set_args(&["--bootstrap", "127.0.0.1:1"]);
    c.nodes[5].set_args(&["--bootstrap", &peer]);
    c.nodes[4].start();
    c.wait_height(&[4], n, Duration::from_secs(30)).await;
    let t0 = Instant::now();
    c.nodes[5].start();
    let mut first_progress = None;
    loop {
        let h = c.nodes[5].height().await.unwrap_or(0);
        if h > 0 && first_progress.is_none() {
            first_progress = Some((Instant::now(), h));
        }
        if h >= n {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(300),
            "catch-up stalled at {h}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let total = t0.elapsed();
    let (tp, hp) = first_progress.unwrap();
    let steady = tp.elapsed();
    let started = c.nodes[5].events_of(EventKind::SyncStarted).await;
    let finished = c.nodes[5].events_of(EventKind::SyncFinished).await;
    let sync_ms = match (started.first(), finished.last()) {
        (Some(s), Some(f)) if f.at_ms > s.at_ms => Some(f.at_ms - s.at_ms),
        _ => None,
    };
    let rate = |blocks: u64, d: Duration| blocks as f64 / d.as_secs_f64();
    let mut rows = vec![
        ("catch-up blocks (10 txs each)".into(), n.to_string()),
        (
            "catch-up incl. process start".into(),
            format!("{:.0} blocks/s ({:.2?})", rate(n, total), total),
        ),
        (
            "catch-up after first block".into(),
            format!("{:.0} blocks/s", rate(n - hp, steady)),
        ),
    ];
    if let Some(ms) = sync_ms {
        rows.push((
            "catch-up sync_started->sync_finished".into(),
            format!(
                "{:.0} blocks/s ({ms} ms)  target >= 2000",
                n as f64 / (ms as f64 / 1000.0)
            ),
        ));
    }
    rows
}

async fn finality(blocks: u64) -> Vec<(String, String)> {
    let mut c = Cluster::stopped(chain_spec(6, 6, Duration::from_secs(1)), 1.0);
    c.start_all();
    let skip = 3;
    c.wait_height(&[0, 1, 2, 3, 4, 5], skip + blocks, Duration::from_secs(120))
        .await;
    // For each height: when every node recorded it final (event at_ms),
    // minus the block's own time (stamped by the proposer when proposing).
    let mut at: std::collections::HashMap<u64, u64> = Default::default();
    for k in 0..6 {
        for e in c.nodes[k].events_of(EventKind::BlockFinalized).await {
            let r = e.reason.unwrap_or_default();
            let h: u64 = r
                .split_whitespace()
                .find_map(|p| p.strip_prefix("height="))
                .and_then(|v| v.parse().ok())
                .unwrap();
            let slot = at.entry(h).or_insert(0);
            *slot = (*slot).max(e.at_ms);
        }
    }
    let mut lat = vec![];
    for h in skip + 1..=skip + blocks {
        let (b, _) = c.nodes[0].block(h).await.unwrap();
        lat.push(at[&h].saturating_sub(b.header.time_ms));
    }
    lat.sort();
    let pct = |p: f64| lat[((lat.len() - 1) as f64 * p).round() as usize];
    vec![
        ("finality: masternodes / time-scale".into(), "6 / 1".into()),
        ("finality: heights measured".into(), lat.len().to_string()),
        (
            "finality proposal->commit on all".into(),
            format!(
                "median {} ms, p95 {} ms, max {} ms  target < 100",
                pct(0.5),
                pct(0.95),
                lat[lat.len() - 1]
            ),
        ),
    ]
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut rows = vec![];
    rt.block_on(async {
        rows.extend(catch_up(env_u64("CATCHUP_BLOCKS", 5000)).await);
        rows.extend(finality(env_u64("FINALITY_BLOCKS", 20)).await);
    });
    let w = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    println!("\n| {:w$} | result |", "chain benchmark");
    println!("|{}|--------|", "-".repeat(w + 2));
    for (k, v) in rows {
        println!("| {k:w$} | {v} |");
    }
}
