//! Real, silent packet drops inside a container's network namespace, set
//! from the host: `nsenter --net=/proc/PID/ns/net iptables -w ...`.
//!
//! All our rules live in one chain of our own, [`CHAIN`], jumped to from
//! `INPUT` at position 1 so it runs before any conntrack `ESTABLISHED`
//! accept: established connections are cut too, exactly like a real split.
//! Drops are on the RECEIVING side: a cut `from -> to` is `-s <from-ip> -j
//! DROP` in `to`'s namespace. `DROP` (not `REJECT`) so the sender sees
//! silence, not a reset. Healing flushes our chain and never touches any
//! other rule.
//!
//! A node's chain is replaced in ONE `iptables-restore --noflush`
//! transaction (declaring the chain flushes only it), so a node never sits
//! half-partitioned and a 30-node partition costs two process spawns per
//! node, not one per rule.
//!
//! A namespace dies with the container's network sandbox (restart, recreate),
//! so rules must be re-installed when a node starts again; the nemesis does
//! that ([`super::Nemesis::on_node_started`]).
//!
//! Fallback when the host cannot enter a container's namespace (not root, no
//! nsenter): NOT implemented. The plan is a netlink subcommand of the node
//! image's own static binary run via `docker exec` in a container started
//! with NET_ADMIN; until then [`check`] and [`install`] fail with a message
//! saying so.

use anyhow::{anyhow, bail, Context};
use std::net::IpAddr;
use tokio::process::Command;

/// Our chain in every node's `filter` table.
pub const CHAIN: &str = "TIMENET";

/// One rule of our chain in one node's namespace.
#[derive(Clone, Debug, PartialEq)]
pub enum Rule {
    /// Drop every packet from this source (one directed cut).
    DropFrom(IpAddr),
    /// Drop each received packet with this probability; only TCP to or from
    /// `port` when given (so the harness's API polling is not disturbed).
    Loss { probability: f64, port: Option<u16> },
}

/// An address family: each has its own iptables binary and tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    /// The iptables binary that handles this family.
    pub fn binary(self) -> &'static str {
        match self {
            Family::V4 => "iptables",
            Family::V6 => "ip6tables",
        }
    }
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// The rule specs (what follows `-A TIMENET`) for `rule`, each with the
/// address family it belongs to. Loss rules are IPv4 only (the Docker
/// provider's networks are IPv4).
pub fn rule_specs(rule: &Rule) -> Vec<(Family, Vec<String>)> {
    match rule {
        Rule::DropFrom(ip) => {
            let src = ip.to_string();
            let family = if ip.is_ipv6() { Family::V6 } else { Family::V4 };
            vec![(family, args(&["-s", &src, "-j", "DROP"]))]
        }
        Rule::Loss { probability, port } => {
            let p = format!("{probability:.4}");
            let stat = [
                "-m",
                "statistic",
                "--mode",
                "random",
                "--probability",
                &p,
                "-j",
                "DROP",
            ];
            match port {
                None => vec![(Family::V4, args(&stat))],
                Some(port) => {
                    let port = port.to_string();
                    ["--dport", "--sport"]
                        .iter()
                        .map(|dir| {
                            let mut a = args(&["-p", "tcp", dir, &port]);
                            a.extend(args(&stat));
                            (Family::V4, a)
                        })
                        .collect()
                }
            }
        }
    }
}

/// The `iptables-restore --noflush` input that makes our chain hold exactly
/// `specs` (declaring the chain creates or flushes it, nothing else is
/// touched), inserting the jump from INPUT at position 1 when `add_jump`.
pub fn restore_script(specs: &[Vec<String>], add_jump: bool) -> String {
    let mut script = format!("*filter\n:{CHAIN} - [0:0]\n");
    if add_jump {
        script.push_str(&format!("-I INPUT 1 -j {CHAIN}\n"));
    }
    for spec in specs {
        script.push_str(&format!("-A {CHAIN} {}\n", spec.join(" ")));
    }
    script.push_str("COMMIT\n");
    script
}

/// Make sure `iptables` and `nsenter` exist on the host; the error names the
/// missing piece.
pub async fn check() -> anyhow::Result<()> {
    for (bin, hint) in [
        ("iptables", "install it (Debian: apt-get install iptables)"),
        (
            "iptables-restore",
            "install it (Debian: apt-get install iptables)",
        ),
        ("nsenter", "install it (Debian: apt-get install util-linux)"),
    ] {
        let out = Command::new(bin).arg("--version").output().await;
        match out {
            Ok(o) if o.status.success() => {}
            Ok(o) => bail!(
                "nemesis needs `{bin}` on the host, but `{bin} --version` failed: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            ),
            Err(e) => bail!("nemesis needs `{bin}` on the host ({e}): {hint}"),
        }
    }
    Ok(())
}

/// Run `bin args` inside the network namespace of `pid`, feeding `stdin`.
async fn run(
    pid: u32,
    bin: &str,
    args: &[String],
    stdin: Option<&str>,
) -> anyhow::Result<std::process::Output> {
    use std::process::Stdio;
    use tokio::io::AsyncWriteExt;
    let ns = format!("--net=/proc/{pid}/ns/net");
    let mut child = Command::new("nsenter")
        .arg(&ns)
        .arg(bin)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("spawning nsenter {ns} {bin}"))?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes()).await?;
    }
    Ok(child.wait_with_output().await?)
}

async fn run_ok(pid: u32, bin: &str, args: &[String], stdin: Option<&str>) -> anyhow::Result<()> {
    let out = run(pid, bin, args, stdin).await?;
    if out.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
    if !can_enter(pid).await {
        return Err(anyhow!(
            "cannot enter the network namespace of pid {pid} from the host ({err}); the harness \
             must run as root on the Docker host. The in-image fallback (a netlink subcommand of \
             the node binary via `docker exec`) is not implemented yet"
        ));
    }
    Err(anyhow!(
        "`{bin} {}` in netns of pid {pid} failed: {err}",
        args.join(" ")
    ))
}

