//! Persistence in redb (`data_dir/chain.redb`).
//!
//! Crash safety comes from redb's transactions: a finalized block, its UTXO
//! changes and the new tip are written in ONE write transaction, committed
//! with immediate durability (fsync). `kill -9` at any moment leaves either
//! the old state or the new one, never a block without its UTXO changes.
//! Sync may write several consecutive blocks in one transaction (still all
//! or nothing), which is what makes catch-up fast.

use super::block;
use super::genesis::Genesis;
use super::types::{Block, Hash, OutPoint, PubKey, TxOut};
use super::utxo::{UtxoDelta, UtxoSet};
use crate::chain::votes::SignedStep;
use redb::{Database, ReadableTable, ReadableTableMetadata, TableDefinition};
use std::path::Path;

/// Where the chain store lives.
pub enum StoreLocation {
    /// `DIR/chain.redb` on the file system.
    Dir(std::path::PathBuf),
    /// A redb storage backend supplied by the embedder (one per start).
    Backend(Box<dyn redb::StorageBackend>),
}

impl std::fmt::Debug for StoreLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreLocation::Dir(d) => write!(f, "Dir({})", d.display()),
            StoreLocation::Backend(b) => write!(f, "Backend({b:?})"),
        }
    }
}

const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("blocks");
const UTXOS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("utxos");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

const META_GENESIS: &str = "genesis_hash";
const META_TIP: &str = "tip_height";
const META_SIGNED: &str = "last_signed";

pub struct Store {
    db: Database,
}

fn op_key(op: &OutPoint) -> [u8; 36] {
    let mut k = [0u8; 36];
    k[..32].copy_from_slice(&op.txid.0);
    k[32..].copy_from_slice(&op.index.to_be_bytes());
    k
}

fn out_bytes(o: &TxOut) -> [u8; 40] {
    let mut v = [0u8; 40];
    v[..8].copy_from_slice(&o.amount.to_be_bytes());
    v[8..].copy_from_slice(&o.owner.0);
    v
}

fn decode_utxo(k: &[u8], v: &[u8]) -> (OutPoint, TxOut) {
    let op = OutPoint {
        txid: Hash(k[..32].try_into().unwrap()),
        index: u32::from_be_bytes(k[32..36].try_into().unwrap()),
    };
    let out = TxOut {
        amount: u64::from_be_bytes(v[..8].try_into().unwrap()),
        owner: PubKey(v[8..40].try_into().unwrap()),
    };
    (op, out)
}

type R<T> = anyhow::Result<T>;

/// An embedder's boxed backend, handed to redb (which wants a sized type).
#[derive(Debug)]
struct Boxed(Box<dyn redb::StorageBackend>);

impl redb::StorageBackend for Boxed {
    fn len(&self) -> std::io::Result<u64> {
        self.0.len()
    }
    fn read(&self, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
        self.0.read(offset, len)
    }
    fn set_len(&self, len: u64) -> std::io::Result<()> {
        self.0.set_len(len)
    }
    fn sync_data(&self, eventual: bool) -> std::io::Result<()> {
        self.0.sync_data(eventual)
    }
    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.0.write(offset, data)
    }
}

impl Store {
    /// Open (or create) the store; a new store gets the genesis block. A
    /// store made for another genesis is refused rather than mixed.
    pub fn open(dir: &Path, genesis: &Genesis) -> R<Store> {
        Store::open_at(StoreLocation::Dir(dir.to_path_buf()), genesis)
    }

    /// [`Store::open`] at a directory or on an embedder's storage backend.
    pub fn open_at(at: StoreLocation, genesis: &Genesis) -> R<Store> {
        let (db, place) = match at {
            StoreLocation::Dir(dir) => {
                std::fs::create_dir_all(&dir)?;
                let db = Database::create(dir.join("chain.redb"))?;
                (db, dir.display().to_string())
            }
            StoreLocation::Backend(b) => {
                let db = redb::Builder::new().create_with_backend(Boxed(b))?;
                (db, "the storage backend".to_string())
            }
        };
        let store = Store { db };
        let want = genesis.hash();
        let w = store.db.begin_write()?;
        let fresh;
        {
            let mut meta = w.open_table(META)?;
            w.open_table(BLOCKS)?;
            w.open_table(UTXOS)?;
            let have = meta.get(META_GENESIS)?.map(|v| v.value().to_vec());
            match have {
                Some(h) if h != want.0 => {
                    anyhow::bail!(
                        "data dir {} belongs to genesis {}, not {}",
                        place,
                        hex::encode(h),
                        want
                    )
                }
                Some(_) => fresh = false,
                None => {
                    meta.insert(META_GENESIS, &want.0[..])?;
                    fresh = true;
                }
            }
        }
        w.commit()?;
        if fresh {
            let g = block::genesis_block(genesis);
            store.append(&[(g, block::genesis_delta(genesis))])?;
        }
        Ok(store)
    }

    /// Append consecutive finalized blocks with their UTXO changes, and move
    /// the tip, atomically.
    pub fn append(&self, blocks: &[(Block, UtxoDelta)]) -> R<()> {
        let Some((last, _)) = blocks.last() else {
            return Ok(());
        };
        let w = self.db.begin_write()?;
        {
            let mut bt = w.open_table(BLOCKS)?;
            let mut ut = w.open_table(UTXOS)?;
            let mut meta = w.open_table(META)?;
            for (b, delta) in blocks {
                bt.insert(b.header.height, serde_json::to_vec(b)?.as_slice())?;
                for op in &delta.spent {
                    ut.remove(&op_key(op)[..])?;
                }
                for (op, out) in &delta.created {
                    ut.insert(&op_key(op)[..], &out_bytes(out)[..])?;
                }
            }
            meta.insert(META_TIP, &last.header.height.to_be_bytes()[..])?;
        }
        w.commit()?;
        Ok(())
    }

