//! Virtual time, the one reading of it the simulated nodes and the harness
//! share: protocol ms since the simulation started, and the unix ms that
//! virtual time 0 stands for.

/// Unix ms that virtual time 0 stands for (2026-01-01T00:00:00Z): events
/// and block timestamps are reproducible, never read from the OS clock.
pub const SIM_EPOCH_MS: u64 = 1_767_225_600_000;

/// Virtual protocol ms since the simulation started (time scale 1).
pub fn now_ms() -> u64 {
    turmoil::sim_elapsed()
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// [`now_ms`] from outside the simulation's hosts.
pub fn now_ms_of(sim: &turmoil::Sim<'_>) -> u64 {
    sim.elapsed().as_millis() as u64
}
