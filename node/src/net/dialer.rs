//! Outbound side: the dial loop and the dialer's half of the handshake.
//!
//! Every `DIAL_TICK` it dials each known address that is not us, not
//! connected, not being dialed, not banned and not backing off. The registry
//! slot is reserved atomically before the socket is opened, so an IP is
//! never dialed twice at once nor while connected.

use super::connection::{self, Conn};
use super::handshake::{self, SELF_CONNECTION};
use super::metrics::NetMetrics;
use super::registry::Closer;
use super::{socket, writer, Shared};
use crate::api::types::{Direction, EventKind};
use crate::constants::{
    CONNECT_TIMEOUT, CONNECT_TIMEOUT_FLOOR, DIAL_TICK, HANDSHAKE_TIMEOUT, HANDSHAKE_TIMEOUT_FLOOR,
    MAX_FRAME_PRE_HANDSHAKE,
};
use crate::wire::{encode, FrameCodec, NetworkMessage};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio_util::codec::FramedRead;
use tracing::{debug, info, warn};

pub async fn dial_loop(shared: Arc<Shared>) {
    let mut tick = shared.clock.interval(DIAL_TICK);
    loop {
        tokio::select! {
            biased;
            _ = shared.shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now = shared.clock.now();
        for addr in shared.book.due(now) {
            dial_if_free(&shared, addr);
        }
    }
}

/// Start a dial to `addr` unless its IP is banned, connected or being
/// dialed (the slot is reserved atomically). True if a dial started.
pub fn dial_if_free(shared: &Arc<Shared>, addr: SocketAddr) -> bool {
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
    match shared.registry.try_begin_dial(ip) {
        Some(conn_id) => {
            tokio::spawn(dial(shared.clone(), addr, conn_id));
            true
        }
        None => false,
    }
}

/// How a dial ended without a connection.
enum DialError {
    /// Counts for backoff.
    Failed(String),
    /// The peer refused us as a duplicate (tie-break); not a failure.
    Duplicate(String),
    /// We dialled ourselves.
    SelfConnection,
    /// An inbound from the same peer won the slot meanwhile.
    Superseded,
}

async fn dial(shared: Arc<Shared>, addr: SocketAddr, conn_id: u64) {
    let ip = addr.ip();
    let Err(err) = attempt(&shared, addr, conn_id).await else {
        return; // a connection ran and ended; connection::run did the bookkeeping
    };
    shared.registry.end_dial(ip, conn_id);
    let out = Some(Direction::Outbound);
    match err {
        DialError::Failed(reason) => {
            NetMetrics::inc(&shared.metrics.dial_failures_total);
            let backoff = shared.book.record_failure(ip);
            shared
                .events
                .record(EventKind::DialFailed, Some(ip), out, Some(reason.clone()));
            warn!(ip = %ip, addr = %addr, reason = %reason, backoff = ?backoff, "dial failed");
        }
        DialError::Duplicate(reason) => {
            shared.book.record_tie_break(ip);
            shared.events.record(
                EventKind::RejectedDuplicate,
                Some(ip),
                out,
                Some(reason.clone()),
            );
            info!(ip = %ip, reason = %reason, "dial refused as duplicate (not a failure)");
        }
        DialError::SelfConnection => {
            shared.book.mark_self(ip);
            shared.events.record(
                EventKind::HandshakeRejected,
                Some(ip),
                out,
                Some(SELF_CONNECTION.into()),
            );
            info!(ip = %ip, addr = %addr, "dialled ourselves; address marked self, never dialled again");
        }
        DialError::Superseded => {
            debug!(ip = %ip, "superseded by inbound (simultaneous open)");
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
        Err(_) => return Err(DialError::Failed("connect timeout".into())),
        Ok(Err(e)) => return Err(DialError::Failed(format!("connect: {e}"))),
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
    let ours = shared.hello();
    let _ = writer.try_send(encode(&NetworkMessage::Handshake(ours.clone())));
    let deadline = shared
        .clock
        .guarded(HANDSHAKE_TIMEOUT, HANDSHAKE_TIMEOUT_FLOOR);
    let theirs = match handshake::read_first(&shared.clock, &mut reader, deadline).await {
        Ok(NetworkMessage::HandshakeAck(h)) => h,
        Ok(NetworkMessage::Reject { reason }) => {
            return Err(if reason.starts_with("duplicate") {
                DialError::Duplicate(format!("rejected by peer: {reason}"))
            } else if reason == SELF_CONNECTION {
                DialError::SelfConnection
            } else {
                NetMetrics::inc(&shared.metrics.handshake_rejects_total);
                shared.events.record(
                    EventKind::HandshakeRejected,
                    Some(ip),
                    Some(Direction::Outbound),
                    Some(format!("rejected by peer: {reason}")),
                );
                warn!(ip = %ip, reason = %reason, "peer rejected our handshake");
                DialError::Failed(format!("rejected by peer: {reason}"))
            });
        }
        Ok(other) => {
            return Err(DialError::Failed(format!(
                "expected handshake ack, got {}",
                other.kind()
            )))
        }
        Err(reason) => return Err(DialError::Failed(reason)),
    };
    if let Err(reason) = handshake::validate(&ours, &theirs) {
        if reason == SELF_CONNECTION {
            return Err(DialError::SelfConnection);
        }
        let _ = writer.try_send(encode(&NetworkMessage::Reject {
            reason: reason.clone(),
        }));
        NetMetrics::inc(&shared.metrics.handshake_rejects_total);
        shared.events.record(
            EventKind::HandshakeRejected,
            Some(ip),
            Some(Direction::Outbound),
            Some(reason.clone()),
        );
        warn!(ip = %ip, reason = %reason, "rejected the peer's handshake ack");
        return Err(DialError::Failed(reason));
    }
    let mut conn = Conn::new(
        shared,
        ip,
        conn_id,
        Direction::Outbound,
        &theirs,
        reader,
        writer,
        closer,
    );
    conn.connects = match shared
        .registry
        .promote_dial(ip, conn.entry(theirs.listen_port))
    {
        Some(n) => n,
        None => {
            conn.closer
                .close("superseded by inbound (simultaneous open)".into());
            return Err(DialError::Superseded);
        }
    };
    connection::run(shared.clone(), conn).await;
    Ok(())
}
