//! Known peer addresses (IP -> listen port) and their dial state.
//!
//! The dialer asks it who is due; discovery and handshakes feed it. Keyed by
//! IP like the registry. Bounded by `MAX_ADDRESS_BOOK`.

use super::backoff;
use crate::clock::{Clock, Instant};
use crate::constants::{HEALTHY_PERIOD, MAX_ADDRESS_BOOK, TIE_BREAK_RETRY};
use crate::env::NodeRng;
use crate::wire::PeerAddr;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;

pub struct AddressBook {
    clock: Clock,
    rng: NodeRng,
    inner: Mutex<BTreeMap<IpAddr, Entry>>,
}

struct Entry {
    port: u16,
    /// Our own address (a handshake showed our own nonce): never dialled.
    is_self: bool,
    failures: u32,
    next_dial: Option<Instant>,
}

impl AddressBook {
    pub fn new(clock: Clock) -> Self {
        AddressBook::with_rng(clock, NodeRng::from_entropy())
    }

    /// A book whose backoff jitter draws from `rng`.
    pub fn with_rng(clock: Clock, rng: NodeRng) -> Self {
        AddressBook {
            clock,
            rng,
            inner: Mutex::new(BTreeMap::new()),
        }
    }

    /// Learn (or update the port of) an address. Returns true if it is new.
    pub fn add(&self, addr: SocketAddr) -> bool {
        let mut map = self.inner.lock().unwrap();
        if let Some(e) = map.get_mut(&addr.ip()) {
            e.port = addr.port();
            return false;
        }
        if map.len() >= MAX_ADDRESS_BOOK {
            return false;
        }
        map.insert(
            addr.ip(),
            Entry {
                port: addr.port(),
                is_self: false,
                failures: 0,
                next_dial: None,
            },
        );
        true
    }

    pub fn mark_self(&self, ip: IpAddr) {
        if let Some(e) = self.inner.lock().unwrap().get_mut(&ip) {
            e.is_self = true;
        }
    }

    /// A dial or a short-lived connection failed: back off exponentially.
    /// Returns the protocol-time delay chosen.
    pub fn record_failure(&self, ip: IpAddr) -> Duration {
        let mut map = self.inner.lock().unwrap();
        let Some(e) = map.get_mut(&ip) else {
            return Duration::ZERO;
        };
        e.failures = e.failures.saturating_add(1);
        let d = backoff::delay(e.failures, &self.rng);
        e.next_dial = Some(self.clock.now() + self.clock.protocol(d));
        d
    }

    /// Lost a simultaneous-open tie-break: not a failure, but look again
    /// only after `TIE_BREAK_RETRY` (the winner's connection is on its way).
    pub fn record_tie_break(&self, ip: IpAddr) {
        if let Some(e) = self.inner.lock().unwrap().get_mut(&ip) {
            e.next_dial = Some(self.clock.now() + self.clock.protocol(TIE_BREAK_RETRY));
        }
    }

    /// A connection to `ip` closed after `lived`: a healthy one resets the
    /// backoff, a short one counts as a failure (stops flapping loops).
    pub fn record_disconnect(&self, ip: IpAddr, lived: Duration) {
        if lived >= self.clock.protocol(HEALTHY_PERIOD) {
            if let Some(e) = self.inner.lock().unwrap().get_mut(&ip) {
                e.failures = 0;
                e.next_dial = None;
            }
        } else {
            self.record_failure(ip);
        }
    }

    /// Addresses due for a dial now (not self, not backing off).
    pub fn due(&self, now: Instant) -> Vec<SocketAddr> {
        let map = self.inner.lock().unwrap();
        map.iter()
            .filter(|(_, e)| !e.is_self && e.next_dial.is_none_or(|t| t <= now))
            .map(|(ip, e)| SocketAddr::new(*ip, e.port))
            .collect()
    }

    /// Addresses worth sharing (GetPeers answers), minus `except`.
    pub fn shareable(&self, except: IpAddr) -> Vec<PeerAddr> {
        let map = self.inner.lock().unwrap();
        map.iter()
            .filter(|(ip, e)| !e.is_self && **ip != except)
            .map(|(ip, e)| PeerAddr {
                ip: *ip,
                port: e.port,
            })
            .collect()
    }

    pub fn len(&self) -> usize {
        self.inner.lock().unwrap().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_and_backing_off_addresses_are_not_due() {
        let book = AddressBook::new(Clock::new(1.0));
        let a: SocketAddr = "10.0.0.1:24100".parse().unwrap();
        let b: SocketAddr = "[::1]:24100".parse().unwrap();
        assert!(book.add(a));
        assert!(book.add(b));
        assert!(!book.add(a));
        let now = Instant::now();
        assert_eq!(book.due(now).len(), 2);
        book.mark_self(b.ip());
        book.record_failure(a.ip());
        assert!(book.due(now).is_empty());
        assert_eq!(book.due(now + Duration::from_secs(2)), vec![a]);
        assert_eq!(book.shareable(a.ip()), vec![]);
    }
}
