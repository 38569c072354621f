//! Turns the parsed (and env-interpolated) YAML tree into the runtime `Config`.
//!
//! Owns: the top-level sections, `listen`, `admin`, `server` and `timeouts`, and the order in
//! which sections are checked; providers, models and keys have their own modules.
//! Every check records its error in `Diagnostics` and carries on, so one run reports everything.
//! Must not: read files or the environment, look at the clock (the caller passes `Host`), or
//! stop at the first error.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde_yaml::{Mapping, Value};

use super::error::Diagnostics;
use super::model::{AdminSettings, Config, NonEmpty, ServerSettings, Timeouts};
use super::path::{key_text, YamlPath};
use super::raw::{RawAdmin, RawServer, RawTimeouts, SECTIONS};
use super::units::{duration_value, kind, size_value};
use super::{keys, models, providers, quota, resilience};

/// Facts about the machine and the moment, passed in so validation stays deterministic.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Host {
    /// Unix seconds, used as the `created` time of model groups.
    pub now_unix: u64,
    /// What `threads: auto` resolves to.
    pub cores: usize,
}

/// What the env pass learned, for providers (which values came from `${...}`).
pub(crate) struct Context<'a> {
    pub substituted: &'a HashSet<YamlPath>,
    pub host: Host,
}

const DEFAULT_GRACE: Duration = Duration::from_secs(30);
const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(75);
const DEFAULT_MAX_BODY: u64 = 32 << 20;

/// Validates everything; `None` when any error was recorded.
pub(crate) fn validate(
    root: &Value,
    source: &Path,
    cx: &Context<'_>,
    d: &mut Diagnostics<'_>,
) -> Option<Config> {
    let top = YamlPath::root();
    let empty = Mapping::new();
    let map = match root {
        Value::Mapping(m) => m,
        Value::Null => &empty,
        other => {
            d.at(
                &top,
                format!(
                    "expected a mapping of sections ({}), found {}",
                    one_of(SECTIONS),
                    kind(other)
                ),
            );
            return None;
        }
    };
    for key in map.keys() {
        let name = key_text(key);
        if !SECTIONS.contains(&name.as_str()) {
            d.at_key(
                &top.key(&name),
                format!(
                    "unknown field `{name}`, expected one of {}",
                    one_of(SECTIONS)
                ),
            );
        }
    }
    let section = |name: &str| map.get(name).filter(|v| !v.is_null());

    let listen = listen(section("listen"), &top.key("listen"), d);
    let admin = section("admin").and_then(|v| admin(v, &top.key("admin"), listen.as_ref(), d));
    let server = server(section("server"), &top.key("server"), cx.host, d);
    let defaults = match section("timeouts") {
        Some(v) => {
            let path = top.key("timeouts");
            d.deserialize::<RawTimeouts>(v, &path)
                .and_then(|raw| timeouts(&raw, Timeouts::default(), &path, d))
        }
        None => Some(Timeouts::default()),
    };
    let defaults = defaults.unwrap_or_default();
    let providers = providers::providers(
        section("providers"),
        &top.key("providers"),
        &defaults,
        cx,
        d,
    );
    let models = models::models(
        section("models"),
        &top.key("models"),
        &providers,
        cx.host,
        d,
    );
    let resilience = resilience::resilience(section("resilience"), &top.key("resilience"), d);
    let quota = quota::quota(section("quota"), &top.key("quota"), d);
    let prices = quota::prices(section("prices"), &top.key("prices"), &models.declared, d);
    // From the raw tree: a key naming a declared tier is not an error when the quota
    // section has errors of its own (no cascade).
    let tiers = quota::declared_tiers(section("quota"));
    let keys = keys::keys(
        section("keys"),
        &top.key("keys"),
        &models.declared,
        &tiers,
        d,
    );

    if d.has_errors() {
        return None;
    }
    let (listen, (threads, grace_period, max_body_size, keepalive_timeout, pid_file)) =
        (listen?, server?);
    // Relative to the config file, like every other path a config names.
    let pid_file = pid_file.map(|p| match source.parent() {
        Some(dir) if p.is_relative() => dir.join(p),
        _ => p,
    });
    let resilience = resilience?;
    Some(Config {
        source: source.to_path_buf(),
        server: ServerSettings {
            listen,
            threads,
            grace_period,
            max_body_size,
            keepalive_timeout,
            pid_file,
        },
        admin,
        providers: providers.valid,
        models: models.valid,
        keys,
        resilience,
        quota,
        prices,
    })
}

