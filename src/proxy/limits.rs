//! The preaccess and access phases of the generic path, in nginx's order: `limit_req`
//! (reject, or wait without blocking the worker), `limit_conn` (counted until the request is
//! logged), then `allow`/`deny` (403).
//!
//! Owns: evaluating zone keys, logging nginx's messages at the configured levels, and the
//! connection counts a request holds. It must not contain the algorithms (`http::limit_req`,
//! `http::limit_conn`, `http::access`).

use std::sync::OnceLock;
use std::time::Instant;

use http::HeaderMap;

use crate::http::access::allowed;
use crate::http::conf::LocConf;
use crate::http::limit_req::{self, Verdict};
use crate::http::vars::{Request, Vars};
use crate::http::Runtime;

/// `limit_conn` counts a request holds: (zone, key).
pub type Held = Vec<(usize, String)>;

/// Milliseconds of a process-wide monotonic clock (nginx's `ngx_current_msec`).
fn now_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    let start = START.get_or_init(Instant::now);
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// One level lower, for `delaying request` (nginx logs delays below the reject level).
fn lower_level(l: log::Level) -> log::Level {
    match l {
        log::Level::Error => log::Level::Warn,
        log::Level::Warn => log::Level::Info,
        _ => log::Level::Debug,
    }
}

/// A zone key; `None` when empty (not accounted) or too long, like nginx.
fn key(t: &crate::http::vars::Template, vars: &Vars<'_>, max: usize) -> Option<String> {
    let k = t.eval(vars);
    (!k.is_empty() && k.len() <= max).then_some(k)
}

/// Runs the phases; `Some(status)` ends the request. Counts taken go to `held` (the
/// caller releases them with [`release`] when the request is done).
pub async fn check(
    rt: &Runtime,
    conf: &LocConf,
    req: &Request,
    headers: &HeaderMap,
    held: &mut Held,
) -> Option<u16> {
    let a = &conf.access;
    let vars = Vars { req, headers };
    if !a.limit_req.is_empty() {
        let keys: Vec<Option<String>> = a
            .limit_req
            .iter()
            .map(|l| key(&rt.site.req_zones[l.zone].key, &vars, 65_535))
            .collect();
        match limit_req::check(&rt.req_zones, &a.limit_req, &keys, now_ms()) {
            Verdict::Reject { limit, excess } => {
                let zone = &rt.site.req_zones[a.limit_req[limit].zone].name;
                let dry = if a.limit_req_dry_run { ", dry run" } else { "" };
                log::log!(
                    a.limit_req_log_level,
                    "limiting requests{dry}, excess: {}.{:03} by zone \"{zone}\", client: {}",
                    excess / 1000,
                    excess % 1000,
                    client(req)
                );
                if !a.limit_req_dry_run {
                    return Some(a.limit_req_status);
                }
            }
            Verdict::Pass(delay) if !delay.is_zero() && !a.limit_req_dry_run => {
                log::log!(
                    lower_level(a.limit_req_log_level),
                    "delaying request by {} ms, client: {}",
                    delay.as_millis(),
                    client(req)
                );
                tokio::time::sleep(delay).await;
            }
            Verdict::Pass(_) => {}
        }
    }
    for l in a.limit_conn.iter() {
        let zone = &rt.conn_zones[l.zone];
        let Some(k) = key(&zone.spec.key, &vars, 255) else {
            continue;
        };
        if zone.acquire(&k, l.max) {
            held.push((l.zone, k));
            continue;
        }
        let dry = if a.limit_conn_dry_run {
            ", dry run"
        } else {
            ""
        };
        log::log!(
            a.limit_conn_log_level,
            "limiting connections{dry} by zone \"{}\", client: {}",
            zone.spec.name,
            client(req)
        );
        if !a.limit_conn_dry_run {
            release(rt, held);
            return Some(a.limit_conn_status);
        }
    }
    if !allowed(&a.rules, req.remote.map(|r| r.ip())) {
        log::error!("access forbidden by rule, client: {}", client(req));
        return Some(403);
    }
    None
}

fn client(req: &Request) -> String {
    req.remote.map_or_else(String::new, |a| a.ip().to_string())
}

/// Gives back the `limit_conn` counts of a finished request.
pub fn release(rt: &Runtime, held: &mut Held) {
    for (zone, key) in held.drain(..) {
        rt.conn_zones[zone].release(&key);
    }
}
