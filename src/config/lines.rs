//! Where each node of the YAML text is: a `YamlPath` -> line:column index.
//!
//! Owns: walking yaml-rust2's marked event stream once and remembering the position of every
//! mapping key, sequence item and scalar, so errors found later (on `serde_yaml::Value`, which
//! has no positions) can point at a line.
//! Must not: decide whether the YAML is valid. serde_yaml is the parser of record; if yaml-rust2
//! disagrees, the index is just incomplete and errors fall back to an ancestor's line.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::path::YamlPath;

/// A 1-based position in the source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Mark {
    pub line: usize,
    pub column: usize,
}

impl Mark {
    fn from_marker(m: Marker) -> Self {
        // yaml-rust2 0.10 reports 1-based lines but 0-based columns.
        Mark {
            line: m.line(),
            column: m.col() + 1,
        }
    }
}

#[derive(Debug, Default)]
struct Entry {
    /// Position of the mapping key naming this node (none for sequence items and the root).
    key: Option<Mark>,
    /// Position of the value: the scalar itself, or the first scalar inside a collection.
    value: Option<Mark>,
    scalar: bool,
}

/// Positions of the nodes of one YAML document.
#[derive(Debug, Default)]
pub(crate) struct LineIndex {
    entries: HashMap<YamlPath, Entry>,
    /// Mapping keys seen twice, in document order (serde_yaml reports these without a useful line).
    duplicates: Vec<(YamlPath, Mark)>,
}

impl LineIndex {
    pub(crate) fn build(text: &str) -> Self {
        let mut builder = Builder::default();
        // A parse error just leaves the index partial; serde_yaml reports syntax errors.
        let _ = Parser::new_from_str(text).load(&mut builder, false);
        builder.index
    }

    /// Best position for an error about the value at `path`: a scalar's own position, else the
    /// key naming the node, else the nearest ancestor's key (never the document root).
    pub(crate) fn locate(&self, path: &YamlPath) -> Option<Mark> {
        if let Some(e) = self.entries.get(path) {
            let found = if e.scalar {
                e.value.or(e.key)
            } else {
                e.key.or(e.value)
            };
            if found.is_some() {
                return found;
            }
        }
        self.locate_ancestor(path)
    }

    /// Best position for an error about the key at `path` (e.g. an unknown field).
    pub(crate) fn locate_key(&self, path: &YamlPath) -> Option<Mark> {
        if let Some(e) = self.entries.get(path) {
            if let Some(m) = e.key.or(e.value) {
                return Some(m);
            }
        }
        self.locate_ancestor(path)
    }

    fn locate_ancestor(&self, path: &YamlPath) -> Option<Mark> {
        let mut p = path.parent()?;
        while !p.is_root() {
            if let Some(m) = self.entries.get(&p).and_then(|e| e.key.or(e.value)) {
                return Some(m);
            }
            p = p.parent()?;
        }
        None
    }

    /// The first mapping key that appears twice in the same mapping.
    pub(crate) fn first_duplicate(&self) -> Option<&(YamlPath, Mark)> {
        self.duplicates.first()
    }
}

#[derive(Debug)]
enum Frame {
    /// `path` is `None` inside a complex (non-scalar) key, whose nodes are not indexed.
    /// `key` is `None` while a key is expected, `Some(path of the value)` after one was read.
    Map {
        path: Option<YamlPath>,
        key: Option<Option<YamlPath>>,
    },
    Seq {
        path: Option<YamlPath>,
        next: usize,
    },
}

enum Role {
    /// The node is a key of the mapping at this path.
    Key(Option<YamlPath>),
    /// The node is a value at this path.
    Value(Option<YamlPath>),
}

#[derive(Default)]
struct Builder {
    index: LineIndex,
    stack: Vec<Frame>,
    /// Collections whose first scalar has not been seen yet, with their own start position.
    pending: Vec<(YamlPath, Mark)>,
}

impl Builder {
    fn role(&mut self) -> Role {
        match self.stack.last_mut() {
            None => Role::Value(Some(YamlPath::root())),
            Some(Frame::Map { path, key }) => match key.take() {
                None => Role::Key(path.clone()),
                Some(value_path) => Role::Value(value_path),
            },
            Some(Frame::Seq { path, next, .. }) => {
                let p = path.as_ref().map(|p| p.index(*next));
                *next += 1;
                Role::Value(p)
            }
        }
    }

    /// After a key node: the mapping now expects the value at `value_path`.
    fn set_key(&mut self, value_path: Option<YamlPath>) {
        if let Some(Frame::Map { key, .. }) = self.stack.last_mut() {
            *key = Some(value_path);
        }
    }

