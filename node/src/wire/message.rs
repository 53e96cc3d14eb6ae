//! `NetworkMessage`: every frame on the wire, one JSON object per line.
//!
//! Requests carry an `id` and their responses echo it: the registry routes a
//! response to its waiting caller by id alone, never by message type (the
//! origin project's LIFO/type matching was a known source of crossed answers).
//! A frame with a `type` we do not know decodes as [`NetworkMessage::Unknown`]
//! and is ignored, so newer peers can add message types.

use crate::chain::types::{Block, Hash, NodeId, Sig, Transaction};
use crate::chain::votes::ConsensusMessage;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// What each side of a handshake says about itself (the dialer's first
/// frame; the acceptor's in its `HandshakeAuth`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub magic: u32,
    pub version: u32,
    pub network: String,
    pub genesis_hash: Hash,
    /// The sender's ed25519 public key: proven by the handshake's proofs.
    pub node_id: NodeId,
    /// Random per connection: the challenge the OTHER side signs.
    pub nonce: u64,
    pub listen_port: u16,
    pub height: u64,
}

/// A dialable peer as gossiped by discovery.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PeerAddr {
    pub ip: IpAddr,
    pub port: u16,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Request {
    GetPeers,
    /// Height and hash of the peer's tip.
    GetTip,
    GetBlockHash {
        height: u64,
    },
    /// Up to `count` finalized blocks starting at `from`.
    GetBlocks {
        from: u64,
        count: u64,
    },
    GetPendingTransactions,
    GetMasternodes,
    /// Any request `kind` this version does not know: the network layer
    /// answers it with `Response::Error`; the connection stays up.
    #[serde(other)]
    Unknown,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Response {
    Peers {
        peers: Vec<PeerAddr>,
    },
    Tip {
        height: u64,
        hash: Hash,
    },
    BlockHash {
        height: u64,
        hash: Option<Hash>,
    },
    Blocks {
        blocks: Vec<Block>,
    },
    PendingTransactions {
        txs: Vec<Transaction>,
    },
    Masternodes {
        masternodes: Vec<MasternodeInfo>,
    },
    /// The request was understood but cannot be answered.
    Error {
        reason: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MasternodeInfo {
    pub node_id: NodeId,
    pub tier: String,
    pub weight: u64,
    pub ip: Option<IpAddr>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum NetworkMessage {
    /// Handshake step 1, dialer -> acceptor.
    Handshake(Hello),
    /// Handshake step 2, acceptor -> dialer: its Hello and its proof over
    /// the dialer's nonce (`net::auth`).
    HandshakeAuth {
        hello: Hello,
        proof: Sig,
    },
    /// Handshake step 3, dialer -> acceptor: its proof over the acceptor's
    /// nonce.
    HandshakeProof {
        proof: Sig,
    },
    /// Handshake step 4, acceptor -> dialer: proven and registered.
    HandshakeAck,
    /// Sent instead of an ack (or before closing) so the other side can log why.
    Reject {
        reason: String,
    },
    Ping {
        nonce: u64,
    },
    Pong {
        nonce: u64,
    },
    Request {
        id: u64,
        body: Request,
    },
    Response {
        id: u64,
        body: Response,
    },
    /// A newly finalized block (with its commit).
    BlockAnnouncement {
        block: Block,
    },
    Transaction {
        tx: Transaction,
    },
    MasternodeAnnouncement {
        info: MasternodeInfo,
    },
    Consensus {
        msg: ConsensusMessage,
    },
    /// Any `type` this version does not know: ignored by the receiver.
    #[serde(other)]
    Unknown,
}

impl NetworkMessage {
    /// Short name for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            NetworkMessage::Handshake(_) => "handshake",
            NetworkMessage::HandshakeAuth { .. } => "handshake_auth",
            NetworkMessage::HandshakeProof { .. } => "handshake_proof",
            NetworkMessage::HandshakeAck => "handshake_ack",
            NetworkMessage::Reject { .. } => "reject",
            NetworkMessage::Ping { .. } => "ping",
            NetworkMessage::Pong { .. } => "pong",
            NetworkMessage::Request { .. } => "request",
            NetworkMessage::Response { .. } => "response",
            NetworkMessage::BlockAnnouncement { .. } => "block_announcement",
            NetworkMessage::Transaction { .. } => "transaction",
            NetworkMessage::MasternodeAnnouncement { .. } => "masternode_announcement",
            NetworkMessage::Consensus { .. } => "consensus",
            NetworkMessage::Unknown => "unknown",
        }
    }
}
