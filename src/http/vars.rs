//! nginx variables and value templates ("complex values"): parsing `text $var ${var}text` once
//! at load time, and evaluating it against one request.
//!
//! Owns: which variables the generic path implements and what each one yields (nginx 1.22's
//! rules, e.g. only `$http_x_forwarded_for` and `$http_cookie` join repeated headers). It must
//! not decide what a template is used for, and must not allocate per request beyond the
//! output string it is given.

use std::net::SocketAddr;

use http::HeaderMap;

/// A variable the generic path can evaluate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Var {
    Host,
    /// `$http_NAME`, stored as the header name (`_` → `-`, lowercase).
    Http(String),
    RemoteAddr,
    RemotePort,
    RequestUri,
    Uri,
    Args,
    Arg(String),
    IsArgs,
    Scheme,
    ServerName,
    ServerPort,
    RequestMethod,
    ProxyHost,
    ProxyPort,
    ProxyAddXForwardedFor,
    /// `$1`..`$9` (and `$0`): the last successful regex match.
    Capture(usize),
    /// A variable declared by `set` (index into [`Request::user`]).
    User(usize),
    /// A variable defined by `map` (index into [`Request::maps`]).
    Map(usize),
    /// `$request_id`: 16 random bytes in hex, drawn once per request on first use.
    RequestId,
}

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Lit(String),
    Var(Var),
}

/// A parsed value with variables.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Template {
    parts: Vec<Part>,
}

/// Names declared by `set` anywhere in the configuration (nginx declares them globally).
#[derive(Debug, Clone, Default)]
pub struct UserVars {
    names: Vec<String>,
    maps: Vec<String>,
}

impl UserVars {
    /// The slot of `name`, declaring it if new.
    pub fn declare(&mut self, name: &str) -> usize {
        match self.names.iter().position(|n| n == name) {
            Some(i) => i,
            None => {
                self.names.push(name.to_owned());
                self.names.len() - 1
            }
        }
    }

    /// Declares a `map` target variable; its index follows `map` blocks in order.
    pub fn declare_map(&mut self, name: &str) -> usize {
        self.maps.push(name.to_owned());
        self.maps.len() - 1
    }

