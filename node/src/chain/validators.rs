//! The masternode set from genesis: weights, quorum thresholds and the
//! weighted, deterministic proposer rotation.

use crate::chain::genesis::Genesis;
use crate::chain::types::NodeId;
use sha2::{Digest, Sha256};

#[derive(Clone, Debug)]
pub struct Validators {
    /// Sorted by node id so every node iterates identically.
    list: Vec<(NodeId, u64)>,
    total: u64,
}

impl Validators {
    pub fn new(mut list: Vec<(NodeId, u64)>) -> Self {
        list.sort();
        list.dedup_by_key(|(id, _)| *id);
        let total = list.iter().map(|(_, w)| w).sum();
        Validators { list, total }
    }

    pub fn from_genesis(g: &Genesis) -> Self {
        Self::new(
            g.masternodes
                .iter()
                .map(|m| (m.node_id, m.tier.weight()))
                .collect(),
        )
    }

    pub fn weight(&self, id: &NodeId) -> Option<u64> {
        self.list
            .binary_search_by_key(id, |(i, _)| *i)
            .ok()
            .map(|k| self.list[k].1)
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// True when `w` is more than 2/3 of the total weight.
    pub fn is_quorum(&self, w: u64) -> bool {
        3 * (w as u128) > 2 * (self.total as u128)
    }

    /// True when `w` is more than 1/3 (at least one honest node among them).
    pub fn is_one_third(&self, w: u64) -> bool {
        3 * (w as u128) > self.total as u128
    }

    /// The proposer of (height, round): a weighted pick seeded by both, so
    /// heavier tiers propose proportionally more often and every node
    /// computes the same answer. A round never repeats the previous round's
    /// proposer (it moves to the next validator), so a dead proposer costs
    /// one round, not several.
    pub fn proposer(&self, height: u64, round: u32) -> NodeId {
        let pick = self.weighted_pick(height, round);
        if round > 0 && self.list.len() > 1 && pick == self.weighted_pick(height, round - 1) {
            let k = self.list.iter().position(|(i, _)| *i == pick).unwrap();
            return self.list[(k + 1) % self.list.len()].0;
        }
        pick
    }

    fn weighted_pick(&self, height: u64, round: u32) -> NodeId {
        assert!(self.total > 0, "no validators");
        let mut h = Sha256::new();
        h.update(height.to_be_bytes());
        h.update(round.to_be_bytes());
        let d: [u8; 32] = h.finalize().into();
        let mut x = u64::from_be_bytes(d[..8].try_into().unwrap()) % self.total;
        for (id, w) in &self.list {
            if x < *w {
                return *id;
            }
            x -= w;
        }
        unreachable!("x < total weight")
    }
}
