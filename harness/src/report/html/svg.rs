//! The inline SVG of `report.html`: node heights over protocol time and
//! one lane per node pair, both with the fault windows shaded and each
//! check's first violation marked. Classes the browser test looks for:
//! `lane`, `span` (connected), `reconnect`, `disconnect`, `fault`,
//! `violation`, `height`.

use super::esc;
use crate::checks::{fmt_ms, CheckResult};
use crate::observe::model::{FaultSpan, Timeline};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::net::IpAddr;
use timed::api::types::EventKind;

const WIDTH: f64 = 1200.0;
const LEFT: f64 = 110.0;
const RIGHT: f64 = 20.0;
const LANE: f64 = 12.0;
const HEIGHTS: f64 = 220.0;
const TOP: f64 = 26.0;

/// One sample of a node: time, up, the peer IPs it lists.
type Listed = (u64, bool, BTreeSet<IpAddr>);

/// Protocol ms -> x.
struct Scale {
    end: f64,
}

impl Scale {
    fn x(&self, t: u64) -> f64 {
        LEFT + (t as f64 / self.end.max(1.0)).min(1.0) * (WIDTH - LEFT - RIGHT)
    }
}

fn fault_label(f: &FaultSpan) -> String {
    let what = if f.description.is_empty() {
        f.nodes.join(",")
    } else {
        f.description.clone()
    };
    format!("{} {}", f.action.name(), what)
}

/// Shaded fault windows over `[y0, y1]`, labelled at the top when `label`.
fn faults(out: &mut String, tl: &Timeline, sc: &Scale, y0: f64, y1: f64, label: bool) {
    for (i, f) in tl.faults.iter().enumerate() {
        let (x0, x1) = (sc.x(f.start), sc.x(f.end.unwrap_or(tl.end)));
        let text = fault_label(f);
        let end = f.end.map_or("end of run".into(), fmt_ms);
        let _ = write!(
            out,
            "<rect class=\"fault\" data-kind=\"{}\" x=\"{x0:.1}\" y=\"{y0:.1}\" width=\"{:.1}\" \
             height=\"{:.1}\"><title>{} ({}..{end})</title></rect>",
            esc(f.action.name()),
            (x1 - x0).max(1.5),
            y1 - y0,
            esc(&text),
            fmt_ms(f.start)
        );
        if label {
            let y = y0 - 4.0 - (i % 2) as f64 * 10.0;
            let _ = write!(
                out,
                "<text class=\"fault-label\" x=\"{x0:.1}\" y=\"{y:.1}\">{}</text>",
                esc(&text)
            );
        }
    }
}

/// First violations as red lines linking to their log excerpts.
fn violations(out: &mut String, checks: &[CheckResult], sc: &Scale, y0: f64, y1: f64) {
    for c in checks {
        let Some(v) = &c.first_violation else {
            continue;
        };
        let x = sc.x(v.t);
        let _ = write!(
            out,
            "<a href=\"#v-{name}\"><g class=\"violation\" data-check=\"{name}\">\
             <line x1=\"{x:.1}\" y1=\"{y0:.1}\" x2=\"{x:.1}\" y2=\"{y1:.1}\"/>\
             <path d=\"M{:.1},{y0:.1} l5,-8 h-10 z\"/>\
             <title>{name} first violation at {} [{}]: {}</title></g></a>",
            x,
            fmt_ms(v.t),
            esc(&v.nodes.join(", ")),
            esc(&v.message),
            name = esc(&c.name),
        );
    }
}

fn axis(out: &mut String, tl: &Timeline, sc: &Scale, y: f64) {
    let steps = 10;
    for i in 0..=steps {
        let t = tl.end * i / steps;
        let x = sc.x(t);
        let _ = write!(
            out,
            "<line class=\"tick\" x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{y:.1}\"/>\
             <text class=\"axis\" x=\"{x:.1}\" y=\"{:.1}\">{}</text>",
            y - 4.0,
            y + 12.0,
            fmt_ms(t)
        );
    }
}

/// Every node's height over protocol time.
pub fn heights(tl: &Timeline, checks: &[CheckResult]) -> String {
    let sc = Scale { end: tl.end as f64 };
    let max_h = tl
        .samples
        .iter()
        .filter_map(|s| s.status.as_ref().map(|st| st.height))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let y = |h: u64| TOP + HEIGHTS - (h as f64 / max_h) * HEIGHTS;
    let total = TOP + HEIGHTS + 20.0;
    let mut out = format!(
        "<svg class=\"chart\" id=\"heights\" viewBox=\"0 0 {WIDTH} {total}\" width=\"{WIDTH}\" \
         height=\"{total}\" xmlns=\"http://www.w3.org/2000/svg\">"
    );
    faults(&mut out, tl, &sc, TOP, TOP + HEIGHTS, true);
    let _ = write!(
        out,
        "<text class=\"axis\" x=\"4\" y=\"{:.1}\">height {max_h}</text>\
         <text class=\"axis\" x=\"4\" y=\"{:.1}\">0</text>",
        TOP + 8.0,
        TOP + HEIGHTS
    );
    for (i, n) in tl.nodes.iter().enumerate() {
        let mut pts = String::new();
        let mut last: Option<u64> = None;
        let mut up_run = false;
        let mut segs = Vec::new();
        for s in tl.samples_of(&n.name) {
            match (&s.status, s.up) {
                (Some(st), true) => {
                    if last != Some(st.height) || !up_run {
                        if let Some(h) = last.filter(|_| up_run) {
                            let _ = write!(pts, "{:.1},{:.1} ", sc.x(s.t), y(h));
                        }
                        let _ = write!(pts, "{:.1},{:.1} ", sc.x(s.t), y(st.height));
                        last = Some(st.height);
                    }
                    up_run = true;
                }
                _ => {
                    if up_run {
                        if let Some(h) = last {
                            let _ = write!(pts, "{:.1},{:.1} ", sc.x(s.t), y(h));
                        }
                        segs.push(std::mem::take(&mut pts));
                    }
                    up_run = false;
                }
            }
        }
        if up_run {
            if let Some(h) = last {
                let _ = write!(pts, "{:.1},{:.1}", sc.x(tl.end), y(h));
            }
        }
        segs.push(pts);
        let hue = (i * 360 / tl.nodes.len().max(1) + 17) % 360;
        for p in segs.iter().filter(|p| !p.is_empty()) {
            let _ = write!(
                out,
                "<polyline class=\"height\" data-node=\"{}\" points=\"{}\" \
                 style=\"stroke:hsl({hue},70%,40%)\"><title>{}</title></polyline>",
                esc(&n.name),
                p.trim_end(),
                esc(&n.name)
            );
        }
    }
    violations(&mut out, checks, &sc, TOP, TOP + HEIGHTS);
    axis(&mut out, tl, &sc, TOP + HEIGHTS + 4.0);
    out.push_str("</svg>");
    out
}

