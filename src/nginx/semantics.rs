//! The checks nginx's directive handlers make while reading a configuration, for the
//! directives tollgate checks (everything else is accepted once `directives` let it through).
//!
//! Owns: per-block state ([`Frame`]: scalars already set, zones used, locations), state that
//! spans the configuration ([`State`]), the context a block directive opens, the order of
//! nginx's checks (per directive while reading, at the end of a block, after the `http` block,
//! after the whole file), and the checks of nginx's standard setters (duplicates, `on`/`off`,
//! numbers, sizes, times, enum and bitmask values) plus `root`/`alias`, `log_format`,
//! `access_log`, `error_page`, `listen`, certificates and the `events` section. Handler
//! families live in submodules: `upstream` (upstream list, `proxy_pass`, resolution),
//! `rewrite` (`return`, `rewrite`, `if`, `set`, `map`), `limits` (`limit_req*`),
//! `locations`. It must not read files except through [`ConfFs`], nor know about the CLI;
//! what it does not check is listed in the README, not guessed.

use std::collections::HashSet;

use super::diag::{Diag, Location};
use super::directives::{Cmd, Context, Setter};
use super::fs::ConfFs;
use super::listen::{Listens, Server};
use super::parser::Directive;
use super::regex;
use super::tls::Tls;
use super::units;
use super::variables::Variables;

mod limits;
mod locations;
mod rewrite;
mod scripts;
mod upstream;

use limits::{check_limit_conn, check_limit_req, check_limit_req_zone, check_zone, Zone};
use locations::{check_duplicate_locations, location, Loc};
use rewrite::{check_if, check_map, check_return, check_rewrite, check_set};
use upstream::{
    check_proxy_pass, check_upstream, check_upstream_server, resolve_implicit_upstreams, Upstream,
};

/// The handler that reads a block's lines itself (nginx's `cf->handler`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryHandler {
    Map,
    Types,
    Geo,
    SplitClients,
    CharsetMap,
}

impl EntryHandler {
    /// Whether the handler treats `include` as an include (the others take it as a key).
    pub fn takes_include(self) -> bool {
        matches!(
            self,
            EntryHandler::Map | EntryHandler::Types | EntryHandler::Geo
        )
    }
}

/// What a block contains: directives dispatched through the table, or handler entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    Directives,
    Entries(EntryHandler),
}

/// The state of one block being read.
#[derive(Debug)]
pub struct Frame {
    pub context: Context,
    pub kind: BlockKind,
    pub directives: Vec<Directive>,
    /// Scalar directives already set in this block.
    seen: HashSet<String>,
    /// (directive, zone) pairs of `limit_req`/`limit_conn`.
    zones: HashSet<(String, String)>,
    /// `Some(is_alias)` once `root` or `alias` was set.
    root: Option<bool>,
    /// The location this block is, when it is one.
    location: Option<Loc>,
    /// Locations defined directly in this block.
    locations: Vec<Loc>,
    /// An `upstream` whose balancing method has no `backup` servers (ip_hash, hash, random).
    no_backup: bool,
}

impl Frame {
    /// An empty block of `kind` in `context`.
    pub fn new(context: Context, kind: BlockKind) -> Self {
        Frame {
            context,
            kind,
            directives: Vec::new(),
            seen: HashSet::new(),
            zones: HashSet::new(),
            root: None,
            location: None,
            locations: Vec::new(),
            no_backup: false,
        }
    }
}

/// State that spans the whole configuration.
#[derive(Debug, Default)]
pub struct State {
    /// Path of the file being read (for diagnostics that nginx attaches to a location's own
    /// place, reported later).
    pub current_file: String,
    events: bool,
    /// nginx's upstream list: explicit `upstream` blocks and the implicit groups `proxy_pass`
    /// creates, in order.
    upstreams: Vec<Upstream>,
    /// `log_format` names defined so far (`combined` is built in).
    log_formats: Vec<String>,
    /// Servers and their listening addresses.
    listens: Listens,
    /// `ssl_certificate*` at the `http` level (servers inherit them).
    http_tls: Tls,
    /// The main file's directory (relative certificate paths start there).
    pub conf_prefix: String,
    /// nginx's prefix (`-p`; `load_module` paths start there).
    pub prefix: String,
    /// Variables used and defined.
    vars: Variables,
    /// `limit_req`/`limit_conn` shared memory zones in the order nginx first heard of them.
    zones: Vec<Zone>,
    /// Each server's locations, in order (checked when `http` ends).
    servers: Vec<Vec<Loc>>,
}

