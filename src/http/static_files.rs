//! Static files as nginx 1.22 serves them: `root`/`alias` (`ngx_http_map_uri_to_path`),
//! `index`, `try_files`, `etag`, `if_modified_since`, `max_ranges`, `log_not_found`, and the
//! pure rules of the response: the ETag (`"%xT-%xO"`), the conditional-request filter
//! (`ngx_http_not_modified_filter_module`: If-Unmodified-Since, If-Match, If-Modified-Since,
//! If-None-Match) and the single-range filter (`ngx_http_range_filter_module`, If-Range).
//!
//! Owns: the directives' model, their inheritance and refusals, and those decisions over
//! plain values. It must not touch the file system or write responses
//! (`proxy::static_serve` does), nor route (`site` re-runs the location search).

use http::HeaderMap;

use super::vars::{Template, UserVars};
use crate::nginx::Directive;

/// Where a location's files are.
#[derive(Debug, Clone)]
pub enum Root {
    /// `root PATH`: the URI is appended.
    Root(Template),
    /// `alias PATH` in a prefix location: the URI minus the first `strip` bytes (the length
    /// of the location's name) is appended.
    Alias { path: Template, strip: usize },
    /// `alias PATH` in a regex location: the path is the whole file name (captures in it);
    /// `try_files` appends its values to it (nginx's `alias` = `NGX_MAX_SIZE_T_VALUE`).
    RegexAlias(Template),
}

/// `if_modified_since`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ims {
    Off,
    Exact,
    Before,
}

/// `try_files file ... uri | =code`.
#[derive(Debug, Clone)]
pub struct TryFiles {
    /// Values tested in order, with whether a directory is wanted (written with a trailing
    /// `/`, which is removed).
    pub tests: Vec<(Template, bool)>,
    pub fallback: Fallback,
}

/// The last `try_files` argument.
#[derive(Debug, Clone)]
pub enum Fallback {
    Code(u16),
    /// A URI (internal redirect, its own arguments) or `@name`.
    Uri(Template),
}

/// What one level sets; `None` = inherit (`try_files` is not inherited).
#[derive(Debug, Clone, Default)]
pub struct StaticSettings {
    /// `root` or `alias` (one slot, as in nginx: a nested location inherits either).
    pub root: Option<Root>,
    /// `alias` written at this level, bound to the location by [`StaticSettings::bind_alias`].
    alias: Option<Template>,
    pub index: Option<Vec<Template>>,
    pub try_files: Option<TryFiles>,
    pub etag: Option<bool>,
    pub ims: Option<Ims>,
    /// `max_ranges`: `Some(None)` unlimited is never written; the default is unlimited.
    pub max_ranges: Option<u32>,
    pub log_not_found: Option<bool>,
    /// nginx's prefix (`-p`), set at the `http` level and inherited.
    pub prefix: Option<String>,
}

/// The effective static-file configuration of a location.
#[derive(Debug, Clone)]
pub struct Files {
    pub root: Root,
    /// Prepended to a root or alias that evaluates to a relative path (nginx's prefix).
    pub prefix: String,
    pub index: Vec<Template>,
    pub try_files: Option<TryFiles>,
    pub etag: bool,
    pub ims: Ims,
    /// `None`: unlimited.
    pub max_ranges: Option<u32>,
    pub log_not_found: bool,
}

fn arg(d: &Directive, i: usize) -> &str {
    d.args.get(i).map_or("", |w| w.text.as_str())
}

fn on(d: &Directive) -> bool {
    arg(d, 0).eq_ignore_ascii_case("on")
}

/// Applies a static-file directive; `Ok(false)` when `d` is not one.
pub fn setting(d: &Directive, s: &mut StaticSettings, users: &UserVars) -> Result<bool, String> {
    match d.name.as_str() {
        "root" => s.root = Some(Root::Root(Template::parse(arg(d, 0), users)?)),
        "alias" => s.alias = Some(Template::parse(arg(d, 0), users)?),
        "index" => {
            let mut list = Vec::new();
            for w in &d.args {
                list.push(Template::parse(&w.text, users)?);
            }
            s.index = Some(list);
        }
        "try_files" => s.try_files = Some(try_files(d, users)?),
        "etag" => s.etag = Some(on(d)),
        "log_not_found" => s.log_not_found = Some(on(d)),
        "if_modified_since" => {
            s.ims = Some(match arg(d, 0) {
                "off" => Ims::Off,
                "before" => Ims::Before,
                _ => Ims::Exact,
            })
        }
        "max_ranges" => {
            s.max_ranges = Some(arg(d, 0).parse().map_err(|_| "invalid value".to_owned())?)
        }
        "autoindex" if on(d) => {
            return Err("\"autoindex on\" is not implemented yet (directory listings)".into())
        }
        "autoindex" => {}
        "disable_symlinks" if arg(d, 0) != "off" => {
            return Err(format!(
                "\"disable_symlinks {}\" is not implemented yet (symbolic links are followed)",
                arg(d, 0)
            ))
        }
        "disable_symlinks" => {}
        _ => return Ok(false),
    }
    Ok(true)
}

