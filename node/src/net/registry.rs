//! The peer registry: THE one owner of per-peer state (the seeds'
//! PeerStateManager and PeerConnectionRegistry merged).
//!
//! Keyed by IP only (v4 or v6). One std mutex, never held across an
//! `.await`; every check-and-insert (start a dial, promote a dial, admit an
//! inbound) is a single critical section, so two racing connections to the
//! same IP can never both win.

use super::closer::Closer;
use super::peer::{PeerInfo, PeerStats};
use super::reason::{CloseReason, RejectReason};
use super::views::{Direction, PeerView};
use super::writer::{QueueError, WriterHandle};
use super::ConnectedPeer;
use crate::chain::types::NodeId;
use crate::constants::{MAX_INBOUND_PEERS, MAX_OUTBOUND_PEERS, MAX_PENDING_REQUESTS_PER_PEER};
use crate::wire::Response;
use bytes::Bytes;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// A registered connection: who it is with plus its pending requests.
pub struct PeerEntry {
    pub info: PeerInfo,
    pending: BTreeMap<u64, oneshot::Sender<Response>>,
}

impl PeerEntry {
    pub fn new(info: PeerInfo) -> Self {
        PeerEntry {
            info,
            pending: BTreeMap::new(),
        }
    }
}

pub enum Slot {
    /// We are dialing this IP. `handshaking` turns true (atomically, before
    /// our Hello is sent) once TCP connected; until then the dial has not
    /// reached the peer and yields to any inbound from it.
    Dialing {
        conn_id: u64,
        handshaking: bool,
    },
    Connected(PeerEntry),
}

/// Outcome of an inbound handshake's check-and-insert.
#[derive(Debug)]
pub enum Admission {
    Accepted,
    /// Accepted and it replaced our own pending dial: `crossed` when our
    /// dial had reached the handshake too and the tie-break chose the peer's
    /// (else our dial was still connecting and yielded).
    AcceptedOverOurDial {
        crossed: bool,
    },
    Rejected(RejectReason),
}

/// What happened with one IP since start. It outlives the connections, so
/// a peer that cycles shows it in `/peers` once it is back: `connects` and
/// `ping_timeouts` only grow.
#[derive(Default, Clone, Copy)]
struct History {
    connects: u64,
    ping_timeouts: u64,
}

#[derive(Default)]
struct Inner {
    slots: BTreeMap<IpAddr, Slot>,
    history: BTreeMap<IpAddr, History>,
    /// Bumped whenever a connection is established or removed or a ping
    /// timeout is counted ([`Registry::changes`]).
    changes: u64,
}

#[derive(Default)]
pub struct Registry {
    inner: Mutex<Inner>,
    next_conn_id: AtomicU64,
}

fn counts(inner: &Inner) -> (usize, usize) {
    let mut inbound = 0;
    let mut outbound = 0;
    for s in inner.slots.values() {
        match s {
            Slot::Dialing { .. } => outbound += 1,
            Slot::Connected(p) if p.info.direction == Direction::Outbound => outbound += 1,
            Slot::Connected(_) => inbound += 1,
        }
    }
    (inbound, outbound)
}

impl Registry {
    pub fn next_conn_id(&self) -> u64 {
        self.next_conn_id.fetch_add(1, Relaxed) + 1
    }

    /// Reserve `ip` for a dial: only if nothing is connected or being dialed
    /// there, and the outbound limit allows. Returns the dial's conn id.
    pub fn try_begin_dial(&self, ip: IpAddr) -> Option<u64> {
        let mut inner = self.inner.lock().unwrap();
        if inner.slots.contains_key(&ip) || counts(&inner).1 >= MAX_OUTBOUND_PEERS {
            return None;
        }
        let conn_id = self.next_conn_id();
        inner.slots.insert(
            ip,
            Slot::Dialing {
                conn_id,
                handshaking: false,
            },
        );
        Some(conn_id)
    }

