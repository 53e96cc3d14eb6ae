//! Counts of rare consensus events, kept by the pure core and exported on
//! `GET /metrics` (the harness's explore steers toward schedules that
//! reach them): a round above 0 started, a nil precommit cast, a lock moved
//! to another value, a lock restored from the store after a restart.
//!
//! Plain counters owned by [`super::core::Core`]; they survive `reset`
//! (they count over the process's life, as every `_total` metric does).

/// Rare events seen by this process's consensus core.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RareEvents {
    /// Rounds above 0 started (the round-0 proposer failed somehow).
    pub rounds_above_zero: u64,
    /// Nil precommits cast (a round that could not lock a value).
    pub nil_precommits: u64,
    /// Locks moved from one value to another (a later round's proof of lock).
    pub lock_changes: u64,
    /// Locks restored from the last signed step after a restart mid-height.
    pub locks_restored: u64,
}
