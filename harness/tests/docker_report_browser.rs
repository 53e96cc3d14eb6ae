//! `report.html` in a real browser: a passing and a failing real Docker run
//! (3 nodes, one isolated for a minute and healed; the failing variant asks
//! for a height no run can reach), each report opened by headless Chromium
//! (Debian's `chromium`, installed by ci/test.sh), its DOM checked for the
//! pair lanes, the fault band and (failing run) the violation marker, and a
//! screenshot saved into the run folder as `report.png`.
//!
//! No Chromium is a failure with a message, never a skip.

mod docker_common;

use harness::runner::{self, Exit};
use std::path::{Path, PathBuf};
use std::process::Command;

fn scenario(name: &str, min_height: u64) -> harness::scenario::Scenario {
    let text = format!(
        r#"
name = "{name}"
duration = "8m"
time_scale = 30
seed = 11
[network]
nodes = 3
masternodes = 3
block_interval = "30s"
[[fault]]
at = "2m"
for = "1m"
action = "partition"
shape = "isolate"
nodes = ["n3"]
[[check]]
kind = "no_fork"
[[check]]
kind = "common_height"
within = "4m"
min_height = {min_height}
"#
    );
    harness::scenario::parse(&text, format!("<{name}>")).expect("test scenario parses")
}

fn chromium() -> PathBuf {
    for c in ["chromium", "chromium-browser"] {
        if let Ok(out) = Command::new("sh")
            .args(["-c", &format!("command -v {c}")])
            .output()
        {
            let p = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if out.status.success() && !p.is_empty() {
                return PathBuf::from(p);
            }
        }
    }
    panic!(
        "chromium is not installed: this test drives Debian's `chromium` headless over real \
         report.html files; ci/test.sh installs it (apt-get install chromium)"
    );
}

fn browse(chrome: &Path, args: &[String]) -> String {
    let out = Command::new(chrome)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
        ])
        .args(args)
        .output()
        .expect("chromium runs");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Run, then open the report: DOM checks and a screenshot.
async fn run_and_view(chrome: &Path, name: &str, min_height: u64, want: Exit) -> String {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("browser-runs")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    let out = runner::run(scenario(name, min_height), &docker_common::options(&dir)).await;
    assert_eq!(out.exit, want, "{name}: {:?} {:#?}", out.error, out.report);
    let html = dir.join("report.html");
    let url = format!("file://{}", html.canonicalize().unwrap().display());
    let dom = browse(chrome, &["--dump-dom".into(), url.clone()]);
    let lanes = dom.matches("class=\"lane\"").count();
    assert_eq!(lanes, 3, "{name}: one lane per pair of 3 nodes");
    assert!(dom.contains("class=\"span\""), "{name}: connected spans");
    assert!(
        dom.contains("class=\"fault\" data-kind=\"partition\""),
        "{name}: the partition's band"
    );
    assert!(dom.contains("class=\"height\""), "{name}: height lines");
    assert!(dom.contains("id=\"summary\""), "{name}: summary table");
    let png = dir.join("report.png");
    browse(
        chrome,
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1280,1400".into(),
            url,
        ],
    );
    let meta = std::fs::metadata(&png).expect("screenshot written");
    assert!(
        meta.len() > 10_000,
        "{name}: screenshot of {} bytes",
        meta.len()
    );
    eprintln!(
        "{name}: report {} and screenshot {}",
        html.display(),
        png.display()
    );
    dom
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_renders_the_report_of_a_failing_and_a_passing_run() {
    let chrome = chromium();
    let dom = run_and_view(&chrome, "browser-fail", 100_000, Exit::CheckFailed).await;
    assert!(
        dom.contains("class=\"violation\" data-check=\"common_height\""),
        "the failing check's marker"
    );
    assert!(dom.contains("id=\"v-common_height\""), "its log excerpt");
    assert!(dom.contains("FAILED"));
    let dom = run_and_view(&chrome, "browser-pass", 3, Exit::Pass).await;
    assert!(!dom.contains("class=\"violation\""), "no marker on a pass");
    assert!(dom.contains("PASSED"));
}