    /// Our dial's TCP connect succeeded: mark it handshaking before the
    /// Hello goes out. False if an inbound from the peer took the slot while
    /// we were connecting (then the dial must close without sending).
    pub fn begin_dial_handshake(&self, ip: IpAddr, conn_id: u64) -> bool {
        let mut inner = self.inner.lock().unwrap();
        match inner.slots.get_mut(&ip) {
            Some(Slot::Dialing {
                conn_id: c,
                handshaking,
            }) if *c == conn_id => {
                *handshaking = true;
                true
            }
            _ => false,
        }
    }

    /// Our dial failed or was superseded: free the slot if it is still ours.
    pub fn end_dial(&self, ip: IpAddr, conn_id: u64) {
        let mut inner = self.inner.lock().unwrap();
        if matches!(inner.slots.get(&ip), Some(Slot::Dialing { conn_id: c, .. }) if *c == conn_id) {
            inner.slots.remove(&ip);
        }
    }

    /// The dial got its ack: `Dialing{conn}` -> `Connected`, atomically.
    /// Returns the IP's connect count, or `None` (entry dropped) if the slot
    /// no longer holds our dial (an inbound from the same peer won meanwhile).
    pub fn promote_dial(&self, ip: IpAddr, entry: PeerEntry) -> Option<u64> {
        let mut inner = self.inner.lock().unwrap();
        match inner.slots.get(&ip) {
            Some(Slot::Dialing { conn_id, .. }) if *conn_id == entry.info.conn_id => {
                inner.slots.insert(ip, Slot::Connected(entry));
                Some(bump(&mut inner, ip))
            }
            _ => None,
        }
    }

    /// Inbound handshake validated: admit it unless `ip` is connected, or we
    /// are dialing it and the tie-break keeps our outbound. Tie-break (both
    /// sides compute the same): keep the connection dialed by the LOWER
    /// node id. It applies only when both dials reached the handshake: a dial
    /// of ours still in TCP connect has sent nothing, so the peer cannot be
    /// counting on it; the inbound (proof the peer is up) wins. Without this
    /// a dial stuck connecting to a restarting peer refused that peer's own
    /// dials for the whole connect timeout.
    ///
    /// `ack` (our HandshakeAck) is queued on the entry's writer before the
    /// entry becomes visible: a broadcast that found the new peer a moment
    /// earlier would otherwise reach the dialer first and fail its handshake
    /// ("expected handshake ack, got consensus"), a needless reconnect that
    /// `harness bench` caught at 30 nodes.
    pub fn admit_inbound(
        &self,
        ip: IpAddr,
        ours: &NodeId,
        entry: PeerEntry,
        ack: Bytes,
    ) -> (Admission, u64) {
        let mut inner = self.inner.lock().unwrap();
        let admission = match inner.slots.get(&ip) {
            Some(Slot::Connected(_)) => {
                return (Admission::Rejected(RejectReason::DuplicateConnected), 0)
            }
            Some(Slot::Dialing {
                handshaking: false, ..
            }) => Admission::AcceptedOverOurDial { crossed: false },
            Some(Slot::Dialing { .. }) if entry.info.node_id.0 < ours.0 => {
                Admission::AcceptedOverOurDial { crossed: true }
            }
            Some(Slot::Dialing { .. }) => {
                return (Admission::Rejected(RejectReason::DuplicateSimultaneous), 0)
            }
            None if counts(&inner).0 >= MAX_INBOUND_PEERS => {
                return (Admission::Rejected(RejectReason::TooManyInbound), 0)
            }
            None => Admission::Accepted,
        };
        let _ = entry.info.writer.try_send(ack);
        inner.slots.insert(ip, Slot::Connected(entry));
        let n = bump(&mut inner, ip);
        (admission, n)
    }

    /// IPs of our outbound connections, live or being dialed.
    pub fn outbound_ips(&self) -> Vec<IpAddr> {
        let inner = self.inner.lock().unwrap();
        inner
            .slots
            .iter()
            .filter(|(_, s)| match s {
                Slot::Dialing { .. } => true,
                Slot::Connected(p) => p.info.direction == Direction::Outbound,
            })
            .map(|(ip, _)| *ip)
            .collect()
    }

