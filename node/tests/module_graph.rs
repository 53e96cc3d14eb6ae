//! No import cycle among the modules of `node/src` nor among those of
//! `harness/src` (found through `CARGO_MANIFEST_DIR`).
//!
//! The check parses every `.rs` file under a source root (std only, no
//! compiler): a file's module path comes from its location (`a/b.rs` and
//! `a/b/mod.rs` are `a::b`; `lib.rs` and `main.rs` are the crate root) plus
//! any inline `mod name { .. }` it sits in.
//!
//! What counts as a reference: every path that starts with `crate::`,
//! `super::` (also `super::super::`) or `self::`, in `use` trees with `{..}`
//! groups expanded, and in expressions and types alike; `#[cfg(test)]` code
//! counts too. Comments, string and char literals and `$crate` are skipped.
//! A path resolves to the longest prefix of it that is a module.
//!
//! What becomes an edge: a reference from module `M` to module `T` is an
//! edge between the two children of their deepest common ancestor that
//! contain `M` and `T`: siblings, at every level (`net::dialer` ->
//! `net::connection` is an edge of `net`; `api::types` -> `net::views` is
//! the edge `api` -> `net` of the crate root). Not edges: a reference from a
//! module to its own descendant (a parent using its children: a
//! declaration, not a dependency back) and a reference from a module to its
//! own ancestor (a child using what its parent declares or re-exports: the
//! parent's contract). Known blind spot: names reached only through a glob
//! import (`use super::*`) of names the parent imported.
//!
//! A cycle is a strongly connected component of that graph with more than
//! one module; the test fails listing each one with one reference (file:line)
//! per edge.

#[path = "module_graph/lex.rs"]
mod lex;

use lex::{lex, path_tail, Tok};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type ModPath = Vec<String>;

/// One reference: from a module to a module, and where it was written.
#[derive(Debug, Clone)]
struct Reference {
    from: ModPath,
    to: ModPath,
    at: String,
}

/// Every module-to-module reference written in one file.
fn references(
    file_mod: &ModPath,
    src: &str,
    file: &str,
    modules: &BTreeSet<ModPath>,
) -> Vec<Reference> {
    let toks = lex(src);
    let mut refs = Vec::new();
    // Inline modules: (name, brace depth at which its body opened).
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut pending_mod: Option<String> = None;
    let mut i = 0;
    while i < toks.len() {
        let (tok, line) = (&toks[i].0, toks[i].1);
        match tok {
            Tok::Open => {
                depth += 1;
                if let Some(name) = pending_mod.take() {
                    inline.push((name, depth));
                }
                i += 1;
                continue;
            }
            Tok::Close => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
                i += 1;
                continue;
            }
            Tok::Ident(k) if k == "mod" => {
                if let Some((Tok::Ident(name), _)) = toks.get(i + 1) {
                    if toks.get(i + 2).map(|t| &t.0) == Some(&Tok::Open) {
                        pending_mod = Some(name.clone());
                    }
                }
                i += 1;
                continue;
            }
            _ => {}
        }
        let here: ModPath = file_mod
            .iter()
            .cloned()
            .chain(inline.iter().map(|(n, _)| n.clone()))
            .collect();
        let after_dollar = i > 0 && toks[i - 1].0 == Tok::Dollar;
        let after_sep = i > 0 && toks[i - 1].0 == Tok::PathSep;
        let head = match tok {
            Tok::Ident(s)
                if !after_dollar
                    && !after_sep
                    && matches!(s.as_str(), "crate" | "super" | "self") =>
            {
                s.clone()
            }
            _ => {
                i += 1;
                continue;
            }
        };
        if toks.get(i + 1).map(|t| &t.0) != Some(&Tok::PathSep) {
            i += 1;
            continue;
        }
        let mut base: ModPath = match head.as_str() {
            "crate" => vec![],
            "self" => here.clone(),
            _ => here[..here.len().saturating_sub(1)].to_vec(),
        };
        let mut j = i + 2;
        // super::super::...
        while head == "super"
            && matches!(toks.get(j), Some((Tok::Ident(s), _)) if s == "super")
            && toks.get(j + 1).map(|t| &t.0) == Some(&Tok::PathSep)
        {
            base.pop();
            j += 2;
        }
        let mut paths = Vec::new();
        let end = path_tail(&toks, j, base, &mut paths);
        for p in paths {
            let target = (0..=p.len())
                .rev()
                .map(|k| p[..k].to_vec())
                .find(|m| modules.contains(m))
                .unwrap_or_default();
            refs.push(Reference {
                from: here.clone(),
                to: target,
                at: format!("{file}:{line}"),
            });
        }
        i = end.max(i + 1);
    }
    refs
}

/// The sibling edge a reference makes, if any (see the module doc).
fn edge(r: &Reference) -> Option<(ModPath, ModPath)> {
    let k = r.from.iter().zip(&r.to).take_while(|(a, b)| a == b).count();
    if k == r.from.len() || k == r.to.len() {
        return None; // to a descendant or an ancestor (or itself)
    }
    Some((r.from[..=k].to_vec(), r.to[..=k].to_vec()))
}

