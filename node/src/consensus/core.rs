//! The Tendermint state machine as a pure, synchronous core.
//!
//! Inputs: proposals, votes, timeouts (and `start` when the block interval
//! has passed). Outputs: what to persist, what to broadcast, which timeouts
//! to schedule, and decided blocks. No I/O, no clock: the async driver in
//! [`crate::node`]'s driver does all of that, and the unit tests below drive this
//! core without any network.
//!
//! The rules follow "The latest gossip on BFT consensus" (Buchman, Kwon,
//! Milosevic 2018), Algorithm 1, with lockedValue/lockedRound and
//! validValue/validRound. Thresholds are by voting weight: a quorum is more
//! than 2/3 of the total weight, "f+1" is more than 1/3.
//!
//! Safety across restarts: before any signature leaves the core it emits
//! [`Output::Persist`] with the (height, round, step, value) it signs; the
//! driver writes that durably before sending anything that follows it. The
//! core never signs a step at or below the last persisted one unless it is
//! the very same value (re-signing the same vote is harmless).
//!
//! Liveness across restarts: the paper assumes every message of a correct
//! validator eventually reaches every other one. A restart breaks that
//! (messages live in memory), so the persisted step also carries:
//! - our own votes of the last two rounds and our latest proposal, restored
//!   and re-broadcast after a restart (re-broadcasts cover the previous round
//!   too, for peers one round behind);
//! - our valid value with its block, so a value we are locked on cannot be
//!   lost with the proposer's memory: we re-propose it when it is our turn,
//!   and a validator locked on a proposed value prevotes it without waiting
//!   for a proof-of-lock it may never see again (as safe as the paper's
//!   vr = -1 rule, which already prevotes the locked value).
//!
//! And a laggard skips to the highest round that validators holding f+1
//! weight have reached (not only to a round f+1 of them share), so
//! validators scattered over several rounds still meet. Without these,
//! SIGKILLing every masternode at once could stall a height forever.

use super::rare::RareEvents;
use crate::chain::block;
use crate::chain::sig_check::SigCheck;
use crate::chain::sign;
use crate::chain::types::{Block, Hash, NodeId};
use crate::chain::validators::Validators;
use crate::chain::votes::{ConsensusMessage, Proposal, Vote, VoteKind};
pub use crate::chain::votes::{SignedStep, Step};
use crate::constants::{ROUND_TIMEOUT_DELTA, TIMEOUT_PRECOMMIT, TIMEOUT_PREVOTE, TIMEOUT_PROPOSE};
use ed25519_dalek::SigningKey;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeout {
    pub height: u64,
    pub round: u32,
    pub step: Step,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// Write durably before acting on any later output.
    Persist(Box<SignedStep>),
    Broadcast(ConsensusMessage),
    /// Fire `timeout` after this much protocol time.
    Schedule(Timeout, Duration),
    /// A final block, with its commit attached.
    Decided(Block),
}

/// What the core needs from the chain.
pub trait App {
    /// A new block for `height` on top of the current tip (we propose).
    fn build_block(&mut self, height: u64) -> Block;
    /// Whether `block` is a valid next block.
    fn is_valid(&mut self, block: &Block) -> bool;
}

