//! The lowered nginx `http` block and request routing through it: listen address → virtual
//! server → server-level rewrites → location search (repeated after `last` or a changed URI,
//! at most 10 times, then 500) → location-level rewrites → proxy or reply.
//!
//! Owns: the request-side phase order (SERVER_REWRITE, FIND_CONFIG, REWRITE,
//! POST_REWRITE, then the `client_max_body_size` check). It must not do I/O.

use std::net::SocketAddr;
use std::sync::Arc;

use http::HeaderMap;

use super::conf::LocConf;
use super::error_page::Target;
use super::location::{Found, Level};
use super::names::{clean_host, NameIndex};
use super::script::{self, Flow, Op, Reply, State};
use super::upstream::Group;
use super::vars::Request;

/// The servers listening on one address.
#[derive(Debug, Clone)]
pub struct Listen {
    pub addr: SocketAddr,
    pub servers: Vec<usize>,
    pub default: usize,
    pub names: NameIndex,
    /// `listen ... ssl`: the certificates of the address.
    pub tls: Option<super::listen_tls::ListenTls>,
    /// `listen ... http2`.
    pub http2: bool,
}

/// A `server` block.
#[derive(Debug, Clone)]
pub struct Server {
    /// The first `server_name` (`$server_name`).
    pub name: String,
    pub script: Vec<Op>,
    pub locations: Level,
    /// What applies when no location matches (server-level settings, no proxy).
    pub conf: Arc<LocConf>,
}

/// A lowered configuration.
#[derive(Debug, Clone)]
pub struct Site {
    pub listens: Vec<Listen>,
    pub servers: Vec<Server>,
    pub upstreams: Vec<Group>,
    /// How many `set` variables a request carries.
    pub user_vars: usize,
    /// The `map` blocks.
    pub maps: Arc<[super::map::Map]>,
    /// The YAML configurations named by `llm_gateway` (absolute paths), in order of first use;
    /// `LocConf::llm_gateway` indexes this list.
    pub llm_gateways: Vec<std::path::PathBuf>,
    /// Access and error log files (opened by `proxy::logs`).
    pub logs: super::log_format::LogTargets,
    /// `limit_req_zone`s and `limit_conn_zone`s (their state lives in `Runtime`).
    pub req_zones: Vec<super::limit_req::ZoneSpec>,
    pub conn_zones: Vec<super::limit_conn::ZoneSpec>,
    /// TLS settings of `proxy_pass https://` (`ProxyPass::tls` indexes this list).
    pub upstream_tls: Vec<super::proxy_ssl::UpstreamTls>,
}

/// What to do with a request.
#[derive(Debug)]
pub struct Decision {
    pub server: usize,
    pub conf: Arc<LocConf>,
    pub action: Action,
    /// The request reached the content phase (proxy, or the static 404), so the
    /// preaccess and access phases (limits, allow/deny, auth) apply first.
    pub access: bool,
}

#[derive(Debug)]
pub enum Action {
    Proxy(State),
    Reply(Reply),
    /// The location has no handler: the content phase serves files (`static_files`).
    Static,
}

/// nginx's limit on URI changes per request (`NGX_HTTP_MAX_URI_CHANGES`).
const MAX_URI_CHANGES: usize = 10;

fn reply(status: u16) -> Action {
    Action::Reply(Reply {
        status,
        location: None,
        body: None,
    })
}

impl Site {
    /// The addresses to listen on: a wildcard address takes every request to its port, so a
    /// specific address on the same port is served through the wildcard socket.
    pub fn bind_addrs(&self) -> Vec<SocketAddr> {
        let mut out: Vec<SocketAddr> = Vec::new();
        for l in &self.listens {
            let covered = self
                .listens
                .iter()
                .any(|w| w.addr.ip().is_unspecified() && w.addr.port() == l.addr.port());
            if (!covered || l.addr.ip().is_unspecified()) && !out.contains(&l.addr) {
                out.push(l.addr);
            }
        }
        out
    }

    /// The listen entry of a bound address.
    pub fn listen_at(&self, addr: SocketAddr) -> Option<&Listen> {
        self.listens.iter().find(|l| l.addr == addr)
    }

