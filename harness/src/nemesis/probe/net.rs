//! How a probe reaches the network as a node: the one part of a protocol
//! fault that differs between providers. Everything said on the connection
//! ([`super::talk`]) and everything decided about the fault ([`super::run_on`])
//! is shared.

use super::{Probed, Side, Talk};
use futures::future::LocalBoxFuture;
use std::collections::BTreeSet;

/// Opens connections as a node of the run and talks on them.
pub trait ProbeNet {
    /// What must exist before a dial as `from` (docker: a socket in its
    /// namespace); made for both sides of a crossed dial before either
    /// connects.
    type Ready;

    /// Prepare a dial as `from`; an error when `from` cannot dial (not
    /// running).
    fn ready<'a>(&'a self, from: &'a Side<'_>) -> LocalBoxFuture<'a, Result<Self::Ready, String>>;

    /// Connect as `from` to `to` and [`super::talk`] there.
    fn probe<'a>(
        &'a self,
        ready: Self::Ready,
        from: &'a Side<'_>,
        to: &'a Side<'_>,
        talk: Talk,
    ) -> LocalBoxFuture<'a, Probed>;

    /// The local ports of `from`'s established TCP connections to `to`'s
    /// P2P port, from `from`'s kernel view (docker: `/proc/PID/net/tcp` of
    /// its namespace; sim: the network's connection table): the dials
    /// `from` has up to `to`, never the node's own account of them.
    fn dials<'a>(
        &'a self,
        from: &'a Side<'_>,
        to: &'a Side<'_>,
    ) -> LocalBoxFuture<'a, Result<BTreeSet<u16>, String>>;

    /// A fresh Hello nonce (seeded where the run must replay).
    fn nonce(&self) -> u64;

    /// The clock a probe's send time is read from (see [`Talk::clock`]).
    fn clock(&self) -> fn() -> std::time::Duration;
}
