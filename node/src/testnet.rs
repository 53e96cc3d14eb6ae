//! `timed testnet`: writes a ready-to-run N-node network folder.
//!
//! Output is a pure function of the arguments: keys are derived from the seed
//! with SHA-256, genesis time is fixed, maps are ordered. The same seed gives
//! byte-identical files, so a failing harness run can be reproduced exactly.

use crate::chain::genesis::{Allocation, Genesis, GenesisMasternode, Tier};
use crate::chain::keys;
use crate::config::NodeConfig;
use crate::constants::{DEFAULT_API_PORT, DEFAULT_P2P_PORT};
use ed25519_dalek::SigningKey;
use sha2::{Digest, Sha256};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Coins each node's wallet owns at genesis.
pub const GENESIS_ALLOCATION: u64 = 1_000_000;

#[derive(Clone, Debug)]
pub struct TestnetSpec {
    pub nodes: usize,
    /// How many of the nodes (the first ones) are masternodes.
    pub masternodes: usize,
    pub base_ip: Ipv4Addr,
    pub seed: u64,
    pub block_interval: Duration,
    pub network: String,
    pub tier: Tier,
    pub p2p_port: u16,
    pub api_port: u16,
    /// How many following nodes each node bootstraps from (ring); discovery
    /// completes the mesh.
    pub bootstrap_fanout: usize,
}

impl Default for TestnetSpec {
    fn default() -> Self {
        TestnetSpec {
            nodes: 4,
            masternodes: 4,
            base_ip: Ipv4Addr::new(172, 28, 0, 11),
            seed: 0,
            block_interval: Duration::from_secs(60),
            network: "timenet".into(),
            tier: Tier::Bronze,
            p2p_port: DEFAULT_P2P_PORT,
            api_port: DEFAULT_API_PORT,
            bootstrap_fanout: 2,
        }
    }
}

/// Everything written for one node, for callers that want it in memory.
#[derive(Clone, Debug)]
pub struct TestnetNode {
    pub name: String,
    pub dir: PathBuf,
    pub config_path: PathBuf,
    pub config: NodeConfig,
    pub key: SigningKey,
    pub wallet: SigningKey,
}

#[derive(Clone, Debug)]
pub struct Testnet {
    pub genesis: Genesis,
    pub nodes: Vec<TestnetNode>,
}

fn derive_key(seed: u64, what: &str, k: usize) -> SigningKey {
    let mut h = Sha256::new();
    h.update(b"timenet-testnet-v1");
    h.update(seed.to_be_bytes());
    h.update(what.as_bytes());
    h.update((k as u64).to_be_bytes());
    SigningKey::from_bytes(&h.finalize().into())
}

/// The IP of node `k` (1-based).
pub fn node_ip(base: Ipv4Addr, k: usize) -> anyhow::Result<Ipv4Addr> {
    let ip = u32::from(base)
        .checked_add(k as u32 - 1)
        .ok_or_else(|| anyhow::anyhow!("base ip + {k} overflows"))?;
    Ok(Ipv4Addr::from(ip))
}

/// Build the testnet in memory (nothing written).
pub fn build(spec: &TestnetSpec) -> anyhow::Result<Testnet> {
    anyhow::ensure!(spec.nodes >= 1, "--nodes must be at least 1");
    anyhow::ensure!(
        spec.masternodes <= spec.nodes,
        "--masternodes ({}) exceeds --nodes ({})",
        spec.masternodes,
        spec.nodes
    );
    let ips = (1..=spec.nodes)
        .map(|k| node_ip(spec.base_ip, k))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let keys: Vec<_> = (1..=spec.nodes)
        .map(|k| derive_key(spec.seed, "node", k))
        .collect();
    let wallets: Vec<_> = (1..=spec.nodes)
        .map(|k| derive_key(spec.seed, "wallet", k))
        .collect();
    let genesis = Genesis {
        network: spec.network.clone(),
        chain_id: format!("{}-{}", spec.network, spec.seed),
        genesis_time_ms: 0,
        block_interval: spec.block_interval,
        masternodes: (0..spec.masternodes)
            .map(|i| GenesisMasternode {
                node_id: keys::node_id(&keys[i]),
                tier: spec.tier,
                ip: Some(IpAddr::V4(ips[i])),
            })
            .collect(),
        allocations: wallets
            .iter()
            .map(|w| Allocation {
                owner: keys::pubkey(w),
                amount: GENESIS_ALLOCATION,
            })
            .collect(),
    };
    let n = spec.nodes;
    let nodes = (0..n)
        .map(|i| {
            let name = format!("n{}", i + 1);
            let dir = PathBuf::from(format!("node{}", i + 1));
            let bootstrap = (1..=spec.bootstrap_fanout.min(n - 1))
                .map(|d| SocketAddr::new(IpAddr::V4(ips[(i + d) % n]), spec.p2p_port))
                .collect();
            let config = NodeConfig {
                name: name.clone(),
                listen_ip: IpAddr::V4(ips[i]),
                p2p_port: spec.p2p_port,
                api_ip: None,
                api_port: spec.api_port,
                genesis: PathBuf::from("../genesis.json"),
                key: PathBuf::from("node.key"),
                wallet_key: Some(PathBuf::from("wallet.key")),
                data_dir: PathBuf::from("data"),
                bootstrap,
                masternode: i < spec.masternodes,
            };
            TestnetNode {
                name,
                config_path: dir.join("config.toml"),
                dir,
                config,
                key: keys[i].clone(),
                wallet: wallets[i].clone(),
            }
        })
        .collect();
    Ok(Testnet { genesis, nodes })
}

/// Build and write the testnet under `out`; returns it with absolute paths.
pub fn write(spec: &TestnetSpec, out: &Path) -> anyhow::Result<Testnet> {
    let mut net = build(spec)?;
    std::fs::create_dir_all(out)?;
    let mut genesis = serde_json::to_string_pretty(&net.genesis)?;
    genesis.push('\n');
    std::fs::write(out.join("genesis.json"), genesis)?;
    for node in &mut net.nodes {
        let dir = out.join(&node.dir);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("config.toml"), toml::to_string(&node.config)?)?;
        std::fs::write(dir.join("node.key"), keys::to_file_text(&node.key))?;
        std::fs::write(dir.join("wallet.key"), keys::to_file_text(&node.wallet))?;
        node.dir = dir;
        node.config_path = node.dir.join("config.toml");
        node.config.resolve_paths(&node.dir);
    }
    Ok(net)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
        let mut out = vec![];
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p)
                } else {
                    out.push((
                        p.strip_prefix(dir).unwrap().to_path_buf(),
                        std::fs::read(&p).unwrap(),
                    ))
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn same_seed_gives_byte_identical_output_and_configs_load() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let spec = TestnetSpec {
            nodes: 3,
            masternodes: 2,
            seed: 9,
            ..Default::default()
        };
        let net = write(&spec, a.path()).unwrap();
        write(&spec, b.path()).unwrap();
        assert_eq!(read_all(a.path()), read_all(b.path()));
        let cfg = NodeConfig::load(&net.nodes[2].config_path).unwrap();
        assert_eq!(cfg.listen_ip.to_string(), "172.28.0.13");
        assert_eq!(cfg.bootstrap.len(), 2);
        assert!(!cfg.masternode);
        assert_eq!(
            Genesis::load(&cfg.genesis).unwrap().hash(),
            net.genesis.hash()
        );
        let other = build(&TestnetSpec { seed: 10, ..spec }).unwrap();
        assert_ne!(other.genesis.hash(), net.genesis.hash());
    }
}