/// Why an incoming message was not used (for logs and peer scoring).
#[derive(Debug, PartialEq, Eq)]
pub enum Reject {
    /// For another height: the driver buffers or syncs.
    OtherHeight,
    /// Signature or signer invalid: the sender misbehaves.
    Invalid(&'static str),
    /// Already seen.
    Duplicate,
}

struct ProposalEntry {
    block: Block,
    value: Hash,
    valid: bool,
    pol_round: i64,
}

pub struct Core {
    chain: Hash,
    key: SigningKey,
    me: NodeId,
    validators: Validators,
    height: u64,
    round: u32,
    step: Step,
    /// False between a decision and the start of the next height.
    started: bool,
    /// (lockedRound, hash of lockedValue). Only the hash is needed to
    /// obey the lock, so it can be restored from the store after a restart.
    locked: Option<(u32, Hash)>,
    valid: Option<(u32, Block)>,
    proposals: BTreeMap<u32, ProposalEntry>,
    votes: BTreeMap<(u32, VoteKind), BTreeMap<NodeId, Vote>>,
    last_signed: Option<SignedStep>,
    prevote_timeout_set: BTreeSet<u32>,
    precommit_timeout_set: BTreeSet<u32>,
    prevote_quorum_seen: BTreeSet<u32>,
    /// Our own signed messages at this height, newest last (re-broadcast
    /// by the driver so a lost frame or a late joiner cannot stall a round).
    own: Vec<ConsensusMessage>,
    out: Vec<Output>,
    /// Rare events over the process's life (not cleared by `reset`).
    rare: RareEvents,
    /// How proposal and vote signatures are checked.
    sig_check: SigCheck,
}

pub fn timeout_for(step: Step, round: u32) -> Duration {
    let base = match step {
        Step::Propose => TIMEOUT_PROPOSE,
        Step::Prevote => TIMEOUT_PREVOTE,
        Step::Precommit => TIMEOUT_PRECOMMIT,
    };
    base + ROUND_TIMEOUT_DELTA * round
}

impl Core {
    /// A core waiting to start `height`. `last_signed` comes from the store.
    pub fn new(
        chain: Hash,
        key: SigningKey,
        validators: Validators,
        height: u64,
        last_signed: Option<SignedStep>,
    ) -> Core {
        let me = crate::chain::keys::node_id(&key);
        let mut c = Core {
            chain,
            key,
            me,
            validators,
            height,
            round: 0,
            step: Step::Propose,
            started: false,
            locked: None,
            valid: None,
            proposals: BTreeMap::new(),
            votes: BTreeMap::new(),
            last_signed,
            prevote_timeout_set: BTreeSet::new(),
            precommit_timeout_set: BTreeSet::new(),
            prevote_quorum_seen: BTreeSet::new(),
            own: vec![],
            out: vec![],
            rare: RareEvents::default(),
            sig_check: SigCheck::Direct,
        };
        c.reset(height);
        c
    }

    /// Check signatures through `check` (the node's environment decides;
    /// [`SigCheck::Direct`] unless told).
    pub fn with_sig_check(mut self, check: SigCheck) -> Core {
        self.sig_check = check;
        self
    }

    pub fn height(&self) -> u64 {
        self.height
    }
    pub fn round(&self) -> u32 {
        self.round
    }
    pub fn step(&self) -> Step {
        self.step
    }
    pub fn started(&self) -> bool {
        self.started
    }
    pub fn is_validator(&self) -> bool {
        self.validators.weight(&self.me).is_some()
    }
    pub fn validators(&self) -> &Validators {
        &self.validators
    }
    /// Rare events counted since this core was made.
    pub fn rare(&self) -> RareEvents {
        self.rare
    }

    /// Our signed messages of the current and the previous round (for
    /// re-broadcast): a peer still in the previous round needs our votes of
    /// that round to time out of it and join us.
    pub fn own_messages(&self) -> Vec<ConsensusMessage> {
        let r = self.round.saturating_sub(1);
        self.own
            .iter()
            .filter(|m| m.round() >= r)
            .cloned()
            .collect()
    }

    /// Forget everything and wait to start `height` (after a decision, or
    /// when sync moved the chain past us).
    pub fn reset(&mut self, height: u64) {
        self.height = height;
        self.round = 0;
        self.step = Step::Propose;
        self.started = false;
        self.locked = None;
        self.valid = None;
        self.proposals.clear();
        self.votes.clear();
        self.prevote_timeout_set.clear();
        self.precommit_timeout_set.clear();
        self.prevote_quorum_seen.clear();
        self.own.clear();
    }

    /// Start the current height (the block interval has passed). After a
    /// restart mid-height we resume at the round and step we last signed in
    /// (every earlier step is closed to us anyway), with the lock we held (a
    /// validator that forgot its lock could help decide a second value) and
    /// with our votes, which the others lost if they restarted too.
    pub fn start(&mut self, app: &mut dyn App) -> Vec<Output> {
        if !self.started {
            self.started = true;
            match self.last_signed.clone() {
                Some(s) if s.height == self.height => {
                    if s.lock.is_some() {
                        self.rare.locks_restored += 1;
                    }
                    self.locked = s.lock;
                    self.valid = s.valid;
                    if let Some(p) = s.proposal.filter(|p| p.proposer == self.me) {
                        let value = block::hash(&p.block);
                        self.proposals.insert(
                            p.round,
                            ProposalEntry {
                                block: p.block.clone(),
                                value,
                                valid: app.is_valid(&p.block),
                                pol_round: p.pol_round,
                            },
                        );
                        self.own.push(ConsensusMessage::Proposal(p));
                    }
                    self.start_round(s.round, app);
                    for v in s.votes {
                        if v.height == self.height && v.validator == self.me {
                            if v.round == s.round {
                                // Resume after the latest step we can resend.
                                self.step = self.step.max(match v.kind {
                                    VoteKind::Prevote => Step::Prevote,
                                    VoteKind::Precommit => Step::Precommit,
                                });
                            }
                            self.own.push(ConsensusMessage::Vote(v.clone()));
                            self.votes
                                .entry((v.round, v.kind))
                                .or_default()
                                .insert(self.me, v);
                        }
                    }
                }
                _ => self.start_round(0, app),
            }
            self.process(app);
        }
        std::mem::take(&mut self.out)
    }

