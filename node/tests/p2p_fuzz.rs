//! Property-based fuzzing (fixed case count, runs in `cargo test`) of the
//! untrusted-input path: FrameCodec -> decode -> handshake validation.
//! The property: no panic, limits hold, every frame is within the limit.

use bytes::BytesMut;
use proptest::prelude::*;
use timed::chain::types::{Hash, NodeId};
use timed::constants::{MAGIC, PROTOCOL_VERSION};
use timed::net::handshake::validate;
use timed::wire::{decode, encode, FrameCodec, Hello, NetworkMessage};
use tokio_util::codec::Decoder;

/// The node id of a fixed key.
fn id(i: u8) -> NodeId {
    timed::chain::keys::node_id(&ed25519_dalek::SigningKey::from_bytes(&[i; 32]))
}

fn ours() -> Hello {
    Hello {
        magic: MAGIC,
        version: PROTOCOL_VERSION,
        network: "timenet".into(),
        genesis_hash: Hash([1; 32]),
        node_id: id(1),
        nonce: 42,
        listen_port: 24100,
        height: 0,
    }
}

/// Feed `chunks` through a codec with limit `max`, the way a socket would.
fn drive(chunks: &[Vec<u8>], max: usize) {
    let mut codec = FrameCodec::new(max);
    let mut buf = BytesMut::new();
    for c in chunks {
        buf.extend_from_slice(c);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(frame)) => {
                    assert!(frame.len() <= max, "frame over the limit");
                    if let Ok(
                        NetworkMessage::Handshake(h)
                        | NetworkMessage::HandshakeAuth { hello: h, .. },
                    ) = decode(&frame)
                    {
                        let _ = validate(&ours(), &h);
                    }
                }
                Ok(None) => break,
                Err(_) => return, // the connection would close here
            }
        }
        assert!(buf.len() <= max + 64 * 1024, "buffered past the limit");
    }
}

/// Fragments that look like our protocol, so decode gets past the first byte.
fn protocolish() -> impl Strategy<Value = Vec<u8>> {
    let atoms = prop::sample::select(vec![
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\"",
        "\n",
        "\"type\"",
        "\"handshake\"",
        "\"ping\"",
        "\"pong\"",
        "\"nonce\"",
        "\"request\"",
        "\"response\"",
        "\"id\"",
        "\"body\"",
        "\"kind\"",
        "\"get_peers\"",
        "\"magic\"",
        "\"version\"",
        "\"genesis_hash\"",
        "1",
        "-1",
        "1e999",
        "null",
        "true",
        "18446744073709551616",
        "\"\\u0000\"",
        "\u{fffd}",
    ]);
    prop::collection::vec(atoms, 0..64).prop_map(|v| v.concat().into_bytes())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..16),
                                max in 1usize..512) {
        drive(&chunks, max);
    }

    #[test]
    fn protocol_like_fragments_never_panic(chunks in prop::collection::vec(protocolish(), 0..16)) {
        drive(&chunks, 4096);
    }

    #[test]
    fn mutated_handshakes_never_panic_and_valid_ones_pass(
        nonce in any::<u64>(), magic in any::<u32>(), version in any::<u32>(),
        network in "[a-z]{0,12}", flip in any::<usize>(), byte in any::<u8>(), split in any::<usize>())
    {
        let h = Hello { magic, version, network: network.clone(), nonce, node_id: id(2), ..ours() };
        let frame = encode(&NetworkMessage::Handshake(h.clone()));
        // Unmutated: round-trips and validates iff every field matches.
        let back = decode(&frame[..frame.len() - 1]).unwrap();
        prop_assert_eq!(back, NetworkMessage::Handshake(h.clone()));
        let ok = magic == MAGIC && version == PROTOCOL_VERSION && network == "timenet";
        prop_assert_eq!(validate(&ours(), &h).is_ok(), ok);
        // One byte changed, delivered in two pieces.
        let mut bad = frame.to_vec();
        let i = flip % bad.len();
        bad[i] = byte;
        let cut = split % (bad.len() + 1);
        drive(&[bad[..cut].to_vec(), bad[cut..].to_vec()], 4096);
    }
}
