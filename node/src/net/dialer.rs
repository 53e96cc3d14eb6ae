//! Outbound side: the dial loop and the dialer's half of the handshake.
//!
//! Every `DIAL_TICK` it dials each known address that is not us, not
//! connected, not being dialed, not banned and not backing off. The registry
//! slot is reserved atomically before the socket is opened, so an IP is
//! never dialed twice at once nor while connected.

use super::address_book::{DueAddr, Source};
use super::auth::{self, Role, Verified};
use super::closer::Closer;
use super::connection::{self, BoxRead, Conn};
use super::handshake;
use super::log_summary::Noted;
use super::metrics::NetMetrics;
use super::peer::PeerInfo;
use super::reason::{CloseReason, RejectReason};
use super::views::Direction;
use super::views::EventKind;
use super::writer::WriterHandle;
use super::{socket, writer, Shared};
use crate::constants::{
    CONNECT_TIMEOUT, CONNECT_TIMEOUT_FLOOR, DIAL_TICK, HANDSHAKE_TIMEOUT, HANDSHAKE_TIMEOUT_FLOOR,
    MAX_FRAME_PRE_HANDSHAKE, MAX_OUTBOUND_PER_SOURCE,
};
use crate::wire::{encode, FrameCodec, NetworkMessage};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::codec::FramedRead;
use tracing::{debug, info, warn};

/// Dial every due address each `DIAL_TICK`, and each address sent on
/// `requests` (learned by discovery) at once.
pub async fn dial_loop(shared: Arc<Shared>, mut requests: mpsc::Receiver<DueAddr>) {
    let mut tick = shared.clock.interval(DIAL_TICK);
    loop {
        tokio::select! {
            biased;
            _ = shared.shutdown.cancelled() => return,
            Some(due) = requests.recv() => {
                dial_if_free(&shared, due);
                continue;
            }
            _ = tick.tick() => {}
        }
        // IPs dialed or connected are left out before the book lists
        // anything: in a full mesh every known address is connected, and
        // listing and re-checking each one every tick was ~8 % of a
        // simulated 100-node hour. `dial_if_free` still checks each one
        // it gets (a slot may be taken meanwhile).
        let now = shared.clock.now();
        let taken = shared.registry.taken();
        for due in shared.book.due(now, &taken) {
            dial_if_free(&shared, due);
        }
    }
}

/// Start a dial to `due.addr` unless its IP is banned, connected, being
/// dialed (the slot is reserved atomically) or backing off, its source
/// already holds `MAX_OUTBOUND_PER_SOURCE` outbound slots, or it is a
/// never-connected address and the new-dial budget is spent. True if a dial
/// started.
pub fn dial_if_free(shared: &Arc<Shared>, due: DueAddr) -> bool {
    start(shared, due, Backoff::Respect)
}

/// [`dial_if_free`] without the backoff: an explicit dial
/// ([`NetHandle::dial_now`](super::NetHandle::dial_now)).
pub fn dial_ignoring_backoff(shared: &Arc<Shared>, due: DueAddr) -> bool {
    start(shared, due, Backoff::Ignore)
}

/// Whether a dial waits for the address's backoff.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Backoff {
    Respect,
    Ignore,
}

fn start(shared: &Arc<Shared>, due: DueAddr, backoff: Backoff) -> bool {
    let addr = due.addr;
    let ip = addr.ip();
    // A node shutting down must not dial: the peer would register a
    // connection that dies a millisecond later (a phantom reconnect, seen in
    // rolling-restart).
    if shared.shutdown.is_cancelled()
        || shared.limits.is_banned(ip, shared.clock.now())
        || !shared.registry.is_free(ip)
    {
        return false;
    }
    if !due.source.trusted() && source_share(shared, due.source) >= MAX_OUTBOUND_PER_SOURCE {
        return false;
    }
    if due.is_new && !shared.dial_budget.try_take() {
        return false;
    }
    let Some(conn_id) = shared.registry.try_begin_dial(ip) else {
        return false;
    };
    // The backoff is read only once the slot is ours. A dial that failed
    // records its failure (and the new backoff) before it frees the slot,
    // so holding the slot we see it; a `due` list read earlier may predate
    // it. Checked before taking the slot, a dial tick racing a failing
    // dial's end on the other worker thread redialled at once (the
    // harness's dial_backoff caught it on docker, single-peer-catchup with
    // two runs at a time: "n4 dialed n6 again 40s after failed attempt 32").
    if backoff == Backoff::Respect && !shared.book.is_due(ip, shared.clock.now()) {
        shared.registry.end_dial(ip, conn_id);
        return false;
    }
    tokio::spawn(dial(shared.clone(), addr, conn_id));
    true
}

