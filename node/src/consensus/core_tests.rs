//! The consensus core driven without any network: a tiny in-memory router
//! delivers broadcasts between cores, and timeouts fire when the test says.

use super::core::{App, Core, Output, Timeout};
use crate::chain::block;
use crate::chain::keys;
use crate::chain::sign;
use crate::chain::types::{Block, BlockHeader, Hash, NodeId};
use crate::chain::validators::Validators;
use crate::chain::votes::{ConsensusMessage, VoteKind};
use crate::chain::votes::{SignedStep, Step};
use ed25519_dalek::SigningKey;
use std::collections::{HashSet, VecDeque};

const CHAIN: Hash = Hash([42; 32]);

struct TestApp {
    me: NodeId,
    built: u64,
}

impl App for TestApp {
    fn build_block(&mut self, height: u64) -> Block {
        self.built += 1;
        Block {
            header: BlockHeader {
                height,
                prev_hash: Hash::default(),
                time_ms: self.built,
                proposer: self.me,
                tx_root: Hash::default(),
            },
            txs: vec![],
            commit: None,
        }
    }
    fn is_valid(&mut self, _: &Block) -> bool {
        true
    }
}

struct Node {
    core: Core,
    app: TestApp,
    timeouts: Vec<Timeout>,
    decided: Vec<Block>,
    sent: Vec<ConsensusMessage>,
    persisted: Vec<SignedStep>,
}

struct Net {
    nodes: Vec<Node>,
    queue: VecDeque<(usize, ConsensusMessage)>,
    down: HashSet<usize>,
}

fn key(i: usize) -> SigningKey {
    SigningKey::from_bytes(&[i as u8 + 1; 32])
}

fn validators(weights: &[u64]) -> Validators {
    Validators::new(
        weights
            .iter()
            .enumerate()
            .map(|(i, w)| (keys::node_id(&key(i)), *w))
            .collect(),
    )
}

impl Net {
    fn new(weights: &[u64], height: u64) -> Net {
        let vals = validators(weights);
        let nodes = (0..weights.len())
            .map(|i| Node {
                core: Core::new(CHAIN, key(i), vals.clone(), height, None),
                app: TestApp {
                    me: keys::node_id(&key(i)),
                    built: 0,
                },
                timeouts: vec![],
                decided: vec![],
                sent: vec![],
                persisted: vec![],
            })
            .collect();
        Net {
            nodes,
            queue: VecDeque::new(),
            down: HashSet::new(),
        }
    }

    fn absorb(&mut self, i: usize, outs: Vec<Output>) {
        let n = &mut self.nodes[i];
        for o in outs {
            match o {
                Output::Persist(s) => n.persisted.push(*s),
                Output::Broadcast(m) => {
                    n.sent.push(m.clone());
                    self.queue.push_back((i, m));
                }
                Output::Schedule(t, _) => n.timeouts.push(t),
                Output::Decided(b) => n.decided.push(b),
            }
        }
    }

    fn start(&mut self) {
        for i in 0..self.nodes.len() {
            if !self.down.contains(&i) {
                let n = &mut self.nodes[i];
                let outs = n.core.start(&mut n.app);
                self.absorb(i, outs);
            }
        }
        self.deliver();
    }

    fn deliver(&mut self) {
        while let Some((from, m)) = self.queue.pop_front() {
            self.deliver_one(from, m);
        }
    }

    /// Hand one broadcast to every live node but its sender.
    fn deliver_one(&mut self, from: usize, m: ConsensusMessage) {
        for j in 0..self.nodes.len() {
            if j == from || self.down.contains(&j) {
                continue;
            }
            let n = &mut self.nodes[j];
            let r = match m.clone() {
                ConsensusMessage::Proposal(p) => n.core.on_proposal(p, &mut n.app),
                ConsensusMessage::Vote(v) => n.core.on_vote(v, &mut n.app),
            };
            if let Ok(outs) = r {
                self.absorb(j, outs);
            }
        }
    }

    fn fire_timeouts(&mut self) {
        for i in 0..self.nodes.len() {
            if self.down.contains(&i) {
                continue;
            }
            let ts = std::mem::take(&mut self.nodes[i].timeouts);
            for t in ts {
                let n = &mut self.nodes[i];
                let outs = n.core.on_timeout(t, &mut n.app);
                self.absorb(i, outs);
            }
        }
        self.deliver();
    }

