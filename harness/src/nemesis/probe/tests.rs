//! The probes against fake nodes on loopback: the harness's own process
//! stands in for the node's namespace (its PID, so `setns` enters the
//! namespace it is already in; needs root like the Docker provider), each
//! fake node a listener on its own 127.0.0.x that checks the Hello and
//! answers as told.

use super::*;
use crate::nemesis::schedule::Fault;
use futures::FutureExt;
use std::net::{IpAddr, Ipv4Addr};
use timed::net::auth::Role;
use timed::wire::{decode, NetworkMessage};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// Every node is "running" in our own namespace.
struct Here;

impl Cluster for Here {
    fn node_names(&self) -> Vec<String> {
        vec!["n1".into(), "n2".into()]
    }
    fn node_ip(&self, node: &str) -> Option<IpAddr> {
        Some(ip(node))
    }
    async fn pid(&self, _: &str) -> anyhow::Result<Option<u32>> {
        Ok(Some(std::process::id()))
    }
    async fn kill(&self, _: &str) -> anyhow::Result<()> {
        unreachable!()
    }
    async fn stop(&self, _: &str) -> anyhow::Result<()> {
        unreachable!()
    }
    async fn start(&self, _: &str) -> anyhow::Result<()> {
        unreachable!()
    }
    async fn pause(&self, _: &str) -> anyhow::Result<()> {
        unreachable!()
    }
    async fn resume(&self, _: &str) -> anyhow::Result<()> {
        unreachable!()
    }
    async fn throttle(&self, _: &str, _: Option<f64>) -> anyhow::Result<()> {
        unreachable!()
    }
    async fn recreate(&self, _: &str, _: bool, _: Vec<String>) -> anyhow::Result<()> {
        unreachable!()
    }
}

fn ip(node: &str) -> IpAddr {
    let k: u8 = node[1..].parse().unwrap();
    IpAddr::V4(Ipv4Addr::new(127, 0, 93, k))
}

/// What a fake node does with each Hello.
#[derive(Clone, Copy)]
enum Says {
    Ack,
    Reject,
    /// After the proof, checks the dialer's EOF is already there, then
    /// closes without a frame (an honest node's answer to a stale Hello).
    CloseAtEof,
}

/// A fake node `name` on its loopback IP: for each connection, checks the
/// Hello comes from `from`'s IP with `from`'s node id, answers, and records
/// whether the dialer's EOF was already there.
async fn fake_node(
    name: &'static str,
    from: &'static str,
    ids: &Identities,
    says: Says,
) -> (u16, tokio::sync::mpsc::UnboundedReceiver<bool>) {
    let listener = TcpListener::bind((ip(name), 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let want = timed::keys::node_id(&ids[from].key);
    let me = ids[name].clone();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let (mut s, peer) = listener.accept().await.unwrap();
            assert_eq!(peer.ip(), ip(from), "the probe's source IP");
            let (want, tx, me) = (want, tx.clone(), me.clone());
            tokio::spawn(async move {
                let (r, mut w) = s.split();
                let mut r = BufReader::new(r);
                let mut line = String::new();
                r.read_line(&mut line).await.unwrap();
                let NetworkMessage::Handshake(h) = decode(line.trim_end().as_bytes()).unwrap()
                else {
                    panic!("not a Hello: {line}")
                };
                assert_eq!(h.node_id, want);
                // The node proves itself first, then reads the dialer's
                // proof (checked by the node's own code, not here).
                let ours = super::hello::hello(&me, 7);
                let proof = timed::net::auth::prove(&me.key, Role::Acceptor, &ours, h.nonce);
                let auth = NetworkMessage::HandshakeAuth { hello: ours, proof };
                w.write_all(&timed::wire::encode(&auth)).await.unwrap();
                line.clear();
                r.read_line(&mut line).await.unwrap();
                let NetworkMessage::HandshakeProof { .. } =
                    decode(line.trim_end().as_bytes()).unwrap()
                else {
                    panic!("not a proof: {line}")
                };
                let verdict = match says {
                    Says::Ack => timed::wire::encode(&NetworkMessage::HandshakeAck),
                    Says::Reject => timed::wire::encode(&NetworkMessage::Reject {
                        reason: "duplicate: already connected".into(),
                    }),
                    Says::CloseAtEof => {
                        // The EOF must already be here with the proof: no
                        // waiting for it. (Loopback delivers a separate FIN
                        // in microseconds too, so this cannot tell one
                        // segment from two; tcpdump on docker showed each
                        // stale probe as one `[FP.]` segment, README.)
                        let eof = matches!(r.read(&mut [0u8; 16]).now_or_never(), Some(Ok(0)));
                        let _ = tx.send(eof);
                        return;
                    }
                };
                w.write_all(&verdict).await.unwrap();
                let _ = tx.send(false);
            });
        }
    });
    (port, rx)
}