    /// The listen entry for a connection's local address: the specific one, else the wildcard.
    pub fn listen_for(&self, local: Option<SocketAddr>) -> Option<&Listen> {
        let local = local?;
        self.listens
            .iter()
            .find(|l| l.addr == local)
            .or_else(|| {
                self.listens
                    .iter()
                    .find(|l| l.addr.ip().is_unspecified() && l.addr.port() == local.port())
            })
            .or_else(|| self.listens.first())
    }

    /// Routes a request; `req.uri`, `args`, `method`, `request_uri`, `remote` and `local`
    /// must be filled, and `host_header` is the raw Host value if any.
    pub fn route(
        &self,
        req: &mut Request,
        headers: &HeaderMap,
        host_header: Option<&str>,
    ) -> Decision {
        req.user = vec![None; self.user_vars];
        req.maps = Some(Arc::clone(&self.maps));
        let Some(listen) = self.listen_for(req.local) else {
            let conf = Arc::clone(&self.servers[0].conf);
            return Decision {
                server: 0,
                conf,
                action: reply(500),
                access: false,
            };
        };
        req.https = listen.tls.is_some();
        let host = match host_header.map(clean_host) {
            Some(None) => {
                let conf = Arc::clone(&self.servers[listen.default].conf);
                return Decision {
                    server: listen.default,
                    conf,
                    action: reply(400),
                    access: false,
                };
            }
            Some(Some(h)) => h,
            None => String::new(),
        };
        let server_ix = match listen.names.find(&host) {
            Some((s, re)) => {
                if let Some(re) = re {
                    req.captures.record(re, &host);
                }
                s
            }
            None => listen.default,
        };
        let server = &self.servers[server_ix];
        req.server_name.clone_from(&server.name);
        req.host = if host.is_empty() {
            server.name.clone()
        } else {
            host
        };
        let found = self.rewrite_and_find(server, req, headers, State::default(), true);
        decide(server_ix, found, headers, true)
    }

    /// `error_page`'s redirect for a request that got an intercepted status in a location of
    /// server `server_ix` (`current`: that location). The method becomes GET (HEAD stays).
    pub fn error_redirect(
        &self,
        server_ix: usize,
        req: &mut Request,
        headers: &HeaderMap,
        target: Target,
        current: &Arc<LocConf>,
    ) -> Decision {
        if req.method != "HEAD" {
            req.method = "GET".into();
        }
        // The error's response discards the body first (`r->discard_body`), so the page's
        // location does not check `client_max_body_size` again.
        self.redirect(server_ix, req, headers, target, current, false)
    }

    /// An internal redirect (`index`, `try_files`, `error_page`): to a URI (server rewrites
    /// and the location search again), a named location, or an external redirect.
    pub fn internal_redirect(
        &self,
        server_ix: usize,
        req: &mut Request,
        headers: &HeaderMap,
        target: Target,
        current: &Arc<LocConf>,
    ) -> Decision {
        self.redirect(server_ix, req, headers, target, current, true)
    }

    fn redirect(
        &self,
        server_ix: usize,
        req: &mut Request,
        headers: &HeaderMap,
        target: Target,
        current: &Arc<LocConf>,
        check_body: bool,
    ) -> Decision {
        let server = &self.servers[server_ix];
        let found = match target {
            Target::External(status, location) => {
                let r = Reply {
                    status,
                    location: Some(location),
                    body: None,
                };
                (Arc::clone(current), Action::Reply(r), false)
            }
            Target::Uri(u) => {
                let (path, args) = super::uri::split_target(&u);
                req.uri = path.to_owned();
                req.args = args.unwrap_or("").to_owned();
                // nginx's internal redirect drops the client's unparsed URI
                // (`r->valid_unparsed_uri = 0`): proxy_pass without a URI part sends the new
                // one, not the client's.
                let state = State {
                    uri_rewritten: true,
                    ..State::default()
                };
                self.rewrite_and_find(server, req, headers, state, check_body)
            }
            Target::Named(name) => match server.locations.named.iter().find(|l| l.name() == name) {
                Some(l) => {
                    let first = Some(Arc::clone(&l.conf));
                    self.search(server, req, headers, State::default(), first, check_body)
                }
                // nginx: "could not find named location".
                None => (Arc::clone(current), reply(500), false),
            },
        };
        decide(server_ix, found, headers, check_body)
    }

