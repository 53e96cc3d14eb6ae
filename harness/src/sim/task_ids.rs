//! The one process-global that reached the schedule: tokio's task ids.
//!
//! tokio numbers tasks from one process-wide counter, and a runtime keeps
//! its tasks in a list sharded by `id % shards`. When turmoil crashes a
//! host it drops that host's runtime, which drops the tasks shard by shard;
//! each dropped socket sends its FIN or RST into the simulated network, and
//! every segment draws its latency from the simulation's seeded RNG in send
//! order. So the order in which a crash closes sockets, and from it every
//! later latency draw, followed `id % shards`: a second run in the same
//! process started at another counter value and drew another schedule.
//!
//! [`align`] moves the counter to a multiple of [`ALIGN`] before a run, so
//! every run of a process numbers its tasks from the same residue and the
//! crash order repeats. This relies on tokio handing out ids in order (true
//! of every tokio 1.x; `sim_determinism`'s in-process test fails if not)
//! and on no other thread spawning tokio tasks while a simulation runs
//! (simulations of one process run one after another, never side by side).

/// Residue the counter is aligned to: a multiple of every shard count
/// tokio uses for a runtime of up to 16 workers (4 x cores, rounded up to a
/// power of two; turmoil's hosts are current-thread runtimes: 4).
pub const ALIGN: u64 = 64;

/// Spawn throwaway tasks until the next task id is a multiple of [`ALIGN`].
/// Returns how many were spawned (at most `ALIGN`), or `None` when the id
/// could not be read (then nothing is aligned).
pub fn align() -> Option<u64> {
    let rt = tokio::runtime::Builder::new_current_thread().build().ok()?;
    let mut spawned = 0;
    loop {
        let id: u64 = rt.spawn(async {}).id().to_string().parse().ok()?;
        spawned += 1;
        if (id + 1).is_multiple_of(ALIGN) || spawned > ALIGN {
            return Some(spawned);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_align_the_next_task_id_is_a_multiple_of_align() {
        align().expect("tokio task ids are numbers");
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let id: u64 = rt.spawn(async {}).id().to_string().parse().unwrap();
        // Other tests of this binary may spawn tasks on their threads in
        // between; this thread's next id is at least aligned or later.
        assert!(id >= ALIGN, "ids count up from 1: {id}");
    }
}
