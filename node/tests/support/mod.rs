//! Shared helpers for integration tests and benchmarks that run REAL `timed`
//! processes on loopback aliases (no Docker).
//!
//! - [`Cluster::start`]: write a testnet with `timed::testnet::write` on a
//!   random `127.X.Y.11+` range (so parallel tests never collide) and spawn
//!   one `timed run` per node; killed on drop.
//! - [`NodeProc`]: the API client (`status`, `peers`, `events`, `metrics`),
//!   `kill9`, `sigterm`, `restart`, `rss_kib`, `log`.
//! - [`wait_until`]: poll an async condition with a generous deadline.
//! - [`os_connections`]: established P2P sockets as the kernel sees them.
//! - [`FakePeer`]: a raw TCP peer speaking the wire protocol (for hostile
//!   and handshake tests).
//! - [`chain`]: heights, blocks and chain agreement, for the chain tests.
#![allow(dead_code)]

pub mod chain;

use ed25519_dalek::SigningKey;
use futures::{SinkExt, StreamExt};
use rand::Rng;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use timed::api::types::{EventKind, EventView, PeerView, StatusView};
use timed::constants::{MAGIC, PROTOCOL_VERSION};
use timed::net::auth::{self, Role};
use timed::net::handshake::{self, ClientError};
use timed::testnet::{self, Testnet, TestnetSpec};
use timed::wire::{decode, encode, FrameCodec, Hello, NetworkMessage};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio_util::codec::{BytesCodec, FramedRead, FramedWrite};

pub const TIMED: &str = env!("CARGO_BIN_EXE_timed");

/// A fresh `127.X.Y.11` base no other test picks (random X, Y).
pub fn unique_base_ip() -> Ipv4Addr {
    let mut r = rand::thread_rng();
    Ipv4Addr::new(127, r.gen_range(1..=254), r.gen_range(0..=254), 11)
}

/// `n` distinct loopback IPs in one fresh range.
pub fn unique_ips(n: usize) -> Vec<IpAddr> {
    let base = unique_base_ip();
    (1..=n)
        .map(|k| IpAddr::V4(testnet::node_ip(base, k).unwrap()))
        .collect()
}

pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub testnet: Testnet,
    pub nodes: Vec<NodeProc>,
}

impl Cluster {
    /// `n` nodes (all masternodes), spawned at `time_scale`.
    pub fn start(n: usize, time_scale: f64) -> Cluster {
        Cluster::start_with(
            TestnetSpec {
                nodes: n,
                masternodes: n,
                base_ip: unique_base_ip(),
                ..Default::default()
            },
            time_scale,
        )
    }

    pub fn start_with(spec: TestnetSpec, time_scale: f64) -> Cluster {
        let mut c = Cluster::stopped(spec, time_scale);
        c.start_all();
        c
    }

    /// Write the testnet but start no process yet.
    pub fn stopped(spec: TestnetSpec, time_scale: f64) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let testnet = testnet::write(&spec, dir.path()).unwrap();
        let nodes = testnet
            .nodes
            .iter()
            .map(|n| NodeProc {
                name: n.name.clone(),
                ip: n.config.listen_ip,
                p2p: n.config.p2p_addr(),
                api: n.config.api_addr(),
                config_path: n.config_path.clone(),
                log_path: dir.path().join(format!("{}.log", n.name)),
                time_scale,
                extra_args: vec![],
                nofile: None,
                child: None,
                http: reqwest::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .build()
                    .unwrap(),
            })
            .collect();
        Cluster {
            dir,
            testnet,
            nodes,
        }
    }

    pub fn ips(&self) -> Vec<IpAddr> {
        self.nodes.iter().map(|n| n.ip).collect()
    }

    /// Wait until every node reports `n - 1` live peers.
    pub async fn wait_full_mesh(&self, timeout: Duration) {
        let want = self.nodes.len() - 1;
        wait_until("full mesh", timeout, || async {
            for n in &self.nodes {
                if n.peers().await.ok()?.len() != want {
                    return None;
                }
            }
            Some(())
        })
        .await
    }

    /// A Hello that this cluster's nodes accept (for fake peers), under a
    /// random id: [`FakePeer::handshake`] replaces it with its own key's.
    pub fn hello(&self) -> Hello {
        Hello {
            magic: MAGIC,
            version: PROTOCOL_VERSION,
            network: self.testnet.genesis.network.clone(),
            genesis_hash: self.testnet.genesis.hash(),
            node_id: timed::chain::types::NodeId(rand::random()),
            nonce: rand::random(),
            listen_port: 0,
            height: 0,
        }
    }
}

