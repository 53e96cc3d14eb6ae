//! The node's [`Transport`] on turmoil's simulated TCP, and the simulated
//! network's own table of established connections (the sim "kernel view").
//!
//! Every stream this transport hands out carries a [`Tracked`] guard: the
//! connection is in the table from the moment it is established until both
//! halves on that side are dropped (closed by the node, or torn down with
//! the host on a crash). The table is filled here, below the node, from
//! what the simulated network did, never from the node's registry.
//!
//! Below the node, each stream also carries the faults a kernel would
//! apply: the node's freeze [`Gate`] (a paused or CPU-starved process
//! reads, writes and accepts nothing while it is closed, while its
//! "kernel" still completes handshakes and buffers what peers send) and
//! the link shaping of [`Shaper`] on what it receives.

use super::shaper::Shaper;
use crate::observe::model::KernelConn;
use futures::future::BoxFuture;
use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use timed::gate::Gate;
use timed::net::socket::{Connected, HangupProbe, Listener, SharedTransport, Transport};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Established connections of the whole simulated network, one row per
/// socket end (each connection appears once per side), keyed by the end's
/// host and a serial: a poll reads one host's rows without scanning the
/// network's (a 100-node mesh has ~10,000 ends; the full scan per poll was
/// 5% of its CPU).
#[derive(Clone, Default)]
pub struct ConnTable {
    inner: Arc<Mutex<TableInner>>,
}

#[derive(Default)]
struct TableInner {
    next: u64,
    rows: BTreeMap<(IpAddr, u64), KernelConn>,
    /// Per host: bumped whenever one of its rows comes or goes.
    changes: BTreeMap<IpAddr, u64>,
}

impl TableInner {
    fn changed(&mut self, host: IpAddr) {
        *self.changes.entry(host).or_default() += 1;
    }
}

impl ConnTable {
    fn open(&self, local: SocketAddr, remote: SocketAddr) -> Arc<Tracked> {
        let mut t = self.inner.lock().unwrap();
        t.next += 1;
        let id = (local.ip(), t.next);
        t.changed(local.ip());
        t.rows.insert(
            id,
            KernelConn {
                local_ip: local.ip(),
                local_port: local.port(),
                remote_ip: remote.ip(),
                remote_port: remote.port(),
            },
        );
        Arc::new(Tracked {
            table: self.clone(),
            id,
        })
    }

    /// The established sockets of the host `ip` that touch `port` at
    /// either end (what docker's `/proc/PID/net/tcp` reading gives).
    pub fn of_host(&self, ip: IpAddr, port: u16) -> Vec<KernelConn> {
        let t = self.inner.lock().unwrap();
        t.rows
            .range((ip, 0)..=(ip, u64::MAX))
            .map(|(_, c)| c)
            .filter(|c| c.local_port == port || c.remote_port == port)
            .cloned()
            .collect()
    }

    /// A counter that moves whenever [`of_host`](Self::of_host)`(ip, _)`
    /// may have changed (a socket end of the host opened or closed).
    pub fn changes_of(&self, ip: IpAddr) -> u64 {
        let t = self.inner.lock().unwrap();
        t.changes.get(&ip).copied().unwrap_or(0)
    }

    /// How many socket ends are open in the whole network.
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap().rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Removes its row when the last half of the socket end is dropped.
pub struct Tracked {
    table: ConnTable,
    id: (IpAddr, u64),
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let mut t = self.table.inner.lock().unwrap();
        t.rows.remove(&self.id);
        t.changed(self.id.0);
    }
}

/// A stream half that keeps its connection's table row alive and waits
/// while its node is frozen.
struct Half<T> {
    io: T,
    gate: Arc<Gate>,
    _tracked: Arc<Tracked>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Half<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        std::task::ready!(self.gate.poll_pass(cx));
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Half<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        std::task::ready!(self.gate.poll_pass(cx));
        Pin::new(&mut self.io).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.gate.poll_pass(cx));
        Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.gate.poll_pass(cx));
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// turmoil's TCP as a node transport. turmoil binds outbound sockets to the
/// current host's address itself, which is the node's own IP.
#[derive(Clone)]
pub struct SimTransport {
    table: ConnTable,
    gate: Arc<Gate>,
    shaper: Shaper,
}