    pub fn on_proposal(&mut self, p: Proposal, app: &mut dyn App) -> Result<Vec<Output>, Reject> {
        if p.height != self.height {
            return Err(Reject::OtherHeight);
        }
        if p.block.header.height != p.height || p.pol_round >= p.round as i64 || p.pol_round < -1 {
            return Err(Reject::Invalid("malformed proposal"));
        }
        if p.proposer != self.validators.proposer(p.height, p.round) {
            return Err(Reject::Invalid(
                "proposal from a node that is not the round's proposer",
            ));
        }
        if self.proposals.contains_key(&p.round) {
            return Err(Reject::Duplicate);
        }
        if !sign::verify_proposal(&self.sig_check, &self.chain, &p) {
            return Err(Reject::Invalid("bad proposal signature"));
        }
        let value = block::hash(&p.block);
        let valid = app.is_valid(&p.block);
        self.proposals.insert(
            p.round,
            ProposalEntry {
                block: p.block,
                value,
                valid,
                pol_round: p.pol_round,
            },
        );
        self.process(app);
        Ok(std::mem::take(&mut self.out))
    }

    pub fn on_vote(&mut self, v: Vote, app: &mut dyn App) -> Result<Vec<Output>, Reject> {
        if v.height != self.height {
            return Err(Reject::OtherHeight);
        }
        if self.validators.weight(&v.validator).is_none() {
            return Err(Reject::Invalid("vote from a node that is not a masternode"));
        }
        let set = self.votes.entry((v.round, v.kind)).or_default();
        if set.contains_key(&v.validator) {
            return Err(Reject::Duplicate);
        }
        if !sign::verify_vote(&self.sig_check, &self.chain, &v) {
            return Err(Reject::Invalid("bad vote signature"));
        }
        set.insert(v.validator, v);
        self.process(app);
        Ok(std::mem::take(&mut self.out))
    }

    pub fn on_timeout(&mut self, t: Timeout, app: &mut dyn App) -> Vec<Output> {
        if t.height == self.height && self.started && t.round == self.round {
            match t.step {
                Step::Propose if self.step == Step::Propose => self.prevote(None),
                Step::Prevote if self.step == Step::Prevote => self.precommit(None),
                Step::Precommit => self.start_round(self.round + 1, app),
                _ => {}
            }
            self.process(app);
        }
        std::mem::take(&mut self.out)
    }

    // ---- the rules ------------------------------------------------------

    fn start_round(&mut self, round: u32, app: &mut dyn App) {
        if round > 0 {
            self.rare.rounds_above_zero += 1;
        }
        self.round = round;
        self.step = Step::Propose;
        let h = self.height;
        if self.validators.proposer(h, round) == self.me && !self.proposals.contains_key(&round) {
            let (block, pol) = match &self.valid {
                Some((vr, b)) => (b.clone(), *vr as i64),
                None => (app.build_block(h), -1),
            };
            let value = block::hash(&block);
            let p = sign::sign_proposal(&self.key, &self.chain, round, pol, block.clone());
            let p = ConsensusMessage::Proposal(p);
            if self.may_sign(Step::Propose, Some(value), Some(&p)) {
                self.emit(p);
                self.proposals.insert(
                    round,
                    ProposalEntry {
                        block,
                        value,
                        valid: true,
                        pol_round: pol,
                    },
                );
            }
        }
        self.out.push(Output::Schedule(
            Timeout {
                height: h,
                round,
                step: Step::Propose,
            },
            timeout_for(Step::Propose, round),
        ));
    }