fn module_of(rel: &Path) -> ModPath {
    let mut parts: Vec<String> = rel
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// Cycles (strongly connected components of more than one module) in the
/// module graph of the given files (path relative to the source root,
/// contents), each with one reference per edge inside it.
fn cycles(files: &[(PathBuf, String)]) -> Vec<Vec<String>> {
    let modules: BTreeSet<ModPath> = files.iter().map(|(p, _)| module_of(p)).collect();
    let mut graph: BTreeMap<ModPath, BTreeMap<ModPath, String>> = BTreeMap::new();
    for (p, src) in files {
        for r in references(&module_of(p), src, &p.display().to_string(), &modules) {
            if let Some((a, b)) = edge(&r) {
                graph.entry(a).or_default().entry(b).or_insert(r.at);
            }
        }
    }
    // Tarjan's strongly connected components.
    struct T<'g> {
        g: &'g BTreeMap<ModPath, BTreeMap<ModPath, String>>,
        index: BTreeMap<ModPath, usize>,
        low: BTreeMap<ModPath, usize>,
        stack: Vec<ModPath>,
        on: BTreeSet<ModPath>,
        out: Vec<Vec<ModPath>>,
    }
    fn visit(t: &mut T, v: &ModPath) {
        let n = t.index.len();
        t.index.insert(v.clone(), n);
        t.low.insert(v.clone(), n);
        t.stack.push(v.clone());
        t.on.insert(v.clone());
        let next: Vec<ModPath> =
            t.g.get(v)
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
        for w in next {
            if !t.index.contains_key(&w) {
                visit(t, &w);
                let lw = t.low[&w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if t.on.contains(&w) {
                let iw = t.index[&w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if t.low[v] == t.index[v] {
            let mut comp = Vec::new();
            loop {
                let w = t.stack.pop().unwrap();
                t.on.remove(&w);
                let done = &w == v;
                comp.push(w);
                if done {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                t.out.push(comp);
            }
        }
    }
    let mut t = T {
        g: &graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: vec![],
        on: BTreeSet::new(),
        out: vec![],
    };
    for v in graph.keys() {
        if !t.index.contains_key(v) {
            visit(&mut t, v);
        }
    }
    let name = |m: &ModPath| {
        if m.is_empty() {
            "crate".to_string()
        } else {
            m.join("::")
        }
    };
    let mut comps = t.out;
    comps.sort();
    comps
        .iter()
        .map(|comp| {
            let set: BTreeSet<&ModPath> = comp.iter().collect();
            let mut lines = vec![comp.iter().map(name).collect::<Vec<_>>().join(" <-> ")];
            for a in comp {
                for (b, at) in &graph[a] {
                    if set.contains(b) {
                        lines.push(format!("    {} -> {}  ({at})", name(a), name(b)));
                    }
                }
            }
            lines
        })
        .collect()
}

fn read_tree(root: &Path) -> Vec<(PathBuf, String)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, String)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(root, &p, out);
            } else if p.extension().is_some_and(|e| e == "rs") {
                let src = std::fs::read_to_string(&p).unwrap();
                out.push((p.strip_prefix(root).unwrap().to_path_buf(), src));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    assert!(out.len() > 5, "no sources under {}", root.display());
    out
}

fn assert_acyclic(root: &Path) {
    let found = cycles(&read_tree(root));
    assert!(
        found.is_empty(),
        "import cycles among the modules of {}:\n{}",
        root.display(),
        found
            .iter()
            .map(|c| c.join("\n"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn node_src_has_no_import_cycle() {
    assert_acyclic(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
}

#[test]
fn harness_src_has_no_import_cycle() {
    assert_acyclic(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../harness/src"));
}

// ---- the check itself can fail ----

fn tree(files: &[(&str, &str)]) -> Vec<(PathBuf, String)> {
    files
        .iter()
        .map(|(p, s)| (PathBuf::from(p), s.to_string()))
        .collect()
}

#[test]
fn a_cycle_between_siblings_is_found_with_its_references() {
    let found = cycles(&tree(&[
        ("lib.rs", "pub mod net; pub mod api;"),
        ("net/mod.rs", "mod a; mod b; mod c;"),
        ("net/a.rs", "use super::b::X;"),
        ("net/b.rs", "fn f() { crate::net::c::g(); }"),
        // a group in a use tree, after a comment and a string with a path
        (
            "net/c.rs",
            "// use super::b;\nconst S: &str = \"crate::api\";\nuse crate::{net::{a::Y, b}, api};",
        ),
        ("api.rs", "pub struct Z;"),
    ]));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0][0], "net::a <-> net::b <-> net::c");
    assert!(
        found[0].contains(&"    net::c -> net::a  (net/c.rs:3)".to_string()),
        "{found:?}"
    );
}

#[test]
fn a_cycle_between_top_level_modules_is_found() {
    let found = cycles(&tree(&[
        ("lib.rs", ""),
        ("net/mod.rs", "mod views;"),
        ("net/views.rs", "use crate::api::types::X;"),
        ("api/mod.rs", "mod types;"),
        ("api/types.rs", "pub use crate::net::views::Direction;"),
    ]));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0][0], "api <-> net");
}

#[test]
fn parent_child_references_and_test_modules_are_read_as_documented() {
    // net uses its child (declaration), the child uses its parent's
    // contract: no edge. An inline test module's `super::` is its file.
    let files = tree(&[
        ("lib.rs", ""),
        (
            "net/mod.rs",
            "mod reg; use reg::R; pub struct Shared; fn f() { self::reg::g(); }",
        ),
        (
            "net/reg.rs",
            "use super::Shared;\n#[cfg(test)]\nmod tests { use super::R; use super::super::w::W; }",
        ),
        (
            "net/w.rs",
            "use super::reg::R; fn s() -> &'static str { 'x'; \"}\" }",
        ),
    ]);
    let found = cycles(&files);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0][0], "net::reg <-> net::w", "{found:?}");
    assert!(found[0].contains(&"    net::reg -> net::w  (net/reg.rs:3)".to_string()));
}
