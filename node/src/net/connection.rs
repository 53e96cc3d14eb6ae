//! The connection actor: one loop for inbound and outbound connections
//! alike, run once the handshake is done and the peer is registered.
//!
//! The reader is a `FramedRead` polled in `select!` next to the ping tick and
//! the close signal (cancel-safe: no `read_exact` in `select!`). Everything
//! it sends goes through the peer's writer task.

use super::closer::Closer;
use super::metrics::NetMetrics;
use super::peer::PeerInfo;
use super::reason::CloseReason;
use super::registry::PeerEntry;
use super::request_budget::Throttle;
use super::views::EventKind;
use super::{Inbound, Shared, MALFORMED_PENALTY};
use crate::clock::Instant;
use crate::constants::{MAX_FRAME, MAX_MISSED_PONGS, PING_INTERVAL, REQUEST_BUDGET_PENALTY};
use crate::wire::{decode, encode, FrameCodec, FrameError, NetworkMessage, Request, Response};
use futures::StreamExt;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use tokio::io::AsyncRead;
use tokio_util::codec::FramedRead;
use tracing::{debug, info};

pub type BoxRead = Box<dyn AsyncRead + Send + Unpin>;

/// A registered connection, ready to run.
pub struct Conn {
    pub info: PeerInfo,
    /// How many connections to this IP were established since start
    /// (this one included), set once the registry took it.
    pub connects: u64,
    pub reader: FramedRead<BoxRead, FrameCodec>,
}

impl Conn {
    /// The actor's state for a connection whose handshake just succeeded,
    /// in either direction.
    pub fn new(info: PeerInfo, reader: FramedRead<BoxRead, FrameCodec>) -> Conn {
        Conn {
            info,
            connects: 0,
            reader,
        }
    }

    /// The registry's view of this connection: the same [`PeerInfo`].
    pub fn entry(&self) -> PeerEntry {
        PeerEntry::new(self.info.clone())
    }
}

