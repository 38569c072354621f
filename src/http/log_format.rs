//! `log_format` and `access_log` as a runtime model: a format compiled once into segments
//! (literal text, request variables, log-only variables) and rendered per request into a
//! caller-owned buffer with nginx's escaping (`escape=default|json|none`) and its `-` for
//! values that are not found.
//!
//! Owns: the log-only variables (`$status`, `$body_bytes_sent`, `$request_time`,
//! `$upstream_*`, `$time_local`, `$msec`, ...) and nginx's rendering rules. It must not do
//! I/O (see `proxy::logs`) nor decide which log applies (that is `conf`'s inheritance).

use std::fmt::Write;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::vars::{lookup, Template, UserVars, Var, Vars};

/// nginx's predefined format.
pub const COMBINED: &str = "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent \"$http_referer\" \"$http_user_agent\"";

/// How variable values are escaped (`ngx_http_log_escape`, `ngx_escape_json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    Default,
    Json,
    None,
}

/// Variables only the log phase knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogVar {
    Status,
    BodyBytesSent,
    BytesSent,
    RequestLength,
    RequestTime,
    Request,
    RemoteUser,
    UpstreamAddr,
    UpstreamStatus,
    UpstreamResponseTime,
    TimeLocal,
    TimeIso8601,
    Msec,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Lit(String),
    Var(Var),
    Log(LogVar),
}

/// A compiled `log_format`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFormat {
    pub name: String,
    escape: Escape,
    segs: Vec<Seg>,
}

/// One upstream attempt, for `$upstream_addr`, `$upstream_status`, `$upstream_response_time`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    pub addr: SocketAddr,
    /// `None` when no response header arrived (nginx logs 502/504 then; see `Facts`).
    pub status: Option<u16>,
    pub time: Duration,
}

/// What the log phase knows about a finished request.
#[derive(Debug, Clone, Default)]
pub struct Facts<'a> {
    pub status: u16,
    pub body_bytes_sent: u64,
    pub bytes_sent: u64,
    pub request_length: u64,
    /// The request line as received (`$request`).
    pub request_line: &'a str,
    pub remote_user: Option<&'a str>,
    pub upstreams: &'a [Attempt],
    /// When the request started (wall clock) and how long it took.
    pub start: Option<SystemTime>,
    pub elapsed: Duration,
    /// When the log line is written.
    pub now: Option<SystemTime>,
}

fn log_var(name: &str) -> Option<LogVar> {
    Some(match name {
        "status" => LogVar::Status,
        "body_bytes_sent" => LogVar::BodyBytesSent,
        "bytes_sent" => LogVar::BytesSent,
        "request_length" => LogVar::RequestLength,
        "request_time" => LogVar::RequestTime,
        "request" => LogVar::Request,
        "remote_user" => LogVar::RemoteUser,
        "upstream_addr" => LogVar::UpstreamAddr,
        "upstream_status" => LogVar::UpstreamStatus,
        "upstream_response_time" => LogVar::UpstreamResponseTime,
        "time_local" => LogVar::TimeLocal,
        "time_iso8601" => LogVar::TimeIso8601,
        "msec" => LogVar::Msec,
        _ => return None,
    })
}

impl LogFormat {
    /// `log_format name [escape=...] string...`: the strings are concatenated.
    pub fn parse(name: &str, args: &[&str], users: &UserVars) -> Result<LogFormat, String> {
        let (escape, strings) = match args.first().and_then(|a| a.strip_prefix("escape=")) {
            Some("default") => (Escape::Default, &args[1..]),
            Some("json") => (Escape::Json, &args[1..]),
            Some("none") => (Escape::None, &args[1..]),
            Some(other) => return Err(format!("unknown log format escaping \"{other}\"")),
            None => (Escape::Default, args),
        };
        let mut segs = Vec::new();
        for s in strings {
            compile(s, users, &mut segs)?;
        }
        Ok(LogFormat {
            name: name.to_owned(),
            escape,
            segs,
        })
    }

    /// The predefined `combined` format (compiles: its variables are all known).
    pub fn combined() -> Result<LogFormat, String> {
        LogFormat::parse("combined", &[COMBINED], &UserVars::default())
    }

