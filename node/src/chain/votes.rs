//! Votes, proposals and signed steps: consensus messages as they travel on
//! the wire and what a validator persists before sending one.

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

impl ConsensusMessage {
    pub fn height(&self) -> u64 {
        match self {
            ConsensusMessage::Proposal(p) => p.height,
            ConsensusMessage::Vote(v) => v.height,
        }
    }

    pub fn round(&self) -> u32 {
        match self {
            ConsensusMessage::Proposal(p) => p.round,
            ConsensusMessage::Vote(v) => v.round,
        }
    }

    /// Who signed it: the proposer or the voting validator.
    pub fn author(&self) -> NodeId {
        match self {
            ConsensusMessage::Proposal(p) => p.proposer,
            ConsensusMessage::Vote(v) => v.validator,
        }
    }

    /// Its signature: one per message, so also its identity.
    pub fn signature(&self) -> Sig {
        match self {
            ConsensusMessage::Proposal(p) => p.signature,
            ConsensusMessage::Vote(v) => v.signature,
        }
    }
}

/// A validator's signing step (what [`SignedStep`] records).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Propose,
    Prevote,
    Precommit,
}

/// The last thing this validator signed; persisted before it is sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedStep {
    pub height: u64,
    pub round: u32,
    pub step: Step,
    pub value: Option<Hash>,
    /// Our lock (round, value) when we signed this.
    #[serde(default)]
    pub lock: Option<(u32, Hash)>,
    /// Our own votes at this height in this round and the one before, so a
    /// restarted validator can send them again (see the module doc).
    #[serde(default)]
    pub votes: Vec<Vote>,
    /// Our latest signed proposal at this height.
    #[serde(default)]
    pub proposal: Option<Proposal>,
    /// validRound and validValue (the block itself, not just its hash).
    #[serde(default)]
    pub valid: Option<(u32, Block)>,
}
