//! The connection actor: one loop for inbound and outbound connections
//! alike, run once the handshake is done and the peer is registered.
//!
//! The reader is a `FramedRead` polled in `select!` next to the ping tick and
//! the close signal (cancel-safe: no `read_exact` in `select!`). Everything
//! it sends goes through the peer's writer task.

use super::registry::{Closer, PeerEntry, PeerStats};
use super::writer::WriterHandle;
use super::{Inbound, Shared, MALFORMED_PENALTY};
use crate::api::types::{Direction, EventKind};
use crate::chain::types::NodeId;
use crate::clock::Instant;
use crate::constants::{MAX_FRAME, MAX_MISSED_PONGS, PING_INTERVAL};
use crate::wire::{
    decode, encode, FrameCodec, FrameError, Hello, NetworkMessage, Request, Response,
};
use futures::StreamExt;
use std::net::IpAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use tokio::io::AsyncRead;
use tokio_util::codec::FramedRead;
use tracing::{debug, info};

pub type BoxRead = Box<dyn AsyncRead + Send + Unpin>;

/// A registered connection, ready to run.
pub struct Conn {
    pub ip: IpAddr,
    pub conn_id: u64,
    pub direction: Direction,
    pub node_id: NodeId,
    pub height: u64,
    pub connects: u64,
    pub since: Instant,
    pub reader: FramedRead<BoxRead, FrameCodec>,
    pub writer: WriterHandle,
    pub closer: Closer,
    pub stats: Arc<PeerStats>,
}

impl Conn {
    /// The actor's state for a connection whose handshake just succeeded,
    /// in either direction; `connects` is set once the registry took it.
    /// (Eight plain parts, each named at the two call sites: clearer than a
    /// parameter struct used once.)
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        shared: &Shared,
        ip: IpAddr,
        conn_id: u64,
        direction: Direction,
        theirs: &Hello,
        reader: FramedRead<BoxRead, FrameCodec>,
        writer: WriterHandle,
        closer: Closer,
    ) -> Conn {
        Conn {
            ip,
            conn_id,
            direction,
            node_id: theirs.node_id,
            height: theirs.height,
            connects: 0,
            since: shared.clock.now(),
            reader,
            writer,
            closer,
            stats: Arc::new(PeerStats::default()),
        }
    }

    /// The registry's view of this connection: built from the same parts,
    /// so the two cannot disagree on who the peer is.
    pub fn entry(&self, listen_port: u16) -> PeerEntry {
        PeerEntry::new(
            self.conn_id,
            self.direction,
            self.node_id,
            listen_port,
            self.height,
            self.writer.clone(),
            self.closer.clone(),
            self.stats.clone(),
            self.since,
        )
    }
}

/// Run the connection until it closes, then unregister it and report why.
pub async fn run(shared: Arc<Shared>, mut c: Conn) {
    c.reader.decoder_mut().set_max_len(MAX_FRAME);
    let now_ms = shared.clock.wall_ms();
    c.stats.connected_at_ms.store(now_ms, Relaxed);
    c.stats.last_seen_ms.store(now_ms, Relaxed);
    super::metrics::NetMetrics::inc(&shared.metrics.connects_total);
    shared
        .events
        .record(EventKind::Connected, Some(c.ip), Some(c.direction), None);
    info!(ip = %c.ip, direction = ?c.direction, conn_id = c.conn_id, connects = c.connects, node_id = ?c.node_id, "peer connected");
    let connected = Inbound::PeerConnected {
        ip: c.ip,
        node_id: c.node_id,
        height: c.height,
    };
    let reason = if deliver(&shared, &c.closer, connected).await {
        super::discovery::spawn_query(shared.clone(), c.ip);
        actor_loop(&shared, &mut c).await
    } else {
        c.closer.reason().unwrap_or_else(|| "shutdown".into())
    };

    // Unregister first: from here on nobody can queue to this connection.
    c.closer.close(reason.clone());
    let removed = shared.registry.remove(c.ip, c.conn_id);
    drop(removed); // fails its pending requests with Closed
    if reason != "shutdown" {
        shared
            .book
            .record_disconnect(c.ip, shared.clock.now().duration_since(c.since));
    }
    shared.metrics.disconnected(&reason);
    shared.events.record(
        EventKind::Disconnected,
        Some(c.ip),
        Some(c.direction),
        Some(reason.clone()),
    );
    info!(ip = %c.ip, direction = ?c.direction, conn_id = c.conn_id, reason = %reason, "peer disconnected");
    // The app must see every disconnect (sync bookkeeping): wait for queue
    // space, but never past shutdown.
    tokio::select! {
        biased;
        _ = shared.inbound.send(Inbound::PeerDisconnected { ip: c.ip }) => {}
        _ = shared.shutdown.cancelled() => {}
    }
}

