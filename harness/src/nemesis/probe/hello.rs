//! The harness's half of the node handshake, impersonating a node: THE one
//! place a probe's Hello is built, and where its answer is read.
//!
//! Only [`hello_frame`] knows what a Hello holds: when the handshake gains
//! fields (a signature by the node key), they are added there, with
//! [`Identity::key`] at hand.

use crate::observe::model::Answer;
use bytes::Bytes;
use ed25519_dalek::SigningKey;
use futures::StreamExt;
use std::net::IpAddr;
use std::time::Duration;
use timed::chain::types::Hash;
use timed::constants::{MAGIC, MAX_FRAME_PRE_HANDSHAKE, PROTOCOL_VERSION};
use timed::wire::{decode, encode, FrameCodec, Hello, NetworkMessage};
use tokio::io::AsyncRead;
use tokio_util::codec::FramedRead;

/// Who the harness speaks as: a node of the run, from its testnet.
#[derive(Clone, Debug)]
pub struct Identity {
    pub ip: IpAddr,
    /// P2P port it listens on (others dial it there).
    pub p2p_port: u16,
    /// Its testnet node key (`node_id` is its public half).
    pub key: SigningKey,
    pub network: String,
    pub genesis_hash: Hash,
}

/// The `Handshake(Hello)` frame `who` sends first on a dial it made.
/// `nonce` must differ from the dialed node's own (a fresh random one).
pub fn hello_frame(who: &Identity, nonce: u64) -> Bytes {
    encode(&NetworkMessage::Handshake(Hello {
        magic: MAGIC,
        version: PROTOCOL_VERSION,
        network: who.network.clone(),
        genesis_hash: who.genesis_hash,
        node_id: timed::keys::node_id(&who.key),
        nonce,
        listen_port: who.p2p_port,
        height: 0,
    }))
}

/// The first frame the dialed node sends back, within `limit` (wall).
pub async fn read_answer<R: AsyncRead + Unpin>(read: R, limit: Duration) -> Answer {
    let mut frames = FramedRead::new(read, FrameCodec::new(MAX_FRAME_PRE_HANDSHAKE));
    match tokio::time::timeout(limit, frames.next()).await {
        Err(_) => Answer::Silent,
        // EOF or a reset: the node closed without a word.
        Ok(None) | Ok(Some(Err(_))) => Answer::Closed,
        Ok(Some(Ok(frame))) => match decode(&frame) {
            Ok(NetworkMessage::HandshakeAck(_)) => Answer::Ack,
            Ok(NetworkMessage::Reject { reason }) => Answer::Reject { reason },
            Ok(other) => Answer::Failed {
                error: format!("unexpected first frame `{}`", other.kind()),
            },
            Err(e) => Answer::Failed {
                error: format!("undecodable first frame: {e}"),
            },
        },
    }
}
