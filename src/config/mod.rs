//! Configuration: the YAML file -> a validated `model::Config`, and back to YAML for `-T`.
//!
//! Owns: reading the file, env interpolation (`${VAR}`, `${VAR:-default}`, `$$`) on string
//! values after parsing, validation that collects every error with its file:line:column and YAML
//! path, and the redacted dump. The pipeline is:
//!
//! ```text
//! text --serde_yaml--> Value --env--> Value --raw (serde, per entry)--> validate --> model::Config
//!   \--yaml-rust2 events--> lines::LineIndex (YamlPath -> line:col, used to locate errors)
//! ```
//!
//! Must not: know about pingora, open sockets, or log; callers decide how to show
//! `ConfigErrors`. The runtime model in `model` is the only thing other modules read.

pub mod model;
pub mod units;

mod azure;
mod bedrock;
mod dump;
mod env;
mod error;
mod gemini;
mod keys;
mod lines;
mod models;
mod path;
mod providers;
mod quota;
mod raw;
mod resilience;
mod url;
mod validate;

#[cfg(test)]
mod azure_tests;
#[cfg(test)]
mod errors_tests;
#[cfg(test)]
mod resilience_tests;
#[cfg(test)]
mod tests;

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

pub use dump::dump;
pub use error::{ConfigError, ConfigErrors};
pub use model::*;

use error::Diagnostics;
use lines::{LineIndex, Mark};
use validate::{Context, Host};

/// Loads and validates the config file at `path`; `${VAR}` reads the process environment.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigErrors::file(path, None, format!("cannot read config file: {e}")))?;
    load_str(&text, path, &|name| std::env::var(name).ok())
}

/// Validates config `text`; `path` is only used in messages and `Config::source`.
pub fn load_str(
    text: &str,
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigErrors> {
    let now_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    load_with(text, path, env, Host { now_unix, cores })
}

/// `load_str` with the clock and core count injected.
pub(crate) fn load_with(
    text: &str,
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    host: Host,
) -> Result<Config, ConfigErrors> {
    let index = LineIndex::build(text);
    let mut root: serde_yaml::Value =
        serde_yaml::from_str(text).map_err(|e| syntax_error(path, &index, &e))?;
    let outcome = env::interpolate_tree(&mut root, env);
    let mut d = Diagnostics::new(path, &index);
    for (p, message) in &outcome.errors {
        d.env(p, message.as_str());
    }
    let cx = Context {
        substituted: &outcome.substituted,
        host,
    };
    let config = validate::validate(&root, path, &cx, &mut d);
    d.finish()?;
    config.ok_or_else(|| {
        ConfigErrors::file(path, None, "configuration rejected (no detail recorded)")
    })
}

/// A YAML syntax error (or a duplicate key), as one error with serde_yaml's position.
fn syntax_error(path: &Path, index: &LineIndex, e: &serde_yaml::Error) -> ConfigErrors {
    let mark = e.location().map(|l| Mark {
        line: l.line(),
        column: l.column(),
    });
    let mut message = e.to_string();
    if let Some(m) = mark {
        // The position is shown in front; drop serde_yaml's own copy of it.
        message = message.replacen(&format!(" at line {} column {}", m.line, m.column), "", 1);
    }
    // serde_yaml writes a duplicate key as "<parent path>: duplicate entry ..." at the start of
    // its mapping; the index knows the duplicate's own path and line.
    let (mark, yaml_path) = match (message.find("duplicate entry"), index.first_duplicate()) {
        (Some(i), Some((dup, at))) => {
            message = message[i..].to_string();
            (Some(*at), dup.to_string())
        }
        _ => (mark, String::new()),
    };
    ConfigErrors(vec![ConfigError {
        file: path.to_path_buf(),
        line: mark.map(|m| m.line),
        column: mark.map(|m| m.column),
        path: yaml_path,
        message,
    }])
}