    fn live(&self) -> impl Iterator<Item = &Node> {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.down.contains(i))
            .map(|(_, n)| n)
    }
}

fn decided_one_block_everywhere(net: &Net) -> Block {
    let first = net.live().next().unwrap().decided[0].clone();
    for n in net.live() {
        assert_eq!(n.decided.len(), 1, "each live node decides exactly once");
        assert_eq!(block::hash(&n.decided[0]), block::hash(&first));
    }
    first
}

#[test]
fn happy_path_decides_in_round_zero_with_a_valid_commit() {
    let mut net = Net::new(&[10, 10, 10, 10], 1);
    net.start();
    let b = decided_one_block_everywhere(&net);
    let c = b.commit.as_ref().unwrap();
    assert_eq!(c.round, 0);
    assert_eq!(b.header.proposer, validators(&[10; 4]).proposer(1, 0));
    sign::verify_commit(&CHAIN, &validators(&[10; 4]), &b).unwrap();
    // Every core moved on and waits for the next height.
    for n in net.live() {
        assert_eq!(n.core.height(), 2);
        assert!(!n.core.started());
    }
    // A commit with too little weight is refused.
    let mut weak = b.clone();
    weak.commit.as_mut().unwrap().signatures.truncate(2);
    assert!(sign::verify_commit(&CHAIN, &validators(&[10; 4]), &weak).is_err());
}

#[test]
fn silent_proposer_gives_a_nil_round_then_the_next_proposer_decides() {
    let vals = validators(&[10; 4]);
    let p0 = vals.proposer(1, 0);
    let mut net = Net::new(&[10; 4], 1);
    let dead = (0..4).find(|i| keys::node_id(&key(*i)) == p0).unwrap();
    net.down.insert(dead);
    net.start();
    assert!(net.live().all(|n| n.decided.is_empty()));
    // Propose timeout -> prevote nil -> precommit nil -> precommit timeout.
    for _ in 0..3 {
        net.fire_timeouts();
    }
    let b = decided_one_block_everywhere(&net);
    let c = b.commit.as_ref().unwrap();
    assert_eq!(c.round, 1);
    assert_ne!(
        vals.proposer(1, 1),
        p0,
        "rotation never repeats a round's proposer"
    );
    // Round 0 really had nil votes from the live nodes.
    for n in net.live() {
        assert!(n.sent.iter().any(|m| matches!(m,
            ConsensusMessage::Vote(v) if v.round == 0 && v.kind == VoteKind::Precommit && v.block_hash.is_none())));
        // ... and each live core counted them as rare events (`/metrics`).
        let rare = n.core.rare();
        assert_eq!(rare.nil_precommits, 1, "{rare:?}");
        assert_eq!(rare.rounds_above_zero, 1, "{rare:?}");
        assert_eq!(rare.lock_changes, 0, "{rare:?}");
    }
}

#[test]
fn two_of_four_down_never_decide_and_one_of_four_down_does() {
    let mut net = Net::new(&[10; 4], 1);
    net.down.extend([0, 1]);
    net.start();
    for _ in 0..12 {
        net.fire_timeouts();
    }
    assert!(
        net.live().all(|n| n.decided.is_empty()),
        "no quorum, no block"
    );

    // The two come back (restart): the live ones re-broadcast their current
    // round's messages, as the driver does on a timer, and the height decides.
    for i in [0, 1] {
        net.down.remove(&i);
        let n = &mut net.nodes[i];
        let outs = n.core.start(&mut n.app);
        net.absorb(i, outs);
    }
    for _ in 0..6 {
        for i in 0..4 {
            for m in net.nodes[i].core.own_messages() {
                net.queue.push_back((i, m));
            }
        }
        net.deliver();
        if net.nodes.iter().all(|n| !n.decided.is_empty()) {
            break;
        }
        net.fire_timeouts();
    }
    decided_one_block_everywhere(&net);

    let mut net = Net::new(&[10; 4], 1);
    net.down.insert(3);
    net.start();
    for _ in 0..6 {
        net.fire_timeouts();
    }
    decided_one_block_everywhere(&net);
}

/// Find a height whose round-0 and round-1 proposers are both not `me`.
fn height_where_others_propose(vals: &Validators, me: NodeId) -> u64 {
    (1..1000)
        .find(|h| vals.proposer(*h, 0) != me && vals.proposer(*h, 1) != me)
        .unwrap()
}

