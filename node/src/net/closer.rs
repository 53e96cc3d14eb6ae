//! Closes one connection from anywhere (its actor, its writer, the registry
//! on a ban or shutdown), with a typed reason. The first reason wins.

use super::reason::CloseReason;
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

/// The close signal of one connection and the reason it was given.
#[derive(Clone, Default)]
pub struct Closer {
    token: CancellationToken,
    reason: Arc<Mutex<Option<CloseReason>>>,
}

impl Closer {
    pub fn close(&self, reason: CloseReason) {
        let mut r = self.reason.lock().unwrap();
        if r.is_none() {
            *r = Some(reason);
        }
        drop(r);
        self.token.cancel();
    }

    pub async fn closed(&self) {
        self.token.cancelled().await
    }

    pub fn reason(&self) -> Option<CloseReason> {
        self.reason.lock().unwrap().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_reason_wins() {
        let c = Closer::default();
        assert!(c.reason().is_none());
        c.close(CloseReason::PingTimeout);
        c.close(CloseReason::Shutdown);
        assert!(matches!(c.reason(), Some(CloseReason::PingTimeout)));
    }
}
