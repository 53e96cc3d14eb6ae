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
/// period (100 ms). The node runs whole ticks only, each charged
/// [`TICK_CPU_CHARGE`], so the period is lengthened to `charge / cpus` when
/// `cpus` is too small to pay for one tick in 100 ms (0.01 cores: one tick
/// per second).
pub const CPU_PERIOD_MIN: Duration = Duration::from_millis(100);

/// CPU time a throttled node is charged for each tick it runs. Work takes
/// no virtual time, so the quota needs a price per tick; it is a constant,
/// not the tick's length, or a coarser `TICK` would starve a throttled node
/// harder (at 50 ms, 1 % bought one tick per 5 s: a restart's handshakes,
/// 3-4 steps on each side, outran the 10 s handshake limit, which the
/// docker node at 1 % meets in well under a second). Bounds: far above
/// what a tick costs here (a churn seed averages a few µs per node tick; a
/// handshake step with its ed25519 signature and verification ~0.2 ms), so
/// the model is harsher than the machine, never kinder; and low enough that
/// 1 % still completes a handshake inside its limit (4 steps x 1 s).
pub const TICK_CPU_CHARGE: Duration = Duration::from_millis(10);

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

/// turmoil's own cap on a message's latency (its default, 0-100 ms drawn
/// from Exp(5), mean 20 ms), set explicitly so a link can be put back to it.
pub const MAX_LATENCY: Duration = Duration::from_millis(100);

/// The fixed latency of the two nodes' link while a `stale_hello` fault
/// runs: turmoil draws each message's latency on its own, so a FIN could
/// land a step after the proof it follows, and an honest node rightly
/// registers a dialer it cannot yet know is gone. On docker the two ride
/// one segment; a fixed latency makes them land in one step. The mean of
/// the default draw, so the link is no slower than usual.
pub const STALE_HELLO_LATENCY: Duration = Duration::from_millis(20);