#[test]
fn locked_validator_prevotes_nil_for_a_different_value() {
    let vals = validators(&[10; 4]);
    let me = 0;
    let h = height_where_others_propose(&vals, keys::node_id(&key(me)));
    let idx = |id: NodeId| (0..4).find(|i| keys::node_id(&key(*i)) == id).unwrap();
    let mut a = Core::new(CHAIN, key(me), vals.clone(), h, None);
    let mut app = TestApp {
        me: keys::node_id(&key(me)),
        built: 100,
    };
    let out = a.start(&mut app);
    assert!(!out.iter().any(|o| matches!(o, Output::Broadcast(_))));

    // Round 0: proposal V, and prevotes for V from two others (+ ours = 3/4).
    let p0 = idx(vals.proposer(h, 0));
    let mut papp = TestApp {
        me: keys::node_id(&key(p0)),
        built: 0,
    };
    let v_block = papp.build_block(h);
    let v = block::hash(&v_block);
    a.on_proposal(
        sign::sign_proposal(&key(p0), &CHAIN, 0, -1, v_block),
        &mut app,
    )
    .unwrap();
    let others: Vec<usize> = (0..4).filter(|i| *i != me).collect();
    let mut outs = vec![];
    for i in &others[..2] {
        let vote = sign::sign_vote(&key(*i), &CHAIN, VoteKind::Prevote, h, 0, Some(v));
        outs.extend(a.on_vote(vote, &mut app).unwrap());
    }
    assert!(outs.iter().any(|o| matches!(o,
        Output::Broadcast(ConsensusMessage::Vote(vt)) if vt.kind == VoteKind::Precommit && vt.block_hash == Some(v))),
        "a prevote quorum locks and precommits V");

    // The others precommit nil; the precommit timeout moves us to round 1.
    for i in &others {
        let vote = sign::sign_vote(&key(*i), &CHAIN, VoteKind::Precommit, h, 0, None);
        a.on_vote(vote, &mut app).unwrap();
    }
    a.on_timeout(
        Timeout {
            height: h,
            round: 0,
            step: Step::Precommit,
        },
        &mut app,
    );
    assert_eq!(a.round(), 1);

    // Round 1: a different value W is proposed without a proof of lock.
    let p1 = idx(vals.proposer(h, 1));
    let mut p1app = TestApp {
        me: keys::node_id(&key(p1)),
        built: 50,
    };
    let w_block = p1app.build_block(h);
    assert_ne!(block::hash(&w_block), v);
    let outs = a
        .on_proposal(
            sign::sign_proposal(&key(p1), &CHAIN, 1, -1, w_block),
            &mut app,
        )
        .unwrap();
    let prevote = outs.iter().find_map(|o| match o {
        Output::Broadcast(ConsensusMessage::Vote(vt)) if vt.kind == VoteKind::Prevote => {
            Some(vt.clone())
        }
        _ => None,
    });
    assert_eq!(
        prevote.unwrap().block_hash,
        None,
        "locked on V: prevote nil for W"
    );
}

#[test]
fn after_restart_never_signs_a_different_value_for_the_same_step() {
    let vals = validators(&[10; 4]);
    let me = 0;
    let h = height_where_others_propose(&vals, keys::node_id(&key(me)));
    let p0 = (0..4)
        .find(|i| keys::node_id(&key(*i)) == vals.proposer(h, 0))
        .unwrap();
    let mut papp = TestApp {
        me: keys::node_id(&key(p0)),
        built: 0,
    };
    let v_block = papp.build_block(h);
    let w_block = papp.build_block(h);
    let v = block::hash(&v_block);
    // Before the crash we prevoted V at (h, 0).
    let last = SignedStep {
        height: h,
        round: 0,
        step: Step::Prevote,
        value: Some(v),
        lock: None,
        votes: vec![],
        proposal: None,
        valid: None,
    };
    let mut app = TestApp {
        me: keys::node_id(&key(me)),
        built: 0,
    };
    // The restarted node sees an (equivocating) proposal W for the same round.
    let mut a = Core::new(CHAIN, key(me), vals.clone(), h, Some(last.clone()));
    a.start(&mut app);
    let outs = a
        .on_proposal(
            sign::sign_proposal(&key(p0), &CHAIN, 0, -1, w_block),
            &mut app,
        )
        .unwrap();
    assert!(
        !outs
            .iter()
            .any(|o| matches!(o, Output::Broadcast(_) | Output::Persist(_))),
        "must not sign a prevote for W after having prevoted V: {outs:?}"
    );
    // The same value again is fine (identical signature, nothing new persisted).
    let mut b = Core::new(CHAIN, key(me), vals.clone(), h, Some(last));
    b.start(&mut app);
    let outs = b
        .on_proposal(
            sign::sign_proposal(&key(p0), &CHAIN, 0, -1, v_block),
            &mut app,
        )
        .unwrap();
    assert!(outs.iter().any(|o| matches!(o,
        Output::Broadcast(ConsensusMessage::Vote(vt)) if vt.block_hash == Some(v))));
    assert!(!outs.iter().any(|o| matches!(o, Output::Persist(_))));

    // A restart after signing in round 3 resumes in round 3, never earlier.
    let later = SignedStep {
        height: h,
        round: 3,
        step: Step::Precommit,
        value: None,
        lock: None,
        votes: vec![],
        proposal: None,
        valid: None,
    };
    let mut c = Core::new(CHAIN, key(me), vals, h, Some(later));
    c.start(&mut app);
    assert_eq!(c.round(), 3);
}