/// "`a`, `b`, `c`", the way serde lists expected fields.
pub(crate) fn one_of(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    quoted.join(", ")
}

/// The entries of a required, non-empty `name -> entry` section (providers, models).
pub(crate) fn entries<'v>(
    v: Option<&'v Value>,
    path: &YamlPath,
    what: &str,
    d: &mut Diagnostics<'_>,
) -> Vec<(String, YamlPath, &'v Value)> {
    match v {
        Some(Value::Mapping(m)) if !m.is_empty() => m
            .iter()
            .map(|(k, v)| {
                let name = key_text(k);
                let p = path.key(&name);
                (name, p, v)
            })
            .collect(),
        Some(Value::Mapping(_)) | None => {
            d.at(path, format!("at least one {what} is required"));
            Vec::new()
        }
        Some(other) => {
            d.at(
                path,
                format!(
                    "expected a mapping of {what} names to {what}s, found {}",
                    kind(other)
                ),
            );
            Vec::new()
        }
    }
}

fn socket_addr(v: &Value, path: &YamlPath, d: &mut Diagnostics<'_>) -> Option<SocketAddr> {
    let parsed = match v {
        Value::String(s) => s
            .trim()
            .parse::<SocketAddr>()
            .map_err(|_| format!("invalid address {s:?}")),
        other => Err(format!("expected an address string, found {}", kind(other))),
    };
    parsed
        .map_err(|m| {
            d.at(
                path,
                format!("{m}: expected \"ip:port\", e.g. \"127.0.0.1:8080\" or \"[::1]:8080\""),
            )
        })
        .ok()
}

