//! The handshake: four frames, the acceptor silent until the first.
//!
//! 1. dialer -> `Handshake(Hello)`: its fields and a nonce drawn for this
//!    connection (the challenge for the acceptor).
//! 2. acceptor -> `HandshakeAuth{hello, proof}` once that Hello's fields
//!    check out ([`validate`]): its own Hello (with its own fresh nonce) and
//!    its proof over the dialer's nonce (see [`super::auth`]); or `Reject`.
//! 3. dialer -> `HandshakeProof{proof}` once the acceptor's proof verified:
//!    its proof over the acceptor's nonce; or `Reject`.
//! 4. acceptor -> `HandshakeAck` when the proof verified and the registry
//!    admitted the connection; or `Reject{reason}` and close.
//!
//! The acceptor sends NOTHING before a Hello whose fields match ours. One
//! deadline (`HANDSHAKE_TIMEOUT`, wall floor `HANDSHAKE_TIMEOUT_FLOOR`)
//! covers the whole exchange on each side. Until it completes the frame
//! limit is `MAX_FRAME_PRE_HANDSHAKE`.

use super::auth::{self, Role};
use super::metrics::NetMetrics;
use super::reason::RejectReason;
use super::views::Direction;
use super::{writer::WriterHandle, Shared};
use crate::chain::keys;
use crate::constants::{MAGIC, MAX_FRAME, PROTOCOL_VERSION};
use crate::wire::{decode, encode, FrameCodec, FrameError, Hello, NetworkMessage};
use ed25519_dalek::SigningKey;
use futures::StreamExt;
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio_util::codec::FramedRead;

/// Check a remote Hello's fields against ours (no proof yet). `Err` carries
/// the reject reason that is logged on both sides.
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
    // The id is our key: we reached ourselves (a peer claiming it without
    // the key only gets itself refused).
    if theirs.node_id == ours.node_id {
        return Err(RejectReason::SelfConnection);
    }
    if !auth::is_key(&theirs.node_id) {
        return Err(RejectReason::NodeIdNotAKey {
            node_id: theirs.node_id,
        });
    }
    Ok(())
}

/// Read the next frame of the handshake phase (the caller bounds the whole
/// exchange with the handshake deadline).
pub(crate) async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut FramedRead<R, FrameCodec>,
) -> Result<NetworkMessage, RejectReason> {
    match reader.next().await {
        None => Err(RejectReason::ClosedDuringHandshake),
        Some(Err(FrameError::TooLong { max })) => Err(RejectReason::HandshakeFrameTooLong { max }),
        Some(Err(FrameError::Io(e))) => Err(RejectReason::HandshakeRead(Arc::new(e))),
        Some(Ok(frame)) => {
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

/// How [`client`] failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The node refused us (its `Reject` text, as sent).
    #[error("rejected by peer: {0}")]
    Rejected(String),
    /// The node's side failed our checks, or the stream did.
    #[error(transparent)]
    Handshake(#[from] RejectReason),
    /// Writing to the stream failed.
    #[error("write: {0}")]
    Write(#[from] std::io::Error),
}

/// The dialer's side of the handshake over any stream, signing with `key`:
/// for tools and tests that talk to a node directly (the harness's protocol
/// faults, `node/tests`). Sends `hello` as is — its `node_id` should be
/// `key`'s and its `nonce` fresh (a node refuses an id `key` cannot prove) —
/// checks the node's fields and proof, sends ours and waits for the ack.
/// Returns the node's Hello; `reader`'s frame limit is then the
/// post-handshake one. No deadline of its own: wrap it in a timeout.
pub async fn client<R, W>(
    reader: &mut FramedRead<R, FrameCodec>,
    writer: &mut W,
    key: &SigningKey,
    hello: &Hello,
) -> Result<Hello, ClientError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    send(writer, &NetworkMessage::Handshake(hello.clone())).await?;
    let (theirs, proof) = match read_frame(reader).await? {
        NetworkMessage::HandshakeAuth { hello, proof } => (hello, proof),
        NetworkMessage::Reject { reason } => return Err(ClientError::Rejected(reason)),
        other => return Err(unexpected("handshake auth", &other).into()),
    };
    let ours = Hello {
        node_id: keys::node_id(key),
        ..hello.clone()
    };
    validate(&ours, &theirs)?;
    let theirs = auth::verify(
        theirs,
        Role::Acceptor,
        hello.nonce,
        &proof,
        &BTreeSet::new(),
    )?;
    let proof = auth::prove(key, Role::Dialer, hello, theirs.hello().nonce);
    send(writer, &NetworkMessage::HandshakeProof { proof }).await?;
    match read_frame(reader).await? {
        NetworkMessage::HandshakeAck => {}
        NetworkMessage::Reject { reason } => return Err(ClientError::Rejected(reason)),
        other => return Err(unexpected("handshake ack", &other).into()),
    }
    reader.decoder_mut().set_max_len(MAX_FRAME);
    Ok(theirs.hello().clone())
}

async fn send<W: AsyncWrite + Unpin>(w: &mut W, msg: &NetworkMessage) -> std::io::Result<()> {
    w.write_all(&encode(msg)).await?;
    w.flush().await
}

/// A first frame other than the one this step of the handshake expects.
pub(crate) fn unexpected(expected: &'static str, got: &NetworkMessage) -> RejectReason {
    RejectReason::Unexpected {
        expected,
        got: got.kind(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::types::{Hash, NodeId};

    pub fn hello(node: u8) -> Hello {
        Hello {
            magic: MAGIC,
            version: PROTOCOL_VERSION,
            network: "timenet".into(),
            genesis_hash: Hash([1; 32]),
            node_id: keys::node_id(&SigningKey::from_bytes(&[node; 32])),
            nonce: 5,
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
            (
                Hello {
                    node_id: NodeId([0; 32]),
                    ..hello(2)
                },
                "node id is not an ed25519 public key",
            ),
        ];
        for (h, want) in cases {
            let err = validate(&ours, &h).unwrap_err().to_string();
            assert!(err.starts_with(want), "{err}");
        }
    }
}
