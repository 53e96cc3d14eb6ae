//! Every tunable of the protocol in one place, with the reason for its value.
//!
//! Protocol durations are *protocol time*: at run time they are divided by
//! `--time-scale` through [`crate::clock::Clock::protocol`]. Deadlines that
//! guard against the machine rather than the protocol (TCP connect, handshake,
//! socket writes) also carry a wall-time floor so a scaled run on a busy 2-core
//! host fails only from real protocol faults, never from scheduling noise.

use std::time::Duration;

/// First field of every handshake: "TIME" in ASCII. Anything else is not us.
pub const MAGIC: u32 = 0x5449_4d45;
/// Bumped on any incompatible wire change; a mismatch closes the connection.
pub const PROTOCOL_VERSION: u32 = 2;

/// Default P2P and API ports (DESIGN.md contract).
pub const DEFAULT_P2P_PORT: u16 = 24100;
pub const DEFAULT_API_PORT: u16 = 24101;

/// Longest line accepted before the handshake completes. A handshake is a few
/// hundred bytes; anything bigger is hostile and is refused before buffering.
pub const MAX_FRAME_PRE_HANDSHAKE: usize = 4 * 1024;
/// Longest line accepted after the handshake: a batch of blocks fits easily.
pub const MAX_FRAME: usize = 4 * 1024 * 1024;

/// How long a peer has to complete the handshake (protocol time) ...
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// ... but never less than this in wall time (machine guard).
pub const HANDSHAKE_TIMEOUT_FLOOR: Duration = Duration::from_secs(3);
/// TCP connect deadline (protocol time) and its wall floor.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
pub const CONNECT_TIMEOUT_FLOOR: Duration = Duration::from_secs(2);
/// A single socket write must finish within this (protocol) time, floor in
/// wall time; a peer that does not read is disconnected instead of stalling us.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(20);
pub const WRITE_TIMEOUT_FLOOR: Duration = Duration::from_secs(5);

/// Ping cadence. The seeds' nodes cycled every ~90 s = 3 missed 30 s pings.
pub const PING_INTERVAL: Duration = Duration::from_secs(30);
/// Consecutive unanswered pings before closing with reason `ping timeout`.
pub const MAX_MISSED_PONGS: u32 = 3;

/// Default deadline for `request()`; a timeout fails the caller only.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Outstanding requests we allow ourselves towards one peer.
pub const MAX_PENDING_REQUESTS_PER_PEER: usize = 64;

/// Frames queued for one peer's writer before `broadcast` drops for that peer
/// (it never blocks on a slow peer) and `send_to_peer` reports it full.
pub const WRITER_QUEUE_FRAMES: usize = 1024;
/// Bytes queued for one peer's writer; past this the peer is too slow.
pub const WRITER_QUEUE_BYTES: usize = 16 * 1024 * 1024;

/// Requests one peer may have waiting for an answer from the chain service
/// (its reader pauses at this many: TCP backpressure, no buffering). Our own
/// sync keeps `SYNC_MAX_IN_FLIGHT` block ranges plus a tip query in flight.
/// Each one can add an answer to the peer's backlog before the unread gate
/// closes, so this times the answer size is most of a peer's memory.
/// Bounds: SYNC_MAX_IN_FLIGHT + 2..=64.
pub const MAX_SERVED_IN_FLIGHT_PER_PEER: usize = 6;
/// Bytes of answers one peer may take per wall second (token-bucket
/// refill). Cost is the encoded answer, so a `get_blocks(1, 128)` costing
/// ~1,600x its request is charged for what it is. 512 KiB/s serves ~800
/// empty blocks a second to a syncing peer; 96 greedy peers at this rate
/// stay far below the host's bandwidth. Bounds: 64 KiB..=64 MiB.
pub const REQUEST_BUDGET_BYTES_PER_SEC: u64 = 512 * 1024;
/// Bucket size (and starting balance): a syncing peer's first window of
/// `SYNC_MAX_IN_FLIGHT` max-size block ranges (`MAX_FRAME / 2` each) is
/// served at once. A peer in debt is throttled (its next request waits for
/// the refill), never dropped for it: the debt is at most the answers in
/// flight, so the wait is bounded. Bounds: >= MAX_FRAME, <= 256 MiB.
pub const REQUEST_BUDGET_BURST_BYTES: u64 = 8 * 1024 * 1024;
/// A peer whose writer queue holds more unread answer bytes than this is not
/// served again until it reads: what it has not read is all it can make us
/// hold (plus the answers already in flight). Bounds: 16 KiB..=WRITER_QUEUE_BYTES.
pub const SERVED_UNREAD_BYTES: usize = 32 * 1024;
/// How long (protocol time, wall floor below) a peer may leave more than
/// `SERVED_UNREAD_BYTES` of answers unread while it asks for more, before
/// it is dropped with reason `request budget exceeded: answers not read`.
/// An honest peer reads a 32 KiB backlog in milliseconds; the floor stays
/// under `WRITE_TIMEOUT_FLOOR` so a non-reading flooder is dropped by its
/// budget (typed, penalized) before its writer times out.
/// Bounds: 1 s..=WRITE_TIMEOUT; floor < WRITE_TIMEOUT_FLOOR.
pub const REQUEST_THROTTLE_LIMIT: Duration = Duration::from_secs(10);
pub const REQUEST_THROTTLE_LIMIT_FLOOR: Duration = Duration::from_secs(3);
/// How often a throttled peer's budget is looked at again (wall).
/// Bounds: 1 ms..=REQUEST_THROTTLE_LIMIT_FLOOR / 10.
pub const REQUEST_THROTTLE_POLL: Duration = Duration::from_millis(20);
/// Misbehaviour score of a drop for an exhausted request budget (two within
/// a ban period ban the IP, so a dropped flooder cannot simply reconnect).
pub const REQUEST_BUDGET_PENALTY: u32 = 50;
/// Block-range reads (redb read + encode) running at once, node-wide: the
/// bounded pool that serves every peer's `GetBlocks`, so no number of
/// requests can add threads or run more reads in parallel than this. Two:
/// with one, 90 greedy peers' answers queued for the single worker kept
/// them on the in-flight gate, never reaching the unread gate that drops
/// them (they left by ping timeout, unpenalized, and came back).
/// Bounds: 1..=8 (the host has few cores; one read takes milliseconds).
pub const SERVE_WORKERS: usize = 2;