/// The acceptor's side of the handshake by hand (a fake node that others
/// dial): read the dialer's Hello, answer with `hello` (a fresh nonce) and
/// its proof under `key`, read the dialer's proof, ack. The dialer's proof
/// is not checked (a fake node trusts anyone). False if the dialer strayed.
pub async fn accept_handshake<W: tokio::io::AsyncWrite + Unpin>(
    reader: &mut FramedRead<OwnedReadHalf, FrameCodec>,
    writer: &mut W,
    key: &SigningKey,
    hello: Hello,
) -> bool {
    use tokio::io::AsyncWriteExt;
    let Some(Ok(f)) = reader.next().await else {
        return false;
    };
    let Ok(NetworkMessage::Handshake(theirs)) = decode(&f) else {
        return false;
    };
    let proof = auth::prove(key, Role::Acceptor, &hello, theirs.nonce);
    let auth = encode(&NetworkMessage::HandshakeAuth { hello, proof });
    if writer.write_all(&auth).await.is_err() {
        return false;
    }
    let Some(Ok(f)) = reader.next().await else {
        return false;
    };
    if !matches!(decode(&f), Ok(NetworkMessage::HandshakeProof { .. })) {
        return false;
    }
    writer
        .write_all(&encode(&NetworkMessage::HandshakeAck))
        .await
        .is_ok()
}

/// A random ed25519 key (a fake peer's identity).
pub fn fresh_key() -> SigningKey {
    SigningKey::from_bytes(&rand::random())
}

pub struct NodeProc {
    pub name: String,
    pub ip: IpAddr,
    pub p2p: SocketAddr,
    pub api: SocketAddr,
    pub config_path: PathBuf,
    pub log_path: PathBuf,
    pub time_scale: f64,
    pub extra_args: Vec<String>,
    /// RLIMIT_NOFILE (soft and hard) for the process, like `ulimit -n`.
    pub nofile: Option<u64>,
    child: Option<Child>,
    http: reqwest::Client,
}

impl NodeProc {
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "{} already running", self.name);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .unwrap();
        let mut cmd = Command::new(TIMED);
        if let Some(n) = self.nofile {
            use std::os::unix::process::CommandExt;
            // SAFETY: only an async-signal-safe syscall between fork and exec.
            unsafe {
                cmd.pre_exec(move || {
                    let lim = libc::rlimit {
                        rlim_cur: n,
                        rlim_max: n,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let child = cmd
            .arg("run")
            .arg("--config")
            .arg(&self.config_path)
            .arg("--time-scale")
            .arg(self.time_scale.to_string())
            .args(&self.extra_args)
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or("info".into()),
            )
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn timed");
        self.child = Some(child);
    }

    pub fn restart(&mut self) {
        self.start()
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait (up to 10 s) for the exit status.
    pub fn sigterm(&mut self) -> Option<ExitStatus> {
        let mut c = self.child.take()?;
        unsafe {
            libc::kill(c.id() as i32, libc::SIGTERM);
        }
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(s)) = c.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = c.kill();
        let _ = c.wait();
        None
    }

    /// Resident memory from /proc/PID/status.
    pub fn rss_kib(&self) -> Option<u64> {
        rss_kib(self.pid()?)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.api, path)
    }

    /// Raw GET: status code, content type and body (for error-path tests).
    pub async fn get_raw(&self, path: &str) -> anyhow::Result<(u16, String, String)> {
        let r = self.http.get(self.url(path)).send().await?;
        let ct = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        Ok((r.status().as_u16(), ct, r.text().await?))
    }

    pub async fn status(&self) -> anyhow::Result<StatusView> {
        Ok(self
            .http
            .get(self.url("/status"))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?)
    }

    pub async fn peers(&self) -> anyhow::Result<Vec<PeerView>> {
        Ok(self
            .http
            .get(self.url("/peers"))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?)
    }

    /// Every event with `seq > after` (pages through the 10k cap).
    pub async fn events(&self, after: u64) -> anyhow::Result<Vec<EventView>> {
        let mut all: Vec<EventView> = vec![];
        let mut after = after;
        loop {
            let page: Vec<EventView> = self
                .http
                .get(self.url(&format!("/events?after={after}")))
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            all.extend(page);
        }
        Ok(all)
    }

    pub async fn events_of(&self, kind: EventKind) -> Vec<EventView> {
        self.events(0)
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|e| e.kind == kind)
            .collect()
    }

    pub async fn metrics(&self) -> anyhow::Result<String> {
        Ok(self
            .http
            .get(self.url("/metrics"))
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?)
    }

    /// One metric's value from `/metrics` (first line starting with `name`).
    pub async fn metric(&self, name: &str) -> Option<f64> {
        let text = self.metrics().await.ok()?;
        text.lines()
            .find(|l| l.starts_with(name) && !l.starts_with('#'))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }

    pub async fn wait_ready(&self) {
        wait_until(
            &format!("{} ready", self.name),
            Duration::from_secs(30),
            || async { self.status().await.ok() },
        )
        .await;
    }
}

impl Drop for NodeProc {
    fn drop(&mut self) {
        self.kill9();
    }
}

