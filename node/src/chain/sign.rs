//! What validators sign, and checking it. Every signature is bound to the
//! chain (the genesis hash) so it cannot be replayed on another network.

use crate::chain::block;
use crate::chain::sig_check::{verify, SigCheck};
use crate::chain::types::{Block, Commit, Hash, Sig};
use crate::chain::validators::Validators;
use crate::chain::votes::{Proposal, Vote, VoteKind};
use ed25519_dalek::{Signer, SigningKey};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

pub fn vote_bytes(
    chain: &Hash,
    kind: VoteKind,
    height: u64,
    round: u32,
    value: Option<Hash>,
) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"timenet-vote");
    h.update(chain.0);
    h.update([kind as u8]);
    h.update(height.to_be_bytes());
    h.update(round.to_be_bytes());
    match value {
        Some(v) => {
            h.update([1]);
            h.update(v.0)
        }
        None => h.update([0]),
    }
    h.finalize().into()
}

pub fn proposal_bytes(
    chain: &Hash,
    height: u64,
    round: u32,
    pol_round: i64,
    value: &Hash,
) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"timenet-proposal");
    h.update(chain.0);
    h.update(height.to_be_bytes());
    h.update(round.to_be_bytes());
    h.update(pol_round.to_be_bytes());
    h.update(value.0);
    h.finalize().into()
}

pub fn sign_vote(
    key: &SigningKey,
    chain: &Hash,
    kind: VoteKind,
    height: u64,
    round: u32,
    value: Option<Hash>,
) -> Vote {
    let sig = key.sign(&vote_bytes(chain, kind, height, round, value));
    Vote {
        kind,
        height,
        round,
        block_hash: value,
        validator: crate::chain::keys::node_id(key),
        signature: Sig(sig.to_bytes()),
    }
}

pub fn verify_vote(check: &SigCheck, chain: &Hash, v: &Vote) -> bool {
    check.verify(
        &v.validator,
        &vote_bytes(chain, v.kind, v.height, v.round, v.block_hash),
        &v.signature,
    )
}

pub fn sign_proposal(
    key: &SigningKey,
    chain: &Hash,
    round: u32,
    pol_round: i64,
    block: Block,
) -> Proposal {
    let value = block::hash(&block);
    let height = block.header.height;
    let sig = key.sign(&proposal_bytes(chain, height, round, pol_round, &value));
    Proposal {
        height,
        round,
        pol_round,
        block,
        proposer: crate::chain::keys::node_id(key),
        signature: Sig(sig.to_bytes()),
    }
}

pub fn verify_proposal(check: &SigCheck, chain: &Hash, p: &Proposal) -> bool {
    let value = block::hash(&p.block);
    check.verify(
        &p.proposer,
        &proposal_bytes(chain, p.height, p.round, p.pol_round, &value),
        &p.signature,
    )
}

/// Check that `block` carries a commit by more than 2/3 of the voting weight
/// for exactly this block. Stops verifying signatures once the quorum is
/// reached (extra signatures add nothing to the proof).
pub fn verify_commit(chain: &Hash, validators: &Validators, block: &Block) -> Result<(), String> {
    let Some(c) = &block.commit else {
        return Err("block has no commit".into());
    };
    let value = block::hash(block);
    if c.height != block.header.height || c.block_hash != value {
        return Err("commit is for another block".into());
    }
    let msg = vote_bytes(chain, VoteKind::Precommit, c.height, c.round, Some(value));
    let mut seen = BTreeSet::new();
    let mut weight = 0u64;
    for s in &c.signatures {
        if !seen.insert(s.validator) {
            return Err(format!("validator {} signed twice", s.validator));
        }
        let Some(w) = validators.weight(&s.validator) else {
            return Err(format!("{} is not a masternode", s.validator));
        };
        if !verify(&s.validator, &msg, &s.signature) {
            return Err(format!("bad commit signature by {}", s.validator));
        }
        weight += w;
        if validators.is_quorum(weight) {
            return Ok(());
        }
    }
    Err(format!(
        "commit weight {weight} of {} is not more than 2/3",
        validators.total()
    ))
}

/// Build a commit from precommits (already verified) for `value`.
pub fn make_commit(height: u64, round: u32, value: Hash, precommits: &[&Vote]) -> Commit {
    let mut signatures: Vec<_> = precommits
        .iter()
        .map(|v| crate::chain::types::CommitSig {
            validator: v.validator,
            signature: v.signature,
        })
        .collect();
    signatures.sort_by_key(|s| s.validator);
    Commit {
        height,
        round,
        block_hash: value,
        signatures,
    }
}