    pub fn find(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// Resolves one variable name (without `$`).
pub fn lookup(name: &str, users: &UserVars) -> Result<Var, String> {
    if let Some(i) = users.find(name) {
        return Ok(Var::User(i));
    }
    if let Some(i) = users.maps.iter().position(|m| m == name) {
        return Ok(Var::Map(i));
    }
    if name.len() == 1 && name.as_bytes()[0].is_ascii_digit() {
        return Ok(Var::Capture(usize::from(name.as_bytes()[0] - b'0')));
    }
    if let Some(h) = name.strip_prefix("http_") {
        return Ok(Var::Http(h.replace('_', "-").to_ascii_lowercase()));
    }
    if let Some(a) = name.strip_prefix("arg_") {
        return Ok(Var::Arg(a.to_owned()));
    }
    Ok(match name {
        "host" => Var::Host,
        "remote_addr" => Var::RemoteAddr,
        // Zone keys only need one value per address; the text form is as distinct as the
        // four or sixteen bytes nginx uses (it only costs zone memory).
        "binary_remote_addr" => Var::RemoteAddr,
        "remote_port" => Var::RemotePort,
        "request_uri" => Var::RequestUri,
        "uri" | "document_uri" => Var::Uri,
        "args" | "query_string" => Var::Args,
        "is_args" => Var::IsArgs,
        "scheme" => Var::Scheme,
        "server_name" => Var::ServerName,
        "server_port" => Var::ServerPort,
        "request_method" => Var::RequestMethod,
        "proxy_host" => Var::ProxyHost,
        "proxy_port" => Var::ProxyPort,
        "proxy_add_x_forwarded_for" => Var::ProxyAddXForwardedFor,
        "request_id" => Var::RequestId,
        _ => return Err(format!("variable \"${name}\" is not implemented yet")),
    })
}

impl Template {
    /// Parses `text` the way `ngx_http_script_compile` splits it. Captures are single digits
    /// (`$12` is `$1` then `2`), `${name}` delimits a name.
    pub fn parse(text: &str, users: &UserVars) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let b = text.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] != b'$' {
                let start = i;
                while i < b.len() && b[i] != b'$' {
                    i += 1;
                }
                lit.push_str(&text[start..i]);
                continue;
            }
            i += 1;
            let (name, next) = if b.get(i) == Some(&b'{') {
                let end = text[i..].find('}').map(|e| i + e).ok_or_else(|| {
                    format!("the closing bracket in \"{text}\" variable is missing")
                })?;
                (&text[i + 1..end], end + 1)
            } else if b.get(i).is_some_and(u8::is_ascii_digit) {
                (&text[i..i + 1], i + 1)
            } else {
                let start = i;
                let mut e = i;
                while e < b.len() && (b[e].is_ascii_alphanumeric() || b[e] == b'_') {
                    e += 1;
                }
                (&text[start..e], e)
            };
            if name.is_empty() {
                return Err(format!("invalid variable name in \"{text}\""));
            }
            if !lit.is_empty() {
                parts.push(Part::Lit(std::mem::take(&mut lit)));
            }
            parts.push(Part::Var(lookup(name, users)?));
            i = next;
        }
        if !lit.is_empty() {
            parts.push(Part::Lit(lit));
        }
        Ok(Template { parts })
    }

    /// A template without variables.
    pub fn literal(text: &str) -> Template {
        let parts = if text.is_empty() {
            Vec::new()
        } else {
            vec![Part::Lit(text.to_owned())]
        };
        Template { parts }
    }

    /// Whether `$0`..`$9` appear.
    pub fn has_captures(&self) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, Part::Var(Var::Capture(_))))
    }

    pub fn has_vars(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Var(_)))
    }

    /// The text when there are no variables.
    pub fn as_literal(&self) -> Option<String> {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Lit(s) => out.push_str(s),
                Part::Var(_) => return None,
            }
        }
        Some(out)
    }

    pub fn eval_into(&self, v: &Vars<'_>, out: &mut String) {
        for p in &self.parts {
            match p {
                Part::Lit(s) => out.push_str(s),
                Part::Var(var) => v.get(var, out),
            }
        }
    }

    pub fn eval(&self, v: &Vars<'_>) -> String {
        let mut out = String::new();
        self.eval_into(v, &mut out);
        out
    }
}

/// The per-request state variables read; the proxy fills it from the session.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub method: String,
    /// The target as the client sent it (`$request_uri`).
    pub request_uri: String,
    /// The current, normalised URI (`$uri`); rewrites change it.
    pub uri: String,
    /// The arguments (`$args`), without `?`.
    pub args: String,
    /// `$host`: the Host header's name, lowercase, without port and trailing dot.
    pub host: String,
    pub remote: Option<SocketAddr>,
    pub local: Option<SocketAddr>,
    pub server_name: String,
    /// The subject and spans of the last successful regex match.
    pub captures: Captures,
    /// Values of `set` variables, indexed like [`UserVars`].
    pub user: Vec<Option<String>>,
    pub proxy_host: String,
    pub proxy_port: u16,
    /// The configuration's `map` blocks, indexed like [`Var::Map`].
    pub maps: Option<std::sync::Arc<[super::map::Map]>>,
    /// Received on a `listen ... ssl` address (`$scheme` is https).
    pub https: bool,
    /// `$request_id`, drawn on first use (tests may set it).
    pub request_id: std::sync::OnceLock<String>,
}

