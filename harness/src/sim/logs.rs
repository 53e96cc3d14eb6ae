//! Per-node log files for a simulated run: every node runs on the same
//! thread, so the subscriber finds the node from turmoil's `node` span
//! (entered around each host's tick, named by the host's IP) and writes
//! the line into `logs/n<K>.log`, stamped with virtual time.
//!
//! The subscriber is this file's own, not `tracing_subscriber`'s registry
//! with a layer: turmoil makes, enters and closes a `node` span for every
//! host on every step, and the registry's span bookkeeping (a slab slot
//! and an extension per span) was a twentieth of a churn seed's CPU. Here
//! a `node` span's id is the host's index and entering it sets the
//! current host; nothing is stored per span.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// Log files in host order, with the host IP string (turmoil's node name)
/// each belongs to.
#[derive(Clone)]
pub struct NodeLogs {
    hosts: Arc<Vec<String>>,
    files: Arc<Mutex<Vec<BufWriter<File>>>>,
    /// Index of the host whose tick is running, [`NO_HOST`] between ticks.
    current: Arc<AtomicUsize>,
}

/// `current` outside every host's tick.
const NO_HOST: usize = usize::MAX;
/// The id of every span that is not a host's `node` span.
const OTHER_SPAN: u64 = 1;

impl NodeLogs {
    /// One file per node: `(host ip, node name)`.
    pub fn create(dir: &Path, hosts: &[(String, String)]) -> std::io::Result<NodeLogs> {
        std::fs::create_dir_all(dir)?;
        let mut files = Vec::new();
        for (_, name) in hosts {
            files.push(BufWriter::new(File::create(
                dir.join(format!("{name}.log")),
            )?));
        }
        Ok(NodeLogs {
            hosts: Arc::new(hosts.iter().map(|(ip, _)| ip.clone()).collect()),
            files: Arc::new(Mutex::new(files)),
            current: Arc::new(AtomicUsize::new(NO_HOST)),
        })
    }

    pub fn flush(&self) {
        for f in self.files.lock().unwrap().iter_mut() {
            let _ = f.flush();
        }
    }

    /// The host index a `node` span's id stands for.
    fn host_of(id: &Id) -> Option<usize> {
        (id.into_u64() > OTHER_SPAN).then(|| (id.into_u64() - OTHER_SPAN - 1) as usize)
    }
}
struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, " {value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            let _ = write!(self.0, " {value}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }
}

/// Finds the host index of a `node` span from its `name` field.
struct NameOf<'a> {
    hosts: &'a [String],
    found: Option<usize>,
}

impl NameOf<'_> {
    fn find(&mut self, name: &str) {
        self.found = self.hosts.iter().position(|h| h == name);
    }
}

impl Visit for NameOf<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "name" {
            self.find(format!("{value:?}").trim_matches('"'));
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "name" {
            self.find(value);
        }
    }
}

impl Subscriber for NodeLogs {
    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        *meta.level() <= Level::INFO
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::INFO)
    }

    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let meta = attrs.metadata();
        if meta.name() == "node" && meta.target().starts_with("turmoil") {
            let mut v = NameOf {
                hosts: &self.hosts,
                found: None,
            };
            attrs.record(&mut v);
            if let Some(k) = v.found {
                return Id::from_u64(OTHER_SPAN + 1 + k as u64);
            }
        }
        Id::from_u64(OTHER_SPAN)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn enter(&self, span: &Id) {
        if let Some(k) = NodeLogs::host_of(span) {
            self.current.store(k, Ordering::Relaxed);
        }
    }

    fn exit(&self, span: &Id) {
        if NodeLogs::host_of(span).is_some() {
            self.current.store(NO_HOST, Ordering::Relaxed);
        }
    }

    fn event(&self, event: &Event<'_>) {
        let host = self.current.load(Ordering::Relaxed);
        let meta = event.metadata();
        if host == NO_HOST || meta.target().starts_with("turmoil") {
            return;
        }
        let t = turmoil::sim_elapsed().unwrap_or_default();
        let mut line = Fields(String::new());
        event.record(&mut line);
        if let Some(f) = self.files.lock().unwrap().get_mut(host) {
            let _ = writeln!(
                f,
                "{:>10.3}s {:>5} {}:{}",
                t.as_secs_f64(),
                meta.level(),
                meta.target(),
                line.0
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_go_to_the_host_whose_node_span_is_entered() {
        let dir = tempfile::tempdir().unwrap();
        let hosts = [
            ("10.0.0.1".to_string(), "n1".to_string()),
            ("10.0.0.2".to_string(), "n2".to_string()),
        ];
        let logs = NodeLogs::create(dir.path(), &hosts).unwrap();
        tracing::subscriber::with_default(logs.clone(), || {
            tracing::info!("before any host");
            {
                let _host =
                    tracing::info_span!(target: "turmoil", "node", name = "10.0.0.2").entered();
                let _inner = tracing::info_span!("connection", peer = "10.0.0.1").entered();
                tracing::info!(peer = "10.0.0.1", "closed");
                tracing::debug!("below the level");
                tracing::info!(target: "turmoil", "turmoil's own");
            }
            tracing::info!("between hosts");
            let _host = tracing::info_span!(target: "turmoil", "node", name = "10.0.0.1").entered();
            tracing::warn!("on n1");
        });
        logs.flush();
        let read = |n: &str| std::fs::read_to_string(dir.path().join(format!("{n}.log"))).unwrap();
        let (n1, n2) = (read("n1"), read("n2"));
        assert_eq!(n2.lines().count(), 1, "{n2}");
        assert!(
            n2.contains("INFO harness::sim::logs::tests: closed peer=\"10.0.0.1\""),
            "{n2}"
        );
        assert_eq!(n1.lines().count(), 1, "{n1}");
        assert!(
            n1.contains(" WARN harness::sim::logs::tests: on n1"),
            "{n1}"
        );
    }
}
