//! The JSON bodies the net layer produces for the API (DESIGN.md contract):
//! `GET /peers` rows and `GET /events` elements. Owned here, where they are
//! recorded; `api::types` re-exports them. No dependencies inside `net`.

use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// Who opened a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// The peer dialled us.
    Inbound,
    /// We dialled the peer.
    Outbound,
}

/// One element of `GET /peers`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PeerView {
    pub ip: IpAddr,
    pub listen_port: u16,
    pub direction: Direction,
    pub connection_id: u64,
    pub connected_at_ms: u64,
    pub last_seen_ms: u64,
    pub rtt_ms: Option<f64>,
    pub pings_sent: u64,
    pub pongs_received: u64,
    /// How many connections to this IP were closed by a ping timeout since
    /// start (like `connects`, history of the IP, not of this connection:
    /// the connection a timeout closes is gone before anyone could see it).
    pub ping_timeouts: u64,
    /// How many times a connection to this IP was established since start.
    pub connects: u64,
}

/// Event kinds reported by `GET /events`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Connected,
    Disconnected,
    DialFailed,
    RejectedDuplicate,
    /// Handshake refused (wrong magic, version, network, genesis, self).
    HandshakeRejected,
    /// A peer IP was banned for misbehaviour.
    Banned,
    BlockFinalized,
    SyncStarted,
    SyncFinished,
    #[serde(other)]
    Other,
}

/// One element of `GET /events?after=SEQ`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventView {
    pub seq: u64,
    /// Unix time in ms (wall clock, unskewed).
    pub at_ms: u64,
    pub kind: EventKind,
    pub peer_ip: Option<IpAddr>,
    pub direction: Option<Direction>,
    pub reason: Option<String>,
}
