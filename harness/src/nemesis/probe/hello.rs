//! The harness's half of the node handshake, impersonating a node: THE one
//! place a probe's Hello is built, and where its answer is read.
//!
//! Only [`hello`] knows what a Hello holds, [`talk`] is what a probe says
//! on a connection it made, and [`read_answer`] proves the impersonated
//! node's identity with its testnet key (the node signs the probe's nonce,
//! the probe signs the node's), so a probe is a dial the node cannot tell
//! from the real node's. All of it works on any stream: a socket in a
//! container's namespace (docker) or a turmoil stream opened inside the
//! impersonated node's host (sim).

use crate::observe::model::Answer;
use ed25519_dalek::SigningKey;
use futures::StreamExt;
use std::net::IpAddr;
use std::time::Duration;
use timed::chain::types::Hash;
use timed::constants::{MAGIC, MAX_FRAME_PRE_HANDSHAKE, PROTOCOL_VERSION};
use timed::net::auth::Role;
use timed::wire::{decode, encode, FrameCodec, Hello, NetworkMessage};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio_util::codec::FramedRead;

/// How one probe talks on its connection.
#[derive(Clone, Copy, Debug)]
pub struct Talk {
    /// The Hello's nonce (differs from the dialed node's own).
    pub nonce: u64,
    /// Half-close right behind the proof (a stale Hello).
    pub hang_up: bool,
    /// Wall (docker) or virtual (sim) time the whole exchange may take.
    pub limit: Duration,
    /// The clock `sent` is read from, one for the whole run (docker: wall
    /// time since the first read; sim: the simulation's virtual time, the
    /// same in every host, unlike a host runtime's `Instant`).
    pub clock: fn() -> Duration,
}

/// What one probe got: the answer, and when its Hello went out on the
/// talk's clock (`None` when it never did).
#[derive(Clone, Debug)]
pub struct Probed {
    pub answer: Answer,
    pub sent: Option<Duration>,
}

impl Probed {
    pub fn failed(error: String) -> Self {
        Probed {
            answer: Answer::Failed { error },
            sent: None,
        }
    }
}

/// The probe's side of a connection `who` made: its Hello, then the
/// node's answer. When hanging up, `seal` runs right before the proof is
/// written (docker: TCP_CORK, so the proof and the FIN behind it leave as
/// one segment; sim: nothing, the link's latency is fixed for the fault).
pub async fn talk<R, W>(
    read: R,
    mut write: W,
    who: &Identity,
    how: Talk,
    seal: &(dyn Fn() -> std::io::Result<()> + Sync),
) -> Probed
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let sent = hello(who, how.nonce);
    if let Err(e) = write
        .write_all(&encode(&NetworkMessage::Handshake(sent.clone())))
        .await
    {
        return Probed::failed(format!("sending the Hello: {e}"));
    }
    let at = (how.clock)();
    let hang_up = how.hang_up.then_some(seal);
    let answer = read_answer(read, write, who, &sent, hang_up, how.limit).await;
    Probed {
        answer,
        sent: Some(at),
    }
}

/// Who the harness speaks as: a node of the run, from its testnet.
#[derive(Clone, Debug)]
pub struct Identity {
    pub ip: IpAddr,
    /// P2P port it listens on (others dial it there).
    pub p2p_port: u16,
    /// Its testnet node key (`node_id` is its public half).
    pub key: SigningKey,
    pub network: String,
    pub genesis_hash: Hash,
}

/// The Hello `who` sends first on a dial it made. `nonce` must differ from
/// the dialed node's own (a fresh random one).
pub fn hello(who: &Identity, nonce: u64) -> Hello {
    Hello {
        magic: MAGIC,
        version: PROTOCOL_VERSION,
        network: who.network.clone(),
        genesis_hash: who.genesis_hash,
        node_id: timed::keys::node_id(&who.key),
        nonce,
        listen_port: who.p2p_port,
        height: 0,
    }
}

/// What the dialed node answered, within `limit` (wall) for the whole
/// exchange. The node proves itself first (`HandshakeAuth`); the harness
/// then proves `who` with its key, as the real node would, and reads the
/// node's verdict: `HandshakeAck` or a `Reject`. With `hang_up` (a stale
/// Hello) the FIN goes right behind the proof (`hang_up` seals the two into
/// one segment first): the node holds a verified Hello whose dialer is
/// already gone, and the honest verdict is to close. A node that closes at
/// any point closed without a verdict.
pub async fn read_answer<R, W>(
    read: R,
    mut write: W,
    who: &Identity,
    sent: &Hello,
    hang_up: Option<&(dyn Fn() -> std::io::Result<()> + Sync)>,
    limit: Duration,
) -> Answer
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut frames = FramedRead::new(read, FrameCodec::new(MAX_FRAME_PRE_HANDSHAKE));
    let exchange = async {
        let first = match next(&mut frames).await? {
            NetworkMessage::HandshakeAuth { hello, .. } => hello,
            other => return verdict(other),
        };
        let failed = |what: &str, e: std::io::Error| Answer::Failed {
            error: format!("{what}: {e}"),
        };
        if let Some(seal) = hang_up {
            seal().map_err(|e| failed("sealing the proof and FIN", e))?;
        }
        let proof = timed::net::auth::prove(&who.key, Role::Dialer, sent, first.nonce);
        write
            .write_all(&encode(&NetworkMessage::HandshakeProof { proof }))
            .await
            .map_err(|e| failed("sending the proof", e))?;
        if hang_up.is_some() {
            write
                .shutdown()
                .await
                .map_err(|e| failed("half-close", e))?;
        }
        verdict(next(&mut frames).await?)
    };
    match tokio::time::timeout(limit, exchange).await {
        Err(_) => Answer::Silent,
        Ok(Ok(a)) | Ok(Err(a)) => a,
    }
}

/// The next frame, or the answer that ends the exchange (EOF, reset or an
/// undecodable frame).
async fn next<R: AsyncRead + Unpin>(
    frames: &mut FramedRead<R, FrameCodec>,
) -> Result<NetworkMessage, Answer> {
    match frames.next().await {
        // EOF or a reset: the node closed without a verdict.
        None | Some(Err(_)) => Err(Answer::Closed),
        Some(Ok(frame)) => decode(&frame).map_err(|e| Answer::Failed {
            error: format!("undecodable frame: {e}"),
        }),
    }
}

/// The node's verdict frame as an answer.
fn verdict(msg: NetworkMessage) -> Result<Answer, Answer> {
    Ok(match msg {
        NetworkMessage::HandshakeAck => Answer::Ack,
        NetworkMessage::Reject { reason } => Answer::Reject { reason },
        other => Answer::Failed {
            error: format!("unexpected frame `{}`", other.kind()),
        },
    })
}
