//! nginx variables as the configuration check sees them: which names nginx defines itself
//! (generated into `variables_table.rs`), which a configuration defines (`set`, `map`, `geo`,
//! `split_clients`, named regex captures), and where a directive uses them.
//!
//! Owns: finding `$name` / `${name}` in script arguments the way `ngx_http_script_compile`
//! does, named captures in regexes, and the final `unknown "x" variable` check
//! (`ngx_http_variables_init_vars`). It must not evaluate variables.

#[path = "variables_table.rs"]
mod table;

use std::collections::HashSet;

use super::diag::Diag;

/// Variables used (in first-use order) and defined by a configuration.
#[derive(Debug, Default)]
pub struct Variables {
    used: Vec<String>,
    seen: HashSet<String>,
    defined: HashSet<String>,
}

impl Variables {
    /// Records every variable a script argument uses.
    pub fn use_in(&mut self, text: &str) {
        for name in names(text) {
            let name = name.to_ascii_lowercase();
            if self.seen.insert(name.clone()) {
                self.used.push(name);
            }
        }
    }

    /// Records a variable the configuration defines (`$` optional).
    pub fn define(&mut self, name: &str) {
        let name = name.strip_prefix('$').unwrap_or(name);
        self.defined.insert(name.to_ascii_lowercase());
    }

    /// Records the named captures of a regex (`(?<name>...)`, `(?P<name>...)`,
    /// `(?'name'...)`), which nginx turns into variables.
    pub fn define_captures(&mut self, regex: &str) {
        for opener in ["(?<", "(?P<", "(?'"] {
            for (i, _) in regex.match_indices(opener) {
                let rest = &regex[i + opener.len()..];
                let end = rest.find(['>', '\'']).unwrap_or(0);
                let name = &rest[..end];
                if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                {
                    self.define(name);
                }
            }
        }
    }

    /// `ngx_http_variables_init_vars`: the first used variable nobody defines.
    pub fn check(&self) -> Result<(), Diag> {
        for name in &self.used {
            let known = self.defined.contains(name)
                || table::BUILTIN.contains(&name.as_str())
                || table::PREFIXES.iter().any(|p| name.starts_with(p));
            if !known {
                return Err(Diag::nowhere(format!("unknown \"{name}\" variable")));
            }
        }
        Ok(())
    }
}

/// The variable names in a script, like `ngx_http_script_compile`: `$name` and `${name}` with
/// `[A-Za-z0-9_]` names; `$1`..`$9` are regex captures, not variables.
pub fn names(text: &str) -> Vec<&str> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'$' {
            i += 1;
            continue;
        }
        i += 1;
        if b.get(i).is_some_and(|c| (b'1'..=b'9').contains(c)) {
            i += 1;
            continue;
        }
        let braced = b.get(i) == Some(&b'{');
        if braced {
            i += 1;
        }
        let start = i;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
            i += 1;
        }
        if i > start {
            out.push(&text[start..i]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_variables_like_nginx() {
        assert_eq!(
            names("$host:$server_port${uri}x $1 $$ $9a"),
            ["host", "server_port", "uri"]
        );
        let mut v = Variables::default();
        v.define_captures("^/(?<team>[a-z]+)/(?P<id>\\d+)/(?'n'x)");
        v.use_in("$team $id $n $http_x_api_key $arg_q $remote_addr");
        assert!(v.check().is_ok());
        v.use_in("$nosuchvar");
        assert_eq!(
            v.check().unwrap_err().message,
            "unknown \"nosuchvar\" variable"
        );
    }
}
