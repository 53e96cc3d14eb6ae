//! The text a scenario was read from, and how to point into it.
//!
//! Syntax errors come with a byte span from `toml`; semantic errors (a node
//! that does not exist, overlapping groups) are found on the deserialized
//! structs, which carry no spans. Rather than deserializing twice into a
//! spanned shadow of every type, [`Source::find`] scans the document's table
//! headers and `key =` lines: scenario files are small, flat TOML, so "the
//! `groups` line of the third `[[fault]]`" is exactly what a human looks for.

use std::fmt;
use std::path::PathBuf;

/// 1-based line and column (column counted in characters).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location {
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// Which table of the scenario file a key lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    Root,
    Network,
    Nemesis,
    Workload,
    /// The i-th `[[node]]` (0-based).
    Node(usize),
    /// The i-th `[[fault]]` (0-based).
    Fault(usize),
    /// The i-th `[[check]]` (0-based).
    Check(usize),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    pub path: PathBuf,
    pub text: String,
}

impl Source {
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        Source {
            path: path.into(),
            text: text.into(),
        }
    }

    /// Line and column of a byte offset (clamped to the text).
    pub fn location(&self, offset: usize) -> Location {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        Location { line, column }
    }

    /// Where `key` is set in `section`; the section header if the key is not
    /// written there (a missing key); `None` if the section is not found.
    pub fn find(&self, section: Section, key: Option<&str>) -> Option<Location> {
        self.find_offset(section, key).map(|o| self.location(o))
    }

    /// Where `needle` (e.g. `"n9"` with its quotes) first occurs at or after
    /// the `key` line of `section`; falls back to the key itself.
    pub fn find_value(&self, section: Section, key: &str, needle: &str) -> Option<Location> {
        let start = self.find_offset(section, Some(key))?;
        let end = self.section_end(start);
        match self.text[start..end].find(needle) {
            Some(i) => Some(self.location(start + i)),
            None => Some(self.location(start)),
        }
    }

    fn find_offset(&self, section: Section, key: Option<&str>) -> Option<usize> {
        let mut current = Section::Root;
        let mut header_offset = Some(0);
        let mut counts = [0usize; 3]; // node, fault, check
        let mut offset = 0;
        let mut found_header = section == Section::Root;
        for line in self.text.split_inclusive('\n') {
            let indent = line.len() - line.trim_start().len();
            let trimmed = line.trim();
            if let Some(header) = table_header(trimmed) {
                current = match header {
                    Header::Array(name) => {
                        let slot = match name {
                            "node" => 0,
                            "fault" => 1,
                            "check" => 2,
                            _ => usize::MAX,
                        };
                        if slot == usize::MAX {
                            Section::Root
                        } else {
                            counts[slot] += 1;
                            let i = counts[slot] - 1;
                            [Section::Node(i), Section::Fault(i), Section::Check(i)][slot]
                        }
                    }
                    Header::Table("network") => Section::Network,
                    Header::Table("nemesis") => Section::Nemesis,
                    Header::Table("workload") => Section::Workload,
                    Header::Table(_) => Section::Root,
                };
                if current == section {
                    if key.is_none() {
                        return Some(offset + indent);
                    }
                    found_header = true;
                    header_offset = Some(offset + indent);
                } else if found_header && section != Section::Root {
                    // Left the section without finding the key.
                    return header_offset;
                }
            } else if current == section && !trimmed.starts_with('#') {
                if let (Some(want), Some(have)) = (key, line_key(trimmed)) {
                    if want == have {
                        return Some(offset + indent);
                    }
                }
            }
            offset += line.len();
        }
        if found_header {
            header_offset
        } else {
            None
        }
    }

    /// End of the table that contains `offset` (the next header or EOF).
    fn section_end(&self, offset: usize) -> usize {
        let mut pos = offset;
        let mut first = true;
        for line in self.text[offset..].split_inclusive('\n') {
            if !first && table_header(line.trim()).is_some() {
                return pos;
            }
            first = false;
            pos += line.len();
        }
        self.text.len()
    }
}

enum Header<'a> {
    Table(&'a str),
    Array(&'a str),
}

fn table_header(trimmed: &str) -> Option<Header<'_>> {
    let no_comment = trimmed.split('#').next().unwrap_or("").trim();
    if let Some(inner) = no_comment
        .strip_prefix("[[")
        .and_then(|s| s.strip_suffix("]]"))
    {
        return Some(Header::Array(inner.trim()));
    }
    no_comment
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .filter(|inner| !inner.contains('"') && !inner.contains(','))
        .map(|inner| Header::Table(inner.trim()))
}

/// The key of a `key = value` line (bare or quoted), if this is one.
fn line_key(trimmed: &str) -> Option<&str> {
    let (key, _) = trimmed.split_once('=')?;
    let key = key.trim();
    let key = key
        .strip_prefix('"')
        .and_then(|k| k.strip_suffix('"'))
        .unwrap_or(key);
    let bare = key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    (bare && !key.is_empty()).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "name = \"x\"\n\n[network]\nnodes = 3\n\n[[fault]]\nat = \"1m\"\n\n[[fault]]\n  at = \"2m\"\n  groups = [[\"n1\"], [\"n9\"]]\n";

    #[test]
    fn offsets_become_line_and_column() {
        let s = Source::new("a.toml", "ab\ncdé\nf");
        assert_eq!(s.location(0), Location { line: 1, column: 1 });
        assert_eq!(s.location(4), Location { line: 2, column: 2 });
        assert_eq!(s.location(8), Location { line: 3, column: 1 });
    }

    #[test]
    fn finds_keys_in_the_right_table() {
        let s = Source::new("a.toml", DOC);
        let at = |l, c| Some(Location { line: l, column: c });
        assert_eq!(s.find(Section::Root, Some("name")), at(1, 1));
        assert_eq!(s.find(Section::Network, Some("nodes")), at(4, 1));
        assert_eq!(s.find(Section::Fault(1), Some("at")), at(10, 3));
        assert_eq!(s.find(Section::Fault(0), None), at(6, 1));
        // Missing key: the table header.
        assert_eq!(s.find(Section::Fault(0), Some("for")), at(6, 1));
        assert_eq!(
            s.find_value(Section::Fault(1), "groups", "\"n9\""),
            at(11, 22)
        );
        assert_eq!(s.find(Section::Check(0), None), None);
    }
}
