//! JSON bodies of the HTTP API (DESIGN.md contract). The harness depends on
//! these types, so node and harness cannot drift apart.

use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// Owned by the net layer (it records them); re-exported as API bodies.
pub use crate::net::{Direction, EventKind, EventView, PeerView};

/// `GET /status`
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusView {
    pub node_id: String,
    pub ip: IpAddr,
    pub height: u64,
    pub tip_hash: String,
    pub genesis_hash: String,
    /// Number of live connections.
    pub peers: usize,
    pub masternode: bool,
    pub syncing: bool,
    pub uptime_ms: u64,
}

/// Body of `POST /tx` answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxAccepted {
    pub txid: String,
}

/// Every 4xx/5xx body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub error: String,
}