/// The dialer's side, within the caller's deadline: send our Hello, verify
/// the acceptor's Hello and proof over our nonce, send our proof over its
/// nonce, and wait for the ack.
async fn exchange(
    shared: &Shared,
    ip: IpAddr,
    reader: &mut FramedRead<BoxRead, FrameCodec>,
    writer: &WriterHandle,
) -> Result<Verified, DialError> {
    let ours = shared.hello();
    let _ = writer.try_send(encode(&NetworkMessage::Handshake(ours.clone())));
    let (theirs, proof) = match handshake::read_frame(reader).await {
        Ok(NetworkMessage::HandshakeAuth { hello, proof }) => (hello, proof),
        Ok(NetworkMessage::Reject { reason }) => return Err(rejected_by_peer(shared, ip, reason)),
        Ok(other) => return Err(handshake::unexpected("handshake auth", &other).into()),
        Err(reason) => return Err(reason.into()),
    };
    let checked = handshake::validate(&ours, &theirs).and_then(|()| {
        let masternodes = &shared.cfg.masternodes;
        auth::verify(theirs, Role::Acceptor, ours.nonce, &proof, masternodes)
    });
    let theirs = match checked {
        Ok(v) => v,
        Err(RejectReason::SelfConnection) => return Err(DialError::SelfConnection),
        Err(reason) => {
            handshake::reject(shared, ip, Direction::Outbound, writer, &reason);
            warn!(ip = %ip, reason = %reason, "rejected the peer's handshake");
            return Err(reason.into());
        }
    };
    let proof = auth::prove(&shared.cfg.key, Role::Dialer, &ours, theirs.hello().nonce);
    let _ = writer.try_send(encode(&NetworkMessage::HandshakeProof { proof }));
    match handshake::read_frame(reader).await {
        Ok(NetworkMessage::HandshakeAck) => Ok(theirs),
        Ok(NetworkMessage::Reject { reason }) => Err(rejected_by_peer(shared, ip, reason)),
        Ok(other) => Err(handshake::unexpected("handshake ack", &other).into()),
        Err(reason) => Err(reason.into()),
    }
}

/// The peer refused our handshake: its text is decoded once, here at the
/// wire edge, into what we act on (a tie-break, ourselves) or a failure
/// that is counted, recorded and logged as sent.
fn rejected_by_peer(shared: &Shared, ip: IpAddr, reason: String) -> DialError {
    match RejectReason::from_peer(&reason) {
        Some(r) if r.is_duplicate() => DialError::Duplicate(r),
        Some(RejectReason::SelfConnection) => DialError::SelfConnection,
        _ => {
            let err = DialError::RejectedByPeer(reason);
            NetMetrics::inc(&shared.metrics.handshake_rejects_total);
            shared.events.record(
                EventKind::HandshakeRejected,
                Some(ip),
                Some(Direction::Outbound),
                Some(err.to_string()),
            );
            warn!(ip = %ip, reason = %err, "peer rejected our handshake");
            err
        }
    }
}

/// Outbound slots (live or dialing) held by addresses from `source`.
fn source_share(shared: &Shared, source: Source) -> usize {
    shared
        .registry
        .outbound_ips()
        .into_iter()
        .filter(|ip| shared.book.source_of(*ip) == Some(source))
        .count()
}