    /// Apply every rule that can fire until none can.
    fn process(&mut self, app: &mut dyn App) {
        loop {
            if self.try_decide() || !self.started {
                return;
            }
            if let Some(r) = self.round_reached_by_one_third() {
                self.start_round(r, app);
                continue;
            }
            let r = self.round;
            if self.step == Step::Propose {
                if let Some(e) = self.proposals.get(&r) {
                    let v = e.value;
                    if e.pol_round == -1 {
                        let ok = e.valid && self.locked.is_none_or(|(_, lv)| lv == v);
                        self.prevote(ok.then_some(v));
                        continue;
                    }
                    let vr = e.pol_round as u32;
                    // Locked on this very value: prevote it, proof-of-lock
                    // or not (see the module doc).
                    if e.valid && self.locked.is_some_and(|(_, lv)| lv == v) {
                        self.prevote(Some(v));
                        continue;
                    }
                    if self.weight_for(vr, VoteKind::Prevote, Some(v)).1 {
                        let ok = e.valid
                            && self
                                .locked
                                .is_none_or(|(lr, lv)| (lr as i64) <= e.pol_round || lv == v);
                        self.prevote(ok.then_some(v));
                        continue;
                    }
                }
            }
            if self.step == Step::Prevote
                && !self.prevote_timeout_set.contains(&r)
                && self.weight_any(r, VoteKind::Prevote).1
            {
                self.prevote_timeout_set.insert(r);
                self.schedule(Step::Prevote);
            }
            if self.step >= Step::Prevote && !self.prevote_quorum_seen.contains(&r) {
                if let Some(e) = self.proposals.get(&r) {
                    if e.valid && self.weight_for(r, VoteKind::Prevote, Some(e.value)).1 {
                        let (b, v) = (e.block.clone(), e.value);
                        self.prevote_quorum_seen.insert(r);
                        // valid first: the precommit persists it with the lock.
                        self.valid = Some((r, b));
                        if self.step == Step::Prevote {
                            if self.locked.is_some_and(|(_, lv)| lv != v) {
                                self.rare.lock_changes += 1;
                            }
                            self.locked = Some((r, v));
                            self.precommit(Some(v));
                        }
                        continue;
                    }
                }
            }
            if self.step == Step::Prevote && self.weight_for(r, VoteKind::Prevote, None).1 {
                self.precommit(None);
                continue;
            }
            if !self.precommit_timeout_set.contains(&r) && self.weight_any(r, VoteKind::Precommit).1
            {
                self.precommit_timeout_set.insert(r);
                self.schedule(Step::Precommit);
            }
            return;
        }
    }

    /// Any round with a valid proposal and a precommit quorum for it decides
    /// the height (even before we started it, and in any round).
    fn try_decide(&mut self) -> bool {
        let mut found = None;
        for (r, e) in &self.proposals {
            if e.valid && self.weight_for(*r, VoteKind::Precommit, Some(e.value)).1 {
                found = Some(*r);
                break;
            }
        }
        let Some(r) = found else {
            return false;
        };
        let e = self.proposals.remove(&r).unwrap();
        let precommits: Vec<&Vote> = self
            .votes
            .get(&(r, VoteKind::Precommit))
            .map(|s| {
                s.values()
                    .filter(|v| v.block_hash == Some(e.value))
                    .collect()
            })
            .unwrap_or_default();
        let mut b = e.block;
        b.commit = Some(sign::make_commit(self.height, r, e.value, &precommits));
        self.out.push(Output::Decided(b));
        let next = self.height + 1;
        self.reset(next);
        true
    }

    /// The highest round r > ours such that validators holding more than
    /// 1/3 of the weight have voted in r or later. At least one correct
    /// validator is at r or beyond, so Byzantine votes alone cannot drag us
    /// forward; and unlike the paper's "f+1 in round r" it also gathers
    /// validators scattered over several rounds (after a restart).
    fn round_reached_by_one_third(&self) -> Option<u32> {
        let mut highest: BTreeMap<NodeId, u32> = BTreeMap::new();
        for ((r, _), set) in &self.votes {
            if *r > self.round {
                for id in set.keys() {
                    let e = highest.entry(*id).or_insert(*r);
                    *e = (*e).max(*r);
                }
            }
        }
        let mut by_round: Vec<(u32, u64)> = highest
            .iter()
            .filter_map(|(id, r)| Some((*r, self.validators.weight(id)?)))
            .collect();
        by_round.sort_unstable_by_key(|(r, _)| std::cmp::Reverse(*r));
        let mut w = 0;
        for (r, wi) in by_round {
            w += wi;
            if self.validators.is_one_third(w) {
                return Some(r);
            }
        }
        None
    }

