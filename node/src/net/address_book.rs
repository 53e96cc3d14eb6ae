//! Known peer addresses (IP -> listen port), where each came from, and their
//! dial state: the node's defence against address poisoning and eclipse
//! (Bitcoin Core's addrman idea, written our way).
//!
//! Two tables in one map: *new* (never connected to) and *tried* (we dialled
//! it and the handshake succeeded). Each new address is charged to its
//! [`Source`], the peer that told us: one source holds at most
//! `NEW_PER_SOURCE` new addresses, so a 100k-address answer fills only that
//! source's share; when the new table is full the biggest source pays.
//! A new address that fails `NEW_MAX_FAILURES` dials in a row is evicted.
//! Only tried addresses are shared onward (see [`AddressBook::shareable`]).
//! Dials to new gossip-learned addresses are paced by [`DialBudget`].

use super::backoff;
use crate::clock::{Clock, Instant};
use crate::constants::{
    EVICTED_MEMORY, HEALTHY_PERIOD, NEW_CAPACITY, NEW_MAX_FAILURES, NEW_PER_SOURCE,
    TIE_BREAK_RETRY, TRIED_CAPACITY,
};
use crate::rng::NodeRng;
use crate::wire::PeerAddr;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;

/// Who told us about an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    /// The node's config (bootstrap list): trusted, never evicted or capped.
    Config,
    /// Added by the operator or a test through the node's API: trusted.
    Manual,
    /// Learned from this peer: its GetPeers answer, or its own handshake.
    Peer(IpAddr),
}

impl Source {
    /// Trusted sources are exempt from quotas, eviction and the dial budget.
    pub fn trusted(self) -> bool {
        matches!(self, Source::Config | Source::Manual)
    }
}

pub struct AddressBook {
    clock: Clock,
    rng: NodeRng,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    map: BTreeMap<IpAddr, Entry>,
    /// New (never connected) entries per untrusted source: an index of `map`,
    /// updated in the same critical section as every insert/remove/promote.
    new_by_source: BTreeMap<Source, usize>,
    tried: usize,
    /// Failure counts of addresses evicted for failing (at most
    /// `EVICTED_MEMORY`): gossip that re-teaches one resumes its backoff
    /// instead of restarting it at the first step, which made every
    /// re-learned dead address a fresh dial storm.
    evicted: BTreeMap<IpAddr, u32>,
}

struct Entry {
    port: u16,
    source: Source,
    /// We dialled it and the handshake succeeded at least once.
    tried: bool,
    /// A handshaken connection with this IP existed, in either direction
    /// (its dial may have been the peer's): a node that spoke our protocol
    /// from this IP is a peer to back off from, never a stranger to evict.
    /// Evicting it made gossip re-teach it with zero failures, so the dialer
    /// restarted its backoff every `NEW_MAX_FAILURES` dials: a dial storm
    /// (the harness's dial_backoff check caught it in partition-heal).
    connected: bool,
    /// Our own address (a handshake showed our own nonce): never dialled.
    is_self: bool,
    failures: u32,
    next_dial: Option<Instant>,
}

impl Entry {
    /// Not us and not backing off at `now`.
    fn due_at(&self, now: Instant) -> bool {
        !self.is_self && self.next_dial.is_none_or(|t| t <= now)
    }
}

/// What [`AddressBook::due`] hands the dialer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DueAddr {
    pub addr: SocketAddr,
    pub source: Source,
    /// Never connected: a dial spends the new-address budget.
    pub is_new: bool,
}

impl Inner {
    fn remove(&mut self, ip: IpAddr) {
        if let Some(e) = self.map.remove(&ip) {
            if e.tried {
                self.tried -= 1;
            } else if let Some(n) = self.new_by_source.get_mut(&e.source) {
                *n -= 1;
                if *n == 0 {
                    self.new_by_source.remove(&e.source);
                }
            }
        }
    }

    fn new_total(&self) -> usize {
        self.new_by_source.values().sum()
    }

    /// The worst new entry of `source`: most failures, then highest IP.
    fn worst_new_of(&self, source: Source) -> Option<IpAddr> {
        self.map
            .iter()
            .filter(|(_, e)| !e.tried && e.source == source && !e.is_self)
            .max_by_key(|(_, e)| e.failures)
            .map(|(ip, _)| *ip)
    }
}

