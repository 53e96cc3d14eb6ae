//! Scenario files: format, loading with `file:line:column` errors, validation.
//!
//! Public API (what the CLI and runner call):
//! - [`load`]`(path)` / [`parse`]`(text, path)` -> `Result<Scenario, ScenarioError>`:
//!   TOML syntax, types and unknown keys, e.g.
//!   `scenarios/x.toml:7:1: unknown field `fo`, expected one of `at`, `for`, ...`.
//! - [`validate`]`(&scenario, &Capabilities)` -> `Result<(), ScenarioErrors>`:
//!   semantic rules (node names, times inside the run, disjoint groups,
//!   features this machine lacks such as netem for `latency`), every problem
//!   at once, each located in the file when the scenario came from one.
//! - [`load_valid`]`(path, &caps)`: both, errors as one displayable value.
//! - [`expand`] / [`load_many`]`(&[paths or dirs])`: a directory means its
//!   `*.toml` files sorted by name; [`filter`] / [`matches_filter`] select by
//!   name substring or glob (`--filter`).
//! - Helpers on [`Scenario`]: `node_names()`, `masternode_count()`,
//!   `is_masternode(n)`, `start_at(n)`, `foreign_nodes()`, `wall(d)`
//!   (protocol -> wall: `d / time_scale`), `wall_duration()`, `check(kind)`;
//!   [`ms`] turns a duration into the timeline's protocol milliseconds.

mod derived;
mod error;
mod load;
pub mod source;
pub mod types;
mod validate;

pub use derived::{ms, node_index, parse_skew};
pub use error::{ScenarioError, ScenarioErrors};
pub use load::{expand, filter, load, load_many, matches_filter, parse};
pub use source::{Location, Section, Source};
pub use types::*;
pub use validate::{no_netem_message, validate, Capabilities};

use std::path::Path;

/// Load and validate one scenario file.
pub fn load_valid(path: impl AsRef<Path>, caps: &Capabilities) -> Result<Scenario, ScenarioErrors> {
    let scenario = load(path)?;
    validate(&scenario, caps)?;
    Ok(scenario)
}