/// `$request_id` as nginx builds it: 16 random bytes as 32 lowercase hex digits.
pub fn request_id_from(rng: &mut impl rand::RngCore) -> String {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// `$0`..`$9` of the last regex match.
#[derive(Debug, Clone, Default)]
pub struct Captures {
    pub subject: String,
    pub spans: Vec<Option<(usize, usize)>>,
}

impl Captures {
    /// Records a match of `re` on `subject`; false when it does not match.
    pub fn record(&mut self, re: &regex::Regex, subject: &str) -> bool {
        match re.captures(subject) {
            Some(c) => {
                self.spans = c.iter().map(|m| m.map(|m| (m.start(), m.end()))).collect();
                self.subject.clear();
                self.subject.push_str(subject);
                true
            }
            None => false,
        }
    }

    pub fn get(&self, i: usize) -> &str {
        match self.spans.get(i).copied().flatten() {
            Some((s, e)) => &self.subject[s..e],
            None => "",
        }
    }
}

/// A request and its headers, as variables see them.
pub struct Vars<'a> {
    pub req: &'a Request,
    pub headers: &'a HeaderMap,
}

impl Vars<'_> {
    /// `$http_NAME` under nginx 1.22's rules: X-Forwarded-For joins with ", ", Cookie with
    /// "; ", other repeated headers yield the first value.
    fn header(&self, name: &str, out: &mut String) {
        let sep = match name {
            "x-forwarded-for" => Some(", "),
            "cookie" => Some("; "),
            _ => None,
        };
        let mut values = self.headers.get_all(name).iter();
        if let Some(first) = values.next() {
            out.push_str(&String::from_utf8_lossy(first.as_bytes()));
            if let Some(sep) = sep {
                for v in values {
                    out.push_str(sep);
                    out.push_str(&String::from_utf8_lossy(v.as_bytes()));
                }
            }
        }
    }

    pub fn get(&self, var: &Var, out: &mut String) {
        use std::fmt::Write;
        let r = self.req;
        match var {
            Var::Host => out.push_str(&r.host),
            Var::Http(name) => self.header(name, out),
            Var::RemoteAddr => {
                if let Some(a) = r.remote {
                    let _ = write!(out, "{}", a.ip());
                }
            }
            Var::RemotePort => {
                if let Some(a) = r.remote {
                    let _ = write!(out, "{}", a.port());
                }
            }
            Var::RequestUri => out.push_str(&r.request_uri),
            Var::Uri => out.push_str(&r.uri),
            Var::Args => out.push_str(&r.args),
            Var::Arg(name) => out.push_str(super::uri::arg(&r.args, name).unwrap_or("")),
            Var::IsArgs => {
                if !r.args.is_empty() {
                    out.push('?');
                }
            }
            Var::Scheme => out.push_str(if r.https { "https" } else { "http" }),
            Var::ServerName => out.push_str(&r.server_name),
            Var::ServerPort => {
                if let Some(a) = r.local {
                    let _ = write!(out, "{}", a.port());
                }
            }
            Var::RequestMethod => out.push_str(&r.method),
            Var::ProxyHost => out.push_str(&r.proxy_host),
            Var::ProxyPort => {
                let _ = write!(out, "{}", r.proxy_port);
            }
            Var::ProxyAddXForwardedFor => {
                if self.headers.contains_key("x-forwarded-for") {
                    self.header("x-forwarded-for", out);
                    out.push_str(", ");
                }
                self.get(&Var::RemoteAddr, out);
            }
            Var::Capture(i) => out.push_str(r.captures.get(*i)),
            Var::User(i) => {
                if let Some(Some(v)) = r.user.get(*i) {
                    out.push_str(v);
                }
            }
            Var::Map(i) => {
                if let Some(m) = r.maps.as_deref().and_then(|m| m.get(*i)) {
                    m.eval_into(self, out);
                }
            }
            Var::RequestId => {
                let id = r
                    .request_id
                    .get_or_init(|| request_id_from(&mut rand::thread_rng()));
                out.push_str(id);
            }
        }
    }
}

#[cfg(test)]
#[path = "vars_tests.rs"]
mod tests;
