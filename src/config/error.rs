//! Config errors and the collector that gathers them during one load.
//!
//! Owns: `ConfigError` (file, line:column, YAML path, message), `ConfigErrors`, and `Diagnostics`,
//! which turns a `YamlPath` into a position via the line index and keeps every error.
//! Must not: stop at the first error, print anything, or decide what is valid.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use super::lines::{LineIndex, Mark};
use super::path::YamlPath;

/// One problem in a config file, located as precisely as known.
///
/// Displays as `FILE:LINE:COL: PATH: MESSAGE`, leaving out the parts that are unknown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(self))]
pub struct ConfigError {
    /// The config file.
    pub file: PathBuf,
    /// 1-based.
    pub line: Option<usize>,
    /// 1-based.
    pub column: Option<usize>,
    /// YAML path such as `models.demo.targets[0].provider`; empty for the whole file.
    pub path: String,
    /// What is wrong, and where useful what is accepted.
    pub message: String,
}

fn render(e: &ConfigError) -> String {
    let mut out = e.file.display().to_string();
    if let Some(line) = e.line {
        out.push_str(&format!(":{line}"));
        if let Some(col) = e.column {
            out.push_str(&format!(":{col}"));
        }
    }
    if !e.path.is_empty() {
        out.push_str(": ");
        out.push_str(&e.path);
    }
    out.push_str(": ");
    out.push_str(&e.message);
    out
}

/// Every problem found in a config file, in file order. Displays one error per line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render_all(&self.0))]
pub struct ConfigErrors(pub Vec<ConfigError>);

fn render_all(errors: &[ConfigError]) -> String {
    let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
    lines.join("\n")
}

impl ConfigErrors {
    /// A single error about the file as a whole (unreadable, not YAML, ...).
    pub(crate) fn file(file: &Path, mark: Option<Mark>, message: impl Into<String>) -> Self {
        ConfigErrors(vec![ConfigError {
            file: file.to_path_buf(),
            line: mark.map(|m| m.line),
            column: mark.map(|m| m.column),
            path: String::new(),
            message: message.into(),
        }])
    }
}

/// Collects located errors while one file is validated.
pub(crate) struct Diagnostics<'a> {
    file: &'a Path,
    index: &'a LineIndex,
    errors: Vec<ConfigError>,
    /// Paths whose env interpolation failed: further errors there would only repeat it.
    env_failed: HashSet<YamlPath>,
}

impl<'a> Diagnostics<'a> {
    pub(crate) fn new(file: &'a Path, index: &'a LineIndex) -> Self {
        Diagnostics {
            file,
            index,
            errors: Vec::new(),
            env_failed: HashSet::new(),
        }
    }

    /// An error about the value at `path`.
    pub(crate) fn at(&mut self, path: &YamlPath, message: impl Into<String>) {
        let mark = self.index.locate(path);
        self.push(path, mark, message.into());
    }

    /// An error about the key at `path` (unknown or duplicate field).
    pub(crate) fn at_key(&mut self, path: &YamlPath, message: impl Into<String>) {
        let mark = self.index.locate_key(path);
        self.push(path, mark, message.into());
    }

    /// An env interpolation error; later errors at the same path are dropped.
    pub(crate) fn env(&mut self, path: &YamlPath, message: impl Into<String>) {
        self.at(path, message);
        self.env_failed.insert(path.clone());
    }

    fn push(&mut self, path: &YamlPath, mark: Option<Mark>, message: String) {
        if self.env_failed.contains(path) {
            return;
        }
        self.errors.push(ConfigError {
            file: self.file.to_path_buf(),
            line: mark.map(|m| m.line),
            column: mark.map(|m| m.column),
            path: path.to_string(),
            message,
        });
    }

    pub(crate) fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// Deserializes `value` (found at `path`) into a raw type, recording the error if any.
    pub(crate) fn deserialize<T: DeserializeOwned>(
        &mut self,
        value: &serde_yaml::Value,
        path: &YamlPath,
    ) -> Option<T> {
        match serde_path_to_error::deserialize(value.clone()) {
            Ok(v) => Some(v),
            Err(e) => {
                let at = path.join(&YamlPath::from_serde(e.path()));
                let message = e.inner().to_string();
                if message.starts_with("unknown field") {
                    self.at_key(&at, message);
                } else {
                    self.at(&at, message);
                }
                None
            }
        }
    }

    /// All errors in file order (errors without a line last), or `Ok` when there are none.
    pub(crate) fn finish(self) -> Result<(), ConfigErrors> {
        if self.errors.is_empty() {
            return Ok(());
        }
        let mut errors = self.errors;
        errors.sort_by_key(|e| (e.line.is_none(), e.line, e.column));
        Err(ConfigErrors(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(line: Option<usize>, column: Option<usize>, path: &str) -> ConfigError {
        ConfigError {
            file: PathBuf::from("conf/x.yaml"),
            line,
            column,
            path: path.into(),
            message: "boom".into(),
        }
    }

    #[test]
    fn display_omits_unknown_parts() {
        let full = err(Some(7), Some(14), "providers.openai.api_key");
        assert_eq!(
            full.to_string(),
            "conf/x.yaml:7:14: providers.openai.api_key: boom"
        );
        assert_eq!(
            err(Some(3), None, "a").to_string(),
            "conf/x.yaml:3: a: boom"
        );
        assert_eq!(err(None, None, "a").to_string(), "conf/x.yaml: a: boom");
        assert_eq!(
            err(Some(1), Some(2), "").to_string(),
            "conf/x.yaml:1:2: boom"
        );
        let all = ConfigErrors(vec![err(Some(1), Some(1), "a"), err(None, None, "b")]);
        assert_eq!(
            all.to_string(),
            "conf/x.yaml:1:1: a: boom\nconf/x.yaml: b: boom"
        );
    }

    #[test]
    fn collector_sorts_and_skips_repeats_after_env_errors() {
        let index = LineIndex::build("a: 1\nb: 2\n");
        let file = Path::new("f.yaml");
        let mut d = Diagnostics::new(file, &index);
        d.at(&YamlPath::root().key("zzz"), "no line");
        d.at(&YamlPath::root().key("b"), "second");
        d.env(&YamlPath::root().key("a"), "env");
        d.at(&YamlPath::root().key("a"), "repeat");
        let errors = d.finish().unwrap_err().0;
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "f.yaml:1:4: a: env",
                "f.yaml:2:4: b: second",
                "f.yaml: zzz: no line"
            ]
        );
    }
}
