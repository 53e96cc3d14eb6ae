//! Scenario errors: every one names the file and, where it can be located,
//! the line and column, in the `file:line:column: message` form editors and
//! CI log viewers turn into links.

use super::source::{Location, Section, Source};
use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    pub path: PathBuf,
    pub location: Option<Location>,
    pub message: String,
}

impl ScenarioError {
    pub fn new(path: &Path, location: Option<Location>, message: impl Into<String>) -> Self {
        ScenarioError {
            path: path.to_path_buf(),
            location,
            message: message.into(),
        }
    }

    /// An error about `key` in `section` of `source` (or without a location
    /// when the scenario was built in code and has no source).
    pub fn at(
        source: Option<&Source>,
        section: Section,
        key: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        let path = source.map_or_else(|| PathBuf::from("<scenario>"), |s| s.path.clone());
        let location = source.and_then(|s| s.find(section, key));
        ScenarioError {
            path,
            location,
            message: message.into(),
        }
    }

    /// Like [`ScenarioError::at`], pointing at `needle` inside the key's value.
    pub fn at_value(
        source: Option<&Source>,
        section: Section,
        key: &str,
        needle: &str,
        message: impl Into<String>,
    ) -> Self {
        let mut e = Self::at(source, section, Some(key), message);
        if let Some(s) = source {
            e.location = s.find_value(section, key, needle).or(e.location);
        }
        e
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.location {
            Some(l) => write!(f, "{}:{}: {}", self.path.display(), l, self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

impl std::error::Error for ScenarioError {}

/// All semantic problems of one scenario, in file order (one per line when
/// displayed), so a user fixes them in one pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioErrors(pub Vec<ScenarioError>);

impl fmt::Display for ScenarioErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioErrors {}

impl From<ScenarioError> for ScenarioErrors {
    fn from(e: ScenarioError) -> Self {
        ScenarioErrors(vec![e])
    }
}
