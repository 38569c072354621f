//! Lowering a parsed nginx configuration into a [`Site`]: upstream groups, servers grouped
//! per listen address, location trees with their merged configuration, and scripts.
//!
//! Owns: walking the `http` block and deciding, for every directive, whether it is lowered,
//! a no-op (`nginx::support`) or refused with its file:line. It must not resolve host names
//! or serve anything; `-t` has already validated shapes and values.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use super::conf::{ProxyPass, Settings};
use super::directives;
use super::listen_tls::ListenTls;
use super::log_format::{LogFormat, LogTargets};
use super::map::Map;
use super::names::NameIndex;
use super::script::Op;
use super::site::{Listen, Site};
use super::upstream::{Group, Method, ServerSpec};
use super::vars::{Template, UserVars};
use crate::nginx::support::{support, Support};
use crate::nginx::{units, Config, Directive};

/// A directive tollgate cannot serve, with where it was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} in {file}:{line}")]
pub struct LowerError {
    pub message: String,
    pub file: String,
    pub line: usize,
}

struct Lower<'a> {
    config: &'a Config,
    users: UserVars,
    upstreams: Vec<Group>,
    by_name: HashMap<String, usize>,
    llm_gateways: Vec<std::path::PathBuf>,
    /// `log_format`s by lowercase name, `combined` included.
    formats: HashMap<String, Arc<LogFormat>>,
    /// Log files, filled while levels are lowered (`plain` takes `&self`).
    logs: RefCell<LogTargets>,
    req_zones: Vec<super::limit_req::ZoneSpec>,
    conn_zones: Vec<super::limit_conn::ZoneSpec>,
    /// The distinct TLS settings of `proxy_pass https://` locations.
    upstream_tls: Vec<super::proxy_ssl::UpstreamTls>,
}

/// Lowers `config` (already checked by `nginx::parse`).
pub fn lower(config: &Config) -> Result<Site, LowerError> {
    let mut users = UserVars::default();
    declare_sets(&config.root, &mut users);
    let http_body = config
        .root
        .iter()
        .find(|d| d.name == "http")
        .and_then(|d| d.block.as_deref());
    for d in http_body.unwrap_or(&[]).iter().filter(|d| d.name == "map") {
        users.declare_map(arg(d, 1).trim_start_matches('$'));
    }
    let mut l = Lower {
        config,
        users,
        upstreams: Vec::new(),
        by_name: HashMap::new(),
        llm_gateways: Vec::new(),
        formats: HashMap::new(),
        logs: RefCell::new(LogTargets::default()),
        req_zones: Vec::new(),
        conn_zones: Vec::new(),
        upstream_tls: Vec::new(),
    };
    for d in config.root.iter().filter(|d| d.name == "error_log") {
        l.error_log(d)?;
    }
    let Some(http) = config.root.iter().find(|d| d.name == "http") else {
        return Err(LowerError {
            message: "no \"http\" block: there is nothing to serve".into(),
            file: config
                .files
                .first()
                .map_or(String::new(), |f| f.path.clone()),
            line: 1,
        });
    };
    let body = http.block.as_deref().unwrap_or(&[]);
    for d in body.iter().filter(|d| d.name == "upstream") {
        l.upstream(d)?;
    }
    l.log_formats(http)?;
    l.limit_zones(body)?;
    let mut maps = Vec::new();
    for d in body.iter().filter(|d| d.name == "map") {
        maps.push(Map::lower(d, &l.users).map_err(|m| l.err(d, m))?);
    }
    let mut settings = Settings::default();
    settings.statics.prefix = Some(config.prefix.clone());
    for d in body {
        match d.name.as_str() {
            "upstream" | "server" | "map" | "log_format" | "limit_req_zone" | "limit_conn_zone" => {
            }
            "error_log" => l.error_log(d)?,
            _ => l.plain(d, &mut settings, None)?,
        }
    }
    l.default_access_log(&mut settings);
    let mut servers = Vec::new();
    let mut listens: Vec<Listen> = Vec::new();
    // Per server: its certificate, and per address whether some `listen` said `ssl`.
    let (mut certs, mut ssl) = (Vec::new(), Vec::new());
    let server_blocks: Vec<&Directive> = body.iter().filter(|d| d.name == "server").collect();
    for d in server_blocks.iter().copied() {
        let ix = servers.len();
        let (server, addrs, names, cert) = l.server(d, &settings)?;
        servers.push(server);
        certs.push(cert);
        for p in addrs {
            let at = match listens.iter().position(|x| x.addr == p.addr) {
                Some(i) => i,
                None => {
                    listens.push(Listen {
                        addr: p.addr,
                        servers: Vec::new(),
                        default: ix,
                        names: NameIndex::default(),
                        tls: None,
                        http2: false,
                    });
                    ssl.push(false);
                    listens.len() - 1
                }
            };
            let listen = &mut listens[at];
            ssl[at] |= p.ssl;
            listen.http2 |= p.http2;
            if p.default {
                listen.default = ix;
            }
            listen.servers.push(ix);
            listen.names.add(&names, ix);
        }
    }
    for (listen, _) in listens.iter_mut().zip(&ssl).filter(|(_, s)| **s) {
        listen.tls = ListenTls::new(&listen.servers, listen.default, &certs);
        if listen.tls.is_none() {
            let addr = listen.addr;
            return Err(l.err(server_blocks[listen.default], format!("no \"ssl_certificate\" is defined for the \"listen ... ssl\" directive ({addr})")));
        }
    }
    if servers.is_empty() {
        return Err(l.err(
            http,
            "no \"server\" block: there is nothing to serve".into(),
        ));
    }
    Ok(Site {
        listens,
        servers,
        upstreams: l.upstreams,
        user_vars: l.users.len(),
        maps: maps.into(),
        llm_gateways: l.llm_gateways,
        logs: l.logs.into_inner(),
        req_zones: l.req_zones,
        conn_zones: l.conn_zones,
        upstream_tls: l.upstream_tls,
    })
}

