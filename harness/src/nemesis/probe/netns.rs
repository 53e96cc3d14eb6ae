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
use std::fs::File;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use tokio::net::TcpSocket;

/// Probes on a docker cluster: sockets in the containers' namespaces.
pub struct DockerNet<'c, C>(pub &'c C);

impl<C: Cluster> ProbeNet for DockerNet<'_, C> {
    type Ready = TcpSocket;

    fn ready<'a>(&'a self, from: &'a Side<'_>) -> LocalBoxFuture<'a, Result<TcpSocket, String>> {
        Box::pin(async move {
            let pid = self
                .0
                .pid(from.name)
                .await
                .map_err(|e| format!("no pid for {}: {e:#}", from.name))?
                .ok_or_else(|| format!("{} is not running", from.name))?;
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
                    let _ = stream.set_nodelay(true);
                    let (r, w) = stream.into_split();
                    talk(r, w, from.id, how).await
                }
                Err(e) => Probed::failed(format!("connect {} -> {}: {e}", from.name, to.name)),
            }
        })
    }

    fn nonce(&self) -> u64 {
        rand::random()
    }

    fn clock(&self) -> fn() -> std::time::Duration {
        wall
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
