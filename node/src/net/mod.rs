//! Sockets, the peer registry, connection actors, dialer, discovery, events.
//!
//! CONTRACT (used by the node, consensus, sync and the API): [`NetHandle`],
//! [`Inbound`], [`ConnectedPeer`], [`SendError`], [`RequestError`],
//! [`EventLog`] with [`EventKind`] / [`EventView`], [`Direction`],
//! [`PeerView`], [`CloseReason`] / [`RejectReason`], and
//! [`handshake::validate`] (for the fuzz tests), [`handshake::client`]
//! (the dialer's side over any stream, for tools and tests) and [`auth`]'s
//! `prove` (tests that replay or forge proofs by hand). Every other module is
//! private: internals are the net module's own business.
//!
//! Files, one concept each: [`socket`] (the only user of `tokio::net`),
//! [`handshake`], [`registry`] (the ONE owner of peer state), [`peer`] (who
//! a connection is with), [`connection`] (the per-connection actor),
//! [`auth`] (identity proofs), [`writer`] (the only socket writer),
//! [`closer`], [`reason`],
//! [`listener`] / [`dialer`] (the two ways a connection starts),
//! [`discovery`], [`address_book`], [`dial_budget`], [`backoff`], [`limits`],
//! [`metrics`], [`events`], [`views`] (the API bodies net produces),
//! [`fd_budget`] (descriptor slices, also read by the API), [`pending`]
//! (capped pre-handshake sockets), [`log_summary`] (per-IP log lines for
//! bulk events), [`request_budget`] (what one peer may make us serve).

mod address_book;
pub mod auth;
mod backoff;
mod closer;
mod connection;
mod dial_budget;
mod dialer;
mod discovery;
mod events;
pub(crate) mod fd_budget;
pub mod handshake;
mod limits;
mod listener;
mod log_summary;
mod metrics;
mod peer;
mod pending;
mod reason;
mod registry;
mod request_budget;
// `pub` only while socket.rs re-exports a type nothing uses yet; socket.rs
// belongs to the simulation work (issue 13), which reworks it.
pub mod socket;
mod views;
mod writer;

use crate::chain::types::{Hash, NodeId};
use crate::clock::Clock;
use crate::constants::{
    DIAL_REQUEST_QUEUE, INBOUND_QUEUE, MAGIC, MAX_PEERS_PER_ANSWER, PROTOCOL_VERSION,
    SHUTDOWN_POLL, SHUTDOWN_POLLS,
};
use crate::rng::NodeRng;
use crate::wire::{encode, Hello, NetworkMessage, PeerAddr, Request, Response};
use address_book::{AddressBook, Source};
/// The dialer's deterministic backoff floor: the harness's dial-storm check
/// (`harness/src/checks/dial_backoff.rs`) holds nodes to this schedule.
pub use backoff::base_delay;
use dial_budget::DialBudget;
use ed25519_dalek::SigningKey;
use limits::Limits;
use metrics::NetMetrics;
pub use reason::{CloseReason, RejectReason};
use registry::Registry;
pub use request_budget::Throttle;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::warn;
use writer::QueueError;

pub use events::EventLog;
pub use peer::HeardTip;
pub use views::{Direction, EventKind, EventView, PeerView};

/// What the network hands to the application layer, in arrival order.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // moved once through a channel; boxing buys nothing
pub enum Inbound {
    /// A connection passed the handshake and is registered.
    PeerConnected {
        ip: IpAddr,
        node_id: NodeId,
        height: u64,
    },
    /// A request the net layer does not answer itself (it answers GetPeers).
    /// Answer with [`NetHandle::respond`] using the same `id`.
    Request {
        from: IpAddr,
        id: u64,
        body: Request,
    },
    /// Block announcements, transactions, consensus, masternode announcements.
    Message { from: IpAddr, msg: NetworkMessage },
}

