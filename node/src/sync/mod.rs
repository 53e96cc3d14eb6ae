//! Catch-up from peers: tip queries and batched block-range requests.
//!
//! On a kick (a peer connected with a higher height, votes arrived from a
//! future height, a `NewTip` beyond our next block) the node asks every
//! connected peer for its tip; on every
//! [`SYNC_TICK`], a window that moves round ([`Rotation`]) of those that
//! have not told us lately that they are not ahead ([`SYNC_TIP_FRESH`]:
//! a `NewTip` or an answer says so). If one is
//! ahead, it fetches `GetBlocks` ranges from that peer with at most
//! [`SYNC_MAX_IN_FLIGHT`] requests outstanding, verifies
//! each block's commit (> 2/3 of the voting weight) plus link and
//! transactions, and applies each response in one store transaction.
//! One peer is enough: nothing waits for a minimum peer count (the seeds'
//! nodes sat at height 0 behind such a gate).

use crate::chain::sign::verify_commit;
use crate::chain::state::verify_commits_parallel;
use crate::chain::types::Block;
use crate::constants::{
    REQUEST_TIMEOUT, SYNC_BATCH, SYNC_MAX_IN_FLIGHT, SYNC_TICK, SYNC_TIP_FRESH,
    SYNC_TIP_QUERIES_PER_TICK,
};
use crate::live::Shared;
use crate::net::{ConnectedPeer, EventKind};
use crate::wire::{NetworkMessage, Request, Response};
use futures::stream::{FuturesOrdered, FuturesUnordered, StreamExt};
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::mpsc;

use crate::rotation::Rotation;

/// Penalty for serving an invalid block or a malformed answer.
const BAD_DATA_PENALTY: u32 = 50;

pub async fn run(shared: Arc<Shared>, advanced: mpsc::UnboundedSender<()>) {
    let mut tick = shared.clock.interval(SYNC_TICK);
    let mut rotation = Rotation::default();
    loop {
        let kicked = tokio::select! {
            biased;
            _ = tick.tick() => false,
            _ = shared.sync_kick.notified() => true,
        };
        let mut peers = shared.net.connected();
        if !kicked {
            peers.retain(|p| !told_lately(&shared, p));
            peers = rotation.window(&peers, SYNC_TIP_QUERIES_PER_TICK);
        }
        while let Some((peer, target)) = best_peer(&shared, peers).await {
            if !catch_up(&shared, peer, target, &advanced).await {
                break;
            }
            // Caught up with that peer: is anyone further ahead?
            peers = shared.net.connected();
        }
        if shared.syncing.swap(false, Ordering::AcqRel) {
            tracing::info!(height = shared.height(), "sync finished");
            shared.net.events().record(
                EventKind::SyncFinished,
                None,
                None,
                Some(format!("height={}", shared.height())),
            );
        }
    }
}

/// Whether `peer` told us within [`SYNC_TIP_FRESH`] that its tip is not
/// above ours (the tick need not ask it).
fn told_lately(shared: &Shared, peer: &ConnectedPeer) -> bool {
    let fresh = shared.clock.protocol(SYNC_TIP_FRESH);
    shared
        .net
        .told_tip(peer.ip)
        .is_some_and(|t| t.height <= shared.height() && shared.clock.now() < t.at + fresh)
}

/// Of `peers`, the one with the highest tip above ours, if any.
async fn best_peer(shared: &Shared, peers: Vec<ConnectedPeer>) -> Option<(IpAddr, u64)> {
    let ours = shared.height();
    let mut asks: FuturesUnordered<_> = peers
        .into_iter()
        .map(|p| {
            let net = shared.net.clone();
            async move {
                (
                    p.ip,
                    net.request(p.ip, Request::GetTip, REQUEST_TIMEOUT).await,
                )
            }
        })
        .collect();
    let mut best: Option<(IpAddr, u64)> = None;
    while let Some((ip, r)) = asks.next().await {
        match r {
            Ok(Response::Tip { height, .. }) => {
                shared.net.heard_tip(ip, height);
                if height > ours && best.is_none_or(|(_, h)| height > h) {
                    best = Some((ip, height));
                }
            }
            Ok(other) => tracing::debug!(peer = %ip, "unexpected tip answer: {other:?}"),
            Err(e) => tracing::debug!(peer = %ip, error = %e, "tip query failed"),
        }
    }
    best
}

