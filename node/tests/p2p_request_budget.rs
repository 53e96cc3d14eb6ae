//! Per-peer request budgets against a REAL `timed` (issue 15, point 3): a
//! 3-node testnet, then 90 raw-socket peers on their own loopback IPs that
//! handshake, flood `get_blocks(1, 128)` and never read a byte. The victim
//! must stay small (RSS, threads) and keep its block time: p95 under attack
//! within 2x of the quiet p95 measured in the same run.
//!
//! Figures are printed (`cargo test -p timed --test p2p_request_budget --
//! --nocapture`) for the attack table.

mod support;

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use support::{fresh_key, unique_base_ip, unique_ips, wait_until, Cluster, FakePeer, NodeProc};
use timed::api::types::EventKind;
use timed::testnet::TestnetSpec;
use timed::wire::{encode, Hello, NetworkMessage, Request};

const ATTACKERS: usize = 90;
/// Time scale 10 and a 20 s (protocol) block interval: a block every 2 s of
/// wall time, so each window holds ~10-20 blocks.
const SCALE: f64 = 10.0;
const QUIET: Duration = Duration::from_secs(20);
const ATTACK: Duration = Duration::from_secs(40);
const MAX_RSS_KIB: u64 = 64 * 1024;
const MAX_THREADS: u64 = 32;
/// Finality p95 is also printed per slice of a window (where it moves).
const SLICE: Duration = Duration::from_secs(5);

