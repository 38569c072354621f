//! `map SOURCE $var { ... }` at run time (`ngx_http_map_module`): the source is evaluated and
//! looked up lazily when `$var` is read: exact keys (case-insensitive), then regexes (`~`,
//! `~*`) in configuration order, then `default` (empty when absent).
//!
//! Owns: the lowered map and its lookup. It must not parse directives beyond a map's own
//! entries; `hostnames` wildcards and regex captures in values are refused by lowering.

use std::collections::HashMap;

use super::vars::{Template, UserVars, Vars};
use crate::nginx::Directive;

/// One lowered `map` block.
#[derive(Debug, Clone)]
pub struct Map {
    source: Template,
    exact: HashMap<String, Template>,
    regexes: Vec<(regex::Regex, Template)>,
    default: Template,
}

impl Map {
    /// Lowers a `map` directive (its variable is already declared in `users`).
    pub fn lower(d: &Directive, users: &UserVars) -> Result<Map, String> {
        let source = Template::parse(d.args.first().map_or("", |w| w.text.as_str()), users)?;
        let mut map = Map {
            source,
            exact: HashMap::new(),
            regexes: Vec::new(),
            default: Template::default(),
        };
        for e in d.block.iter().flatten() {
            let value = e.args.first().map_or("", |w| w.text.as_str());
            match e.name.as_str() {
                // Parameters, and the marker the parser leaves before included entries.
                "volatile" | "include" => continue,
                "hostnames" => {
                    return Err("\"map ... { hostnames; }\" is not implemented yet".into())
                }
                "default" => map.default = Template::parse(value, users)?,
                key => {
                    let v = Template::parse(value, users)?;
                    if let Some(re) = key.strip_prefix('~') {
                        let (re, caseless) = match re.strip_prefix('*') {
                            Some(r) => (r, true),
                            None => (re, false),
                        };
                        if value.contains('$') && v.has_captures() {
                            return Err(
                                "regex captures in \"map\" values are not implemented yet".into()
                            );
                        }
                        let re = regex::RegexBuilder::new(re)
                            .case_insensitive(caseless)
                            .build()
                            .map_err(|e| {
                                format!("regex \"{re}\" is not supported by tollgate: {e}")
                            })?;
                        map.regexes.push((re, v));
                    } else {
                        let key = key.strip_prefix('\\').unwrap_or(key).to_ascii_lowercase();
                        map.exact.entry(key).or_insert(v);
                    }
                }
            }
        }
        Ok(map)
    }

    /// Evaluates the map for a request into `out`.
    pub fn eval_into(&self, v: &Vars<'_>, out: &mut String) {
        let src = self.source.eval(v);
        if let Some(t) = self.exact.get(&src.to_ascii_lowercase()) {
            return t.eval_into(v, out);
        }
        match self.regexes.iter().find(|(re, _)| re.is_match(&src)) {
            Some((_, t)) => t.eval_into(v, out),
            None => self.default.eval_into(v, out),
        }
    }
}
