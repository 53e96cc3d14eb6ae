//! The writer task: the only code that writes to a connected socket.
//!
//! Fed by a bounded queue of pre-encoded frames (a broadcast encodes once and
//! shares the `Bytes`). Queued bytes are bounded too. Every write runs under
//! the write deadline; a peer that does not read is closed with reason
//! `write timeout` and can never hold up anyone else, because producers only
//! ever `try_send`.

use super::closer::Closer;
use super::metrics::NetMetrics;
use super::reason::CloseReason;
use crate::clock::Clock;
use crate::constants::{
    WRITER_QUEUE_BYTES, WRITER_QUEUE_FRAMES, WRITE_TIMEOUT, WRITE_TIMEOUT_FLOOR,
};
use bytes::Bytes;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::sync::mpsc;

/// Producer side of one peer's writer queue.
#[derive(Clone)]
pub struct WriterHandle {
    tx: mpsc::Sender<Bytes>,
    queued_bytes: Arc<AtomicUsize>,
}

/// Why a frame could not be queued.
#[derive(Debug, PartialEq, Eq)]
pub enum QueueError {
    Full,
    Closed,
}

impl WriterHandle {
    /// Bytes queued and not yet written to the socket.
    pub fn queued_bytes(&self) -> usize {
        self.queued_bytes.load(Ordering::Acquire)
    }

    /// Queue a frame without ever waiting.
    pub fn try_send(&self, frame: Bytes) -> Result<(), QueueError> {
        let len = frame.len();
        let before = self.queued_bytes.fetch_add(len, Ordering::AcqRel);
        if before > 0 && before + len > WRITER_QUEUE_BYTES {
            self.queued_bytes.fetch_sub(len, Ordering::AcqRel);
            return Err(QueueError::Full);
        }
        match self.tx.try_send(frame) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.queued_bytes.fetch_sub(len, Ordering::AcqRel);
                Err(match e {
                    mpsc::error::TrySendError::Full(_) => QueueError::Full,
                    mpsc::error::TrySendError::Closed(_) => QueueError::Closed,
                })
            }
        }
    }
}

/// Spawn the writer for `sink`. It exits (shutting the write side down, after
/// draining) when every handle is dropped or `closer` fires.
pub fn spawn<W>(sink: W, clock: Clock, closer: Closer, metrics: Arc<NetMetrics>) -> WriterHandle
where
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (tx, rx) = mpsc::channel(WRITER_QUEUE_FRAMES);
    let queued_bytes = Arc::new(AtomicUsize::new(0));
    tokio::spawn(run(sink, rx, queued_bytes.clone(), clock, closer, metrics));
    WriterHandle { tx, queued_bytes }
}

async fn run<W: AsyncWrite + Unpin>(
    sink: W,
    mut rx: mpsc::Receiver<Bytes>,
    queued_bytes: Arc<AtomicUsize>,
    clock: Clock,
    closer: Closer,
    metrics: Arc<NetMetrics>,
) {
    let deadline = clock.guarded(WRITE_TIMEOUT, WRITE_TIMEOUT_FLOOR);
    let mut out = BufWriter::with_capacity(64 * 1024, sink);
    loop {
        let first = tokio::select! {
            biased; // queued frames (a Reject) still go out before a close
            f = rx.recv() => f,
            _ = closer.closed() => None,
        };
        let Some(first) = first else { break };
        // Write everything already queued, then flush once: one syscall for
        // a burst of small frames.
        let batch = async {
            let mut frame = first;
            loop {
                out.write_all(&frame).await?;
                queued_bytes.fetch_sub(frame.len(), Ordering::AcqRel);
                NetMetrics::inc(&metrics.frames_out_total);
                metrics
                    .bytes_out_total
                    .fetch_add(frame.len() as u64, Ordering::Relaxed);
                match rx.try_recv() {
                    Ok(f) => frame = f,
                    Err(_) => break,
                }
            }
            out.flush().await
        };
        match clock.timeout(deadline, batch).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                closer.close(CloseReason::Write(Arc::new(e)));
                return;
            }
            Err(_) => {
                closer.close(CloseReason::WriteTimeout);
                return;
            }
        }
    }
    // Graceful end: whatever was queued (e.g. a Reject) was flushed above.
    let _ = clock.timeout(deadline, out.shutdown()).await;
}