#[test]
fn every_signature_is_persisted_before_it_is_broadcast() {
    let mut net = Net::new(&[10; 4], 1);
    net.start();
    for n in &net.nodes {
        // Each node persisted exactly its distinct signed steps, in order.
        let votes = n.sent.len();
        assert_eq!(n.persisted.len(), votes);
        let keys: Vec<_> = n
            .persisted
            .iter()
            .map(|s| (s.height, s.round, s.step))
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
    }
}

#[test]
fn proposer_rotation_is_weighted_and_deterministic() {
    let vals = validators(&[1000, 1, 1, 1]);
    let gold = keys::node_id(&key(0));
    let n = (1..=2000).filter(|h| vals.proposer(*h, 0) == gold).count();
    assert!(n > 1900, "gold proposed {n} of 2000");
    for h in 1..200 {
        assert_eq!(
            vals.proposer(h, 0),
            validators(&[1000, 1, 1, 1]).proposer(h, 0)
        );
        assert_ne!(vals.proposer(h, 1), vals.proposer(h, 0));
    }
    // Quorum is by weight: gold alone is more than 2/3.
    assert!(vals.is_quorum(1000));
    assert!(!vals.is_quorum(3));
}

#[test]
fn after_restart_the_lock_is_kept() {
    let vals = validators(&[10; 4]);
    let me = 0;
    let h = height_where_others_propose(&vals, keys::node_id(&key(me)));
    let idx = |id: NodeId| (0..4).find(|i| keys::node_id(&key(*i)) == id).unwrap();
    let v = Hash([5; 32]);
    // Crashed right after locking on V and precommitting it in round 0.
    let last = SignedStep {
        height: h,
        round: 0,
        step: Step::Precommit,
        value: Some(v),
        lock: Some((0, v)),
        votes: vec![],
        proposal: None,
        valid: None,
    };
    let mut app = TestApp {
        me: keys::node_id(&key(me)),
        built: 0,
    };
    let mut a = Core::new(CHAIN, key(me), vals.clone(), h, Some(last));
    a.start(&mut app);
    for i in 1..4 {
        let vote = sign::sign_vote(&key(i), &CHAIN, VoteKind::Precommit, h, 0, None);
        a.on_vote(vote, &mut app).unwrap();
    }
    a.on_timeout(
        Timeout {
            height: h,
            round: 0,
            step: Step::Precommit,
        },
        &mut app,
    );
    assert_eq!(a.round(), 1);
    let p1 = idx(vals.proposer(h, 1));
    let mut p1app = TestApp {
        me: keys::node_id(&key(p1)),
        built: 9,
    };
    let w_block = p1app.build_block(h);
    let outs = a
        .on_proposal(
            sign::sign_proposal(&key(p1), &CHAIN, 1, -1, w_block),
            &mut app,
        )
        .unwrap();
    let prevote = outs.iter().find_map(|o| match o {
        Output::Broadcast(ConsensusMessage::Vote(vt)) if vt.kind == VoteKind::Prevote => {
            Some(vt.clone())
        }
        _ => None,
    });
    assert_eq!(
        prevote.unwrap().block_hash,
        None,
        "the restored lock on V holds"
    );
    // The lock is part of what gets persisted with each signature.
    assert!(outs
        .iter()
        .any(|o| matches!(o, Output::Persist(s) if s.lock == Some((0, v)))));
}

