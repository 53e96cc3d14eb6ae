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
//!   after its Hello (FIN behind the Hello, as a dialer that gave up).
//!
//! The honest answer keeps one connection per IP and the established one
//! untouched: a `Reject` (duplicate) or a close without a frame (rate limit,
//! stale Hello), never a `HandshakeAck`. Whether the established connection
//! survived is for `no_cycling`, `one_peer_per_ip` and `kernel_view`.

mod hello;
mod netns;

pub use hello::Identity;

use super::schedule::Fault;
use crate::observe::model::{Answer, ProbeAnswer};
use crate::provider::Cluster;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use timed::constants::{HANDSHAKE_TIMEOUT, HANDSHAKE_TIMEOUT_FLOOR};
use timed::testnet::Testnet;
use timed::wire::{encode, Hello, NetworkMessage};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// Wall time to wait for an answer beyond the node's own handshake limit
/// (which ends the wait with a refusal on the node's side anyway): one
/// second covers scheduling noise on a loaded 2-core host.
const ANSWER_MARGIN: Duration = Duration::from_secs(1);
/// Wall pause between two probes of one fault, so the node has closed the
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
/// the wall time since, scaled.
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

    /// How long a node may take to answer a Hello (its handshake limit,
    /// with its wall floor, plus a margin).
    fn answer_limit(&self) -> Duration {
        let scaled = HANDSHAKE_TIMEOUT.div_f64(self.time_scale.max(1e-3));
        scaled.max(HANDSHAKE_TIMEOUT_FLOOR) + ANSWER_MARGIN
    }
}

/// Carry out a protocol fault; its answers and a one-line summary.
pub async fn run<C: Cluster>(
    fault: &Fault,
    ids: &Identities,
    c: &C,
    stamp: Stamp,
) -> anyhow::Result<(Vec<ProbeAnswer>, String)> {
    let (node, peer, repeat, how) = match fault {
        Fault::CrossedDial { node, peer, repeat } => (node, peer, *repeat, How::Crossed),
        Fault::DuplicateDial { node, peer, repeat } => (node, peer, *repeat, How::Second),
        Fault::StaleHello { node, peer, repeat } => (node, peer, *repeat, How::Stale),
        other => anyhow::bail!("{} is not a protocol fault", other.action()),
    };
    let id = |n: &String| {
        ids.get(n)
            .ok_or_else(|| anyhow::anyhow!("no testnet identity for {n}"))
    };
    let (a, b) = (Side::new(node, id(node)?), Side::new(peer, id(peer)?));
    let mut answers = Vec::new();
    let mut spread = Duration::ZERO;
    for i in 0..repeat {
        if i > 0 {
            tokio::time::sleep(BETWEEN_PROBES).await;
        }
        match how {
            How::Crossed => {
                let t = stamp.at();
                let (ab, ba, apart) = crossed(c, &a, &b, stamp.answer_limit()).await;
                spread = spread.max(apart);
                answers.push(b.answered(&a, t, ab));
                answers.push(a.answered(&b, t, ba));
            }
            How::Second | How::Stale => {
                let t = stamp.at();
                let got = single(c, &b, &a, how == How::Stale, stamp.answer_limit()).await;
                answers.push(a.answered(&b, t, got));
            }
        }
    }
    let mut tally: BTreeMap<String, usize> = BTreeMap::new();
    for p in &answers {
        *tally.entry(p.answer.to_string()).or_default() += 1;
    }
    let mut summary: Vec<String> = tally.iter().map(|(k, n)| format!("{n}x {k}")).collect();
    if how == How::Crossed {
        summary.push(format!("Hellos at most {} µs apart", spread.as_micros()));
    }
    Ok((answers, summary.join(", ")))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum How {
    Crossed,
    Second,
    Stale,
}

/// One node of the fault: its name and identity.
struct Side<'a> {
    name: &'a str,
    id: &'a Identity,
}

impl<'a> Side<'a> {
    fn new(name: &'a str, id: &'a Identity) -> Self {
        Side { name, id }
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::new(self.id.ip, self.id.p2p_port)
    }

