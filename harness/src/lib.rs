//! timenet harness: launches N `timed` containers, breaks the network on a
//! timeline and checks that the network holds.
//!
//! Runner stages (each its own module): scenario (manifest) -> provider
//! (setup/start/cleanup) -> nemesis (perturb) -> observe (wait/poll) ->
//! checks (test) -> report.

pub mod checks;
pub mod nemesis;
pub mod observe;
pub mod provider;
pub mod report;
pub mod runner;
pub mod scenario;