/// Redial backoff after a *failure* (never after a healthy close by us).
pub const BACKOFF_BASE: Duration = Duration::from_secs(1);
pub const BACKOFF_MAX: Duration = Duration::from_secs(60);
/// Jitter fraction added on top of each backoff step, to break dial lockstep.
pub const BACKOFF_JITTER: f64 = 0.25;
/// A connection that stayed up this long resets the peer's backoff.
pub const HEALTHY_PERIOD: Duration = Duration::from_secs(120);
/// After a `simultaneous open` reject, the loser waits this long before it
/// checks again (the winner's connection normally arrives well before).
pub const TIE_BREAK_RETRY: Duration = Duration::from_secs(2);
/// How often the dialer looks at the address book for peers to dial.
pub const DIAL_TICK: Duration = Duration::from_secs(1);

/// GetPeers gossip cadence.
pub const DISCOVERY_INTERVAL: Duration = Duration::from_secs(60);
/// Peers asked for their peers in one discovery round (a window moving
/// round them, [`crate::rotation`]); a new connection is still asked at
/// once. Asking every peer, a 100-node mesh sent 9,900 GetPeers a protocol
/// minute, each answered with ~99 addresses: ~40 MB a minute, half of all
/// its bytes. With 8, every peer of a 100-node mesh is asked within 13
/// rounds, and a network of up to 9 nodes asks all its peers every round
/// as before. Bounds: 1..=MAX_OUTBOUND_PEERS.
pub const DISCOVERY_QUERIES_PER_ROUND: usize = 8;
/// New-table capacity (addresses we never connected to). When full, the
/// biggest source loses its worst entry. Bounds: >= NEW_PER_SOURCE, memory
/// ~100 B per entry.
pub const NEW_CAPACITY: usize = 4096;
/// New addresses one gossip source may hold: its share of the book, so one
/// 100k-address answer fills only its own share. A 30-node network's gossip
/// fits many times. Bounds: 32..=NEW_CAPACITY / 4.
pub const NEW_PER_SOURCE: usize = 256;
/// Consecutive failed dials after which a never-connected, gossip-learned
/// address is evicted (Bitcoin Core: 3 retries). Bounds: 1..=10.
pub const NEW_MAX_FAILURES: u32 = 3;
/// Addresses evicted for failing whose failure count is remembered, so
/// gossip re-teaching one resumes its backoff rather than restarting it
/// (the harness's dial_backoff check saw a late joiner redial a cut-off
/// peer every ~1 s otherwise). Bounds: 0..=NEW_CAPACITY; ~40 B each.
pub const EVICTED_MEMORY: usize = 4096;
/// Tried-table capacity (addresses we dialled and handshook). Tried
/// addresses are never evicted for failing (a partition must heal), only
/// for room. Bounds: >= MAX_OUTBOUND_PEERS.
pub const TRIED_CAPACITY: usize = 1024;
/// Addresses in one GetPeers answer (Bitcoin Core: 1000). We send at most
/// this many; a bigger answer is cut to it and penalized.
pub const MAX_PEERS_PER_ANSWER: usize = 1000;
/// Misbehaviour score of an oversize Peers answer (5 ban the IP).
pub const PEERS_OVERSIZE_PENALTY: u32 = 20;
/// Dials to never-connected addresses learned from peers, per minute
/// (protocol time), after a burst of `NEW_DIAL_BURST`: one poisoned gossip
/// answer can no longer turn a node into a dialer. 20/min still meshes a
/// fresh 30-node network in the burst. Bounds: 1..=600.
pub const NEW_DIALS_PER_MINUTE: u32 = 20;
/// Tokens the new-address dial budget starts with (and holds at most).
/// Bounds: >= the largest harness network (30), <= 256.
pub const NEW_DIAL_BURST: u32 = 32;
/// Outbound connections (live or being dialed) whose address came from one
/// gossip source: a quarter of the slots, so no single peer can eclipse us.
/// Bootstrap and operator-added addresses are exempt. Bounds: 1..=MAX_OUTBOUND_PEERS.
pub const MAX_OUTBOUND_PER_SOURCE: usize = MAX_OUTBOUND_PEERS / 4;

