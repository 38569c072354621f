//! The rewrite module's configuration checks: `return`, `rewrite`, `if`, `set`, and `map`'s
//! target variable (`ngx_http_rewrite_return`, `ngx_http_rewrite`, `ngx_http_rewrite_if_condition`,
//! `ngx_http_rewrite_set`, `ngx_http_map_block`).
//!
//! Owns: those messages and the shapes they accept. It must not compile regexes (nginx uses
//! PCRE; tollgate does not check regex syntax yet).

use super::{Diag, Directive};
use crate::nginx::regex;
use crate::nginx::units;

/// `if (CONDITION) {`: `ngx_http_rewrite_if_condition`, without compiling regexes.
pub(super) fn check_if(d: &Directive, line: usize) -> Result<(), Diag> {
    let mut v: Vec<String> = d.args.iter().map(|w| w.text.clone()).collect();
    let invalid = |text: &str| Err(Diag::at(format!("invalid condition \"{text}\""), line));
    let first = v.first().cloned().unwrap_or_default();
    if !first.starts_with('(') {
        return invalid(&first);
    }
    let cur: isize = if first.len() == 1 {
        1
    } else {
        v[0].remove(0);
        0
    };
    let mut last = v.len() as isize - 1;
    let tail = v.last().cloned().unwrap_or_default();
    if !tail.ends_with(')') {
        return invalid(&tail);
    }
    if tail.len() == 1 {
        last -= 1;
    } else if let Some(t) = v.last_mut() {
        t.pop();
    }
    let at = |i: isize| {
        usize::try_from(i)
            .ok()
            .and_then(|i| v.get(i))
            .map_or("", |s| s.as_str())
    };
    let p = at(cur);
    if p.len() > 1 && p.starts_with('$') {
        if cur == last {
            return Ok(());
        }
        if cur + 2 != last {
            return invalid(p);
        }
        let op = at(cur + 1);
        if ["=", "!="].contains(&op) {
            return Ok(());
        }
        if ["~", "~*", "!~", "!~*"].contains(&op) {
            return regex::check(at(last)).map_err(|e| Diag::at(e, line));
        }
        return Err(Diag::at(format!("unexpected \"{op}\" in condition"), line));
    }
    let test = match p.as_bytes() {
        [b'-', c] | [b'!', b'-', c] => Some(*c),
        _ => None,
    };
    match test {
        Some(_) if cur + 1 != last => invalid(p),
        Some(b'f' | b'd' | b'e' | b'x') => Ok(()),
        _ => invalid(p),
    }
}

/// `map SOURCE $VARIABLE {`.
pub(super) fn check_map(d: &Directive, line: usize) -> Result<(), Diag> {
    let target = d.args.get(1).map_or("", |w| w.text.as_str());
    if target.starts_with('$') {
        return Ok(());
    }
    Err(Diag::at(
        format!("invalid variable name \"{target}\""),
        line,
    ))
}

/// `ngx_http_rewrite_return`: a status code up to 999, or (alone) a redirect URL.
pub(super) fn check_return(d: &Directive, line: usize) -> Result<(), Diag> {
    let first = d.args.first().map_or("", |w| w.text.as_str());
    let ok = match units::atoi(first) {
        Some(code) => code <= 999,
        None => {
            d.args.len() == 1
                && ["http://", "https://", "$scheme"]
                    .iter()
                    .any(|p| first.starts_with(p))
        }
    };
    if ok {
        return Ok(());
    }
    Err(Diag::at(format!("invalid return code \"{first}\""), line))
}

/// `rewrite regex replacement [flag]`.
pub(super) fn check_rewrite(d: &Directive, line: usize) -> Result<(), Diag> {
    let pattern = d.args.first().map_or("", |w| w.text.as_str());
    regex::check(pattern).map_err(|e| Diag::at(e, line))?;
    match d.args.get(2) {
        Some(w) if !["last", "break", "redirect", "permanent"].contains(&w.text.as_str()) => {
            Err(Diag::at(format!("invalid parameter \"{}\"", w.text), line))
        }
        _ => Ok(()),
    }
}

/// `set $name value`.
pub(super) fn check_set(d: &Directive, line: usize) -> Result<(), Diag> {
    let name = d.args.first().map_or("", |w| w.text.as_str());
    if name.starts_with('$') {
        return Ok(());
    }
    Err(Diag::at(format!("invalid variable name \"{name}\""), line))
}