/// `ngx_http_core_try_files`: a trailing `/` (not on the last argument) tests a directory.
fn try_files(d: &Directive, users: &UserVars) -> Result<TryFiles, String> {
    let Some((last, tests)) = d.args.split_last() else {
        return Err("invalid number of arguments".into());
    };
    let mut list = Vec::with_capacity(tests.len());
    for w in tests {
        let (text, dir) = match w.text.strip_suffix('/') {
            Some(t) => (t, true),
            None => (w.text.as_str(), false),
        };
        list.push((Template::parse(text, users)?, dir));
    }
    let fallback = match last.text.strip_prefix('=') {
        Some(code) => Fallback::Code(
            code.parse::<u16>()
                .ok()
                .filter(|c| *c <= 999)
                .ok_or_else(|| format!("invalid code \"{}\"", last.text))?,
        ),
        None => Fallback::Uri(Template::parse(&last.text, users)?),
    };
    Ok(TryFiles {
        tests: list,
        fallback,
    })
}

impl StaticSettings {
    /// Binds an `alias` of this level to its location: a prefix location strips its name's
    /// length from the URI, a regex location takes the alias as the whole path.
    pub fn bind_alias(&mut self, location_name_len: usize, regex: bool) {
        if let Some(path) = self.alias.take() {
            self.root = Some(if regex {
                Root::RegexAlias(path)
            } else {
                Root::Alias {
                    path,
                    strip: location_name_len,
                }
            });
        }
    }

    /// Fills what this level did not set from its parent (`try_files` stays its own).
    pub fn inherit(&mut self, parent: &StaticSettings) {
        if self.root.is_none() {
            self.root.clone_from(&parent.root);
        }
        if self.index.is_none() {
            self.index.clone_from(&parent.index);
        }
        self.etag = self.etag.or(parent.etag);
        self.ims = self.ims.or(parent.ims);
        self.max_ranges = self.max_ranges.or(parent.max_ranges);
        self.log_not_found = self.log_not_found.or(parent.log_not_found);
        if self.prefix.is_none() {
            self.prefix.clone_from(&parent.prefix);
        }
    }

    /// nginx's defaults: `root html` (under the prefix), `index index.html`, `etag on`,
    /// `if_modified_since exact`, unlimited ranges, `log_not_found on`.
    pub fn finish(&self) -> Files {
        Files {
            root: self
                .root
                .clone()
                .unwrap_or_else(|| Root::Root(Template::literal("html"))),
            prefix: self.prefix.clone().unwrap_or_default(),
            index: self
                .index
                .clone()
                .unwrap_or_else(|| vec![Template::literal("index.html")]),
            try_files: self.try_files.clone(),
            etag: self.etag.unwrap_or(true),
            ims: self.ims.unwrap_or(Ims::Exact),
            max_ranges: self.max_ranges,
            log_not_found: self.log_not_found.unwrap_or(true),
        }
    }
}

/// A file name and where its root part ends (`ngx_http_map_uri_to_path`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped {
    pub path: String,
    pub root_len: usize,
}

impl Files {
    /// The root or alias, evaluated and made absolute against the prefix.
    pub fn base(&self, evaluated: String) -> String {
        if evaluated.starts_with('/') {
            evaluated
        } else {
            format!("{}{evaluated}", self.prefix)
        }
    }

    /// The template of the root or alias.
    pub fn root_template(&self) -> &Template {
        match &self.root {
            Root::Root(t) | Root::Alias { path: t, .. } | Root::RegexAlias(t) => t,
        }
    }

    /// The file for `uri` under the evaluated `base`; `add_uri` is set once `try_files`
    /// matched in a regex location with `alias`.
    pub fn map(&self, base: &str, uri: &str, add_uri: bool) -> Mapped {
        let rest = match &self.root {
            Root::Root(_) => uri,
            Root::Alias { strip, .. } => uri.get(*strip..).unwrap_or(""),
            Root::RegexAlias(_) if add_uri => uri,
            Root::RegexAlias(_) => "",
        };
        Mapped {
            path: format!("{base}{rest}"),
            root_len: base.len(),
        }
    }

