//! THE small socket module: the only place in the crate that creates
//! sockets (the P2P listener, outbound dials and the API listener). The one
//! other user of `tokio::net` is the API's accept loop (`api/limited.rs`),
//! which accepts on the API listener bound here.
//!
//! Protocol code sees sockets only through [`Transport`]: `listen`, `accept`,
//! `connect`, each giving boxed read/write halves. [`TokioTransport`] is the
//! real one (the `timed` binary); a simulated network (the harness's turmoil
//! provider) implements the same trait outside this crate, so the node has
//! no simulation code path at all and does not depend on the simulator.
//!
//! Outbound sockets are bound to the node's own IP before connecting, so
//! nodes living on loopback aliases (127.0.0.11, 127.0.0.12, ...) are seen by
//! their peers under their own address, which is the registry key.

use futures::future::BoxFuture;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

/// The read half of a connection, whatever carries it.
pub type BoxRead = Box<dyn AsyncRead + Send + Unpin>;
/// The write half of a connection, whatever carries it.
pub type BoxWrite = Box<dyn AsyncWrite + Send + Unpin>;

/// One established connection, split.
pub struct Connected {
    pub read: BoxRead,
    pub write: BoxWrite,
    /// The remote end (for an accepted connection: the dialer's address).
    pub peer: SocketAddr,
    /// Asks the carrier whether the remote end already hung up.
    pub probe: HangupProbe,
}

/// A bound listener of some transport.
pub trait Listener: Send + 'static {
    /// Wait for the next inbound connection.
    fn accept(&mut self) -> BoxFuture<'_, io::Result<Connected>>;
}

/// Where sockets come from: real TCP or a simulated network.
pub trait Transport: Send + Sync + 'static {
    /// Bind a listener on `addr`.
    fn listen(&self, addr: SocketAddr) -> BoxFuture<'_, io::Result<Box<dyn Listener>>>;
    /// Connect to `to` from `(local_ip, ephemeral port)`.
    fn connect(&self, local_ip: IpAddr, to: SocketAddr) -> BoxFuture<'_, io::Result<Connected>>;
}

/// A transport shared by every task of one node.
pub type SharedTransport = Arc<dyn Transport>;

/// Real TCP through tokio.
#[derive(Clone, Copy, Debug, Default)]
pub struct TokioTransport;

impl TokioTransport {
    pub fn shared() -> SharedTransport {
        Arc::new(TokioTransport)
    }
}

struct TokioListener(TcpListener);

impl Listener for TokioListener {
    fn accept(&mut self) -> BoxFuture<'_, io::Result<Connected>> {
        Box::pin(async move {
            let (s, peer) = self.0.accept().await?;
            let _ = s.set_nodelay(true);
            Ok(split(s, peer))
        })
    }
}

impl Transport for TokioTransport {
    fn listen(&self, addr: SocketAddr) -> BoxFuture<'_, io::Result<Box<dyn Listener>>> {
        Box::pin(async move { Ok(Box::new(TokioListener(listen(addr)?)) as Box<dyn Listener>) })
    }

    fn connect(&self, local_ip: IpAddr, to: SocketAddr) -> BoxFuture<'_, io::Result<Connected>> {
        Box::pin(async move {
            let s = connect(local_ip, to).await?;
            Ok(split(s, to))
        })
    }
}

fn split(s: TcpStream, peer: SocketAddr) -> Connected {
    let probe = HangupProbe::of(&s);
    let (r, w) = s.into_split();
    Connected {
        read: Box::new(r),
        write: Box::new(w),
        peer,
        probe,
    }
}

/// Bind the P2P listener on `addr` (SO_REUSEADDR so a restarted node can
/// rebind while old sockets sit in TIME_WAIT).
fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let sock = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    sock.set_reuseaddr(true)?;
    sock.bind(addr)?;
    sock.listen(1024)
}

/// Bind the HTTP API listener (axum serves a tokio listener directly).
pub async fn listen_api(addr: SocketAddr) -> io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Connect to `to` from `(local_ip, ephemeral port)`. An unspecified
/// `local_ip` (0.0.0.0 / ::) lets the OS choose.
async fn connect(local_ip: IpAddr, to: SocketAddr) -> io::Result<TcpStream> {
    let sock = match to {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    if !local_ip.is_unspecified() && local_ip.is_ipv4() == to.is_ipv4() {
        sock.bind(SocketAddr::new(local_ip, 0))?;
    }
    let s = sock.connect(to).await?;
    s.set_nodelay(true)?;
    Ok(s)
}

/// Asks the kernel whether the remote end of a socket already hung up,
/// without consuming a byte. Needed because tokio may report "nothing to
/// read" after a short read while the dialer's FIN is already queued (it
/// clears read readiness once a read returns less than the buffer).
#[derive(Clone, Copy, Debug)]
pub struct HangupProbe(Option<RawFd>);

impl HangupProbe {
    /// Probe `stream`'s socket; valid while the stream (or its halves) lives.
    pub fn of(stream: &TcpStream) -> Self {
        HangupProbe(Some(stream.as_raw_fd()))
    }

    /// For in-memory streams: always "still there".
    pub fn none() -> Self {
        HangupProbe(None)
    }

    /// True if the peer closed or reset the connection.
    pub fn hung_up(&self) -> bool {
        let Some(fd) = self.0 else { return false };
        let mut byte = [0u8; 1];
        // SAFETY: `fd` is an open socket owned by the caller's stream; a
        // non-blocking MSG_PEEK reads nothing out of it.
        let n = unsafe {
            libc::recv(
                fd,
                byte.as_mut_ptr().cast(),
                1,
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        match n {
            0 => true,
            n if n > 0 => false,
            _ => !matches!(
                io::Error::last_os_error().kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn the_probe_sees_a_queued_fin_without_consuming_data() {
        let listener = listen("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        // A live peer: data pending is not a hang-up.
        let mut live = connect("127.0.0.1".parse().unwrap(), addr).await.unwrap();
        let (server_live, _) = listener.accept().await.unwrap();
        live.write_all(b"hello\n").await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!HangupProbe::of(&server_live).hung_up());
        // A peer that wrote and hung up: once its data is read, the FIN is seen.
        let mut gone = connect("127.0.0.1".parse().unwrap(), addr).await.unwrap();
        let (mut server_gone, _) = listener.accept().await.unwrap();
        gone.write_all(b"hello\n").await.unwrap();
        drop(gone);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let probe = HangupProbe::of(&server_gone);
        assert!(!probe.hung_up(), "data still queued ahead of the FIN");
        let mut buf = [0u8; 6];
        server_gone.read_exact(&mut buf).await.unwrap();
        assert!(probe.hung_up());
        assert!(!HangupProbe::none().hung_up());
    }
}
