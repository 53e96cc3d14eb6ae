//! The thin async side of consensus: feeds the pure [`Core`] from the
//! network and timers, and carries out its outputs in order: persist the
//! signed step (fsync) BEFORE broadcasting, schedule timeouts on the
//! protocol clock, apply decided blocks to the chain.

use super::gossip::Gossip;
use crate::chain::types::{Block, NodeId};
use crate::chain::votes::ConsensusMessage;
use crate::clock::{Clock, Instant};
use crate::consensus::core::{App, Core, Output, Reject, Timeout};
use crate::constants::GOSSIP_FALLBACK;
use crate::live::Shared;
use crate::wire::{NetworkMessage, Recipients};
use std::net::IpAddr;
use std::sync::Arc;

/// Messages for the next height that arrive before we finish this one.
const MAX_FUTURE_MESSAGES: usize = 4096;

pub struct Driver {
    core: Core,
    shared: Arc<Shared>,
    clock: Clock,
    me: NodeId,
    timers: Vec<(Instant, Timeout)>,
    /// When the current height starts (block interval after the last commit).
    start_at: Option<Instant>,
    future: Vec<(Option<IpAddr>, ConsensusMessage)>,
    /// When we first saw a proposal at this height (finality latency).
    proposal_seen: Option<Instant>,
    /// When the current height started (None while waiting to start).
    started_at: Option<Instant>,
    /// Which peer holds which message of this height.
    gossip: Gossip,
}

/// The chain as the core sees it.
struct ChainApp<'a> {
    shared: &'a Shared,
    me: NodeId,
    clock: &'a Clock,
}

impl App for ChainApp<'_> {
    fn build_block(&mut self, height: u64) -> Block {
        let st = self.shared.state.lock().unwrap();
        let b = st.build_block(self.me, self.clock.chain_time_ms());
        debug_assert_eq!(b.header.height, height);
        b
    }
    fn is_valid(&mut self, block: &Block) -> bool {
        let st = self.shared.state.lock().unwrap();
        match st.check_next(block) {
            Ok(_) => true,
            Err(e) => {
                tracing::warn!(height = block.header.height, reason = %e, "invalid proposal");
                false
            }
        }
    }
}

impl Driver {
    pub fn new(core: Core, shared: Arc<Shared>, clock: Clock, me: NodeId) -> Driver {
        let mut d = Driver {
            core,
            shared,
            clock,
            me,
            timers: vec![],
            start_at: None,
            future: vec![],
            proposal_seen: None,
            started_at: None,
            gossip: Gossip::default(),
        };
        d.gossip.reset(d.core.height());
        d.start_at = Some(d.clock.now());
        d
    }

    pub fn round(&self) -> u32 {
        self.core.round()
    }

