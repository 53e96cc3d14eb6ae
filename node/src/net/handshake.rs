//! The handshake: the first frame each way.
//!
//! The dialer sends `Handshake(Hello)` first. The acceptor sends NOTHING
//! until it has read and validated that Hello; then it answers
//! `HandshakeAck(Hello)` or `Reject{reason}` and closes. Until the
//! handshake completes the frame limit is `MAX_FRAME_PRE_HANDSHAKE`.

use super::metrics::NetMetrics;
use super::reason::RejectReason;
use super::views::Direction;
use super::{writer::WriterHandle, Shared};
use crate::clock::Clock;
use crate::constants::{MAGIC, PROTOCOL_VERSION};
use crate::wire::{decode, encode, FrameCodec, FrameError, Hello, NetworkMessage};
use futures::StreamExt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncRead;
use tokio_util::codec::FramedRead;

/// Check a remote Hello against ours. `Err` carries the reject reason that
/// is logged on both sides.
pub fn validate(ours: &Hello, theirs: &Hello) -> Result<(), RejectReason> {
    if theirs.magic != MAGIC {
        return Err(RejectReason::MagicMismatch {
            theirs: theirs.magic,
        });
    }
    if theirs.version != PROTOCOL_VERSION {
        return Err(RejectReason::VersionMismatch {
            theirs: theirs.version,
        });
    }
    if theirs.network != ours.network {
        return Err(RejectReason::NetworkMismatch {
            ours: ours.network.clone(),
            theirs: theirs.network.clone(),
        });
    }
    if theirs.genesis_hash != ours.genesis_hash {
        return Err(RejectReason::GenesisMismatch {
            ours: ours.genesis_hash,
            theirs: theirs.genesis_hash,
        });
    }
    if theirs.nonce == ours.nonce {
        return Err(RejectReason::SelfConnection);
    }
    Ok(())
}

/// Read the one frame of the handshake phase within `deadline`.
pub(crate) async fn read_first<R: AsyncRead + Unpin>(
    clock: &Clock,
    reader: &mut FramedRead<R, FrameCodec>,
    deadline: Duration,
) -> Result<NetworkMessage, RejectReason> {
    match clock.timeout(deadline, reader.next()).await {
        Err(_) => Err(RejectReason::HandshakeTimeout),
        Ok(None) => Err(RejectReason::ClosedDuringHandshake),
        Ok(Some(Err(FrameError::TooLong { max }))) => {
            Err(RejectReason::HandshakeFrameTooLong { max })
        }
        Ok(Some(Err(FrameError::Io(e)))) => Err(RejectReason::HandshakeRead(Arc::new(e))),
        Ok(Some(Ok(frame))) => {
            decode(&frame).map_err(|e| RejectReason::MalformedHandshake(Arc::new(e)))
        }
    }
}

/// Refuse the other side's handshake: tell it why (a `Reject` frame, flushed
/// as the writer drains), count it and record the event, whose kind follows
/// from the reason. Logging is the caller's (each side says it its way).
pub(super) fn reject(
    shared: &Shared,
    ip: IpAddr,
    direction: Direction,
    writer: &WriterHandle,
    reason: &RejectReason,
) {
    let _ = writer.try_send(encode(&NetworkMessage::Reject {
        reason: reason.to_string(),
    }));
    NetMetrics::inc(&shared.metrics.handshake_rejects_total);
    shared.events.record(
        reason.event_kind(),
        Some(ip),
        Some(direction),
        Some(reason.to_string()),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::types::{Hash, NodeId};

    pub fn hello(nonce: u64) -> Hello {
        Hello {
            magic: MAGIC,
            version: PROTOCOL_VERSION,
            network: "timenet".into(),
            genesis_hash: Hash([1; 32]),
            node_id: NodeId([2; 32]),
            nonce,
            listen_port: 24100,
            height: 0,
        }
    }

    #[test]
    fn each_mismatch_has_its_reason() {
        let ours = hello(1);
        assert!(validate(&ours, &hello(2)).is_ok());
        let cases: Vec<(Hello, &str)> = vec![
            (
                Hello {
                    magic: 1,
                    ..hello(2)
                },
                "magic mismatch",
            ),
            (
                Hello {
                    version: 9,
                    ..hello(2)
                },
                "version mismatch",
            ),
            (
                Hello {
                    network: "x".into(),
                    ..hello(2)
                },
                "network mismatch",
            ),
            (
                Hello {
                    genesis_hash: Hash([9; 32]),
                    ..hello(2)
                },
                "genesis mismatch: ours 0101",
            ),
            (hello(1), "self connection"),
        ];
        for (h, want) in cases {
            let err = validate(&ours, &h).unwrap_err().to_string();
            assert!(err.starts_with(want), "{err}");
        }
    }
}