/// `set` declares its variable for the whole configuration, wherever it is written.
fn declare_sets(ds: &[Directive], users: &mut UserVars) {
    for d in ds {
        if d.name == "set" {
            if let Some(w) = d.args.first() {
                users.declare(w.text.trim_start_matches('$'));
            }
        }
        if let Some(b) = &d.block {
            declare_sets(b, users);
        }
    }
}

fn arg(d: &Directive, i: usize) -> &str {
    d.args.get(i).map_or("", |w| w.text.as_str())
}

impl Lower<'_> {
    /// `llm_gateway FILE;` (tollgate's own directive): the location's requests go to the LLM
    /// pipeline of that YAML configuration. A relative path is taken from the directory of
    /// the file the directive is in; each file is loaded once however many locations name it.
    fn llm_gateway(&mut self, d: &Directive) -> usize {
        let name = std::path::Path::new(arg(d, 0));
        let path = match self.config.files.get(d.file) {
            Some(f) if name.is_relative() => std::path::Path::new(&f.path)
                .parent()
                .map_or_else(|| name.to_owned(), |dir| dir.join(name)),
            _ => name.to_owned(),
        };
        match self.llm_gateways.iter().position(|p| *p == path) {
            Some(i) => i,
            None => {
                self.llm_gateways.push(path);
                self.llm_gateways.len() - 1
            }
        }
    }

    fn err(&self, d: &Directive, message: String) -> LowerError {
        LowerError {
            message,
            file: self
                .config
                .files
                .get(d.file)
                .map_or(String::new(), |f| f.path.clone()),
            line: d.line,
        }
    }

    fn not_implemented(&self, d: &Directive) -> LowerError {
        self.err(
            d,
            format!("\"{}\" directive is not implemented yet", d.name),
        )
    }

    /// A directive that is a setting, a no-op, or (with `script`) a rewrite op.
    fn plain(
        &self,
        d: &Directive,
        s: &mut Settings,
        script: Option<&mut Vec<Op>>,
    ) -> Result<(), LowerError> {
        match d.name.as_str() {
            "access_log" => return self.access_log(d, s),
            "error_log" => return Err(self.error_log_below_http(d)),
            "ssl_certificate" | "ssl_certificate_key" => return self.ssl_file(d, s),
            "ssl_protocols" | "ssl_prefer_server_ciphers" => return self.listener_tls_setting(d),
            _ => {}
        }
        if s.proxy_ssl
            .directive(d, &self.conf_dir())
            .map_err(|m| self.err(d, m))?
        {
            return Ok(());
        }
        if self.access_setting(d, s)? {
            return Ok(());
        }
        if directives::setting(d, s, &self.users).map_err(|m| self.err(d, m))? {
            return Ok(());
        }
        if super::static_files::setting(d, &mut s.statics, &self.users)
            .map_err(|m| self.err(d, m))?
        {
            return Ok(());
        }
        if let Some(script) = script {
            if let Some(op) = directives::op(d, &self.users).map_err(|m| self.err(d, m))? {
                script.push(op);
                return Ok(());
            }
        }
        match support(d) {
            Support::NoOp => Ok(()),
            _ => Err(self.not_implemented(d)),
        }
    }

    fn upstream(&mut self, d: &Directive) -> Result<(), LowerError> {
        let mut servers = Vec::new();
        let (mut method, mut key) = (Method::RoundRobin, None);
        for inner in d.block.iter().flatten() {
            match inner.name.as_str() {
                "server" => servers.push(self.upstream_server(inner)?),
                // Connection reuse only; pingora pools upstream connections itself.
                "keepalive" | "keepalive_timeout" | "keepalive_requests" | "zone" => {}
                "least_conn" => method = Method::LeastConn,
                "ip_hash" => method = Method::IpHash,
                "hash" => {
                    let consistent = arg(inner, 1) == "consistent";
                    method = Method::Hash { consistent };
                    let t = Template::parse(arg(inner, 0), &self.users);
                    key = Some(t.map_err(|m| self.err(inner, m))?);
                }
                _ => match support(inner) {
                    Support::NoOp => {}
                    _ => return Err(self.not_implemented(inner)),
                },
            }
        }
        let name = arg(d, 0).to_owned();
        self.by_name.insert(name.clone(), self.upstreams.len());
        self.upstreams.push(Group {
            name,
            servers,
            method,
            key,
            file: self.err(d, String::new()).file,
            line: d.line,
        });
        Ok(())
    }

    fn upstream_server(&self, d: &Directive) -> Result<ServerSpec, LowerError> {
        let (host, port) = host_port(arg(d, 0)).map_err(|m| self.err(d, m))?;
        let mut s = ServerSpec::new(host, port);
        for w in d.args.iter().skip(1) {
            let t = w.text.as_str();
            let num = |v: &str| {
                v.parse::<u32>()
                    .map_err(|_| self.err(d, format!("invalid parameter \"{t}\"")))
            };
            if let Some(v) = t.strip_prefix("weight=") {
                s.weight = num(v)?;
            } else if let Some(v) = t.strip_prefix("max_fails=") {
                s.max_fails = num(v)?;
            } else if let Some(v) = t.strip_prefix("fail_timeout=") {
                let secs = units::parse_time(v, true)
                    .ok_or_else(|| self.err(d, format!("invalid parameter \"{t}\"")))?;
                s.fail_timeout = Duration::from_secs(u64::try_from(secs).unwrap_or(0));
            } else if t == "backup" {
                s.backup = true;
            } else if t == "down" {
                s.down = true;
            } else {
                return Err(self.err(
                    d,
                    format!("upstream server parameter \"{t}\" is not implemented yet"),
                ));
            }
        }
        Ok(s)
    }

    /// The group a `proxy_pass` host names: an `upstream` block, or an implicit one-server
    /// group shared by every `proxy_pass` to the same host:port.
    fn group_for(&mut self, d: &Directive, host: &str, port: Option<u16>, default: u16) -> usize {
        if port.is_none() {
            if let Some(i) = self.by_name.get(host) {
                return *i;
            }
        }
        let port = port.unwrap_or(default);
        let key = format!("{host}:{port}");
        if let Some(i) = self.by_name.get(&key) {
            return *i;
        }
        self.by_name.insert(key.clone(), self.upstreams.len());
        self.upstreams.push(Group {
            name: key,
            servers: vec![ServerSpec::new(host, port)],
            method: Method::RoundRobin,
            key: None,
            file: self.err(d, String::new()).file,
            line: d.line,
        });
        self.upstreams.len() - 1
    }

    fn proxy_pass(&mut self, d: &Directive) -> Result<ProxyPass, LowerError> {
        let url = arg(d, 0);
        let (rest, https) = match url.strip_prefix("http://") {
            Some(rest) => (rest, false),
            None => match url.strip_prefix("https://") {
                Some(rest) => (rest, true),
                None => {
                    return Err(self.err(
                        d,
                        format!("\"proxy_pass {url}\" is not implemented yet (only http:// and https:// URLs)"),
                    ))
                }
            },
        };
        let default_port = if https { 443 } else { 80 };
        let split = rest.find(['/', '$']).unwrap_or(rest.len());
        let (authority, uri) = rest.split_at(split);
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => {
                let p = p
                    .parse::<u16>()
                    .map_err(|_| self.err(d, "invalid port in upstream".into()))?;
                (h, Some(p))
            }
            _ => (authority, None),
        };
        let template = Template::parse(uri, &self.users).map_err(|m| self.err(d, m))?;
        let has_vars = template.has_vars();
        if has_vars && !self.by_name.contains_key(host) && host.parse::<IpAddr>().is_err() {
            return Err(self.err(d, "\"proxy_pass\" with variables to a host name needs run-time resolution (resolver), not implemented yet".into()));
        }
        let upstream = self.group_for(d, host, port, default_port);
        let proxy_host = match port {
            Some(p) if p != default_port => format!("{host}:{p}"),
            _ => host.to_owned(),
        };
        Ok(ProxyPass {
            upstream,
            uri: (!has_vars && !uri.is_empty()).then(|| uri.to_owned()),
            uri_vars: has_vars.then_some(template),
            proxy_host,
            proxy_port: port.unwrap_or(default_port),
            url: url.to_owned(),
            // Set once the location's `proxy_ssl_*` are merged (`upstream_tls`).
            tls: None,
        })
    }
}

/// `host[:port]` of an upstream `server` (port 80 by default).
fn host_port(text: &str) -> Result<(&str, u16), String> {
    if text.starts_with("unix:") {
        return Err("unix-socket upstream servers are not implemented yet".into());
    }
    match text.rsplit_once(':') {
        Some((h, p)) if !text.ends_with(']') => p
            .parse()
            .map(|p| (h, p))
            .map_err(|_| format!("invalid port in \"{text}\"")),
        _ => Ok((text, 80)),
    }
}

#[path = "lower_server.rs"]
mod server;

#[path = "lower_logs.rs"]
mod logs;

#[path = "lower_access.rs"]
mod access;

#[path = "lower_pages.rs"]
mod pages;
#[path = "lower_tls.rs"]
mod tls;
