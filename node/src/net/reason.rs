//! Why a connection ended or a handshake was refused: typed outcomes, in the
//! style of zebra-network's `PeerError`.
//!
//! Control flow decides on the variant (e.g. [`RejectReason::event_kind`]);
//! `Display` yields the contract strings that `/events`, `/metrics` labels,
//! the logs and the peer's `Reject` frame show, and is used only there.

use super::request_budget::Throttle;
use super::views::EventKind;
use crate::chain::types::{Hash, NodeId};
use crate::constants::{MAGIC, PROTOCOL_VERSION};
use std::sync::Arc;

/// Why an established connection closed (the `reason` of a `disconnected`
/// event). Cheap to clone: the first reason set on a connection is read by
/// its actor, the event log and the metrics.
#[derive(Clone, Debug, thiserror::Error)]
pub enum CloseReason {
    /// The node is shutting down (or the application stopped reading).
    #[error("shutdown")]
    Shutdown,
    /// The close signal fired without a reason (never expected; kept so the
    /// actor always has something to report).
    #[error("closed")]
    Closed,
    /// `MAX_MISSED_PONGS` consecutive pings went unanswered.
    #[error("ping timeout")]
    PingTimeout,
    /// The peer closed its side (EOF on our reader).
    #[error("connection closed by peer")]
    ClosedByPeer,
    /// A frame longer than the post-handshake limit.
    #[error("frame too long: limit {max} bytes")]
    FrameTooLong {
        /// The limit in bytes.
        max: usize,
    },
    /// A frame that does not decode as a `NetworkMessage`.
    #[error("malformed frame: {0}")]
    Malformed(Arc<serde_json::Error>),
    /// The socket failed while we read from it.
    #[error("read error: {0}")]
    Read(Arc<std::io::Error>),
    /// The socket failed while the writer task wrote to it.
    #[error("write error: {0}")]
    Write(Arc<std::io::Error>),
    /// A batch of frames did not drain within the write deadline: the peer
    /// does not read.
    #[error("write timeout")]
    WriteTimeout,
    /// The peer sent a `Reject` frame after the handshake (its text, as sent).
    #[error("rejected by peer: {0}")]
    RejectedByPeer(String),
    /// We banned the peer's IP for misbehaviour (the offence, as reported).
    #[error("banned: {0}")]
    Banned(String),
    /// Our dial got its ack after an inbound from the same peer took the
    /// slot (simultaneous open, resolved for the inbound).
    #[error("superseded by inbound (simultaneous open)")]
    SupersededByInbound,
    /// The peer kept asking while it left its answers unread past the
    /// throttle limit (see `net::request_budget`).
    #[error("request budget exceeded: {0}")]
    RequestBudget(Throttle),
}

impl CloseReason {
    /// The `/metrics` label of this reason: its kind without the details
    /// (`timed_disconnects_total{reason="..."}`).
    pub fn category(&self) -> &'static str {
        match self {
            CloseReason::Shutdown => "shutdown",
            CloseReason::Closed => "closed",
            CloseReason::PingTimeout => "ping timeout",
            CloseReason::ClosedByPeer => "connection closed by peer",
            CloseReason::FrameTooLong { .. } => "frame too long",
            CloseReason::Malformed(_) => "malformed frame",
            CloseReason::Read(_) => "read error",
            CloseReason::Write(_) => "write error",
            CloseReason::WriteTimeout => "write timeout",
            CloseReason::RejectedByPeer(_) => "rejected by peer",
            CloseReason::Banned(_) => "banned",
            CloseReason::SupersededByInbound => "superseded by inbound (simultaneous open)",
            CloseReason::RequestBudget(_) => "request budget exceeded",
        }
    }

    /// Whether the peer had a part in the close, so the address book counts
    /// it against the peer's health (our own shutdown does not).
    pub fn counts_against_peer(&self) -> bool {
        !matches!(self, CloseReason::Shutdown)
    }
}

