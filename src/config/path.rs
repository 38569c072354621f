//! YAML paths such as `models.demo.targets[0].provider`, used to name and locate config errors.
//!
//! Owns: the one spelling of a path, so the line index (`lines`), env interpolation (`env`) and
//! validation all produce identical strings for the same node.
//! Must not: know about any particular config section.

use std::fmt;

use serde_yaml::Value;

/// One step in a path: a mapping key or a sequence index.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// A path from the document root; the root itself is the empty path.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub(crate) struct YamlPath(Vec<Seg>);

impl YamlPath {
    pub(crate) fn root() -> Self {
        YamlPath(Vec::new())
    }

    pub(crate) fn key(&self, key: &str) -> Self {
        let mut p = self.clone();
        p.0.push(Seg::Key(key.to_string()));
        p
    }

    pub(crate) fn index(&self, i: usize) -> Self {
        let mut p = self.clone();
        p.0.push(Seg::Index(i));
        p
    }

    /// This path followed by `other`.
    pub(crate) fn join(&self, other: &YamlPath) -> Self {
        let mut p = self.clone();
        p.0.extend(other.0.iter().cloned());
        p
    }

    /// The parent path; `None` for the root.
    pub(crate) fn parent(&self) -> Option<Self> {
        let mut p = self.clone();
        p.0.pop().map(|_| p)
    }

    pub(crate) fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// Converts a `serde_path_to_error` path (relative to the value that was deserialized).
    pub(crate) fn from_serde(path: &serde_path_to_error::Path) -> Self {
        use serde_path_to_error::Segment;
        let segs = path
            .iter()
            .filter_map(|s| match s {
                Segment::Seq { index } => Some(Seg::Index(*index)),
                Segment::Map { key } => Some(Seg::Key(key.clone())),
                Segment::Enum { variant } => Some(Seg::Key(variant.clone())),
                Segment::Unknown => None,
            })
            .collect();
        YamlPath(segs)
    }
}

/// Keys that would make the path ambiguous (dots, brackets, spaces, quotes) are quoted.
impl fmt::Display for YamlPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Index(n) => write!(f, "[{n}]")?,
                Seg::Key(k) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    let plain = !k.is_empty()
                        && !k.contains(|c: char| {
                            matches!(c, '.' | '[' | ']' | '"' | '\\') || c.is_whitespace()
                        });
                    if plain {
                        f.write_str(k)?;
                    } else {
                        write!(f, "{k:?}")?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// The text of a YAML mapping key as it appears in paths (matches what `lines` records).
pub(crate) fn key_text(key: &Value) -> String {
    match key {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "~".to_string(),
        _ => "?".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_parent() {
        let p = YamlPath::root()
            .key("models")
            .key("demo")
            .key("targets")
            .index(0)
            .key("provider");
        assert_eq!(p.to_string(), "models.demo.targets[0].provider");
        assert_eq!(
            p.parent().map(|p| p.to_string()).as_deref(),
            Some("models.demo.targets[0]")
        );
        assert_eq!(YamlPath::root().key("keys").index(2).to_string(), "keys[2]");
        assert_eq!(YamlPath::root().parent(), None);
    }

    #[test]
    fn ambiguous_keys_are_quoted() {
        let p = YamlPath::root().key("models").key("llama3.1");
        assert_eq!(p.to_string(), "models.\"llama3.1\"");
    }
}