/// Whether the host can enter the network namespace of `pid` at all (so a
/// failed command is told apart from a namespace we may not enter by exit
/// status, not by the wording of nsenter's message).
async fn can_enter(pid: u32) -> bool {
    Command::new("nsenter")
        .arg(format!("--net=/proc/{pid}/ns/net"))
        .arg("true")
        .output()
        .await
        .is_ok_and(|o| o.status.success())
}

/// Replace the content of our chain in the namespace of `pid` with `rules`
/// (an empty list heals the node), creating the chain and its jump from
/// INPUT on first use. Only our chain is touched.
pub async fn install(pid: u32, rules: &[Rule]) -> anyhow::Result<()> {
    let all: Vec<_> = rules.iter().flat_map(rule_specs).collect();
    // IPv4 always (an empty list heals it); IPv6 only when a rule needs it.
    let mut families = vec![Family::V4];
    if all.iter().any(|(f, _)| *f == Family::V6) {
        families.push(Family::V6);
    }
    for family in families {
        let bin = family.binary();
        let specs: Vec<Vec<String>> = all
            .iter()
            .filter(|(f, _)| *f == family)
            .map(|(_, s)| s.clone())
            .collect();
        let jump = args(&["-w", "-C", "INPUT", "-j", CHAIN]);
        let has_jump = run(pid, bin, &jump, None).await?.status.success();
        let script = restore_script(&specs, !has_jump);
        let restore = format!("{bin}-restore");
        run_ok(pid, &restore, &args(&["-w", "--noflush"]), Some(&script)).await?;
    }
    Ok(())
}

/// Our chain as `iptables -S` prints it (empty if the chain does not
/// exist): for tests and debugging.
pub async fn list(pid: u32) -> anyhow::Result<String> {
    let out = run(pid, "iptables", &args(&["-w", "-S", CHAIN]), None).await?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Set (`delay_ms > 0`) or remove (`0`) a netem delay on the node's `eth0`
/// egress. Only reached when [`probe_netem`] succeeded (the schedule rejects
/// `latency` otherwise); untested on hosts without netem.
pub async fn set_latency(pid: u32, delay_ms: u64) -> anyhow::Result<()> {
    if delay_ms == 0 {
        // Nothing to delete is fine: the qdisc may never have been added.
        let _ = run(
            pid,
            "tc",
            &args(&["qdisc", "del", "dev", "eth0", "root"]),
            None,
        )
        .await?;
        return Ok(());
    }
    let delay = format!("{delay_ms}ms");
    run_ok(
        pid,
        "tc",
        &args(&[
            "qdisc", "replace", "dev", "eth0", "root", "netem", "delay", &delay,
        ]),
        None,
    )
    .await
}

/// Whether this kernel can do `netem` (needed for `latency`): try to add a
/// netem qdisc on the loopback of a throwaway network namespace. `Err`
/// carries the reason to show the user.
pub async fn probe_netem() -> Result<(), String> {
    let out = Command::new("unshare")
        .args([
            "--net", "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms",
        ])
        .output()
        .await
        .map_err(|e| format!("could not run `unshare --net tc ...`: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`tc qdisc add ... netem` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs(rule: Rule) -> Vec<(&'static str, String)> {
        rule_specs(&rule)
            .into_iter()
            .map(|(f, a)| (f.binary(), a.join(" ")))
            .collect()
    }

    #[test]
    fn a_cut_is_a_silent_drop_by_source_address() {
        assert_eq!(
            specs(Rule::DropFrom("172.31.250.3".parse().unwrap())),
            [("iptables", "-s 172.31.250.3 -j DROP".to_string())]
        );
        assert_eq!(
            specs(Rule::DropFrom("fd00::3".parse().unwrap())),
            [("ip6tables", "-s fd00::3 -j DROP".to_string())]
        );
    }

    #[test]
    fn loss_uses_the_statistic_match_and_can_be_limited_to_a_port() {
        assert_eq!(
            specs(Rule::Loss {
                probability: 0.1,
                port: None
            }),
            [(
                "iptables",
                "-m statistic --mode random --probability 0.1000 -j DROP".to_string()
            )]
        );
        let p2p = specs(Rule::Loss {
            probability: 0.25,
            port: Some(24100),
        });
        assert_eq!(p2p.len(), 2, "both directions of the P2P port");
        assert_eq!(
            p2p[0].1,
            "-p tcp --dport 24100 -m statistic --mode random --probability 0.2500 -j DROP"
        );
        assert!(p2p[1].1.starts_with("-p tcp --sport 24100 "));
    }

    #[test]
    fn restore_script_replaces_only_our_chain_and_adds_the_jump_once() {
        let drop = rule_specs(&Rule::DropFrom("10.0.0.2".parse().unwrap()))
            .remove(0)
            .1;
        assert_eq!(
            restore_script(std::slice::from_ref(&drop), true),
            "*filter\n:TIMENET - [0:0]\n-I INPUT 1 -j TIMENET\n-A TIMENET -s 10.0.0.2 -j DROP\nCOMMIT\n"
        );
        assert_eq!(
            restore_script(&[drop], false),
            "*filter\n:TIMENET - [0:0]\n-A TIMENET -s 10.0.0.2 -j DROP\nCOMMIT\n"
        );
        // Heal: the chain declared (so flushed) and nothing else.
        assert_eq!(
            restore_script(&[], false),
            "*filter\n:TIMENET - [0:0]\nCOMMIT\n"
        );
    }
}
