//! Tendermint-style BFT among the masternodes.
//!
//! | file | what |
//! |---|---|
//! | [`core`] | the pure state machine (propose/prevote/precommit, locking) |
//! | [`sign`] | what is signed; vote, proposal and commit verification |
//! | [`validators`] | weights, quorum, proposer rotation |

pub mod core;
#[cfg(test)]
mod core_tests;
pub mod sign;
pub mod types;
pub mod validators;