/// Hand `item` to the application, waiting for queue space (backpressure on
/// this peer's reader only), unless the connection closes meanwhile.
async fn deliver(shared: &Shared, closer: &Closer, item: Inbound) -> bool {
    tokio::select! {
        biased;
        r = shared.inbound.send(item) => r.is_ok(),
        _ = closer.closed() => false,
        _ = shared.shutdown.cancelled() => false,
    }
}

/// Pings in flight, oldest first. A pong for ANY of them proves the peer is
/// alive (and answers every older one): after a stall longer than the ping
/// interval the next tick may fire before an already-arrived pong is read,
/// and throwing that pong away as "unexpected" would count a live peer as
/// silent: the seeds' cycling bug, reintroduced by scheduling noise.
struct PingState {
    outstanding: std::collections::VecDeque<(u64, Instant)>,
    /// Consecutive ticks that found a ping still unanswered.
    missed: u32,
}

impl PingState {
    /// A pong arrived: `Some(rtt)` if it answers one of our pings.
    fn answered(&mut self, nonce: u64, now: Instant) -> Option<std::time::Duration> {
        let i = self.outstanding.iter().position(|(n, _)| *n == nonce)?;
        let sent = self.outstanding[i].1;
        self.outstanding.drain(..=i);
        self.missed = 0;
        Some(now.duration_since(sent))
    }
}

async fn actor_loop(shared: &Arc<Shared>, c: &mut Conn) -> String {
    let mut ticker = shared.clock.interval(PING_INTERVAL);
    let mut ping = PingState {
        outstanding: std::collections::VecDeque::new(),
        missed: 0,
    };
    loop {
        tokio::select! {
            biased;
            _ = c.closer.closed() => return c.closer.reason().unwrap_or_else(|| "closed".into()),
            _ = shared.shutdown.cancelled() => return "shutdown".into(),
            _ = ticker.tick() => {
                if !ping.outstanding.is_empty() {
                    ping.missed += 1;
                    if ping.missed >= MAX_MISSED_PONGS {
                        shared.registry.note_ping_timeout(c.ip);
                        super::metrics::NetMetrics::inc(&shared.metrics.ping_timeouts_total);
                        return "ping timeout".into();
                    }
                }
                let nonce = shared.rng.u64();
                if ping.outstanding.len() >= MAX_MISSED_PONGS as usize {
                    ping.outstanding.pop_front();
                }
                ping.outstanding.push_back((nonce, shared.clock.now()));
                c.stats.pings_sent.fetch_add(1, Relaxed);
                let _ = c.writer.try_send(encode(&NetworkMessage::Ping { nonce }));
            }
            frame = c.reader.next() => match frame {
                None => return "connection closed by peer".into(),
                Some(Err(FrameError::TooLong { max })) => {
                    shared.penalize(c.ip, MALFORMED_PENALTY, "frame too long");
                    return format!("frame too long: limit {max} bytes");
                }
                Some(Err(FrameError::Io(e))) => return format!("read error: {e}"),
                Some(Ok(frame)) => {
                    if let Some(reason) = handle_frame(shared, c, &frame, &mut ping).await {
                        return reason;
                    }
                }
            }
        }
    }
}

