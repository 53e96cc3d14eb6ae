//! `cargo bench -p harness --bench docker_bench`: the same table as
//! `harness bench` (needs Docker): time from run start to a full mesh of 6
//! containers with the image cached, teardown time, and the largest network
//! that comes up with every check green (10, 20, 30 nodes).

use std::time::Duration;

fn main() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    match rt.block_on(harness::runner::bench::run(
        &[10, 20, 30],
        Duration::from_secs(6 * 60),
        12.0,
    )) {
        Ok(table) => println!("{table}"),
        Err(e) => {
            eprintln!("bench failed: {e:#}");
            std::process::exit(3);
        }
    }
}
