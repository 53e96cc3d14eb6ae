//! Who a connection is with: one [`PeerInfo`] per connection, fixed at the
//! handshake and shared by the connection actor and the registry, so the
//! two can never disagree on who the peer is.

use super::auth::Verified;
use super::closer::Closer;
use super::request_budget::RequestBudget;
use super::views::Direction;
use super::writer::WriterHandle;
use crate::chain::types::NodeId;
use crate::clock::Instant;
use std::net::IpAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

/// One connection's identity and the handles to reach it.
#[derive(Clone)]
pub struct PeerInfo {
    pub ip: IpAddr,
    /// Unique per process; tells a connection from a later one to the same IP.
    pub conn_id: u64,
    pub direction: Direction,
    pub node_id: NodeId,
    /// The port the peer listens on (from its Hello; 0 = does not listen).
    pub listen_port: u16,
    /// Height the peer advertised in its handshake.
    pub handshake_height: u64,
    /// When the handshake completed (protocol clock).
    pub since: Instant,
    /// The connection's only socket writer.
    pub writer: WriterHandle,
    pub closer: Closer,
    pub stats: Arc<PeerStats>,
    /// What this peer may still make us serve.
    pub budget: Arc<RequestBudget>,
}

impl PeerInfo {
    /// The identity of a connection whose handshake just verified, in
    /// either direction: who it is with comes from the proven Hello only.
    pub fn new(
        peer: &Verified,
        ip: IpAddr,
        conn_id: u64,
        direction: Direction,
        since: Instant,
        writer: WriterHandle,
        closer: Closer,
    ) -> PeerInfo {
        let hello = peer.hello();
        PeerInfo {
            ip,
            conn_id,
            direction,
            node_id: hello.node_id,
            listen_port: hello.listen_port,
            handshake_height: hello.height,
            since,
            writer,
            closer,
            stats: Default::default(),
            budget: Arc::new(RequestBudget::new(since)),
        }
    }
}

/// Live counters of one connection, updated by its actor without the lock.
#[derive(Default)]
pub struct PeerStats {
    pub pings_sent: AtomicU64,
    pub pongs_received: AtomicU64,
    /// Last RTT in microseconds; 0 = none yet.
    pub rtt_us: AtomicU64,
    pub last_seen_ms: AtomicU64,
    pub connected_at_ms: AtomicU64,
    /// The peer's tip as it last told us on this connection.
    pub heard_tip: Mutex<Option<HeardTip>>,
}

/// A peer's tip as it told us (a `NewTip` notice or a `Tip` answer) and
/// when (protocol clock).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeardTip {
    pub height: u64,
    pub at: Instant,
}