/// Fetch and apply blocks from `peer` up to `target`. Returns true if we
/// made progress (the caller then re-checks the tips).
async fn catch_up(
    shared: &Arc<Shared>,
    peer: IpAddr,
    target: u64,
    advanced: &mpsc::UnboundedSender<()>,
) -> bool {
    let start_height = shared.height();
    let one_peer = shared.net.connected().len() == 1;
    // One block behind is normal between a commit and its announcement:
    // fetch it quietly instead of flagging the node as syncing.
    let quiet = target <= start_height + 1;
    if !quiet && !shared.syncing.swap(true, Ordering::AcqRel) {
        tracing::info!(height = start_height, target, peer = %peer, "sync started");
        shared.net.events().record(
            EventKind::SyncStarted,
            Some(peer),
            None,
            Some(format!("height={start_height} target={target}")),
        );
    }
    let mut next = start_height + 1;
    let mut in_flight = FuturesOrdered::new();
    let mut progressed = false;
    let mut last_log = shared.clock.now();
    let (chain, validators) = {
        let st = shared.state.lock().unwrap();
        (st.chain, st.validators.clone())
    };
    loop {
        // Each in-flight range is fetched AND has its commits verified in
        // its own task, so verification of later ranges overlaps with
        // applying (and fsyncing) earlier ones.
        while in_flight.len() < SYNC_MAX_IN_FLIGHT && next <= target {
            let count = SYNC_BATCH.min(target - next + 1);
            let net = shared.net.clone();
            let from = next;
            let validators = validators.clone();
            let blocking = shared.blocking;
            in_flight.push_back(tokio::spawn(async move {
                let r = net
                    .request(peer, Request::GetBlocks { from, count }, REQUEST_TIMEOUT)
                    .await;
                let fetched = match r {
                    Ok(Response::Blocks { blocks }) => Ok(blocking
                        .run(move || {
                            let checked = verify_commits_parallel(&chain, &validators, &blocks);
                            (blocks, checked.err().map(|(_, e)| e))
                        })
                        .await),
                    Ok(other) => Err(format!("bad GetBlocks answer: {other:?}")),
                    Err(e) => Err(format!("GetBlocks failed: {e}")),
                };
                (from, count, fetched)
            }));
            next += count;
        }
        let Some(joined) = in_flight.next().await else {
            break;
        };
        let (from, count, fetched) = joined.expect("sync fetch task");
        let (mut blocks, bad_commit) = match fetched {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(peer = %peer, reason = %e, "block range not fetched");
                break;
            }
        };
        if blocks.is_empty() || blocks.len() as u64 > count || blocks[0].header.height != from {
            tracing::warn!(peer = %peer, from, got = blocks.len(), "peer sent a wrong block range");
            shared
                .net
                .penalize(peer, BAD_DATA_PENALTY, "wrong block range");
            break;
        }
        // A short answer (byte budget) leaves a gap before the next range:
        // stop here and start over from the new tip.
        let short = (blocks.len() as u64) < count;
        if bad_commit.is_some() {
            // Keep the blocks before the bad one; they are certified.
            let bad = blocks
                .iter()
                .position(|b| verify_commit(&chain, &validators, b).is_err())
                .unwrap_or(blocks.len());
            blocks.truncate(bad);
        }
        let sh = shared.clone();
        let (n, mut err) = shared
            .blocking
            .run(move || {
                let mut st = sh.state.lock().unwrap();
                let r = st.apply_batch(blocks, false);
                if r.0 > 0 {
                    sh.publish_tip(&st);
                }
                r
            })
            .await;
        if n > 0 {
            progressed = true;
            shared
                .metrics
                .blocks_synced
                .fetch_add(n as u64, Ordering::Relaxed);
            let _ = advanced.send(());
        }
        if err.is_none() {
            err = bad_commit;
        }
        if let Some(e) = err {
            tracing::warn!(peer = %peer, reason = %e, "invalid blocks from peer");
            shared.net.penalize(peer, BAD_DATA_PENALTY, &e);
            break;
        }
        let now = shared.clock.now();
        if !quiet && (now.duration_since(last_log).as_secs() >= 1 || shared.height() >= target) {
            last_log = now;
            tracing::info!(height = shared.height(), target, peer = %peer, "sync progress");
        }
        if short {
            break;
        }
    }
    if progressed && !quiet && one_peer {
        shared
            .metrics
            .catchups_one_peer
            .fetch_add(1, Ordering::Relaxed);
    }
    progressed
}

