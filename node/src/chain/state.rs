//! The chain state: store + in-memory UTXO set + mempool + tip, and the one
//! place where final blocks are applied (from consensus, an announcement or
//! sync). Lives behind a mutex in [`super::service`]; every method here is
//! synchronous and short.

use super::block;
use super::genesis::Genesis;
use super::mempool::Mempool;
use super::mempool::TxError;
use super::store::Store;
use super::store::StoreLocation;
use super::types::{Block, BlockHeader, Hash, NodeId, Transaction};
use super::utxo::{Sigs, UtxoDelta, UtxoSet};
use crate::chain::sign::verify_commit;
use crate::chain::validators::Validators;
use crate::constants::MAX_BLOCK_TXS;
use std::path::Path;
use std::sync::Arc;

pub struct ChainState {
    pub store: Arc<Store>,
    pub utxo: UtxoSet,
    pub mempool: Mempool,
    pub tip: BlockHeader,
    pub tip_hash: Hash,
    /// Signatures are bound to this (the genesis file's hash).
    pub chain: Hash,
    pub validators: Validators,
}

/// Outcome of offering a final block.
#[derive(Debug, PartialEq, Eq)]
pub enum Applied {
    /// It extended the chain.
    New,
    /// We already had this height (same hash).
    Known,
}

impl ChainState {
    pub fn open(data_dir: &Path, genesis: &Genesis) -> anyhow::Result<ChainState> {
        ChainState::open_at(StoreLocation::Dir(data_dir.to_path_buf()), genesis)
    }

    /// [`ChainState::open`] on any [`StoreLocation`].
    pub fn open_at(at: StoreLocation, genesis: &Genesis) -> anyhow::Result<ChainState> {
        let store = Store::open_at(at, genesis)?;
        let height = store.tip_height()?;
        let tip = store
            .block(height)?
            .ok_or_else(|| anyhow::anyhow!("store tip {height} has no block"))?
            .header;
        let utxo = store.load_utxos()?;
        Ok(ChainState {
            tip_hash: block::block_hash(&tip),
            tip,
            utxo,
            store: Arc::new(store),
            mempool: Mempool::new(),
            chain: genesis.hash(),
            validators: Validators::from_genesis(genesis),
        })
    }

    pub fn height(&self) -> u64 {
        self.tip.height
    }

    /// A proposal for the next height: the oldest mempool transactions.
    pub fn build_block(&self, proposer: NodeId, time_ms: u64) -> Block {
        let txs = self.mempool.take(MAX_BLOCK_TXS);
        let ids: Vec<Hash> = txs.iter().map(super::tx::txid).collect();
        Block {
            header: BlockHeader {
                height: self.tip.height + 1,
                prev_hash: self.tip_hash,
                time_ms: time_ms.max(self.tip.time_ms),
                proposer,
                tx_root: block::tx_root(&ids),
            },
            txs,
            commit: None,
        }
    }

    /// Is `b` a valid next block (ignoring any commit)?
    pub fn check_next(&self, b: &Block) -> Result<UtxoDelta, String> {
        block::validate(b, &self.tip, &self.utxo, &self.validators, Sigs::Verify)
    }

    /// Apply one final block that our own consensus just decided.
    pub fn apply_decided(&mut self, b: Block) -> Result<Applied, String> {
        let (n, err) = self.apply_batch(vec![b], false);
        match err {
            Some(e) => Err(e),
            None if n > 0 => Ok(Applied::New),
            None => Ok(Applied::Known),
        }
    }