fn identities(ports: &[(&str, u16)]) -> Identities {
    let net = timed::testnet::build(&timed::testnet::TestnetSpec {
        nodes: 2,
        masternodes: 2,
        ..Default::default()
    })
    .unwrap();
    let mut ids = super::identities(&net);
    for (n, port) in ports {
        let id = ids.get_mut(*n).unwrap();
        id.ip = ip(n);
        id.p2p_port = *port;
    }
    ids
}

fn stamp() -> Stamp {
    Stamp {
        now: 60_000,
        began: Instant::now(),
        time_scale: 30.0,
    }
}

#[tokio::test]
async fn a_duplicate_dial_comes_from_the_peer_with_its_key_and_records_each_answer() {
    let ids = identities(&[]);
    let (port, _) = fake_node("n1", "n2", &ids, Says::Reject).await;
    let ids = identities(&[("n1", port), ("n2", 1)]);
    let fault = Fault::DuplicateDial {
        node: "n1".into(),
        peer: "n2".into(),
        repeat: 3,
    };
    let (answers, summary) = run(&fault, &ids, &Here, stamp()).await.unwrap();
    assert_eq!(answers.len(), 3);
    for a in &answers {
        assert_eq!((a.node.as_str(), a.from.as_str()), ("n1", "n2"));
        assert!(matches!(a.answer, Answer::Reject { .. }), "{:?}", a.answer);
        assert!(a.t >= 60_000);
    }
    assert!(summary.starts_with("3x reject"), "{summary}");
}

#[tokio::test]
async fn a_stale_hello_has_its_eof_in_the_proofs_segment() {
    let ids = identities(&[]);
    let (port, mut eofs) = fake_node("n1", "n2", &ids, Says::CloseAtEof).await;
    let ids = identities(&[("n1", port), ("n2", 1)]);
    let fault = Fault::StaleHello {
        node: "n1".into(),
        peer: "n2".into(),
        repeat: 1,
        during: During::Established,
    };
    let (answers, _) = run(&fault, &ids, &Here, stamp()).await.unwrap();
    assert_eq!(answers[0].answer, Answer::Closed);
    assert!(
        eofs.recv().await.unwrap(),
        "the dialer's FIN came with its proof"
    );
}

#[tokio::test]
async fn crossed_dials_go_both_ways_and_an_ack_is_recorded_as_such() {
    let ids = identities(&[]);
    let (p1, _) = fake_node("n1", "n2", &ids, Says::Ack).await;
    let (p2, _) = fake_node("n2", "n1", &ids, Says::Reject).await;
    let ids = identities(&[("n1", p1), ("n2", p2)]);
    let fault = Fault::CrossedDial {
        node: "n1".into(),
        peer: "n2".into(),
        repeat: 2,
        during: During::Established,
    };
    let (answers, summary) = run(&fault, &ids, &Here, stamp()).await.unwrap();
    assert_eq!(answers.len(), 4);
    for pair in answers.chunks(2) {
        assert_eq!((pair[0].node.as_str(), pair[0].from.as_str()), ("n2", "n1"));
        assert!(matches!(pair[0].answer, Answer::Reject { .. }));
        assert_eq!((pair[1].node.as_str(), pair[1].from.as_str()), ("n1", "n2"));
        assert_eq!(pair[1].answer, Answer::Ack);
    }
    assert!(summary.contains("µs apart"), "{summary}");
}

#[tokio::test]
async fn a_node_that_is_not_there_is_a_failed_probe_not_an_error() {
    // Nobody listens on n1's port: the connect is refused.
    let ids = identities(&[("n1", 9), ("n2", 1)]);
    let fault = Fault::DuplicateDial {
        node: "n1".into(),
        peer: "n2".into(),
        repeat: 1,
    };
    let (answers, _) = run(&fault, &ids, &Here, stamp()).await.unwrap();
    assert!(
        matches!(&answers[0].answer, Answer::Failed { error } if error.contains("connect n2 -> n1")),
        "{:?}",
        answers[0].answer
    );
}