impl Net {
    /// One event: deliver the oldest queued message, or, when none is in
    /// flight, fire the oldest pending timeout. False when nothing is left.
    fn step(&mut self) -> bool {
        if let Some((from, m)) = self.queue.pop_front() {
            self.deliver_one(from, m);
            return true;
        }
        for i in 0..self.nodes.len() {
            if self.down.contains(&i) || self.nodes[i].timeouts.is_empty() {
                continue;
            }
            let t = self.nodes[i].timeouts.remove(0);
            let n = &mut self.nodes[i];
            let outs = n.core.on_timeout(t, &mut n.app);
            self.absorb(i, outs);
            return true;
        }
        false
    }

    /// Every node crashes at once: messages in flight and timers are lost,
    /// only what each one persisted survives; then all of them start again.
    fn crash_and_restart_all(&mut self, vals: &Validators, height: u64) {
        self.queue.clear();
        self.down.clear();
        for (i, n) in self.nodes.iter_mut().enumerate() {
            let last = n.persisted.last().cloned();
            n.core = Core::new(CHAIN, key(i), vals.clone(), height, last);
            n.timeouts.clear();
        }
        self.start();
    }

    /// The driver's loop: re-broadcast own messages, deliver, fire timers.
    fn run_until_all_decided(&mut self, rounds: usize) -> bool {
        self.run_until_all_live_decided(rounds)
    }

    fn run_until_all_live_decided(&mut self, rounds: usize) -> bool {
        for _ in 0..rounds {
            for i in 0..self.nodes.len() {
                if self.down.contains(&i) {
                    continue;
                }
                for m in self.nodes[i].core.own_messages() {
                    self.queue.push_back((i, m));
                }
            }
            self.deliver();
            if self.live().all(|n| !n.decided.is_empty()) {
                return true;
            }
            self.fire_timeouts();
        }
        false
    }
}

/// The liveness bug the `simultaneous-dial` scenario hit: all masternodes
/// restarted at once, each resuming in the round it last signed in. Votes
/// live only in memory, so a restarted round could never gather a quorum
/// again, and validators split across two rounds waited for each other.
/// Crash everyone at every point of a height's run and check that the
/// height still decides, the same block everywhere.
#[test]
fn a_simultaneous_restart_of_every_validator_at_any_point_still_decides() {
    let weights = [10; 7];
    let vals = validators(&weights);
    let h = 1;
    // Silence the proposers of rounds 0 and 1 before the crash so that the
    // five live validators (a bare quorum) walk through several rounds.
    let silent: Vec<usize> = [0, 1]
        .iter()
        .map(|r| {
            (0..7)
                .find(|i| keys::node_id(&key(*i)) == vals.proposer(h, *r))
                .unwrap()
        })
        .collect();
    let mut steps_to_decide = 0;
    {
        let mut net = Net::new(&weights, h);
        net.down.extend(silent.iter().copied());
        net.start();
        while net.live().any(|n| n.decided.is_empty()) {
            assert!(net.step(), "a bare quorum decides without a crash");
            steps_to_decide += 1;
        }
    }
    assert!(steps_to_decide > 20, "{steps_to_decide}");
    for cut in 0..steps_to_decide {
        let mut net = Net::new(&weights, h);
        net.down.extend(silent.iter().copied());
        net.start();
        for _ in 0..cut {
            net.step();
        }
        if net.nodes.iter().any(|n| !n.decided.is_empty()) {
            continue;
        }
        let rounds: Vec<u32> = net.nodes.iter().map(|n| n.core.round()).collect();
        net.crash_and_restart_all(&vals, h);
        assert!(
            net.run_until_all_decided(40),
            "crash after {cut} of {steps_to_decide} steps (rounds {rounds:?}) never decided; now {:?}",
            net.nodes
                .iter()
                .map(|n| (n.core.round(), n.core.step()))
                .collect::<Vec<_>>()
        );
        decided_one_block_everywhere(&net);
    }
}

