//! nginx's `listen` bookkeeping: the address of each `listen`, which servers listen where, the
//! default server of each address, and the checks nginx makes on them (`ngx_http_core_listen`,
//! `ngx_http_add_addresses`, `ngx_http_add_server`, `ngx_http_ssl_init`).
//!
//! Owns: parsing a listen address the way `ngx_parse_url` does for literal addresses and
//! ports, the listen parameters nginx 1.22 knows, `a duplicate listen`, `a duplicate default
//! server`, `duplicate listen options` and `no "ssl_certificate" is defined`. It must not
//! resolve host names (a `listen` on a name is parsed but not tracked).

use std::net::{Ipv4Addr, Ipv6Addr};

use super::diag::{Diag, Location};
use super::tls::Tls;

/// A `server` block, as far as listening is concerned.
#[derive(Debug, Clone, Default)]
pub struct Server {
    pub path: String,
    /// Line of the `server {` brace (nginx's `cscf->line`).
    pub line: usize,
    /// Its `ssl_certificate*` (merged with the `http` level once `http` ends).
    pub tls: Tls,
}

/// One listening address (`ngx_http_conf_addr_t`).
#[derive(Debug, Clone)]
struct Addr {
    text: String,
    /// Listen options (`backlog=`, `reuseport`, ...) were given once already.
    set: bool,
    ssl: bool,
    default_server: Option<usize>,
    servers: Vec<usize>,
}

/// All servers and addresses of the `http` block.
#[derive(Debug, Default)]
pub struct Listens {
    pub servers: Vec<Server>,
    addrs: Vec<Addr>,
}

/// Parameters that set socket options (`lsopt.set`); at most one `listen` per address may
/// carry them.
const SOCKET_OPTIONS: &[&str] = &[
    "bind",
    "backlog=",
    "rcvbuf=",
    "sndbuf=",
    "deferred",
    "ipv6only=",
    "reuseport",
    "so_keepalive=",
    "fastopen=",
    "setfib=",
    "accept_filter=",
];

/// Every parameter nginx 1.22 accepts after the address.
const PARAMETERS: &[&str] = &[
    "default_server",
    "default",
    "ssl",
    "http2",
    "proxy_protocol",
];

impl Listens {
    /// `listen ADDRESS [PARAMETERS]` in server `server`, reported at `line`.
    pub fn listen(&mut self, server: usize, args: &[&str], line: usize) -> Result<(), Diag> {
        let raw = args.first().copied().unwrap_or("");
        let text = address(raw).map_err(|err| {
            Diag::at(
                format!("{err} in \"{raw}\" of the \"listen\" directive"),
                line,
            )
        })?;
        let (mut set, mut default, mut ssl) = (false, false, false);
        for p in args.iter().skip(1) {
            let is = |name: &&str| {
                if name.ends_with('=') {
                    p.starts_with(name)
                } else {
                    p == name
                }
            };
            if SOCKET_OPTIONS.iter().any(is) {
                set = true;
            } else if PARAMETERS.iter().any(is) {
                default |= *p == "default_server" || *p == "default";
                ssl |= *p == "ssl";
            } else {
                return Err(Diag::at(format!("invalid parameter \"{p}\""), line));
            }
        }
        let Some(text) = text else {
            return Ok(());
        };
        self.add(server, text, set, default, ssl, line)
    }

    fn add(
        &mut self,
        server: usize,
        text: String,
        set: bool,
        default: bool,
        ssl: bool,
        line: usize,
    ) -> Result<(), Diag> {
        let Some(addr) = self.addrs.iter_mut().find(|a| a.text == text) else {
            self.addrs.push(Addr {
                text,
                set,
                ssl,
                default_server: default.then_some(server),
                servers: vec![server],
            });
            return Ok(());
        };
        if addr.servers.contains(&server) {
            return Err(Diag::at(format!("a duplicate listen {}", addr.text), line));
        }
        addr.servers.push(server);
        addr.ssl |= ssl;
        if set {
            if addr.set {
                let msg = format!("duplicate listen options for {}", addr.text);
                return Err(Diag::at(msg, line));
            }
            addr.set = true;
        }
        if default {
            if addr.default_server.is_some() {
                let msg = format!("a duplicate default server for {}", addr.text);
                return Err(Diag::at(msg, line));
            }
            addr.default_server = Some(server);
        }
        Ok(())
    }

    /// `ngx_http_ssl_init`: the default server of every `ssl` address needs a certificate.
    pub fn check_certificates(&self) -> Result<(), Diag> {
        for addr in self.addrs.iter().filter(|a| a.ssl) {
            let id = addr.default_server.or(addr.servers.first().copied());
            let Some(server) = id.and_then(|i| self.servers.get(i)) else {
                continue;
            };
            if server.tls.certificates.is_empty() {
                return Err(Diag {
                    location: Location::File {
                        path: server.path.clone(),
                        line: server.line,
                    },
                    ..Diag::nowhere(
                        "no \"ssl_certificate\" is defined for the \"listen ... ssl\" directive",
                    )
                });
            }
        }
        Ok(())
    }
}

/// The address text nginx prints (`0.0.0.0:80`, `127.0.0.1:8080`, `[::1]:80`,
/// `unix:/path`), `None` for a host name (nginx resolves it; tollgate does not track it), or
/// `ngx_parse_url`'s error.
fn address(raw: &str) -> Result<Option<String>, &'static str> {
    if raw.starts_with("unix:") {
        return Ok(Some(raw.to_owned()));
    }
    if let Some(rest) = raw.strip_prefix('[') {
        let end = rest.find(']').ok_or("invalid host")?;
        let ip: Ipv6Addr = rest[..end].parse().map_err(|_| "invalid IPv6 address")?;
        let port = match &rest[end + 1..] {
            "" => 80,
            tail => port(tail.strip_prefix(':').ok_or("invalid host")?)?,
        };
        return Ok(Some(format!("[{ip}]:{port}")));
    }
    let (host, port_text) = match raw.find(':') {
        Some(i) => (&raw[..i], Some(&raw[i + 1..])),
        None if raw.bytes().all(|b| b.is_ascii_digit()) => ("*", Some(raw)),
        None => (raw, None),
    };
    let port = match port_text {
        Some(p) => port(p)?,
        None => 80,
    };
    if host == "*" {
        return Ok(Some(format!("0.0.0.0:{port}")));
    }
    Ok(host
        .parse::<Ipv4Addr>()
        .ok()
        .map(|ip| format!("{ip}:{port}")))
}

fn port(text: &str) -> Result<u16, &'static str> {
    match super::units::atoi(text) {
        Some(n @ 1..=65535) => Ok(n as u16),
        _ => Err("invalid port"),
    }
}