    /// Appends the line (without the newline) to `out`.
    pub fn render(&self, v: &Vars<'_>, f: &Facts<'_>, out: &mut String) {
        let mut value = String::new();
        for seg in &self.segs {
            let found = match seg {
                Seg::Lit(s) => {
                    out.push_str(s);
                    continue;
                }
                Seg::Var(var) => {
                    value.clear();
                    v.get(var, &mut value);
                    var_found(var, v, &value)
                }
                Seg::Log(lv) => {
                    value.clear();
                    log_value(*lv, f, &mut value)
                }
            };
            match (found, self.escape) {
                (false, Escape::Json) => {}
                (false, _) => out.push('-'),
                (true, e) => escape_into(&value, e, out),
            }
        }
    }
}

/// Splits `text` like `ngx_http_log_compile`: `$name` / `${name}`, the rest literal.
fn compile(text: &str, users: &UserVars, segs: &mut Vec<Seg>) -> Result<(), String> {
    let b = text.as_bytes();
    let mut i = 0;
    let mut lit = String::new();
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
            let end = text[i..]
                .find('}')
                .map(|e| i + e)
                .ok_or_else(|| format!("the closing bracket in \"{text}\" variable is missing"))?;
            (&text[i + 1..end], end + 1)
        } else {
            let mut e = i;
            while e < b.len() && (b[e].is_ascii_alphanumeric() || b[e] == b'_') {
                e += 1;
            }
            (&text[i..e], e)
        };
        if name.is_empty() {
            return Err(format!("invalid variable name in \"{text}\""));
        }
        if !lit.is_empty() {
            segs.push(Seg::Lit(std::mem::take(&mut lit)));
        }
        segs.push(match log_var(name) {
            Some(lv) => Seg::Log(lv),
            None => Seg::Var(lookup(name, users)?),
        });
        i = next;
    }
    if !lit.is_empty() {
        segs.push(Seg::Lit(lit));
    }
    Ok(())
}

/// Whether nginx would call the value "not found" (logged as `-`).
fn var_found(var: &Var, v: &Vars<'_>, value: &str) -> bool {
    match var {
        Var::Http(name) => v.headers.contains_key(name.as_str()),
        Var::Arg(name) => super::uri::arg(&v.req.args, name).is_some(),
        Var::User(i) => matches!(v.req.user.get(*i), Some(Some(_))),
        // `$args` without a `?` has no data: not found (`ngx_http_variable_request`).
        Var::RemoteAddr | Var::RemotePort | Var::ServerPort | Var::Args => !value.is_empty(),
        _ => true,
    }
}

fn secs_millis(d: Duration, out: &mut String) {
    let _ = write!(out, "{}.{:03}", d.as_secs(), d.subsec_millis());
}

/// Fills `out`; false when not found.
fn log_value(lv: LogVar, f: &Facts<'_>, out: &mut String) -> bool {
    let now = f.now.unwrap_or_else(SystemTime::now);
    let join = |out: &mut String, each: &dyn Fn(&Attempt, &mut String)| {
        for (i, a) in f.upstreams.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            each(a, out);
        }
        !f.upstreams.is_empty()
    };
    match lv {
        LogVar::Status => {
            let _ = write!(out, "{:03}", f.status);
        }
        LogVar::BodyBytesSent => {
            let _ = write!(out, "{}", f.body_bytes_sent);
        }
        LogVar::BytesSent => {
            let _ = write!(out, "{}", f.bytes_sent);
        }
        LogVar::RequestLength => {
            let _ = write!(out, "{}", f.request_length);
        }
        LogVar::RequestTime => secs_millis(f.elapsed, out),
        LogVar::Request => out.push_str(f.request_line),
        LogVar::RemoteUser => match f.remote_user {
            Some(u) => out.push_str(u),
            None => return false,
        },
        LogVar::UpstreamAddr => {
            return join(out, &|a, o| {
                let _ = write!(o, "{}", a.addr);
            })
        }
        LogVar::UpstreamStatus => {
            return join(out, &|a, o| match a.status {
                Some(s) => {
                    let _ = write!(o, "{s}");
                }
                None => o.push('-'),
            })
        }
        LogVar::UpstreamResponseTime => return join(out, &|a, o| secs_millis(a.time, o)),
        LogVar::TimeLocal => time_local(f.start.unwrap_or(now), out),
        LogVar::TimeIso8601 => time_iso8601(f.start.unwrap_or(now), out),
        LogVar::Msec => {
            let d = now.duration_since(UNIX_EPOCH).unwrap_or_default();
            secs_millis(d, out);
        }
    }
    true
}

