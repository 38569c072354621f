//! The checks nginx's directive handlers make while reading a configuration, for the
//! directives tollgate checks (everything else is accepted once `directives` let it through).
//!
//! Owns: per-block state (which scalars were already set, which zones a `limit_req` used,
//! which locations a server has), the context a block directive opens, and nginx's own
//! wording for: duplicates (`ngx_conf_set_*_slot` and the handlers that refuse a repeat),
//! `on`/`off`, numbers, sizes and times, `location` modifiers and nesting, duplicate
//! locations, `root`/`alias`, `upstream` (duplicates, empty groups), `return` codes,
//! `rewrite` flags, `map` entries and the missing `events` section. It must not read files
//! or know about the CLI; and what it does not check is listed in the README, not guessed.

use std::collections::HashSet;

use super::diag::{Diag, Location};
use super::directives::{Cmd, Context, Setter};
use super::fs::ConfFs;
use super::listen::{Listens, Server};
use super::parser::Directive;
use super::tls::Tls;
use super::units;

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

/// A location as nginx's `ngx_http_core_location` classifies it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Loc {
    name: String,
    exact: bool,
    regex: bool,
    named: bool,
    /// Where nginx reports a duplicate of it: its file and the line of its `{`.
    path: String,
    line: usize,
    children: Vec<Loc>,
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
    /// `limit_req` shared memory zones in the order nginx first heard of them: (name, key of
    /// the defining `limit_req_zone`, if any).
    req_zones: Vec<(String, Option<String>)>,
    /// Each server's locations, in order (checked when `http` ends).
    servers: Vec<Vec<Loc>>,
}

impl State {
    /// The state at the start of a configuration whose main file lives in `conf_prefix`.
    pub fn new(conf_prefix: &str) -> Self {
        State {
            conf_prefix: conf_prefix.to_owned(),
            ..State::default()
        }
    }
}

/// One entry of nginx's upstream list (`ngx_http_upstream_srv_conf_t`, the fields
/// `ngx_http_upstream_add` compares).
#[derive(Debug, Clone)]
struct Upstream {
    host: String,
    port: u32,
    no_port: bool,
    explicit: bool,
    path: String,
    line: usize,
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
    match d.name.as_str() {
        "events" => state.events = true,
        "root" | "alias" => check_root(d, line, frame)?,
        "limit_req" => {
            check_limit_req(d, line, state)?;
            check_zone(d, line, frame)?;
        }
        "limit_conn" => check_zone(d, line, frame)?,
        "limit_req_zone" => check_limit_req_zone(d, line, state)?,
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
        "ip_hash" | "hash" | "random" => frame.no_backup = true,
        "server" if frame.context == Context::Upstream => {
            check_upstream_server(d, line, frame, fs)?
        }
        "listen" => {
            let args: Vec<&str> = d.args.iter().map(|w| w.text.as_str()).collect();
            let server = state.listens.servers.len().saturating_sub(1);
            state.listens.listen(server, &args, line)?;
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
        }
        ("upstream", _) if !child.directives.iter().any(|c| c.name == "server") => {
            return Err(Diag::at("no servers are inside upstream", line));
        }
        _ => {}
    }
    Ok(())
}