#[tokio::test]
async fn a_mid_handshake_probe_waits_for_a_fresh_dial_and_records_both_ids() {
    let ids = identities(&[]);
    let (p1, _) = fake_node("n1", "n2", &ids, Says::Ack).await;
    // n2 is "frozen": its kernel completes connects, nobody accepts.
    let frozen = TcpListener::bind((ip("n2"), 0)).await.unwrap();
    let p2 = frozen.local_addr().unwrap().port();
    let ids = identities(&[("n1", p1), ("n2", p2)]);
    // n1's redial to n2 connects a moment after the fault began.
    let redial = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let s = tokio::net::TcpSocket::new_v4().unwrap();
        s.bind(SocketAddr::new(ip("n1"), 0)).unwrap();
        s.connect(SocketAddr::new(ip("n2"), p2)).await.unwrap()
    });
    let fault = Fault::CrossedDial {
        node: "n1".into(),
        peer: "n2".into(),
        repeat: 1,
        during: During::Handshake,
    };
    let began = Instant::now();
    let (answers, summary) = run(&fault, &ids, &Here, stamp()).await.unwrap();
    assert!(
        began.elapsed() >= Duration::from_millis(300),
        "it waited for the dial"
    );
    let _dial = redial.await.unwrap();
    assert_eq!(answers.len(), 1, "only n1 is dialed, as n2");
    let a = &answers[0];
    assert_eq!((a.node.as_str(), a.from.as_str()), ("n1", "n2"));
    assert_eq!(a.answer, Answer::Ack);
    let tb = a.tie_break.as_ref().expect("the ids are recorded");
    assert_eq!(tb, &TieBreak::of(&ids["n1"].key, &ids["n2"].key));
    assert!(summary.contains("has the lower id"), "{summary}");
    drop(frozen);
}

/// A network whose kernel view shows `a`'s dials to `b` from a script, one
/// entry per read (the last one repeats); it cannot dial.
struct Scripted(std::cell::RefCell<Vec<BTreeSet<u16>>>);

impl ProbeNet for Scripted {
    type Ready = ();
    fn ready<'a>(
        &'a self,
        _: &'a Side<'_>,
    ) -> futures::future::LocalBoxFuture<'a, Result<(), String>> {
        Box::pin(async { Err("scripted".into()) })
    }
    fn probe<'a>(
        &'a self,
        _: (),
        _: &'a Side<'_>,
        _: &'a Side<'_>,
        _: Talk,
    ) -> futures::future::LocalBoxFuture<'a, Probed> {
        unreachable!("no probe goes out in these tests")
    }
    fn dials<'a>(
        &'a self,
        _: &'a Side<'_>,
        _: &'a Side<'_>,
    ) -> futures::future::LocalBoxFuture<'a, Result<BTreeSet<u16>, String>> {
        let mut script = self.0.borrow_mut();
        let now = if script.len() > 1 {
            script.remove(0)
        } else {
            script[0].clone()
        };
        Box::pin(async move { Ok(now) })
    }
    fn nonce(&self) -> u64 {
        0
    }
    fn clock(&self) -> fn() -> Duration {
        || Duration::ZERO
    }
}

#[tokio::test(start_paused = true)]
async fn an_idle_probe_waits_until_the_node_holds_no_socket_to_the_peer() {
    let ids = identities(&[("n1", 1), ("n2", 2)]);
    let (a, b) = (Side::new("n1", &ids["n1"]), Side::new("n2", &ids["n2"]));
    let ports = |p: &[u16]| p.iter().copied().collect::<BTreeSet<u16>>();
    // Two redials in flight, then none: idle at the third read.
    let net = Scripted(std::cell::RefCell::new(vec![
        ports(&[40001]),
        ports(&[40002]),
        ports(&[]),
    ]));
    let began = Instant::now();
    idle(&net, &a, &b, Duration::from_secs(5)).await.unwrap();
    assert_eq!(began.elapsed(), REDIAL_POLL * 2);
    // A socket that never goes away: an error naming both nodes.
    let net = Scripted(std::cell::RefCell::new(vec![ports(&[40001])]));
    let err = idle(&net, &a, &b, Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(
        err.contains("n1 never was without a socket to n2 within 1000 ms"),
        "{err}"
    );
}
