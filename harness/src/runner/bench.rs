//! `harness bench`: startup and teardown times of a 6-node network and the
//! largest network that comes up to a full mesh with every check green.

use super::{run as run_scenario, Exit, RunOptions};
use crate::scenario::{self, Scenario};
use std::fmt::Write;
use std::time::Duration;

/// Largest network that gossip alone meshes from the default bootstrap
/// ring (2 peers each). Every address a node learns comes from some peer,
/// and the node's eclipse defences dial at most `MAX_OUTBOUND_PER_SOURCE`
/// (16) addresses per source and `NEW_DIAL_BURST` (32) new addresses at
/// once: a 100-node bench left n51 and n77 never dialling each other, each
/// having learnt the other from a source already at its 16 (a full mesh a
/// node that defends itself does not owe). Bigger networks are meshed the
/// way an operator would: by configuration (trusted, exempt from both).
const GOSSIP_MESH_MAX: usize = 32;

/// An n-node mesh with the connection checks (also the sim bench's mesh).
/// Above [`GOSSIP_MESH_MAX`] each node bootstraps from the following half
/// of the ring: every pair is dialled by one side (both sides at distance
/// n/2), at most n/2 outbound slots of the node's 64.
pub fn mesh_scenario(
    nodes: usize,
    duration: Duration,
    time_scale: f64,
) -> anyhow::Result<Scenario> {
    let fanout = if nodes > GOSSIP_MESH_MAX {
        format!("bootstrap_fanout = {}\n", nodes / 2)
    } else {
        String::new()
    };
    let text = format!(
        r#"
name = "bench-{nodes}"
duration = "{}"
time_scale = {time_scale}
seed = 7
[network]
nodes = {nodes}
{fanout}block_interval = "60s"
[[check]]
kind = "one_peer_per_ip"
[[check]]
kind = "no_cycling"
[[check]]
kind = "common_height"
within = "3m"
min_height = 1
"#,
        humantime::format_duration(duration)
    );
    Ok(scenario::parse(&text, format!("<bench-{nodes}>"))?)
}

pub struct Row {
    pub what: String,
    pub value: String,
    pub target: String,
    pub ok: bool,
}

pub async fn run_bench(
    sizes: &[usize],
    duration: Duration,
    time_scale: f64,
) -> anyhow::Result<Vec<Row>> {
    let opts = RunOptions {
        quiet: true,
        out: None,
        ..Default::default()
    };
    let mut rows = Vec::new();
    // Warm the image cache first so the 6-node number is "image cached".
    let docker = crate::provider::docker::connect::connect().await?;
    crate::provider::image::ensure(&docker, false).await?;

    let tmp = std::env::temp_dir().join(format!("timenet-bench-{}", std::process::id()));
    let mut o = opts.clone();
    o.out = Some(tmp.join("six"));
    let six = run_scenario(mesh_scenario(6, Duration::from_secs(180), time_scale)?, &o).await;
    let mesh = six.full_mesh_after;
    rows.push(Row {
        what: "6 nodes: run start -> full mesh".into(),
        value: mesh.map_or("never".into(), |d| format!("{:.2} s", d.as_secs_f64())),
        target: "< 5 s".into(),
        ok: mesh.is_some_and(|d| d < Duration::from_secs(5)),
    });
    rows.push(Row {
        what: "6 nodes: teardown".into(),
        value: format!("{:.2} s", six.teardown.as_secs_f64()),
        target: "< 3 s".into(),
        ok: six.teardown < Duration::from_secs(3),
    });
    let mut largest = 0;
    for &n in sizes {
        eprintln!("bench: {n} nodes...");
        let mut o = opts.clone();
        o.out = Some(tmp.join(format!("n{n}")));
        let r = run_scenario(mesh_scenario(n, duration, time_scale)?, &o).await;
        let green = r.exit == Exit::Pass && r.full_mesh_after.is_some();
        rows.push(Row {
            what: format!("{n} nodes: full mesh, checks green"),
            value: format!(
                "{} (mesh {})",
                if green { "yes" } else { "NO" },
                r.full_mesh_after
                    .map_or("never".into(), |d| format!("{:.1} s", d.as_secs_f64()))
            ),
            target: "green".into(),
            ok: green,
        });
        if green {
            largest = largest.max(n);
        } else {
            // Say why, and keep going: a bigger network may still pass.
            let why = r.error.clone().or_else(|| {
                let rep = r.report.as_ref()?;
                let c = rep.checks.iter().find(|c| !c.passed)?;
                let v = c.first_violation.as_ref()?;
                Some(format!("{} failed: {}", c.name, v.message))
            });
            eprintln!("{n} nodes not green: {}", why.unwrap_or_default());
        }
    }
    rows.push(Row {
        what: "largest green network".into(),
        value: format!("{largest} nodes"),
        target: ">= 30".into(),
        ok: largest >= 30,
    });
    Ok(rows)
}

