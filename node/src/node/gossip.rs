//! Consensus gossip: which peer holds which consensus message of the
//! current height, so that each message crosses each connection about once.
//!
//! An author sends its own message to all its peers and names them in the
//! frame (`sent_to`, [`Recipients`]). A node that takes the message
//! straight from its author relays it at once only to its own peers the
//! author did not name; any other fresh message goes to every peer but the
//! sender, as a flood does (a partial mesh). In a full mesh of n
//! validators a vote now costs n - 1 frames, where relaying every fresh
//! message to everyone cost (n - 1)^2: 100 masternodes wrote ~2 million
//! frames per block (issue 13's 100-node bench).
//!
//! The author's list is a hint for the immediate relay only. A peer it
//! names may sit behind a cut nobody has noticed yet (TCP learns of a
//! silent drop at the ping timeout, minutes later). So when a height has
//! not decided within `GOSSIP_FALLBACK`, every message of the current and
//! the previous round goes, once, to each peer that has not shown it holds
//! it (by sending it to us, or by our sending it to it): the old flood,
//! paid only while a height is stuck.
//!
//! One owner: the consensus driver, on the service loop. Peers are keyed
//! by IP, the network layer's identity of a connection.

use crate::chain::types::Sig;
use crate::chain::votes::ConsensusMessage;
use crate::net::ConnectedPeer;
use crate::wire::Recipients;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

#[derive(Default)]
pub struct Gossip {
    height: u64,
    /// Messages of this height the core took (ours and peers'), by
    /// signature (one per message), with the peers known to hold each.
    held: BTreeMap<Sig, Held>,
}

struct Held {
    msg: ConsensusMessage,
    holders: BTreeSet<IpAddr>,
}

impl Gossip {
    /// Forget the last height's messages.
    pub fn reset(&mut self, height: u64) {
        self.height = height;
        self.held.clear();
    }

    /// Our own message, and the peers it was queued for.
    pub fn sent_own(&mut self, msg: &ConsensusMessage, to: &[IpAddr]) {
        if let Some(h) = self.hold(msg) {
            h.holders.extend(to.iter().copied());
        }
    }

    /// A message `from` sent us, `fresh` if the core took it. Returns the
    /// peers to relay a fresh one to now, already counted as holders.
    pub fn received(
        &mut self,
        msg: &ConsensusMessage,
        from: IpAddr,
        fresh: bool,
        sent_to: Option<&Recipients>,
        peers: &[ConnectedPeer],
    ) -> Vec<IpAddr> {
        let author = msg.author();
        if !fresh {
            if let Some(h) = self.held.get_mut(&msg.signature()) {
                h.holders.insert(from);
            }
            return Vec::new();
        }
        // The list counts only from the author itself: a relay's list is
        // ignored, so no peer can silence a message it did not write.
        let from_author = peers.iter().any(|p| p.ip == from && p.node_id == author);
        let named = |p: &ConnectedPeer| from_author && sent_to.is_some_and(|s| s.names(&p.node_id));
        let mut holders = BTreeSet::from([from]);
        let held = self.hold(msg);
        let holders = match held {
            Some(h) => {
                h.holders.insert(from);
                &mut h.holders
            }
            // The message that decided the height (the core has moved on):
            // relayed all the same, not kept.
            None => &mut holders,
        };
        let to: Vec<IpAddr> = peers
            .iter()
            .filter(|p| !holders.contains(&p.ip) && !named(p))
            .map(|p| p.ip)
            .collect();
        holders.extend(to.iter().copied());
        to
    }

    /// The stuck-height fallback: each message of round `round - 1` or
    /// later with the connected peers not known to hold it, who are counted
    /// as holders from now on (each pair is sent once).
    pub fn fallback(
        &mut self,
        round: u32,
        peers: &[ConnectedPeer],
    ) -> Vec<(ConsensusMessage, Vec<IpAddr>)> {
        let from_round = round.saturating_sub(1);
        let mut out = Vec::new();
        for h in self.held.values_mut() {
            if h.msg.round() < from_round {
                continue;
            }
            let to: Vec<IpAddr> = peers
                .iter()
                .map(|p| p.ip)
                .filter(|ip| !h.holders.contains(ip))
                .collect();
            if !to.is_empty() {
                h.holders.extend(to.iter().copied());
                out.push((h.msg.clone(), to));
            }
        }
        out
    }

