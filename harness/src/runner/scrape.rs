//! Performance sources during a run: every node's `/metrics` and its
//! process's `/proc/PID/status` (VmHWM) and `/proc/PID/stat` (utime +
//! stime), read every [`SCRAPE_EVERY`] and once more at the end, so a node
//! that restarts or is killed keeps what its earlier processes did.
//!
//! `/proc` through the container's host pid (the node is the container's
//! init) rather than `docker stats`: it is a plain file read with no
//! streaming API, it works for a paused container, and `VmHWM` is the
//! process's own peak, not a cgroup figure that includes the page cache.

use crate::observe::{ApiSource, PidSource};
use crate::report::perf::Resources;
use crate::report::prom::{self, Accumulated};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;

/// Wall time between scrapes: counters only need catching before a restart
/// resets them, and a restart takes longer than this.
pub const SCRAPE_EVERY: Duration = Duration::from_secs(2);
/// One `/metrics` request's deadline (wall).
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(2);

/// CPU ticks of one node's processes.
#[derive(Default)]
struct Proc {
    pid: Option<u32>,
    /// Ticks of the current process at its last read.
    ticks: u64,
    /// Ticks of the node's earlier processes.
    done: u64,
    peak_rss: Option<u64>,
    read_any: bool,
}

#[derive(Default)]
struct State {
    metrics: BTreeMap<String, Accumulated>,
    procs: BTreeMap<String, Proc>,
}

pub struct Scraper<S> {
    nodes: Vec<String>,
    source: Arc<S>,
    http: reqwest::Client,
    state: Arc<Mutex<State>>,
    task: Option<JoinHandle<()>>,
}

impl<S: PidSource + ApiSource> Scraper<S> {
    /// Start scraping `nodes` in the background.
    pub fn start(nodes: Vec<String>, source: Arc<S>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(SCRAPE_TIMEOUT)
            .build()
            .expect("reqwest client");
        let mut s = Scraper {
            nodes,
            source,
            http,
            state: Arc::new(Mutex::new(State::default())),
            task: None,
        };
        let (nodes, source, http, state) = (
            s.nodes.clone(),
            s.source.clone(),
            s.http.clone(),
            s.state.clone(),
        );
        s.task = Some(tokio::spawn(async move {
            loop {
                scrape_all(&nodes, &*source, &http, &state).await;
                tokio::time::sleep(SCRAPE_EVERY).await;
            }
        }));
        s
    }

    /// Stop the background task, scrape once more, return what was seen.
    pub async fn finish(mut self) -> (BTreeMap<String, Accumulated>, BTreeMap<String, Resources>) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
        scrape_all(&self.nodes, &*self.source, &self.http, &self.state).await;
        let st = std::mem::take(&mut *self.state.lock().unwrap());
        let tck = clock_ticks();
        let res = st
            .procs
            .into_iter()
            .map(|(n, p)| {
                let cpu = p.read_any.then(|| (p.done + p.ticks) as f64 / tck);
                (
                    n,
                    Resources {
                        peak_rss_bytes: p.peak_rss,
                        cpu_seconds: cpu,
                    },
                )
            })
            .collect();
        (st.metrics, res)
    }
}

impl<S> Drop for Scraper<S> {
    fn drop(&mut self) {
        if let Some(t) = &self.task {
            t.abort();
        }
    }
}

async fn scrape_all<S: PidSource + ApiSource>(
    nodes: &[String],
    source: &S,
    http: &reqwest::Client,
    state: &Mutex<State>,
) {
    for node in nodes {
        if let Some(addr) = source.api_addr(node) {
            let url = format!("http://{addr}/metrics");
            if let Ok(r) = http.get(&url).send().await {
                if let Ok(text) = r.text().await {
                    let parsed = prom::parse(&text);
                    if !parsed.is_empty() {
                        let mut st = state.lock().unwrap();
                        st.metrics.entry(node.clone()).or_default().push(parsed);
                    }
                }
            }
        }
        let pid = source.pid(node).await;
        let read = pid.and_then(read_proc);
        let mut st = state.lock().unwrap();
        let p = st.procs.entry(node.clone()).or_default();
        if let (Some(pid), Some((ticks, hwm))) = (pid, read) {
            if p.pid != Some(pid) {
                p.done += p.ticks;
                p.ticks = 0;
                p.pid = Some(pid);
            }
            p.ticks = ticks;
            p.read_any = true;
            if let Some(h) = hwm {
                p.peak_rss = Some(p.peak_rss.map_or(h, |x| x.max(h)));
            }
        }
    }
}

/// `(utime + stime ticks, VmHWM bytes)` of a process.
fn read_proc(pid: u32) -> Option<(u64, Option<u64>)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok();
    Some((
        parse_stat_ticks(&stat)?,
        status.as_deref().and_then(parse_vm_hwm),
    ))
}

/// utime + stime from `/proc/PID/stat` (fields 14 and 15; the command name
/// in parentheses may contain spaces, so count after its closing paren).
pub fn parse_stat_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state): utime is field 14 -> index 11.
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// `VmHWM:   8704 kB` -> bytes.
pub fn parse_vm_hwm(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_proc_fields() {
        let stat = "4242 (timed (x)) S 1 4242 4242 0 -1 4194560 1 0 0 0 150 25 0 0 20 0 9 0";
        assert_eq!(parse_stat_ticks(stat), Some(175));
        assert_eq!(parse_stat_ticks("garbage"), None);
        let status = "Name:\ttimed\nVmPeak:\t  20000 kB\nVmHWM:\t    8704 kB\nVmRSS:\t 8000 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(8704 * 1024));
        // Our own process: both readable.
        let (ticks, hwm) = read_proc(std::process::id()).unwrap();
        assert!(hwm.unwrap() > 0);
        let _ = ticks;
    }
}