/// Peer limits. A full mesh of the largest harness network must fit.
pub const MAX_INBOUND_PEERS: usize = 96;
pub const MAX_OUTBOUND_PEERS: usize = 64;
/// Inbound connection attempts accepted per remote IP per minute (wall).
pub const MAX_INBOUND_PER_IP_PER_MINUTE: u32 = 30;
/// Misbehaviour score at which a peer IP is banned, and for how long (wall).
pub const BAN_SCORE: u32 = 100;
pub const BAN_DURATION: Duration = Duration::from_secs(60);

/// Events kept for `GET /events` (ring buffer).
pub const EVENT_LOG_CAPACITY: usize = 100_000;
/// Messages from all peers waiting for the application layer.
pub const INBOUND_QUEUE: usize = 4096;
/// Addresses discovery learned, waiting for the dialer to dial them now
/// rather than at its next tick. A full queue loses nothing: the address is
/// in the book and the next `DIAL_TICK` dials it. Bounds: at least a
/// `Peers` answer's worth (a few dozen); at most `MAX_ADDRESS_BOOK`.
pub const DIAL_REQUEST_QUEUE: usize = 1024;

/// Default block interval (protocol time) when genesis does not say.
pub const DEFAULT_BLOCK_INTERVAL: Duration = Duration::from_secs(60);
/// Tendermint round timeouts (protocol time), grown by `ROUND_TIMEOUT_DELTA`
/// each round so a slow network eventually fits in one round.
pub const TIMEOUT_PROPOSE: Duration = Duration::from_secs(3);
pub const TIMEOUT_PREVOTE: Duration = Duration::from_secs(1);
pub const TIMEOUT_PRECOMMIT: Duration = Duration::from_secs(1);
pub const ROUND_TIMEOUT_DELTA: Duration = Duration::from_millis(500);
/// A height undecided this long after it started sends each peer, once,
/// the current and previous round's messages it has not shown it holds
/// (`node::gossip`): the flood a stuck height needs when a peer its author
/// named sits behind a cut nobody has noticed. A healthy height decides in
/// well under a second. Bounds: >= TIMEOUT_PROPOSE (a round that is merely
/// waiting for its proposal is not stuck); checked at each re-broadcast
/// (every TIMEOUT_PROPOSE).
pub const GOSSIP_FALLBACK: Duration = TIMEOUT_PROPOSE;
/// Entries in each of the two generations of a [`SigMemo`](crate::chain::sig_check::SigMemo)
/// (a memo only embedders that run many nodes in one process use). A 100-node
/// network signs ~200 votes a height and every node checks each within
/// seconds of its signing, so a generation holds dozens of heights: a memo
/// miss only costs one check more. ~130 bytes each: at most ~8.5 MB.
/// Bounds: 1_000..=1_000_000.
pub const SIG_MEMO_GENERATION: usize = 32_768;