/// Dispatch one frame. `Some(reason)` closes the connection.
async fn handle_frame(
    shared: &Arc<Shared>,
    c: &mut Conn,
    frame: &[u8],
    ping: &mut PingState,
) -> Option<String> {
    c.stats.last_seen_ms.store(shared.clock.wall_ms(), Relaxed);
    super::metrics::NetMetrics::inc(&shared.metrics.frames_in_total);
    shared
        .metrics
        .bytes_in_total
        .fetch_add(frame.len() as u64 + 1, Relaxed);
    let msg = match decode(frame) {
        Ok(m) => m,
        Err(e) => {
            shared.penalize(c.ip, MALFORMED_PENALTY, "malformed frame");
            return Some(format!("malformed frame: {e}"));
        }
    };
    match msg {
        NetworkMessage::Ping { nonce } => {
            let _ = c.writer.try_send(encode(&NetworkMessage::Pong { nonce }));
        }
        NetworkMessage::Pong { nonce } => match ping.answered(nonce, shared.clock.now()) {
            Some(rtt) => {
                c.stats
                    .rtt_us
                    .store((rtt.as_micros() as u64).max(1), Relaxed);
                c.stats.pongs_received.fetch_add(1, Relaxed);
            }
            None => debug!(ip = %c.ip, nonce, "pong with an unknown nonce ignored"),
        },
        NetworkMessage::Request {
            id,
            body: Request::GetPeers,
        } => {
            let peers = shared.shareable_peers(c.ip);
            let reply = NetworkMessage::Response {
                id,
                body: Response::Peers { peers },
            };
            let _ = c.writer.try_send(encode(&reply));
        }
        NetworkMessage::Request { id, body } => {
            let req = Inbound::Request {
                from: c.ip,
                id,
                body,
            };
            if !deliver(shared, &c.closer, req).await {
                return Some(c.closer.reason().unwrap_or_else(|| "shutdown".into()));
            }
        }
        NetworkMessage::Response { id, body } => {
            if !shared.registry.complete(c.ip, c.conn_id, id, body) {
                debug!(ip = %c.ip, id, "response nobody waits for (late or unknown id) dropped");
            }
        }
        NetworkMessage::Reject { reason } => return Some(format!("rejected by peer: {reason}")),
        NetworkMessage::Handshake(_) | NetworkMessage::HandshakeAck(_) => {
            debug!(ip = %c.ip, "handshake frame after the handshake ignored");
        }
        NetworkMessage::Unknown => debug!(ip = %c.ip, "unknown message type ignored"),
        msg => {
            let item = Inbound::Message { from: c.ip, msg };
            if !deliver(shared, &c.closer, item).await {
                return Some(c.closer.reason().unwrap_or_else(|| "shutdown".into()));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_late_pong_for_an_older_ping_still_proves_liveness() {
        let t0 = Instant::now();
        let mut p = PingState {
            outstanding: [(1, t0), (2, t0)].into_iter().collect(),
            missed: 1,
        };
        // The pong of ping 1 is read only after ping 2 went out.
        assert!(p.answered(1, t0).is_some());
        assert_eq!(p.missed, 0);
        assert_eq!(p.outstanding.len(), 1, "ping 2 still in flight");
        // A pong for 2 answers it; an unknown nonce answers nothing.
        assert!(p.answered(99, t0).is_none());
        assert!(p.answered(2, t0).is_some());
        assert!(p.outstanding.is_empty());
    }

    #[test]
    fn a_pong_answers_every_older_ping_too() {
        let t0 = Instant::now();
        let mut p = PingState {
            outstanding: [(1, t0), (2, t0), (3, t0)].into_iter().collect(),
            missed: 2,
        };
        assert!(p.answered(2, t0).is_some());
        assert_eq!(
            p.outstanding.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            [3]
        );
    }
}
