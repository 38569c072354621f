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
    /// Zone state, same index as `site.req_zones` / `site.conn_zones`. An in-process reload
    /// keeps the state of zones whose name, size and key are unchanged
    /// ([`Runtime::keep_zones_of`]); a reload by hand-over starts them afresh.
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

    /// Takes over the state of `old`'s zones that keep their name, size and key, as nginx
    /// keeps a shared zone across a reload (a new rate applies to the kept state). nginx
    /// refuses a reload that changes a zone's key; here that zone starts afresh.
    pub fn keep_zones_of(&mut self, old: &Runtime) {
        for zone in &mut self.req_zones {
            let same = old.req_zones.iter().find(|o| {
                o.spec.name == zone.spec.name
                    && o.spec.capacity == zone.spec.capacity
                    && o.spec.key == zone.spec.key
            });
            if let Some(o) = same {
                *zone = super::limit_req::Zone::keeping_state_of(zone.spec.clone(), o);
            }
        }
        for zone in &mut self.conn_zones {
            let same = old.conn_zones.iter().find(|o| {
                o.spec.name == zone.spec.name
                    && o.spec.capacity == zone.spec.capacity
                    && o.spec.key == zone.spec.key
            });
            if let Some(o) = same {
                *zone = super::limit_conn::Zone::keeping_state_of(zone.spec.clone(), o);
            }
        }
    }
}