/// Checks one line of a handler-read block.
pub fn entry(handler: EntryHandler, d: &Directive, line: usize) -> Result<(), Diag> {
    if handler == EntryHandler::Map {
        let flag = d.args.is_empty() && (d.name == "hostnames" || d.name == "volatile");
        if !flag && d.args.len() != 1 {
            return Err(Diag::at("invalid number of the map parameters", line));
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
    if let Some((name, _)) = state.req_zones.iter().find(|(_, key)| key.is_none()) {
        return Err(Diag::nowhere(format!(
            "zero size shared memory zone \"{name}\""
        )));
    }
    Ok(())
}

/// `limit_req_zone KEY zone=NAME:SIZE rate=Nr/s|Nr/m`.
fn check_limit_req_zone(d: &Directive, line: usize, state: &mut State) -> Result<(), Diag> {
    let mut name = None;
    for w in d.args.iter().skip(1) {
        let p = w.text.as_str();
        if let Some(zone) = p.strip_prefix("zone=") {
            let bad_size = || Diag::at(format!("invalid zone size \"{p}\""), line);
            let (zone_name, size) = zone.split_once(':').ok_or_else(bad_size)?;
            let size = units::parse_size(size).ok_or_else(bad_size)?;
            // 8 pages of 4 KiB, nginx's minimum for a slab zone.
            if size < 8 * 4096 {
                return Err(Diag::at(format!("zone \"{p}\" is too small"), line));
            }
            name = Some(zone_name.to_owned());
        } else if let Some(rate) = p.strip_prefix("rate=") {
            let digits = rate
                .strip_suffix("r/s")
                .or_else(|| rate.strip_suffix("r/m"))
                .unwrap_or(rate);
            if units::atoi(digits).is_none_or(|n| n <= 0) {
                return Err(Diag::at(format!("invalid rate \"{p}\""), line));
            }
        } else {
            return Err(Diag::at(format!("invalid parameter \"{p}\""), line));
        }
    }
    let Some(name) = name.filter(|n| !n.is_empty()) else {
        return Err(Diag::at(
            "\"limit_req_zone\" must have \"zone\" parameter",
            line,
        ));
    };
    let key = d.args.first().map_or("", |w| w.text.as_str()).to_owned();
    match state.req_zones.iter_mut().find(|(n, _)| *n == name) {
        Some((_, Some(bound))) => Err(Diag::at(
            format!("limit_req_zone \"{name}\" is already bound to key \"{bound}\""),
            line,
        )),
        Some((_, slot)) => {
            *slot = Some(key);
            Ok(())
        }
        None => {
            state.req_zones.push((name, Some(key)));
            Ok(())
        }
    }
}

/// `limit_req zone=NAME [burst=N] [nodelay | delay=N]`.
fn check_limit_req(d: &Directive, line: usize, state: &mut State) -> Result<(), Diag> {
    let mut zone = None;
    for w in &d.args {
        let p = w.text.as_str();
        let positive = |v: &str| units::atoi(v).is_some_and(|n| n > 0);
        if let Some(z) = p.strip_prefix("zone=") {
            zone = Some(z.to_owned());
        } else if let Some(v) = p.strip_prefix("burst=") {
            if !positive(v) {
                return Err(Diag::at(format!("invalid burst value \"{p}\""), line));
            }
        } else if let Some(v) = p.strip_prefix("delay=") {
            if !positive(v) {
                return Err(Diag::at(format!("invalid delay value \"{p}\""), line));
            }
        } else if p != "nodelay" {
            return Err(Diag::at(format!("invalid parameter \"{p}\""), line));
        }
    }
    let Some(zone) = zone else {
        return Err(Diag::at("\"limit_req\" must have \"zone\" parameter", line));
    };
    if !state.req_zones.iter().any(|(n, _)| *n == zone) {
        state.req_zones.push((zone, None));
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

/// `if (CONDITION) {`: `ngx_http_rewrite_if_condition`, without compiling regexes.
fn check_if(d: &Directive, line: usize) -> Result<(), Diag> {
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
        if ["=", "!=", "~", "~*", "!~", "!~*"].contains(&op) {
            return Ok(());
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
fn check_map(d: &Directive, line: usize) -> Result<(), Diag> {
    let target = d.args.get(1).map_or("", |w| w.text.as_str());
    if target.starts_with('$') {
        return Ok(());
    }
    Err(Diag::at(
        format!("invalid variable name \"{target}\""),
        line,
    ))
}

fn check_duplicate(cmd: &Cmd, d: &Directive, line: usize, frame: &mut Frame) -> Result<(), Diag> {
    let checks = match cmd.setter {
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
    match cmd.setter {
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

/// `limit_req zone=z ...` / `limit_conn z N`: the same zone twice in one block.
fn check_zone(d: &Directive, line: usize, frame: &mut Frame) -> Result<(), Diag> {
    let zone = if d.name == "limit_req" {
        d.args
            .iter()
            .find_map(|w| w.text.strip_prefix("zone="))
            .unwrap_or("")
    } else {
        d.args.first().map_or("", |w| w.text.as_str())
    };
    if !frame.zones.insert((d.name.clone(), zone.to_owned())) {
        return Err(Diag::directive(&d.name, "is duplicate", line));
    }
    Ok(())
}

/// `ngx_http_rewrite_return`: a status code up to 999, or (alone) a redirect URL.
fn check_return(d: &Directive, line: usize) -> Result<(), Diag> {
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
fn check_rewrite(d: &Directive, line: usize) -> Result<(), Diag> {
    match d.args.get(2) {
        Some(w) if !["last", "break", "redirect", "permanent"].contains(&w.text.as_str()) => {
            Err(Diag::at(format!("invalid parameter \"{}\"", w.text), line))
        }
        _ => Ok(()),
    }
}

/// `upstream NAME {`: nginx's `ngx_http_upstream_add` with `NGX_HTTP_UPSTREAM_CREATE`.
fn check_upstream(d: &Directive, line: usize, state: &mut State) -> Result<(), Diag> {
    let name = d.args.first().map_or("", |w| w.text.as_str());
    let new = Upstream {
        host: name.to_owned(),
        port: 0,
        no_port: true,
        explicit: true,
        path: state.current_file.clone(),
        line,
    };
    upstream_add(new, line, state)
}

/// `ngx_http_upstream_add`: the first entry with the same host (case-insensitive) decides.
fn upstream_add(new: Upstream, line: usize, state: &mut State) -> Result<(), Diag> {
    for up in state.upstreams.iter_mut() {
        if !up.host.eq_ignore_ascii_case(&new.host) {
            continue;
        }
        if new.explicit && up.explicit {
            return Err(Diag::at(
                format!("duplicate upstream \"{}\"", new.host),
                line,
            ));
        }
        if up.explicit && !new.no_port {
            let msg = format!("upstream \"{}\" may not have port {}", new.host, new.port);
            return Err(Diag::at(msg, line));
        }
        if new.explicit && !up.no_port {
            return Err(Diag {
                location: Location::File {
                    path: up.path.clone(),
                    line: up.line,
                },
                ..Diag::nowhere(format!(
                    "upstream \"{}\" may not have port {}",
                    new.host, up.port
                ))
            });
        }
        if up.port != 0 && new.port != 0 && up.port != new.port {
            continue;
        }
        if new.explicit {
            up.explicit = true;
            up.port = 0;
        }
        return Ok(());
    }
    state.upstreams.push(new);
    Ok(())
}

/// `ngx_http_proxy_pass`: URLs with variables are checked at run time; others need an
/// `http://`/`https://` prefix, a host and a valid port, may carry no URI part where the
/// location has no usable prefix, and join nginx's upstream list.
fn check_proxy_pass(
    d: &Directive,
    line: usize,
    frame: &Frame,
    state: &mut State,
) -> Result<(), Diag> {
    let url = d.args.first().map_or("", |w| w.text.as_str());
    if url.contains('$') {
        return Ok(());
    }
    let lower = url.to_ascii_lowercase();
    let (rest, default_port) = if lower.starts_with("http://") {
        (&url[7..], 80)
    } else if lower.starts_with("https://") {
        (&url[8..], 443)
    } else {
        return Err(Diag::at("invalid URL prefix", line));
    };
    let parsed = parse_url(rest, default_port)
        .map_err(|err| Diag::at(format!("{err} in upstream \"{rest}\""), line))?;
    let loc = frame.location.as_ref();
    let noname = matches!(frame.context, Context::LocationIf | Context::LimitExcept);
    if parsed.has_uri && (noname || loc.is_some_and(|l| l.regex || l.named)) {
        return Err(Diag::at(
            "\"proxy_pass\" cannot have URI part in location given by regular expression, \
             or inside named location, or inside \"if\" statement, \
             or inside \"limit_except\" block",
            line,
        ));
    }
    if let Some((host, port, no_port)) = parsed.inet {
        let new = Upstream {
            host,
            port,
            no_port,
            explicit: false,
            path: state.current_file.clone(),
            line,
        };
        upstream_add(new, line, state)?;
    }
    Ok(())
}

/// What `ngx_parse_url` (with `uri_part`) finds in a proxy_pass URL after its scheme.
struct ParsedUrl {
    has_uri: bool,
    /// (host, port, no_port) for network addresses; `None` for `unix:` sockets.
    inet: Option<(String, u32, bool)>,
}

fn parse_url(rest: &str, default_port: u32) -> Result<ParsedUrl, &'static str> {
    if let Some(path) = rest.strip_prefix("unix:") {
        // unix:/path[:/uri]
        let has_uri = path.find(':').is_some_and(|i| i + 1 < path.len());
        return Ok(ParsedUrl {
            has_uri,
            inet: None,
        });
    }
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, uri) = rest.split_at(end);
    let (host, port) = split_port(authority);
    if host.is_empty() {
        return Err("no host");
    }
    let (port, no_port) = match port {
        None => (default_port, true),
        Some(p) => match super::units::atoi(p) {
            Some(n @ 1..=65535) => (n as u32, false),
            _ => return Err("invalid port"),
        },
    };
    Ok(ParsedUrl {
        has_uri: !uri.is_empty(),
        inet: Some((host.to_owned(), port, no_port)),
    })
}

/// `host:port`, `[v6]:port`, `host`.
fn split_port(authority: &str) -> (&str, Option<&str>) {
    if authority.starts_with('[') {
        return match authority.find(']') {
            Some(i) => (&authority[..=i], authority[i + 1..].strip_prefix(':')),
            None => (authority, None),
        };
    }
    match authority.rfind(':') {
        Some(i) => (&authority[..i], Some(&authority[i + 1..])),
        None => (authority, None),
    }
}

/// `server ADDRESS [PARAMETERS]` in an `upstream` (`ngx_http_upstream_server`): parameters
/// first, then the address, whose host name must resolve.
fn check_upstream_server(
    d: &Directive,
    line: usize,
    frame: &Frame,
    fs: &dyn ConfFs,
) -> Result<(), Diag> {
    for w in d.args.iter().skip(1) {
        let p = w.text.as_str();
        let valid = if let Some(v) = p.strip_prefix("weight=") {
            units::atoi(v).is_some_and(|n| n != 0)
        } else if let Some(v) = p
            .strip_prefix("max_conns=")
            .or(p.strip_prefix("max_fails="))
        {
            units::atoi(v).is_some()
        } else if let Some(v) = p.strip_prefix("fail_timeout=") {
            units::parse_time(v, true).is_some()
        } else if p == "backup" && frame.no_backup {
            let msg = format!("balancing method does not support parameter \"{p}\"");
            return Err(Diag::at(msg, line));
        } else {
            p == "backup" || p == "down"
        };
        if !valid {
            return Err(Diag::at(format!("invalid parameter \"{p}\""), line));
        }
    }
    let addr = d.args.first().map_or("", |w| w.text.as_str());
    if addr.starts_with("unix:") || addr.starts_with('[') {
        return Ok(());
    }
    let (host, port) = split_port(addr);
    let err = if port.is_some_and(|p| !matches!(units::atoi(p), Some(1..=65535))) {
        "invalid port"
    } else if host.is_empty() {
        "no host"
    } else if host.parse::<std::net::Ipv4Addr>().is_err() && !fs.resolves(host) {
        "host not found"
    } else {
        return Ok(());
    };
    Err(Diag::at(format!("{err} in upstream \"{addr}\""), line))
}

/// `ngx_http_upstream_init_round_robin` for the groups `proxy_pass` created with a host name:
/// nginx resolves them when the `http` block ends.
fn resolve_implicit_upstreams(state: &State, fs: &dyn ConfFs) -> Result<(), Diag> {
    for up in state.upstreams.iter().filter(|u| !u.explicit) {
        let literal = up.host.starts_with('[') || up.host.parse::<std::net::Ipv4Addr>().is_ok();
        if literal || fs.resolves(&up.host) {
            continue;
        }
        return Err(Diag {
            location: Location::File {
                path: up.path.clone(),
                line: up.line,
            },
            ..Diag::nowhere(format!("host not found in upstream \"{}\"", up.host))
        });
    }
    Ok(())
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

/// `set $name value`.
fn check_set(d: &Directive, line: usize) -> Result<(), Diag> {
    let name = d.args.first().map_or("", |w| w.text.as_str());
    if name.starts_with('$') {
        return Ok(());
    }
    Err(Diag::at(format!("invalid variable name \"{name}\""), line))
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

/// `ngx_http_core_location`: the modifier, then the nesting rules.
fn location(d: &Directive, line: usize, parent: &Frame, state: &State) -> Result<Loc, Diag> {
    let mut loc = Loc {
        name: String::new(),
        exact: false,
        regex: false,
        named: false,
        path: state.current_file.clone(),
        line,
        children: Vec::new(),
    };
    let arg = |i: usize| d.args.get(i).map_or("", |w| w.text.as_str());
    if d.args.len() == 2 {
        loc.name = arg(1).to_owned();
        match arg(0) {
            "=" => loc.exact = true,
            "^~" => {}
            "~" | "~*" => loc.regex = true,
            m => return Err(Diag::at(format!("invalid location modifier \"{m}\""), line)),
        }
    } else {
        let name = arg(0);
        if let Some(rest) = name.strip_prefix('=') {
            loc.name = rest.to_owned();
            loc.exact = true;
        } else if let Some(rest) = name.strip_prefix("^~") {
            loc.name = rest.to_owned();
        } else if let Some(rest) = name.strip_prefix('~') {
            loc.name = rest.strip_prefix('*').unwrap_or(rest).to_owned();
            loc.regex = true;
        } else {
            loc.name = name.to_owned();
            loc.named = name.starts_with('@');
        }
    }
    if let Some(p) = &parent.location {
        check_nesting(&loc, p, line)?;
    }
    Ok(loc)
}

fn check_nesting(loc: &Loc, parent: &Loc, line: usize) -> Result<(), Diag> {
    let (name, pname) = (&loc.name, &parent.name);
    let msg = if parent.exact {
        format!("location \"{name}\" cannot be inside the exact location \"{pname}\"")
    } else if parent.named {
        format!("location \"{name}\" cannot be inside the named location \"{pname}\"")
    } else if loc.named {
        format!("named location \"{name}\" can be on the server level only")
    } else if !loc.regex && !name.as_bytes().starts_with(pname.as_bytes()) {
        format!("location \"{name}\" is outside location \"{pname}\"")
    } else {
        return Ok(());
    };
    Err(Diag::at(msg, line))
}

/// `ngx_http_init_static_location_trees`: nested levels first, then this level, whose
/// static locations are sorted by name (an exact one before an inclusive one of the same
/// name); two neighbours with the same name and kind are a duplicate, reported at the
/// second.
fn check_duplicate_locations(level: &[Loc]) -> Result<(), Diag> {
    for loc in level {
        check_duplicate_locations(&loc.children)?;
    }
    let mut statics: Vec<&Loc> = level.iter().filter(|l| !l.regex && !l.named).collect();
    statics.sort_by(|a, b| {
        a.name
            .as_bytes()
            .cmp(b.name.as_bytes())
            .then(b.exact.cmp(&a.exact))
    });
    for pair in statics.windows(2) {
        let (q, x) = (pair[0], pair[1]);
        if q.name == x.name && q.exact == x.exact {
            return Err(Diag {
                location: Location::File {
                    path: x.path.clone(),
                    line: x.line,
                },
                ..Diag::nowhere(format!("duplicate location \"{}\"", x.name))
            });
        }
    }
    Ok(())
}
