//! Inbound side: the accept loop and the acceptor's half of the handshake.

use super::address_book::Source;
use super::auth::{self, Role, Verified};
use super::closer::Closer;
use super::connection::{self, BoxRead, Conn};
use super::handshake;
use super::limits::Refusal;
use super::log_summary::Noted;
use super::metrics::NetMetrics;
use super::peer::PeerInfo;
use super::pending::PendingGuard;
use super::reason::RejectReason;
use super::registry::Admission;
use super::views::Direction;
use super::{socket, writer, Shared, MALFORMED_PENALTY};
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
                let Some(pending) = admit(&shared, ip) else {
                    continue; // dropping the socket closes it
                };
                let task = handle_inbound(shared.clone(), ip, c.read, c.write, c.probe, pending);
                tokio::spawn(task);
            }
            Err(e) => {
                // e.g. EMFILE: back off a little instead of spinning.
                warn!(error = %e, "accept failed");
                shared.clock.sleep_wall(ACCEPT_RETRY).await;
            }
        }
    }
}

/// Admission before any byte is read: bans and the per-IP inbound rate;
/// then a place among the sockets still in their handshake (evicting the
/// oldest at the cap). The guard is held until the handshake ends.
pub fn admit(shared: &Shared, ip: IpAddr) -> Option<PendingGuard> {
    match shared.limits.admit_inbound(ip, shared.clock.now()) {
        Ok(()) => {
            let (guard, evicted) = shared.pending_handshakes.enter();
            if evicted {
                NetMetrics::inc(&shared.metrics.inbound_refused_total);
            }
            Some(guard)
        }
        Err(refusal) => {
            NetMetrics::inc(&shared.metrics.inbound_refused_total);
            shared.log_summary.note(Noted::InboundRefused, ip, &refusal);
            None
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
    pending: PendingGuard,
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
    let exchange = shared
        .clock
        .timeout(deadline, exchange(&shared, &mut reader, &writer));
    let verified = tokio::select! {
        biased;
        r = exchange => r.unwrap_or(Err(RejectReason::HandshakeTimeout)),
        _ = pending.evicted.cancelled() => {
            shared.log_summary.note(Noted::InboundRefused, ip, &Refusal::TooManyPending);
            return; // dropping the socket closes it
        }
    };
    let theirs = match verified {
        Ok(v) => v,
        Err(reason) => {
            // Garbage before the handshake scores like garbage after it.
            if matches!(
                reason,
                RejectReason::MalformedHandshake(_) | RejectReason::HandshakeFrameTooLong { .. }
            ) {
                shared.penalize(ip, MALFORMED_PENALTY, "malformed handshake frame");
            }
            return refuse(&shared, ip, &writer, reason);
        }
    };
    // A proof with the dialer's EOF already queued behind it is stale: the
    // dialer gave up (handshake timeout) while we could not read, e.g. we
    // were frozen and are now draining the accept backlog. Registering it
    // would log a connect and an instant disconnect: a phantom cycle. A
    // peer may pipeline frames after its proof: one read here goes back in
    // front of the buffer, untouched.
    match reader.next().now_or_never() {
        None => {}
        Some(None) | Some(Some(Err(FrameError::Io(_)))) => {
            info!(ip = %ip, "stale handshake: the dialer already hung up; not registered");
            return;
        }
        Some(Some(Err(FrameError::TooLong { max }))) => {
            return refuse(&shared, ip, &writer, RejectReason::FrameTooLong { max });
        }
        Some(Some(Ok(frame))) => unread(&mut reader, &frame),
    }
    if shared.shutdown.is_cancelled() {
        return refuse(&shared, ip, &writer, RejectReason::Shutdown);
    }
    if probe.hung_up() {
        info!(ip = %ip, "stale handshake: the dialer already hung up; not registered");
        return;
    }
    let conn_id = shared.registry.next_conn_id();
    let now = shared.clock.now();
    let info = PeerInfo::new(
        &theirs,
        ip,
        conn_id,
        Direction::Inbound,
        now,
        writer,
        closer,
    );
    let mut conn = Conn::new(info, reader);
    let entry = conn.entry();
    let ack = encode(&NetworkMessage::HandshakeAck);
    let ours = &shared.node_id;
    let (admission, connects) = shared.registry.admit_inbound(ip, ours, entry, ack);
    conn.connects = connects;
    let writer = conn.info.writer.clone();
    match admission {
        Admission::Rejected(reason) => {
            if matches!(reason, RejectReason::DuplicateSimultaneous) {
                NetMetrics::inc(&shared.metrics.tie_break_local_total);
            }
            return refuse(&shared, ip, &writer, reason);
        }
        Admission::AcceptedOverOurDial { crossed } => {
            if crossed {
                NetMetrics::inc(&shared.metrics.tie_break_remote_total);
            }
            info!(ip = %ip, "simultaneous open: keeping the inbound (our dial had not reached the peer, or the peer has the lower node id)")
        }
        Admission::Accepted => {}
    }
    let port = theirs.hello().listen_port;
    if port != 0 {
        let own = std::net::SocketAddr::new(ip, port);
        shared.book.add(own, Source::Peer(ip));
    }
    drop(pending); // the handshake is over: the socket is a peer now
    connection::run(shared, conn).await;
}

/// The acceptor's three steps, within the caller's deadline: read the
/// dialer's Hello and check its fields (nothing is sent before), answer
/// with our Hello and our proof over its nonce, then read and verify its
/// proof over ours.
async fn exchange(
    shared: &Shared,
    reader: &mut FramedRead<BoxRead, FrameCodec>,
    writer: &writer::WriterHandle,
) -> Result<Verified, RejectReason> {
    let theirs = match handshake::read_frame(reader).await? {
        NetworkMessage::Handshake(h) => h,
        other => return Err(handshake::unexpected("handshake", &other)),
    };
    let ours = shared.hello();
    handshake::validate(&ours, &theirs)?;
    let proof = auth::prove(&shared.cfg.key, Role::Acceptor, &ours, theirs.nonce);
    let _ = writer.try_send(encode(&NetworkMessage::HandshakeAuth {
        hello: ours.clone(),
        proof,
    }));
    let proof = match handshake::read_frame(reader).await? {
        NetworkMessage::HandshakeProof { proof } => proof,
        other => return Err(handshake::unexpected("handshake proof", &other)),
    };
    auth::verify(
        theirs,
        Role::Dialer,
        ours.nonce,
        &proof,
        &shared.cfg.masternodes,
    )
}

/// Tell the dialer why (a `Reject` frame, flushed as the writer drains when
/// its last handle drops), record and log it on our side; the event kind
/// follows from the reason.
fn refuse(shared: &Shared, ip: IpAddr, writer: &writer::WriterHandle, reason: RejectReason) {
    handshake::reject(shared, ip, Direction::Inbound, writer, &reason);
    shared
        .log_summary
        .note(Noted::HandshakeRejected, ip, &reason);
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