impl State {
    /// The state at the start of a configuration (`-p` prefix, main file's directory).
    pub fn new(prefix: &str, conf_prefix: &str) -> Self {
        State {
            prefix: prefix.to_owned(),
            conf_prefix: conf_prefix.to_owned(),
            ..State::default()
        }
    }
}

/// Directives whose handler refuses a repeat only in some cases tollgate handles apart (or
/// not at all): the generated table marks them "duplicate-checking" because their source
/// contains `"is duplicate"`.
const CONDITIONAL_DUPLICATES: &[&str] = &[
    "limit_req",
    "limit_conn",
    "proxy_redirect",
    "proxy_cookie_domain",
    "proxy_cookie_path",
    "proxy_cookie_flags",
    "mirror",
    "http2_push",
    "root",
    "alias",
];

/// Checks one dispatched directive; returns the block frame it opens, if any.
pub fn directive(
    cmd: &Cmd,
    d: &Directive,
    line: usize,
    frame: &mut Frame,
    state: &mut State,
    fs: &dyn ConfFs,
) -> Result<Option<Frame>, Diag> {
    check_duplicate(cmd, d, line, frame)?;
    check_value(cmd, d, line)?;
    scripts::record(d, &mut state.vars);
    match d.name.as_str() {
        "events" => state.events = true,
        "root" | "alias" => check_root(d, line, frame)?,
        "limit_req" => {
            check_limit_req(d, line, state)?;
            check_zone(d, line, frame)?;
        }
        "limit_conn" => check_limit_conn(d, line, frame, state)?,
        "limit_req_zone" | "limit_conn_zone" => check_limit_req_zone(d, line, state)?,
        "error_page" => check_error_page(d, line)?,
        "map" => check_map(d, line)?,
        "if" => check_if(d, line)?,
        "return" => check_return(d, line)?,
        "rewrite" => check_rewrite(d, line)?,
        "upstream" => check_upstream(d, line, state)?,
        "proxy_pass" => check_proxy_pass(d, line, frame, state)?,
        "log_format" => check_log_format(d, line, state)?,
        "access_log" => check_access_log(d, line, state)?,
        "set" => check_set(d, line)?,
        "user" => check_user(d, line, fs)?,
        "worker_processes" | "worker_connections" | "keepalive_timeout" => {
            check_custom_value(d, line)?
        }
        "server_name" => {
            for w in d.args.iter().filter(|w| w.text.starts_with('~')) {
                regex::check(&w.text[1..]).map_err(|e| Diag::at(e, line))?;
            }
        }
        "load_module" => check_load_module(d, line, state, fs)?,
        "ip_hash" | "hash" | "random" => frame.no_backup = true,
        "server" if frame.context == Context::Upstream => {
            check_upstream_server(d, line, frame, fs)?
        }
        "listen" => {
            let args: Vec<&str> = d.args.iter().map(|w| w.text.as_str()).collect();
            let server = state.listens.servers.len().saturating_sub(1);
            state.listens.listen(server, &args, line)?;
        }
        "ssl" => {
            // ngx_http_ssl_enable: a flag slot (duplicate and on/off checks) that remembers
            // where it was set.
            let on = d
                .args
                .first()
                .is_some_and(|w| w.text.eq_ignore_ascii_case("on"));
            let tls = match frame.context {
                Context::Http => Some(&mut state.http_tls),
                _ => state.listens.servers.last_mut().map(|s| &mut s.tls),
            };
            if let Some(tls) = tls {
                tls.enable = Some((on, state.current_file.clone(), line));
            }
        }
        "ssl_certificate" | "ssl_certificate_key" => {
            let tls = match frame.context {
                Context::Http => Some(&mut state.http_tls),
                _ => state.listens.servers.last_mut().map(|s| &mut s.tls),
            };
            let value = d.args.first().map_or("", |w| w.text.as_str()).to_owned();
            if let Some(tls) = tls {
                if d.name == "ssl_certificate" {
                    tls.certificates.push(value);
                } else {
                    tls.keys.push(value);
                }
            }
        }
        _ => {}
    }
    open_block(d, line, frame, state)
}