    /// IPs holding a slot (dialed, in a handshake or connected), sorted:
    /// none of them is free for a dial.
    pub fn taken(&self) -> Vec<IpAddr> {
        self.inner.lock().unwrap().slots.keys().copied().collect()
    }

    /// Whether `ip` is free for a dial (for the dialer's pre-filter).
    pub fn is_free(&self, ip: IpAddr) -> bool {
        !self.inner.lock().unwrap().slots.contains_key(&ip)
    }

    /// Remove the connection `conn_id` of `ip` (only if it is still the one
    /// registered). Dropping the entry fails its pending requests.
    pub fn remove(&self, ip: IpAddr, conn_id: u64) -> Option<PeerEntry> {
        let mut inner = self.inner.lock().unwrap();
        match inner.slots.get(&ip) {
            Some(Slot::Connected(p)) if p.info.conn_id == conn_id => {
                inner.changes += 1;
                match inner.slots.remove(&ip) {
                    Some(Slot::Connected(p)) => Some(p),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// The live counters of the connection to `ip`, if connected.
    pub fn stats(&self, ip: IpAddr) -> Option<Arc<PeerStats>> {
        self.with_peer(ip, |p| p.info.stats.clone())
    }

    fn with_peer<T>(&self, ip: IpAddr, f: impl FnOnce(&mut PeerEntry) -> T) -> Option<T> {
        let mut inner = self.inner.lock().unwrap();
        match inner.slots.get_mut(&ip) {
            Some(Slot::Connected(p)) => Some(f(p)),
            _ => None,
        }
    }

    /// Queue an answer to a request the peer's actor admitted: one fewer
    /// in flight, its bytes charged to the peer's request budget.
    pub fn respond(
        &self,
        ip: IpAddr,
        frame: Bytes,
        now: crate::clock::Instant,
    ) -> Option<Result<(), QueueError>> {
        let (writer, budget) =
            self.with_peer(ip, |p| (p.info.writer.clone(), p.info.budget.clone()))?;
        budget.answered(now, frame.len());
        Some(writer.try_send(frame))
    }

    pub fn send(&self, ip: IpAddr, frame: Bytes) -> Option<Result<(), QueueError>> {
        let writer = self.with_peer(ip, |p| p.info.writer.clone())?;
        Some(writer.try_send(frame))
    }

    /// Writers of every connected peer except `except`.
    pub fn writers(&self, except: Option<IpAddr>) -> Vec<WriterHandle> {
        let inner = self.inner.lock().unwrap();
        inner
            .slots
            .iter()
            .filter_map(|(ip, s)| match s {
                Slot::Connected(p) if Some(*ip) != except => Some(p.info.writer.clone()),
                _ => None,
            })
            .collect()
    }

    /// Register a pending request; `None` if not connected, `Some(Err)` if
    /// the per-peer cap is reached.
    pub fn add_pending(
        &self,
        ip: IpAddr,
        id: u64,
        tx: oneshot::Sender<Response>,
    ) -> Option<Result<(u64, WriterHandle), ()>> {
        self.with_peer(ip, |p| {
            if p.pending.len() >= MAX_PENDING_REQUESTS_PER_PEER {
                return Err(());
            }
            p.pending.insert(id, tx);
            Ok((p.info.conn_id, p.info.writer.clone()))
        })
    }

    pub fn cancel_pending(&self, ip: IpAddr, id: u64) {
        self.with_peer(ip, |p| p.pending.remove(&id));
    }

    /// Route a response to its caller by id. False if nobody waits for it.
    pub fn complete(&self, ip: IpAddr, conn_id: u64, id: u64, body: Response) -> bool {
        let tx = self
            .with_peer(ip, |p| {
                if p.info.conn_id == conn_id {
                    p.pending.remove(&id)
                } else {
                    None
                }
            })
            .flatten();
        match tx {
            Some(tx) => tx.send(body).is_ok(),
            None => false,
        }
    }

    /// A connection to `ip` is closing because its pongs stopped: kept in
    /// the IP's history, so `/peers` shows it after the reconnect.
    pub fn note_ping_timeout(&self, ip: IpAddr) {
        let mut inner = self.inner.lock().unwrap();
        inner.history.entry(ip).or_default().ping_timeouts += 1;
        inner.changes += 1;
    }

    pub fn close(&self, ip: IpAddr, reason: CloseReason) {
        if let Some(c) = self.with_peer(ip, |p| p.info.closer.clone()) {
            c.close(reason);
        }
    }

    pub fn close_all(&self, reason: CloseReason) {
        let closers: Vec<Closer> = {
            let inner = self.inner.lock().unwrap();
            inner
                .slots
                .values()
                .filter_map(|s| match s {
                    Slot::Connected(p) => Some(p.info.closer.clone()),
                    _ => None,
                })
                .collect()
        };
        for c in closers {
            c.close(reason.clone());
        }
    }

    /// Every established connection, by IP.
    pub fn connected(&self) -> Vec<ConnectedPeer> {
        let inner = self.inner.lock().unwrap();
        let mut v = Vec::with_capacity(inner.slots.len());
        v.extend(inner.slots.values().filter_map(|s| match s {
            Slot::Connected(p) => Some(ConnectedPeer::from(&p.info)),
            _ => None,
        }));
        v
    }

    pub fn connected_count(&self) -> usize {
        let inner = self.inner.lock().unwrap();
        inner
            .slots
            .values()
            .filter(|s| matches!(s, Slot::Connected(_)))
            .count()
    }

    /// A counter that moves whenever the rows of [`peer_views`](Self::peer_views)
    /// change other than in their live counters (last seen, RTT, pings):
    /// a connection established or removed, a ping timeout counted. A
    /// poller that saw the same value last time saw the same peers.
    pub fn changes(&self) -> u64 {
        self.inner.lock().unwrap().changes
    }

    pub fn peer_views(&self) -> Vec<PeerView> {
        let inner = self.inner.lock().unwrap();
        let mut v: Vec<PeerView> = inner
            .slots
            .iter()
            .filter_map(|(ip, s)| match s {
                Slot::Connected(PeerEntry { info: p, .. }) => {
                    let rtt = p.stats.rtt_us.load(Relaxed);
                    let h = inner.history.get(ip).copied().unwrap_or_default();
                    Some(PeerView {
                        ip: *ip,
                        listen_port: p.listen_port,
                        direction: p.direction,
                        connection_id: p.conn_id,
                        connected_at_ms: p.stats.connected_at_ms.load(Relaxed),
                        last_seen_ms: p.stats.last_seen_ms.load(Relaxed),
                        rtt_ms: (rtt > 0).then(|| rtt as f64 / 1000.0),
                        pings_sent: p.stats.pings_sent.load(Relaxed),
                        pongs_received: p.stats.pongs_received.load(Relaxed),
                        ping_timeouts: h.ping_timeouts,
                        connects: h.connects,
                    })
                }
                _ => None,
            })
            .collect();
        v.sort_by_key(|p| p.ip);
        v
    }
}

fn bump(inner: &mut Inner, ip: IpAddr) -> u64 {
    inner.changes += 1;
    let h = inner.history.entry(ip).or_default();
    h.connects += 1;
    h.connects
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use crate::net::metrics::NetMetrics;
    use crate::net::peer::PeerStats;
    use crate::net::writer;
    use std::sync::Arc;

    fn info(conn_id: u64, node_id: u8, writer: WriterHandle, closer: Closer) -> PeerInfo {
        PeerInfo {
            ip: IP,
            conn_id,
            direction: Direction::Inbound,
            node_id: NodeId([node_id; 32]),
            listen_port: 24100,
            handshake_height: 0,
            since: Clock::new(1.0).now(),
            writer,
            closer,
            stats: Arc::new(PeerStats::default()),
            budget: Arc::new(crate::net::request_budget::RequestBudget::new(
                Clock::new(1.0).now(),
            )),
        }
    }

    fn entry(reg: &Registry, conn_id: u64, node_id: u8) -> PeerEntry {
        let closer = Closer::default();
        let w = writer::spawn(
            tokio::io::sink(),
            Clock::new(1.0),
            closer.clone(),
            Arc::new(NetMetrics::default()),
        );
        let _ = reg;
        PeerEntry::new(info(conn_id, node_id, w, closer))
    }

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 12));

    fn ack() -> Bytes {
        Bytes::from_static(b"ack\n")
    }

    /// The ack is the first frame on an admitted inbound connection even
    /// while another task broadcasts to every peer it can see.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_ack_goes_out_before_any_broadcast_to_a_new_peer() {
        use tokio::io::AsyncBufReadExt;
        for _ in 0..200 {
            let reg = Arc::new(Registry::default());
            let clock = Clock::new(1.0);
            let closer = Closer::default();
            let (near, far) = tokio::io::duplex(1 << 16);
            let w = writer::spawn(near, clock.clone(), closer.clone(), Default::default());
            let e = PeerEntry::new(info(1, 9, w, closer));
            let r = reg.clone();
            let broadcaster = std::thread::spawn(move || loop {
                if let Some(w) = r.writers(None).first() {
                    let _ = w.try_send(Bytes::from_static(b"consensus\n"));
                    return;
                }
                std::hint::spin_loop();
            });
            let (adm, _) = reg.admit_inbound(IP, &NodeId([1; 32]), e, ack());
            assert!(matches!(adm, Admission::Accepted));
            broadcaster.join().unwrap();
            let mut lines = tokio::io::BufReader::new(far).lines();
            assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("ack"));
        }
    }