    /// The record of `self` answering a probe made as `from`.
    fn answered(&self, from: &Side, t: u64, answer: Answer) -> ProbeAnswer {
        ProbeAnswer {
            t,
            node: self.name.to_string(),
            from: from.name.to_string(),
            answer,
        }
    }
}

/// A socket in `from`'s namespace, bound to its IP.
async fn socket_of<C: Cluster>(c: &C, from: &Side<'_>) -> Result<tokio::net::TcpSocket, String> {
    let pid = c
        .pid(from.name)
        .await
        .map_err(|e| format!("no pid for {}: {e:#}", from.name))?
        .ok_or_else(|| format!("{} is not running", from.name))?;
    netns::socket_in(pid, from.id.ip)
        .map_err(|e| format!("socket in the namespace of {} (pid {pid}): {e}", from.name))
}

/// Connect the socket to `to` and send `from`'s Hello; the stream and
/// when the Hello was written.
async fn dial(
    socket: tokio::net::TcpSocket,
    from: &Side<'_>,
    to: &Side<'_>,
) -> Result<(TcpStream, Instant, Hello), String> {
    let mut stream = socket
        .connect(to.addr())
        .await
        .map_err(|e| format!("connect {} -> {}: {e}", from.name, to.name))?;
    let _ = stream.set_nodelay(true);
    let sent = hello::hello(from.id, rand::random());
    stream
        .write_all(&encode(&NetworkMessage::Handshake(sent.clone())))
        .await
        .map_err(|e| format!("Hello {} -> {}: {e}", from.name, to.name))?;
    Ok((stream, Instant::now(), sent))
}

/// `from` dials `to` once (a second connection, or a stale Hello when
/// `hang_up`); what `to` answered.
async fn single<C: Cluster>(
    c: &C,
    from: &Side<'_>,
    to: &Side<'_>,
    hang_up: bool,
    limit: Duration,
) -> Answer {
    let made = async {
        let (mut stream, _, sent) = dial(socket_of(c, from).await?, from, to).await?;
        if hang_up {
            // FIN right behind the Hello: the node reads both at once.
            stream
                .shutdown()
                .await
                .map_err(|e| format!("half-close {} -> {}: {e}", from.name, to.name))?;
        }
        Ok::<_, String>((stream, sent))
    };
    match made.await {
        Ok((stream, sent)) => hello::read_answer(stream, from.id, &sent, !hang_up, limit).await,
        Err(error) => Answer::Failed { error },
    }
}

/// `a` dials `b` and `b` dials `a` at once: (what `b` answered `a`, what
/// `a` answered `b`, how far apart the two Hellos went out).
async fn crossed<C: Cluster>(
    c: &C,
    a: &Side<'_>,
    b: &Side<'_>,
    limit: Duration,
) -> (Answer, Answer, Duration) {
    // Both sockets first: the namespace threads must not sit between the
    // two connects.
    let (sa, sb) = (socket_of(c, a).await, socket_of(c, b).await);
    let (da, db) = match (sa, sb) {
        (Ok(sa), Ok(sb)) => tokio::join!(dial(sa, a, b), dial(sb, b, a)),
        (sa, sb) => {
            // Half a crossing is no crossing: neither side is dialed.
            let why: Vec<String> = [sa.err(), sb.err()].into_iter().flatten().collect();
            (Err(why.join("; ")), Err(why.join("; ")))
        }
    };
    let apart = match (&da, &db) {
        (Ok((_, ta, _)), Ok((_, tb, _))) => ta.max(tb).duration_since(*ta.min(tb)),
        _ => Duration::ZERO,
    };
    let answer = |d: Result<(TcpStream, Instant, Hello), String>, from: &Side<'_>| {
        let id = from.id.clone();
        async move {
            match d {
                Ok((stream, _, sent)) => hello::read_answer(stream, &id, &sent, true, limit).await,
                Err(error) => Answer::Failed { error },
            }
        }
    };
    let (from_b, from_a) = tokio::join!(answer(da, a), answer(db, b));
    (from_b, from_a, apart)
}

#[cfg(test)]
mod tests;