    /// The core's rare-event counts (for `/metrics`).
    pub fn rare(&self) -> crate::consensus::rare::RareEvents {
        self.core.rare()
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        let t = self.timers.iter().map(|(at, _)| *at).min();
        match (t, self.start_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Fire everything that is due.
    pub fn on_deadline(&mut self) {
        let now = self.clock.now();
        if self.start_at.is_some_and(|s| s <= now) {
            self.start_at = None;
            self.started_at = Some(now);
            let mut app = chain_app(&self.shared, self.me, &self.clock);
            let outs = self.core.start(&mut app);
            self.handle(outs);
        }
        let (due, keep): (Vec<_>, Vec<_>) = self.timers.drain(..).partition(|(at, _)| *at <= now);
        self.timers = keep;
        for (_, t) in due {
            let mut app = chain_app(&self.shared, self.me, &self.clock);
            let outs = self.core.on_timeout(t, &mut app);
            self.handle(outs);
        }
    }

    /// A consensus message a peer sent us (`sent_to`: the peers its author
    /// says it sent it to). A fresh one is relayed to the peers that may
    /// not have it ([`Gossip::received`]).
    pub fn on_peer_message(
        &mut self,
        from: IpAddr,
        msg: ConsensusMessage,
        sent_to: Option<Recipients>,
    ) {
        let fresh = self.on_message(Some(from), msg.clone());
        // A copy we held already only adds `from` to its holders: the peer
        // list (a sorted copy of the registry) is read for fresh ones only.
        let peers = if fresh {
            self.shared.net.connected()
        } else {
            Vec::new()
        };
        let to = self
            .gossip
            .received(&msg, from, fresh, sent_to.as_ref(), &peers);
        if !to.is_empty() {
            let relay = NetworkMessage::Consensus { msg, sent_to: None };
            self.shared.net.send_to_each(&relay, &to);
        }
    }

    /// A consensus message from `from` (None = replayed from our buffer).
    /// Returns true when it was new and valid.
    fn on_message(&mut self, from: Option<IpAddr>, msg: ConsensusMessage) -> bool {
        let height = msg.height();
        let result = {
            let mut app = chain_app(&self.shared, self.me, &self.clock);
            match msg.clone() {
                ConsensusMessage::Proposal(p) => self.core.on_proposal(p, &mut app),
                ConsensusMessage::Vote(v) => self.core.on_vote(v, &mut app),
            }
        };
        match result {
            Ok(outs) => {
                if matches!(msg, ConsensusMessage::Proposal(_)) && self.proposal_seen.is_none() {
                    self.proposal_seen = Some(self.clock.now());
                }
                self.handle(outs);
                true
            }
            Err(Reject::Duplicate) => false,
            Err(Reject::Invalid(why)) => {
                if let Some(ip) = from {
                    tracing::warn!(peer = %ip, reason = why, "invalid consensus message");
                    self.shared.net.penalize(ip, 20, why);
                }
                false
            }
            Err(Reject::OtherHeight) => {
                let ours = self.core.height();
                if height == ours + 1 && self.future.len() < MAX_FUTURE_MESSAGES {
                    self.future.push((from, msg));
                }
                if height > ours + 1 {
                    // Votes from the future: we are behind, fetch blocks.
                    self.shared.sync_kick.notify_one();
                }
                false
            }
        }
    }

    /// The chain moved past the core (sync or a block announcement).
    pub fn on_chain_advanced(&mut self) {
        let chain_height = self.shared.height();
        if chain_height >= self.core.height() {
            tracing::debug!(height = chain_height + 1, "consensus follows the chain");
            self.enter_height(chain_height + 1);
        }
    }

    /// Every `TIMEOUT_PROPOSE`: re-send our own messages and, once the
    /// height has been undecided for [`GOSSIP_FALLBACK`], send each peer
    /// the round's messages it has not shown it holds.
    pub fn on_rebroadcast_tick(&mut self) {
        self.rebroadcast(None);
        let now = self.clock.now();
        let stuck = self
            .started_at
            .is_some_and(|t| t + self.clock.protocol(GOSSIP_FALLBACK) <= now);
        if stuck {
            let peers = self.shared.net.connected();
            for (m, to) in self.gossip.fallback(self.core.round(), &peers) {
                let msg = NetworkMessage::Consensus {
                    msg: m,
                    sent_to: None,
                };
                self.shared.net.send_to_each(&msg, &to);
            }
        }
    }

    /// Re-send our current round's messages (a lost frame or a peer that
    /// connected late must not stall the round).
    pub fn rebroadcast(&self, to: Option<IpAddr>) {
        for m in self.core.own_messages() {
            let msg = NetworkMessage::Consensus {
                msg: m,
                sent_to: None,
            };
            match to {
                Some(ip) => {
                    let _ = self.shared.net.send_to_peer(ip, &msg);
                }
                None => {
                    self.shared.net.broadcast(&msg);
                }
            }
        }
    }

    fn enter_height(&mut self, height: u64) {
        self.core.reset(height);
        self.gossip.reset(height);
        self.timers.clear();
        self.proposal_seen = None;
        self.started_at = None;
        let interval = self.clock.protocol(self.shared.genesis.block_interval);
        self.start_at = Some(self.clock.now() + interval);
        // Replay what arrived early for this height.
        let buffered = std::mem::take(&mut self.future);
        for (from, m) in buffered {
            let h = m.height();
            if h == height {
                match from {
                    // Relayed like any fresh message (the author's list
                    // did not keep: whoever may lack it gets it).
                    Some(ip) => self.on_peer_message(ip, m, None),
                    None => {
                        self.on_message(None, m);
                    }
                }
            } else if h > height {
                self.future.push((from, m));
            }
        }
    }

    fn handle(&mut self, outs: Vec<Output>) {
        let mut may_send = true;
        for o in outs {
            match o {
                Output::Persist(step) => {
                    if let Err(e) = self.shared.store.set_last_signed(&step) {
                        // Never send a signature we could not record.
                        tracing::error!(error = %e, "cannot persist last signed step; not sending");
                        may_send = false;
                    }
                }
                Output::Broadcast(m) => {
                    // Our own proposal starts the height's finality clock
                    // just as a peer's does.
                    if matches!(m, ConsensusMessage::Proposal(_)) && self.proposal_seen.is_none() {
                        self.proposal_seen = Some(self.clock.now());
                    }
                    if may_send {
                        self.send_own(m);
                    }
                }
                Output::Schedule(t, d) => {
                    self.timers
                        .push((self.clock.now() + self.clock.protocol(d), t));
                }
                Output::Decided(block) => self.on_decided(block),
            }
        }
    }

    /// Our own new message to every peer, naming them in the frame so
    /// that none of them relays it to the others.
    fn send_own(&mut self, m: ConsensusMessage) {
        let peers = self.shared.net.connected();
        let ips: Vec<IpAddr> = peers.iter().map(|p| p.ip).collect();
        let msg = NetworkMessage::Consensus {
            msg: m.clone(),
            sent_to: Some(Recipients::of(peers.iter().map(|p| &p.node_id))),
        };
        let queued = self.shared.net.send_to_each(&msg, &ips);
        self.gossip.sent_own(&m, &queued);
    }

    fn on_decided(&mut self, block: Block) {
        let h = block.header.height;
        let round = block.commit.as_ref().map(|c| c.round).unwrap_or(0);
        let latency = self.proposal_seen.map(|t| t.elapsed());
        let latency_ms = latency.map_or(0.0, |d| d.as_secs_f64() * 1000.0);
        let ntx = block.txs.len();
        let result = {
            let mut st = self.shared.state.lock().unwrap();
            let r = st.apply_decided(block.clone());
            if r.is_ok() {
                self.shared.publish_tip(&st);
            }
            r
        };
        match result {
            Ok(applied) => {
                if applied == crate::chain::state::Applied::New {
                    tracing::info!(
                        height = h,
                        round,
                        txs = ntx,
                        latency_ms = format!("{latency_ms:.1}"),
                        "block finalized"
                    );
                    if let Some(d) = latency {
                        self.shared.metrics.finality_latency.observe(d);
                    }
                    self.shared.on_finalized(h, &block, "consensus");
                    self.shared.net.broadcast(&NetworkMessage::NewTip {
                        height: h,
                        hash: crate::chain::block::hash(&block),
                    });
                }
            }
            Err(e) => {
                tracing::error!(height = h, reason = %e, "decided block could not be applied")
            }
        }
        let next = self.shared.height() + 1;
        self.enter_height(next);
    }
}

fn chain_app<'a>(shared: &'a Shared, me: NodeId, clock: &'a Clock) -> ChainApp<'a> {
    ChainApp { shared, me, clock }
}
