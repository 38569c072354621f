//! The file system the nginx front end reads through: a two-method trait so tests can feed
//! in-memory files, the real implementation, and `glob(3)` expansion on top of it.
//!
//! Owns: every byte of I/O the nginx front end does (reading files, listing directories,
//! resolving upstream host names as nginx does at load time). It
//! must not interpret file contents; include resolution rules live in the parser.

use std::collections::BTreeMap;
use std::io;

/// What the nginx front end needs from a file system.
pub trait ConfFs {
    /// The whole content of the file at `path`.
    fn read(&self, path: &str) -> io::Result<Vec<u8>>;
    /// The entry names of the directory `dir` (any order; `.` and `..` excluded).
    fn list_dir(&self, dir: &str) -> io::Result<Vec<String>>;
    /// Whether a host name resolves (nginx resolves upstream hosts when it reads a config).
    fn resolves(&self, host: &str) -> bool;
    /// Whether this process runs as root (nginx checks `user` only then).
    fn is_superuser(&self) -> bool;
    /// Whether a user (`group == false`) or group of this name exists.
    fn account_exists(&self, name: &str, group: bool) -> bool;
}

/// Whether `name` is the first field of a line of a passwd(5)/group(5) file.
fn listed(file: &[u8], name: &str) -> bool {
    String::from_utf8_lossy(file)
        .lines()
        .any(|l| l.split(':').next() == Some(name))
}

/// The real file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealFs;

impl ConfFs for RealFs {
    fn read(&self, path: &str) -> io::Result<Vec<u8>> {
        let meta = std::fs::metadata(path)?;
        if meta.is_dir() {
            // open(2) on a directory succeeds and read(2) then fails with EISDIR; nginx
            // reports that read, tollgate reports it as the open.
            return Err(io::Error::from_raw_os_error(21));
        }
        std::fs::read(path)
    }

    fn list_dir(&self, dir: &str) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            names.push(entry?.file_name().to_string_lossy().into_owned());
        }
        Ok(names)
    }

    fn resolves(&self, host: &str) -> bool {
        use std::net::ToSocketAddrs;
        (host, 80)
            .to_socket_addrs()
            .is_ok_and(|mut a| a.next().is_some())
    }

    fn is_superuser(&self) -> bool {
        // The effective uid is the second number of the "Uid:" line.
        std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1))
                == Some("0")
        })
    }

    fn account_exists(&self, name: &str, group: bool) -> bool {
        let file = if group { "/etc/group" } else { "/etc/passwd" };
        std::fs::read(file).is_ok_and(|f| listed(&f, name))
    }
}

/// Files held in memory, keyed by absolute path; directories are implied by the paths.
#[derive(Debug, Default, Clone)]
pub struct MemFs {
    files: BTreeMap<String, Vec<u8>>,
    unresolvable: Vec<String>,
}

impl MemFs {
    /// An empty file system.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a file.
    pub fn add(&mut self, path: &str, content: impl Into<Vec<u8>>) -> &mut Self {
        self.files.insert(path.to_owned(), content.into());
        self
    }

    /// Makes `host` fail to resolve (every other name resolves).
    pub fn unresolvable(&mut self, host: &str) -> &mut Self {
        self.unresolvable.push(host.to_owned());
        self
    }
}

impl ConfFs for MemFs {
    fn read(&self, path: &str) -> io::Result<Vec<u8>> {
        self.files
            .get(path)
            .cloned()
            .ok_or_else(|| io::Error::from_raw_os_error(2))
    }

    fn list_dir(&self, dir: &str) -> io::Result<Vec<String>> {
        let prefix = if dir.ends_with('/') {
            dir.to_owned()
        } else {
            format!("{dir}/")
        };
        let mut names: Vec<String> = self
            .files
            .keys()
            .filter_map(|p| p.strip_prefix(&prefix))
            .map(|rest| rest.split('/').next().unwrap_or(rest).to_owned())
            .collect();
        names.dedup();
        if names.is_empty() {
            return Err(io::Error::from_raw_os_error(2));
        }
        Ok(names)
    }

    fn resolves(&self, host: &str) -> bool {
        !self
            .unresolvable
            .iter()
            .any(|h| h.eq_ignore_ascii_case(host))
    }

    /// In memory there is no root: like nginx run unprivileged, `user` is not checked.
    fn is_superuser(&self) -> bool {
        false
    }

    fn account_exists(&self, _name: &str, _group: bool) -> bool {
        true
    }
}

/// True when `name` contains a glob metacharacter (nginx: `strpbrk(name, "*?[")`).
pub fn is_glob(name: &str) -> bool {
    name.contains(['*', '?', '['])
}

