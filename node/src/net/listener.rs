//! Inbound side: the accept loop and the acceptor's half of the handshake.

use super::connection::{self, BoxRead, Conn};
use super::handshake;
use super::limits::Refusal;
use super::metrics::NetMetrics;
use super::registry::{Admission, Closer};
use super::{socket, writer, Shared};
use crate::api::types::{Direction, EventKind};
use crate::constants::{
    ACCEPT_RETRY, HANDSHAKE_TIMEOUT, HANDSHAKE_TIMEOUT_FLOOR, MAX_FRAME_PRE_HANDSHAKE,
};
use crate::wire::{encode, FrameCodec, FrameError, NetworkMessage};
use futures::{FutureExt, StreamExt};
use std::net::IpAddr;
use std::sync::Arc;
use tokio::io::AsyncWrite;
use tokio_util::codec::FramedRead;
use tracing::{info, warn};

pub async fn accept_loop(shared: Arc<Shared>, mut listener: Box<dyn socket::Listener>) {
    loop {
        let accepted = tokio::select! {
            biased;
            _ = shared.shutdown.cancelled() => break,
            r = listener.accept() => r,
        };
        match accepted {
            Ok(c) => {
                let ip = c.peer.ip().to_canonical();
                if !admit(&shared, ip) {
                    continue; // dropping the socket closes it
                }
                tokio::spawn(handle_inbound(shared.clone(), ip, c.read, c.write, c.probe));
            }
            Err(e) => {
                // e.g. EMFILE: back off a little instead of spinning.
                warn!(error = %e, "accept failed");
                shared.clock.sleep_wall(ACCEPT_RETRY).await;
            }
        }
    }
}

/// Per-IP admission before any byte is read: bans and the inbound rate.
pub fn admit(shared: &Shared, ip: IpAddr) -> bool {
    match shared.limits.admit_inbound(ip, shared.clock.now()) {
        Ok(()) => true,
        Err(refusal) => {
            NetMetrics::inc(&shared.metrics.inbound_refused_total);
            let why = match refusal {
                Refusal::Banned => "banned",
                Refusal::RateLimited => "inbound rate limit",
            };
            warn!(ip = %ip, reason = why, "inbound connection dropped before handshake");
            false
        }
    }
}

/// Acceptor handshake: read and validate the dialer's Hello (sending nothing
/// before), then admit it into the registry or tell it why not.
pub async fn handle_inbound<W>(
    shared: Arc<Shared>,
    ip: IpAddr,
    read: BoxRead,
    write: W,
    probe: socket::HangupProbe,
) where
    W: AsyncWrite + Unpin + Send + 'static,
{
    let closer = Closer::default();
    let writer = writer::spawn(
        write,
        shared.clock.clone(),
        closer.clone(),
        shared.metrics.clone(),
    );
    let mut reader = FramedRead::new(read, FrameCodec::new(MAX_FRAME_PRE_HANDSHAKE));
    let deadline = shared
        .clock
        .guarded(HANDSHAKE_TIMEOUT, HANDSHAKE_TIMEOUT_FLOOR);
    let ours = shared.hello();
    let theirs = match handshake::read_first(&shared.clock, &mut reader, deadline).await {
        Ok(NetworkMessage::Handshake(h)) => h,
        Ok(other) => {
            let reason = format!("expected handshake, got {}", other.kind());
            return refuse(&shared, ip, &writer, EventKind::HandshakeRejected, reason);
        }
        Err(reason) => return refuse(&shared, ip, &writer, EventKind::HandshakeRejected, reason),
    };
    if let Err(reason) = handshake::validate(&ours, &theirs) {
        return refuse(&shared, ip, &writer, EventKind::HandshakeRejected, reason);
    }
    // A Hello with the dialer's EOF already queued behind it is stale: the
    // dialer gave up (handshake timeout) while we could not read, e.g. we
    // were frozen and are now draining the accept backlog. Registering it
    // would log a connect and an instant disconnect: a phantom cycle. A
    // peer may pipeline frames after its Hello: one read here goes back in
    // front of the buffer, untouched.
    match reader.next().now_or_never() {
        None => {}
        Some(None) | Some(Some(Err(FrameError::Io(_)))) => {
            info!(ip = %ip, "stale handshake: the dialer already hung up; not registered");
            return;
        }
        Some(Some(Err(FrameError::TooLong { max }))) => {
            let reason = format!("frame too long: limit {max} bytes");
            return refuse(&shared, ip, &writer, EventKind::HandshakeRejected, reason);
        }
        Some(Some(Ok(frame))) => unread(&mut reader, &frame),
    }
    if shared.shutdown.is_cancelled() {
        return refuse(
            &shared,
            ip,
            &writer,
            EventKind::HandshakeRejected,
            "shutdown".into(),
        );
    }
    if probe.hung_up() {
        info!(ip = %ip, "stale handshake: the dialer already hung up; not registered");
        return;
    }
    let conn_id = shared.registry.next_conn_id();
    let mut conn = Conn::new(
        &shared,
        ip,
        conn_id,
        Direction::Inbound,
        &theirs,
        reader,
        writer,
        closer,
    );
    let entry = conn.entry(theirs.listen_port);
    let ack = encode(&NetworkMessage::HandshakeAck(ours.clone()));
    let (admission, connects) = shared.registry.admit_inbound(ip, &ours.node_id, entry, ack);
    conn.connects = connects;
    let writer = conn.writer.clone();
    match admission {
        Admission::Rejected(reason) => {
            let kind = if reason.starts_with("duplicate") {
                EventKind::RejectedDuplicate
            } else {
                EventKind::HandshakeRejected
            };
            return refuse(&shared, ip, &writer, kind, reason.to_string());
        }
        Admission::AcceptedOverOurDial => {
            info!(ip = %ip, "simultaneous open: keeping the inbound (our dial had not reached the peer, or the peer has the lower node id)")
        }
        Admission::Accepted => {}
    }
    if theirs.listen_port != 0 {
        shared
            .book
            .add(std::net::SocketAddr::new(ip, theirs.listen_port));
    }
    connection::run(shared, conn).await;
}

/// Tell the dialer why (a `Reject` frame, flushed as the writer drains when
/// its last handle drops), record and log it on our side.
fn refuse(
    shared: &Shared,
    ip: IpAddr,
    writer: &writer::WriterHandle,
    kind: EventKind,
    reason: String,
) {
    let _ = writer.try_send(encode(&NetworkMessage::Reject {
        reason: reason.clone(),
    }));
    NetMetrics::inc(&shared.metrics.handshake_rejects_total);
    shared.events.record(
        kind,
        Some(ip),
        Some(Direction::Inbound),
        Some(reason.clone()),
    );
    info!(ip = %ip, reason = %reason, "inbound handshake rejected");
}

/// Put a frame just read back in front of the reader's buffer (with its
/// newline), so the connection actor reads it first. Safe right after the
/// codec returned it: the codec holds no partial state then, and the reader
/// decodes from its buffer before touching the socket again.
fn unread(reader: &mut FramedRead<BoxRead, FrameCodec>, frame: &[u8]) {
    let buf = reader.read_buffer_mut();
    let mut restored = bytes::BytesMut::with_capacity(frame.len() + 1 + buf.len());
    restored.extend_from_slice(frame);
    restored.extend_from_slice(b"\n");
    restored.extend_from_slice(buf);
    *buf = restored;
}
