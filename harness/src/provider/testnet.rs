//! Node configs for a run: `timed::testnet::write` with the run's base IP,
//! then the scenario's per-node overrides (bootstrap list, foreign genesis).

use crate::scenario::Scenario;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use timed::config::NodeConfig;
use timed::testnet::{self, Testnet, TestnetSpec};

pub fn spec(sc: &Scenario, base_ip: Ipv4Addr) -> TestnetSpec {
    TestnetSpec {
        nodes: sc.network.nodes,
        masternodes: sc.masternode_count(),
        base_ip,
        seed: sc.seed,
        block_interval: sc.network.block_interval,
        bootstrap_fanout: sc.network.bootstrap_fanout.unwrap_or(2),
        ..Default::default()
    }
}

/// Write `<dir>/genesis.json` and `<dir>/node<K>/` for the scenario.
pub fn write(sc: &Scenario, base_ip: Ipv4Addr, dir: &Path) -> anyhow::Result<Testnet> {
    let spec = spec(sc, base_ip);
    let net = testnet::write(&spec, dir)?;
    for ns in &sc.nodes {
        let Some(i) = net.nodes.iter().position(|n| n.name == ns.name) else {
            continue;
        };
        let path = dir.join(format!("node{}", i + 1)).join("config.toml");
        // Edit the file as written (relative paths), not the resolved copy.
        let mut cfg: NodeConfig = toml::from_str(&std::fs::read_to_string(&path)?)?;
        if let Some(boot) = &ns.bootstrap {
            cfg.bootstrap =
                boot.iter()
                    .map(|b| {
                        let j =
                            net.nodes.iter().position(|n| &n.name == b).ok_or_else(|| {
                                anyhow::anyhow!("bootstrap node {b} does not exist")
                            })?;
                        Ok(SocketAddr::new(
                            net.nodes[j].config.listen_ip,
                            spec.p2p_port,
                        ))
                    })
                    .collect::<anyhow::Result<_>>()?;
        }
        if ns.foreign_genesis {
            // Same IPs, different chain: the others must refuse its handshake.
            let foreign = testnet::build(&TestnetSpec {
                seed: spec.seed ^ 0x5eed_f0e1,
                network: format!("{}-foreign", spec.network),
                ..spec.clone()
            })?;
            let mut text = serde_json::to_string_pretty(&foreign.genesis)?;
            text.push('\n');
            std::fs::write(path.with_file_name("foreign-genesis.json"), text)?;
            cfg.genesis = "foreign-genesis.json".into();
            cfg.masternode = false;
        }
        std::fs::write(&path, toml::to_string(&cfg)?)?;
    }
    Ok(net)
}
