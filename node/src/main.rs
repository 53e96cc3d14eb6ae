//! The `timed` command line (DESIGN.md contract).

use clap::{Parser, Subcommand};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;
use timed::chain::genesis::Tier;
use timed::clock::Clock;
use timed::config::NodeConfig;
use timed::testnet::{self, TestnetSpec};

#[derive(Parser)]
#[command(name = "timed", version, about = "timenet masternode node")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Write genesis.json and one config folder per node for an N-node testnet.
    Testnet {
        #[arg(long)]
        nodes: usize,
        /// How many nodes are masternodes (default: all).
        #[arg(long)]
        masternodes: Option<usize>,
        /// IP of node 1; node K gets base+K-1.
        #[arg(long, default_value = "172.28.0.11")]
        base_ip: Ipv4Addr,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
        block_interval: Duration,
        #[arg(long, default_value = "timenet")]
        network: String,
        #[arg(long, default_value = "bronze", value_parser = parse_tier)]
        tier: Tier,
        /// How many following nodes each node bootstraps from.
        #[arg(long, default_value_t = 2)]
        bootstrap_fanout: usize,
    },
    /// Run a node.
    Run(RunArgs),
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    #[arg(long)]
    config: PathBuf,
    /// Divide every protocol timer by this factor.
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
    #[arg(long)]
    data_dir: Option<PathBuf>,
    #[arg(long)]
    listen_ip: Option<IpAddr>,
    #[arg(long)]
    p2p_port: Option<u16>,
    #[arg(long)]
    api_ip: Option<IpAddr>,
    #[arg(long)]
    api_port: Option<u16>,
    /// Replaces the config's bootstrap list (repeatable).
    #[arg(long)]
    bootstrap: Vec<SocketAddr>,
    /// Chain-clock skew in ms (a harness fault).
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    clock_skew_ms: i64,
    /// Log as JSON lines instead of text.
    #[arg(long)]
    log_json: bool,
}

fn parse_tier(s: &str) -> Result<Tier, String> {
    serde_json::from_value(serde_json::Value::String(s.to_lowercase()))
        .map_err(|_| format!("unknown tier {s:?}: free, bronze, silver or gold"))
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Testnet {
            nodes,
            masternodes,
            base_ip,
            out,
            seed,
            block_interval,
            network,
            tier,
            bootstrap_fanout,
        } => {
            let spec = TestnetSpec {
                nodes,
                masternodes: masternodes.unwrap_or(nodes),
                base_ip,
                seed,
                block_interval,
                network,
                tier,
                bootstrap_fanout,
                ..Default::default()
            };
            let net = testnet::write(&spec, &out)?;
            println!(
                "wrote {} nodes to {} (genesis {})",
                net.nodes.len(),
                out.display(),
                net.genesis.hash()
            );
            Ok(())
        }
        Cmd::Run(args) => run(args),
    }
}

/// `timed run`: load the config, apply flag overrides, start the node and
/// run until SIGTERM or Ctrl-C, then close every connection (reason
/// `shutdown`) and exit 0.
fn run(args: RunArgs) -> anyhow::Result<()> {
    init_tracing(args.log_json);
    anyhow::ensure!(
        args.time_scale.is_finite() && args.time_scale > 0.0,
        "--time-scale must be a positive number"
    );
    let mut cfg = NodeConfig::load(&args.config)?;
    if let Some(d) = args.data_dir {
        cfg.data_dir = d;
    }
    if let Some(ip) = args.listen_ip {
        cfg.listen_ip = ip;
    }
    if let Some(p) = args.p2p_port {
        cfg.p2p_port = p;
    }
    if let Some(ip) = args.api_ip {
        cfg.api_ip = Some(ip);
    }
    if let Some(p) = args.api_port {
        cfg.api_port = p;
    }
    if !args.bootstrap.is_empty() {
        cfg.bootstrap = args.bootstrap;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let clock = Clock::new(args.time_scale);
        clock.set_skew_ms(args.clock_skew_ms);
        let node = timed::node::start(&cfg, clock).await?;
        let signal = wait_for_signal().await?;
        tracing::info!(signal, "shutting down");
        node.shutdown().await;
        tracing::info!("stopped");
        Ok(())
    })
}

async fn wait_for_signal() -> anyhow::Result<&'static str> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    Ok(tokio::select! {
        biased;
        _ = term.recv() => "SIGTERM",
        _ = tokio::signal::ctrl_c() => "SIGINT",
    })
}

/// Logs to stderr, one escaped line per record (peer text cannot forge a
/// line); `RUST_LOG` filters (default `info`).
fn init_tracing(json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(timed::logging::EscapedStderr { keep_ansi: ansi });
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
