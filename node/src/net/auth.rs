//! Identity proofs of the handshake (issue 15 point 5).
//!
//! A node id IS the node's ed25519 public key. Each side of a handshake
//! signs the OTHER side's fresh nonce plus its own Hello with its node key,
//! so an id is accepted only from the holder of its key, and a proof
//! recorded on one connection fails on any other (the nonce it signs was
//! drawn for that connection only). What is signed names the signer's role,
//! so a dialer's proof never passes as an acceptor's or the reverse.
//!
//! Known limit (as in any handshake without key exchange): a relay in the
//! middle that forwards both sides' frames unchanged is not detected; the
//! frames after the handshake are not bound to it. CometBFT's
//! SecretConnection closes that with an encrypted channel.

use super::reason::RejectReason;
use crate::chain::types::{NodeId, Sig};
use crate::wire::Hello;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use std::collections::BTreeSet;

/// Domain separator of every handshake proof (never a vote or a tx).
const DOMAIN: &[u8] = b"timenet-handshake-v1";

/// Which side of the handshake a proof is made by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The side that opened the TCP connection.
    Dialer,
    /// The side that accepted it.
    Acceptor,
}

/// The bytes a proof signs: the domain, the signer's role, the nonce the
/// OTHER side drew for this connection, then every field of the signer's
/// own Hello (fixed-width, the network name length-prefixed).
pub fn transcript(role: Role, own: &Hello, peer_nonce: u64) -> Vec<u8> {
    let mut b = Vec::with_capacity(DOMAIN.len() + 128 + own.network.len());
    b.extend_from_slice(DOMAIN);
    b.push(match role {
        Role::Dialer => b'D',
        Role::Acceptor => b'A',
    });
    b.extend_from_slice(&peer_nonce.to_be_bytes());
    b.extend_from_slice(&own.magic.to_be_bytes());
    b.extend_from_slice(&own.version.to_be_bytes());
    b.extend_from_slice(&(own.network.len() as u64).to_be_bytes());
    b.extend_from_slice(own.network.as_bytes());
    b.extend_from_slice(&own.genesis_hash.0);
    b.extend_from_slice(&own.node_id.0);
    b.extend_from_slice(&own.nonce.to_be_bytes());
    b.extend_from_slice(&own.listen_port.to_be_bytes());
    b.extend_from_slice(&own.height.to_be_bytes());
    b
}

/// Our proof for one handshake: `own` is the Hello we sent, `peer_nonce`
/// the nonce of the Hello the other side sent.
pub fn prove(key: &SigningKey, role: Role, own: &Hello, peer_nonce: u64) -> Sig {
    Sig(key.sign(&transcript(role, own, peer_nonce)).to_bytes())
}

/// Whether `id` is a usable ed25519 public key (checked before we spend a
/// signature on a Hello that can never be proven).
pub fn is_key(id: &NodeId) -> bool {
    VerifyingKey::from_bytes(&id.0).is_ok_and(|k| !k.is_weak())
}

/// A peer's Hello whose proof verified: the only thing a registered
/// connection's identity (`PeerInfo`) is built from.
#[derive(Clone, Debug)]
pub struct Verified(Hello);

impl Verified {
    pub fn hello(&self) -> &Hello {
        &self.0
    }
}

/// Check the other side's `proof` of `theirs`, made as `role`, over the
/// nonce we drew for this connection. `masternodes` (the genesis
/// masternode ids) only sharpens the reason: an impostor of a genesis
/// masternode is told apart from any other failed proof.
pub fn verify(
    theirs: Hello,
    role: Role,
    our_nonce: u64,
    proof: &Sig,
    masternodes: &BTreeSet<NodeId>,
) -> Result<Verified, RejectReason> {
    let node_id = theirs.node_id;
    let ok = VerifyingKey::from_bytes(&node_id.0).is_ok_and(|key| {
        !key.is_weak()
            && key
                .verify_strict(
                    &transcript(role, &theirs, our_nonce),
                    &Signature::from_bytes(&proof.0),
                )
                .is_ok()
    });
    match (ok, masternodes.contains(&node_id)) {
        (true, _) => Ok(Verified(theirs)),
        (false, true) => Err(RejectReason::MasternodeImpostor { node_id }),
        (false, false) => Err(RejectReason::BadProof { node_id }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::keys;
    use crate::chain::types::Hash;
    use crate::constants::{MAGIC, PROTOCOL_VERSION};

    fn key(i: u8) -> SigningKey {
        SigningKey::from_bytes(&[i; 32])
    }

    fn hello(k: &SigningKey, nonce: u64) -> Hello {
        Hello {
            magic: MAGIC,
            version: PROTOCOL_VERSION,
            network: "timenet".into(),
            genesis_hash: Hash([1; 32]),
            node_id: keys::node_id(k),
            nonce,
            listen_port: 24100,
            height: 3,
        }
    }

    #[test]
    fn a_proof_verifies_only_for_its_nonce_role_fields_and_key() {
        let (k, none) = (key(1), BTreeSet::new());
        let h = hello(&k, 7);
        let proof = prove(&k, Role::Dialer, &h, 99);
        assert!(verify(h.clone(), Role::Dialer, 99, &proof, &none).is_ok());
        let bad = |h: Hello, role, nonce| {
            verify(h, role, nonce, &proof, &none)
                .unwrap_err()
                .to_string()
        };
        let want = format!("bad identity proof from node {}", h.node_id);
        assert_eq!(bad(h.clone(), Role::Dialer, 98), want, "another nonce");
        assert_eq!(bad(h.clone(), Role::Acceptor, 99), want, "the other role");
        let h2 = Hello {
            height: 4,
            ..h.clone()
        };
        assert_eq!(bad(h2, Role::Dialer, 99), want, "a changed field");
        let other = Hello {
            node_id: keys::node_id(&key(2)),
            ..h.clone()
        };
        assert!(bad(other, Role::Dialer, 99).starts_with("bad identity proof"));
    }

    #[test]
    fn a_genesis_masternode_id_proven_by_another_key_is_an_impostor() {
        let (real, other) = (key(1), key(2));
        let mn = BTreeSet::from([keys::node_id(&real)]);
        let claimed = hello(&real, 7); // the masternode's id ...
        let proof = prove(&other, Role::Dialer, &claimed, 5); // ... another key
        let err = verify(claimed.clone(), Role::Dialer, 5, &proof, &mn).unwrap_err();
        assert!(
            matches!(err, RejectReason::MasternodeImpostor { .. }),
            "{err}"
        );
        let proof = prove(&real, Role::Dialer, &claimed, 5);
        assert!(verify(claimed, Role::Dialer, 5, &proof, &mn).is_ok());
    }

    #[test]
    fn ids_that_are_not_keys_are_told_apart() {
        assert!(is_key(&keys::node_id(&key(1))));
        assert!(!is_key(&NodeId([0; 32]))); // the identity point: weak
    }
}