    /// The entry of a message of this height (made on first sight).
    fn hold(&mut self, msg: &ConsensusMessage) -> Option<&mut Held> {
        if msg.height() != self.height {
            return None;
        }
        Some(self.held.entry(msg.signature()).or_insert_with(|| Held {
            msg: msg.clone(),
            holders: BTreeSet::new(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::types::NodeId;
    use crate::chain::votes::{Vote, VoteKind};
    use crate::net::Direction;
    use std::net::Ipv4Addr;

    fn id(i: u8) -> NodeId {
        NodeId([i; 32])
    }

    fn ip(i: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, i))
    }

    /// Connected peers 1..=n, peer i with node id i.
    fn peers(ids: &[u8]) -> Vec<ConnectedPeer> {
        ids.iter()
            .map(|&i| ConnectedPeer {
                ip: ip(i),
                node_id: id(i),
                direction: Direction::Outbound,
                handshake_height: 0,
                listen_port: 24100,
            })
            .collect()
    }

    fn vote(author: u8, round: u32) -> ConsensusMessage {
        ConsensusMessage::Vote(Vote {
            kind: VoteKind::Prevote,
            height: 5,
            round,
            block_hash: None,
            validator: id(author),
            signature: Sig([author.wrapping_mul(7).wrapping_add(round as u8); 64]),
        })
    }

    fn gossip() -> Gossip {
        let mut g = Gossip::default();
        g.reset(5);
        g
    }

    #[test]
    fn straight_from_its_author_a_message_goes_only_to_peers_the_author_did_not_name() {
        let mut g = gossip();
        let mine = peers(&[1, 3, 4, 5]);
        let named = Recipients::of(&[id(2), id(3), id(4)]);
        let to = g.received(&vote(1, 0), ip(1), true, Some(&named), &mine);
        assert_eq!(to, vec![ip(5)], "3 and 4 have it from the author");
    }

    #[test]
    fn a_list_from_anyone_but_the_author_is_ignored() {
        let mut g = gossip();
        let mine = peers(&[1, 3, 4]);
        // Peer 3 relays 1's vote claiming everyone has it.
        let everyone = Recipients::of(&[id(1), id(3), id(4)]);
        let to = g.received(&vote(1, 0), ip(3), true, Some(&everyone), &mine);
        assert_eq!(to, vec![ip(1), ip(4)]);
    }

    #[test]
    fn a_relay_floods_every_peer_but_the_sender_once() {
        let mut g = gossip();
        let mine = peers(&[2, 3, 4]);
        let v = vote(1, 0);
        assert_eq!(g.received(&v, ip(2), true, None, &mine), vec![ip(3), ip(4)]);
        // The same vote again (the core calls it a duplicate): no relay.
        assert!(g.received(&v, ip(3), false, None, &mine).is_empty());
        // The vote that decided the height arrives after the core moved on:
        // still relayed, but not kept for the fallback.
        g.reset(6);
        let decided = vote(9, 0);
        assert_eq!(
            g.received(&decided, ip(2), true, None, &mine),
            vec![ip(3), ip(4)]
        );
        assert!(g.fallback(0, &mine).is_empty());
    }

    #[test]
    fn a_stuck_height_sends_each_peer_what_it_has_not_shown_it_holds_once() {
        let mut g = gossip();
        let mine = peers(&[1, 3, 4]);
        // The author named 3 and 4 (so no relay), but 3 sits behind a cut.
        let named = Recipients::of(&[id(3), id(4)]);
        assert!(g
            .received(&vote(1, 2), ip(1), true, Some(&named), &mine)
            .is_empty());
        // 4 showed it has it; an old round's vote is not sent any more.
        g.received(&vote(1, 2), ip(4), false, None, &mine);
        g.received(&vote(4, 0), ip(4), true, None, &mine);
        g.sent_own(&vote(9, 2), &[ip(1)]);
        let sent = g.fallback(2, &mine);
        assert_eq!(
            sent,
            vec![(vote(1, 2), vec![ip(3)]), (vote(9, 2), vec![ip(3), ip(4)])]
        );
        assert!(g.fallback(2, &mine).is_empty(), "each pair once");
        g.reset(6);
        assert!(g.fallback(0, &mine).is_empty(), "a new height forgets");
    }

    #[test]
    fn recipients_travel_as_one_hex_string_and_refuse_a_bad_one() {
        let r = Recipients::of(&[id(3), id(1)]);
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(json, "\"01010101010101010303030303030303\"");
        let back: Recipients = serde_json::from_str(&json).unwrap();
        assert!(back.names(&id(1)) && back.names(&id(3)) && !back.names(&id(2)));
        assert!(serde_json::from_str::<Recipients>("\"0101\"").is_err());
        assert!(serde_json::from_str::<Recipients>("\"zz01010101010101\"").is_err());
        let too_many = "0".repeat(16 * (Recipients::MAX + 1));
        assert!(serde_json::from_str::<Recipients>(&format!("\"{too_many}\"")).is_err());
    }
}
