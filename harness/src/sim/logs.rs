//! Per-node log files for a simulated run: every node runs on the same
//! thread, so the subscriber finds the node from turmoil's `node` span
//! (entered around each host's tick, named by the host's IP) and writes
//! the line into `logs/n<K>.log`, stamped with virtual time.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// Log files by host IP string (turmoil's node name).
#[derive(Clone)]
pub struct NodeLogs {
    files: Arc<Mutex<BTreeMap<String, BufWriter<File>>>>,
}

/// The host name recorded on a turmoil `node` span.
struct HostName(String);

impl NodeLogs {
    /// One file per node: `(host ip, node name)`.
    pub fn create(dir: &Path, hosts: &[(String, String)]) -> std::io::Result<NodeLogs> {
        std::fs::create_dir_all(dir)?;
        let mut files = BTreeMap::new();
        for (ip, name) in hosts {
            files.insert(
                ip.clone(),
                BufWriter::new(File::create(dir.join(format!("{name}.log")))?),
            );
        }
        Ok(NodeLogs {
            files: Arc::new(Mutex::new(files)),
        })
    }

    pub fn flush(&self) {
        for f in self.files.lock().unwrap().values_mut() {
            let _ = f.flush();
        }
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

struct NameOf(Option<String>);

impl Visit for NameOf {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "name" {
            self.0 = Some(format!("{value:?}").trim_matches('"').to_string());
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "name" {
            self.0 = Some(value.to_string());
        }
    }
}

impl<S> Layer<S> for NodeLogs
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if attrs.metadata().name() != "node" {
            return;
        }
        let mut v = NameOf(None);
        attrs.record(&mut v);
        if let (Some(name), Some(span)) = (v.0, ctx.span(id)) {
            span.extensions_mut().insert(HostName(name));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let Some(scope) = ctx.event_scope(event) else {
            return;
        };
        let host = scope
            .from_root()
            .find_map(|s| s.extensions().get::<HostName>().map(|h| h.0.clone()));
        let Some(host) = host else { return };
        if event.metadata().target().starts_with("turmoil") {
            return;
        }
        let t = turmoil::sim_elapsed().unwrap_or_default();
        let mut line = Fields(String::new());
        event.record(&mut line);
        let meta = event.metadata();
        if let Some(f) = self.files.lock().unwrap().get_mut(&host) {
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
