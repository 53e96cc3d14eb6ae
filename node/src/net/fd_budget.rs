//! The process's file-descriptor budget, split so no consumer can starve
//! another: at start RLIMIT_NOFILE's soft limit is raised to its hard limit,
//! then `FD_RESERVED_BASE` descriptors are kept for files, the database and
//! the runtime, and the API and the not-yet-handshaken P2P sockets each get
//! a capped slice; established peers (bounded by `MAX_INBOUND_PEERS` +
//! `MAX_OUTBOUND_PEERS`) keep the rest. The API can never take P2P's share.

use crate::constants::{
    API_MAX_CONNECTIONS, FD_RESERVED_BASE, FD_SLICE_DIVISOR, MAX_INBOUND_PEERS, MAX_OUTBOUND_PEERS,
    MAX_PENDING_HANDSHAKES,
};
use std::sync::OnceLock;

/// How many descriptors each consumer may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FdBudget {
    /// RLIMIT_NOFILE (soft) after raising it.
    pub limit: u64,
    /// Open API connections, all clients together.
    pub api_connections: usize,
    /// Open API connections from one IP.
    pub api_per_ip: usize,
    /// Inbound P2P sockets that have not finished their handshake.
    pub pending_handshakes: usize,
}

/// Smallest slice of either capped consumer, even under a tiny limit.
const MIN_SLICE: usize = 8;

impl FdBudget {
    pub fn from_limit(limit: u64) -> FdBudget {
        let avail = limit.saturating_sub(FD_RESERVED_BASE as u64) as usize;
        let slice = avail / FD_SLICE_DIVISOR;
        let api = slice.clamp(MIN_SLICE, API_MAX_CONNECTIONS);
        FdBudget {
            limit,
            api_connections: api,
            api_per_ip: (api / 4).max(2),
            pending_handshakes: slice.clamp(MIN_SLICE, MAX_PENDING_HANDSHAKES),
        }
    }

    /// Whether established peers still fit in what is left.
    pub fn peers_fit(&self) -> bool {
        let used = FD_RESERVED_BASE + self.api_connections + self.pending_handshakes;
        self.limit as usize >= used + MAX_INBOUND_PEERS + MAX_OUTBOUND_PEERS
    }
}

/// Raise the soft RLIMIT_NOFILE to the hard limit (once) and return the
/// budget for the resulting limit.
pub fn budget() -> FdBudget {
    static B: OnceLock<FdBudget> = OnceLock::new();
    *B.get_or_init(|| {
        let limit = raise_nofile();
        let b = FdBudget::from_limit(limit);
        tracing::info!(
            nofile = b.limit,
            api_connections = b.api_connections,
            api_per_ip = b.api_per_ip,
            pending_handshakes = b.pending_handshakes,
            "descriptor budget"
        );
        if !b.peers_fit() {
            tracing::warn!(
                nofile = b.limit,
                "descriptor limit too low for the full peer limits: raise `ulimit -n`"
            );
        }
        b
    })
}

fn raise_nofile() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on a stack struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 1024;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim = raised;
            }
        }
    }
    lim.rlim_cur
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_scale_with_the_limit_and_stay_capped() {
        let small = FdBudget::from_limit(256);
        assert_eq!((small.api_connections, small.pending_handshakes), (24, 24));
        assert_eq!(small.api_per_ip, 6);
        let big = FdBudget::from_limit(1 << 20);
        assert_eq!(big.api_connections, API_MAX_CONNECTIONS);
        assert_eq!(big.pending_handshakes, MAX_PENDING_HANDSHAKES);
        assert!(big.peers_fit());
        let tiny = FdBudget::from_limit(16);
        assert_eq!(tiny.api_connections, MIN_SLICE);
    }
}
