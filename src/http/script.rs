//! The rewrite module at run time: `return`, `rewrite`, `set`, `if`, `break`, executed in
//! order against one request (`ngx_http_rewrite_handler` and its script codes).
//!
//! Owns: what each directive does to the URI, the arguments, the captures and `set`
//! variables, and when processing stops. It must not search locations (the caller re-runs
//! the search after `last` or a changed URI).

use http::HeaderMap;

use super::vars::{Request, Template, Vars};

/// A `rewrite` flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag {
    None,
    Last,
    Break,
    Redirect,
    Permanent,
}

/// An `if` condition.
#[derive(Debug, Clone)]
pub enum Cond {
    /// `($var)`: false when empty or "0".
    Var(Template),
    Eq(Template, Template, bool),
    /// `~`/`~*` (and negations when the bool is true).
    Match(Template, regex::Regex, bool),
}

/// One rewrite-module directive.
#[derive(Debug, Clone)]
pub enum Op {
    Return {
        code: u16,
        text: Option<Template>,
    },
    Rewrite {
        re: regex::Regex,
        replacement: Template,
        flag: Flag,
        /// The replacement did not end in `?`: the old arguments are kept.
        add_args: bool,
        /// The replacement starts with `http://`, `https://` or `$scheme`.
        external: bool,
    },
    Set {
        slot: usize,
        value: Template,
    },
    If {
        cond: Cond,
        body: Vec<Op>,
    },
    Break,
}

/// A response decided by the script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    /// `Location`, as computed (relative ones are made absolute by the caller).
    pub location: Option<String>,
    pub body: Option<String>,
}

/// How script execution ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flow {
    /// Ran to the end (or `break`): `uri_changed` says whether to search locations again.
    Done,
    /// `rewrite ... last`.
    Last,
    Reply(Reply),
}

/// Per-request flags the script changes.
#[derive(Debug, Clone, Copy, Default)]
pub struct State {
    /// The URI changed without `break`: search locations again after the script.
    pub uri_changed: bool,
    /// The client's target can no longer be forwarded raw.
    pub uri_rewritten: bool,
    /// `rewrite ... break` ran: the location prefix is no longer stripped by proxy_pass.
    pub location_invalid: bool,
}

fn truthy(v: &str) -> bool {
    !(v.is_empty() || v == "0")
}

/// Runs `ops`; `state` carries over between the server and location scripts.
pub fn run(ops: &[Op], req: &mut Request, headers: &HeaderMap, state: &mut State) -> Flow {
    match exec(ops, req, headers, state) {
        None | Some(Ok(())) => Flow::Done,
        Some(Err(flow)) => flow,
    }
}

/// Like [`step`] over a list: stops at the first op that stops.
fn exec(
    ops: &[Op],
    req: &mut Request,
    headers: &HeaderMap,
    state: &mut State,
) -> Option<Result<(), Flow>> {
    ops.iter().find_map(|op| step(op, req, headers, state))
}

/// `None` = continue; `Some(Ok)` = stop (break); `Some(Err(flow))` = stop with `flow`.
fn step(
    op: &Op,
    req: &mut Request,
    headers: &HeaderMap,
    state: &mut State,
) -> Option<Result<(), Flow>> {
    match op {
        Op::Return { code, text } => {
            let text = text.as_ref().map(|t| t.eval(&Vars { req, headers }));
            let redirect = matches!(code, 301 | 302 | 303 | 307 | 308);
            let reply = if redirect {
                Reply {
                    status: *code,
                    location: text,
                    body: None,
                }
            } else {
                Reply {
                    status: *code,
                    location: None,
                    body: text,
                }
            };
            Some(Err(Flow::Reply(reply)))
        }
        Op::Rewrite {
            re,
            replacement,
            flag,
            add_args,
            external,
        } => {
            let uri = req.uri.clone();
            if !req.captures.record(re, &uri) {
                return None;
            }
            let value = replacement.eval(&Vars { req, headers });
            if *external || matches!(flag, Flag::Redirect | Flag::Permanent) {
                let mut location = value;
                if *add_args && !req.args.is_empty() {
                    location.push(if location.contains('?') { '&' } else { '?' });
                    location.push_str(&req.args);
                }
                let status = if *flag == Flag::Permanent { 301 } else { 302 };
                return Some(Err(Flow::Reply(Reply {
                    status,
                    location: Some(location),
                    body: None,
                })));
            }
            set_uri(req, &value, *add_args);
            state.uri_rewritten = true;
            match flag {
                Flag::Last => {
                    state.uri_changed = true;
                    Some(Err(Flow::Last))
                }
                Flag::Break => {
                    state.uri_changed = false;
                    state.location_invalid = true;
                    Some(Ok(()))
                }
                _ => {
                    state.uri_changed = true;
                    None
                }
            }
        }
        Op::Set { slot, value } => {
            let v = value.eval(&Vars { req, headers });
            if let Some(s) = req.user.get_mut(*slot) {
                *s = Some(v);
            }
            None
        }
        Op::If { cond, body } => {
            if !test(cond, req, headers) {
                return None;
            }
            // A `break` or `return` inside the block ends the enclosing script too.
            exec(body, req, headers, state)
        }
        Op::Break => {
            if state.uri_changed {
                state.location_invalid = true;
                state.uri_changed = false;
            }
            Some(Ok(()))
        }
    }
}

fn test(cond: &Cond, req: &mut Request, headers: &HeaderMap) -> bool {
    match cond {
        Cond::Var(t) => truthy(&t.eval(&Vars { req, headers })),
        Cond::Eq(a, b, negate) => {
            let v = Vars { req, headers };
            (a.eval(&v) == b.eval(&v)) != *negate
        }
        Cond::Match(t, re, negate) => {
            let subject = t.eval(&Vars { req, headers });
            req.captures.record(re, &subject) != *negate
        }
    }
}

/// Sets the URI and arguments from a rewrite result (`?` splits off new arguments, which the
/// old ones follow unless the replacement ended in `?`).
fn set_uri(req: &mut Request, value: &str, add_args: bool) {
    match value.split_once('?') {
        Some((uri, args)) => {
            let mut new_args = args.to_owned();
            if add_args && !req.args.is_empty() {
                if !new_args.is_empty() {
                    new_args.push('&');
                }
                new_args.push_str(&req.args);
            }
            req.uri = uri.to_owned();
            req.args = new_args;
        }
        None => {
            req.uri = value.to_owned();
            if !add_args {
                req.args.clear();
            }
        }
    }
}

#[cfg(test)]
#[path = "script_tests.rs"]
mod tests;