/// Blocks per sync range request, and how many such requests may be in flight.
pub const SYNC_BATCH: u64 = 128;
pub const SYNC_MAX_IN_FLIGHT: usize = 4;
/// How often a node compares its tip with its peers' (protocol time).
pub const SYNC_TICK: Duration = Duration::from_secs(5);
/// Peers asked for their tip at each `SYNC_TICK` (a window moving round
/// them, [`crate::rotation`]); a kick and the look after a catch-up ask everyone.
/// Asking every peer, a 100-node mesh sent 238k tip frames per protocol
/// minute, 45 % of all its frames. With 8, every peer of a 100-node mesh is
/// asked within 13 ticks (65 s), and a network of up to 9 nodes asks all
/// its peers every tick as before. Bounds: 1..=MAX_OUTBOUND_PEERS.
pub const SYNC_TIP_QUERIES_PER_TICK: usize = 8;
/// A peer that told us its tip within this long (a `NewTip` or a `Tip`
/// answer) at a height not above ours is left out of
/// the tick's tip look: its next block brings its next notice, and asking
/// anyway was a quarter of a 100-node mesh's frames. A peer is asked again
/// once its word is this old, so a lost notice delays a catch-up from that
/// peer by at most this much (other peers' notices still arrive); with
/// 60 s blocks the previous notice has just expired when the next block
/// is due. Bounds: SYNC_TICK..=a few block intervals.
pub const SYNC_TIP_FRESH: Duration = Duration::from_secs(60);

/// Mempool capacity in transactions.
pub const MAX_MEMPOOL_TXS: usize = 10_000;
/// Max transactions per block.
pub const MAX_BLOCK_TXS: usize = 2_000;
/// HTTP API request body cap.
pub const MAX_API_BODY: usize = 256 * 1024;

/// `timed_ping_rtt_seconds` bucket upper bounds (wall seconds). A ping on
/// loopback or a Docker bridge answers in 50 us - 2 ms; a loaded 2-core host
/// stretches that to tens of ms; a peer about to hit `ping timeout` takes
/// seconds. A 1-2.5-5 series from 100 us to 10 s resolves each regime within
/// a factor of 2.5; anything beyond lands in +Inf.
pub const PING_RTT_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];
/// `timed_finality_latency_seconds` bucket upper bounds (wall seconds, from
/// the first proposal seen at a height to its commit). Measured: 8-12 ms
/// median on loopback at time scale 1, tens of ms in containers at scale 30;
/// a round change adds `TIMEOUT_PROPOSE` (3 s protocol). From 1 ms to 60 s in
/// a 1-2.5-5 series, so a 2x slowdown moves the median at least one bucket.
pub const FINALITY_LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 60.0,
];

/// Period of the per-IP log summaries of refused sockets, rejected
/// handshakes and failed dials (wall time): the first occurrence per IP is
/// logged at once, the rest as one line per IP per period (count, last
/// reason), so a connect flood cannot flood the log. Bounds: 1 s..=5 min.
pub const LOG_SUMMARY_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);
/// IPs tracked individually per summary period; the rest are summed into
/// one "other IPs" line. Bounds: 16..=100_000 (~100 B each).
pub const LOG_SUMMARY_MAX_IPS: usize = 1024;

/// An API connection with no byte read or written for this long (wall) is
/// closed: idle keep-alives and half-sent headers alike. No API handler runs
/// anywhere near this long. Bounds: 5 s..=5 min.
pub const API_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);
/// Descriptors kept for files, the database, epoll, stdio and the runtime
/// before any socket budget is handed out. Bounds: 32..=1024.
pub const FD_RESERVED_BASE: usize = 64;
/// The API and the pre-handshake P2P sockets each get 1/this of the
/// descriptors above the reserve (then capped below). Bounds: 4..=64.
pub const FD_SLICE_DIVISOR: usize = 8;
/// Open API connections at most, whatever the descriptor limit; a quarter of
/// them per client IP. Bounds: 8..=4096.
pub const API_MAX_CONNECTIONS: usize = 512;
/// Inbound P2P sockets that have not finished their handshake, at most
/// (issue 15 saw 1,516 at once). Bounds: 8..=MAX_INBOUND_PEERS * 4.
pub const MAX_PENDING_HANDSHAKES: usize = 256;

/// Wall pause after a failed `accept` (e.g. EMFILE) before trying again:
/// long enough not to spin, short enough that a freed descriptor is used
/// almost at once. Bounds: 10 ms .. 1 s.
pub const ACCEPT_RETRY: Duration = Duration::from_millis(50);
/// Wall interval at which shutdown checks that every connection is gone;
/// bounded by [`SHUTDOWN_POLLS`] so a stuck connection cannot hang exit.
pub const SHUTDOWN_POLL: Duration = Duration::from_millis(10);
/// How many [`SHUTDOWN_POLL`]s shutdown waits at most (3 s in all).
pub const SHUTDOWN_POLLS: u32 = 300;
/// Wall time the API server gets to finish after shutdown (2 s: in-flight
/// requests are tiny reads).
pub const API_STOP_TIMEOUT: Duration = Duration::from_secs(2);