/// Why a handshake was refused, by either side (the `reason` of a
/// `handshake_rejected` / `rejected_duplicate` event and the text of the
/// `Reject` frame we send).
#[derive(Clone, Debug, thiserror::Error)]
pub enum RejectReason {
    /// The Hello's magic is not ours.
    #[error("magic mismatch: ours {:#x} theirs {theirs:#x}", MAGIC)]
    MagicMismatch {
        /// The peer's magic.
        theirs: u32,
    },
    /// The Hello's protocol version is not ours.
    #[error("version mismatch: ours {} theirs {theirs}", PROTOCOL_VERSION)]
    VersionMismatch {
        /// The peer's version.
        theirs: u32,
    },
    /// The peer is on another network.
    #[error("network mismatch: ours {ours} theirs {theirs}")]
    NetworkMismatch {
        /// Our network name.
        ours: String,
        /// The peer's network name.
        theirs: String,
    },
    /// The peer has another genesis block.
    #[error("genesis mismatch: ours {ours} theirs {theirs}")]
    GenesisMismatch {
        /// Our genesis hash.
        ours: Hash,
        /// The peer's genesis hash.
        theirs: Hash,
    },
    /// The Hello carries our own node id: we reached ourselves.
    #[error("self connection")]
    SelfConnection,
    /// The Hello's node id is not a usable ed25519 public key, so it can
    /// never be proven.
    #[error("node id is not an ed25519 public key: {node_id}")]
    NodeIdNotAKey {
        /// The id as claimed.
        node_id: NodeId,
    },
    /// The peer's identity proof does not verify: not signed by the key
    /// its node id names, or over another nonce (a replayed handshake), or
    /// over other Hello fields.
    #[error("bad identity proof from node {node_id}")]
    BadProof {
        /// The id as claimed.
        node_id: NodeId,
    },
    /// Like [`RejectReason::BadProof`] for an id that is a genesis
    /// masternode's: someone without that masternode's key claims to be it.
    #[error("bad identity proof: claims genesis masternode {node_id} without its key")]
    MasternodeImpostor {
        /// The masternode id as claimed.
        node_id: NodeId,
    },
    /// No handshake frame within the handshake deadline.
    #[error("handshake timeout")]
    HandshakeTimeout,
    /// The peer closed the socket before its handshake frame.
    #[error("connection closed during handshake")]
    ClosedDuringHandshake,
    /// The handshake frame exceeded the pre-handshake limit.
    #[error("handshake frame too long (> {max} bytes)")]
    HandshakeFrameTooLong {
        /// The limit in bytes.
        max: usize,
    },
    /// The socket failed during the handshake.
    #[error("read error during handshake: {0}")]
    HandshakeRead(Arc<std::io::Error>),
    /// The handshake frame does not decode.
    #[error("malformed handshake frame: {0}")]
    MalformedHandshake(Arc<serde_json::Error>),
    /// The first frame was a message other than the one the handshake
    /// expects here.
    #[error("expected {expected}, got {got}")]
    Unexpected {
        /// What this side waits for ("handshake" or "handshake ack").
        expected: &'static str,
        /// The message kind that came instead.
        got: &'static str,
    },
    /// A frame pipelined right behind the Hello exceeded the limit.
    #[error("frame too long: limit {max} bytes")]
    FrameTooLong {
        /// The limit in bytes.
        max: usize,
    },
    /// We are shutting down.
    #[error("shutdown")]
    Shutdown,
    /// The peer's IP already has an established connection (never replaced).
    #[error("duplicate: already connected")]
    DuplicateConnected,
    /// Both sides dialled and reached the handshake; the tie-break keeps the
    /// connection dialled by the lower node id, which is ours.
    #[error("duplicate: simultaneous open, keeping our outbound")]
    DuplicateSimultaneous,
    /// `MAX_INBOUND_PEERS` inbound connections are established.
    #[error("too many inbound peers")]
    TooManyInbound,
}

impl RejectReason {
    /// The event this refusal is recorded as: a duplicate is a tie-break,
    /// not a handshake failure.
    pub fn event_kind(&self) -> EventKind {
        if self.is_duplicate() {
            EventKind::RejectedDuplicate
        } else {
            EventKind::HandshakeRejected
        }
    }

