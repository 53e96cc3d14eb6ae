//! When a simulated run stops before its end: `--fail-fast`, or a socket
//! storm, judged by the same rule as docker's `--fail-fast` (a violation
//! later observations cannot undo).
//!
//! Why a storm stops the run: a node that never recognises a peer it is
//! already connected to (the seeds' IP:port peer identity) opens a new
//! connection to every peer each dial tick and keeps the old ones. On
//! docker the host's CPU slows that storm down and the run reaches its end
//! with a verdict (one_peer_per_ip, kernel_view, no_cycling fail). In
//! virtual time nothing slows it: at time scale 1 with a poll every
//! virtual second, every poll stores each node's whole connection table,
//! so the recorded timeline grows with the square of the run time (6
//! nodes at 1,200 s held ~6,000 sockets each; the harness had 7.6 GB and
//! still climbing, and gave no verdict at all). More socket ends in the
//! network than every node at its connection limits could hold is a storm
//! no honest node makes, so from there the run is judged as with
//! `--fail-fast` and stops at the first final violation.

use super::constants::JUDGE_EVERY_MS;
use crate::observe::model::Timeline;
use crate::report::{EarlyStop, StopCause};
use timed::constants::{MAX_INBOUND_PEERS, MAX_OUTBOUND_PEERS};

/// The judge: `Some` when the timeline so far has a final violation.
pub type Judge = Box<dyn FnMut(&Timeline) -> Option<EarlyStop> + Send>;

/// When to judge a running simulation, and how.
pub struct StopRule {
    /// `--fail-fast`: judge from the start.
    pub fail_fast: bool,
    /// Socket ends (both sides of a connection count) above which the
    /// network is in a storm: nodes x the most P2P connections a node may
    /// hold.
    pub storm_ends: usize,
    judge: Judge,
    judged_at: u64,
}

impl StopRule {
    pub fn new(fail_fast: bool, nodes: usize, judge: Judge) -> Self {
        StopRule {
            fail_fast,
            storm_ends: nodes * (MAX_INBOUND_PEERS + MAX_OUTBOUND_PEERS),
            judge,
            judged_at: 0,
        }
    }

    /// Never stops (tests, benchmarks).
    pub fn never() -> Self {
        StopRule {
            fail_fast: false,
            storm_ends: usize::MAX,
            judge: Box::new(|_| None),
            judged_at: 0,
        }
    }

    /// Whether to judge at virtual ms `t` with `ends` socket ends open:
    /// every [`JUDGE_EVERY_MS`] while `--fail-fast` or a storm holds.
    pub fn due(&mut self, t: u64, ends: usize) -> bool {
        if !(self.fail_fast || ends > self.storm_ends) || t < self.judged_at + JUDGE_EVERY_MS {
            return false;
        }
        if ends > self.storm_ends && !self.fail_fast {
            tracing::warn!(
                t_ms = t,
                ends,
                bound = self.storm_ends,
                "socket storm: judging the run as with --fail-fast"
            );
        }
        self.judged_at = t;
        true
    }

    /// Judge the timeline so far; the stop says which of `--fail-fast` or
    /// a storm turned judging on.
    pub fn judge(&mut self, tl: &Timeline) -> Option<EarlyStop> {
        let mut stop = (self.judge)(tl)?;
        if !self.fail_fast {
            stop.cause = StopCause::SocketStorm;
        }
        Some(stop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_storm_or_fail_fast_turns_judging_on_at_the_judge_cadence() {
        let mut r = StopRule::new(false, 6, Box::new(|_| None));
        assert_eq!(r.storm_ends, 6 * (MAX_INBOUND_PEERS + MAX_OUTBOUND_PEERS));
        // A full mesh of 6 (30 ends) is no storm.
        assert!(!r.due(JUDGE_EVERY_MS, 30));
        assert!(r.due(JUDGE_EVERY_MS, r.storm_ends + 1));
        // Not again before the cadence.
        assert!(!r.due(JUDGE_EVERY_MS + 1, r.storm_ends + 1));
        assert!(r.due(2 * JUDGE_EVERY_MS, r.storm_ends + 1));
        let mut ff = StopRule::new(true, 6, Box::new(|_| None));
        assert!(ff.due(JUDGE_EVERY_MS, 0));
        assert!(!StopRule::never().due(JUDGE_EVERY_MS, usize::MAX - 1));
    }

    fn stop_at_once() -> Judge {
        Box::new(|tl| {
            Some(EarlyStop {
                cause: StopCause::FailFast,
                check: "one_peer_per_ip".into(),
                violation: crate::checks::Violation {
                    t: tl.end,
                    nodes: vec!["n1".into()],
                    message: "two connections".into(),
                },
                stopped_at: tl.end,
                wall_ms_after_violation: 0,
                not_judged: vec![],
            })
        })
    }

    #[test]
    fn a_stop_names_what_turned_judging_on() {
        let tl = Timeline::default();
        let storm = StopRule::new(false, 6, stop_at_once()).judge(&tl).unwrap();
        assert_eq!(storm.cause, StopCause::SocketStorm);
        let asked = StopRule::new(true, 6, stop_at_once()).judge(&tl).unwrap();
        assert_eq!(asked.cause, StopCause::FailFast);
        assert_ne!(storm.cause.label(), asked.cause.label());
    }
}