    /// Verify (commit signatures when `verify_commits`; link, amounts and
    /// spent-ness of every transaction, see [`Sigs::TrustCommit`]) and
    /// apply consecutive final blocks, persisting them in ONE store
    /// transaction. Blocks we already have are skipped if identical. Valid
    /// blocks before an invalid one are kept. Returns (new blocks, error).
    pub fn apply_batch(
        &mut self,
        blocks: Vec<Block>,
        verify_commits: bool,
    ) -> (usize, Option<String>) {
        let mut err = None;
        let mut blocks = blocks;
        if verify_commits {
            if let Err((k, e)) = verify_commits_parallel(&self.chain, &self.validators, &blocks) {
                blocks.truncate(k);
                err = Some(e);
            }
        }
        let mut staged: Vec<(Block, UtxoDelta)> = vec![];
        let old_tip = (self.tip.clone(), self.tip_hash);
        for b in blocks {
            let h = b.header.height;
            if h <= self.tip.height {
                if self.block_hash_at(h) != Some(block::hash(&b)) {
                    err = Some(format!("block {h} conflicts with our final block"));
                    break;
                }
                continue;
            }
            // Final blocks: either our own decision (we validated the
            // proposal in full) or certified by a commit checked above.
            match block::validate(
                &b,
                &self.tip,
                &self.utxo,
                &self.validators,
                Sigs::TrustCommit,
            ) {
                Ok(delta) => {
                    self.utxo.apply(&delta);
                    self.tip = b.header.clone();
                    self.tip_hash = block::hash(&b);
                    staged.push((b, delta));
                }
                Err(e) => {
                    err = Some(format!("block {h}: {e}"));
                    break;
                }
            }
        }
        if staged.is_empty() {
            return (0, err);
        }
        if let Err(e) = self.store.append(&staged) {
            self.rewind(old_tip, "store write failed");
            return (0, Some(format!("store write failed: {e:#}")));
        }
        for (b, _) in &staged {
            self.mempool.on_block(b, &self.utxo);
        }
        (staged.len(), err)
    }

    /// Memory ran ahead of disk (a batch was refused late): go back to
    /// exactly what is stored.
    fn rewind(&mut self, old_tip: (BlockHeader, Hash), why: &str) {
        (self.tip, self.tip_hash) = old_tip;
        match self.store.load_utxos() {
            Ok(u) => self.utxo = u,
            Err(e) => panic!("store unreadable after {why}: {e:#}"),
        }
    }

    pub fn block_hash_at(&self, h: u64) -> Option<Hash> {
        if h == self.tip.height {
            return Some(self.tip_hash);
        }
        self.store.block(h).ok().flatten().map(|b| block::hash(&b))
    }

    pub fn submit(&mut self, tx: Transaction) -> Result<Hash, TxError> {
        self.mempool.add(tx, &self.utxo)
    }
}

