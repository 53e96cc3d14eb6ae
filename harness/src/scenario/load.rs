//! Reading scenario files: TOML syntax and types (with `file:line:column`),
//! directory expansion and name filters.

use super::error::ScenarioError;
use super::source::Source;
use super::types::Scenario;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Parse scenario text; `path` is only used in error messages and kept in
/// `Scenario::source` for later semantic errors. Does not validate.
pub fn parse(text: &str, path: impl AsRef<Path>) -> Result<Scenario, ScenarioError> {
    let source = Source::new(path.as_ref(), text);
    match toml::from_str::<Scenario>(text) {
        Ok(mut scenario) => {
            scenario.source = Some(Arc::new(source));
            Ok(scenario)
        }
        Err(e) => {
            let location = e.span().map(|span| source.location(span.start));
            Err(ScenarioError::new(
                path.as_ref(),
                location,
                e.message().trim_end().to_string(),
            ))
        }
    }
}

/// Read and parse one scenario file. Does not validate (see
/// [`super::validate`]; [`super::load_valid`] does both).
pub fn load(path: impl AsRef<Path>) -> Result<Scenario, ScenarioError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path)
        .map_err(|e| ScenarioError::new(path, None, format!("cannot read scenario file: {e}")))?;
    parse(&text, path)
}

/// Expand arguments into scenario files: a directory becomes its `*.toml`
/// files sorted by name (not recursive); a file is taken as is.
pub fn expand(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, ScenarioError> {
    let mut files = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let entries = std::fs::read_dir(input).map_err(|e| {
                ScenarioError::new(input, None, format!("cannot list directory: {e}"))
            })?;
            let mut found: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "toml"))
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(input.clone());
        }
    }
    Ok(files)
}

/// Load every scenario named by `inputs` (files or directories), in order.
/// Each file gets its own result so one bad file does not hide the others.
pub fn load_many(inputs: &[PathBuf]) -> Vec<Result<Scenario, ScenarioError>> {
    match expand(inputs) {
        Ok(files) => files.iter().map(load).collect(),
        Err(e) => vec![Err(e)],
    }
}

/// Whether a scenario name matches a `--filter`: a glob if the pattern has
/// `*` or `?`, otherwise a substring.
pub fn matches_filter(name: &str, pattern: &str) -> bool {
    if pattern.contains(['*', '?']) {
        glob_match(pattern.as_bytes(), name.as_bytes())
    } else {
        name.contains(pattern)
    }
}

/// Keep the scenarios whose name matches `pattern` (all when `None`).
pub fn filter(scenarios: Vec<Scenario>, pattern: Option<&str>) -> Vec<Scenario> {
    match pattern {
        None => scenarios,
        Some(p) => scenarios
            .into_iter()
            .filter(|s| matches_filter(&s.name, p))
            .collect(),
    }
}

/// `*` = any run of characters, `?` = one character; iterative with
/// backtracking to the last `*` (linear enough for scenario names).
fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_by_substring_or_glob() {
        assert!(matches_filter("partition-heal", "heal"));
        assert!(matches_filter("partition-heal", "part*heal"));
        assert!(matches_filter("partition-heal", "*-h?al"));
        assert!(!matches_filter("partition-heal", "heal*x"));
        assert!(!matches_filter("churn", "part"));
        assert!(matches_filter("churn", "*"));
    }
}
