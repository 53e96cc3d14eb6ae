//! One user-defined bridge network per run, on a /24 that clashes with no
//! existing network and with no concurrent harness run.
//!
//! Probed on the dev machine (Docker 20.10): the host reaches container IPs
//! on a user bridge directly, which is what observation relies on (see
//! `observe`); fixed subnets let the node configs carry static IPs.

use crate::provider::error::InfraError;
use bollard::models::{Ipam, IpamConfig};
use bollard::network::{CreateNetworkOptions, ListNetworksOptions};
use bollard::Docker;
use std::collections::HashMap;
use std::net::Ipv4Addr;

/// Candidate /24s: 10.213.0.0/24 .. 10.213.255.0/24, then 172.28.0.0/24 ..
/// 172.28.255.0/24. Each run starts at an offset derived from its run id, so
/// concurrent runs rarely even try the same subnet.
fn candidates(run_id: &str) -> Vec<Ipv4Addr> {
    let offset = run_id
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32));
    let mut out = Vec::with_capacity(512);
    for prefix in [[10u8, 213], [172, 28]] {
        for i in 0..256u32 {
            let third = ((i + offset) % 256) as u8;
            out.push(Ipv4Addr::new(prefix[0], prefix[1], third, 0));
        }
    }
    out
}

/// A created network.
#[derive(Clone, Debug)]
pub struct RunNetwork {
    pub name: String,
    /// Network address of the /24.
    pub subnet: Ipv4Addr,
    /// IP of node 1 (`.11`); node K is base + K - 1.
    pub base_ip: Ipv4Addr,
}

/// First host number of node 1: .1 is the gateway, leave room below.
const FIRST_HOST: u8 = 11;
/// Nodes that fit in a /24 after `FIRST_HOST`.
pub const MAX_NODES: usize = 254 - FIRST_HOST as usize;

/// Parse `a.b.c.d/len` into (network, len) for IPv4 subnets.
fn parse_cidr(s: &str) -> Option<(u32, u32)> {
    let (ip, len) = s.split_once('/')?;
    let ip: Ipv4Addr = ip.parse().ok()?;
    let len: u32 = len.parse().ok()?;
    (len <= 32).then_some((u32::from(ip), len))
}

fn overlaps(a: (u32, u32), b: (u32, u32)) -> bool {
    let len = a.1.min(b.1);
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    a.0 & mask == b.0 & mask
}

/// Subnets of all existing networks.
async fn used_subnets(docker: &Docker) -> Result<Vec<(u32, u32)>, InfraError> {
    let nets = docker
        .list_networks(None::<ListNetworksOptions<String>>)
        .await
        .map_err(|e| InfraError(format!("listing Docker networks: {e}")))?;
    Ok(nets
        .iter()
        .filter_map(|n| n.ipam.as_ref()?.config.as_ref())
        .flatten()
        .filter_map(|c| parse_cidr(c.subnet.as_deref()?))
        .collect())
}

/// Create `timenet-<run_id>` on a free /24. Retries on "Pool overlaps"
/// (another run or tool created a network between our listing and our
/// create); gives up with an [`InfraError`] after a few tries.
pub async fn create(docker: &Docker, run_id: &str, nodes: usize) -> Result<RunNetwork, InfraError> {
    if nodes > MAX_NODES {
        return Err(InfraError(format!(
            "{nodes} nodes do not fit in one /24 network (max {MAX_NODES})"
        )));
    }
    let name = format!("timenet-{run_id}");
    let used = used_subnets(docker).await?;
    let free = candidates(run_id)
        .into_iter()
        .filter(|c| !used.iter().any(|u| overlaps(*u, (u32::from(*c), 24))));
    let mut last_err = String::from("every candidate subnet is in use");
    for (attempt, subnet) in free.enumerate() {
        if attempt >= 8 {
            break;
        }
        let o = subnet.octets();
        let opts = CreateNetworkOptions {
            name: name.clone(),
            driver: "bridge".into(),
            check_duplicate: true,
            ipam: Ipam {
                config: Some(vec![IpamConfig {
                    subnet: Some(format!("{subnet}/24")),
                    gateway: Some(Ipv4Addr::new(o[0], o[1], o[2], 1).to_string()),
                    ..Default::default()
                }]),
                ..Default::default()
            },
            labels: HashMap::from([("timenet.run".to_string(), run_id.to_string())]),
            ..Default::default()
        };
        match docker.create_network(opts).await {
            Ok(_) => {
                tracing::info!(network = %name, %subnet, "created network");
                return Ok(RunNetwork {
                    name,
                    subnet,
                    base_ip: Ipv4Addr::new(o[0], o[1], o[2], FIRST_HOST),
                });
            }
            Err(e) => {
                let text = e.to_string();
                tracing::warn!(%subnet, error = %text, "network create failed, trying another subnet");
                if !text.to_lowercase().contains("overlap") {
                    return Err(InfraError(format!("creating network {name}: {text}")));
                }
                last_err = text;
            }
        }
    }
    Err(InfraError(format!(
        "no free subnet for network {name} in 10.213.0.0/16 or 172.28.0.0/16: {last_err}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_and_parse() {
        let a = parse_cidr("172.28.0.0/16").unwrap();
        let b = parse_cidr("172.28.5.0/24").unwrap();
        let c = parse_cidr("10.213.5.0/24").unwrap();
        assert!(overlaps(a, b) && overlaps(b, a));
        assert!(!overlaps(a, c));
        assert!(overlaps(parse_cidr("0.0.0.0/0").unwrap(), c));
        assert_eq!(parse_cidr("fd00::/64"), None);
    }

    #[test]
    fn candidates_differ_per_run_and_cover_both_ranges() {
        let a = candidates("tn-aaaaaa");
        let b = candidates("tn-bbbbbb");
        assert_eq!(a.len(), 512);
        assert_ne!(a[0], b[0]);
        assert!(a.iter().any(|s| s.octets()[0] == 172));
    }
}
