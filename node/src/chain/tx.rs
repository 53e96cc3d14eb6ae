//! Transactions: ids, signing, verification and a wallet-side builder.
//!
//! The txid is SHA-256 over the canonical JSON of the transaction with every
//! input signature zeroed. It doubles as the signing hash: a signature cannot
//! change the id (no malleability), and every input signs the whole
//! transaction (all inputs and outputs).

use super::types::{Hash, OutPoint, PubKey, Sig, Transaction, TxIn, TxOut};
use crate::chain::keys;
use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

/// SHA-256 of canonical (compact, field-ordered) JSON.
pub fn hash_json<T: serde::Serialize>(value: &T) -> Hash {
    Hash(Sha256::digest(serde_json::to_vec(value).expect("serializable")).into())
}

/// The transaction id, which is also what each input signs.
pub fn txid(tx: &Transaction) -> Hash {
    let unsigned = Transaction {
        inputs: tx
            .inputs
            .iter()
            .map(|i| TxIn {
                prev: i.prev,
                signature: Sig::default(),
            })
            .collect(),
        outputs: tx.outputs.clone(),
    };
    hash_json(&unsigned)
}

/// Check one input's signature against the owner of the output it spends.
pub fn verify_input(signing_hash: &Hash, input: &TxIn, owner: &PubKey) -> bool {
    verify_sig(signing_hash, &input.signature, owner)
}

/// `sig` is `owner`'s signature over `msg`.
pub fn verify_sig(msg: &Hash, sig: &Sig, owner: &PubKey) -> bool {
    let Ok(key) = VerifyingKey::from_bytes(&owner.0) else {
        return false;
    };
    key.verify(&msg.0, &ed25519_dalek::Signature::from_bytes(&sig.0))
        .is_ok()
}

/// Sign every input with `key` (a single-owner wallet).
pub fn sign_all(tx: &mut Transaction, key: &SigningKey) {
    let h = txid(tx);
    let sig = Sig(key.sign(&h.0).to_bytes());
    for input in &mut tx.inputs {
        input.signature = sig;
    }
}

/// Build and sign a transfer of `amount` to `to`, spending `utxos` owned by
/// `wallet` (oldest first, as given) and returning change to the wallet.
/// This is what a harness or a CLI uses to make valid transactions.
pub fn build_transfer(
    wallet: &SigningKey,
    utxos: &[(OutPoint, TxOut)],
    to: PubKey,
    amount: u64,
) -> Result<Transaction, String> {
    if amount == 0 {
        return Err("amount must be positive".into());
    }
    let me = keys::pubkey(wallet);
    let mut inputs = vec![];
    let mut total: u64 = 0;
    for (op, out) in utxos.iter().filter(|(_, o)| o.owner == me) {
        if total >= amount {
            break;
        }
        inputs.push(TxIn {
            prev: *op,
            signature: Sig::default(),
        });
        total = total
            .checked_add(out.amount)
            .ok_or("input amounts overflow")?;
    }
    if total < amount {
        return Err(format!("insufficient funds: have {total}, need {amount}"));
    }
    let mut outputs = vec![TxOut { amount, owner: to }];
    if total > amount {
        outputs.push(TxOut {
            amount: total - amount,
            owner: me,
        });
    }
    let mut tx = Transaction { inputs, outputs };
    sign_all(&mut tx, wallet);
    Ok(tx)
}

/// The outputs a transaction creates, with their outpoints.
pub fn created_outputs(id: Hash, tx: &Transaction) -> impl Iterator<Item = (OutPoint, TxOut)> + '_ {
    tx.outputs.iter().enumerate().map(move |(i, o)| {
        (
            OutPoint {
                txid: id,
                index: i as u32,
            },
            o.clone(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn txid_ignores_signatures_and_signatures_verify() {
        let k = SigningKey::from_bytes(&[7; 32]);
        let op = OutPoint {
            txid: Hash([1; 32]),
            index: 0,
        };
        let utxos = vec![(
            op,
            TxOut {
                amount: 50,
                owner: keys::pubkey(&k),
            },
        )];
        let tx = build_transfer(&k, &utxos, PubKey([9; 32]), 20).unwrap();
        assert_eq!(tx.outputs.len(), 2);
        assert_eq!(tx.outputs[1].amount, 30);
        let mut unsigned = tx.clone();
        unsigned.inputs[0].signature = Sig::default();
        assert_eq!(txid(&tx), txid(&unsigned));
        assert!(verify_input(&txid(&tx), &tx.inputs[0], &keys::pubkey(&k)));
        assert!(!verify_input(&txid(&tx), &tx.inputs[0], &PubKey([9; 32])));
        assert!(build_transfer(&k, &utxos, PubKey([9; 32]), 51).is_err());
    }
}
