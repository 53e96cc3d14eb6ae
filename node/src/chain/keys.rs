//! Key files: one ed25519 secret key as 64 hex characters (plus newline).

use crate::chain::types::{NodeId, PubKey};
use ed25519_dalek::SigningKey;
use std::path::Path;

pub fn load(path: &Path) -> anyhow::Result<SigningKey> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("reading key {}: {e}", path.display()))?;
    let bytes = hex::decode(text.trim())
        .map_err(|e| anyhow::anyhow!("key {} is not hex: {e}", path.display()))?;
    let arr: [u8; 32] = bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!("key {} must be 32 bytes", path.display()))?;
    Ok(SigningKey::from_bytes(&arr))
}

pub fn to_file_text(key: &SigningKey) -> String {
    format!("{}\n", hex::encode(key.to_bytes()))
}

pub fn node_id(key: &SigningKey) -> NodeId {
    NodeId(key.verifying_key().to_bytes())
}

pub fn pubkey(key: &SigningKey) -> PubKey {
    PubKey(key.verifying_key().to_bytes())
}
