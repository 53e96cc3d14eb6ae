//! How one node's container is made: name, labels, static IP, command line,
//! and the config folder copied in as a tar before start.

use bollard::container::{Config, CreateContainerOptions, UploadToContainerOptions};
use bollard::models::{EndpointIpamConfig, EndpointSettings, HostConfig, PortBinding};
use bollard::secret::ContainerCreateResponse;
use bollard::Docker;
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// Where the testnet folder lives inside every container.
pub const MOUNT: &str = "/timenet";
pub const API_PORT: u16 = timed::constants::DEFAULT_API_PORT;

/// Everything needed to (re)create one node's container.
#[derive(Clone, Debug)]
pub struct NodeSpec {
    /// `n3`
    pub name: String,
    /// 1-based index: `node<K>` folder, IP base + K - 1.
    pub index: usize,
    pub ip: Ipv4Addr,
    /// `timenet-<run>-n3`
    pub container: String,
    /// The node's testnet folder on the host (`<out>/testnet/node3`).
    pub host_dir: PathBuf,
    /// `<out>/testnet/genesis.json`
    pub genesis: PathBuf,
}

impl NodeSpec {
    pub fn config_path(&self) -> String {
        format!("{MOUNT}/node{}/config.toml", self.index)
    }
    pub fn data_path(&self) -> String {
        format!("{MOUNT}/node{}/data", self.index)
    }
}

/// Per-run settings shared by all containers.
#[derive(Clone, Debug)]
pub struct RunSettings {
    pub run_id: String,
    pub network: String,
    pub image: String,
    pub time_scale: f64,
    /// Also publish the API port on 127.0.0.1 (fallback for hosts that cannot
    /// route to container IPs).
    pub publish_api: bool,
    /// Appended to every node's command line, before per-node extras.
    pub node_args: Vec<String>,
}

pub fn labels(run_id: &str, node: &str) -> HashMap<String, String> {
    HashMap::from([
        ("timenet.run".to_string(), run_id.to_string()),
        ("timenet.node".to_string(), node.to_string()),
    ])
}

/// Create (not start) the container for `node`, with `extra_args` appended to
/// `timed run`.
pub async fn create(
    docker: &Docker,
    run: &RunSettings,
    node: &NodeSpec,
    extra_args: &[String],
) -> Result<ContainerCreateResponse, bollard::errors::Error> {
    let mut cmd = vec![
        "run".to_string(),
        "--config".into(),
        node.config_path(),
        "--time-scale".into(),
        run.time_scale.to_string(),
    ];
    cmd.extend(run.node_args.iter().cloned());
    cmd.extend(extra_args.iter().cloned());
    let api = format!("{API_PORT}/tcp");
    let port_bindings = run.publish_api.then(|| {
        HashMap::from([(
            api.clone(),
            Some(vec![PortBinding {
                host_ip: Some("127.0.0.1".into()),
                host_port: None,
            }]),
        )])
    });
    let host_config = HostConfig {
        network_mode: Some(run.network.clone()),
        // For the in-container fallback of the nemesis (iptables/netlink from
        // inside via `docker exec`) when the host cannot enter namespaces.
        cap_add: Some(vec!["NET_ADMIN".into()]),
        port_bindings,
        ..Default::default()
    };
    let endpoint = EndpointSettings {
        ipam_config: Some(EndpointIpamConfig {
            ipv4_address: Some(node.ip.to_string()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let config = Config {
        image: Some(run.image.clone()),
        cmd: Some(cmd),
        labels: Some(labels(&run.run_id, &node.name)),
        exposed_ports: Some(HashMap::from([(api, HashMap::new())])),
        host_config: Some(host_config),
        networking_config: Some(bollard::container::NetworkingConfig {
            endpoints_config: HashMap::from([(run.network.clone(), endpoint)]),
        }),
        stop_timeout: Some(10),
        ..Default::default()
    };
    let opts = CreateContainerOptions {
        name: node.container.clone(),
        platform: None,
    };
    docker.create_container(Some(opts), config).await
}

/// Tar of `timenet/genesis.json` and `timenet/node<K>/*` (not `data/`).
pub fn config_tar(node: &NodeSpec) -> std::io::Result<Vec<u8>> {
    let mut tar = tar::Builder::new(Vec::new());
    tar.append_path_with_name(&node.genesis, "timenet/genesis.json")?;
    let prefix = format!("timenet/node{}", node.index);
    for entry in std::fs::read_dir(&node.host_dir)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            tar.append_path_with_name(entry.path(), Path::new(&prefix).join(entry.file_name()))?;
        }
    }
    tar.into_inner()
}

/// Copy a tar into the container's root (works before the first start).
pub async fn upload(
    docker: &Docker,
    container: &str,
    tar: Vec<u8>,
    path: &str,
) -> Result<(), bollard::errors::Error> {
    let opts = UploadToContainerOptions {
        path: path.to_string(),
        ..Default::default()
    };
    docker
        .upload_to_container(container, Some(opts), tar.into())
        .await
}