/// Expands an absolute glob pattern like `glob(3)` with flags 0: matches sorted bytewise (the
/// C locale), wildcards never match a leading `.`, unreadable directories and no match give
/// an empty list (nginx sets `gl.test`, so "no match" is not an error).
pub fn glob(fs: &dyn ConfFs, pattern: &str) -> Vec<String> {
    let mut paths = vec![String::new()];
    let components: Vec<&str> = pattern.split('/').collect();
    for (i, comp) in components.iter().enumerate() {
        let last = i + 1 == components.len();
        let mut next = Vec::new();
        for base in &paths {
            if i == 0 {
                next.push((*comp).to_owned());
                continue;
            }
            if !is_glob(comp) {
                next.push(format!("{base}/{comp}"));
                continue;
            }
            let dir = if base.is_empty() { "/" } else { base.as_str() };
            let Ok(names) = fs.list_dir(dir) else {
                continue;
            };
            for name in names {
                if name.starts_with('.') && !comp.starts_with('.') {
                    continue;
                }
                if fnmatch(comp.as_bytes(), name.as_bytes()) {
                    next.push(format!("{base}/{name}"));
                }
            }
        }
        paths = next;
        if last {
            break;
        }
    }
    // Literal components were not checked on the way: keep what exists as a file.
    let mut found: Vec<String> = paths.into_iter().filter(|p| fs.read(p).is_ok()).collect();
    found.sort();
    found.dedup();
    found
}

/// `fnmatch(3)` without flags for one path component: `*`, `?`, `[...]` (with `!`/`^`
/// negation and ranges) and `\` escapes.
pub fn fnmatch(pat: &[u8], name: &[u8]) -> bool {
    match pat.first() {
        None => name.is_empty(),
        Some(b'*') => (0..=name.len()).any(|k| fnmatch(&pat[1..], &name[k..])),
        Some(b'?') => !name.is_empty() && fnmatch(&pat[1..], &name[1..]),
        Some(b'[') => match (name.first(), class(pat)) {
            (Some(&c), Some((set, neg, len))) => {
                set_contains(set, c) != neg && fnmatch(&pat[len..], &name[1..])
            }
            (Some(&c), None) => c == b'[' && fnmatch(&pat[1..], &name[1..]),
            (None, _) => false,
        },
        Some(b'\\') if pat.len() > 1 => {
            name.first() == Some(&pat[1]) && fnmatch(&pat[2..], &name[1..])
        }
        Some(&p) => name.first() == Some(&p) && fnmatch(&pat[1..], &name[1..]),
    }
}

/// Parses `[...]` at the start of `pat`: (members, negated, bytes consumed).
fn class(pat: &[u8]) -> Option<(&[u8], bool, usize)> {
    let mut i = 1;
    let neg = matches!(pat.get(1), Some(b'!' | b'^'));
    if neg {
        i += 1;
    }
    let body_start = i;
    // A `]` right after the opening (or the negation) is a member, not the end.
    if pat.get(i) == Some(&b']') {
        i += 1;
    }
    while i < pat.len() && pat[i] != b']' {
        i += 1;
    }
    (i < pat.len()).then(|| (&pat[body_start..i], neg, i + 1))
}

fn set_contains(set: &[u8], c: u8) -> bool {
    let mut i = 0;
    while i < set.len() {
        if i + 2 < set.len() && set[i + 1] == b'-' {
            if set[i] <= c && c <= set[i + 2] {
                return true;
            }
            i += 3;
        } else {
            if set[i] == c {
                return true;
            }
            i += 1;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnmatch_follows_glob3() {
        assert!(fnmatch(b"*.conf", b"a.conf"));
        assert!(!fnmatch(b"*.conf", b"a.conf.bak"));
        assert!(fnmatch(b"site-?.conf", b"site-1.conf"));
        assert!(fnmatch(b"[ab]*", b"b1"));
        assert!(!fnmatch(b"[!ab]*", b"b1"));
        assert!(fnmatch(b"[a-c]x", b"bx"));
        assert!(fnmatch(b"[]x]", b"]"));
        assert!(fnmatch(b"\\*", b"*"));
        assert!(fnmatch(b"[", b"["));
        assert!(fnmatch(b"*", b""));
    }

    #[test]
    fn glob_sorts_and_skips_hidden_files() {
        let mut fs = MemFs::new();
        fs.add("/c/sites/b.conf", "")
            .add("/c/sites/a.conf", "")
            .add("/c/sites/.x.conf", "");
        fs.add("/c/sites/sub/c.conf", "").add("/c/other/d.conf", "");
        assert_eq!(
            glob(&fs, "/c/sites/*.conf"),
            ["/c/sites/a.conf", "/c/sites/b.conf"]
        );
        assert_eq!(
            glob(&fs, "/c/*/*.conf"),
            ["/c/other/d.conf", "/c/sites/a.conf", "/c/sites/b.conf"]
        );
        assert_eq!(glob(&fs, "/c/sites/.*.conf"), ["/c/sites/.x.conf"]);
        assert!(glob(&fs, "/c/none/*.conf").is_empty());
    }
}
