//! timenet harness: launches N `timed` containers, breaks the network on a
//! timeline and checks that the network holds.
//!
//! Runner stages (each its own module): scenario (manifest, validated into
//! a fault plan) -> provider (setup/start/cleanup) -> nemesis (the plan's
//! seeded schedule, perturb) -> observe (wait/poll) -> checks (test) -> report.
//!
//! Module map:
//! - `scenario`: file format, `file:line:column` errors, the one validation
//!   step (`validate` -> `Plan`), the time helpers `ms` / `fmt_ms`.
//! - `nemesis`: the schedule built from a plan, fault application, spans.
//! - `observe`: the timeline model (typed fault kinds), poller, recorder.
//! - `checks`: pure checks over a timeline.
//! - `provider`: Docker containers and images, the testnet a run starts from.
//! - `sim`: the same nodes in-process on turmoil's simulated network
//!   (`--provider sim`), with its own fault application and observer.
//! - `splitmix`: the one seeded PRNG every replayable draw uses.
//! - `workload`: the transaction workload, over any node API carrier.
//! - `runner`: one run / a suite, end to end.
//! - `report`: report.json, JUnit, the summary table.
//! - `explore`: many seeds in parallel processes (`harness explore`), swarm
//!   draws, and `harness shrink` to a minimal regression scenario.
//! - `bench_sim`: `harness bench --provider sim` (scenario hours, meshes and
//!   explore's seeds per minute; above both `runner` and `explore`).

pub mod bench_sim;
pub mod checks;
pub mod explore;
pub mod nemesis;
pub mod observe;
pub mod provider;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod sim;
pub mod splitmix;
pub mod workload;