impl AddressBook {
    #[cfg(test)]
    pub fn new(clock: Clock) -> Self {
        AddressBook::with_rng(clock, NodeRng::from_entropy())
    }

    /// A book whose backoff jitter draws from `rng`.
    pub fn with_rng(clock: Clock, rng: NodeRng) -> Self {
        AddressBook {
            clock,
            rng,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Learn (or update the port of) an address told by `source`. Returns
    /// true if it is new and may be dialled now (an address evicted for
    /// failing comes back with its backoff running: false). A full source share refuses; a full new table
    /// evicts the worst entry of the biggest untrusted source.
    pub fn add(&self, addr: SocketAddr, source: Source) -> bool {
        let mut inner = self.inner.lock().unwrap();
        if let Some(e) = inner.map.get_mut(&addr.ip()) {
            // Only a trusted source or the peer itself may move a port.
            if source.trusted() || source == Source::Peer(addr.ip()) {
                e.port = addr.port();
            }
            return false;
        }
        if !source.trusted() {
            let mine = inner.new_by_source.get(&source).copied().unwrap_or(0);
            if mine >= NEW_PER_SOURCE {
                return false;
            }
            if inner.new_total() >= NEW_CAPACITY {
                let biggest = inner
                    .new_by_source
                    .iter()
                    .max_by_key(|(_, n)| **n)
                    .map(|(s, _)| *s);
                match biggest.and_then(|s| inner.worst_new_of(s)) {
                    Some(victim) => inner.remove(victim),
                    None => return false,
                }
            }
            *inner.new_by_source.entry(source).or_insert(0) += 1;
        }
        // An address evicted for failing resumes where it stopped.
        let failures = inner.evicted.remove(&addr.ip()).unwrap_or(0);
        let next_dial = (failures > 0)
            .then(|| self.clock.now() + self.clock.protocol(backoff::base_delay(failures)));
        inner.map.insert(
            addr.ip(),
            Entry {
                port: addr.port(),
                source,
                tried: false,
                connected: false,
                is_self: false,
                failures,
                next_dial,
            },
        );
        // A resumed address is not news: it waits for its backoff.
        failures == 0
    }

    pub fn mark_self(&self, ip: IpAddr) {
        if let Some(e) = self.inner.lock().unwrap().map.get_mut(&ip) {
            e.is_self = true;
        }
    }

    /// Consecutive failures recorded for `ip` (0 if unknown).
    pub fn failures(&self, ip: IpAddr) -> u32 {
        self.inner
            .lock()
            .unwrap()
            .map
            .get(&ip)
            .map_or(0, |e| e.failures)
    }

    /// Our dial to `ip` completed its handshake: move it to the tried table
    /// (evicting the tried entry with the most failures when full).
    pub fn mark_tried(&self, ip: IpAddr) {
        let mut inner = self.inner.lock().unwrap();
        let Some(e) = inner.map.get(&ip) else {
            return;
        };
        if e.tried {
            return;
        }
        if inner.tried >= TRIED_CAPACITY {
            let victim = inner
                .map
                .iter()
                .filter(|(_, e)| e.tried && !e.source.trusted())
                .max_by_key(|(_, e)| e.failures)
                .map(|(ip, _)| *ip);
            match victim {
                Some(v) => inner.remove(v),
                None => return,
            }
        }
        let source = inner.map[&ip].source;
        if let Some(n) = inner.new_by_source.get_mut(&source) {
            *n -= 1;
            if *n == 0 {
                inner.new_by_source.remove(&source);
            }
        }
        inner.tried += 1;
        inner.map.get_mut(&ip).unwrap().tried = true;
    }

    /// A dial or a short-lived connection failed: back off exponentially.
    /// A never-connected, untrusted address is evicted after
    /// `NEW_MAX_FAILURES` failures. Returns the protocol-time delay chosen.
    pub fn record_failure(&self, ip: IpAddr) -> Duration {
        let mut inner = self.inner.lock().unwrap();
        let Some(e) = inner.map.get_mut(&ip) else {
            return Duration::ZERO;
        };
        e.failures = e.failures.saturating_add(1);
        let evict =
            !e.tried && !e.connected && !e.source.trusted() && e.failures >= NEW_MAX_FAILURES;
        let d = backoff::delay(e.failures, &self.rng);
        e.next_dial = Some(self.clock.now() + self.clock.protocol(d));
        if evict {
            let failures = e.failures;
            inner.remove(ip);
            if inner.evicted.len() >= EVICTED_MEMORY {
                inner.evicted.pop_first();
            }
            inner.evicted.insert(ip, failures);
            return Duration::ZERO;
        }
        d
    }

    /// Lost a simultaneous-open tie-break: not a failure, but look again
    /// only after `TIE_BREAK_RETRY` (the winner's connection is on its way).
    pub fn record_tie_break(&self, ip: IpAddr) {
        if let Some(e) = self.inner.lock().unwrap().map.get_mut(&ip) {
            e.next_dial = Some(self.clock.now() + self.clock.protocol(TIE_BREAK_RETRY));
        }
    }

    /// A connection to `ip` closed after `lived`: a healthy one resets the
    /// backoff, a short one counts as a failure (stops flapping loops).
    pub fn record_disconnect(&self, ip: IpAddr, lived: Duration) {
        if let Some(e) = self.inner.lock().unwrap().map.get_mut(&ip) {
            e.connected = true;
        }
        if lived >= self.clock.protocol(HEALTHY_PERIOD) {
            if let Some(e) = self.inner.lock().unwrap().map.get_mut(&ip) {
                e.failures = 0;
                e.next_dial = None;
            }
        } else {
            self.record_failure(ip);
        }
    }

    /// Addresses due for a dial now (not self, not backing off, not in
    /// `taken`, a sorted list of IPs the caller knows are dialed or
    /// connected), sources interleaved round-robin (trusted and tried first
    /// within a round), so one source's thousand addresses cannot crowd out
    /// another's one.
    pub fn due(&self, now: Instant, taken: &[IpAddr]) -> Vec<DueAddr> {
        let inner = self.inner.lock().unwrap();
        let mut by_source: BTreeMap<(bool, Source), Vec<DueAddr>> = BTreeMap::new();
        // Both in IP order: one walk through `taken` alongside the book.
        let mut taken = taken.iter().peekable();
        for (ip, e) in &inner.map {
            while taken.next_if(|t| *t < ip).is_some() {}
            if taken.peek() == Some(&ip) || !e.due_at(now) {
                continue;
            }
            let is_new = !e.tried && !e.source.trusted();
            by_source
                .entry((is_new, e.source))
                .or_default()
                .push(DueAddr {
                    addr: SocketAddr::new(*ip, e.port),
                    source: e.source,
                    is_new,
                });
        }
        let mut lists: Vec<std::vec::IntoIter<DueAddr>> =
            by_source.into_values().map(|v| v.into_iter()).collect();
        let mut out = Vec::new();
        loop {
            let before = out.len();
            for l in lists.iter_mut() {
                out.extend(l.next());
            }
            if out.len() == before {
                return out;
            }
        }
    }

    /// Whether `ip` may be dialled at `now`: known, not us, not backing off.
    /// The dialer asks again once it holds the IP's registry slot, because
    /// a [`due`](Self::due) list can be stale by then ([`record_failure`](Self::record_failure)
    /// of a dial that ended meanwhile).
    pub fn is_due(&self, ip: IpAddr, now: Instant) -> bool {
        let inner = self.inner.lock().unwrap();
        inner.map.get(&ip).is_some_and(|e| e.due_at(now))
    }

    /// Where `ip`'s address came from, if known.
    pub fn source_of(&self, ip: IpAddr) -> Option<Source> {
        self.inner.lock().unwrap().map.get(&ip).map(|e| e.source)
    }

    /// Addresses worth sharing (GetPeers answers): only tried ones (we
    /// connected to them ourselves), never self, minus `except`; at most `max`.
    pub fn shareable(&self, except: IpAddr, max: usize) -> Vec<PeerAddr> {
        let inner = self.inner.lock().unwrap();
        inner
            .map
            .iter()
            .filter(|(ip, e)| e.tried && !e.is_self && **ip != except)
            .take(max)
            .map(|(ip, e)| PeerAddr {
                ip: *ip,
                port: e.port,
            })
            .collect()
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap().map.len()
    }
}

#[cfg(test)]
#[path = "address_book_tests.rs"]
mod tests;