#[test]
fn a_laggard_skips_to_the_highest_round_that_one_third_has_reached() {
    // 7 x 10: more than 1/3 of the weight is 3 validators.
    let vals = validators(&[10; 7]);
    let h = height_where_others_propose(&vals, keys::node_id(&key(0)));
    let mut app = TestApp {
        me: keys::node_id(&key(0)),
        built: 0,
    };
    let mut a = Core::new(CHAIN, key(0), vals, h, None);
    a.start(&mut app);
    let nil = |i: usize, r: u32| sign::sign_vote(&key(i), &CHAIN, VoteKind::Prevote, h, r, None);
    // Two validators far ahead, in different rounds: not yet 1/3.
    a.on_vote(nil(1, 5), &mut app).unwrap();
    a.on_vote(nil(2, 3), &mut app).unwrap();
    assert_eq!(a.round(), 0, "two of seven may be Byzantine");
    // A third one, in yet another round: 1/3 has reached round 2 or later,
    // though no single round holds 1/3 (the paper's rule would wait).
    a.on_vote(nil(3, 2), &mut app).unwrap();
    assert_eq!(a.round(), 2);
}

#[test]
fn a_restarted_validator_sends_its_persisted_votes_again() {
    let mut net = Net::new(&[10; 4], 1);
    net.start();
    let before: Vec<_> = net.nodes[0]
        .sent
        .iter()
        .filter(|m| matches!(m, ConsensusMessage::Vote(_)))
        .cloned()
        .collect();
    assert_eq!(before.len(), 2, "a prevote and a precommit in round 0");
    let last = net.nodes[0].persisted.last().cloned().unwrap();
    assert_eq!(last.votes.len(), 2);
    // Crash before the decision is stored: the height starts over.
    let mut app = TestApp {
        me: keys::node_id(&key(0)),
        built: 0,
    };
    let mut c = Core::new(CHAIN, key(0), validators(&[10; 4]), 1, Some(last));
    let outs = c.start(&mut app);
    assert!(!outs.iter().any(|o| matches!(o, Output::Persist(_))));
    assert_eq!((c.round(), c.step()), (0, Step::Precommit));
    let again: Vec<_> = c
        .own_messages()
        .into_iter()
        .filter(|m| matches!(m, ConsensusMessage::Vote(_)))
        .collect();
    assert_eq!(again, before, "the very same signed votes");
}

/// Crash every validator right after all of them locked on the round-0
/// proposal V and precommitted it, before any precommit arrived: nobody
/// decided, everybody is locked on a block that lived only in memory.
/// Found by `all_masternodes_killed_at_once_resume_the_chain` (a real
/// SIGKILL of 4 processes stalled the chain for good). `proposer_back`:
/// whether the round-0 proposer comes back too.
fn crash_when_everyone_is_locked(proposer_back: bool) -> Net {
    let weights = [10; 4];
    let vals = validators(&weights);
    let h = 1;
    let mut net = Net::new(&weights, h);
    for i in 0..4 {
        let n = &mut net.nodes[i];
        let outs = n.core.start(&mut n.app);
        net.absorb(i, outs);
    }
    let locked = |net: &Net| {
        net.nodes
            .iter()
            .all(|n| n.persisted.last().is_some_and(|s| s.lock.is_some()))
    };
    // Every precommit is lost in flight (the crash comes before delivery).
    let precommit = |m: &ConsensusMessage| matches!(m, ConsensusMessage::Vote(v) if v.kind == VoteKind::Precommit);
    while !locked(&net) {
        net.queue.retain(|(_, m)| !precommit(m));
        assert!(net.step());
    }
    assert!(net.nodes.iter().all(|n| n.decided.is_empty()));
    let v = net.nodes[0].persisted.last().unwrap().lock.unwrap().1;
    let p0 = (0..4)
        .find(|i| keys::node_id(&key(*i)) == vals.proposer(h, 0))
        .unwrap();
    net.crash_and_restart_all(&vals, h);
    if !proposer_back {
        net.down.insert(p0);
        net.queue.retain(|(from, _)| *from != p0);
    }
    assert!(
        net.run_until_all_live_decided(40),
        "locked on a lost block: {:?}",
        net.nodes
            .iter()
            .map(|n| (n.core.round(), n.core.step()))
            .collect::<Vec<_>>()
    );
    for n in net.live() {
        assert_eq!(block::hash(&n.decided[0]), v, "the locked value decides");
    }
    net
}

#[test]
fn everyone_locked_then_crashed_decides_the_locked_block() {
    decided_one_block_everywhere(&crash_when_everyone_is_locked(true));
}

#[test]
fn everyone_locked_then_crashed_decides_it_even_without_its_proposer() {
    decided_one_block_everywhere(&crash_when_everyone_is_locked(false));
}
