//! Consensus messages as they travel on the wire.

use crate::chain::types::{Block, Hash, NodeId, Sig};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VoteKind {
    Prevote,
    Precommit,
}

/// A signed prevote or precommit; `block_hash: None` is a vote for nil.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vote {
    pub kind: VoteKind,
    pub height: u64,
    pub round: u32,
    pub block_hash: Option<Hash>,
    pub validator: NodeId,
    pub signature: Sig,
}

/// A signed block proposal. `pol_round` is the round of the proof-of-lock
/// the proposer re-proposes from (-1 when none).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    pub height: u64,
    pub round: u32,
    pub pol_round: i64,
    pub block: Block,
    pub proposer: NodeId,
    pub signature: Sig,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum ConsensusMessage {
    Proposal(Proposal),
    Vote(Vote),
}
