//! The wire protocol: message types and the line codec.

pub mod codec;
pub mod message;

pub use codec::{decode, encode, FrameCodec, FrameError};
pub use message::{Hello, MasternodeInfo, NetworkMessage, PeerAddr, Recipients, Request, Response};
