//! The unspent-output set and the rules a transaction must meet against it.
//!
//! Every rejection carries a human-readable reason: it goes back to the
//! `POST /tx` caller and into logs, so "why was my tx refused" never needs a
//! debugger.

use super::tx::{created_outputs, txid, verify_input};
use super::types::{Hash, OutPoint, PubKey, Transaction, TxOut};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Debug, Default)]
pub struct UtxoSet {
    map: BTreeMap<OutPoint, TxOut>,
}

/// What applying a block (or several) does to the UTXO set; written to the
/// store in the same transaction as the block.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UtxoDelta {
    pub spent: Vec<OutPoint>,
    pub created: Vec<(OutPoint, TxOut)>,
}

/// Whether transaction signatures are checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sigs {
    Verify,
    /// The block carries a commit by more than 2/3 of the voting weight, so
    /// validators holding more than 1/3 honest weight already checked every
    /// signature before prevoting it; re-checking them is what made sync
    /// CPU-bound (ed25519 verification is ~90% of catch-up time). Amounts,
    /// spent-ness and links are still checked: they build our UTXO set.
    TrustCommit,
}

/// Checks that need no state: shape, amounts.
pub fn check_shape(tx: &Transaction) -> Result<(), String> {
    if tx.inputs.is_empty() {
        return Err("transaction has no inputs".into());
    }
    if tx.outputs.is_empty() {
        return Err("transaction has no outputs".into());
    }
    let mut seen = BTreeSet::new();
    for i in &tx.inputs {
        if !seen.insert(i.prev) {
            return Err(format!(
                "input {}:{} spent twice in the same transaction",
                i.prev.txid, i.prev.index
            ));
        }
    }
    let mut total: u64 = 0;
    for (n, o) in tx.outputs.iter().enumerate() {
        if o.amount == 0 {
            return Err(format!("output {n} has zero amount"));
        }
        total = total
            .checked_add(o.amount)
            .ok_or_else(|| "output amounts overflow".to_string())?;
    }
    Ok(())
}

impl UtxoSet {
    pub fn from_entries(entries: impl IntoIterator<Item = (OutPoint, TxOut)>) -> Self {
        UtxoSet {
            map: entries.into_iter().collect(),
        }
    }

    pub fn get(&self, op: &OutPoint) -> Option<&TxOut> {
        self.map.get(op)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Spendable outputs of `owner`, ordered for determinism.
    pub fn owned_by(&self, owner: &PubKey) -> Vec<(OutPoint, TxOut)> {
        let mut v: Vec<_> = self
            .map
            .iter()
            .filter(|(_, o)| &o.owner == owner)
            .map(|(k, o)| (*k, o.clone()))
            .collect();
        v.sort_by_key(|(k, _)| *k);
        v
    }

    /// Full validation of `tx` against this set (plus `overlay` for outputs
    /// created and spent earlier in the same block). Returns the txid.
    pub fn check_tx(&self, tx: &Transaction, overlay: Option<&Overlay>) -> Result<Hash, String> {
        self.check_tx_with(tx, overlay, Sigs::Verify)
    }

    /// [`Self::check_tx`], optionally trusting the input signatures.
    pub fn check_tx_with(
        &self,
        tx: &Transaction,
        overlay: Option<&Overlay>,
        sigs: Sigs,
    ) -> Result<Hash, String> {
        check_shape(tx)?;
        let id = txid(tx);
        let mut total_in: u64 = 0;
        for (n, input) in tx.inputs.iter().enumerate() {
            let prev = match overlay {
                Some(ov) => ov.lookup(self, &input.prev),
                None => self.map.get(&input.prev),
            };
            let Some(prev) = prev else {
                return Err(format!(
                    "input {n} spends unknown or already spent output {}:{}",
                    input.prev.txid, input.prev.index
                ));
            };
            if sigs == Sigs::Verify && !verify_input(&id, input, &prev.owner) {
                return Err(format!("bad signature on input {n}"));
            }
            total_in = total_in
                .checked_add(prev.amount)
                .ok_or_else(|| "input amounts overflow".to_string())?;
        }
        let total_out: u64 = tx.outputs.iter().map(|o| o.amount).sum();
        if total_out > total_in {
            return Err(format!("outputs ({total_out}) exceed inputs ({total_in})"));
        }
        Ok(id)
    }

    pub fn apply(&mut self, delta: &UtxoDelta) {
        for op in &delta.spent {
            self.map.remove(op);
        }
        for (op, out) in &delta.created {
            self.map.insert(*op, out.clone());
        }
    }
}

/// Changes made by the transactions of a block being validated, on top of
/// the chain's UTXO set (which stays untouched until the block is final).
#[derive(Default)]
pub struct Overlay {
    spent: BTreeSet<OutPoint>,
    created: BTreeMap<OutPoint, TxOut>,
    delta: UtxoDelta,
}

impl Overlay {
    fn lookup<'a>(&'a self, base: &'a UtxoSet, op: &OutPoint) -> Option<&'a TxOut> {
        if self.spent.contains(op) {
            return None;
        }
        self.created.get(op).or_else(|| base.get(op))
    }

    /// Validate `tx` and record its effects. Returns the txid.
    pub fn add(&mut self, base: &UtxoSet, tx: &Transaction, sigs: Sigs) -> Result<Hash, String> {
        let id = base.check_tx_with(tx, Some(self), sigs)?;
        self.record(id, tx);
        Ok(id)
    }

    /// Record effects without validation (genesis allocations).
    pub fn record(&mut self, id: Hash, tx: &Transaction) {
        for i in &tx.inputs {
            self.spent.insert(i.prev);
            if self.created.remove(&i.prev).is_none() {
                self.delta.spent.push(i.prev);
            } else {
                self.delta.created.retain(|(op, _)| op != &i.prev);
            }
        }
        for (op, out) in created_outputs(id, tx) {
            self.created.insert(op, out.clone());
            self.delta.created.push((op, out));
        }
    }

    pub fn into_delta(self) -> UtxoDelta {
        self.delta
    }
}
