//! How a node checks ed25519 signatures: directly, or through a memo that
//! the nodes of one process share.
//!
//! A check is a pure function of (key, message, signature). Nodes in
//! separate processes cannot share results, and the `timed` binary checks
//! every signature itself ([`SigCheck::Direct`]). An embedder that runs many
//! nodes in one process (the harness's simulation: 100 nodes, each checking
//! the same ~200 votes a height) may hand every node one [`SigMemo`], so a
//! vote is checked once per process instead of once per node. What a node
//! decides is unchanged: the memo keeps both answers, keyed by the whole
//! triple (no digest two inputs could share), so a bad signature stays bad.

use crate::chain::types::{NodeId, Sig};
use crate::constants::SIG_MEMO_GENERATION;
use ed25519_dalek::{Verifier, VerifyingKey};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Where a node's consensus signature checks go.
#[derive(Clone, Default)]
pub enum SigCheck {
    /// Check every signature (the `timed` binary).
    #[default]
    Direct,
    /// Answer from a memo shared with the other nodes of this process,
    /// checking only what it does not hold yet.
    Shared(Arc<SigMemo>),
}

impl SigCheck {
    /// Whether `sig` is `id`'s signature of `msg`.
    pub fn verify(&self, id: &NodeId, msg: &[u8; 32], sig: &Sig) -> bool {
        match self {
            SigCheck::Direct => verify(id, msg, sig),
            SigCheck::Shared(memo) => memo.verify(id, msg, sig),
        }
    }
}

/// Public key, signed message (a 32-byte digest) and signature.
type Key = ([u8; 32], [u8; 32], [u8; 64]);

/// Signature check results, bounded: two generations of at most
/// [`SIG_MEMO_GENERATION`] entries (~130 bytes each); when the young one fills up, the old one
/// is dropped and the young one takes its place. A vote is checked by every
/// node within a few protocol seconds of its signing, so a generation holds
/// every vote still being checked.
pub struct SigMemo {
    gens: Mutex<Generations>,
    generation: usize,
}

#[derive(Default)]
struct Generations {
    young: HashMap<Key, bool>,
    old: HashMap<Key, bool>,
}

impl SigMemo {
    pub fn new() -> Arc<SigMemo> {
        Self::with_generation(SIG_MEMO_GENERATION)
    }

    fn with_generation(generation: usize) -> Arc<SigMemo> {
        Arc::new(SigMemo {
            gens: Mutex::default(),
            generation,
        })
    }

    fn verify(&self, id: &NodeId, msg: &[u8; 32], sig: &Sig) -> bool {
        let key: Key = (id.0, *msg, sig.0);
        let mut g = self.gens.lock().unwrap();
        if let Some(&ok) = g.young.get(&key).or_else(|| g.old.get(&key)) {
            return ok;
        }
        let ok = verify(id, msg, sig);
        if g.young.len() >= self.generation {
            g.old = std::mem::take(&mut g.young);
        }
        g.young.insert(key, ok);
        ok
    }

    /// Entries held (both generations).
    pub fn len(&self) -> usize {
        let g = self.gens.lock().unwrap();
        g.young.len() + g.old.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The check itself.
pub fn verify(id: &NodeId, msg: &[u8], sig: &Sig) -> bool {
    let Ok(key) = VerifyingKey::from_bytes(&id.0) else {
        return false;
    };
    key.verify(msg, &ed25519_dalek::Signature::from_bytes(&sig.0))
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    fn signed(seed: u8, msg: [u8; 32]) -> (NodeId, Sig) {
        let k = SigningKey::from_bytes(&[seed; 32]);
        (
            NodeId(k.verifying_key().to_bytes()),
            Sig(k.sign(&msg).to_bytes()),
        )
    }

    #[test]
    fn the_memo_answers_as_the_direct_check_does_bad_signatures_included() {
        let memo = SigCheck::Shared(SigMemo::new());
        let msg = [7u8; 32];
        let (id, sig) = signed(1, msg);
        let (other, _) = signed(2, msg);
        let mut forged = sig;
        forged.0[0] ^= 1;
        for _ in 0..2 {
            for (id, m, s) in [
                (&id, &msg, &sig),
                (&other, &msg, &sig),
                (&id, &[8u8; 32], &sig),
                (&id, &msg, &forged),
            ] {
                assert_eq!(memo.verify(id, m, s), SigCheck::Direct.verify(id, m, s));
            }
        }
        assert!(memo.verify(&id, &msg, &sig));
        assert!(!memo.verify(&id, &msg, &forged));
    }

    #[test]
    fn the_memo_keeps_at_most_two_generations() {
        let memo = SigMemo::with_generation(10);
        let (id, sig) = signed(1, [0; 32]);
        for i in 0..35u32 {
            let mut msg = [0u8; 32];
            msg[..4].copy_from_slice(&i.to_be_bytes());
            memo.verify(&id, &msg, &sig);
        }
        assert_eq!(memo.len(), 15, "10 old and the 5 since the last turnover");
    }
}
