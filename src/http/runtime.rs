//! A lowered site with its upstream groups resolved into balancers: what the proxy serves.
//!
//! Owns: turning each group's host names into peers through a resolver the caller supplies
//! (nginx resolves at load time and fails with `host not found in upstream`). It must not do
//! I/O itself.

use std::net::SocketAddr;

use super::site::Site;
use super::upstream::{Balancer, ServerSpec};

/// A host that did not resolve, in nginx's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("host not found in upstream \"{host}\" in {file}:{line}")]
pub struct ResolveError {
    pub host: String,
    pub file: String,
    pub line: usize,
}

/// What the generic path serves.
#[derive(Debug)]
pub struct Runtime {
    pub site: Site,
    /// One per `site.upstreams`, same index.
    pub balancers: Vec<Balancer>,
    /// Where access lines go; `None` until the server attaches its log files.
    pub log_sink: Option<std::sync::Arc<dyn super::log_format::LogSink>>,
    /// Zone state, same index as `site.req_zones` / `site.conn_zones` (a reload starts
    /// them afresh, where nginx keeps a zone of unchanged size).
    pub req_zones: Vec<super::limit_req::Zone>,
    pub conn_zones: Vec<super::limit_conn::Zone>,
}

impl Runtime {
    /// Resolves every server of every group with `resolve(host, port)`.
    pub fn new(
        site: Site,
        resolve: impl Fn(&str, u16) -> Option<Vec<SocketAddr>>,
    ) -> Result<Runtime, ResolveError> {
        let mut balancers = Vec::with_capacity(site.upstreams.len());
        for g in &site.upstreams {
            let mut servers: Vec<(ServerSpec, Vec<SocketAddr>)> = Vec::new();
            for s in &g.servers {
                let addrs = resolve(&s.host, s.port)
                    .filter(|a| !a.is_empty())
                    .ok_or_else(|| ResolveError {
                        host: format!("{}:{}", s.host, s.port),
                        file: g.file.clone(),
                        line: g.line,
                    })?;
                servers.push((s.clone(), addrs));
            }
            balancers.push(Balancer::new(&servers, g.method));
        }
        let req_zones = site
            .req_zones
            .iter()
            .cloned()
            .map(super::limit_req::Zone::new);
        let conn_zones = site
            .conn_zones
            .iter()
            .cloned()
            .map(super::limit_conn::Zone::new);
        Ok(Runtime {
            req_zones: req_zones.collect(),
            conn_zones: conn_zones.collect(),
            site,
            balancers,
            log_sink: None,
        })
    }
}
