//! Tendermint-style BFT among the masternodes.
//!
//! | file | what |
//! |---|---|
//! | [`core`] | the pure state machine (propose/prevote/precommit, locking) |
//! | [`driver`] | feeds the core from the network and timers, persists before sending |
//! | [`sign`] | what is signed; vote, proposal and commit verification |
//! | [`validators`] | weights, quorum, proposer rotation |

pub mod core;
#[cfg(test)]
mod core_tests;
pub mod driver;
pub mod sign;
pub mod types;
pub mod validators;
