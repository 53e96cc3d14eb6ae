//! Discovery: GetPeers gossip into the address book.
//!
//! Each new connection is asked once right away; then every connected peer
//! is asked every `DISCOVERY_INTERVAL`, or after one `DIAL_TICK` while the
//! last round still taught us new addresses (a fresh network converges in
//! a few ticks instead of a discovery interval).

use super::Shared;
use crate::constants::{DIAL_TICK, DISCOVERY_INTERVAL, REQUEST_TIMEOUT};
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
        Ok(Response::Peers { peers }) => peers
            .into_iter()
            .filter(|p| !p.ip.is_unspecified() && p.port != 0)
            .map(|p| SocketAddr::new(p.ip, p.port))
            .filter(|a| shared.book.add(*a))
            // A new address is dialled now, not at the next tick: a fresh
            // network meshes in one gossip round trip.
            .inspect(|a| {
                super::dialer::dial_if_free(shared, *a);
            })
            .count(),
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
    loop {
        tokio::select! {
            biased;
            _ = shared.shutdown.cancelled() => return,
            _ = shared.clock.sleep(wait) => {}
        }
        let peers: Vec<IpAddr> = shared.registry.connected().iter().map(|p| p.0).collect();
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