/// `Threads:` from /proc/PID/status.
fn threads(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("Threads:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// utime + stime of the process in clock ticks (/proc/PID/stat).
fn cpu_ticks(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// The cumulative `timed_finality_latency_seconds` buckets: (le, count).
async fn finality_buckets(n: &NodeProc) -> Vec<(f64, f64)> {
    let text = n.metrics().await.unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("timed_finality_latency_seconds_bucket{le=\"")?;
            let (le, v) = rest.split_once("\"} ")?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((le, v.trim().parse().ok()?))
        })
        .collect()
}

/// p95 bucket bound of the commits observed between two bucket snapshots.
fn p95_between(before: &[(f64, f64)], after: &[(f64, f64)]) -> Option<f64> {
    let delta: Vec<(f64, f64)> = after
        .iter()
        .map(|(le, c)| {
            let b = before.iter().find(|(l, _)| l == le).map_or(0.0, |x| x.1);
            (*le, c - b)
        })
        .collect();
    let total = delta.last()?.1;
    (total > 0.0)
        .then(|| delta.iter().find(|(_, c)| *c >= 0.95 * total).map(|x| x.0))
        .flatten()
}

/// What one observation window saw on the victim.
#[derive(Debug)]
struct Window {
    /// Wall time between consecutive heights seen on `/status`.
    block_times: Vec<Duration>,
    max_rss_kib: u64,
    max_threads: u64,
    /// CPU used by the victim over the window, in % of one core.
    cpu_pct: f64,
    /// p95 of `timed_finality_latency_seconds` over the window (bucket bound).
    finality_p95: Option<f64>,
}

impl Window {
    fn p95(&self) -> Duration {
        let mut v = self.block_times.clone();
        v.sort();
        assert!(!v.is_empty(), "no block in the window: {self:?}");
        v[((v.len() as f64 * 0.95).ceil() as usize).clamp(1, v.len()) - 1]
    }
}

/// Watch the victim for `len`: heights every 100 ms, RSS and threads.
async fn observe(n: &NodeProc, len: Duration) -> Window {
    let pid = n.pid().unwrap();
    let hist0 = finality_buckets(n).await;
    let cpu0 = cpu_ticks(pid).unwrap();
    let t0 = Instant::now();
    let (mut last_h, mut last_t) = (None, Instant::now());
    let mut w = Window {
        block_times: vec![],
        max_rss_kib: 0,
        max_threads: 0,
        cpu_pct: 0.0,
        finality_p95: None,
    };
    let mut slice = (Instant::now(), hist0.clone());
    while t0.elapsed() < len {
        if slice.0.elapsed() >= SLICE {
            let h = finality_buckets(n).await;
            eprintln!(
                "  t={:>4.1}s finality p95 over the last {SLICE:?}: {:?}",
                t0.elapsed().as_secs_f64(),
                p95_between(&slice.1, &h)
            );
            slice = (Instant::now(), h);
        }
        w.max_rss_kib = w.max_rss_kib.max(n.rss_kib().unwrap_or(0));
        w.max_threads = w.max_threads.max(threads(pid).unwrap_or(0));
        if let Ok(s) = n.status().await {
            if last_h != Some(s.height) {
                if last_h.is_some() {
                    w.block_times.push(last_t.elapsed());
                }
                (last_h, last_t) = (Some(s.height), Instant::now());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ticks = (cpu_ticks(pid).unwrap() - cpu0) as f64;
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    w.cpu_pct = 100.0 * ticks / hz / t0.elapsed().as_secs_f64();
    w.finality_p95 = p95_between(&hist0, &finality_buckets(n).await);
    w
}

/// One greedy peer: handshake, then `get_blocks(1, 128)` as fast as the
/// socket takes them, never reading (a 4 KiB receive buffer). When the node
/// drops it, it reconnects, as an attacker would.
async fn greedy_peer(from: IpAddr, to: SocketAddr, hello: Hello) {
    let mut flood = Vec::new();
    for id in 0..64u64 {
        flood.extend_from_slice(&encode(&NetworkMessage::Request {
            id,
            body: Request::GetBlocks {
                from: 1,
                count: 128,
            },
        }));
    }
    let flood = bytes::Bytes::from(flood);
    // One identity per attacker, proven like any peer's (the handshake is
    // authenticated): the budget, not the handshake, must stop it.
    let key = fresh_key();
    let hello = Hello {
        node_id: timed::chain::keys::node_id(&key),
        ..hello
    };
    loop {
        if let Ok(p) = FakePeer::connect_with(from, to, Some(4096)).await {
            let nonce = Hello {
                nonce: rand::random(),
                ..hello.clone()
            };
            if let Ok(mut p) = p.handshake_on(nonce, &key).await {
                while p.send_raw(flood.clone()).await.is_ok() {}
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ninety_greedy_peers_that_never_read_leave_memory_threads_and_block_time_bounded() {
    let start = Instant::now();
    let c = Cluster::start_with(
        TestnetSpec {
            nodes: 3,
            masternodes: 3,
            base_ip: unique_base_ip(),
            block_interval: Duration::from_secs(20),
            ..Default::default()
        },
        SCALE,
    );
    c.wait_full_mesh(Duration::from_secs(30)).await;
    let victim = &c.nodes[0];
    wait_until("height 3", Duration::from_secs(30), || async {
        victim.status().await.ok().filter(|s| s.height >= 3)
    })
    .await;

    let quiet = observe(victim, QUIET).await;
    eprintln!("quiet: {quiet:?}, block time p95 {:?}", quiet.p95());

    let ips = unique_ips(ATTACKERS);
    let attackers: Vec<_> = ips
        .iter()
        .map(|ip| tokio::spawn(greedy_peer(*ip, victim.p2p, c.hello())))
        .collect();
    let attack = observe(victim, ATTACK).await;
    let connected = victim.peers().await.map(|p| p.len()).unwrap_or(0);
    for a in &attackers {
        a.abort();
    }
    eprintln!(
        "attack: {attack:?}, block time p95 {:?}, {connected} peers at the end",
        attack.p95()
    );

    // How the attackers were dropped (the typed close reasons).
    let mut reasons = std::collections::BTreeMap::<String, usize>::new();
    for e in victim.events_of(EventKind::Disconnected).await {
        if e.peer_ip.is_some_and(|ip| ips.contains(&ip)) {
            let r = e.reason.unwrap_or_default();
            let label = r.split(':').next().unwrap_or("").to_string();
            *reasons.entry(label).or_default() += 1;
        }
    }
    eprintln!("attacker disconnect reasons: {reasons:?}");
    eprintln!(
        "FIGURES rss_kib quiet={} attack={} threads quiet={} attack={} cpu% quiet={:.0} attack={:.0} \
         block_p95 quiet={:?} attack={:?} finality_p95_s quiet={:?} attack={:?} wall={:?}",
        quiet.max_rss_kib,
        attack.max_rss_kib,
        quiet.max_threads,
        attack.max_threads,
        quiet.cpu_pct,
        attack.cpu_pct,
        quiet.p95(),
        attack.p95(),
        quiet.finality_p95,
        attack.finality_p95,
        start.elapsed()
    );

    assert!(
        attack.max_rss_kib < MAX_RSS_KIB,
        "victim RSS {} KiB under attack (quiet {} KiB), limit {MAX_RSS_KIB} KiB",
        attack.max_rss_kib,
        quiet.max_rss_kib
    );
    assert!(
        attack.max_threads < MAX_THREADS,
        "victim threads {} under attack (quiet {}), limit {MAX_THREADS}",
        attack.max_threads,
        quiet.max_threads
    );
    assert!(
        attack.p95() <= quiet.p95() * 2,
        "block time p95 {:?} under attack, quiet {:?}",
        attack.p95(),
        quiet.p95()
    );
    assert!(
        reasons.contains_key("request budget exceeded"),
        "no attacker was dropped by its request budget: {reasons:?}"
    );
    let log = victim.log();
    assert!(
        log.lines().any(|l| l.contains("request budget exceeded")
            && ips.iter().any(|ip| l.contains(&ip.to_string()))),
        "no log line names a dropped attacker's IP and reason"
    );
    assert!(
        start.elapsed() < Duration::from_secs(120),
        "{:?}",
        start.elapsed()
    );
}