impl SimTransport {
    pub fn shared(table: ConnTable, gate: Arc<Gate>, shaper: Shaper) -> SharedTransport {
        Arc::new(SimTransport {
            table,
            gate,
            shaper,
        })
    }

    fn wrap(&self, s: turmoil::net::TcpStream) -> io::Result<Connected> {
        let local = s.local_addr()?;
        let peer = s.peer_addr()?;
        let tracked = self.table.open(local, peer);
        let (r, w) = s.into_split();
        Ok(Connected {
            read: Box::new(Half {
                io: self.shaper.reader(r, peer.ip(), local.ip()),
                gate: self.gate.clone(),
                _tracked: tracked.clone(),
            }),
            write: Box::new(Half {
                io: w,
                gate: self.gate.clone(),
                _tracked: tracked,
            }),
            peer,
            // No hang-up probe in the simulator: an EOF is seen on read.
            probe: HangupProbe::none(),
        })
    }
}

/// Connections a listener's "kernel" completes before the node accepts
/// them: tokio's listen backlog on docker (`TcpListener::bind` asks for
/// 1024). A frozen node's peers keep connecting into it, as on Linux, and
/// past it their connects wait and time out.
const BACKLOG: usize = 1024;

/// A listening socket: its "kernel" ([`kernel_accept`]) completes each
/// connect at once, frozen node or not, and queues it; the node takes
/// them from the queue only while its gate is open.
struct SimListener {
    backlog: tokio::sync::mpsc::Receiver<io::Result<turmoil::net::TcpStream>>,
    kernel: tokio::task::JoinHandle<()>,
    transport: Arc<SimTransport>,
}

impl Drop for SimListener {
    fn drop(&mut self) {
        self.kernel.abort();
    }
}

/// Complete every connect to `inner` (turmoil answers a SYN only when
/// accepted) and queue it, up to [`BACKLOG`] unaccepted. The accepting
/// end enters the kernel table only when the node takes it (the dialer's
/// end is in it from its connect): unlike Linux, where a backlog socket is
/// ESTABLISHED already, so a throttled node's queue does not read as
/// sockets its /peers lacks.
async fn kernel_accept(
    inner: turmoil::net::TcpListener,
    backlog: tokio::sync::mpsc::Sender<io::Result<turmoil::net::TcpStream>>,
) {
    loop {
        let c = inner.accept().await.map(|(s, _)| s);
        if backlog.send(c).await.is_err() {
            return;
        }
    }
}

impl Listener for SimListener {
    fn accept(&mut self) -> BoxFuture<'_, io::Result<Connected>> {
        Box::pin(async move {
            // The kernel completed the handshake; a frozen node takes the
            // connection only when it runs again.
            self.transport.gate.pass().await;
            let s = self
                .backlog
                .recv()
                .await
                .unwrap_or_else(|| Err(io::Error::other("the listener's kernel task ended")))?;
            let c = self.transport.wrap(s);
            self.transport.gate.pass().await;
            c
        })
    }
}

impl Transport for SimTransport {
    fn listen(&self, addr: SocketAddr) -> BoxFuture<'_, io::Result<Box<dyn Listener>>> {
        let transport = Arc::new(self.clone());
        // turmoil binds only the wildcard: a host has one address, its own.
        let any = match addr {
            SocketAddr::V4(_) => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            SocketAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
        };
        Box::pin(async move {
            let inner = turmoil::net::TcpListener::bind(SocketAddr::new(any, addr.port())).await?;
            let (tx, backlog) = tokio::sync::mpsc::channel(BACKLOG);
            let kernel = tokio::spawn(kernel_accept(inner, tx));
            Ok(Box::new(SimListener {
                backlog,
                kernel,
                transport,
            }) as Box<dyn Listener>)
        })
    }

    fn connect(&self, _local_ip: IpAddr, to: SocketAddr) -> BoxFuture<'_, io::Result<Connected>> {
        Box::pin(async move {
            self.gate.pass().await;
            let s = turmoil::net::TcpStream::connect(to).await?;
            let c = self.wrap(s);
            self.gate.pass().await;
            c
        })
    }
}