    /// The file a `try_files` value names: appended to the root (an alias location drops
    /// its name's length first when the value starts like the URI, as nginx does).
    pub fn try_path(&self, base: &str, uri: &str, value: &str) -> String {
        let value = match &self.root {
            Root::Alias { strip, .. } if value.get(..*strip) == uri.get(..*strip) => {
                value.get(*strip..).unwrap_or("")
            }
            _ => value,
        };
        format!("{base}{value}")
    }

    /// The URI after a `try_files` value matched, and whether the regex-alias location now
    /// appends it (`r->add_uri_to_alias`); `None`: the URI is unchanged.
    pub fn tried_uri(&self, uri: &str, value: &str, dir: bool) -> (Option<String>, bool) {
        match &self.root {
            Root::Root(_) => (Some(value.to_owned()), false),
            Root::RegexAlias(_) if dir => (None, false),
            Root::RegexAlias(_) => (Some(value.to_owned()), true),
            Root::Alias { strip, .. } => {
                let stripped = match value.get(..*strip) == uri.get(..*strip) {
                    true => value.get(*strip..).unwrap_or(""),
                    false => value,
                };
                let head = uri.get(..*strip).unwrap_or(uri);
                (Some(format!("{head}{stripped}")), false)
            }
        }
    }
}

/// A path component `..` (an alias without a trailing slash, `location /i { alias /d/; }`,
/// lets `/i../x` name `/d/../x`): refused instead of served, unlike nginx.
pub fn escapes(path: &str) -> bool {
    path.split('/').any(|c| c == "..")
}

/// What the not-modified filter and the range filter need to know about a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validators {
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
    pub size: u64,
    /// `None` with `etag off`.
    pub etag: Option<String>,
}

/// `ngx_http_set_etag`: `"<mtime hex>-<size hex>"`.
pub fn etag(mtime: i64, size: u64) -> String {
    format!("\"{mtime:x}-{size:x}\"")
}

/// The not-modified filter's verdict for a 200 response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// Send the file.
    Send,
    NotModified,
    /// 412.
    Failed,
}

fn http_time(v: &str) -> Option<i64> {
    let t = httpdate::parse_http_date(v.trim()).ok()?;
    let secs = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    i64::try_from(secs).ok()
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// `ngx_http_test_if_match`: `*`, or the ETag in the comma-separated list (`W/` skipped
/// for If-None-Match).
pub fn etag_listed(list: &str, etag: Option<&str>, weak: bool) -> bool {
    if list == "*" {
        return true;
    }
    let Some(mut etag) = etag else {
        return false;
    };
    if weak {
        etag = etag.strip_prefix("W/").unwrap_or(etag);
    }
    list.split(',').any(|item| {
        let item = item.trim_matches([' ', '\t']);
        let item = if weak {
            item.strip_prefix("W/").unwrap_or(item)
        } else {
            item
        };
        item == etag
    })
}

/// `ngx_http_not_modified_header_filter` for a 200 response.
pub fn condition(v: &Validators, ims: Ims, h: &HeaderMap) -> Condition {
    if let Some(iums) = header(h, "if-unmodified-since") {
        if http_time(iums).is_none_or(|t| t < v.mtime) {
            return Condition::Failed;
        }
    }
    if let Some(m) = header(h, "if-match") {
        if !etag_listed(m, v.etag.as_deref(), false) {
            return Condition::Failed;
        }
    }
    let since = header(h, "if-modified-since");
    let none_match = header(h, "if-none-match");
    if since.is_none() && none_match.is_none() {
        return Condition::Send;
    }
    if let Some(since) = since {
        let modified = match (ims, http_time(since)) {
            (Ims::Off, _) => true,
            (_, Some(t)) if t == v.mtime => false,
            (Ims::Exact, _) => true,
            (Ims::Before, t) => t.is_none_or(|t| t < v.mtime),
        };
        if modified {
            return Condition::Send;
        }
    }
    if let Some(list) = none_match {
        if !etag_listed(list, v.etag.as_deref(), true) {
            return Condition::Send;
        }
    }
    Condition::NotModified
}

/// The range filter's verdict for a 200 response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ranged {
    /// The whole file (with `Accept-Ranges: bytes` unless `accept` is false).
    Whole { accept: bool },
    /// 206 for bytes `start..end`.
    Part { start: u64, end: u64 },
    /// Several ranges (nginx answers multipart/byteranges; tollgate sends the whole file).
    Several,
    /// 416.
    Unsatisfiable,
}

