//! Blocks, UTXO transactions, mempool, persistence and genesis.
//!
//! | file | what |
//! |---|---|
//! | [`tx`] | txids, signatures, building transfers |
//! | [`utxo`] | the unspent-output set and transaction rules |
//! | [`mempool`] | pending transactions |
//! | [`block`] | block hashing, genesis block, block validation |
//! | [`store`] | redb persistence |
//! | [`state`] | the chain state (store + UTXO set + mempool) and applying final blocks |

pub mod block;
pub mod genesis;
pub mod mempool;
pub mod state;
pub mod store;
pub mod tx;
pub mod types;
pub mod utxo;
