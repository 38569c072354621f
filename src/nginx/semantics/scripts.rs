//! Which arguments of which directives nginx compiles as scripts (and so looks their
//! variables up), and which define variables.
//!
//! Owns: that table, kept to the directives real reverse-proxy configs use; a variable used
//! elsewhere is not checked (tollgate then accepts what nginx might refuse, never the
//! reverse). It must not judge the names: `variables` does.

use super::Directive;
use crate::nginx::variables::Variables;

/// Records what `d` uses and defines.
pub(super) fn record(d: &Directive, vars: &mut Variables) {
    let arg = |i: usize| d.args.get(i).map_or("", |w| w.text.as_str());
    let last = d.args.last().map_or("", |w| w.text.as_str());
    let n = d.args.len();
    match d.name.as_str() {
        "set" | "auth_request_set" => {
            vars.define(arg(0));
            vars.use_in(arg(1));
        }
        "map" | "split_clients" => {
            vars.use_in(arg(0));
            vars.define(arg(1));
        }
        "geo" if n == 2 => {
            vars.use_in(arg(0));
            vars.define(arg(1));
        }
        "geo" => vars.define(arg(0)),
        "proxy_set_header" | "add_header" | "add_trailer" | "grpc_set_header" | "fastcgi_param"
        | "uwsgi_param" | "scgi_param" | "sub_filter" => vars.use_in(arg(1)),
        "return" | "error_page" => vars.use_in(last),
        "rewrite" => {
            vars.define_captures(arg(0));
            vars.use_in(arg(1));
        }
        "location" if n == 2 && arg(0).starts_with('~') => vars.define_captures(arg(1)),
        "location" if arg(0).starts_with('~') => vars.define_captures(arg(0)),
        "server_name" => {
            for w in d.args.iter().filter(|w| w.text.starts_with('~')) {
                vars.define_captures(&w.text);
            }
        }
        "if" => record_if(d, vars),
        "proxy_pass"
        | "grpc_pass"
        | "fastcgi_pass"
        | "uwsgi_pass"
        | "scgi_pass"
        | "root"
        | "alias"
        | "auth_basic"
        | "auth_basic_user_file"
        | "proxy_cache_key"
        | "proxy_set_body"
        | "limit_req_zone"
        | "limit_conn_zone"
        | "hash" => vars.use_in(arg(0)),
        "log_format" => {
            for w in d
                .args
                .iter()
                .skip(1)
                .filter(|w| !w.text.starts_with("escape="))
            {
                vars.use_in(&w.text);
            }
        }
        "try_files" | "index" => {
            for w in &d.args {
                vars.use_in(&w.text);
            }
        }
        "access_log" => {
            vars.use_in(arg(0));
            for w in &d.args {
                if let Some(cond) = w.text.strip_prefix("if=") {
                    vars.use_in(cond);
                }
            }
        }
        _ => {}
    }
}

/// `if (...)`: the tested variable and a compared value are scripts; a regex may define
/// named captures.
fn record_if(d: &Directive, vars: &mut Variables) {
    // Like nginx: one `(` off the first word, one `)` off the last.
    let last = d.args.len().saturating_sub(1);
    let words: Vec<&str> = d
        .args
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let t = w.text.as_str();
            let t = if i == 0 {
                t.strip_prefix('(').unwrap_or(t)
            } else {
                t
            };
            if i == last {
                t.strip_suffix(')').unwrap_or(t)
            } else {
                t
            }
        })
        .filter(|w| !w.is_empty())
        .collect();
    match words.as_slice() {
        [var] => vars.use_in(var),
        [var, op, rhs] if op.contains('~') => {
            vars.use_in(var);
            vars.define_captures(rhs);
        }
        [var, _, rhs] => {
            vars.use_in(var);
            vars.use_in(rhs);
        }
        [_test, path] => vars.use_in(path),
        _ => {}
    }
}

/// A line of a `map` block: a value may use variables; a regex key may define captures.
pub(super) fn record_map_entry(d: &Directive, vars: &mut Variables) {
    if let Some(regex) = d.name.strip_prefix('~') {
        vars.define_captures(regex.strip_prefix('*').unwrap_or(regex));
    }
    if let Some(value) = d.args.first() {
        vars.use_in(&value.text);
    }
}