/// `ngx_http_range_header_filter` and `ngx_http_range_parse`.
pub fn range(v: &Validators, max_ranges: Option<u32>, h: &HeaderMap) -> Ranged {
    if max_ranges == Some(0) {
        return Ranged::Whole { accept: false };
    }
    let whole = Ranged::Whole { accept: true };
    let Some(spec) = header(h, "range") else {
        return whole;
    };
    if spec.len() < 7 || !spec.as_bytes()[..6].eq_ignore_ascii_case(b"bytes=") {
        return whole;
    }
    if let Some(ir) = header(h, "if-range") {
        let matches = if ir.len() >= 2 && ir.ends_with('"') {
            v.etag.as_deref() == Some(ir)
        } else {
            http_time(ir) == Some(v.mtime)
        };
        if !matches {
            return whole;
        }
    }
    match parse_ranges(&spec[6..], v.size, max_ranges.unwrap_or(u32::MAX)) {
        Parsed::Ranges(r) if r.len() == 1 => Ranged::Part {
            start: r[0].0,
            end: r[0].1,
        },
        Parsed::Ranges(_) => Ranged::Several,
        Parsed::Declined => whole,
        Parsed::Unsatisfiable => Ranged::Unsatisfiable,
    }
}

enum Parsed {
    Ranges(Vec<(u64, u64)>),
    Declined,
    Unsatisfiable,
}

/// Reads a decimal number (nginx refuses overflow as unsatisfiable).
fn number(p: &[u8], i: &mut usize) -> Option<u64> {
    let mut n: u64 = 0;
    while let Some(d @ b'0'..=b'9') = p.get(*i) {
        n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
        if n > i64::MAX as u64 {
            return None;
        }
        *i += 1;
    }
    Some(n)
}

fn spaces(p: &[u8], i: &mut usize) {
    while p.get(*i) == Some(&b' ') {
        *i += 1;
    }
}

/// `ngx_http_range_parse` over the text after `bytes=`, byte for byte.
fn parse_ranges(spec: &str, len: u64, max: u32) -> Parsed {
    let p = spec.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    let mut size: u64 = 0;
    let mut left = max;
    loop {
        spaces(p, &mut i);
        let (start, end);
        if p.get(i) == Some(&b'-') {
            i += 1;
            if !p.get(i).is_some_and(u8::is_ascii_digit) {
                return Parsed::Unsatisfiable;
            }
            let Some(n) = number(p, &mut i) else {
                return Parsed::Unsatisfiable;
            };
            spaces(p, &mut i);
            if !matches!(p.get(i), Some(b',') | None) {
                return Parsed::Unsatisfiable;
            }
            start = len.saturating_sub(n);
            end = len;
        } else {
            if !p.get(i).is_some_and(u8::is_ascii_digit) {
                return Parsed::Unsatisfiable;
            }
            let Some(s) = number(p, &mut i) else {
                return Parsed::Unsatisfiable;
            };
            spaces(p, &mut i);
            if p.get(i) != Some(&b'-') {
                return Parsed::Unsatisfiable;
            }
            i += 1;
            spaces(p, &mut i);
            start = s;
            if matches!(p.get(i), Some(b',') | None) {
                end = len;
            } else {
                if !p.get(i).is_some_and(u8::is_ascii_digit) {
                    return Parsed::Unsatisfiable;
                }
                let Some(e) = number(p, &mut i) else {
                    return Parsed::Unsatisfiable;
                };
                spaces(p, &mut i);
                if !matches!(p.get(i), Some(b',') | None) {
                    return Parsed::Unsatisfiable;
                }
                end = if e >= len { len } else { e + 1 };
            }
        }
        if start < end {
            out.push((start, end));
            size = size.saturating_add(end - start);
            if left == 0 {
                return Parsed::Declined;
            }
            left -= 1;
        } else if start == 0 {
            return Parsed::Declined;
        }
        if p.get(i) != Some(&b',') {
            break;
        }
        i += 1;
    }
    if out.is_empty() {
        Parsed::Unsatisfiable
    } else if size > len {
        Parsed::Declined
    } else {
        Parsed::Ranges(out)
    }
}

#[cfg(test)]
#[path = "static_files_tests.rs"]
mod tests;
