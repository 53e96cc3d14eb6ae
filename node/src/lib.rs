//! `timed`: a masternode blockchain node with the refactored P2P stack from
//! the seeds' notes.
//!
//! Message path, both directions: socket -> framed reader -> decode ->
//! dispatch -> handler -> reply via the peer registry -> that peer's single
//! writer task -> socket. Nothing else ever writes to a socket.
//!
//! | module | owns |
//! |---|---|
//! | [`wire`] | message types and line framing |
//! | [`net`] | sockets, the peer registry, connection actors, dialer, discovery, events |
//! | [`chain`] | blocks, UTXO transactions, mempool, redb storage, genesis |
//! | [`consensus`] | Tendermint-style BFT among masternodes |
//! | [`sync`] | catch-up from peers |
//! | [`live`] | the running chain's shared state and [`live::ChainHandle`] |
//! | [`api`] | the HTTP API |
//! | [`rng`] | the node's one seeded source of randomness |
//! | [`env`] | what a node takes from its machine: transport, storage, blocking work, randomness |
//! | [`histogram`] | the fixed-bucket Prometheus histogram behind `/metrics` |
//! | [`rotation`] | the window of peers a periodic round asks (tips, GetPeers) |
//! | [`node`] | the orchestrator: wires all of the above into one running node |
//! | [`logging`] | log output a peer cannot forge (escaping writer) |

pub mod api;
pub mod chain;
pub mod clock;
pub mod config;
pub mod consensus;
pub mod constants;
pub mod env;
pub mod gate;
pub mod histogram;
pub mod live;
pub mod logging;
pub mod net;
pub mod node;
pub mod rng;
pub mod rotation;
pub mod sync;
pub mod testnet;
pub mod wire;

/// Key files and node ids (at the root for the harness and tools).
pub use chain::keys;
