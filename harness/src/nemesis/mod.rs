//! The nemesis: faults on a timeline (partitions, kills, restarts, pauses,
//! wipes, clock skew, packet loss), applied to a running [`Cluster`].
//!
//! # API for the runner
//!
//! ```no_run
//! # async fn example(
//! #     scenario: harness::scenario::Scenario,
//! #     cluster: impl harness::provider::Cluster,
//! # ) -> anyhow::Result<()> {
//! use harness::nemesis::{self, Nemesis};
//!
//! // Once, before the run: probe the host, validate the scenario into its
//! // fault plan (a bad fault, e.g. an unknown node or `latency` without
//! // netem, is a `file:line:column` error here: exit 2), then let the seed
//! // make the plan's open choices (this cannot fail).
//! let caps = nemesis::probe_capabilities().await;
//! let plan = harness::scenario::validate(&scenario, &caps)?;
//! let schedule = nemesis::schedule::build(&scenario, &plan);
//! print!("{schedule}"); // one line per step; serde for report.json
//! let mut nem = Nemesis::new(schedule);
//!
//! // In the run loop, with `now` = protocol ms since the run started:
//! let now = 0;
//! for step in nem.due_steps(now) {
//!     match nem.apply(&step, &cluster, now).await {
//!         Ok(line) => println!("{line}"), // also logged (tracing)
//!         Err(e) => eprintln!("nemesis: {e:#}"),
//!     }
//! }
//! // `nem.next_at()` tells when the next step is due.
//!
//! // After ANY node start the runner does itself (late joiners): new netns.
//! nem.on_node_started("n7", &cluster).await?;
//!
//! // End of run (and on Ctrl-C before teardown):
//! nem.heal_all(&cluster, now).await?;
//! let faults = nem.spans(); // the timeline's FaultSpans, with directed `cuts`
//! # drop(faults);
//! # Ok(())
//! # }
//! ```
//!
//! Semantics of each action (`for` = the fault's duration):
//! - `partition` (a grudge of directed cuts, see [`grudge`]): silent drops
//!   on the receiving side via iptables in each container's netns (see
//!   [`netfilter`]); ends after `for`, at a `heal` step, or at `heal_all`.
//! - `heal`: ends every active partition, loss and latency fault.
//! - `kill`: SIGKILL then start; with `for`, the node stays down that long.
//! - `restart`: SIGTERM (clean stop) then start; with `for`, down that long.
//! - `pause`: cgroup freeze; resumed after `for` (or at `heal_all`).
//! - `wipe`: recreate with an empty data dir (the node must resync); with
//!   `for`, SIGKILL now and come back empty after `for`.
//! - `clock_skew`: recreate with `--clock-skew-ms`; after `for`, recreate
//!   without it. A wipe during a skew keeps the skew.
//! - `loss`: drop each P2P packet the target receives with probability `p`
//!   (iptables `statistic`), only on the P2P port.
//! - `latency`: rejected by validation on kernels without netem (this
//!   machine's); otherwise a netem delay on the target's eth0.
//! - `crossed_dial`, `duplicate_dial`, `stale_hello`: protocol faults, the
//!   harness dialing as a node from its namespace with its key; each
//!   answer is recorded in the fault's span (see [`probe`]).
//!
//! - `heal_all`: heals the network, resumes paused nodes and starts nodes
//!   that are down; a clock skew stays (the run is over) but its span closes.
//!
//! Targets a `[[fault]]` leaves open are chosen from the seed when the
//! schedule is built, so the printed schedule names exact nodes and replays
//! identically with `--seed`. The random `[nemesis]` runs one fault at a
//! time (each lasting `for`, default interval/2), starts spaced uniformly in
//! [interval/2, 3*interval/2] inside [start, stop] (default [interval,
//! duration - interval]), one random node per process fault and a random
//! shape over a seeded ring order for partitions.
//!
//! Not implemented: the in-image fallback for hosts that cannot enter a
//! container's namespace (a netlink subcommand of `timed` via `docker
//! exec`); such hosts get a clear error from the first network fault.
//! `latency` (netem) is coded but untested: this machine has no netem.

mod fault;
pub mod grudge;
#[allow(clippy::module_inception)]
mod nemesis;
pub mod netfilter;
pub mod probe;
mod reconcile;
pub mod schedule;

pub use crate::scenario::Capabilities;
pub use nemesis::Nemesis;
pub use schedule::{Fault, Phase, Schedule, Step};

/// Probe what the host can do (netem for `latency`), for
/// `scenario::validate`. The reason netem is missing is logged.
pub async fn probe_capabilities() -> Capabilities {
    let netem = match netfilter::probe_netem().await {
        Ok(()) => true,
        Err(why) => {
            tracing::info!(target: "nemesis", "no netem on this host (latency faults rejected): {why}");
            false
        }
    };
    Capabilities {
        netem,
        link_shaping: false,
    }
}