    /// A refusal for a second connection to an IP (not a failure of the
    /// peer: its dial simply lost to another connection).
    pub fn is_duplicate(&self) -> bool {
        matches!(
            self,
            RejectReason::DuplicateConnected | RejectReason::DuplicateSimultaneous
        )
    }

    /// The reasons a dialer acts on when a peer sends them in a `Reject`
    /// frame; every other text is logged as sent.
    const ACTIONABLE: [RejectReason; 3] = [
        RejectReason::DuplicateConnected,
        RejectReason::DuplicateSimultaneous,
        RejectReason::SelfConnection,
    ];

    /// Decode the text of a peer's `Reject` frame, at the wire edge: the
    /// reasons a dialer acts on, recognised by their exact contract text.
    /// `None` for anything else (a reason to log, not to act on).
    pub fn from_peer(text: &str) -> Option<RejectReason> {
        Self::ACTIONABLE
            .into_iter()
            .find(|r| r.to_string().as_str() == text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The contract strings the API, the logs and peers see.
    #[test]
    fn display_gives_the_contract_strings() {
        let io = || Arc::new(std::io::Error::other("boom"));
        let close = [
            (CloseReason::Shutdown, "shutdown", "shutdown"),
            (CloseReason::PingTimeout, "ping timeout", "ping timeout"),
            (
                CloseReason::ClosedByPeer,
                "connection closed by peer",
                "connection closed by peer",
            ),
            (
                CloseReason::FrameTooLong { max: 7 },
                "frame too long: limit 7 bytes",
                "frame too long",
            ),
            (CloseReason::Read(io()), "read error: boom", "read error"),
            (CloseReason::Write(io()), "write error: boom", "write error"),
            (CloseReason::WriteTimeout, "write timeout", "write timeout"),
            (
                CloseReason::RejectedByPeer("x: y".into()),
                "rejected by peer: x: y",
                "rejected by peer",
            ),
            (
                CloseReason::Banned("malformed frame".into()),
                "banned: malformed frame",
                "banned",
            ),
            (
                CloseReason::RequestBudget(Throttle::Unread),
                "request budget exceeded: answers not read",
                "request budget exceeded",
            ),
            (
                CloseReason::SupersededByInbound,
                "superseded by inbound (simultaneous open)",
                "superseded by inbound (simultaneous open)",
            ),
        ];
        for (r, text, label) in close {
            assert_eq!(r.to_string(), text);
            assert_eq!(r.category(), label);
        }
        assert_eq!(
            RejectReason::Unexpected {
                expected: "handshake ack",
                got: "ping"
            }
            .to_string(),
            "expected handshake ack, got ping"
        );
        assert_eq!(
            RejectReason::MagicMismatch { theirs: 1 }.to_string(),
            format!("magic mismatch: ours {MAGIC:#x} theirs 0x1")
        );
    }

    #[test]
    fn the_event_kind_follows_from_the_variant() {
        assert_eq!(
            RejectReason::DuplicateConnected.event_kind(),
            EventKind::RejectedDuplicate
        );
        assert_eq!(
            RejectReason::DuplicateSimultaneous.event_kind(),
            EventKind::RejectedDuplicate
        );
        assert_eq!(
            RejectReason::TooManyInbound.event_kind(),
            EventKind::HandshakeRejected
        );
        assert_eq!(
            RejectReason::SelfConnection.event_kind(),
            EventKind::HandshakeRejected
        );
        assert!(CloseReason::PingTimeout.counts_against_peer());
        assert!(!CloseReason::Shutdown.counts_against_peer());
    }

    #[test]
    fn a_peers_reject_text_decodes_only_when_exact() {
        for r in RejectReason::ACTIONABLE {
            let back = RejectReason::from_peer(&r.to_string()).unwrap();
            assert_eq!(back.to_string(), r.to_string());
        }
        assert!(RejectReason::from_peer("too many inbound peers").is_none());
        assert!(RejectReason::from_peer("duplicate").is_none());
        assert!(RejectReason::from_peer("self connection ").is_none());
    }
}