/// Checks a block once its `}` was read (`line` is the line of that `}`).
pub fn end_block(
    parent: &mut Frame,
    d: &Directive,
    child: &Frame,
    line: usize,
    state: &mut State,
    fs: &dyn ConfFs,
) -> Result<(), Diag> {
    match (d.name.as_str(), child.context) {
        ("location", _) => {
            if let Some(mut loc) = child.location.clone() {
                loc.children = child.locations.clone();
                parent.locations.push(loc);
            }
        }
        ("server", Context::Server) => state.servers.push(child.locations.clone()),
        ("http", _) => {
            resolve_implicit_upstreams(state, fs)?;
            for server in &mut state.listens.servers {
                server.tls = server.tls.merged(&state.http_tls);
                server.tls.check(&state.conf_prefix, fs)?;
            }
            for server in &state.servers {
                check_duplicate_locations(server)?;
            }
            state.listens.check_certificates()?;
            state.vars.check()?;
        }
        ("upstream", _) if !child.directives.iter().any(|c| c.name == "server") => {
            return Err(Diag::at("no servers are inside upstream", line));
        }
        _ => {}
    }
    Ok(())
}

/// Checks one line of a handler-read block.
pub fn entry(
    handler: EntryHandler,
    d: &Directive,
    line: usize,
    state: &mut State,
) -> Result<(), Diag> {
    if handler == EntryHandler::Map {
        scripts::record_map_entry(d, &mut state.vars);
    }
    if handler == EntryHandler::Map {
        let flag = d.args.is_empty() && (d.name == "hostnames" || d.name == "volatile");
        if !flag && d.args.len() != 1 {
            return Err(Diag::at("invalid number of the map parameters", line));
        }
        if let Some(key) = d.name.strip_prefix('~') {
            let pattern = key.strip_prefix('*').unwrap_or(key);
            regex::check(pattern).map_err(|e| Diag::at(e, line))?;
        }
    }
    Ok(())
}

/// nginx's checks after the whole configuration was read.
pub fn end_of_config(state: &State) -> Result<(), Diag> {
    if !state.events {
        return Err(Diag::nowhere("no \"events\" section in configuration"));
    }
    // ngx_init_cycle creates the shared memory zones after every module's configuration.
    if let Some(zone) = state.zones.iter().find(|z| z.key.is_none()) {
        return Err(Diag::nowhere(format!(
            "zero size shared memory zone \"{}\"",
            zone.name
        )));
    }
    Ok(())
}

/// `error_page CODE ... [=[RESPONSE]] URI`.
fn check_error_page(d: &Directive, line: usize) -> Result<(), Diag> {
    let n = d.args.len();
    let invalid = |v: &str| Err(Diag::at(format!("invalid value \"{v}\""), line));
    let mut codes_end = n.saturating_sub(1);
    if let Some(w) = n.checked_sub(2).and_then(|i| d.args.get(i)) {
        if let Some(code) = w.text.strip_prefix('=') {
            if n == 2 || (!code.is_empty() && units::atoi(code).is_none()) {
                return invalid(&w.text);
            }
            codes_end = n - 2;
        }
    }
    for w in &d.args[..codes_end] {
        match units::atoi(&w.text) {
            None | Some(499) => return invalid(&w.text),
            Some(300..=599) => {}
            Some(_) => {
                return Err(Diag::at(
                    format!("value \"{}\" must be between 300 and 599", w.text),
                    line,
                ))
            }
        }
    }
    Ok(())
}

