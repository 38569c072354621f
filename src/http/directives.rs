//! Lowering of the per-level directives: the inheritable proxy/header settings and the
//! rewrite-module scripts (`return`, `rewrite`, `set`, `if`, `break`).
//!
//! Owns: reading those directives' arguments into [`Settings`] and [`Op`]s. It must not walk
//! blocks (see `lower`); `-t` already checked arity and value syntax, so errors here are
//! about what tollgate does not implement.

use std::time::Duration;

use super::conf::{AddHeader, Settings};
use super::script::{Cond, Flag, Op};
use super::vars::{Template, UserVars};
use crate::nginx::units;
use crate::nginx::Directive;

/// A reason, located by the caller.
pub type Reason = String;

fn arg(d: &Directive, i: usize) -> &str {
    d.args.get(i).map_or("", |w| w.text.as_str())
}

fn time(d: &Directive) -> Result<Duration, Reason> {
    let ms = units::parse_time(arg(d, 0), false)
        .ok_or_else(|| format!("\"{}\" directive invalid value", d.name))?;
    Ok(Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
}

fn flag(d: &Directive) -> bool {
    arg(d, 0).eq_ignore_ascii_case("on")
}

/// Applies a settings directive; `Ok(false)` when `d` is not one.
pub fn setting(d: &Directive, s: &mut Settings, users: &UserVars) -> Result<bool, Reason> {
    match d.name.as_str() {
        "proxy_set_header" => {
            let v = Template::parse(arg(d, 1), users)?;
            s.set_headers
                .get_or_insert_with(Vec::new)
                .push((arg(d, 0).to_owned(), v));
        }
        "proxy_http_version" => s.http10 = Some(arg(d, 0) == "1.0"),
        "proxy_hide_header" => s.hide.get_or_insert_with(Vec::new).push(arg(d, 0).into()),
        "proxy_pass_header" => s.pass.get_or_insert_with(Vec::new).push(arg(d, 0).into()),
        "proxy_connect_timeout" => s.connect = Some(time(d)?),
        "proxy_read_timeout" => s.read = Some(time(d)?),
        "proxy_send_timeout" => s.send = Some(time(d)?),
        "proxy_next_upstream_timeout" => s.next_time = Some(time(d)?),
        "proxy_next_upstream_tries" => {
            s.tries = Some(arg(d, 0).parse().map_err(|_| "invalid value".to_owned())?)
        }
        "proxy_next_upstream" => s.next = Some(next_upstream(d)?),
        "proxy_buffering" => s.buffering = Some(flag(d)),
        "proxy_request_buffering" => s.request_buffering = Some(flag(d)),
        "proxy_intercept_errors" => s.intercept_errors = Some(flag(d)),
        "proxy_redirect" => match (arg(d, 0), d.args.len()) {
            ("default", 1) => s.redirect_default = Some(true),
            ("off", 1) => s.redirect_default = Some(false),
            _ => {
                return Err(
                    "\"proxy_redirect\" with explicit replacements is not implemented yet".into(),
                )
            }
        },
        "client_max_body_size" => {
            let n = units::parse_offset(arg(d, 0)).ok_or("invalid value")?;
            s.max_body = Some(u64::try_from(n).unwrap_or(0));
        }
        "add_header" => {
            let name = http::HeaderName::from_bytes(arg(d, 0).as_bytes())
                .map_err(|_| format!("invalid header name \"{}\"", arg(d, 0)))?;
            let value = Template::parse(arg(d, 1), users)?;
            s.add_headers.get_or_insert_with(Vec::new).push(AddHeader {
                name,
                value,
                always: arg(d, 2) == "always",
            });
        }
        "default_type" => s.default_type = Some(arg(d, 0).to_owned()),
        "error_page" => {
            let words: Vec<&str> = d.args.iter().map(|w| w.text.as_str()).collect();
            let mut page = super::error_page::ErrorPage::parse(&words, users)?;
            (page.file, page.line) = (d.file, d.line);
            s.error_pages.get_or_insert_with(Vec::new).push(page);
        }
        "types" => {
            let mut map = std::collections::HashMap::new();
            for entry in d.block.iter().flatten() {
                for ext in &entry.args {
                    map.insert(ext.text.to_ascii_lowercase(), entry.name.clone());
                }
            }
            s.types = Some(std::sync::Arc::new(map));
        }
        _ => return Ok(false),
    }
    Ok(true)
}

fn next_upstream(d: &Directive) -> Result<(bool, bool, bool), Reason> {
    let mut v = (false, false, false);
    for w in &d.args {
        match w.text.as_str() {
            "error" => v.0 = true,
            "timeout" => v.1 = true,
            "non_idempotent" => v.2 = true,
            "off" => {}
            other => {
                return Err(format!(
                    "\"proxy_next_upstream {other}\" is not implemented yet (only error, timeout, non_idempotent, off)"
                ))
            }
        }
    }
    Ok(v)
}

/// Lowers a rewrite-module directive; `Ok(None)` when `d` is not one.
pub fn op(d: &Directive, users: &UserVars) -> Result<Option<Op>, Reason> {
    let op = match d.name.as_str() {
        "return" => return_op(d, users)?,
        "rewrite" => rewrite_op(d, users)?,
        "set" => Op::Set {
            slot: users
                .find(arg(d, 0).trim_start_matches('$'))
                .ok_or("undeclared variable")?,
            value: Template::parse(arg(d, 1), users)?,
        },
        "break" => Op::Break,
        "if" => {
            let cond = condition(d, users)?;
            let mut body = Vec::new();
            for inner in d.block.iter().flatten() {
                match op(inner, users)? {
                    Some(o) => body.push(o),
                    None => {
                        return Err(format!(
                            "\"{}\" inside \"if\" is not implemented yet (only return, rewrite, set, break, if)",
                            inner.name
                        ))
                    }
                }
            }
            Op::If { cond, body }
        }
        _ => return Ok(None),
    };
    Ok(Some(op))
}

fn return_op(d: &Directive, users: &UserVars) -> Result<Op, Reason> {
    let first = arg(d, 0);
    match first.parse::<u16>() {
        Ok(code) => {
            let text = match d.args.get(1) {
                Some(w) => Some(Template::parse(&w.text, users)?),
                None => None,
            };
            Ok(Op::Return { code, text })
        }
        Err(_) => Ok(Op::Return {
            code: 302,
            text: Some(Template::parse(first, users)?),
        }),
    }
}

fn regex(pattern: &str, caseless: bool) -> Result<regex::Regex, Reason> {
    regex::RegexBuilder::new(pattern)
        .case_insensitive(caseless)
        .build()
        .map_err(|e| format!("regex \"{pattern}\" is not supported by tollgate: {e}"))
}

fn rewrite_op(d: &Directive, users: &UserVars) -> Result<Op, Reason> {
    let re = regex(arg(d, 0), false)?;
    let mut repl = arg(d, 1);
    let add_args = !repl.ends_with('?');
    if !add_args {
        repl = &repl[..repl.len() - 1];
    }
    let external =
        repl.starts_with("http://") || repl.starts_with("https://") || repl.starts_with("$scheme");
    let flag = match arg(d, 2) {
        "" => Flag::None,
        "last" => Flag::Last,
        "break" => Flag::Break,
        "redirect" => Flag::Redirect,
        "permanent" => Flag::Permanent,
        other => return Err(format!("invalid parameter \"{other}\"")),
    };
    Ok(Op::Rewrite {
        re,
        replacement: Template::parse(repl, users)?,
        flag,
        add_args,
        external,
    })
}

/// `(...)` split the way `ngx_http_rewrite_if_condition` reads it.
fn condition(d: &Directive, users: &UserVars) -> Result<Cond, Reason> {
    let mut words: Vec<&str> = d.args.iter().map(|w| w.text.as_str()).collect();
    if let Some(f) = words.first_mut() {
        *f = f.strip_prefix('(').unwrap_or(f);
    }
    if let Some(l) = words.last_mut() {
        *l = l.strip_suffix(')').unwrap_or(l);
    }
    words.retain(|w| !w.is_empty());
    let var = |w: &str| Template::parse(w, users);
    match words.as_slice() {
        [v] if v.starts_with('$') => Ok(Cond::Var(var(v)?)),
        [v, op, rhs] if v.starts_with('$') => match *op {
            "=" => Ok(Cond::Eq(var(v)?, var(rhs)?, false)),
            "!=" => Ok(Cond::Eq(var(v)?, var(rhs)?, true)),
            "~" => Ok(Cond::Match(var(v)?, regex(rhs, false)?, false)),
            "~*" => Ok(Cond::Match(var(v)?, regex(rhs, true)?, false)),
            "!~" => Ok(Cond::Match(var(v)?, regex(rhs, false)?, true)),
            "!~*" => Ok(Cond::Match(var(v)?, regex(rhs, true)?, true)),
            _ => Err(format!("unexpected \"{op}\" in condition")),
        },
        _ => Err(format!(
            "\"if\" condition \"{}\" is not implemented yet (file tests -f/-d/-e/-x)",
            words.join(" ")
        )),
    }
}
