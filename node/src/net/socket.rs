//! THE small socket module: the only place in the crate that touches
//! `tokio::net`. A simulated network (turmoil) replaces this file alone.
//!
//! Outbound sockets are bound to the node's own IP before connecting, so
//! nodes living on loopback aliases (127.0.0.11, 127.0.0.12, ...) are seen by
//! their peers under their own address, which is the registry key.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, RawFd};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

pub use tokio::net::TcpStream as Stream;

/// Bind the P2P listener on `addr` (SO_REUSEADDR so a restarted node can
/// rebind while old sockets sit in TIME_WAIT).
pub fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let sock = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    sock.set_reuseaddr(true)?;
    sock.bind(addr)?;
    sock.listen(1024)
}

/// Accept one connection; returns the stream (TCP_NODELAY set) and peer IP.
pub async fn accept(listener: &TcpListener) -> io::Result<(TcpStream, SocketAddr)> {
    let (s, addr) = listener.accept().await?;
    let _ = s.set_nodelay(true);
    Ok((s, addr))
}

/// Connect to `to` from `(local_ip, ephemeral port)`. An unspecified
/// `local_ip` (0.0.0.0 / ::) lets the OS choose.
pub async fn connect(local_ip: IpAddr, to: SocketAddr) -> io::Result<TcpStream> {
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
        let (server_live, _) = accept(&listener).await.unwrap();
        live.write_all(b"hello\n").await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!HangupProbe::of(&server_live).hung_up());
        // A peer that wrote and hung up: once its data is read, the FIN is seen.
        let mut gone = connect("127.0.0.1".parse().unwrap(), addr).await.unwrap();
        let (mut server_gone, _) = accept(&listener).await.unwrap();
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