/// One lane per node pair: connected spans (the lower node's view), every
/// `connected` after the first (a reconnect) and every `disconnected`.
pub fn lanes(tl: &Timeline, checks: &[CheckResult]) -> String {
    let sc = Scale { end: tl.end as f64 };
    let names: Vec<&str> = tl.nodes.iter().map(|n| n.name.as_str()).collect();
    let ip_of: BTreeMap<&str, IpAddr> = tl.nodes.iter().map(|n| (n.name.as_str(), n.ip)).collect();
    let mut pairs = Vec::new();
    for (i, a) in names.iter().enumerate() {
        for b in &names[i + 1..] {
            pairs.push((*a, *b));
        }
    }
    let total = TOP + pairs.len() as f64 * LANE + 24.0;
    let mut out = format!(
        "<svg class=\"chart\" id=\"lanes\" viewBox=\"0 0 {WIDTH} {total}\" width=\"{WIDTH}\" \
         height=\"{total}\" xmlns=\"http://www.w3.org/2000/svg\">"
    );
    let y_end = TOP + pairs.len() as f64 * LANE;
    faults(&mut out, tl, &sc, TOP, y_end, true);
    // Which peers each sample of each node lists.
    let mut views: BTreeMap<&str, Vec<Listed>> = BTreeMap::new();
    for s in &tl.samples {
        let peers: BTreeSet<IpAddr> = s.peers.iter().flatten().map(|p| p.ip).collect();
        views
            .entry(s.node.as_str())
            .or_default()
            .push((s.t, s.up, peers));
    }
    for (k, (a, b)) in pairs.iter().enumerate() {
        let y = TOP + k as f64 * LANE;
        let _ = write!(
            out,
            "<g class=\"lane\" data-pair=\"{a}-{b}\"><text class=\"lane-label\" x=\"4\" \
             y=\"{:.1}\">{a} - {b}</text>",
            y + LANE - 3.0,
            a = esc(a),
            b = esc(b)
        );
        let _ = write!(
            out,
            "<rect class=\"lane-bg\" x=\"{LEFT}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\"/>",
            WIDTH - LEFT - RIGHT,
            LANE - 2.0
        );
        let ipb = ip_of[b];
        let mut open: Option<u64> = None;
        let mut spans = Vec::new();
        for (t, up, peers) in views.get(a).map(Vec::as_slice).unwrap_or(&[]) {
            let on = *up && peers.contains(&ipb);
            match (on, open) {
                (true, None) => open = Some(*t),
                (false, Some(s)) => {
                    spans.push((s, *t));
                    open = None;
                }
                _ => {}
            }
        }
        if let Some(s) = open {
            spans.push((s, tl.end));
        }
        for (s, e) in spans {
            let _ = write!(
                out,
                "<rect class=\"span\" x=\"{:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\">\
                 <title>{a} - {b} connected {}..{}</title></rect>",
                sc.x(s),
                (sc.x(e) - sc.x(s)).max(1.0),
                LANE - 2.0,
                fmt_ms(s),
                fmt_ms(e),
                a = esc(a),
                b = esc(b)
            );
        }
        let mut connects = 0;
        for e in tl.events.iter().filter(|e| {
            (e.node == *a && e.event.peer_ip == Some(ipb))
                || (e.node == *b && e.event.peer_ip == Some(ip_of[a]))
        }) {
            let x = sc.x(e.t);
            let who = esc(&e.node);
            match e.event.kind {
                EventKind::Connected if e.node == *a => {
                    connects += 1;
                    if connects > 1 {
                        let _ = write!(
                            out,
                            "<circle class=\"reconnect\" cx=\"{x:.1}\" cy=\"{:.1}\" r=\"3\">\
                             <title>{who} reconnected at {}</title></circle>",
                            y + LANE / 2.0 - 1.0,
                            fmt_ms(e.t)
                        );
                    }
                }
                EventKind::Disconnected => {
                    let _ = write!(
                        out,
                        "<line class=\"disconnect\" x1=\"{x:.1}\" y1=\"{y:.1}\" x2=\"{x:.1}\" \
                         y2=\"{:.1}\"><title>{who}: disconnected at {} ({})</title></line>",
                        y + LANE - 2.0,
                        fmt_ms(e.t),
                        esc(e.event.reason.as_deref().unwrap_or("no reason"))
                    );
                }
                _ => {}
            }
        }
        out.push_str("</g>");
    }
    violations(&mut out, checks, &sc, TOP, y_end);
    axis(&mut out, tl, &sc, y_end + 4.0);
    out.push_str("</svg>");
    out
}