/// How a dial ended without a connection. `Display` is the `reason` of
/// the event it is recorded as ([`DialError::event_kind`]).
#[derive(Debug, thiserror::Error)]
enum DialError {
    /// TCP connect did not finish within the connect deadline (counts for
    /// backoff).
    #[error("connect timeout")]
    ConnectTimeout,
    /// TCP connect failed (counts for backoff).
    #[error("connect: {0}")]
    Connect(std::io::Error),
    /// The handshake failed on our side (counts for backoff).
    #[error(transparent)]
    Handshake(#[from] RejectReason),
    /// The peer refused our handshake for a reason we do not act on (its
    /// text, as sent; counts for backoff).
    #[error("rejected by peer: {0}")]
    RejectedByPeer(String),
    /// The peer refused us as a duplicate (tie-break); not a failure.
    #[error("rejected by peer: {0}")]
    Duplicate(RejectReason),
    /// We dialled ourselves.
    #[error("{}", RejectReason::SelfConnection)]
    SelfConnection,
    /// An inbound from the same peer won the slot meanwhile.
    #[error("superseded by inbound (simultaneous open)")]
    Superseded,
}

impl DialError {
    /// The event a dial that ended this way is recorded as (`None`: not
    /// recorded, the connection that won is).
    fn event_kind(&self) -> Option<EventKind> {
        match self {
            DialError::Duplicate(_) => Some(EventKind::RejectedDuplicate),
            DialError::SelfConnection => Some(EventKind::HandshakeRejected),
            DialError::Superseded => None,
            _ => Some(EventKind::DialFailed),
        }
    }
}

async fn dial(shared: Arc<Shared>, addr: SocketAddr, conn_id: u64) {
    let ip = addr.ip();
    let Err(err) = attempt(&shared, addr, conn_id).await else {
        return; // a connection ran and ended; connection::run did the bookkeeping
    };
    // The address book first, then free the dial slot: a dial tick running
    // between the two saw the old `next_dial` and redialled at once, ahead
    // of the backoff (the harness's dial_backoff check caught it on docker
    // in single-peer-catchup: "dialed n6 again 21s after failed attempt 21").
    let backoff = match err {
        DialError::Duplicate(_) => {
            shared.book.record_tie_break(ip);
            None
        }
        DialError::SelfConnection => {
            shared.book.mark_self(ip);
            None
        }
        DialError::Superseded => None,
        DialError::ConnectTimeout
        | DialError::Connect(_)
        | DialError::Handshake(_)
        | DialError::RejectedByPeer(_) => Some(shared.book.record_failure(ip)),
    };
    shared.registry.end_dial(ip, conn_id);
    if let Some(kind) = err.event_kind() {
        let out = Some(Direction::Outbound);
        shared
            .events
            .record(kind, Some(ip), out, Some(err.to_string()));
    }
    match (&err, backoff) {
        (DialError::Duplicate(_), _) => {
            info!(ip = %ip, reason = %err, "dial refused as duplicate (not a failure)");
        }
        (DialError::SelfConnection, _) => {
            info!(ip = %ip, addr = %addr, "dialled ourselves; address marked self, never dialled again");
        }
        (DialError::Superseded, _) => debug!(ip = %ip, "{err}"),
        (_, backoff) => {
            NetMetrics::inc(&shared.metrics.dial_failures_total);
            let backoff = backoff.unwrap_or_default();
            let why = format!("{err} (addr {addr}, backoff {backoff:?})");
            shared.log_summary.note(Noted::DialFailed, ip, &why);
        }
    }
}

async fn attempt(shared: &Arc<Shared>, addr: SocketAddr, conn_id: u64) -> Result<(), DialError> {
    let ip = addr.ip();
    let connect_deadline = shared.clock.guarded(CONNECT_TIMEOUT, CONNECT_TIMEOUT_FLOOR);
    let stream = match shared
        .clock
        .timeout(
            connect_deadline,
            shared.transport.connect(shared.cfg.listen_ip, addr),
        )
        .await
    {
        Err(_) => return Err(DialError::ConnectTimeout),
        Ok(Err(e)) => return Err(DialError::Connect(e)),
        Ok(Ok(s)) => s,
    };
    if shared.shutdown.is_cancelled() || !shared.registry.begin_dial_handshake(ip, conn_id) {
        return Err(DialError::Superseded);
    }
    let socket::Connected {
        read: r, write: w, ..
    } = stream;
    let closer = Closer::default();
    let writer = writer::spawn(
        w,
        shared.clock.clone(),
        closer.clone(),
        shared.metrics.clone(),
    );
    let mut reader = FramedRead::new(r, FrameCodec::new(MAX_FRAME_PRE_HANDSHAKE));
    let deadline = shared
        .clock
        .guarded(HANDSHAKE_TIMEOUT, HANDSHAKE_TIMEOUT_FLOOR);
    let theirs = shared
        .clock
        .timeout(deadline, exchange(shared, ip, &mut reader, &writer))
        .await
        .unwrap_or(Err(DialError::Handshake(RejectReason::HandshakeTimeout)))?;
    let now = shared.clock.now();
    let info = PeerInfo::new(
        &theirs,
        ip,
        conn_id,
        Direction::Outbound,
        now,
        writer,
        closer,
    );
    let mut conn = Conn::new(info, reader);
    conn.connects = match shared.registry.promote_dial(ip, conn.entry()) {
        Some(n) => {
            if shared.book.failures(ip) > 0 {
                NetMetrics::inc(&shared.metrics.redials_after_backoff_total);
            }
            shared.book.mark_tried(ip);
            n
        }
        None => {
            conn.info.closer.close(CloseReason::SupersededByInbound);
            return Err(DialError::Superseded);
        }
    };
    connection::run(shared.clone(), conn).await;
    Ok(())
}
