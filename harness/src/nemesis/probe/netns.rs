//! A TCP socket that lives in a node's network namespace, made from the
//! host: a fresh OS thread enters `/proc/PID/ns/net` with `setns(2)`,
//! creates the socket and exits. A socket keeps the namespace it was
//! created in for life, so it is then connected and used from the tokio
//! runtime like any other, its packets leaving with the node's own IP.
//!
//! The thread is never a runtime or blocking-pool thread: those are reused,
//! and one left in a container's namespace would send the harness's own
//! traffic (API polls) from there. Needs the same rights as `nsenter`
//! (root on the Docker host), like the netfilter faults.
//!
//! [`DockerNet`] is the docker provider's [`ProbeNet`]: a dial as a node is
//! such a socket, connected from the harness's runtime.

use super::{talk, ProbeNet, Probed, Side, Talk};
use crate::provider::Cluster;
use futures::future::LocalBoxFuture;
use std::collections::BTreeSet;
use std::fs::File;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use tokio::net::TcpSocket;

/// Probes on a docker cluster: sockets in the containers' namespaces.
pub struct DockerNet<'c, C>(pub &'c C);

impl<C: Cluster> DockerNet<'_, C> {
    /// The pid of `node`'s process, or why no probe can act as it.
    async fn pid_of(&self, node: &str) -> Result<u32, String> {
        self.0
            .pid(node)
            .await
            .map_err(|e| format!("no pid for {node}: {e:#}"))?
            .ok_or_else(|| format!("{node} is not running"))
    }
}

impl<C: Cluster> ProbeNet for DockerNet<'_, C> {
    type Ready = TcpSocket;

    fn ready<'a>(&'a self, from: &'a Side<'_>) -> LocalBoxFuture<'a, Result<TcpSocket, String>> {
        Box::pin(async move {
            let pid = self.pid_of(from.name).await?;
            socket_in(pid, from.id.ip)
                .map_err(|e| format!("socket in the namespace of {} (pid {pid}): {e}", from.name))
        })
    }

    fn probe<'a>(
        &'a self,
        socket: TcpSocket,
        from: &'a Side<'_>,
        to: &'a Side<'_>,
        how: Talk,
    ) -> LocalBoxFuture<'a, Probed> {
        Box::pin(async move {
            match socket.connect(to.addr()).await {
                Ok(stream) => {
                    // A stale Hello corks the socket before its proof: the
                    // proof waits in the send queue and the half-close sets
                    // FIN on that same segment, so the two arrive as one
                    // packet. No TCP_NODELAY then (it would push what the
                    // cork holds); the Hello still leaves at once, as
                    // Nagle holds nothing while no data is unacknowledged.
                    if !how.hang_up {
                        let _ = stream.set_nodelay(true);
                    }
                    let fd = stream.as_raw_fd();
                    let (r, w) = stream.into_split();
                    talk(r, w, from.id, how, &|| cork(fd)).await
                }
                Err(e) => Probed::failed(format!("connect {} -> {}: {e}", from.name, to.name)),
            }
        })
    }

    fn dials<'a>(
        &'a self,
        from: &'a Side<'_>,
        to: &'a Side<'_>,
    ) -> LocalBoxFuture<'a, Result<BTreeSet<u16>, String>> {
        Box::pin(async move {
            let pid = self.pid_of(from.name).await?;
            let conns = crate::observe::kernel::read(pid, to.id.p2p_port)
                .map_err(|e| format!("kernel view of {} (pid {pid}): {e}", from.name))?;
            Ok(conns
                .iter()
                .filter(|c| c.local_ip == from.id.ip)
                .filter(|c| SocketAddr::new(c.remote_ip, c.remote_port) == to.addr())
                .map(|c| c.local_port)
                .collect())
        })
    }

    fn nonce(&self) -> u64 {
        rand::random()
    }

    fn clock(&self) -> fn() -> std::time::Duration {
        wall
    }
}

/// Set TCP_CORK: nothing leaves until the cork is lifted, a full segment
/// is queued, or the socket is shut down for writing (the FIN then rides
/// on the queued data).
fn cork(fd: std::os::fd::RawFd) -> io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: `fd` is the socket of a stream its caller still holds (both
    // halves alive), and a c_int option value of the size given.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_CORK,
            &on as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Wall time since the first call (one origin for the whole process).
fn wall() -> std::time::Duration {
    static ORIGIN: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    ORIGIN.get_or_init(std::time::Instant::now).elapsed()
}

/// A TCP socket in the network namespace of `pid`, bound to `ip` (the
/// node's own address there, port chosen by the kernel).
pub fn socket_in(pid: u32, ip: IpAddr) -> io::Result<TcpSocket> {
    std::thread::spawn(move || {
        let ns = File::open(format!("/proc/{pid}/ns/net"))?;
        // SAFETY: `ns` is an open namespace file for the whole call;
        // setns only changes this short-lived thread's network namespace.
        if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let socket = match ip {
            IpAddr::V4(_) => TcpSocket::new_v4()?,
            IpAddr::V6(_) => TcpSocket::new_v6()?,
        };
        socket.bind(SocketAddr::new(ip, 0))?;
        Ok(socket)
    })
    .join()
    .map_err(|_| io::Error::other("the namespace thread panicked"))?
}
