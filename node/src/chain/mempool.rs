//! Pending transactions: validated against the chain's UTXO set and against
//! each other (no two pending transactions spend the same output), bounded,
//! in arrival order so proposers include the oldest first.

use super::types::{Block, Hash, OutPoint, Transaction};
use super::utxo::UtxoSet;
use crate::constants::MAX_MEMPOOL_TXS;
use std::collections::BTreeMap;

/// Why a transaction was refused (the API turns this into a 4xx).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TxError {
    /// The transaction breaks a rule (the rule's message, for the API).
    #[error("{0}")]
    Invalid(String),
    /// The mempool holds `MAX_MEMPOOL_TXS` transactions already.
    #[error("mempool full")]
    MempoolFull,
}

#[derive(Default)]
pub struct Mempool {
    /// Arrival sequence -> (txid, tx).
    by_seq: BTreeMap<u64, (Hash, Transaction)>,
    seq_of: BTreeMap<Hash, u64>,
    /// Which pending tx spends each outpoint.
    spends: BTreeMap<OutPoint, Hash>,
    next_seq: u64,
    capacity: usize,
}

impl Mempool {
    pub fn new() -> Self {
        Self::with_capacity(MAX_MEMPOOL_TXS)
    }

    pub fn with_capacity(capacity: usize) -> Self {
        Mempool {
            capacity,
            ..Default::default()
        }
    }

    pub fn len(&self) -> usize {
        self.by_seq.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_seq.is_empty()
    }

    pub fn contains(&self, id: &Hash) -> bool {
        self.seq_of.contains_key(id)
    }

