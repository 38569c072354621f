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

use crate::http::access::decide;
use crate::http::auth_basic::{self, AuthBasic};
use crate::http::conf::LocConf;
use crate::http::limit_req::{self, Verdict};
use crate::http::vars::{Request, Vars};
use crate::http::Runtime;

/// `limit_conn` counts a request holds: (zone, key).
#[derive(Debug, Default)]
pub struct Held {
    /// `limit_conn` counts taken (zone, key), released when the request ends.
    conns: Vec<(usize, String)>,
    /// A `limit_req` looked a key up for this request: nginx applies `limit_req` once per
    /// request, whatever internal redirects follow (`r->main->limit_req_status`).
    req_set: bool,
    /// Likewise for `limit_conn` (`r->main->limit_conn_status`).
    conn_set: bool,
}

impl Held {
    pub fn new() -> Held {
        Held::default()
    }
}

/// Why a request is refused: its status, and for 401 the realm to challenge with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    pub status: u16,
    pub realm: Option<String>,
}

fn deny(status: u16) -> Option<Denial> {
    Some(Denial {
        status,
        realm: None,
    })
}

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

/// Runs the phases; `Some(denial)` ends the request. Counts taken go to `held` (the
/// caller releases them with [`release`] when the request is done).
pub async fn check(
    rt: &Runtime,
    conf: &LocConf,
    req: &Request,
    headers: &HeaderMap,
    held: &mut Held,
) -> Option<Denial> {
    let a = &conf.access;
    let vars = Vars { req, headers };
    if !a.limit_req.is_empty() && !held.req_set {
        let keys: Vec<Option<String>> = a
            .limit_req
            .iter()
            .map(|l| key(&rt.site.req_zones[l.zone].key, &vars, 65_535))
            .collect();
        // Only a limit that looked a key up counts (all keys empty: nginx's NGX_DECLINED).
        held.req_set = keys.iter().any(Option::is_some);
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
                    return deny(a.limit_req_status);
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
    let conn_limits = if held.conn_set {
        &[][..]
    } else {
        &a.limit_conn[..]
    };
    for l in conn_limits {
        let zone = &rt.conn_zones[l.zone];
        let Some(k) = key(&zone.spec.key, &vars, 255) else {
            continue;
        };
        held.conn_set = true;
        if zone.acquire(&k, l.max) {
            held.conns.push((l.zone, k));
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
            return deny(a.limit_conn_status);
        }
    }
    access(a, req, headers, &vars).await
}

/// The access phase alone, for an internal redirect: nginx runs `limit_req` and
/// `limit_conn` once per request (`r->main->limit_*_status`).
pub async fn check_access(conf: &LocConf, req: &Request, headers: &HeaderMap) -> Option<Denial> {
    let vars = Vars { req, headers };
    access(&conf.access, req, headers, &vars).await
}

/// The access phase: `allow`/`deny`, then `auth_basic`, combined per `satisfy`
/// (`ngx_http_core_access_phase`). `Ok(None)` of a check is nginx's `NGX_DECLINED`.
async fn access(
    a: &crate::http::access::Access,
    req: &Request,
    headers: &HeaderMap,
    vars: &Vars<'_>,
) -> Option<Denial> {
    let rules = match decide(&a.rules, req.remote.map(|r| r.ip())) {
        Some(false) => {
            log::error!("access forbidden by rule, client: {}", client(req));
            Some(false)
        }
        other => other,
    };
    if !a.satisfy_any {
        if rules == Some(false) {
            return deny(403);
        }
        return match &a.auth {
            Some(auth) => basic(auth, req, headers, vars).await.err(),
            None => None,
        };
    }
    if rules == Some(true) {
        return None;
    }
    let auth = match &a.auth {
        Some(auth) => Some(basic(auth, req, headers, vars).await),
        None => None,
    };
    match (rules, auth) {
        (_, Some(Ok(()))) => None,
        // 401 wins over 403 under `satisfy any`; other errors end the request as they are.
        (_, Some(Err(d))) => Some(d),
        (Some(false), None) => deny(403),
        _ => None,
    }
}

/// `auth_basic`: the credentials against the user file, re-read per request like nginx.
async fn basic(
    auth: &AuthBasic,
    req: &Request,
    headers: &HeaderMap,
    vars: &Vars<'_>,
) -> Result<(), Denial> {
    let challenge = || Denial {
        status: 401,
        realm: Some(auth.realm.eval(vars)),
    };
    let given = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(auth_basic::credentials);
    let Some((user, password)) = given else {
        return Err(challenge());
    };
    let text = match tokio::fs::read_to_string(&auth.file).await {
        Ok(t) => t,
        Err(e) => {
            log::error!(
                "open() \"{}\" failed ({e}), client: {}",
                auth.file,
                client(req)
            );
            let status = if e.kind() == std::io::ErrorKind::NotFound {
                403
            } else {
                500
            };
            return Err(Denial {
                status,
                realm: None,
            });
        }
    };
    let Some(hash) = auth_basic::lookup(&text, &user) else {
        log::error!(
            "user \"{user}\" was not found in \"{}\", client: {}",
            auth.file,
            client(req)
        );
        return Err(challenge());
    };
    match auth_basic::verify(&user, hash, &password) {
        Ok(true) => Ok(()),
        Ok(false) => {
            log::error!(
                "user \"{user}\": password mismatch, client: {}",
                client(req)
            );
            Err(challenge())
        }
        Err(e) => {
            log::error!("{e}, client: {}", client(req));
            Err(Denial {
                status: 500,
                realm: None,
            })
        }
    }
}

fn client(req: &Request) -> String {
    req.remote.map_or_else(String::new, |a| a.ip().to_string())
}

/// Gives back the `limit_conn` counts of a finished request.
pub fn release(rt: &Runtime, held: &mut Held) {
    for (zone, key) in held.conns.drain(..) {
        rt.conn_zones[zone].release(&key);
    }
}
