//! Chain data types shared by the wire, the chain, consensus and sync.
//!
//! Hashes, keys and signatures are fixed-size byte arrays that serialize as
//! lowercase hex, so JSON on the wire and from the API is readable.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

macro_rules! hex_bytes {
    ($name:ident, $len:expr, $doc:expr) => {
        #[doc = $doc]
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub [u8; $len]);

        impl Default for $name {
            fn default() -> Self {
                $name([0u8; $len])
            }
        }

        impl $name {
            pub fn to_hex(&self) -> String {
                hex::encode(self.0)
            }
            pub fn from_hex(s: &str) -> Result<Self, String> {
                let v = hex::decode(s).map_err(|e| format!("bad hex: {e}"))?;
                let arr: [u8; $len] = v
                    .try_into()
                    .map_err(|v: Vec<u8>| format!("expected {} bytes, got {}", $len, v.len()))?;
                Ok($name(arr))
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", &self.to_hex()[..12.min(2 * $len)])
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.to_hex())
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                $name::from_hex(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

hex_bytes!(Hash, 32, "A SHA-256 digest.");
hex_bytes!(
    NodeId,
    32,
    "A node's ed25519 public key; also its identity."
);
hex_bytes!(PubKey, 32, "An ed25519 public key owning UTXOs.");
hex_bytes!(Sig, 64, "An ed25519 signature.");

/// Reference to one output of an earlier transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct OutPoint {
    pub txid: Hash,
    pub index: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxIn {
    pub prev: OutPoint,
    /// Signature by the owner of `prev` over the transaction's signing hash.
    pub signature: Sig,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxOut {
    pub amount: u64,
    pub owner: PubKey,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    pub inputs: Vec<TxIn>,
    pub outputs: Vec<TxOut>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockHeader {
    pub height: u64,
    pub prev_hash: Hash,
    pub time_ms: u64,
    pub proposer: NodeId,
    /// Hash over the block's transaction ids.
    pub tx_root: Hash,
}

/// One validator's precommit signature in a commit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitSig {
    pub validator: NodeId,
    pub signature: Sig,
}

/// Proof of finality: precommits for `block_hash` at `round` by more than 2/3
/// of the voting weight.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commit {
    pub height: u64,
    pub round: u32,
    pub block_hash: Hash,
    pub signatures: Vec<CommitSig>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    pub header: BlockHeader,
    pub txs: Vec<Transaction>,
    /// Present on every finalized block except genesis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<Commit>,
}
