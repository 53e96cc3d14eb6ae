//! The live progress line: protocol time / duration, wall time, heights,
//! peers per node, active faults. Hidden when stderr is not a terminal
//! (CI logs get one plain line every few seconds instead).

use crate::observe::recorder::Live;
use crate::scenario::fmt_ms;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

pub struct Progress {
    bar: ProgressBar,
    plain: bool,
    quiet: bool,
    last_plain: Option<Instant>,
    names: Vec<String>,
}

impl Progress {
    pub fn new(duration_ms: u64, names: Vec<String>, quiet: bool) -> Progress {
        let tty = std::io::stderr().is_terminal();
        let bar = ProgressBar::new(duration_ms.max(1));
        if quiet || !tty {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        } else {
            bar.set_style(
                ProgressStyle::with_template("{spinner} [{bar:20}] {msg}")
                    .expect("template")
                    .progress_chars("=> "),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
        }
        Progress {
            bar,
            plain: !quiet && !tty,
            quiet,
            last_plain: None,
            names,
        }
    }

    /// One line of state. `faults` lists active faults (already described).
    pub fn line(
        &self,
        t_ms: u64,
        duration_ms: u64,
        wall: Duration,
        live: &HashMap<String, Live>,
        faults: &[String],
    ) -> String {
        let heights: Vec<u64> = live.values().filter_map(|l| l.height).collect();
        let h = match (heights.iter().min(), heights.iter().max()) {
            (Some(a), Some(b)) => format!("h {a}..{b}"),
            _ => "h -".into(),
        };
        let peers: Vec<String> = self
            .names
            .iter()
            .map(|n| match live.get(n) {
                Some(l) if l.up => l.peers.map_or("?".into(), |p| p.to_string()),
                _ => "x".into(),
            })
            .collect();
        let up = live.values().filter(|l| l.up).count();
        let mut s = format!(
            "t {} / {}  wall {:.0}s  up {up}/{}  {h}  peers [{}]",
            // Whole seconds: a progress line, not a measurement.
            fmt_ms(t_ms - t_ms % 1000),
            fmt_ms(duration_ms),
            wall.as_secs_f64(),
            self.names.len(),
            peers.join(" ")
        );
        if !faults.is_empty() {
            s.push_str("  faults: ");
            s.push_str(&faults.join("; "));
        }
        s
    }

    pub fn update(&mut self, t_ms: u64, line: String) {
        self.bar.set_position(t_ms);
        if self.plain {
            let due = self
                .last_plain
                .is_none_or(|l| l.elapsed() >= Duration::from_secs(10));
            if due {
                eprintln!("{line}");
                self.last_plain = Some(Instant::now());
            }
        }
        self.bar.set_message(line);
    }

    /// Print a line above the bar (a fault started, a node came up...).
    pub fn note(&self, msg: &str) {
        tracing::info!("{msg}");
        if self.quiet {
            return;
        }
        if self.bar.is_hidden() {
            eprintln!("{msg}");
        } else {
            self.bar.println(msg);
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