    fn rewrite_and_find(
        &self,
        server: &Server,
        req: &mut Request,
        headers: &HeaderMap,
        mut state: State,
        check_body: bool,
    ) -> Found3 {
        if let Flow::Reply(r) = script::run(&server.script, req, headers, &mut state) {
            return (Arc::clone(&server.conf), Action::Reply(r), false);
        }
        state.uri_changed = false;
        self.search(server, req, headers, state, None, check_body)
    }

    /// The location search and location rewrites, repeated after URI changes; `first`
    /// starts in that location instead of searching (a named location). Each location found
    /// by a search checks the declared body size before its rewrites run (nginx's
    /// find-config phase: a `return` location refuses an oversized body too; a named
    /// location, entered past that phase, does not).
    fn search(
        &self,
        server: &Server,
        req: &mut Request,
        headers: &HeaderMap,
        mut state: State,
        mut first: Option<Arc<LocConf>>,
        check_body: bool,
    ) -> Found3 {
        let mut changes = 0;
        loop {
            let conf = match first.take() {
                Some(conf) => conf,
                None => match server.locations.find(&req.uri, &mut req.captures) {
                    Found::Location(l) => {
                        let conf = Arc::clone(&l.conf);
                        if let Some(too_large) =
                            check_body.then(|| body_limit(&conf, headers)).flatten()
                        {
                            return (conf, too_large, false);
                        }
                        conf
                    }
                    Found::None => Arc::clone(&server.conf),
                    Found::Redirect(l) => {
                        if let Some(too_large) =
                            check_body.then(|| body_limit(&l.conf, headers)).flatten()
                        {
                            return (Arc::clone(&l.conf), too_large, false);
                        }
                        let mut location = l.name().to_owned();
                        if !req.args.is_empty() {
                            location.push('?');
                            location.push_str(&req.args);
                        }
                        let r = Reply {
                            status: 301,
                            location: Some(location),
                            body: None,
                        };
                        return (Arc::clone(&l.conf), Action::Reply(r), false);
                    }
                },
            };
            let flow = script::run(&conf.script, req, headers, &mut state);
            match flow {
                Flow::Reply(r) => return (conf, Action::Reply(r), false),
                Flow::Last => {}
                Flow::Done if state.uri_changed => {}
                Flow::Done => {
                    if conf.proxy.is_none() && conf.llm_gateway.is_none() {
                        return (conf, Action::Static, true);
                    }
                    return (conf, Action::Proxy(state), true);
                }
            }
            state.uri_changed = false;
            changes += 1;
            if changes > MAX_URI_CHANGES {
                return (conf, reply(500), false);
            }
        }
    }
}

/// A search's outcome: the location's configuration, the action, and whether the content
/// phase was reached.
type Found3 = (Arc<LocConf>, Action, bool);

/// The decision after a search: the declared body size is checked for proxied requests
/// (the search checked the locations it found; this covers a server without a matching
/// location and named locations), unless the body was already discarded.
fn decide(
    server: usize,
    (conf, action, content): Found3,
    headers: &HeaderMap,
    check_body: bool,
) -> Decision {
    let limit = |conf: &LocConf| check_body.then(|| body_limit(conf, headers)).flatten();
    let (action, access) = match action {
        Action::Proxy(state) => match limit(&conf) {
            Some(too_large) => (too_large, false),
            None => (Action::Proxy(state), true),
        },
        Action::Static => match limit(&conf) {
            Some(too_large) => (too_large, false),
            None => (Action::Static, true),
        },
        reply => (reply, content),
    };
    Decision {
        server,
        conf,
        action,
        access,
    }
}

/// `client_max_body_size` against the declared length (413).
fn body_limit(conf: &LocConf, headers: &HeaderMap) -> Option<Action> {
    if conf.max_body == 0 {
        return None;
    }
    let len: u64 = headers
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    (len > conf.max_body).then(|| reply(413))
}

#[cfg(test)]
#[path = "site_tests.rs"]
mod tests;