/// Commit signature checks are the bulk of sync's CPU: spread them over the
/// machine's cores (the blocks are independent). On failure returns the
/// index of the first bad block (in chunk order) and why.
pub fn verify_commits_parallel(
    chain: &Hash,
    v: &Validators,
    blocks: &[Block],
) -> Result<(), (usize, String)> {
    let check = |k: usize, b: &Block| {
        verify_commit(chain, v, b).map_err(|e| (k, format!("block {}: {e}", b.header.height)))
    };
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(8);
    if threads <= 1 || blocks.len() < 8 {
        return blocks.iter().enumerate().try_for_each(|(k, b)| check(k, b));
    }
    let chunk = blocks.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = blocks
            .chunks(chunk)
            .enumerate()
            .map(|(c, part)| {
                s.spawn(move || {
                    part.iter()
                        .enumerate()
                        .try_for_each(|(i, b)| check(c * chunk + i, b))
                })
            })
            .collect();
        let results: Vec<_> = handles
            .into_iter()
            .map(|h| h.join().expect("verifier thread"))
            .collect();
        results
            .into_iter()
            .collect::<Result<Vec<()>, _>>()
            .map(|_| ())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::genesis::{Allocation, GenesisMasternode, Tier};
    use crate::chain::keys;
    use crate::chain::sign::{make_commit, sign_vote};
    use crate::chain::tx::build_transfer;
    use crate::chain::votes::VoteKind;
    use ed25519_dalek::SigningKey;
    use std::time::Duration;

    fn genesis(vals: &[SigningKey], wallet: &SigningKey) -> Genesis {
        Genesis {
            network: "t".into(),
            chain_id: "t-1".into(),
            genesis_time_ms: 0,
            block_interval: Duration::from_secs(1),
            masternodes: vals
                .iter()
                .map(|k| GenesisMasternode {
                    node_id: keys::node_id(k),
                    tier: Tier::Bronze,
                    ip: None,
                })
                .collect(),
            allocations: vec![Allocation {
                owner: keys::pubkey(wallet),
                amount: 1000,
            }],
        }
    }

    fn setup() -> (tempfile::TempDir, ChainState, Vec<SigningKey>, SigningKey) {
        let vals: Vec<_> = (1..=4u8)
            .map(|i| SigningKey::from_bytes(&[i; 32]))
            .collect();
        let wallet = SigningKey::from_bytes(&[9; 32]);
        let dir = tempfile::tempdir().unwrap();
        let st = ChainState::open(dir.path(), &genesis(&vals, &wallet)).unwrap();
        (dir, st, vals, wallet)
    }

    fn commit(st: &ChainState, vals: &[SigningKey], mut b: Block, signers: usize) -> Block {
        let h = block::hash(&b);
        let votes: Vec<_> = vals[..signers]
            .iter()
            .map(|k| {
                sign_vote(
                    k,
                    &st.chain,
                    VoteKind::Precommit,
                    b.header.height,
                    0,
                    Some(h),
                )
            })
            .collect();
        b.commit = Some(make_commit(
            b.header.height,
            0,
            h,
            &votes.iter().collect::<Vec<_>>(),
        ));
        b
    }

    #[test]
    fn final_blocks_need_a_quorum_commit_a_valid_link_and_valid_txs() {
        let (dir, mut st, vals, wallet) = setup();
        let me = keys::node_id(&vals[0]);
        let utxos = st.utxo.owned_by(&keys::pubkey(&wallet));
        let tx = build_transfer(&wallet, &utxos, keys::pubkey(&vals[1]), 10).unwrap();
        st.submit(tx.clone()).unwrap();
        let b1 = st.build_block(me, 5);
        assert_eq!(b1.txs.len(), 1);

        // 2 of 4 is not more than 2/3.
        let (n, err) = st.apply_batch(vec![commit(&st, &vals, b1.clone(), 2)], true);
        assert_eq!(n, 0);
        assert!(err.unwrap().contains("not more than 2/3"));
        // A block on the wrong parent.
        let mut orphan = b1.clone();
        orphan.header.prev_hash = Hash([1; 32]);
        let (n, err) = st.apply_batch(vec![commit(&st, &vals, orphan, 3)], true);
        assert_eq!(n, 0);
        assert!(err.unwrap().contains("prev_hash"));
        // A block spending the same output twice.
        let mut dbl = b1.clone();
        dbl.txs
            .push(build_transfer(&wallet, &utxos, keys::pubkey(&vals[2]), 5).unwrap());
        let (n, err) = st.apply_batch(vec![commit(&st, &vals, dbl, 4)], true);
        assert_eq!(n, 0);
        assert!(err.unwrap().contains("unknown or already spent"));

        // A forged input signature: a proposal carrying it is invalid.
        let mut forged = b1.clone();
        forged.txs[0].inputs[0].signature = crate::chain::types::Sig([7; 64]);
        assert!(st
            .check_next(&forged)
            .unwrap_err()
            .contains("bad signature"));
        assert!(st.check_next(&b1).is_ok());
        // A forged commit signature: refused.
        let mut bad_commit = commit(&st, &vals, b1.clone(), 3);
        bad_commit.commit.as_mut().unwrap().signatures[0].signature =
            crate::chain::types::Sig([7; 64]);
        let (n, err) = st.apply_batch(vec![bad_commit], true);
        assert_eq!(n, 0);
        assert!(err.unwrap().contains("bad commit signature"));

        // The real one: applied, the tx leaves the mempool, re-applying is a no-op.
        let good = commit(&st, &vals, b1, 3);
        assert_eq!(st.apply_batch(vec![good.clone()], true), (1, None));
        assert!(st.mempool.is_empty());
        assert_eq!(st.height(), 1);
        assert_eq!(st.apply_batch(vec![good.clone()], true), (0, None));
        assert!(st.submit(tx).is_err(), "spent on chain now");
        drop(st);
        // Reopen: tip, UTXOs and blocks are back.
        let st = ChainState::open(dir.path(), &genesis(&vals, &wallet)).unwrap();
        assert_eq!(st.height(), 1);
        assert_eq!(st.tip_hash, block::hash(&good));
        assert_eq!(st.utxo.owned_by(&keys::pubkey(&vals[1])).len(), 1);
    }
}