/// Run the connection until it closes, then unregister it and report why.
pub async fn run(shared: Arc<Shared>, mut c: Conn) {
    c.reader.decoder_mut().set_max_len(MAX_FRAME);
    let now_ms = shared.clock.wall_ms();
    c.info.stats.connected_at_ms.store(now_ms, Relaxed);
    c.info.stats.last_seen_ms.store(now_ms, Relaxed);
    super::metrics::NetMetrics::inc(&shared.metrics.connects_total);
    shared.events.record(
        EventKind::Connected,
        Some(c.info.ip),
        Some(c.info.direction),
        None,
    );
    info!(ip = %c.info.ip, direction = ?c.info.direction, conn_id = c.info.conn_id, connects = c.connects, node_id = ?c.info.node_id, "peer connected");
    let connected = Inbound::PeerConnected {
        ip: c.info.ip,
        node_id: c.info.node_id,
        height: c.info.handshake_height,
    };
    let reason = if deliver(&shared, &c.info.closer, connected).await {
        super::discovery::spawn_query(shared.clone(), c.info.ip);
        actor_loop(&shared, &mut c).await
    } else {
        c.info.closer.reason().unwrap_or(CloseReason::Shutdown)
    };

    // The address book before the registry: once the IP is free, a dial
    // tick must already see this close's backoff, not the old one.
    c.info.closer.close(reason.clone());
    if reason.counts_against_peer() {
        shared
            .book
            .record_disconnect(c.info.ip, shared.clock.now().duration_since(c.info.since));
    }
    // Unregister: from here on nobody can queue to this connection.
    let removed = shared.registry.remove(c.info.ip, c.info.conn_id);
    drop(removed); // fails its pending requests with Closed
    shared.metrics.disconnected(&reason);
    shared.events.record(
        EventKind::Disconnected,
        Some(c.info.ip),
        Some(c.info.direction),
        Some(reason.to_string()),
    );
    info!(ip = %c.info.ip, direction = ?c.info.direction, conn_id = c.info.conn_id, reason = %reason, "peer disconnected");
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

async fn actor_loop(shared: &Arc<Shared>, c: &mut Conn) -> CloseReason {
    let mut ticker = shared.clock.interval(PING_INTERVAL);
    let mut ping = PingState {
        outstanding: std::collections::VecDeque::new(),
        missed: 0,
    };
    loop {
        tokio::select! {
            biased;
            _ = c.info.closer.closed() => return c.info.closer.reason().unwrap_or(CloseReason::Closed),
            _ = shared.shutdown.cancelled() => return CloseReason::Shutdown,
            _ = ticker.tick() => {
                if !ping.outstanding.is_empty() {
                    ping.missed += 1;
                    if ping.missed >= MAX_MISSED_PONGS {
                        shared.registry.note_ping_timeout(c.info.ip);
                        super::metrics::NetMetrics::inc(&shared.metrics.ping_timeouts_total);
                        return CloseReason::PingTimeout;
                    }
                }
                let nonce = shared.rng.u64();
                if ping.outstanding.len() >= MAX_MISSED_PONGS as usize {
                    ping.outstanding.pop_front();
                }
                ping.outstanding.push_back((nonce, shared.clock.now()));
                c.info.stats.pings_sent.fetch_add(1, Relaxed);
                let _ = c.info.writer.try_send(encode(&NetworkMessage::Ping { nonce }));
            }
            frame = c.reader.next() => match frame {
                None => return CloseReason::ClosedByPeer,
                Some(Err(FrameError::TooLong { max })) => {
                    shared.penalize(c.info.ip, MALFORMED_PENALTY, "frame too long");
                    return CloseReason::FrameTooLong { max };
                }
                Some(Err(FrameError::Io(e))) => return CloseReason::Read(Arc::new(e)),
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
) -> Option<CloseReason> {
    c.info
        .stats
        .last_seen_ms
        .store(shared.clock.wall_ms(), Relaxed);
    super::metrics::NetMetrics::inc(&shared.metrics.frames_in_total);
    shared
        .metrics
        .bytes_in_total
        .fetch_add(frame.len() as u64 + 1, Relaxed);
    let msg = match decode(frame) {
        Ok(m) => m,
        Err(e) => {
            shared.penalize(c.info.ip, MALFORMED_PENALTY, "malformed frame");
            return Some(CloseReason::Malformed(Arc::new(e)));
        }
    };
    match msg {
        NetworkMessage::Ping { nonce } => {
            let _ = c
                .info
                .writer
                .try_send(encode(&NetworkMessage::Pong { nonce }));
        }
        NetworkMessage::Pong { nonce } => match ping.answered(nonce, shared.clock.now()) {
            Some(rtt) => {
                shared.metrics.ping_rtt.0.observe(rtt);
                c.info
                    .stats
                    .rtt_us
                    .store((rtt.as_micros() as u64).max(1), Relaxed);
                c.info.stats.pongs_received.fetch_add(1, Relaxed);
            }
            None => debug!(ip = %c.info.ip, nonce, "pong with an unknown nonce ignored"),
        },
        NetworkMessage::Request {
            id,
            body: Request::GetPeers,
        } => {
            let peers = shared.shareable_peers(c.info.ip);
            let reply = NetworkMessage::Response {
                id,
                body: Response::Peers { peers },
            };
            answer_here(shared, c, encode(&reply));
        }
        NetworkMessage::Request {
            id,
            body: Request::Unknown,
        } => {
            let reply = NetworkMessage::Response {
                id,
                body: Response::Error {
                    reason: "unknown request kind".into(),
                },
            };
            answer_here(shared, c, encode(&reply));
        }
        NetworkMessage::Request { id, body } => {
            match admit(shared, &c.info).await {
                None => return Some(c.info.closer.reason().unwrap_or(CloseReason::Shutdown)),
                Some(Err(cause)) => {
                    shared.penalize(c.info.ip, REQUEST_BUDGET_PENALTY, "request budget exceeded");
                    return Some(CloseReason::RequestBudget(cause));
                }
                Some(Ok(())) => {}
            }
            let req = Inbound::Request {
                from: c.info.ip,
                id,
                body,
            };
            if !deliver(shared, &c.info.closer, req).await {
                return Some(c.info.closer.reason().unwrap_or(CloseReason::Shutdown));
            }
        }
        NetworkMessage::Response { id, body } => {
            if !shared
                .registry
                .complete(c.info.ip, c.info.conn_id, id, body)
            {
                debug!(ip = %c.info.ip, id, "response nobody waits for (late or unknown id) dropped");
            }
        }
        NetworkMessage::Reject { reason } => return Some(CloseReason::RejectedByPeer(reason)),
        NetworkMessage::Handshake(_)
        | NetworkMessage::HandshakeAuth { .. }
        | NetworkMessage::HandshakeProof { .. }
        | NetworkMessage::HandshakeAck => {
            debug!(ip = %c.info.ip, "handshake frame after the handshake ignored");
        }
        NetworkMessage::Unknown => debug!(ip = %c.info.ip, "unknown message type ignored"),
        msg => {
            let item = Inbound::Message {
                from: c.info.ip,
                msg,
            };
            if !deliver(shared, &c.info.closer, item).await {
                return Some(c.info.closer.reason().unwrap_or(CloseReason::Shutdown));
            }
        }
    }
    None
}

/// An answer the net layer gives itself (GetPeers, an unknown kind):
/// charged to the peer's budget like the chain service's answers.
fn answer_here(shared: &Shared, c: &Conn, frame: bytes::Bytes) {
    c.info.budget.charge(shared.clock.now(), frame.len());
    let _ = c.info.writer.try_send(frame);
}

/// Wait until the peer's request budget lets one more request through to
/// the chain service. Outer `None`: the connection closed (or the node stops)
/// meanwhile; `Some(Err)`: the peer left its answers unread too long.
async fn admit(shared: &Shared, info: &PeerInfo) -> Option<Result<(), Throttle>> {
    let waited = info.budget.admit(
        &shared.clock,
        || info.writer.queued_bytes(),
        |cause| {
            NetMetrics::inc(&shared.metrics.requests_throttled_total);
            debug!(ip = %info.ip, cause = %cause, "request throttled");
        },
    );
    tokio::select! {
        biased;
        _ = info.closer.closed() => None,
        _ = shared.shutdown.cancelled() => None,
        r = waited => Some(r),
    }
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