    /// Validate and insert. Returns the txid.
    pub fn add(&mut self, tx: Transaction, utxo: &UtxoSet) -> Result<Hash, TxError> {
        let id = super::tx::txid(&tx);
        if self.contains(&id) {
            return Err(TxError::Invalid(format!(
                "transaction {id} already pending"
            )));
        }
        for i in &tx.inputs {
            if let Some(other) = self.spends.get(&i.prev) {
                return Err(TxError::Invalid(format!(
                    "double spend: output {}:{} already spent by pending transaction {other}",
                    i.prev.txid, i.prev.index
                )));
            }
        }
        utxo.check_tx(&tx, None).map_err(TxError::Invalid)?;
        if self.len() >= self.capacity {
            return Err(TxError::MempoolFull);
        }
        for i in &tx.inputs {
            self.spends.insert(i.prev, id);
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.seq_of.insert(id, seq);
        self.by_seq.insert(seq, (id, tx));
        Ok(id)
    }

    /// The oldest `max` pending transactions (for a proposal).
    pub fn take(&self, max: usize) -> Vec<Transaction> {
        self.by_seq
            .values()
            .take(max)
            .map(|(_, t)| t.clone())
            .collect()
    }

    pub fn all(&self) -> Vec<Transaction> {
        self.take(usize::MAX)
    }

    fn remove(&mut self, id: &Hash) {
        if let Some(seq) = self.seq_of.remove(id) {
            if let Some((_, tx)) = self.by_seq.remove(&seq) {
                for i in &tx.inputs {
                    self.spends.remove(&i.prev);
                }
            }
        }
    }

    /// After `block` is final: drop its transactions and any pending
    /// transaction that now conflicts with the chain.
    pub fn on_block(&mut self, block: &Block, utxo: &UtxoSet) {
        if self.is_empty() {
            return;
        }
        for tx in &block.txs {
            self.remove(&super::tx::txid(tx));
            for i in &tx.inputs {
                if let Some(other) = self.spends.get(&i.prev).copied() {
                    self.remove(&other);
                }
            }
        }
        let stale: Vec<Hash> = self
            .by_seq
            .values()
            .filter(|(_, tx)| tx.inputs.iter().any(|i| utxo.get(&i.prev).is_none()))
            .map(|(id, _)| *id)
            .collect();
        for id in stale {
            self.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::keys;
    use crate::chain::tx::{build_transfer, created_outputs, sign_all};
    use crate::chain::types::{PubKey, Sig, TxIn, TxOut};
    use ed25519_dalek::SigningKey;

    fn setup() -> (SigningKey, UtxoSet, Vec<(OutPoint, TxOut)>) {
        let k = SigningKey::from_bytes(&[1; 32]);
        let funding = Transaction {
            inputs: vec![],
            outputs: vec![
                TxOut {
                    amount: 100,
                    owner: keys::pubkey(&k),
                },
                TxOut {
                    amount: 50,
                    owner: keys::pubkey(&k),
                },
            ],
        };
        let outs: Vec<_> = created_outputs(crate::chain::tx::txid(&funding), &funding).collect();
        (k, UtxoSet::from_entries(outs.clone()), outs)
    }

    fn reason(r: Result<Hash, TxError>) -> String {
        match r {
            Err(TxError::Invalid(s)) => s,
            other => panic!("expected rejection, got {other:?}"),
        }
    }

    #[test]
    fn accepts_valid_and_rejects_each_invalid_kind_with_a_reason() {
        let (k, utxo, outs) = setup();
        let to = PubKey([9; 32]);
        let mut mp = Mempool::new();
        let good = build_transfer(&k, &outs[..1], to, 60).unwrap();
        mp.add(good.clone(), &utxo).unwrap();
        assert!(reason(mp.add(good.clone(), &utxo)).contains("already pending"));

        // Double spend against the mempool.
        let ds = build_transfer(&k, &outs[..1], to, 10).unwrap();
        assert!(reason(mp.add(ds, &utxo)).contains("double spend"));

        // Bad signature: signed by someone else.
        let mut bad = build_transfer(&k, &outs[1..], to, 10).unwrap();
        sign_all(&mut bad, &SigningKey::from_bytes(&[2; 32]));
        assert!(reason(mp.add(bad, &utxo)).contains("bad signature"));

        // Tampered output after signing.
        let mut tampered = build_transfer(&k, &outs[1..], to, 10).unwrap();
        tampered.outputs[0].amount = 11;
        assert!(reason(mp.add(tampered, &utxo)).contains("bad signature"));

        // Unknown input.
        let mut unknown = Transaction {
            inputs: vec![TxIn {
                prev: OutPoint {
                    txid: Hash([7; 32]),
                    index: 0,
                },
                signature: Sig::default(),
            }],
            outputs: vec![TxOut {
                amount: 1,
                owner: to,
            }],
        };
        sign_all(&mut unknown, &k);
        assert!(reason(mp.add(unknown, &utxo)).contains("unknown or already spent"));

        // Outputs exceed inputs.
        let mk = |outputs: Vec<TxOut>| {
            let mut t = Transaction {
                inputs: vec![TxIn {
                    prev: outs[1].0,
                    signature: Sig::default(),
                }],
                outputs,
            };
            sign_all(&mut t, &k);
            t
        };
        assert!(reason(mp.add(
            mk(vec![TxOut {
                amount: 51,
                owner: to
            }]),
            &utxo
        ))
        .contains("exceed inputs"));
        assert!(reason(mp.add(
            mk(vec![TxOut {
                amount: 0,
                owner: to
            }]),
            &utxo
        ))
        .contains("zero amount"));
        assert!(reason(mp.add(
            mk(vec![
                TxOut {
                    amount: u64::MAX,
                    owner: to
                },
                TxOut {
                    amount: 2,
                    owner: to
                }
            ]),
            &utxo
        ))
        .contains("overflow"));
        assert!(reason(mp.add(mk(vec![]), &utxo)).contains("no outputs"));
        let mut no_inputs = mk(vec![TxOut {
            amount: 1,
            owner: to,
        }]);
        no_inputs.inputs.clear();
        assert!(reason(mp.add(no_inputs, &utxo)).contains("no inputs"));
        let mut twice = mk(vec![TxOut {
            amount: 1,
            owner: to,
        }]);
        twice.inputs.push(twice.inputs[0].clone());
        sign_all(&mut twice, &k);
        assert!(reason(mp.add(twice, &utxo)).contains("spent twice"));
        assert_eq!(mp.len(), 1);
    }

    #[test]
    fn full_mempool_refuses_and_included_txs_leave() {
        let (k, mut utxo, outs) = setup();
        let mut mp = Mempool::with_capacity(1);
        let a = build_transfer(&k, &outs[..1], PubKey([9; 32]), 5).unwrap();
        let b = build_transfer(&k, &outs[1..], PubKey([9; 32]), 5).unwrap();
        mp.add(a.clone(), &utxo).unwrap();
        assert_eq!(mp.add(b, &utxo), Err(TxError::MempoolFull));
        // `a` is included in a block: it leaves the pool and its input is spent.
        let block = Block {
            header: crate::chain::block::genesis_block(&crate::chain::store::tests::test_genesis())
                .header,
            txs: vec![a.clone()],
            commit: None,
        };
        let mut ov = crate::chain::utxo::Overlay::default();
        ov.add(&utxo, &a, crate::chain::utxo::Sigs::Verify).unwrap();
        utxo.apply(&ov.into_delta());
        mp.on_block(&block, &utxo);
        assert!(mp.is_empty());
        // Re-submitting it now is a double spend against the chain.
        assert!(reason(mp.add(a, &utxo)).contains("unknown or already spent"));
    }
}
