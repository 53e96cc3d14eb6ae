//! Discovery: GetPeers gossip into the address book.
//!
//! Each new connection is asked once right away; then a round every
//! `DISCOVERY_INTERVAL`, or after one `DIAL_TICK` while the last round
//! still taught us new addresses (a fresh network converges in a few ticks
//! instead of a discovery interval), asks a window of
//! `DISCOVERY_QUERIES_PER_ROUND` connected peers that moves round them.

use super::address_book::{DueAddr, Source};
use super::Shared;
use crate::constants::{
    DIAL_TICK, DISCOVERY_INTERVAL, DISCOVERY_QUERIES_PER_ROUND, MAX_PEERS_PER_ANSWER,
    PEERS_OVERSIZE_PENALTY, REQUEST_TIMEOUT,
};
use crate::rotation::Rotation;
use crate::wire::{Request, Response};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tracing::debug;

/// Ask `ip` for its peers in the background.
pub fn spawn_query(shared: Arc<Shared>, ip: IpAddr) {
    tokio::spawn(async move {
        query(&shared, ip).await;
    });
}

async fn query(shared: &Arc<Shared>, ip: IpAddr) -> usize {
    let handle = super::NetHandle {
        shared: shared.clone(),
    };
    match handle.request(ip, Request::GetPeers, REQUEST_TIMEOUT).await {
        Ok(Response::Peers { mut peers }) => {
            if peers.len() > MAX_PEERS_PER_ANSWER {
                shared.penalize(ip, PEERS_OVERSIZE_PENALTY, "oversize peers answer");
                peers.truncate(MAX_PEERS_PER_ANSWER);
            }
            let source = Source::Peer(ip);
            peers
                .into_iter()
                .filter(|p| !p.ip.is_unspecified() && p.port != 0)
                .map(|p| SocketAddr::new(p.ip, p.port))
                .filter(|a| shared.book.add(*a, source))
                // A new address is dialled now (budget permitting), not at
                // the next tick: a fresh network meshes in one round trip.
                .inspect(|addr| {
                    let due = DueAddr {
                        addr: *addr,
                        source,
                        is_new: true,
                    };
                    // A full queue only defers it to the dialer's next tick.
                    let _ = shared.dial_requests.try_send(due);
                })
                .count()
        }
        Ok(other) => {
            debug!(ip = %ip, response = ?other, "unexpected answer to GetPeers");
            0
        }
        Err(e) => {
            debug!(ip = %ip, error = %e, "GetPeers failed");
            0
        }
    }
}

pub async fn discovery_loop(shared: Arc<Shared>) {
    let mut wait = DIAL_TICK;
    let mut rotation = Rotation::default();
    loop {
        tokio::select! {
            biased;
            _ = shared.shutdown.cancelled() => return,
            _ = shared.clock.sleep(wait) => {}
        }
        let peers: Vec<IpAddr> = shared.registry.connected().iter().map(|p| p.ip).collect();
        let peers = rotation.window(&peers, DISCOVERY_QUERIES_PER_ROUND);
        let learned: usize =
            futures::future::join_all(peers.into_iter().map(|ip| query(&shared, ip)))
                .await
                .into_iter()
                .sum();
        wait = if learned > 0 {
            DIAL_TICK
        } else {
            DISCOVERY_INTERVAL
        };
    }
}
