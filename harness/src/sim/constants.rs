//! Tunables of the simulated faults (pause, CPU quota, link shaping), each
//! with its reason and bounds.

use std::time::Duration;

/// TCP's retransmission timeout after a lost segment: Linux's minimum RTO
/// (`TCP_RTO_MIN`, 200 ms), what a LAN peer's retransmission waits. Each
/// further consecutive loss doubles it, as the kernel's backoff does.
pub const RTO: Duration = Duration::from_millis(200);

/// Consecutive losses of one segment modelled at most (200 ms .. 12.6 s of
/// added delay). Beyond 6 the kernel would still retry (up to
/// `tcp_retries2`), but at the loss rates scenarios use (< 50 %) the
/// chance of 7 losses in a row is below 1 %.
pub const LOSS_MAX_RETRIES: u32 = 6;

/// Messages at the start of each stream never reordered or duplicated:
/// the handshake (one hello each way, then the first message after it).
/// Reordering a handshake is a different protocol, not a network fault.
pub const HANDSHAKE_FRAMES: u64 = 2;

/// Shortest period of a simulated CPU quota: the container runtime's CFS
/// period (100 ms). The node runs whole ticks only, so the period is
/// lengthened to `tick / cpus` when `cpus` is too small to get one tick in
/// 100 ms (0.05 cores at a 10 ms tick: one tick in 200 ms).
pub const CPU_PERIOD_MIN: Duration = Duration::from_millis(100);

/// Virtual time between two looks of the simulated workload at whether a
/// transaction is due: below the poll interval (300 ms), far below any
/// `tx_interval` a scenario uses (minutes), so a transaction leaves at
/// most 100 ms late.
pub const WORKLOAD_WAKE: Duration = Duration::from_millis(100);

/// Virtual time between two judgements of a simulated run under
/// `--fail-fast` or a socket storm ([`super::stop`]): docker's fail-fast
/// judges every 2 s of wall time, 60 protocol s at time scale 30. Bounds:
/// well above the poll (1 s: a judgement evaluates every check over the
/// timeline so far), and below every check's window (minutes).
pub const JUDGE_EVERY_MS: u64 = 60_000;
