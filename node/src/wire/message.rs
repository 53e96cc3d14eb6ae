//! `NetworkMessage`: every frame on the wire, one JSON object per line.
//!
//! Requests carry an `id` and their responses echo it: the registry routes a
//! response to its waiting caller by id alone, never by message type (the
//! origin project's LIFO/type matching was a known source of crossed answers).
//! A frame with a `type` we do not know decodes as [`NetworkMessage::Unknown`]
//! and is ignored, so newer peers can add message types.

use crate::chain::types::{Block, Hash, NodeId, Sig, Transaction};
use crate::chain::votes::ConsensusMessage;
use crate::constants::{MAX_INBOUND_PEERS, MAX_OUTBOUND_PEERS};
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

/// The peers an author sent its consensus message to: the first 8 bytes
/// of each node id, sorted, on the wire as one hex string of 16 digits per
/// peer (a 99-peer list is 1.6 kB, where 99 full ids would be 6.5 kB).
/// Two ids sharing a prefix only make a relay skip a peer; the stuck-height
/// fallback (`node::gossip`) still reaches it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recipients(Vec<u64>);

impl Recipients {
    /// Most peers a list may name: every slot a node has, in and out.
    pub const MAX: usize = MAX_INBOUND_PEERS + MAX_OUTBOUND_PEERS;

    pub fn of<'a>(ids: impl IntoIterator<Item = &'a NodeId>) -> Recipients {
        let mut v: Vec<u64> = ids.into_iter().map(Self::tag).collect();
        v.sort_unstable();
        v.dedup();
        Recipients(v)
    }

    pub fn names(&self, id: &NodeId) -> bool {
        self.0.binary_search(&Self::tag(id)).is_ok()
    }

    fn tag(id: &NodeId) -> u64 {
        u64::from_be_bytes(id.0[..8].try_into().expect("a node id has 32 bytes"))
    }
}

impl Serialize for Recipients {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut hex = String::with_capacity(16 * self.0.len());
        for t in &self.0 {
            hex.push_str(&format!("{t:016x}"));
        }
        s.serialize_str(&hex)
    }
}

impl<'de> Deserialize<'de> for Recipients {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let hex = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        if hex.len() % 16 != 0 || hex.len() / 16 > Self::MAX {
            return Err(D::Error::custom(format!(
                "sent_to: {} hex digits, not 16 per peer for at most {} peers",
                hex.len(),
                Self::MAX
            )));
        }
        let mut v = Vec::with_capacity(hex.len() / 16);
        for chunk in hex.as_bytes().chunks(16) {
            let digits = std::str::from_utf8(chunk).map_err(D::Error::custom)?;
            v.push(u64::from_str_radix(digits, 16).map_err(D::Error::custom)?);
        }
        // Sorted on the way out; a peer's unsorted list is sorted here so
        // `names` stays a binary search.
        v.sort_unstable();
        Ok(Recipients(v))
    }
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
    /// A newly finalized block (with its commit). This version sends
    /// [`NetworkMessage::NewTip`] instead and still applies an announced
    /// block, so older peers in a rolling upgrade keep it informed.
    BlockAnnouncement {
        block: Block,
    },
    /// The sender just finalized the block at `height` (by consensus or
    /// from such a notice). A peer for which that is the next block fetches
    /// it from the sender (`GetBlocks`); one further behind starts a
    /// catch-up. A notice is ~100 bytes where the block with its commit is
    /// tens of kB, and every peer but the laggards already holds it.
    NewTip {
        height: u64,
        hash: Hash,
    },
    Transaction {
        tx: Transaction,
    },
    MasternodeAnnouncement {
        info: MasternodeInfo,
    },
    Consensus {
        msg: ConsensusMessage,
        /// Set by the message's author only: the peers it sent it to, so a
        /// peer taking it straight from the author relays it only to peers
        /// not named here (`node::gossip`). Absent on relays.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sent_to: Option<Recipients>,
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
            NetworkMessage::NewTip { .. } => "new_tip",
            NetworkMessage::Transaction { .. } => "transaction",
            NetworkMessage::MasternodeAnnouncement { .. } => "masternode_announcement",
            NetworkMessage::Consensus { .. } => "consensus",
            NetworkMessage::Unknown => "unknown",
        }
    }
}
