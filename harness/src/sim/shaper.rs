//! Link shaping in the simulation: what netem would do to a real link, and
//! what the kernel cannot do to a TCP stream at all, applied where the
//! receiving node reads its socket.
//!
//! Effects are per directed link (sender IP -> receiver IP), set by the
//! fault schedule ([`super::faults`]) as desired state:
//! - `delay` + `jitter`: every message is held `delay + U(0..=jitter)`
//!   after it arrived; TCP keeps byte order, so a message never overtakes
//!   the one before it (a late one holds up the next: head-of-line).
//! - `loss`: the kernel drops a segment and TCP retransmits it after the
//!   retransmission timeout, doubling per consecutive loss. turmoil's TCP
//!   has no retransmission (a dropped segment would stall the stream for
//!   good), so a lost message is modelled as its retransmission delay:
//!   `RTO * (2^k - 1)` for `k` consecutive losses, each with probability `p`.
//! - `rate`: the link's bandwidth; a message waits for the ones before it
//!   to be serialised (`len / rate`), so bursts queue up.
//! - `reorder` / `duplicate`: at the message level (the node frames its
//!   stream as newline-delimited JSON): a reordered message skips the delay
//!   and overtakes those held before it (netem's reorder), a duplicated one
//!   is delivered twice. No kernel does this to one TCP stream; it models a
//!   relay or retransmitting layer that breaks TCP's ordering promise. The
//!   first [`HANDSHAKE_FRAMES`] messages of a stream are exempt.
//!
//! Streams on a link without effects pass bytes through untouched.

use super::constants::{HANDSHAKE_FRAMES, LOSS_MAX_RETRIES, RTO};
use crate::splitmix::SplitMix;
use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, ReadBuf};
use tokio::time::{Instant, Sleep};

/// What one directed link does to the messages on it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LinkEffect {
    pub delay: Duration,
    pub jitter: Duration,
    /// Probability a segment is lost (and retransmitted).
    pub loss: f64,
    /// Bytes per second; `None`: unlimited.
    pub rate: Option<u64>,
    pub reorder: f64,
    pub duplicate: f64,
}

impl LinkEffect {
    pub fn is_none(&self) -> bool {
        *self == LinkEffect::default()
    }

    /// Two faults on one link: delays add, losses compound, the lower
    /// rate wins, reorder/duplicate take the larger probability.
    pub fn combine(&mut self, o: &LinkEffect) {
        self.delay += o.delay;
        self.jitter += o.jitter;
        self.loss = 1.0 - (1.0 - self.loss) * (1.0 - o.loss);
        self.rate = match (self.rate, o.rate) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.reorder = self.reorder.max(o.reorder);
        self.duplicate = self.duplicate.max(o.duplicate);
    }
}

/// The effects of every directed link of one run (one owner writes it:
/// the fault schedule; every shaped stream reads it).
#[derive(Clone, Default)]
pub struct Shaper {
    inner: Arc<Mutex<ShaperInner>>,
}

#[derive(Default)]
struct ShaperInner {
    seed: u64,
    links: BTreeMap<(IpAddr, IpAddr), LinkEffect>,
    streams: u64,
}

impl Shaper {
    pub fn new(seed: u64) -> Shaper {
        let s = Shaper::default();
        s.inner.lock().unwrap().seed = seed;
        s
    }

    /// Replace every link's effect (links not named have none).
    pub fn set(&self, links: BTreeMap<(IpAddr, IpAddr), LinkEffect>) {
        self.inner.lock().unwrap().links = links;
    }

    fn effect(&self, from: IpAddr, to: IpAddr) -> LinkEffect {
        let g = self.inner.lock().unwrap();
        g.links.get(&(from, to)).copied().unwrap_or_default()
    }

    /// Wrap the read half of a stream that `to` receives from `from`.
    pub fn reader<R>(&self, io: R, from: IpAddr, to: IpAddr) -> ShapedRead<R> {
        let seed = {
            let mut g = self.inner.lock().unwrap();
            g.streams += 1;
            g.seed ^ g.streams.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        };
        ShapedRead {
            io,
            shaper: self.clone(),
            from,
            to,
            rng: SplitMix(seed),
            partial: Vec::new(),
            queue: BTreeMap::new(),
            out: Vec::new(),
            out_pos: 0,
            seq: 0,
            frames: 0,
            ordered_ready: None,
            handshake_ready: None,
            wire_free: None,
            end: None,
            sleep: None,
        }
    }
}

