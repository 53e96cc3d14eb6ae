//! The genesis file: who the masternodes are and who owns the first coins.
//!
//! Its hash (SHA-256 over its canonical JSON) is exchanged in every handshake:
//! two nodes with different genesis files refuse each other instead of
//! silently forking (a seeds bug).

use super::types::{Hash, NodeId, PubKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

/// Masternode tiers of the origin project, with their voting weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Free,
    Bronze,
    Silver,
    Gold,
}

impl Tier {
    pub fn weight(self) -> u64 {
        match self {
            Tier::Free => 1,
            Tier::Bronze => 10,
            Tier::Silver => 100,
            Tier::Gold => 1000,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenesisMasternode {
    pub node_id: NodeId,
    pub tier: Tier,
    /// Where it is expected to live (informational; identity is `node_id`).
    pub ip: Option<IpAddr>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    pub owner: PubKey,
    pub amount: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Genesis {
    /// Network name; must match in the handshake.
    pub network: String,
    pub chain_id: String,
    pub genesis_time_ms: u64,
    /// Target time between blocks (protocol time).
    #[serde(with = "humantime_serde")]
    pub block_interval: Duration,
    pub masternodes: Vec<GenesisMasternode>,
    pub allocations: Vec<Allocation>,
}

impl Genesis {
    pub fn load(path: &Path) -> anyhow::Result<Genesis> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("reading genesis {}: {e}", path.display()))?;
        serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("parsing genesis {}: {e}", path.display()))
    }

    /// Canonical bytes: compact JSON of the struct in field order.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("genesis serializes")
    }

    pub fn hash(&self) -> Hash {
        Hash(Sha256::digest(self.canonical_bytes()).into())
    }

    pub fn total_weight(&self) -> u64 {
        self.masternodes.iter().map(|m| m.tier.weight()).sum()
    }
}
