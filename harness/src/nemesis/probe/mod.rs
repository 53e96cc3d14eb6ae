//! Protocol faults: the races the node must win, forced instead of hoped
//! for. The harness speaks the node protocol itself, from a node's own
//! network namespace ([`netns`], so the source IP is that node's) with that
//! node's testnet key ([`hello`]), and records what the dialed node answered
//! ([`ProbeAnswer`], stored in the fault's span for `probe_answers` and the
//! report).
//!
//! - `crossed_dial` (node, peer): a socket in `node`'s namespace dials
//!   `peer` and one in `peer`'s namespace dials `node`, both connects issued
//!   in the same poll and both Hellos written as each connects (well under
//!   a millisecond apart on one host; the spread is measured and reported).
//!   Each side sees an inbound from the other while its own connection to
//!   it stands.
//! - `duplicate_dial` (node, peer): a second connection to `node` from
//!   `peer`'s IP with `peer`'s valid Hello.
//! - `stale_hello` (node, peer): the same, but the dialer half-closes right
//!   behind its proof (the proof and the FIN in one segment, as a dialer
//!   that gave up while the node could not read): the node has a verified
//!   Hello and its dialer's EOF at once. With `during = "idle"` each probe
//!   waits until `node` holds no socket to the frozen `peer`, so a node that
//!   registers it has no duplicate or tie-break to refuse it with.
//!
//! The honest answer keeps one connection per IP and the established one
//! untouched: a `Reject` (duplicate) or a close without a frame (rate limit,
//! stale Hello), never a `HandshakeAck`. Whether the established connection
//! survived is for `no_cycling`, `one_peer_per_ip` and `kernel_view`.

mod hello;
mod net;
mod netns;

pub use hello::{talk, Identity, Probed, Talk};
pub use net::ProbeNet;
pub use netns::DockerNet;

use super::schedule::Fault;
use crate::observe::model::{Answer, ProbeAnswer, TieBreak};
use crate::provider::Cluster;
use crate::scenario::During;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;
use timed::constants::{
    BACKOFF_MAX, HANDSHAKE_TIMEOUT, HANDSHAKE_TIMEOUT_FLOOR, MAX_MISSED_PONGS, PING_INTERVAL,
};
use timed::testnet::Testnet;
use tokio::time::Instant;

/// Wait for an answer beyond the node's own handshake limit (which ends
/// the wait with a refusal on the node's side anyway): one second covers
/// scheduling noise on a loaded 2-core host.
const ANSWER_MARGIN: Duration = Duration::from_secs(1);
/// How often a mid-handshake probe reads the dialing node's kernel view
/// for its redial (a redial stays mid-handshake for the node's handshake
/// limit, 3 s wall at least: 20 ms finds it early in that window at the
/// cost of a `/proc` read each time).
const REDIAL_POLL: Duration = Duration::from_millis(20);
/// Pause between two probes of one fault, so the node has closed the
/// previous probe's socket before the next arrives (it closes within
/// milliseconds of its answer; 50 ms keeps 100 probes under 10 s).
const BETWEEN_PROBES: Duration = Duration::from_millis(50);

/// Every node of a run by name, as the harness impersonates it.
pub type Identities = BTreeMap<String, Identity>;

/// The identities of a testnet's nodes (the runner hands them over).
pub fn identities(net: &Testnet) -> Identities {
    net.nodes
        .iter()
        .map(|n| {
            let id = Identity {
                ip: n.config.listen_ip,
                p2p_port: n.config.p2p_port,
                key: n.key.clone(),
                network: net.genesis.network.clone(),
                genesis_hash: net.genesis.hash(),
            };
            (n.name.clone(), id)
        })
        .collect()
}

/// The protocol time of a moment of the fault: `now` when it began, plus
/// the time since (tokio's clock: wall on docker, virtual in sim), scaled.
#[derive(Clone, Copy)]
pub struct Stamp {
    pub now: u64,
    pub began: Instant,
    pub time_scale: f64,
}

impl Stamp {
    fn at(&self) -> u64 {
        self.now + (self.began.elapsed().as_secs_f64() * 1000.0 * self.time_scale) as u64
    }

    /// How long a mid-handshake probe waits for the node's redial to the
    /// frozen peer: the ping timeout that drops it (`MAX_MISSED_PONGS` + 1
    /// intervals), a handshake limit of a dial already under way, and the
    /// longest backoff before the next dial, scaled; never below two wall
    /// handshake floors.
    fn redial_limit(&self) -> Duration {
        let protocol = PING_INTERVAL * (MAX_MISSED_PONGS + 1) + HANDSHAKE_TIMEOUT + BACKOFF_MAX;
        let scaled = protocol.div_f64(self.time_scale.max(1e-3));
        scaled.max(HANDSHAKE_TIMEOUT_FLOOR * 2) + ANSWER_MARGIN
    }