    /// (weight, is_quorum) of votes for `value` in (round, kind).
    fn weight_for(&self, round: u32, kind: VoteKind, value: Option<Hash>) -> (u64, bool) {
        let w = self
            .votes
            .get(&(round, kind))
            .map(|s| {
                s.values()
                    .filter(|v| v.block_hash == value)
                    .filter_map(|v| self.validators.weight(&v.validator))
                    .sum()
            })
            .unwrap_or(0);
        (w, self.validators.is_quorum(w))
    }

    fn weight_any(&self, round: u32, kind: VoteKind) -> (u64, bool) {
        let w = self
            .votes
            .get(&(round, kind))
            .map(|s| s.keys().filter_map(|id| self.validators.weight(id)).sum())
            .unwrap_or(0);
        (w, self.validators.is_quorum(w))
    }

    fn schedule(&mut self, step: Step) {
        self.out.push(Output::Schedule(
            Timeout {
                height: self.height,
                round: self.round,
                step,
            },
            timeout_for(step, self.round),
        ));
    }

    fn prevote(&mut self, value: Option<Hash>) {
        self.step = Step::Prevote;
        self.vote(VoteKind::Prevote, value);
    }

    fn precommit(&mut self, value: Option<Hash>) {
        if value.is_none() && self.is_validator() {
            self.rare.nil_precommits += 1;
        }
        self.step = Step::Precommit;
        self.vote(VoteKind::Precommit, value);
    }

    fn vote(&mut self, kind: VoteKind, value: Option<Hash>) {
        let step = match kind {
            VoteKind::Prevote => Step::Prevote,
            VoteKind::Precommit => Step::Precommit,
        };
        let v = sign::sign_vote(&self.key, &self.chain, kind, self.height, self.round, value);
        if !self.may_sign(step, value, Some(&ConsensusMessage::Vote(v.clone()))) {
            return;
        }
        self.votes
            .entry((self.round, kind))
            .or_default()
            .insert(self.me, v.clone());
        self.emit(ConsensusMessage::Vote(v));
    }

    /// The double-signing guard; records and emits `Persist` when allowed.
    /// `msg` is the message about to be sent (deterministic Ed25519: signing
    /// first is harmless), kept with the record for a restart.
    fn may_sign(
        &mut self,
        step: Step,
        value: Option<Hash>,
        msg: Option<&ConsensusMessage>,
    ) -> bool {
        if !self.is_validator() {
            return false;
        }
        let keep_from = self.round.saturating_sub(1);
        let (mut votes, mut proposal) = match &self.last_signed {
            Some(l) if l.height == self.height => (
                l.votes
                    .iter()
                    .filter(|v| v.round >= keep_from)
                    .cloned()
                    .collect(),
                l.proposal.clone(),
            ),
            _ => (vec![], None),
        };
        match msg {
            Some(ConsensusMessage::Vote(v)) => votes.push(v.clone()),
            Some(ConsensusMessage::Proposal(p)) => proposal = Some(p.clone()),
            None => {}
        }
        let next = SignedStep {
            height: self.height,
            round: self.round,
            step,
            value,
            lock: self.locked,
            votes,
            proposal,
            valid: self.valid.clone(),
        };
        if let Some(last) = &self.last_signed {
            let a = (last.height, last.round, last.step);
            let b = (next.height, next.round, next.step);
            if b < a || (b == a && last.value != value) {
                tracing::warn!(
                    height = next.height,
                    round = next.round,
                    step = ?step,
                    "refusing to sign: already signed {:?} at or after this step",
                    last.value
                );
                return false;
            }
            if b == a {
                return true;
            }
        }
        self.last_signed = Some(next.clone());
        self.out.push(Output::Persist(Box::new(next)));
        true
    }

    fn emit(&mut self, m: ConsensusMessage) {
        self.own.push(m.clone());
        if self.own.len() > 16 {
            self.own.remove(0);
        }
        self.out.push(Output::Broadcast(m));
    }
}