    /// A scalar or alias. `text` is the scalar's text (`None` for an alias); `located` is false
    /// for an empty plain scalar (`key:` with nothing after it), which the parser reports at the
    /// next token - misleading, so its position is left unknown.
    fn scalar(&mut self, text: Option<&str>, located: bool, mark: Mark) {
        if located {
            // The first located scalar inside a collection is where that collection starts.
            for (p, _) in self.pending.drain(..) {
                self.index.entries.entry(p).or_default().value = Some(mark);
            }
        }
        match self.role() {
            Role::Key(map) => {
                let child = map.zip(text).map(|(map, s)| map.key(s));
                if let Some(child) = &child {
                    let entry = self.index.entries.entry(child.clone()).or_default();
                    if entry.key.is_some() {
                        self.index.duplicates.push((child.clone(), mark));
                    } else {
                        entry.key = Some(mark);
                    }
                }
                self.set_key(child);
            }
            Role::Value(Some(p)) => {
                let entry = self.index.entries.entry(p).or_default();
                entry.scalar = true;
                if located {
                    entry.value = Some(mark);
                }
            }
            Role::Value(None) => {}
        }
    }

    fn start(&mut self, map: bool, mark: Mark) {
        let path = match self.role() {
            Role::Key(_) => {
                self.set_key(None);
                None
            }
            Role::Value(p) => p,
        };
        if let Some(p) = &path {
            self.pending.push((p.clone(), mark));
        }
        self.stack.push(if map {
            Frame::Map { path, key: None }
        } else {
            Frame::Seq { path, next: 0 }
        });
    }

    fn end(&mut self) {
        let path = match self.stack.pop() {
            Some(Frame::Seq { path, .. } | Frame::Map { path, .. }) => path,
            None => return,
        };
        // An empty collection (`[]`, `{}`) is located at its own start.
        if let Some(p) = path {
            if let Some(pos) = self.pending.iter().position(|(q, _)| *q == p) {
                let (_, own) = self.pending.remove(pos);
                self.index.entries.entry(p).or_default().value = Some(own);
            }
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, marker: Marker) {
        let mark = Mark::from_marker(marker);
        match ev {
            Event::Scalar(s, style, _, _) => {
                let located = !(s.is_empty() && style == TScalarStyle::Plain);
                self.scalar(Some(&s), located, mark);
            }
            Event::Alias(_) => self.scalar(None, true, mark),
            Event::MappingStart(..) => self.start(true, mark),
            Event::SequenceStart(..) => self.start(false, mark),
            Event::MappingEnd | Event::SequenceEnd => self.end(),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &[&str]) -> YamlPath {
        s.iter().fold(YamlPath::root(), |p, seg| match seg.parse() {
            Ok(i) => p.index(i),
            Err(_) => p.key(seg),
        })
    }

    fn at(idx: &LineIndex, path: &[&str]) -> Option<(usize, usize)> {
        idx.locate(&p(path)).map(|m| (m.line, m.column))
    }

    const TEXT: &str = "\
listen: [\"127.0.0.1:8080\"]
providers:
  openai: { kind: openai, base_url: x }
  demo:
    kind: mock
    latency: 20ms
models:
  demo:
    targets:
      - provider: demo
        model: m
      - { provider: nope }
    owned_by:
keys: []
";

    #[test]
    fn scalars_point_at_their_value() {
        let idx = LineIndex::build(TEXT);
        assert_eq!(at(&idx, &["listen", "0"]), Some((1, 10)));
        assert_eq!(
            at(&idx, &["providers", "openai", "base_url"]),
            Some((3, 37))
        );
        assert_eq!(at(&idx, &["providers", "demo", "latency"]), Some((6, 14)));
        assert_eq!(
            at(&idx, &["models", "demo", "targets", "1", "provider"]),
            Some((12, 21))
        );
    }

    #[test]
    fn collections_point_at_their_key_or_first_item() {
        let idx = LineIndex::build(TEXT);
        assert_eq!(at(&idx, &["providers", "demo"]), Some((4, 3)));
        assert_eq!(at(&idx, &["models", "demo", "targets", "0"]), Some((10, 9)));
        assert_eq!(
            at(&idx, &["models", "demo", "targets", "1"]),
            Some((12, 11))
        );
        assert_eq!(at(&idx, &["keys"]), Some((14, 1)));
    }

    #[test]
    fn keys_and_fallbacks() {
        let idx = LineIndex::build(TEXT);
        let key = idx.locate_key(&p(&["providers", "openai", "base_url"]));
        assert_eq!(
            key,
            Some(Mark {
                line: 3,
                column: 27
            })
        );
        // An empty value is located at its key, not at the next token.
        assert_eq!(at(&idx, &["models", "demo", "owned_by"]), Some((13, 5)));
        // Unknown paths fall back to the nearest known ancestor.
        assert_eq!(
            at(&idx, &["providers", "demo", "nothing", "0"]),
            Some((4, 3))
        );
        // ... but never to the root.
        assert_eq!(at(&idx, &["nothing"]), None);
    }

    #[test]
    fn aliases_are_located() {
        let idx = LineIndex::build("a: &x 1\nb:\n  c: *x\n");
        assert_eq!(at(&idx, &["b", "c"]), Some((3, 6)));
    }

    #[test]
    fn duplicate_keys_are_remembered() {
        let idx = LineIndex::build("a: 1\nb:\n  c: 1\n  c: 2\n");
        let (path, mark) = idx.first_duplicate().cloned().unwrap();
        assert_eq!(path.to_string(), "b.c");
        assert_eq!((mark.line, mark.column), (4, 3));
    }
}
