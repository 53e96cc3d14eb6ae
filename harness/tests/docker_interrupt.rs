//! Ctrl-C during a run: the harness cleans up, then exits 130.

mod docker_common;

use docker_common::leftovers;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_cleans_up_and_exits_130() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("long.toml");
    std::fs::write(
        &file,
        "name = \"long\"\nduration = \"1h\"\ntime_scale = 12\n[network]\nnodes = 2\n[[check]]\nkind = \"one_peer_per_ip\"\n",
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["run", "--quiet", "--out"])
        .arg(dir.path().join("out"))
        .arg(&file)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // "run tn-xxxxxx: 2 nodes on ..." once the network exists.
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let run_id = loop {
        let line = lines
            .next()
            .expect("harness ended before starting")
            .unwrap();
        if let Some(rest) = line.strip_prefix("run ") {
            break rest.split(':').next().unwrap().to_string();
        }
    };
    // Wait until its containers exist, then interrupt.
    let t0 = Instant::now();
    while leftovers(&run_id).await.0.len() < 2 {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "containers never appeared"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(130),
        "stderr after the run line: {rest:?}"
    );
    let (c, n) = leftovers(&run_id).await;
    assert!(c.is_empty() && n.is_empty(), "left behind: {c:?} {n:?}");
    assert!(
        dir.path().join("out/logs/n1.log").is_file(),
        "logs collected"
    );
}
