//! The rare protocol events a scenario's `must_reach` may name, each with
//! the node's `/metrics` counter that counts it (`report::coverage` sums
//! them per run; `harness explore` steers toward schedules that reach them).
//! Part of the file format: a name not listed here is a validation error.

/// `(event, node counter)`, in the order reports list them.
pub const COVERAGE_EVENTS: [(&str, &str); 8] = [
    // A consensus round above 0 started (the round-0 proposer failed).
    ("round_gt0", "timed_consensus_rounds_above_zero_total"),
    // A nil precommit cast (a round that could not lock a value).
    ("nil_precommit", "timed_consensus_nil_precommits_total"),
    // A validator's lock moved to another value.
    ("lock_change", "timed_consensus_lock_changes_total"),
    // A lock restored from the store after a restart mid-height.
    ("lock_restored", "timed_consensus_locks_restored_total"),
    // A crossed dial resolved for the peer's dial / for ours.
    ("tie_break_remote", "timed_tie_break_remote_total"),
    ("tie_break_local", "timed_tie_break_local_total"),
    // A dial that got through after the address had failed (a backoff).
    ("redial_after_backoff", "timed_redials_after_backoff_total"),
    // A catch-up that applied blocks with exactly one peer connected.
    ("catchup_one_peer", "timed_catchups_one_peer_total"),
];

/// Whether `must_reach` may name `event`.
pub fn is_event(event: &str) -> bool {
    COVERAGE_EVENTS.iter().any(|(e, _)| *e == event)
}