fn check_duplicate(cmd: &Cmd, d: &Directive, line: usize, frame: &mut Frame) -> Result<(), Diag> {
    let checks = match cmd.setter {
        Setter::Custom if cmd.name == "ssl" => true,
        Setter::Custom | Setter::Bitmask => false,
        Setter::CustomDup => !CONDITIONAL_DUPLICATES.contains(&cmd.name),
        _ => true,
    };
    if checks && !frame.seen.insert(d.name.clone()) {
        return Err(Diag::directive(&d.name, "is duplicate", line));
    }
    Ok(())
}

/// The value checks of nginx's standard setters.
fn check_value(cmd: &Cmd, d: &Directive, line: usize) -> Result<(), Diag> {
    let arg = |i: usize| d.args.get(i).map_or("", |w| w.text.as_str());
    let invalid = |reason: &str| Err(Diag::directive(&d.name, reason, line));
    let setter = if cmd.name == "ssl" {
        Setter::Flag
    } else {
        cmd.setter
    };
    match setter {
        Setter::Flag
            if !arg(0).eq_ignore_ascii_case("on") && !arg(0).eq_ignore_ascii_case("off") =>
        {
            Err(Diag::at(
                format!(
                    "invalid value \"{}\" in \"{}\" directive, it must be \"on\" or \"off\"",
                    arg(0),
                    d.name
                ),
                line,
            ))
        }
        Setter::Num if units::atoi(arg(0)).is_none() => invalid("invalid number"),
        Setter::Size if units::parse_size(arg(0)).is_none() => invalid("invalid value"),
        Setter::Off if units::parse_offset(arg(0)).is_none() => invalid("invalid value"),
        Setter::Msec if units::parse_time(arg(0), false).is_none() => invalid("invalid value"),
        Setter::Sec if units::parse_time(arg(0), true).is_none() => invalid("invalid value"),
        Setter::Bufs if units::atoi(arg(0)).is_none() || units::parse_size(arg(1)).is_none() => {
            invalid("invalid value")
        }
        Setter::Enum | Setter::Bitmask if !cmd.values.is_empty() => {
            let count = if cmd.setter == Setter::Enum {
                1
            } else {
                d.args.len()
            };
            let bad = d
                .args
                .iter()
                .take(count)
                .find(|w| !cmd.values.iter().any(|v| v.eq_ignore_ascii_case(&w.text)));
            match bad {
                Some(w) => Err(Diag::at(format!("invalid value \"{}\"", w.text), line)),
                None => Ok(()),
            }
        }
        _ => Ok(()),
    }
}

/// The value checks of a few custom setters that mirror the standard ones.
fn check_custom_value(d: &Directive, line: usize) -> Result<(), Diag> {
    let arg = |i: usize| d.args.get(i).map_or("", |w| w.text.as_str());
    let ok = match d.name.as_str() {
        "worker_processes" => arg(0) == "auto" || units::atoi(arg(0)).is_some(),
        "worker_connections" => {
            if units::atoi(arg(0)).is_none() {
                return Err(Diag::at(format!("invalid number \"{}\"", arg(0)), line));
            }
            true
        }
        // keepalive_timeout TIMEOUT [HEADER_TIMEOUT]
        _ => {
            units::parse_time(arg(0), false).is_some()
                && (d.args.len() < 2 || units::parse_time(arg(1), true).is_some())
        }
    };
    if ok {
        return Ok(());
    }
    Err(Diag::directive(&d.name, "invalid value", line))
}

/// `user USER [GROUP]` (`ngx_set_user`): checked only when running as root, as nginx does.
fn check_user(d: &Directive, line: usize, fs: &dyn ConfFs) -> Result<(), Diag> {
    if !fs.is_superuser() {
        return Ok(());
    }
    let user = d.args.first().map_or("", |w| w.text.as_str());
    if !fs.account_exists(user, false) {
        return Err(Diag::at(format!("getpwnam(\"{user}\") failed"), line));
    }
    let group = d.args.get(1).map_or(user, |w| w.text.as_str());
    if !fs.account_exists(group, true) {
        return Err(Diag::at(format!("getgrnam(\"{group}\") failed"), line));
    }
    Ok(())
}