/// A read half whose messages are delivered as the link's effect says.
pub struct ShapedRead<R> {
    io: R,
    shaper: Shaper,
    from: IpAddr,
    to: IpAddr,
    rng: SplitMix,
    /// Bytes read but not yet a whole message.
    partial: Vec<u8>,
    /// Messages waiting for their delivery time: (ready, seq) -> bytes.
    queue: BTreeMap<(Instant, u64), Vec<u8>>,
    /// The message being handed to the reader.
    out: Vec<u8>,
    out_pos: usize,
    seq: u64,
    frames: u64,
    /// Delivery time of the last in-order message (TCP byte order).
    ordered_ready: Option<Instant>,
    /// Delivery time of the last handshake message (nothing overtakes it).
    handshake_ready: Option<Instant>,
    /// When the link's wire is free again (bandwidth).
    wire_free: Option<Instant>,
    /// The inner stream ended (EOF or error) after the queued messages.
    end: Option<io::Result<()>>,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl<R> ShapedRead<R> {
    fn schedule(&mut self, msg: Vec<u8>, e: &LinkEffect, now: Instant) {
        self.frames += 1;
        let on_wire = match e.rate {
            Some(rate) => {
                let start = self.wire_free.map_or(now, |w| w.max(now));
                let free = start + Duration::from_secs_f64(msg.len() as f64 / rate.max(1) as f64);
                self.wire_free = Some(free);
                free
            }
            None => now,
        };
        let mut extra = e.delay;
        if !e.jitter.is_zero() {
            extra += e.jitter.mul_f64(self.rng.unit());
        }
        let mut rto = RTO;
        for _ in 0..LOSS_MAX_RETRIES {
            if !self.rng.chance(e.loss) {
                break;
            }
            extra += rto;
            rto *= 2;
        }
        let free_form = self.frames > HANDSHAKE_FRAMES;
        let ready = if free_form && self.rng.chance(e.reorder) {
            // Overtakes whatever is held (netem's reorder), never the handshake.
            on_wire.max(self.handshake_ready.unwrap_or(now))
        } else {
            let r = (on_wire + extra).max(self.ordered_ready.unwrap_or(now));
            self.ordered_ready = Some(r);
            if !free_form {
                self.handshake_ready = Some(r);
            }
            r
        };
        if free_form && self.rng.chance(e.duplicate) {
            self.seq += 1;
            self.queue.insert((ready, self.seq), msg.clone());
        }
        self.seq += 1;
        self.queue.insert((ready, self.seq), msg);
    }

    /// Split what was read into whole messages and schedule them.
    fn take_frames(&mut self, e: &LinkEffect, now: Instant) {
        while let Some(i) = self.partial.iter().position(|b| *b == b'\n') {
            let rest = self.partial.split_off(i + 1);
            let msg = std::mem::replace(&mut self.partial, rest);
            self.schedule(msg, e, now);
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for ShapedRead<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if this.out_pos < this.out.len() {
                let n = (this.out.len() - this.out_pos).min(buf.remaining());
                buf.put_slice(&this.out[this.out_pos..this.out_pos + n]);
                this.out_pos += n;
                return Poll::Ready(Ok(()));
            }
            let e = this.shaper.effect(this.from, this.to);
            let idle = this.queue.is_empty() && this.partial.is_empty();
            if e.is_none() && idle && this.end.is_none() {
                // No effect and nothing held: the plain stream.
                return Pin::new(&mut this.io).poll_read(cx, buf);
            }
            let now = Instant::now();
            // Take in everything the network delivered so far.
            while this.end.is_none() {
                let mut tmp = [0u8; 8192];
                let mut rb = ReadBuf::new(&mut tmp);
                match Pin::new(&mut this.io).poll_read(cx, &mut rb) {
                    Poll::Ready(Ok(())) if rb.filled().is_empty() => this.end = Some(Ok(())),
                    Poll::Ready(Ok(())) => {
                        this.partial.extend_from_slice(rb.filled());
                        if e.is_none() {
                            // Effect lifted: the rest keeps its order.
                            let msg = std::mem::take(&mut this.partial);
                            this.schedule(msg, &e, now);
                        } else {
                            this.take_frames(&e, now);
                        }
                    }
                    Poll::Ready(Err(err)) => this.end = Some(Err(err)),
                    Poll::Pending => break,
                }
            }
            if e.is_none() && !this.partial.is_empty() {
                let msg = std::mem::take(&mut this.partial); // effect lifted mid-line
                this.schedule(msg, &e, now);
            }
            if let Some(((ready, _), _)) = this.queue.first_key_value() {
                if *ready <= now {
                    let (_, msg) = this.queue.pop_first().expect("non-empty");
                    this.out = msg;
                    this.out_pos = 0;
                    continue;
                }
                let at = *ready;
                let sleep = this
                    .sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at)));
                sleep.as_mut().reset(at);
                if sleep.as_mut().poll(cx).is_ready() {
                    continue;
                }
                return Poll::Pending;
            }
            if this.end.is_some() && !this.partial.is_empty() {
                this.out = std::mem::take(&mut this.partial); // a last unterminated line
                this.out_pos = 0;
                continue;
            }
            return match this.end.take() {
                Some(r) => Poll::Ready(r),
                None => Poll::Pending,
            };
        }
    }
}

#[cfg(test)]
#[path = "shaper_tests.rs"]
mod tests;