/// One established connection, as the layers above see it.
#[derive(Clone, Debug)]
pub struct ConnectedPeer {
    pub ip: IpAddr,
    pub node_id: NodeId,
    pub direction: Direction,
    /// Height the peer advertised in its handshake.
    pub handshake_height: u64,
    /// The port the peer listens on (0 = it does not).
    pub listen_port: u16,
}

impl From<&peer::PeerInfo> for ConnectedPeer {
    fn from(p: &peer::PeerInfo) -> Self {
        ConnectedPeer {
            ip: p.ip,
            node_id: p.node_id,
            direction: p.direction,
            handshake_height: p.handshake_height,
            listen_port: p.listen_port,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SendError {
    #[error("not connected to {0}")]
    NotConnected(IpAddr),
    #[error("writer queue of {0} is full")]
    QueueFull(IpAddr),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RequestError {
    #[error(transparent)]
    Send(#[from] SendError),
    #[error("request to {0} timed out")]
    Timeout(IpAddr),
    #[error("connection to {0} closed before the response")]
    Closed(IpAddr),
    #[error("too many pending requests to {0}")]
    TooManyPending(IpAddr),
}

/// Misbehaviour score of one malformed or oversize frame (two within a ban
/// period ban the IP).
pub const MALFORMED_PENALTY: u32 = 50;

/// What the net layer needs to know about its node.
#[derive(Clone, Debug)]
pub struct NetConfig {
    /// Our IP: the listener binds here and outbound sockets bind here.
    pub listen_ip: IpAddr,
    pub p2p_port: u16,
    pub network: String,
    pub genesis_hash: Hash,
    /// The node key: its public half is our node id, proven to every peer
    /// in the handshake.
    pub key: SigningKey,
    /// The genesis masternodes' ids: a failed proof for one of these is
    /// reported as an impostor (`RejectReason::MasternodeImpostor`).
    pub masternodes: BTreeSet<NodeId>,
    /// Seeds for the address book.
    pub bootstrap: Vec<SocketAddr>,
    /// Height advertised in handshakes until `set_height` says otherwise.
    pub height: u64,
}

/// State shared by every task of the net layer.
pub(crate) struct Shared {
    pub cfg: NetConfig,
    pub clock: Clock,
    /// Where sockets come from (see [`socket`]).
    pub transport: socket::SharedTransport,
    /// The node's randomness (ping nonces, backoff jitter).
    pub rng: NodeRng,
    /// Our node id: `cfg.key`'s public half.
    pub node_id: NodeId,
    pub height: AtomicU64,
    pub registry: Registry,
    pub book: AddressBook,
    /// Dials to never-connected gossip-learned addresses.
    pub dial_budget: DialBudget,
    pub limits: Limits,
    pub log_summary: log_summary::LogSummary,
    /// Inbound sockets still in their handshake (`FdBudget::pending_handshakes`).
    pub pending_handshakes: Arc<pending::PendingHandshakes>,
    pub events: events::EventLog,
    pub metrics: Arc<NetMetrics>,
    pub inbound: mpsc::Sender<Inbound>,
    /// New addresses to dial now (discovery -> dialer, so neither calls
    /// the other).
    pub dial_requests: mpsc::Sender<address_book::DueAddr>,
    pub shutdown: CancellationToken,
    next_request_id: AtomicU64,
}

impl Shared {
    /// Our Hello for one handshake, with a nonce drawn for it (from the
    /// node's seeded randomness: a simulation stays deterministic).
    pub fn hello(&self) -> Hello {
        Hello {
            magic: MAGIC,
            version: PROTOCOL_VERSION,
            network: self.cfg.network.clone(),
            genesis_hash: self.cfg.genesis_hash,
            node_id: self.node_id,
            nonce: self.rng.u64(),
            listen_port: self.cfg.p2p_port,
            height: self.height.load(Relaxed),
        }
    }

    /// Our answer to GetPeers: connected peers' listen addresses plus the
    /// tried addresses of the book (never an address only gossip told us),
    /// minus the asker itself; at most `MAX_PEERS_PER_ANSWER`.
    pub fn shareable_peers(&self, asker: IpAddr) -> Vec<PeerAddr> {
        let mut out: BTreeMap<IpAddr, u16> = BTreeMap::new();
        for p in self.registry.connected() {
            if p.ip != asker && p.listen_port != 0 {
                out.insert(p.ip, p.listen_port);
            }
        }
        for p in self.book.shareable(asker, MAX_PEERS_PER_ANSWER) {
            if out.len() >= MAX_PEERS_PER_ANSWER {
                break;
            }
            out.entry(p.ip).or_insert(p.port);
        }
        out.into_iter()
            .map(|(ip, port)| PeerAddr { ip, port })
            .collect()
    }

    pub fn penalize(&self, ip: IpAddr, score: u32, reason: &str) {
        if self.limits.penalize(ip, score, self.clock.now()) {
            NetMetrics::inc(&self.metrics.bans_total);
            self.events
                .record(EventKind::Banned, Some(ip), None, Some(reason.to_string()));
            warn!(ip = %ip, reason = %reason, "peer banned for misbehaviour");
            self.registry
                .close(ip, CloseReason::Banned(reason.to_string()));
        }
    }
}

/// Bind the listener and start the accept, dial and discovery loops.
/// Returns the handle and the application's inbound queue.
pub async fn start(
    cfg: NetConfig,
    clock: Clock,
) -> std::io::Result<(NetHandle, mpsc::Receiver<Inbound>)> {
    start_with(
        cfg,
        clock,
        socket::TokioTransport::shared(),
        NodeRng::from_entropy(),
    )
    .await
}

/// [`start`] over any transport, drawing randomness from `rng`.
pub async fn start_with(
    cfg: NetConfig,
    clock: Clock,
    transport: socket::SharedTransport,
    rng: NodeRng,
) -> std::io::Result<(NetHandle, mpsc::Receiver<Inbound>)> {
    let budget = fd_budget::budget();
    let listener = transport
        .listen(SocketAddr::new(cfg.listen_ip, cfg.p2p_port))
        .await?;
    let (tx, rx) = mpsc::channel(INBOUND_QUEUE);
    let (dial_tx, dial_rx) = mpsc::channel(DIAL_REQUEST_QUEUE);
    let book = AddressBook::with_rng(clock.clone(), rng.clone());
    for addr in &cfg.bootstrap {
        book.add(*addr, Source::Config);
    }
    let shared = Arc::new(Shared {
        height: AtomicU64::new(cfg.height),
        node_id: crate::chain::keys::node_id(&cfg.key),
        rng,
        transport,
        registry: Registry::default(),
        book,
        dial_budget: DialBudget::new(clock.clone()),
        limits: Limits::default(),
        log_summary: Default::default(),
        pending_handshakes: pending::PendingHandshakes::new(budget.pending_handshakes),
        events: events::EventLog::new(clock.clone()),
        metrics: Arc::new(NetMetrics::default()),
        inbound: tx,
        dial_requests: dial_tx,
        shutdown: CancellationToken::new(),
        next_request_id: AtomicU64::new(1),
        cfg,
        clock,
    });
    tokio::spawn(listener::accept_loop(shared.clone(), listener));
    tokio::spawn(dialer::dial_loop(shared.clone(), dial_rx));
    tokio::spawn(discovery::discovery_loop(shared.clone()));
    tokio::spawn(log_summary::flush_loop(shared.clone()));
    Ok((NetHandle { shared }, rx))
}

/// Cheap-to-clone handle to the running network layer.
#[derive(Clone)]
pub struct NetHandle {
    pub(crate) shared: Arc<Shared>,
}

impl NetHandle {
    /// Queue `msg` for every connected peer; never blocks on a slow peer
    /// (a full queue drops the frame for that peer). Returns peers queued.
    pub fn broadcast(&self, msg: &NetworkMessage) -> usize {
        self.broadcast_to(msg, None)
    }

    /// Like `broadcast`, skipping `except` (the peer we got it from).
    pub fn broadcast_except(&self, msg: &NetworkMessage, except: IpAddr) -> usize {
        self.broadcast_to(msg, Some(except))
    }

    fn broadcast_to(&self, msg: &NetworkMessage, except: Option<IpAddr>) -> usize {
        let frame = encode(msg); // encoded once, shared by every queue
        let mut queued = 0;
        for w in self.shared.registry.writers(except) {
            match w.try_send(frame.clone()) {
                Ok(()) => queued += 1,
                Err(_) => NetMetrics::inc(&self.shared.metrics.broadcast_dropped_total),
            }
        }
        queued
    }

    /// Queue `msg` (encoded once) for each of `to` that is connected and
    /// has room; like `broadcast`, never blocks. Returns the peers queued.
    pub fn send_to_each(&self, msg: &NetworkMessage, to: &[IpAddr]) -> Vec<IpAddr> {
        let frame = encode(msg);
        to.iter()
            .copied()
            .filter(|ip| match self.shared.registry.send(*ip, frame.clone()) {
                Some(Ok(())) => true,
                Some(Err(QueueError::Full)) => {
                    NetMetrics::inc(&self.shared.metrics.broadcast_dropped_total);
                    false
                }
                _ => false,
            })
            .collect()
    }

    pub fn send_to_peer(&self, ip: IpAddr, msg: &NetworkMessage) -> Result<(), SendError> {
        match self.shared.registry.send(ip, encode(msg)) {
            None | Some(Err(QueueError::Closed)) => Err(SendError::NotConnected(ip)),
            Some(Err(QueueError::Full)) => Err(SendError::QueueFull(ip)),
            Some(Ok(())) => Ok(()),
        }
    }

    /// Send a request and wait for the response with the same id.
    /// `timeout` is protocol time. A timeout fails this call only: the
    /// connection stays up and a late response is dropped.
    pub async fn request(
        &self,
        ip: IpAddr,
        body: Request,
        timeout: Duration,
    ) -> Result<Response, RequestError> {
        let shared = &self.shared;
        let id = shared.next_request_id.fetch_add(1, Relaxed);
        let (tx, rx) = oneshot::channel();
        let writer = match shared.registry.add_pending(ip, id, tx) {
            None => return Err(SendError::NotConnected(ip).into()),
            Some(Err(())) => return Err(RequestError::TooManyPending(ip)),
            Some(Ok((_, w))) => w,
        };
        if let Err(e) = writer.try_send(encode(&NetworkMessage::Request { id, body })) {
            shared.registry.cancel_pending(ip, id);
            return Err(match e {
                QueueError::Full => SendError::QueueFull(ip),
                QueueError::Closed => SendError::NotConnected(ip),
            }
            .into());
        }
        match shared
            .clock
            .timeout(shared.clock.protocol(timeout), rx)
            .await
        {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(_)) => Err(RequestError::Closed(ip)),
            Err(_) => {
                shared.registry.cancel_pending(ip, id);
                Err(RequestError::Timeout(ip))
            }
        }
    }

    /// Answer a request received as [`Inbound::Request`]: frees its
    /// in-flight slot and charges the answer's bytes to the peer's budget.
    pub fn respond(&self, ip: IpAddr, id: u64, body: Response) -> Result<(), SendError> {
        let frame = encode(&NetworkMessage::Response { id, body });
        let now = self.shared.clock.now();
        match self.shared.registry.respond(ip, frame, now) {
            None | Some(Err(QueueError::Closed)) => Err(SendError::NotConnected(ip)),
            Some(Err(QueueError::Full)) => Err(SendError::QueueFull(ip)),
            Some(Ok(())) => Ok(()),
        }
    }

    /// Every established connection, by IP.
    pub fn connected(&self) -> Vec<ConnectedPeer> {
        self.shared.registry.connected()
    }

    /// Height advertised in our handshakes from now on.
    pub fn set_height(&self, height: u64) {
        self.shared.height.store(height, Relaxed);
    }

    /// The node's event log (`GET /events`); other layers record into it too.
    pub fn events(&self) -> &events::EventLog {
        &self.shared.events
    }

    /// `ip` told us its tip is at `height` (a notice or an answer):
    /// kept on its connection, so the sync tick need not ask it again soon.
    pub fn heard_tip(&self, ip: IpAddr, height: u64) {
        if let Some(stats) = self.shared.registry.stats(ip) {
            let at = self.shared.clock.now();
            *stats.heard_tip.lock().unwrap() = Some(HeardTip { height, at });
        }
    }

    /// What `ip` last told us of its tip on this connection ([`heard_tip`](Self::heard_tip)).
    pub fn told_tip(&self, ip: IpAddr) -> Option<HeardTip> {
        let stats = self.shared.registry.stats(ip)?;
        let told = *stats.heard_tip.lock().unwrap();
        told
    }

    /// Report misbehaviour (e.g. an invalid block); enough of it bans the IP.
    pub fn penalize(&self, ip: IpAddr, score: u32, reason: &str) {
        self.shared.penalize(ip, score, reason)
    }

    // ---- beyond the contract: for the API, the node and tests ----

    /// `GET /peers` rows.
    pub fn peer_views(&self) -> Vec<PeerView> {
        self.shared.registry.peer_views()
    }

    pub fn peer_count(&self) -> usize {
        self.shared.registry.connected_count()
    }

    /// Moves whenever `/peers` changes other than in its live counters
    /// (last seen, RTT, pings): a connection established or removed, a
    /// ping timeout counted.
    pub fn peer_changes(&self) -> u64 {
        self.shared.registry.changes()
    }

    /// Prometheus text of the net layer.
    pub fn metrics_text(&self) -> String {
        self.shared.metrics.render(self.peer_count())
    }

    pub fn node_id(&self) -> NodeId {
        self.shared.node_id
    }

    /// Add an address to the book (dialled at the next tick if due).
    pub fn add_address(&self, addr: SocketAddr) -> bool {
        self.shared.book.add(addr, Source::Manual)
    }

    /// Add `addr` to the book and dial it now if its IP is free (not
    /// connected, not being dialed, not banned), backoff or not. True if a
    /// dial started.
    pub fn dial_now(&self, addr: SocketAddr) -> bool {
        self.shared.book.add(addr, Source::Manual);
        let due = address_book::DueAddr {
            addr,
            source: Source::Manual,
            is_new: false,
        };
        dialer::dial_ignoring_backoff(&self.shared, due)
    }

    /// Run the acceptor side over any byte stream as if it came from `ip`:
    /// the seam for tests with fake peers and for a simulated network.
    pub fn accept_stream<S>(&self, ip: IpAddr, stream: S)
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let shared = self.shared.clone();
        let Some(pending) = listener::admit(&shared, ip) else {
            return;
        };
        let (r, w) = tokio::io::split(stream);
        tokio::spawn(listener::handle_inbound(
            shared,
            ip,
            Box::new(r),
            w,
            socket::HangupProbe::none(),
            pending,
        ));
    }

    /// Stop accepting and dialling, close every connection with reason
    /// `shutdown`, and wait (bounded) until they are unregistered.
    pub async fn shutdown(&self) {
        self.shared.shutdown.cancel();
        self.shared.registry.close_all(CloseReason::Shutdown);
        for _ in 0..SHUTDOWN_POLLS {
            if self.shared.registry.connected_count() == 0 {
                break;
            }
            self.shared.clock.sleep_wall(SHUTDOWN_POLL).await;
        }
    }
}
