//! Blocks, UTXO transactions, mempool, persistence, genesis, and the rules
//! that make a chain valid (who votes, what is signed, what a commit
//! proves). Pure data and rules: chain imports no other layer of the node.
//!
//! | file | what |
//! |---|---|
//! | [`types`] | hashes, ids, blocks, transactions |
//! | [`keys`] | key files and node ids |
//! | [`tx`] | txids, signatures, building transfers |
//! | [`utxo`] | the unspent-output set and transaction rules |
//! | [`mempool`] | pending transactions |
//! | [`block`] | block hashing, genesis block, block validation |
//! | [`store`] | redb persistence |
//! | [`state`] | the chain state (store + UTXO set + mempool) and applying final blocks |
//! | [`votes`] | votes, proposals, signed steps |
//! | [`validators`] | weights, quorum, proposer rotation |
//! | [`sign`] | what is signed; vote, proposal and commit verification |
//! | [`sig_check`] | checking a signature: directly, or through a memo the nodes of one process share |

pub mod block;
pub mod genesis;
pub mod keys;
pub mod mempool;
pub mod sig_check;
pub mod sign;
pub mod state;
pub mod store;
pub mod tx;
pub mod types;
pub mod utxo;
pub mod validators;
pub mod votes;
