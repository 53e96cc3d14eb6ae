//! The kernel's view of a node's connections: `/proc/<pid>/net/tcp{,6}` read
//! from the host. `/proc/PID/net/*` shows the network namespace of PID, so for
//! a container's PID it is the container's own TCP table (probed on the dev
//! machine, Docker 20.10). This is independent of anything the node reports.
//!
//! Where the host cannot read it (rootless Docker, a VM in between), readers
//! get an error and the sample's `kernel` is `None`; checks then rely on the
//! node view alone and the report says so.

use super::model::KernelConn;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// `st` column value of ESTABLISHED in `/proc/net/tcp`.
const ESTABLISHED: &str = "01";

/// Parse the text of `/proc/net/tcp` or `/proc/net/tcp6`, keeping ESTABLISHED
/// connections where either end is on `port`.
pub fn parse(text: &str, port: u16) -> Vec<KernelConn> {
    text.lines()
        .skip(1)
        .filter_map(parse_line)
        .filter(|(c, st)| st == ESTABLISHED && (c.local_port == port || c.remote_port == port))
        .map(|(c, _)| c)
        .collect()
}

/// `  0: 0B00DCAC:5E24 0C00DCAC:9C6A 01 ...` -> (conn, state)
fn parse_line(line: &str) -> Option<(KernelConn, String)> {
    let mut f = line.split_whitespace();
    let _slot = f.next()?;
    let (local_ip, local_port) = parse_addr(f.next()?)?;
    let (remote_ip, remote_port) = parse_addr(f.next()?)?;
    let st = f.next()?.to_string();
    Some((
        KernelConn {
            local_ip,
            local_port,
            remote_ip,
            remote_port,
        },
        st,
    ))
}

/// `HEXIP:HEXPORT`. The IP is the raw in-memory bytes printed as 32-bit
/// words in host byte order (little-endian on x86), so each 4-byte group is
/// reversed; the port is plain big hex. IPv4-mapped IPv6 addresses are
/// reported as IPv4 so both tables compare equal.
fn parse_addr(s: &str) -> Option<(IpAddr, u16)> {
    let (ip, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let ip = match ip.len() {
        8 => IpAddr::V4(Ipv4Addr::from(
            u32::from_str_radix(ip, 16).ok()?.swap_bytes(),
        )),
        32 => {
            let mut bytes = [0u8; 16];
            for w in 0..4 {
                let word = u32::from_str_radix(&ip[w * 8..w * 8 + 8], 16).ok()?;
                bytes[w * 4..w * 4 + 4].copy_from_slice(&word.to_le_bytes());
            }
            let v6 = Ipv6Addr::from(bytes);
            match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(v6),
            }
        }
        _ => return None,
    };
    Some((ip, port))
}

/// Read both tables of a process's network namespace.
pub fn read(pid: u32, port: u16) -> std::io::Result<Vec<KernelConn>> {
    let v4 = std::fs::read_to_string(format!("/proc/{pid}/net/tcp"))?;
    let mut out = parse(&v4, port);
    // tcp6 may be absent when IPv6 is disabled: not an error.
    if let Ok(v6) = std::fs::read_to_string(format!("/proc/{pid}/net/tcp6")) {
        out.extend(parse(&v6, port));
    }
    out.sort_by_key(|c| (c.remote_ip, c.remote_port, c.local_port));
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Real lines from a container on 10.213.4.0/24 (node 10.213.4.11).
    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0B04D50A:5E24 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 91823 1 0000000000000000 100 0 0 10 0
   1: 0B04D50A:5E25 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 91824 1 0000000000000000 100 0 0 10 0
   2: 0B04D50A:5E24 0C04D50A:A3F2 01 00000000:00000000 02:000A7E1B 00000000     0        0 91901 2 0000000000000000 20 4 30 10 -1
   3: 0B04D50A:C1A0 0D04D50A:5E24 01 00000000:00000000 02:000A7E1B 00000000     0        0 91902 2 0000000000000000 20 4 30 10 -1
   4: 0B04D50A:5E25 0104D50A:D2C4 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000
   5: 0B04D50A:5E25 0104D50A:D2C6 01 00000000:00000000 00:00000000 00000000     0        0 92011 1 0000000000000000 20 4 30 10 -1
";
    const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0000000000000000FFFF00000B04D50A:5E24 0000000000000000FFFF00000E04D50A:9001 01 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 20 4 0 10 -1
   1: 00000000000000000000000001000000:5E24 00000000000000000000000001000000:8F00 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 20 4 0 10 -1
";

    #[test]
    fn keeps_established_p2p_connections_only() {
        let conns = parse(TCP, 24100);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            conns,
            vec![
                KernelConn {
                    local_ip: ip("10.213.4.11"),
                    local_port: 24100,
                    remote_ip: ip("10.213.4.12"),
                    remote_port: 0xA3F2,
                },
                KernelConn {
                    local_ip: ip("10.213.4.11"),
                    local_port: 0xC1A0,
                    remote_ip: ip("10.213.4.13"),
                    remote_port: 24100,
                },
            ]
        );
        // The API connection (port 24101) is not a P2P connection.
        assert!(parse(TCP, 24101).iter().all(|c| c.local_port == 24101));
        assert_eq!(parse(TCP, 24101).len(), 1);
    }

    #[test]
    fn tcp6_mapped_addresses_become_ipv4_and_plain_v6_stays() {
        let conns = parse(TCP6, 24100);
        assert_eq!(conns.len(), 2);
        assert_eq!(conns[0].remote_ip, "10.213.4.14".parse::<IpAddr>().unwrap());
        assert_eq!(conns[1].remote_ip, "::1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn garbage_lines_are_skipped() {
        assert!(parse("header\nnot a line\n 0: zz:zz 00:00 01\n", 24100).is_empty());
    }
}