    /// How long a node may take to answer a Hello (its handshake limit,
    /// with its wall floor, plus a margin).
    fn answer_limit(&self) -> Duration {
        let scaled = HANDSHAKE_TIMEOUT.div_f64(self.time_scale.max(1e-3));
        scaled.max(HANDSHAKE_TIMEOUT_FLOOR) + ANSWER_MARGIN
    }
}

/// Carry out a protocol fault on docker; its answers and a one-line summary.
pub async fn run<C: Cluster>(
    fault: &Fault,
    ids: &Identities,
    c: &C,
    stamp: Stamp,
) -> anyhow::Result<(Vec<ProbeAnswer>, String)> {
    run_on(fault, ids, &DockerNet(c), stamp).await
}

/// Carry out a protocol fault over `net`; its answers and a one-line summary.
pub async fn run_on<N: ProbeNet>(
    fault: &Fault,
    ids: &Identities,
    net: &N,
    stamp: Stamp,
) -> anyhow::Result<(Vec<ProbeAnswer>, String)> {
    let (node, peer, repeat, how, during) = match fault {
        Fault::CrossedDial {
            node,
            peer,
            repeat,
            during,
        } => (node, peer, *repeat, How::Crossed, *during),
        Fault::DuplicateDial { node, peer, repeat } => {
            (node, peer, *repeat, How::Second, During::Established)
        }
        Fault::StaleHello {
            node,
            peer,
            repeat,
            during,
        } => (node, peer, *repeat, How::Stale, *during),
        other => anyhow::bail!("{} is not a protocol fault", other.action()),
    };
    let id = |n: &String| {
        ids.get(n)
            .ok_or_else(|| anyhow::anyhow!("no testnet identity for {n}"))
    };
    let (a, b) = (Side::new(node, id(node)?), Side::new(peer, id(peer)?));
    let mut answers = Vec::new();
    let mut spread = Duration::ZERO;
    // Mid-handshake: `a`'s dials to `b` already seen (a probe waits for a
    // fresh one); the established connection is among them at the start.
    let mut seen = match during {
        During::Established | During::Idle => Ok(BTreeSet::new()),
        During::Handshake => net.dials(&a, &b).await,
    };
    for i in 0..repeat {
        if i > 0 {
            tokio::time::sleep(BETWEEN_PROBES).await;
        }
        let limit = stamp.answer_limit();
        if during == During::Handshake {
            let waited = match &mut seen {
                Ok(seen) => redialing(net, &a, &b, seen, stamp.redial_limit()).await,
                Err(e) => Err(e.clone()),
            };
            if let Err(error) = waited {
                answers.push(a.answered(&b, stamp.at(), Answer::Failed { error }));
                continue;
            }
        }
        if during == During::Idle {
            if let Err(error) = idle(net, &a, &b, stamp.redial_limit()).await {
                answers.push(a.answered(&b, stamp.at(), Answer::Failed { error }));
                continue;
            }
        }
        match how {
            How::Crossed if during == During::Handshake => {
                // Only `a` is dialed: `b` is frozen, its side of the
                // crossing is `a`'s own dial, stuck in its backlog.
                let t = stamp.at();
                let got = probe_once(net, &b, &a, false, limit).await;
                let mut answer = a.answered(&b, t, got);
                answer.tie_break = Some(TieBreak::of(&a.id.key, &b.id.key));
                answers.push(answer);
            }
            How::Crossed => {
                let t = stamp.at();
                let (ab, ba, apart) = crossed(net, &a, &b, limit).await;
                spread = spread.max(apart);
                answers.push(b.answered(&a, t, ab));
                answers.push(a.answered(&b, t, ba));
            }
            How::Second | How::Stale => {
                let t = stamp.at();
                let got = probe_once(net, &b, &a, how == How::Stale, limit).await;
                answers.push(a.answered(&b, t, got));
            }
        }
    }
    let mut tally: BTreeMap<String, usize> = BTreeMap::new();
    for p in &answers {
        *tally.entry(p.answer.to_string()).or_default() += 1;
    }
    let mut summary: Vec<String> = tally.iter().map(|(k, n)| format!("{n}x {k}")).collect();
    if how == How::Crossed && during == During::Established {
        summary.push(format!("Hellos at most {} µs apart", spread.as_micros()));
    }
    if let (How::Crossed, During::Handshake) = (how, during) {
        let tb = TieBreak::of(&a.id.key, &b.id.key);
        let winner = if tb.dialer_wins() { peer } else { node };
        summary.push(format!("{winner} has the lower id: its dial wins"));
    }
    Ok((answers, summary.join(", ")))
}

