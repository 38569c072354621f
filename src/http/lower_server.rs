//! Lowering of `server` and `location` blocks (part of `lower`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use super::super::conf::{LocConf, Settings};
use super::super::listen_tls::{CertPair, ListenParams};
use super::super::location::{Level, Location, Matcher};
use super::super::names::Name;
use super::super::site::Server;
use super::{arg, Lower, LowerError};
use crate::nginx::Directive;

/// `listen` parameters that only tune the socket.
const SOCKET_ONLY: &[&str] = &[
    "bind",
    "reuseport",
    "deferred",
    "backlog=",
    "rcvbuf=",
    "sndbuf=",
    "ipv6only=",
    "so_keepalive=",
    "fastopen=",
];

/// A server, its `listen`s, names, and certificate (`ssl_certificate`, merged).
type Lowered = (Server, Vec<ListenParams>, Vec<Name>, Option<CertPair>);

impl Lower<'_> {
    pub(super) fn server(&mut self, d: &Directive, http: &Settings) -> Result<Lowered, LowerError> {
        let mut s = Settings::default();
        let mut script = Vec::new();
        let mut addrs = Vec::new();
        let mut names = Vec::new();
        let mut first_name = None;
        let body = d.block.as_deref().unwrap_or(&[]);
        for inner in body {
            match inner.name.as_str() {
                "location" => {}
                "listen" => addrs.push(self.listen(inner)?),
                "server_name" => {
                    for w in &inner.args {
                        first_name.get_or_insert_with(|| w.text.clone());
                        names.push(Name::parse(&w.text).map_err(|m| self.err(inner, m))?);
                    }
                }
                _ => self.plain(inner, &mut s, Some(&mut script))?,
            }
        }
        if names.is_empty() {
            names.push(Name::Exact(String::new()));
        }
        if addrs.is_empty() {
            // nginx's default when no listen is given (running as root).
            addrs.push(ListenParams {
                addr: SocketAddr::from((Ipv4Addr::UNSPECIFIED, 80)),
                default: false,
                ssl: false,
                http2: false,
            });
        }
        s.inherit(http);
        let cert = match (&s.ssl_cert, &s.ssl_key) {
            (Some(c), Some(k)) => Some((c.clone(), k.clone())),
            _ => None,
        };
        let mut locations = Level::default();
        for inner in body.iter().filter(|i| i.name == "location") {
            let loc = self.location(inner, &s)?;
            push(&mut locations, loc);
        }
        self.check_error_pages(&locations)?;
        let conf = LocConf::finish(&s, "", None, Vec::new()).map_err(|m| self.err(d, m))?;
        let server = Server {
            name: first_name.unwrap_or_default(),
            script,
            locations,
            conf: Arc::new(conf),
        };
        Ok((server, addrs, names, cert))
    }

    /// `ssl_certificate` / `ssl_certificate_key`: one file each, relative names from the
    /// configuration's directory.
    pub(super) fn ssl_file(&self, d: &Directive, s: &mut Settings) -> Result<(), LowerError> {
        let name = arg(d, 0);
        if name.contains('$') || name.starts_with("data:") {
            return Err(self.err(
                d,
                format!(
                    "\"{}\" with variables or data: is not implemented yet",
                    d.name
                ),
            ));
        }
        let slot = if d.name == "ssl_certificate" {
            &mut s.ssl_cert
        } else {
            &mut s.ssl_key
        };
        if slot.is_some() {
            return Err(self.err(
                d,
                format!(
                    "several \"{}\" (RSA and ECDSA pairs) are not implemented yet",
                    d.name
                ),
            ));
        }
        let path = if name.starts_with('/') {
            name.to_owned()
        } else {
            let main = self.config.files.first().map_or("", |f| f.path.as_str());
            let dir = main.rsplit_once('/').map_or("", |(d, _)| d);
            format!("{dir}/{name}")
        };
        *slot = Some(path);
        Ok(())
    }

    fn listen(&self, d: &Directive) -> Result<ListenParams, LowerError> {
        let text = arg(d, 0);
        let addr = listen_addr(text).ok_or_else(|| {
            self.err(d, format!("listen address \"{text}\" is not implemented yet (IP addresses and ports only)"))
        })?;
        let (mut default, mut ssl, mut http2) = (false, false, false);
        for w in d.args.iter().skip(1) {
            let p = w.text.as_str();
            if p == "default_server" || p == "default" {
                default = true;
            } else if p == "ssl" {
                ssl = true;
            } else if p == "http2" {
                http2 = true;
            } else if !SOCKET_ONLY
                .iter()
                .any(|o| p == *o || (o.ends_with('=') && p.starts_with(o)))
            {
                return Err(self.err(
                    d,
                    format!("listen parameter \"{p}\" is not implemented yet"),
                ));
            }
        }
        Ok(ListenParams {
            addr,
            default,
            ssl,
            http2,
        })
    }

    fn location(&mut self, d: &Directive, parent: &Settings) -> Result<Location, LowerError> {
        let matcher = self.matcher(d)?;
        let mut s = Settings::default();
        let mut script = Vec::new();
        let mut proxy = None;
        let mut llm = None;
        let body = d.block.as_deref().unwrap_or(&[]);
        for inner in body {
            match inner.name.as_str() {
                "location" => {}
                "proxy_pass" => proxy = Some(self.proxy_pass(inner)?),
                "llm_gateway" => llm = Some(self.llm_gateway(inner)),
                _ => self.plain(inner, &mut s, Some(&mut script))?,
            }
        }
        let regex = matches!(matcher, Matcher::Regex(_));
        s.statics.bind_alias(matcher_name(&matcher).len(), regex);
        s.inherit(parent);
        if let Some(p) = proxy.as_mut() {
            self.upstream_tls(d, &s, p)?;
        }
        let mut nested = Level::default();
        for inner in body.iter().filter(|i| i.name == "location") {
            let loc = self.location(inner, &s)?;
            push(&mut nested, loc);
        }
        let name = matcher_name(&matcher).to_owned();
        let is_static = matches!(matcher, Matcher::Exact(_) | Matcher::Prefix { .. });
        let auto_redirect = is_static && proxy.is_some() && name.ends_with('/');
        if llm.is_some() && proxy.is_some() {
            return Err(self.err(
                d,
                "\"llm_gateway\" and \"proxy_pass\" cannot share a location".into(),
            ));
        }
        let mut conf = LocConf::finish(&s, &name, proxy, script).map_err(|m| self.err(d, m))?;
        conf.llm_gateway = llm;
        Ok(Location {
            matcher,
            nested,
            conf: Arc::new(conf),
            auto_redirect,
        })
    }

    fn matcher(&self, d: &Directive) -> Result<Matcher, LowerError> {
        let (modifier, path) = match d.args.len() {
            2 => (arg(d, 0), arg(d, 1)),
            _ => {
                let a = arg(d, 0);
                match a {
                    _ if a.starts_with("^~") => ("^~", &a[2..]),
                    _ if a.starts_with("~*") => ("~*", &a[2..]),
                    _ if a.starts_with('~') => ("~", &a[1..]),
                    _ if a.starts_with('=') => ("=", &a[1..]),
                    _ => ("", a),
                }
            }
        };
        let regex = |caseless: bool| {
            regex::RegexBuilder::new(path)
                .case_insensitive(caseless)
                .build()
                .map(Matcher::Regex)
                .map_err(|e| {
                    self.err(
                        d,
                        format!("regex \"{path}\" is not supported by tollgate: {e}"),
                    )
                })
        };
        match modifier {
            "=" => Ok(Matcher::Exact(path.to_owned())),
            "^~" => Ok(Matcher::Prefix {
                path: path.to_owned(),
                noregex: true,
            }),
            "~" => regex(false),
            "~*" => regex(true),
            _ if path.starts_with('@') => Ok(Matcher::Named(path.to_owned())),
            _ => Ok(Matcher::Prefix {
                path: path.to_owned(),
                noregex: false,
            }),
        }
    }
}

/// The location's name (`clcf->name`).
fn matcher_name(m: &Matcher) -> &str {
    match m {
        Matcher::Exact(p) | Matcher::Prefix { path: p, .. } | Matcher::Named(p) => p,
        Matcher::Regex(re) => re.as_str(),
    }
}

/// Files a location at its level (named locations are reachable only by name).
fn push(level: &mut Level, loc: Location) {
    match loc.matcher {
        Matcher::Regex(_) => level.regexes.push(loc),
        Matcher::Named(_) => level.named.push(loc),
        _ => level.statics.push(loc),
    }
}

/// `80`, `8080`, `127.0.0.1`, `127.0.0.1:8080`, `*:8080`, `[::1]:8080`.
fn listen_addr(text: &str) -> Option<SocketAddr> {
    if let Ok(port) = text.parse::<u16>() {
        return Some(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)));
    }
    if let Ok(a) = text.parse::<SocketAddr>() {
        return Some(a);
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, 80));
    }
    let (host, port) = text.rsplit_once(':')?;
    let port = port.parse().ok()?;
    match host {
        "*" => Some(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port))),
        _ => host
            .parse::<IpAddr>()
            .ok()
            .map(|ip| SocketAddr::new(ip, port)),
    }
}