fn listen(
    v: Option<&Value>,
    path: &YamlPath,
    d: &mut Diagnostics<'_>,
) -> Option<NonEmpty<SocketAddr>> {
    let items: Vec<(YamlPath, &Value)> = match v {
        None => Vec::new(),
        Some(Value::Sequence(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (path.index(i), v))
            .collect(),
        Some(one) => vec![(path.clone(), one)],
    };
    let mut addrs: Vec<SocketAddr> = Vec::new();
    let mut ok = true;
    for (p, item) in items {
        match socket_addr(item, &p, d) {
            Some(a) if addrs.contains(&a) => {
                d.at(&p, format!("address {a} is listed twice"));
                ok = false;
            }
            Some(a) => addrs.push(a),
            None => ok = false,
        }
    }
    let list = NonEmpty::new(addrs);
    if list.is_none() && ok {
        d.at(
            path,
            "at least one listen address is required, e.g. listen: [\"127.0.0.1:8080\"]",
        );
    }
    list.filter(|_| ok)
}

fn admin(
    v: &Value,
    path: &YamlPath,
    data: Option<&NonEmpty<SocketAddr>>,
    d: &mut Diagnostics<'_>,
) -> Option<AdminSettings> {
    let raw: RawAdmin = d.deserialize(v, path)?;
    let p = path.key("listen");
    let listen = socket_addr(&Value::String(raw.listen), &p, d)?;
    if data.is_some_and(|l| l.iter().any(|a| *a == listen)) {
        d.at(
            &p,
            format!("address {listen} is also a data listener (`listen`)"),
        );
        return None;
    }
    Some(AdminSettings { listen })
}

/// (threads, grace_period, max_body_size, keepalive_timeout)
type Server = (usize, Duration, u64, Duration, Option<std::path::PathBuf>);

fn server(
    v: Option<&Value>,
    path: &YamlPath,
    host: Host,
    d: &mut Diagnostics<'_>,
) -> Option<Server> {
    let raw = match v {
        Some(v) => d.deserialize::<RawServer>(v, path)?,
        None => RawServer::default(),
    };
    let threads = threads(raw.threads.as_ref(), &path.key("threads"), host, d);
    let grace = duration(
        raw.grace_period.as_ref(),
        &path.key("grace_period"),
        DEFAULT_GRACE,
        false,
        d,
    );
    let keepalive = duration(
        raw.keepalive_timeout.as_ref(),
        &path.key("keepalive_timeout"),
        DEFAULT_KEEPALIVE,
        false,
        d,
    );
    let body_path = path.key("max_body_size");
    let body = match raw.max_body_size.as_ref().map(size_value) {
        None => Some(DEFAULT_MAX_BODY),
        Some(Ok(0)) => {
            d.at(&body_path, "max_body_size must be greater than 0");
            None
        }
        Some(Ok(n)) => Some(n),
        Some(Err(m)) => {
            d.at(&body_path, m);
            None
        }
    };
    let pid_file = pid_file(raw.pid_file.as_ref(), &path.key("pid_file"), d);
    Some((threads?, grace?, body?, keepalive?, pid_file?))
}

/// `pid_file`: a non-empty string (made absolute against the config's directory later).
fn pid_file(
    v: Option<&Value>,
    path: &YamlPath,
    d: &mut Diagnostics<'_>,
) -> Option<Option<std::path::PathBuf>> {
    match v {
        None => Some(None),
        Some(Value::String(s)) if !s.trim().is_empty() => Some(Some(s.into())),
        Some(_) => {
            d.at(path, "pid_file must be a non-empty path");
            None
        }
    }
}

fn threads(
    v: Option<&Value>,
    path: &YamlPath,
    host: Host,
    d: &mut Diagnostics<'_>,
) -> Option<usize> {
    let n = match v {
        None => return Some(host.cores),
        Some(Value::String(s)) if s == "auto" => return Some(host.cores),
        Some(Value::Number(n)) => n.as_u64(),
        // A number that came from `${THREADS}` is a string.
        Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
        Some(_) => None,
    };
    match n.and_then(|n| usize::try_from(n).ok()).filter(|n| *n >= 1) {
        Some(n) => Some(n),
        None => {
            d.at(path, "expected `auto` or a whole number of threads >= 1");
            None
        }
    }
}

/// An optional duration field; `positive` refuses 0.
pub(crate) fn duration(
    v: Option<&Value>,
    path: &YamlPath,
    default: Duration,
    positive: bool,
    d: &mut Diagnostics<'_>,
) -> Option<Duration> {
    match v.map(duration_value) {
        None => Some(default),
        Some(Ok(t)) if positive && t.is_zero() => {
            d.at(path, "must be greater than 0");
            None
        }
        Some(Ok(t)) => Some(t),
        Some(Err(m)) => {
            d.at(path, m);
            None
        }
    }
}

/// `base` with the fields set in `raw` replaced; every timeout must be > 0.
pub(crate) fn timeouts(
    raw: &RawTimeouts,
    base: Timeouts,
    path: &YamlPath,
    d: &mut Diagnostics<'_>,
) -> Option<Timeouts> {
    let mut field = |v: &Option<Value>, name: &str, default: Duration| {
        duration(v.as_ref(), &path.key(name), default, true, d)
    };
    let connect = field(&raw.connect, "connect", base.connect);
    let first_byte = field(&raw.first_byte, "first_byte", base.first_byte);
    let idle = field(&raw.idle, "idle", base.idle);
    let total = field(&raw.total, "total", base.total);
    Some(Timeouts {
        connect: connect?,
        first_byte: first_byte?,
        idle: idle?,
        total: total?,
    })
}