pub fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Poll `f` every 50 ms until it returns `Some`, or panic naming `what`.
pub async fn wait_until<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Established TCP connections between `ips` whose acceptor side listens
/// on `port`, from /proc/net/tcp: `(acceptor, dialer)` per connection.
pub fn os_connections(ips: &[IpAddr], port: u16) -> Vec<(SocketAddr, SocketAddr)> {
    let text = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let parse = |s: &str| -> Option<SocketAddr> {
        let (ip, p) = s.split_once(':')?;
        let ip = u32::from_str_radix(ip, 16).ok()?;
        let ip = Ipv4Addr::from(u32::from_be(ip));
        Some(SocketAddr::new(
            IpAddr::V4(ip),
            u16::from_str_radix(p, 16).ok()?,
        ))
    };
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (local, remote) = (parse(f.get(1)?)?, parse(f.get(2)?)?);
            let established = *f.get(3)? == "01";
            (established
                && local.port() == port
                && ips.contains(&local.ip())
                && ips.contains(&remote.ip()))
            .then_some((local, remote))
        })
        .collect()
}

/// A raw peer speaking the wire protocol from its own loopback IP.
pub struct FakePeer {
    pub reader: FramedRead<OwnedReadHalf, FrameCodec>,
    pub writer: FramedWrite<OwnedWriteHalf, BytesCodec>,
}

impl FakePeer {
    pub async fn connect(from: IpAddr, to: SocketAddr) -> std::io::Result<FakePeer> {
        Self::connect_with(from, to, None).await
    }

    /// `recv_buf`: shrink SO_RCVBUF (a peer that reads slowly or never).
    pub async fn connect_with(
        from: IpAddr,
        to: SocketAddr,
        recv_buf: Option<u32>,
    ) -> std::io::Result<FakePeer> {
        let s = tokio::net::TcpSocket::new_v4()?;
        if let Some(n) = recv_buf {
            s.set_recv_buffer_size(n)?;
        }
        s.bind(SocketAddr::new(from, 0))?;
        let stream = s.connect(to).await?;
        stream.set_nodelay(true)?;
        let (r, w) = stream.into_split();
        Ok(FakePeer {
            reader: FramedRead::new(r, FrameCodec::new(64 * 1024 * 1024)),
            writer: FramedWrite::new(w, BytesCodec::new()),
        })
    }

    /// Connect and complete the handshake under a fresh key of its own
    /// (`hello.node_id` is set to it); `Err(reason)` if rejected.
    pub async fn handshake(from: IpAddr, to: SocketAddr, hello: Hello) -> Result<FakePeer, String> {
        let key = fresh_key();
        let hello = Hello {
            node_id: timed::chain::keys::node_id(&key),
            ..hello
        };
        FakePeer::handshake_as(from, to, hello, &key).await
    }

    /// Connect and run `timed::net::handshake::client` with `hello` exactly
    /// as given, proving with `key` (an impostor passes someone else's id);
    /// `Err(text)`: the node's `Reject` text, or why we gave up.
    pub async fn handshake_as(
        from: IpAddr,
        to: SocketAddr,
        hello: Hello,
        key: &SigningKey,
    ) -> Result<FakePeer, String> {
        let p = FakePeer::connect(from, to)
            .await
            .map_err(|e| e.to_string())?;
        p.handshake_on(hello, key).await
    }

    /// Run the dialer's handshake on this connected peer, as
    /// [`FakePeer::handshake_as`] does (for peers with their own socket
    /// options, e.g. [`FakePeer::connect_with`]'s small receive buffer).
    pub async fn handshake_on(
        mut self,
        hello: Hello,
        key: &SigningKey,
    ) -> Result<FakePeer, String> {
        let shake = handshake::client(&mut self.reader, self.writer.get_mut(), key, &hello);
        match tokio::time::timeout(Duration::from_secs(10), shake).await {
            Ok(Ok(_)) => Ok(self),
            Ok(Err(ClientError::Rejected(reason))) => Err(reason),
            Ok(Err(e)) => Err(format!("handshake failed: {e}")),
            Err(_) => Err("handshake timed out".into()),
        }
    }

    pub async fn send(&mut self, msg: &NetworkMessage) -> std::io::Result<()> {
        self.writer.send(encode(msg)).await
    }

    pub async fn send_raw(&mut self, bytes: bytes::Bytes) -> std::io::Result<()> {
        self.writer.send(bytes).await
    }

    /// Next decodable frame within `timeout`; `None` on EOF, error, timeout.
    pub async fn recv(&mut self, timeout: Duration) -> Option<NetworkMessage> {
        match tokio::time::timeout(timeout, self.reader.next()).await {
            Ok(Some(Ok(f))) => decode(&f).ok(),
            _ => None,
        }
    }

    /// Read until the node closes the connection (true) or `timeout` (false).
    pub async fn wait_closed(&mut self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.reader.next()).await {
                Err(_) => return false,
                Ok(None) | Ok(Some(Err(_))) => return true,
                Ok(Some(Ok(_))) => {}
            }
        }
    }

    /// Send a ping and wait for its pong; the round-trip time.
    pub async fn ping(&mut self, timeout: Duration) -> Option<Duration> {
        let nonce: u64 = rand::random();
        let t = Instant::now();
        self.send(&NetworkMessage::Ping { nonce }).await.ok()?;
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.recv(left).await? {
                NetworkMessage::Pong { nonce: n } if n == nonce => return Some(t.elapsed()),
                NetworkMessage::Ping { nonce } => {
                    let _ = self.send(&NetworkMessage::Pong { nonce }).await;
                }
                _ => {}
            }
        }
    }
}