fn escape_into(value: &str, e: Escape, out: &mut String) {
    const HEX_UP: &[u8; 16] = b"0123456789ABCDEF";
    const HEX_LO: &[u8; 16] = b"0123456789abcdef";
    match e {
        Escape::None => out.push_str(value),
        Escape::Default => {
            for c in value.chars() {
                if c == '"' || c == '\\' || (c as u32) < 0x20 || (c as u32) >= 0x7f {
                    let mut buf = [0u8; 4];
                    for &byte in c.encode_utf8(&mut buf).as_bytes() {
                        out.push_str("\\x");
                        out.push(HEX_UP[usize::from(byte >> 4)] as char);
                        out.push(HEX_UP[usize::from(byte & 15)] as char);
                    }
                } else {
                    out.push(c);
                }
            }
        }
        Escape::Json => {
            for c in value.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    '\u{8}' => out.push_str("\\b"),
                    '\u{c}' => out.push_str("\\f"),
                    c if (c as u32) < 0x20 => {
                        let b = c as u8;
                        out.push_str("\\u00");
                        out.push(HEX_LO[usize::from(b >> 4)] as char);
                        out.push(HEX_LO[usize::from(b & 15)] as char);
                    }
                    c => out.push(c),
                }
            }
        }
    }
}

/// (year, month 1-12, day, hour, minute, second) in UTC. Tollgate logs in UTC (+0000)
/// rather than the machine's zone: nginx's own output matches when TZ is UTC.
fn civil(t: SystemTime) -> (i64, u32, u32, u32, u32, u32) {
    let secs = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    let rem = rem as u32;
    (y, m, d, rem / 3600, rem % 3600 / 60, rem % 60)
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `22/Nov/2026:06:37:14 +0000`.
pub fn time_local(t: SystemTime, out: &mut String) {
    let (y, m, d, h, mi, s) = civil(t);
    let mon = MONTHS[(m - 1) as usize];
    let _ = write!(out, "{d:02}/{mon}/{y}:{h:02}:{mi:02}:{s:02} +0000");
}

/// `2026-11-22T06:37:14+00:00`.
pub fn time_iso8601(t: SystemTime, out: &mut String) {
    let (y, m, d, h, mi, s) = civil(t);
    let _ = write!(out, "{y}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}+00:00");
}

/// `2026/11/22 06:37:14`, the error log's time stamp.
pub fn time_error_log(t: SystemTime, out: &mut String) {
    let (y, m, d, h, mi, s) = civil(t);
    let _ = write!(out, "{y}/{m:02}/{d:02} {h:02}:{mi:02}:{s:02}");
}

/// One `access_log` of a level: where (index into the site's log files), how, and `if=`.
#[derive(Debug, Clone)]
pub struct AccessLog {
    pub file: usize,
    pub format: std::sync::Arc<LogFormat>,
    pub cond: Option<Template>,
}

impl AccessLog {
    /// `if=`: logged unless the condition is empty or "0".
    pub fn applies(&self, v: &Vars<'_>) -> bool {
        match &self.cond {
            None => true,
            Some(t) => {
                let c = t.eval(v);
                !c.is_empty() && c != "0"
            }
        }
    }
}

/// Where rendered access lines go (`proxy::logs` writes them off the request path).
pub trait LogSink: Send + Sync + std::fmt::Debug {
    /// Queues `line` (without its newline) for access log `file`; never blocks.
    fn line(&self, file: usize, line: String);
}

/// The files a site logs to: access logs (absolute paths, indexed by [`AccessLog::file`])
/// and the error log (`stderr` or a path) with its level.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogTargets {
    pub access: Vec<String>,
    pub error: Option<(String, log::LevelFilter)>,
}

impl LogTargets {
    /// The index of `path`, adding it once.
    pub fn file(&mut self, path: String) -> usize {
        match self.access.iter().position(|p| *p == path) {
            Some(i) => i,
            None => {
                self.access.push(path);
                self.access.len() - 1
            }
        }
    }
}

#[cfg(test)]
#[path = "log_format_tests.rs"]
mod tests;
