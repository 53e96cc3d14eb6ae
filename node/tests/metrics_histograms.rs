//! `/metrics` of real `timed` processes carries the ping RTT and finality
//! latency histograms, filled by real pings and real commits.

mod support;

use std::time::Duration;
use support::{wait_until, Cluster};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_rtt_and_finality_histograms_fill_up() {
    // 30x: a ping every second, a block every two seconds.
    let c = Cluster::start(3, 30.0);
    c.wait_full_mesh(Duration::from_secs(30)).await;
    let n = &c.nodes[0];
    for name in [
        "timed_ping_rtt_seconds_count",
        "timed_finality_latency_seconds_count",
    ] {
        wait_until(&format!("{name} > 0"), Duration::from_secs(60), || async {
            n.metric(name).await.filter(|v| *v > 0.0)
        })
        .await;
    }
    let m = n.metrics().await.unwrap();
    for line in [
        "# TYPE timed_ping_rtt_seconds histogram",
        "# TYPE timed_finality_latency_seconds histogram",
        "timed_finality_latency_seconds_bucket{le=\"+Inf\"} ",
        "timed_ping_rtt_seconds_bucket{le=\"0.0001\"} ",
        "# TYPE timed_finality_latency_seconds_max gauge",
    ] {
        assert!(m.contains(line), "{line} missing from /metrics:\n{m}");
    }
    let count = n
        .metric("timed_finality_latency_seconds_count")
        .await
        .unwrap();
    let inf = n
        .metric("timed_finality_latency_seconds_bucket{le=\"+Inf\"}")
        .await
        .unwrap();
    assert_eq!(count, inf, "+Inf bucket counts every commit");
    let max = n
        .metric("timed_finality_latency_seconds_max")
        .await
        .unwrap();
    assert!(max > 0.0 && max < 60.0, "max {max} s");
}
