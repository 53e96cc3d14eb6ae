//! Newline-delimited JSON framing with a hard, adjustable line limit.
//!
//! The limit is checked while bytes arrive, before a frame is buffered whole:
//! a peer that sends an endless line costs us at most `max_len` bytes of
//! buffer and then loses its connection. The decoder is driven through
//! `tokio_util::codec::FramedRead`, whose `next()` is cancel-safe, so it can
//! sit in a `select!` next to timers (never `read_exact` inside `select!`).

use super::message::NetworkMessage;
use bytes::{Bytes, BytesMut};
use tokio_util::codec::Decoder;

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("frame exceeds {max} bytes")]
    TooLong { max: usize },
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

/// Splits a byte stream into lines (without the trailing `\n`).
#[derive(Debug)]
pub struct FrameCodec {
    max_len: usize,
    /// Bytes of the buffer already known to contain no newline.
    scanned: usize,
}

impl FrameCodec {
    pub fn new(max_len: usize) -> Self {
        FrameCodec {
            max_len,
            scanned: 0,
        }
    }

    /// Raise (or lower) the limit, e.g. once the handshake completed.
    pub fn set_max_len(&mut self, max_len: usize) {
        self.max_len = max_len;
    }

    pub fn max_len(&self) -> usize {
        self.max_len
    }
}

impl Decoder for FrameCodec {
    type Item = Bytes;
    type Error = FrameError;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        let window = buf.len().min(self.max_len + 1);
        match buf[self.scanned.min(window)..window]
            .iter()
            .position(|b| *b == b'\n')
        {
            Some(pos) => {
                let end = self.scanned.min(window) + pos;
                let mut line = buf.split_to(end + 1);
                line.truncate(end);
                self.scanned = 0;
                Ok(Some(line.freeze()))
            }
            None if buf.len() > self.max_len => Err(FrameError::TooLong { max: self.max_len }),
            None => {
                self.scanned = buf.len();
                // Ask for no more than the limit allows.
                buf.reserve((self.max_len + 1 - buf.len()).min(64 * 1024));
                Ok(None)
            }
        }
    }
}

/// Serialize one message as a frame (JSON + `\n`).
pub fn encode(msg: &NetworkMessage) -> Bytes {
    let mut v = serde_json::to_vec(msg).expect("NetworkMessage always serializes");
    v.push(b'\n');
    Bytes::from(v)
}

/// Decode one frame. Unknown `type`s decode as `NetworkMessage::Unknown`.
pub fn decode(frame: &[u8]) -> Result<NetworkMessage, serde_json::Error> {
    serde_json::from_slice(frame)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_lines_and_keeps_partial_frames() {
        let mut c = FrameCodec::new(100);
        let mut b = BytesMut::from(&b"{\"a\":1}\n{\"b\""[..]);
        assert_eq!(
            c.decode(&mut b).unwrap().unwrap(),
            Bytes::from_static(b"{\"a\":1}")
        );
        assert!(c.decode(&mut b).unwrap().is_none());
        b.extend_from_slice(b":2}\n");
        assert_eq!(
            c.decode(&mut b).unwrap().unwrap(),
            Bytes::from_static(b"{\"b\":2}")
        );
        assert!(b.is_empty());
    }

    #[test]
    fn rejects_a_line_longer_than_the_limit_before_its_end_arrives() {
        let mut c = FrameCodec::new(16);
        let mut b = BytesMut::from(&[b'x'; 17][..]);
        assert!(matches!(
            c.decode(&mut b),
            Err(FrameError::TooLong { max: 16 })
        ));
        let mut c = FrameCodec::new(16);
        let mut b = BytesMut::from(&[b'x'; 16][..]);
        assert!(c.decode(&mut b).unwrap().is_none());
    }

    #[test]
    fn unknown_types_decode_as_unknown_and_ping_roundtrips() {
        assert_eq!(
            decode(br#"{"type":"from_the_future","x":[1,2]}"#).unwrap(),
            NetworkMessage::Unknown
        );
        let m = NetworkMessage::Ping { nonce: 7 };
        let f = encode(&m);
        assert_eq!(decode(&f[..f.len() - 1]).unwrap(), m);
        assert!(decode(b"{not json").is_err());
    }
}
