//! Scenario files: format, loading with `file:line:column` errors, validation.
//!
//! Public API (what the CLI and runner call):
//! - [`load`]`(path)` / [`parse`]`(text, path)` -> `Result<Scenario, ScenarioError>`:
//!   TOML syntax, types and unknown keys, e.g.
//!   `scenarios/x.toml:7:1: unknown field `fo`, expected one of `at`, `for`, ...`.
//! - [`validate`]`(&scenario, &Capabilities)` -> `Result<Plan, ScenarioErrors>`:
//!   semantic rules (node names, times inside the run, disjoint groups,
//!   features this machine lacks such as netem for `latency`), every problem
//!   at once, each located in the file when the scenario came from one; on
//!   success the resolved fault [`Plan`] (`plan.rs`), from which
//!   `nemesis::schedule::build` makes only the seed's choices.
//! - [`load_valid`]`(path, &caps)`: both, errors as one displayable value.
//! - [`expand`] / [`load_many`]`(&[paths or dirs])`: a directory means its
//!   `*.toml` files sorted by name; [`filter`] / [`matches_filter`] select by
//!   name substring or glob (`--filter`).
//! - [`events`]: the coverage events `[nemesis] must_reach` may name.
//! - Helpers on [`Scenario`]: `node_names()`, `masternode_count()`,
//!   `is_masternode(n)`, `start_at(n)`, `foreign_nodes()`, `wall(d)`
//!   (protocol -> wall: `d / time_scale`), `wall_duration()`, `check(kind)`;
//!   [`ms`] turns a duration into the timeline's protocol milliseconds and
//!   [`fmt_ms`] prints those (the harness's one time format).

mod derived;
mod error;
pub mod events;
mod fault_rules;
mod load;
pub mod plan;
mod probe_rules;
pub mod source;
pub mod types;
mod validate;

pub use derived::{fmt_ms, ms, node_index, parse_skew};
pub use error::{ScenarioError, ScenarioErrors};
pub use load::{expand, filter, load, load_many, matches_filter, parse};
pub use plan::Plan;
pub use probe_rules::probe_kind;
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