pub fn table(rows: &[Row]) -> String {
    // Columns as wide as their widest cell: a measure's name can be long
    // (the mesh row names its node limits), and a fixed width broke the
    // columns of every row after it.
    let width = |head: &str, cell: fn(&Row) -> &str| {
        rows.iter()
            .map(|r| cell(r).chars().count())
            .fold(head.len(), usize::max)
    };
    let w = [
        width("measure", |r| &r.what),
        width("value", |r| &r.value),
        width("target", |r| &r.target),
    ];
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<a$}  {:<b$}  {:<c$}  ok",
        "measure",
        "value",
        "target",
        a = w[0],
        b = w[1],
        c = w[2]
    );
    for r in rows {
        let _ = writeln!(
            s,
            "{:<a$}  {:<b$}  {:<c$}  {}",
            r.what,
            r.value,
            r.target,
            if r.ok { "yes" } else { "NO" },
            a = w[0],
            b = w[1],
            c = w[2]
        );
    }
    s
}

/// Run the benchmark and format its table.
pub async fn run(sizes: &[usize], duration: Duration, time_scale: f64) -> anyhow::Result<String> {
    Ok(table(&run_bench(sizes, duration, time_scale).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mesh_beyond_what_gossip_meshes_is_configured_half_way_round_the_ring() {
        let fanout = |n| {
            mesh_scenario(n, Duration::from_secs(60), 1.0)
                .unwrap()
                .network
                .bootstrap_fanout
        };
        assert_eq!(fanout(30), None);
        assert_eq!(fanout(GOSSIP_MESH_MAX), None);
        assert_eq!(fanout(100), Some(50));
        assert_eq!(fanout(33), Some(16));
        // Each node dials the next n/2 of the ring: every pair is covered.
        for n in [33, 100] {
            let f = fanout(n).unwrap();
            assert!(2 * f >= n - 1 && f <= timed::constants::MAX_OUTBOUND_PEERS);
        }
    }

    #[test]
    fn a_long_measure_name_keeps_every_column_aligned() {
        let row = |what: &str, value: &str, ok| Row {
            what: what.into(),
            value: value.into(),
            target: ">= 100/min".into(),
            ok,
        };
        let t = table(&[
            row(
                "10-node mesh (1h): all 10 masternodes, up to 45 connections",
                "3.35 s wall",
                true,
            ),
            row(
                "explore churn, --jobs 2",
                "114.6 seeds/min (100 seeds in 52.3 s)",
                false,
            ),
        ]);
        let lines: Vec<&str> = t.lines().collect();
        let col = |l: &str, cell: &str| l.find(cell).unwrap();
        assert_eq!(col(lines[1], "3.35 s"), col(lines[2], "114.6"), "{t}");
        assert_eq!(col(lines[0], "value"), col(lines[1], "3.35 s"), "{t}");
        assert_eq!(col(lines[1], ">= 100"), col(lines[2], ">= 100"), "{t}");
        assert!(
            lines[1].ends_with("  yes") && lines[2].ends_with("  NO"),
            "{t}"
        );
    }
}