    #[tokio::test]
    async fn a_dial_still_connecting_yields_to_the_peers_inbound() {
        let reg = Registry::default();
        let ours = NodeId([1; 32]); // lower id: would win a real tie-break
        let dial = reg.try_begin_dial(IP).unwrap();
        let (adm, n) = reg.admit_inbound(IP, &ours, entry(&reg, 99, 9), ack());
        assert!(matches!(
            (adm, n),
            (Admission::AcceptedOverOurDial { crossed: false }, 1)
        ));
        // Our dial then connects: it must not send its Hello.
        assert!(!reg.begin_dial_handshake(IP, dial));
    }

    #[tokio::test]
    async fn handshaking_dials_are_resolved_by_the_lower_node_id_on_both_sides() {
        // Side A (id 1) and side B (id 9) both reached the handshake.
        let (a, b) = (Registry::default(), Registry::default());
        let (ida, idb) = (NodeId([1; 32]), NodeId([9; 32]));
        let da = a.try_begin_dial(IP).unwrap();
        let db = b.try_begin_dial(IP).unwrap();
        assert!(a.begin_dial_handshake(IP, da) && b.begin_dial_handshake(IP, db));
        // A receives B's hello: B's dial loses (A has the lower id).
        let (adm_a, _) = a.admit_inbound(IP, &ida, entry(&a, 50, 9), ack());
        assert!(matches!(
            adm_a,
            Admission::Rejected(RejectReason::DuplicateSimultaneous)
        ));
        // B receives A's hello: A's dial wins there too.
        let (adm_b, _) = b.admit_inbound(IP, &idb, entry(&b, 51, 1), ack());
        assert!(matches!(
            adm_b,
            Admission::AcceptedOverOurDial { crossed: true }
        ));
        // A's dial is promoted when B's ack arrives; B's own dial is superseded.
        assert!(a.promote_dial(IP, entry(&a, da, 9)).is_some());
        assert!(b.promote_dial(IP, entry(&b, db, 1)).is_none());
    }

