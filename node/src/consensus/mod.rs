//! Tendermint-style BFT among the masternodes: the pure state machine.
//!
//! | file | what |
//! |---|---|
//! | [`core`] | the pure state machine (propose/prevote/precommit, locking) |
//! | [`rare`] | counts of rare events the core saw (round > 0, nil precommit, lock moves) |
//!
//! What a vote is, who votes with what weight and what a commit proves are
//! rules of a valid chain, so they live in `chain` ([`crate::chain::votes`],
//! [`crate::chain::validators`], [`crate::chain::sign`]); consensus builds
//! on them and `chain` never imports consensus. They are re-exported here
//! under their old paths. The async side (the driver) belongs to the
//! orchestrator, [`crate::node`].

pub mod core;
#[cfg(test)]
mod core_tests;
pub mod rare;
pub use crate::chain::votes as types;
pub use crate::chain::{sign, validators};
