//! How a probe reaches the network as a node: the one part of a protocol
//! fault that differs between providers. Everything said on the connection
//! ([`super::talk`]) and everything decided about the fault ([`super::run_on`])
//! is shared.

use super::{Probed, Side, Talk};
use futures::future::LocalBoxFuture;

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

    /// A fresh Hello nonce (seeded where the run must replay).
    fn nonce(&self) -> u64;

    /// The clock a probe's send time is read from (see [`Talk::clock`]).
    fn clock(&self) -> fn() -> std::time::Duration;
}
