//! Block hashing, the genesis block, and validation of a block against the
//! chain state (its parent and the UTXO set).
//!
//! The block hash covers the header only (which commits to the transactions
//! through `tx_root`), so attaching the commit after finality does not change
//! the hash the validators signed.

use super::genesis::Genesis;
use super::tx::hash_json;
use super::types::{Block, BlockHeader, Hash, NodeId, Transaction, TxOut};
use super::utxo::{Overlay, Sigs, UtxoDelta, UtxoSet};
use crate::chain::validators::Validators;
use crate::constants::MAX_BLOCK_TXS;
use sha2::{Digest, Sha256};

pub fn block_hash(header: &BlockHeader) -> Hash {
    hash_json(header)
}

pub fn hash(block: &Block) -> Hash {
    block_hash(&block.header)
}

/// SHA-256 over the concatenated txids (order matters).
pub fn tx_root(txids: &[Hash]) -> Hash {
    let mut h = Sha256::new();
    h.update(b"tx-root");
    for id in txids {
        h.update(id.0);
    }
    Hash(h.finalize().into())
}

/// The coins that exist at genesis, as one input-less transaction.
pub fn genesis_tx(genesis: &Genesis) -> Transaction {
    Transaction {
        inputs: vec![],
        outputs: genesis
            .allocations
            .iter()
            .map(|a| TxOut {
                amount: a.amount,
                owner: a.owner,
            })
            .collect(),
    }
}

/// Height 0, a pure function of genesis.json; its `prev_hash` is the genesis
/// file's hash, so two different genesis files give two different chains.
pub fn genesis_block(genesis: &Genesis) -> Block {
    let tx = genesis_tx(genesis);
    Block {
        header: BlockHeader {
            height: 0,
            prev_hash: genesis.hash(),
            time_ms: genesis.genesis_time_ms,
            proposer: NodeId::default(),
            tx_root: tx_root(&[super::tx::txid(&tx)]),
        },
        txs: vec![tx],
        commit: None,
    }
}

/// The UTXO changes of the genesis block.
pub fn genesis_delta(genesis: &Genesis) -> UtxoDelta {
    let tx = genesis_tx(genesis);
    let mut ov = Overlay::default();
    ov.record(super::tx::txid(&tx), &tx);
    ov.into_delta()
}

/// Check `block` as the child of `parent` against `utxo`: link, height,
/// proposer, tx root and every transaction. Does not look at the commit.
pub fn validate(
    block: &Block,
    parent: &BlockHeader,
    utxo: &UtxoSet,
    validators: &Validators,
    sigs: Sigs,
) -> Result<UtxoDelta, String> {
    let h = &block.header;
    if h.height != parent.height + 1 {
        return Err(format!(
            "height {} does not follow {}",
            h.height, parent.height
        ));
    }
    let parent_hash = block_hash(parent);
    if h.prev_hash != parent_hash {
        return Err(format!(
            "prev_hash {} is not the tip {}",
            h.prev_hash, parent_hash
        ));
    }
    if h.time_ms < parent.time_ms {
        return Err("block time goes backwards".into());
    }
    if validators.weight(&h.proposer).is_none() {
        return Err(format!("proposer {} is not a masternode", h.proposer));
    }
    if block.txs.len() > MAX_BLOCK_TXS {
        return Err(format!("{} txs exceed {MAX_BLOCK_TXS}", block.txs.len()));
    }
    let mut ov = Overlay::default();
    let mut ids = Vec::with_capacity(block.txs.len());
    for (n, tx) in block.txs.iter().enumerate() {
        ids.push(ov.add(utxo, tx, sigs).map_err(|e| format!("tx {n}: {e}"))?);
    }
    if tx_root(&ids) != h.tx_root {
        return Err("tx_root does not match the transactions".into());
    }
    Ok(ov.into_delta())
}