/// `load_module FILE` (relative to the prefix). A missing file gets nginx's `dlopen()`
/// message; an existing one cannot be loaded by tollgate, which says so.
fn check_load_module(
    d: &Directive,
    line: usize,
    state: &State,
    fs: &dyn ConfFs,
) -> Result<(), Diag> {
    let name = d.args.first().map_or("", |w| w.text.as_str());
    let path = super::parser::full_name(&state.prefix, name);
    let msg = if fs.read(&path).is_err() {
        format!(
            "dlopen() \"{path}\" failed ({path}: cannot open shared object file: \
             No such file or directory)"
        )
    } else {
        format!("dynamic modules are not supported by tollgate: \"{path}\"")
    };
    Err(Diag::at(msg, line))
}

/// `root` and `alias` share one slot (`ngx_http_core_root`).
fn check_root(d: &Directive, line: usize, frame: &mut Frame) -> Result<(), Diag> {
    let alias = d.name == "alias";
    match frame.root {
        Some(prev) if prev == alias => Err(Diag::directive(&d.name, "is duplicate", line)),
        Some(prev) => Err(Diag::at(
            format!(
                "\"{}\" directive is duplicate, \"{}\" directive was specified earlier",
                d.name,
                if prev { "alias" } else { "root" }
            ),
            line,
        )),
        None => {
            frame.root = Some(alias);
            Ok(())
        }
    }
}

/// `log_format NAME ...`: names are unique (`combined` is built in).
fn check_log_format(d: &Directive, line: usize, state: &mut State) -> Result<(), Diag> {
    let name = d.args.first().map_or("", |w| w.text.as_str());
    if name == "combined" || state.log_formats.iter().any(|f| f == name) {
        return Err(Diag::at(
            format!("duplicate \"log_format\" name \"{name}\""),
            line,
        ));
    }
    state.log_formats.push(name.to_owned());
    Ok(())
}

/// `access_log off` | `access_log PATH [FORMAT ...]`: the format must be defined already.
fn check_access_log(d: &Directive, line: usize, state: &State) -> Result<(), Diag> {
    let arg = |i: usize| d.args.get(i).map(|w| w.text.as_str());
    if arg(0) == Some("off") {
        return match arg(1) {
            Some(extra) => Err(Diag::at(format!("invalid parameter \"{extra}\""), line)),
            None => Ok(()),
        };
    }
    let name = arg(1).unwrap_or("combined");
    let known = name.eq_ignore_ascii_case("combined")
        || state
            .log_formats
            .iter()
            .any(|f| f.eq_ignore_ascii_case(name));
    if known {
        return Ok(());
    }
    Err(Diag::at(format!("unknown log format \"{name}\""), line))
}

/// The frame a block directive opens, with `location`'s own checks.
fn open_block(
    d: &Directive,
    line: usize,
    frame: &Frame,
    state: &mut State,
) -> Result<Option<Frame>, Diag> {
    let directives = |ctx| Ok(Some(Frame::new(ctx, BlockKind::Directives)));
    let entries = |h| Ok(Some(Frame::new(frame.context, BlockKind::Entries(h))));
    match d.name.as_str() {
        "events" => directives(Context::Events),
        "http" => directives(Context::Http),
        "server" if frame.context == Context::Http => {
            state.listens.servers.push(Server {
                path: state.current_file.clone(),
                line,
                tls: Tls::default(),
            });
            directives(Context::Server)
        }
        "upstream" => directives(Context::Upstream),
        "limit_except" => directives(Context::LimitExcept),
        "if" if frame.context == Context::Server => directives(Context::ServerIf),
        "if" => directives(Context::LocationIf),
        "location" => {
            let mut child = Frame::new(Context::Location, BlockKind::Directives);
            child.location = Some(location(d, line, frame, state)?);
            Ok(Some(child))
        }
        "map" => entries(EntryHandler::Map),
        "types" => entries(EntryHandler::Types),
        "geo" => entries(EntryHandler::Geo),
        "split_clients" => entries(EntryHandler::SplitClients),
        "charset_map" => entries(EntryHandler::CharsetMap),
        _ => Ok(None),
    }
}
