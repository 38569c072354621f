//! Virtual-server selection by name within one listen address (`ngx_http_find_virtual_server`):
//! exact names, then the longest leading wildcard (`*.example.org`, `.example.org`), then the
//! longest trailing wildcard (`mail.*`), then the first matching regex in configuration order,
//! then the address's default server.
//!
//! Owns: the name index of one address and the host clean-up (lowercase, no port, no trailing
//! dot, 400 for malformed names). It must not know about listen sockets or locations.

use std::collections::HashMap;

/// One `server_name` value, classified.
#[derive(Debug, Clone)]
pub enum Name {
    Exact(String),
    /// `*.example.org` (`suffix` = `.example.org`) or `.example.org` (also matches the bare
    /// name: `bare` = true).
    Leading {
        suffix: String,
        bare: bool,
    },
    /// `mail.*` (`prefix` = `mail.`).
    Trailing {
        prefix: String,
    },
    Regex(regex::Regex),
}

impl Name {
    /// Classifies a `server_name` argument; `Err` names what tollgate cannot compile.
    pub fn parse(arg: &str) -> Result<Name, String> {
        if let Some(re) = arg.strip_prefix('~') {
            return regex::RegexBuilder::new(re)
                .build()
                .map(Name::Regex)
                .map_err(|e| format!("server_name regex \"{re}\" is not supported: {e}"));
        }
        let lower = arg.to_ascii_lowercase();
        if let Some(rest) = lower.strip_prefix("*.") {
            return Ok(Name::Leading {
                suffix: format!(".{rest}"),
                bare: false,
            });
        }
        if lower.starts_with('.') {
            return Ok(Name::Leading {
                suffix: lower,
                bare: true,
            });
        }
        if let Some(rest) = lower.strip_suffix(".*") {
            return Ok(Name::Trailing {
                prefix: format!("{rest}."),
            });
        }
        Ok(Name::Exact(lower))
    }
}

/// The name index of one listen address; values are server indexes.
#[derive(Debug, Clone, Default)]
pub struct NameIndex {
    exact: HashMap<String, usize>,
    leading: Vec<(String, bool, usize)>,
    trailing: Vec<(String, usize)>,
    regex: Vec<(regex::Regex, usize)>,
}

impl NameIndex {
    /// Adds a server's names; a name already taken keeps its first server (nginx warns
    /// "conflicting server name ... ignored").
    pub fn add(&mut self, names: &[Name], server: usize) {
        for n in names {
            match n {
                Name::Exact(s) => {
                    self.exact.entry(s.clone()).or_insert(server);
                }
                Name::Leading { suffix, bare } => {
                    if !self.leading.iter().any(|(s, _, _)| s == suffix) {
                        self.leading.push((suffix.clone(), *bare, server));
                    }
                }
                Name::Trailing { prefix } => {
                    if !self.trailing.iter().any(|(p, _)| p == prefix) {
                        self.trailing.push((prefix.clone(), server));
                    }
                }
                Name::Regex(re) => self.regex.push((re.clone(), server)),
            }
        }
        // Longest wildcard first; the sort is stable so equal lengths keep config order.
        self.leading
            .sort_by_key(|(s, _, _)| std::cmp::Reverse(s.len()));
        self.trailing
            .sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
    }

    /// The server for a cleaned host name, and the regex that chose it (for captures).
    pub fn find(&self, host: &str) -> Option<(usize, Option<&regex::Regex>)> {
        if let Some(s) = self.exact.get(host) {
            return Some((*s, None));
        }
        for (suffix, bare, s) in &self.leading {
            let under = host.len() > suffix.len() && host.ends_with(suffix.as_str());
            if under || (*bare && host == &suffix[1..]) {
                return Some((*s, None));
            }
        }
        for (prefix, s) in &self.trailing {
            if host.len() > prefix.len() && host.starts_with(prefix.as_str()) {
                return Some((*s, None));
            }
        }
        self.regex
            .iter()
            .find(|(re, _)| re.is_match(host))
            .map(|(re, s)| (*s, Some(re)))
    }
}

/// nginx's `ngx_http_validate_host`: lowercase, drop the port and one trailing dot; `None`
/// (400) for `..`, a leading dot, `/` or `\0`.
pub fn clean_host(raw: &str) -> Option<String> {
    let b = raw.as_bytes();
    let mut end = b.len();
    let mut in_bracket = false;
    let mut prev_dot = false;
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'.' => {
                if prev_dot || i == 0 {
                    return None;
                }
                prev_dot = true;
                continue;
            }
            b':' if !in_bracket => {
                end = i;
                break;
            }
            b'[' if i == 0 => in_bracket = true,
            b']' => in_bracket = false,
            b'/' | b'\0' => return None,
            _ => {}
        }
        prev_dot = false;
    }
    let mut host = &raw[..end];
    if host.ends_with('.') {
        host = &host[..host.len() - 1];
    }
    if host.is_empty() {
        return None;
    }
    Some(host.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> NameIndex {
        let mut ix = NameIndex::default();
        let servers: [&[&str]; 6] = [
            &["example.org"],
            &["*.example.org"],
            &["*.sub.example.org"],
            &["mail.*"],
            &["~^api\\d+\\.test$"],
            &[".dot.test"],
        ];
        for (i, names) in servers.iter().enumerate() {
            let parsed: Vec<Name> = names.iter().map(|n| Name::parse(n).unwrap()).collect();
            ix.add(&parsed, i);
        }
        ix
    }

    #[test]
    fn selection_order_matches_nginx() {
        let ix = index();
        let table = [
            ("EXAMPLE.ORG.", Some(0)),
            ("a.b.example.org", Some(1)),
            ("x.sub.example.org", Some(2)),
            ("mail.example.org", Some(1)),
            ("mail.foo.com", Some(3)),
            ("api12.test", Some(4)),
            ("x.dot.test", Some(5)),
            ("dot.test", Some(5)),
            ("unknown.test", None),
        ];
        for (host, want) in table {
            let host = clean_host(host).unwrap();
            assert_eq!(ix.find(&host).map(|f| f.0), want, "{host}");
        }
    }

    #[test]
    fn host_cleanup() {
        assert_eq!(
            clean_host("Example.ORG:8080").as_deref(),
            Some("example.org")
        );
        assert_eq!(clean_host("a.b.").as_deref(), Some("a.b"));
        assert_eq!(clean_host("[::1]:80").as_deref(), Some("[::1]"));
        assert_eq!(clean_host("a..b"), None);
        assert_eq!(clean_host(".a"), None);
        assert_eq!(clean_host("a/b"), None);
    }
}