    #[tokio::test]
    async fn an_established_connection_is_never_replaced() {
        let reg = Registry::default();
        let (adm, _) = reg.admit_inbound(IP, &NodeId([9; 32]), entry(&reg, 1, 1), ack());
        assert!(matches!(adm, Admission::Accepted));
        let (adm, _) = reg.admit_inbound(IP, &NodeId([9; 32]), entry(&reg, 2, 1), ack());
        assert!(matches!(
            adm,
            Admission::Rejected(RejectReason::DuplicateConnected)
        ));
        assert!(reg.try_begin_dial(IP).is_none());
        assert_eq!(reg.peer_views()[0].connection_id, 1);
    }

    fn addr(n: u8) -> IpAddr {
        IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, n))
    }

    /// Dial `ip` and promote the dial to an outbound connection.
    fn connect_outbound(reg: &Registry, ip: IpAddr) {
        let conn_id = reg.try_begin_dial(ip).unwrap();
        let mut e = entry(reg, conn_id, 9);
        e.info.direction = Direction::Outbound;
        assert!(reg.promote_dial(ip, e).is_some());
    }

    /// Admit an inbound connection from `ip`; returns its closer.
    fn connect_inbound(reg: &Registry, ip: IpAddr, conn_id: u64) -> Closer {
        let e = entry(reg, conn_id, 9);
        let closer = e.info.closer.clone();
        let (adm, _) = reg.admit_inbound(ip, &NodeId([1; 32]), e, ack());
        assert!(matches!(adm, Admission::Accepted));
        closer
    }

    #[test]
    fn conn_ids_are_unique() {
        let reg = Registry::default();
        assert_ne!(reg.next_conn_id(), reg.next_conn_id());
    }

    #[tokio::test]
    async fn dials_count_toward_the_outbound_limit() {
        let reg = Registry::default();
        for n in 0..MAX_OUTBOUND_PEERS as u8 {
            assert!(reg.try_begin_dial(addr(n)).is_some());
        }
        assert!(reg.try_begin_dial(addr(200)).is_none());
    }

    #[tokio::test]
    async fn outbound_connections_count_toward_the_outbound_limit() {
        let reg = Registry::default();
        for n in 0..MAX_OUTBOUND_PEERS as u8 {
            connect_outbound(&reg, addr(n));
        }
        assert!(reg.try_begin_dial(addr(200)).is_none());
    }

    #[tokio::test]
    async fn inbound_connections_do_not_count_toward_the_outbound_limit() {
        let reg = Registry::default();
        connect_inbound(&reg, addr(200), 1000);
        for n in 0..MAX_OUTBOUND_PEERS as u8 {
            assert!(reg.try_begin_dial(addr(n)).is_some());
        }
    }

    #[tokio::test]
    async fn the_inbound_limit_rejects_one_more_inbound() {
        let reg = Registry::default();
        for n in 0..MAX_INBOUND_PEERS as u8 {
            connect_inbound(&reg, addr(n), 1000 + n as u64);
        }
        let (adm, n) = reg.admit_inbound(addr(200), &NodeId([1; 32]), entry(&reg, 1, 9), ack());
        assert!(matches!(
            (adm, n),
            (Admission::Rejected(RejectReason::TooManyInbound), 0)
        ));
    }

    #[tokio::test]
    async fn a_stale_dial_cannot_start_its_handshake() {
        let reg = Registry::default();
        let old = reg.try_begin_dial(IP).unwrap();
        reg.end_dial(IP, old);
        let new = reg.try_begin_dial(IP).unwrap();
        assert!(!reg.begin_dial_handshake(IP, old));
        assert!(reg.begin_dial_handshake(IP, new));
    }

    #[test]
    fn end_dial_frees_the_slot() {
        let reg = Registry::default();
        let dial = reg.try_begin_dial(IP).unwrap();
        reg.end_dial(IP, dial);
        assert!(reg.is_free(IP));
    }

    #[tokio::test]
    async fn a_stale_dial_is_not_promoted() {
        let reg = Registry::default();
        let old = reg.try_begin_dial(IP).unwrap();
        reg.end_dial(IP, old);
        let new = reg.try_begin_dial(IP).unwrap();
        assert!(reg.promote_dial(IP, entry(&reg, old, 9)).is_none());
        assert_eq!(reg.promote_dial(IP, entry(&reg, new, 9)), Some(1));
    }

    #[tokio::test]
    async fn an_ip_is_not_free_while_dialed_or_connected() {
        let reg = Registry::default();
        assert!(reg.is_free(addr(1)));
        reg.try_begin_dial(addr(1)).unwrap();
        connect_inbound(&reg, addr(2), 1);
        assert!(!reg.is_free(addr(1)));
        assert!(!reg.is_free(addr(2)));
    }

    #[tokio::test]
    async fn outbound_ips_are_dials_and_outbound_connections() {
        let reg = Registry::default();
        reg.try_begin_dial(addr(1)).unwrap();
        connect_outbound(&reg, addr(2));
        connect_inbound(&reg, addr(3), 100);
        assert_eq!(reg.outbound_ips(), vec![addr(1), addr(2)]);
    }

    #[tokio::test]
    async fn remove_ignores_a_later_connection_to_the_same_ip() {
        let reg = Registry::default();
        connect_inbound(&reg, IP, 2);
        assert!(reg.remove(IP, 1).is_none());
        assert_eq!(reg.connected_count(), 1);
    }

    #[tokio::test]
    async fn remove_hands_back_the_removed_entry() {
        let reg = Registry::default();
        connect_inbound(&reg, IP, 7);
        assert_eq!(reg.remove(IP, 7).map(|e| e.info.conn_id), Some(7));
        assert!(reg.is_free(IP));
    }

    #[tokio::test]
    async fn send_queues_only_to_a_connected_peer() {
        let reg = Registry::default();
        reg.try_begin_dial(addr(1)).unwrap();
        connect_inbound(&reg, addr(2), 100);
        assert_eq!(reg.send(addr(1), ack()), None);
        assert_eq!(reg.send(addr(2), ack()), Some(Ok(())));
    }

    #[tokio::test]
    async fn writers_leave_out_the_excepted_peer() {
        let reg = Registry::default();
        connect_inbound(&reg, addr(1), 1);
        connect_inbound(&reg, addr(2), 2);
        assert_eq!(reg.writers(None).len(), 2);
        assert_eq!(reg.writers(Some(addr(1))).len(), 1);
    }

    #[tokio::test]
    async fn a_cancelled_request_stops_waiting() {
        let reg = Registry::default();
        connect_inbound(&reg, IP, 1);
        let (tx, mut rx) = oneshot::channel();
        assert!(matches!(reg.add_pending(IP, 5, tx), Some(Ok((1, _)))));
        reg.cancel_pending(IP, 5);
        assert!(matches!(
            rx.try_recv(),
            Err(oneshot::error::TryRecvError::Closed)
        ));
    }

    #[tokio::test]
    async fn close_closes_only_that_peer() {
        let reg = Registry::default();
        let one = connect_inbound(&reg, addr(1), 1);
        let two = connect_inbound(&reg, addr(2), 2);
        reg.close(addr(1), CloseReason::PingTimeout);
        assert!(matches!(one.reason(), Some(CloseReason::PingTimeout)));
        assert!(two.reason().is_none());
    }

    #[tokio::test]
    async fn close_all_closes_every_connected_peer() {
        let reg = Registry::default();
        let closers = [
            connect_inbound(&reg, addr(1), 1),
            connect_inbound(&reg, addr(2), 2),
        ];
        reg.close_all(CloseReason::Shutdown);
        for c in closers {
            assert!(matches!(c.reason(), Some(CloseReason::Shutdown)));
        }
    }

    #[tokio::test]
    async fn connected_lists_established_peers_but_not_dials() {
        let reg = Registry::default();
        reg.try_begin_dial(addr(1)).unwrap();
        connect_inbound(&reg, addr(2), 100);
        let peers = reg.connected();
        assert_eq!(peers.len(), 1);
        assert_eq!(peers[0].node_id, NodeId([9; 32]));
        assert_eq!(peers[0].direction, Direction::Inbound);
    }

    #[tokio::test]
    async fn peer_views_show_no_rtt_before_the_first_pong() {
        let reg = Registry::default();
        connect_inbound(&reg, IP, 1);
        assert_eq!(reg.peer_views()[0].rtt_ms, None);
    }

    #[tokio::test]
    async fn peer_views_show_the_rtt_in_milliseconds() {
        let reg = Registry::default();
        let e = entry(&reg, 1, 9);
        e.info.stats.rtt_us.store(1500, Relaxed);
        reg.admit_inbound(IP, &NodeId([1; 32]), e, ack());
        assert_eq!(reg.peer_views()[0].rtt_ms, Some(1.5));
    }
}
