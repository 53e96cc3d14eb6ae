//! A node's configuration file (`config.toml`), with command-line overrides.
//!
//! Relative paths in the file resolve against the file's own folder, so a
//! testnet folder can be copied anywhere (into a container, say) and still work.

use crate::constants::{DEFAULT_API_PORT, DEFAULT_P2P_PORT};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// Human name, e.g. `n3` (logs only).
    #[serde(default)]
    pub name: String,
    /// The node's own IP: P2P listens here and outbound sockets bind here.
    pub listen_ip: IpAddr,
    #[serde(default = "default_p2p_port")]
    pub p2p_port: u16,
    /// Where the HTTP API binds; defaults to `listen_ip`.
    #[serde(default)]
    pub api_ip: Option<IpAddr>,
    #[serde(default = "default_api_port")]
    pub api_port: u16,
    /// Path of genesis.json.
    pub genesis: PathBuf,
    /// Path of the node's ed25519 secret key (hex).
    pub key: PathBuf,
    /// Path of the wallet key that owns this node's genesis allocation (hex).
    #[serde(default)]
    pub wallet_key: Option<PathBuf>,
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Peers to dial at start; discovery finds the rest.
    #[serde(default)]
    pub bootstrap: Vec<SocketAddr>,
    /// Whether this node votes and proposes (it must also be in genesis).
    #[serde(default)]
    pub masternode: bool,
}

fn default_p2p_port() -> u16 {
    DEFAULT_P2P_PORT
}
fn default_api_port() -> u16 {
    DEFAULT_API_PORT
}
fn default_data_dir() -> PathBuf {
    PathBuf::from("data")
}

impl NodeConfig {
    /// Load and resolve relative paths against the file's folder.
    pub fn load(path: &Path) -> anyhow::Result<NodeConfig> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("reading config {}: {e}", path.display()))?;
        let mut cfg: NodeConfig =
            toml::from_str(&text).map_err(|e| anyhow::anyhow!("config {}: {e}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        cfg.resolve_paths(base);
        Ok(cfg)
    }

    pub fn resolve_paths(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        fix(&mut self.genesis);
        fix(&mut self.key);
        if let Some(w) = self.wallet_key.as_mut() {
            fix(w);
        }
        fix(&mut self.data_dir);
    }

    pub fn p2p_addr(&self) -> SocketAddr {
        SocketAddr::new(self.listen_ip, self.p2p_port)
    }

    pub fn api_addr(&self) -> SocketAddr {
        SocketAddr::new(self.api_ip.unwrap_or(self.listen_ip), self.api_port)
    }
}
