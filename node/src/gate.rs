//! A freeze gate: while closed, every timer of the node's [`crate::clock::Clock`]
//! and every socket read, write and accept of a transport that holds it
//! waits; when it opens, they all go on at once. The simulation uses it to
//! model a frozen process (SIGSTOP, cgroup freezer) and a CPU quota (the
//! process runs only part of each period). A real process never has one
//! (`Clock::gate` is `None` outside the simulation): nothing waits on it.
//!
//! One owner opens and closes it (the simulation's fault schedule); any
//! number of tasks wait on it. Wakers are woken in the order they
//! registered, so a single-threaded runtime replays identically.

use std::future::poll_fn;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};

#[derive(Debug, Default)]
pub struct Gate {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    closed: bool,
    waiting: Vec<Waker>,
}

impl Gate {
    /// Close the gate: whatever reaches it next waits.
    pub fn close(&self) {
        self.inner.lock().unwrap().closed = true;
    }

    /// Open the gate and wake everything that waited on it.
    pub fn open(&self) {
        let waiting = {
            let mut g = self.inner.lock().unwrap();
            g.closed = false;
            std::mem::take(&mut g.waiting)
        };
        for w in waiting {
            w.wake();
        }
    }

    pub fn is_closed(&self) -> bool {
        self.inner.lock().unwrap().closed
    }

    /// `Ready` when open; else registers `cx`'s waker for [`Self::open`].
    pub fn poll_pass(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut g = self.inner.lock().unwrap();
        if !g.closed {
            return Poll::Ready(());
        }
        if !g.waiting.iter().any(|w| w.will_wake(cx.waker())) {
            g.waiting.push(cx.waker().clone());
        }
        Poll::Pending
    }

    /// Wait until the gate is open.
    pub async fn pass(&self) {
        poll_fn(|cx| self.poll_pass(cx)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn a_closed_gate_holds_until_opened() {
        let gate = Arc::new(Gate::default());
        gate.close();
        let g = gate.clone();
        let waiter = tokio::spawn(async move { g.pass().await });
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(!waiter.is_finished(), "passed a closed gate");
        gate.open();
        tokio::time::timeout(Duration::from_millis(1), waiter)
            .await
            .expect("still waiting after open")
            .unwrap();
    }

    #[tokio::test]
    async fn an_open_gate_never_waits() {
        let gate = Gate::default();
        gate.pass().await;
        assert!(!gate.is_closed());
    }
}