/// One connection to `to` as `from` (hanging up behind the Hello when
/// `hang_up`): what `to` answered.
async fn probe_once<N: ProbeNet>(
    net: &N,
    from: &Side<'_>,
    to: &Side<'_>,
    hang_up: bool,
    limit: Duration,
) -> Answer {
    let talk = Talk {
        nonce: net.nonce(),
        hang_up,
        limit,
        clock: net.clock(),
    };
    match net.ready(from).await {
        Ok(r) => net.probe(r, from, to, talk).await.answer,
        Err(error) => Answer::Failed { error },
    }
}

/// Wait until `a` has a dial to `b` established that is not in `seen`: a
/// fresh redial of `a`'s to the frozen `b`, its Hello out and unanswered
/// (the dialer sends it as soon as TCP connects, and only a thawed `b`
/// could answer). Every dial seen joins `seen`. An error when none came
/// within `limit` or the kernel view could not be read.
async fn redialing<N: ProbeNet>(
    net: &N,
    a: &Side<'_>,
    b: &Side<'_>,
    seen: &mut BTreeSet<u16>,
    limit: Duration,
) -> Result<(), String> {
    let what = format!("redialed {} mid-handshake", b.name);
    watch_dials(net, a, b, limit, &what, |now| {
        let fresh = now.iter().any(|p| !seen.contains(p));
        seen.extend(now);
        fresh
    })
    .await
}

/// Wait until `a` holds no socket to `b`'s P2P port: `a` has dropped the
/// frozen `b` and is between two redials. An error when that moment did
/// not come within `limit` or the kernel view could not be read.
async fn idle<N: ProbeNet>(
    net: &N,
    a: &Side<'_>,
    b: &Side<'_>,
    limit: Duration,
) -> Result<(), String> {
    let what = format!("was without a socket to {}", b.name);
    watch_dials(net, a, b, limit, &what, |now| now.is_empty()).await
}

/// Read `a`'s dials to `b` every [`REDIAL_POLL`] until `done` accepts them;
/// an error saying `a` never did `what` when `limit` passed first.
async fn watch_dials<N: ProbeNet>(
    net: &N,
    a: &Side<'_>,
    b: &Side<'_>,
    limit: Duration,
    what: &str,
    mut done: impl FnMut(BTreeSet<u16>) -> bool,
) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    loop {
        if done(net.dials(a, b).await?) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "{} never {what} within {} ms (is {} frozen?)",
                a.name,
                limit.as_millis(),
                b.name
            ));
        }
        tokio::time::sleep(REDIAL_POLL).await;
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum How {
    Crossed,
    Second,
    Stale,
}

/// One node of the fault: its name and identity.
pub struct Side<'a> {
    pub name: &'a str,
    pub id: &'a Identity,
}

impl<'a> Side<'a> {
    fn new(name: &'a str, id: &'a Identity) -> Self {
        Side { name, id }
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::new(self.id.ip, self.id.p2p_port)
    }

    /// The record of `self` answering a probe made as `from`.
    fn answered(&self, from: &Side, t: u64, answer: Answer) -> ProbeAnswer {
        ProbeAnswer {
            t,
            node: self.name.to_string(),
            from: from.name.to_string(),
            answer,
            tie_break: None,
        }
    }
}

/// `a` dials `b` and `b` dials `a` at once: (what `b` answered `a`, what
/// `a` answered `b`, how far apart the two Hellos went out).
async fn crossed<N: ProbeNet>(
    net: &N,
    a: &Side<'_>,
    b: &Side<'_>,
    limit: Duration,
) -> (Answer, Answer, Duration) {
    // Both sides ready first: nothing slow may sit between the two
    // connects (on docker, the namespace threads).
    let (ra, rb) = (net.ready(a).await, net.ready(b).await);
    let talk = |nonce| Talk {
        nonce,
        hang_up: false,
        limit,
        clock: net.clock(),
    };
    let (pa, pb) = match (ra, rb) {
        (Ok(ra), Ok(rb)) => {
            let (ta, tb) = (talk(net.nonce()), talk(net.nonce()));
            tokio::join!(net.probe(ra, a, b, ta), net.probe(rb, b, a, tb))
        }
        (ra, rb) => {
            // Half a crossing is no crossing: neither side is dialed.
            let why: Vec<String> = [ra.err(), rb.err()].into_iter().flatten().collect();
            let why = why.join("; ");
            (Probed::failed(why.clone()), Probed::failed(why))
        }
    };
    let apart = match (pa.sent, pb.sent) {
        (Some(ta), Some(tb)) => ta.max(tb) - ta.min(tb),
        _ => Duration::ZERO,
    };
    (pa.answer, pb.answer, apart)
}

#[cfg(test)]
mod tests;