    pub fn tip_height(&self) -> R<u64> {
        let r = self.db.begin_read()?;
        let meta = r.open_table(META)?;
        let v = meta
            .get(META_TIP)?
            .ok_or_else(|| anyhow::anyhow!("store has no tip"))?;
        Ok(u64::from_be_bytes(v.value().try_into()?))
    }

    pub fn block(&self, height: u64) -> R<Option<Block>> {
        let r = self.db.begin_read()?;
        let t = r.open_table(BLOCKS)?;
        match t.get(height)? {
            Some(v) => Ok(Some(serde_json::from_slice(v.value())?)),
            None => Ok(None),
        }
    }

    /// Up to `count` blocks from `from`, stopping at the first gap and once
    /// their stored JSON exceeds `max_bytes` (at least one block): a range of
    /// big blocks must still fit in one wire frame.
    pub fn blocks(&self, from: u64, count: u64, max_bytes: usize) -> R<Vec<Block>> {
        let r = self.db.begin_read()?;
        let t = r.open_table(BLOCKS)?;
        let mut out = vec![];
        let mut bytes = 0;
        for item in t.range(from..from.saturating_add(count))? {
            let (_, v) = item?;
            bytes += v.value().len();
            if bytes > max_bytes && !out.is_empty() {
                break;
            }
            out.push(serde_json::from_slice(v.value())?);
        }
        Ok(out)
    }

    pub fn load_utxos(&self) -> R<UtxoSet> {
        let r = self.db.begin_read()?;
        let t = r.open_table(UTXOS)?;
        let mut v = Vec::with_capacity(t.len()? as usize);
        for item in t.iter()? {
            let (k, val) = item?;
            v.push(decode_utxo(k.value(), val.value()));
        }
        Ok(UtxoSet::from_entries(v))
    }

    pub fn last_signed(&self) -> R<Option<SignedStep>> {
        let r = self.db.begin_read()?;
        let meta = r.open_table(META)?;
        match meta.get(META_SIGNED)? {
            Some(v) => Ok(Some(serde_json::from_slice(v.value())?)),
            None => Ok(None),
        }
    }

    /// Durably record what we are about to sign. Called BEFORE the signed
    /// message leaves the process, so a restart can never sign a different
    /// value for the same height/round/step.
    pub fn set_last_signed(&self, s: &SignedStep) -> R<()> {
        let w = self.db.begin_write()?;
        {
            let mut meta = w.open_table(META)?;
            meta.insert(META_SIGNED, serde_json::to_vec(s)?.as_slice())?;
        }
        w.commit()?;
        Ok(())
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use crate::chain::genesis::{Allocation, Genesis};
    use crate::chain::votes::Step;
    use std::time::Duration;

    pub fn test_genesis() -> Genesis {
        Genesis {
            network: "t".into(),
            chain_id: "t-0".into(),
            genesis_time_ms: 0,
            block_interval: Duration::from_secs(1),
            masternodes: vec![],
            allocations: vec![Allocation {
                owner: PubKey([3; 32]),
                amount: 100,
            }],
        }
    }

    #[test]
    fn reopen_after_writes_keeps_blocks_utxos_and_last_signed() {
        let dir = tempfile::tempdir().unwrap();
        let g = test_genesis();
        let g0 = block::genesis_block(&g);
        {
            let s = Store::open(dir.path(), &g).unwrap();
            assert_eq!(s.tip_height().unwrap(), 0);
            assert_eq!(s.load_utxos().unwrap().len(), 1);
            let mut b1 = g0.clone();
            b1.header.height = 1;
            b1.txs.clear();
            let spent = s.load_utxos().unwrap().owned_by(&PubKey([3; 32]))[0].0;
            let created = (
                OutPoint {
                    txid: Hash([5; 32]),
                    index: 0,
                },
                TxOut {
                    amount: 100,
                    owner: PubKey([4; 32]),
                },
            );
            s.append(&[(
                b1,
                UtxoDelta {
                    spent: vec![spent],
                    created: vec![created],
                },
            )])
            .unwrap();
            s.set_last_signed(&SignedStep {
                height: 2,
                round: 1,
                step: Step::Prevote,
                value: None,
                lock: None,
                votes: vec![],
                proposal: None,
                valid: None,
            })
            .unwrap();
        }
        let s = Store::open(dir.path(), &g).unwrap();
        assert_eq!(s.tip_height().unwrap(), 1);
        assert_eq!(s.block(0).unwrap().unwrap(), g0);
        assert_eq!(s.block(1).unwrap().unwrap().header.height, 1);
        assert_eq!(s.blocks(0, 10, usize::MAX).unwrap().len(), 2);
        assert_eq!(s.blocks(0, 10, 1).unwrap().len(), 1, "byte budget");
        let u = s.load_utxos().unwrap();
        assert!(u.owned_by(&PubKey([3; 32])).is_empty());
        assert_eq!(u.owned_by(&PubKey([4; 32])).len(), 1);
        assert_eq!(s.last_signed().unwrap().unwrap().round, 1);
        // Another genesis is refused.
        let mut other = g.clone();
        other.chain_id = "x".into();
        assert!(Store::open(dir.path(), &other).is_err());
    }
}