/// A peer finalized the block at `height` (`NewTip`). Our next block:
/// fetch it from that peer and take it as announced ([`on_announcement`]),
/// one fetch at a time however many peers announce it. Further ahead: a
/// catch-up. A fetch that fails leaves the height to the next notice or
/// the next sync tick; a peer that cannot serve the block it announced is
/// penalized like one serving a wrong range.
pub fn on_new_tip(
    shared: &Arc<Shared>,
    from: IpAddr,
    height: u64,
    advanced: &mpsc::UnboundedSender<()>,
) {
    shared.net.heard_tip(from, height);
    let ours = shared.height();
    if height <= ours {
        return;
    }
    if height > ours + 1 {
        shared.sync_kick.notify_one();
        return;
    }
    if shared
        .notice_fetch
        .compare_exchange(0, height, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return;
    }
    let (shared, advanced) = (shared.clone(), advanced.clone());
    tokio::spawn(async move {
        let ask = Request::GetBlocks {
            from: height,
            count: 1,
        };
        match shared.net.request(from, ask, REQUEST_TIMEOUT).await {
            Ok(Response::Blocks { mut blocks })
                if blocks.len() == 1 && blocks[0].header.height == height =>
            {
                if on_announcement(&shared, from, blocks.remove(0)) {
                    let _ = advanced.send(());
                }
            }
            Ok(Response::Error { reason }) => {
                tracing::debug!(peer = %from, height, reason = %reason, "announced block not served")
            }
            Ok(_) => {
                tracing::warn!(peer = %from, height, "announced block not served");
                shared
                    .net
                    .penalize(from, BAD_DATA_PENALTY, "announced block not served");
            }
            Err(e) => {
                tracing::debug!(peer = %from, height, error = %e, "announced block not fetched")
            }
        }
        shared.notice_fetch.store(0, Ordering::Release);
    });
}

/// A peer announced a final block (an older peer's `BlockAnnouncement`, or
/// the answer to a `NewTip` fetch). Apply it if it is our next one and its
/// commit checks out; tell every other peer with a `NewTip`. Returns true
/// if the chain advanced.
pub fn on_announcement(shared: &Arc<Shared>, from: IpAddr, block: Block) -> bool {
    let h = block.header.height;
    let ours = shared.height();
    if h <= ours {
        return false;
    }
    if h > ours + 1 {
        shared.sync_kick.notify_one();
        return false;
    }
    let (n, err) = {
        let mut st = shared.state.lock().unwrap();
        let r = st.apply_batch(vec![block.clone()], true);
        if r.0 > 0 {
            shared.publish_tip(&st);
        }
        r
    };
    if let Some(e) = err {
        tracing::warn!(peer = %from, height = h, reason = %e, "invalid block announcement");
        shared.net.penalize(from, BAD_DATA_PENALTY, &e);
        return false;
    }
    if n == 0 {
        return false;
    }
    tracing::info!(height = h, peer = %from, "block finalized (announced)");
    shared.on_finalized(h, &block, "announcement");
    let notice = NetworkMessage::NewTip {
        height: h,
        hash: crate::chain::block::hash(&block),
    };
    shared.net.broadcast_except(&notice, from);
    true
}
