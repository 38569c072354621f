//! The generic (nginx-semantics) path over pingora's phases: one small function per phase,
//! each delegating the decision to `http` and only adapting pingora's types.
//!
//! Owns: the per-request context of the generic path, retry decisions per
//! `proxy_next_upstream` (only before a response header arrived, only with a replayable
//! body, POST-like methods only with `non_idempotent`), marking peers failed, and nginx's
//! error statuses (502, 504) and pages. Must not: contain nginx rules (they live in `http`).

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::header::{HOST, LOCATION};
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::proxy::Session;
use pingora::upstreams::peer::HttpPeer;
use pingora::{Error, ErrorType, Result};

use super::access::Timing;
use super::limits::{self, Held};
use super::phases;
use super::reply::{add_headers, local_port, standard_headers, write_reply, write_reply_with};
use super::static_serve;
use super::upstream_tls::{self, PeerTls};
use crate::http::conf::LocConf;
use crate::http::error_page::{self, ErrorPage};
use crate::http::forward::{self, absolute_in};
use crate::http::script::{Reply, State};
use crate::http::upstream::{Pick, Tried};
use crate::http::uri;
use crate::http::vars::{Request, Vars};
use crate::http::{Action, Runtime};

/// `return 444`: nginx's non-standard code for closing without a response.
const CLOSE: u16 = 444;

/// nginx's `keepalive_timeout` default (75 s).
const KEEPALIVE_SECS: u64 = 75;

/// One proxied request.
pub struct GenericCtx {
    req: Request,
    conf: Arc<LocConf>,
    state: State,
    upstream: usize,
    tried: Tried,
    pick: Option<Pick>,
    attempts: usize,
    started: Instant,
    /// The last failure was a timeout (504 rather than 502).
    timed_out: bool,
    header_received: bool,
    /// Request body bytes seen (for `client_max_body_size` without Content-Length).
    body_bytes: u64,
    /// The body went over `client_max_body_size`: a client error, not an upstream failure.
    too_large: bool,
    /// Times and upstream attempts for the access log.
    timing: Timing,
    /// `limit_conn` counts, released when the request is done.
    held: Held,
    /// `error_page`'s status for a page served by proxying.
    status: Option<u16>,
    /// The server the request was routed to (for error pages after proxying).
    server: usize,
    /// `proxy_intercept_errors`: the upstream's status that an `error_page` replaces.
    intercepted: Option<u16>,
}

impl GenericCtx {
    /// A request answered without an upstream (return, redirects, errors): only logged.
    fn replied(req: Request, conf: Arc<LocConf>, timing: Timing, held: Held) -> Box<GenericCtx> {
        Box::new(GenericCtx {
            req,
            conf,
            state: State::default(),
            // Never read: no upstream phase runs after a reply.
            upstream: 0,
            tried: Tried::default(),
            pick: None,
            attempts: 0,
            started: timing.started,
            timed_out: false,
            header_received: false,
            body_bytes: 0,
            too_large: false,
            timing,
            held,
            status: None,
            server: 0,
            intercepted: None,
        })
    }
}

fn request_from(session: &Session) -> std::result::Result<Request, ()> {
    let h = session.req_header();
    let target = String::from_utf8_lossy(h.raw_path()).into_owned();
    let (path, args) = uri::split_target(&target);
    let uri = uri::normalize(path).map_err(|_| ())?;
    Ok(Request {
        method: h.method.as_str().to_owned(),
        uri,
        args: args.unwrap_or("").to_owned(),
        request_uri: target,
        remote: session.client_addr().and_then(|a| a.as_inet()).copied(),
        local: session.server_addr().and_then(|a| a.as_inet()).copied(),
        ..Request::default()
    })
}

/// `request_filter`: select server and location, run rewrites; `Ok(true)` when answered.
/// `llm` is set (and `false` returned) when the location hands the request to an LLM gateway.
pub async fn request_filter(
    rt: &Runtime,
    session: &mut Session,
    ctx: &mut Option<Box<GenericCtx>>,
    llm: &mut Option<(usize, String)>,
) -> Result<bool> {
    session.set_keepalive(Some(KEEPALIVE_SECS));
    let timing = Timing::new();
    let Ok(mut req) = request_from(session) else {
        let conf = Arc::clone(&rt.site.servers[0].conf);
        write_reply(session, &conf, &Request::default(), &reply(400)).await?;
        *ctx = Some(GenericCtx::replied(
            Request::default(),
            conf,
            timing,
            Held::new(),
        ));
        return Ok(true);
    };
    let headers = &session.req_header().headers;
    // HTTP/2 carries the host in `:authority` (the request URI), not in a Host header.
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| session.req_header().uri.authority().map(|a| a.as_str()));
    let decision = rt.site.route(&mut req, headers, host);
    let server = decision.server;
    let mut held = Held::new();
    let routed = phases::run(rt, decision, &mut req, headers, &mut held).await;
    let conf = routed.conf;
    let state = match routed.action {
        Action::Reply(r) if r.status == CLOSE => {
            // nginx's 444: close the connection without a response (logged as 444).
            session.set_keepalive(None);
            let mut timing = timing;
            timing.status = Some(CLOSE);
            *ctx = Some(GenericCtx::replied(req, conf, timing, held));
            return Ok(true);
        }
        Action::Reply(r) => {
            let challenge = routed.realm.map(|r| format!("Basic realm=\"{r}\""));
            let extra = challenge
                .as_deref()
                .map(|c| (http::header::WWW_AUTHENTICATE, c));
            let written = write_reply_with(session, &conf, &req, &r, extra).await;
            *ctx = Some(GenericCtx::replied(req, conf, timing, held));
            written?;
            return Ok(true);
        }
        Action::Static => {
            let Some(hit) = routed.file else {
                return Err(Error::explain(ErrorType::InternalError, "no file opened"));
            };
            let sent = static_serve::send(session, &conf, &req, hit, routed.status).await;
            *ctx = Some(GenericCtx::replied(req, conf, timing, held));
            sent?;
            return Ok(true);
        }
        Action::Proxy(state) => state,
    };
    if let Some(i) = conf.llm_gateway {
        let mut uri = std::mem::take(&mut req.uri);
        if !req.args.is_empty() {
            uri.push('?');
            uri.push_str(&req.args);
        }
        *llm = Some((i, uri));
        return Ok(false);
    }
    let Some(pp) = conf.proxy.as_ref() else {
        return Err(Error::explain(ErrorType::InternalError, "no proxy_pass"));
    };
    req.proxy_host.clone_from(&pp.proxy_host);
    req.proxy_port = pp.proxy_port;
    let upstream = pp.upstream;
    let key = rt.site.upstreams[upstream]
        .key
        .as_ref()
        .map(|t| {
            t.eval(&Vars {
                req: &req,
                headers: &session.req_header().headers,
            })
        })
        .unwrap_or_default();
    let tried = rt.balancers[upstream].tried(req.remote.map(|a| a.ip()), &key);
    session.as_mut().enable_retry_buffering();
    *ctx = Some(Box::new(GenericCtx {
        tried,
        req,
        conf,
        status: routed.status,
        state,
        upstream,
        pick: None,
        attempts: 0,
        started: timing.started,
        timed_out: false,
        header_received: false,
        body_bytes: 0,
        too_large: false,
        timing,
        held,
        server,
        intercepted: None,
    }));
    Ok(false)
}

fn reply(status: u16) -> Reply {
    Reply {
        status,
        location: None,
        body: None,
    }
}

/// How many attempts this request may make (`proxy_next_upstream_tries`, all servers).
fn tries_left(rt: &Runtime, c: &GenericCtx) -> bool {
    let all = rt.balancers[c.upstream].tries();
    let limit = match c.conf.next.tries {
        0 => all,
        n => all.min(n as usize),
    };
    let in_time = c
        .conf
        .next
        .time_limit
        .is_none_or(|t| c.started.elapsed() < t);
    c.attempts < limit && in_time
}

/// `upstream_peer`: the next server of the group, or 502 when none is live.
pub fn upstream_peer(rt: &Runtime, tls: &[PeerTls], c: &mut GenericCtx) -> Result<Box<HttpPeer>> {
    let balancer = &rt.balancers[c.upstream];
    let Some(pick) = balancer.get(&mut c.tried, Instant::now()) else {
        return Err(Error::explain(
            ErrorType::HTTPStatus(if c.timed_out { 504 } else { 502 }),
            "no live upstreams",
        ));
    };
    c.pick = Some(pick);
    c.attempts += 1;
    let addr = balancer.peer(pick).addr;
    c.timing.attempt(addr);
    let https = c.conf.proxy.as_ref().and_then(|p| p.tls);
    let mut peer = match https.and_then(|i| tls.get(i)) {
        Some(t) => t.peer(addr),
        None => HttpPeer::new(addr, false, String::new()),
    };
    peer.options.connection_timeout = Some(c.conf.connect_timeout);
    peer.options.read_timeout = Some(c.conf.read_timeout);
    peer.options.write_timeout = Some(c.conf.send_timeout);
    Ok(Box::new(peer))
}

fn is_timeout(e: &Error) -> bool {
    matches!(
        e.etype(),
        ErrorType::ConnectTimedout | ErrorType::ReadTimedout | ErrorType::WriteTimedout
    )
}

/// Marks the current peer failed and says whether `proxy_next_upstream` allows another try.
fn failed(rt: &Runtime, c: &mut GenericCtx, e: &Error) -> bool {
    if c.too_large {
        // The client's fault: the peer is fine and the request is over.
        return false;
    }
    if let Some(pick) = c.pick.take() {
        rt.balancers[c.upstream].free(pick, true, Instant::now());
    }
    c.timed_out = is_timeout(e);
    c.timing.attempt_done(if c.timed_out { 504 } else { 502 });
    let listed = if c.timed_out {
        c.conf.next.timeout
    } else {
        c.conf.next.error
    };
    listed && tries_left(rt, c)
}

/// `fail_to_connect`: nothing was sent, so the request can always be replayed.
pub fn fail_to_connect(
    rt: &Runtime,
    session: &Session,
    peer: &HttpPeer,
    c: &mut GenericCtx,
    mut e: Box<Error>,
) -> Box<Error> {
    if upstream_tls::is_tls_failure(&e) {
        log_tls_failure(session, peer, c, &e);
    }
    let retry = failed(rt, c, &e);
    e.set_retry(retry);
    e
}

/// nginx's error_log line for a failed handshake with an upstream.
fn log_tls_failure(session: &Session, peer: &HttpPeer, c: &GenericCtx, e: &Error) {
    let target = c.conf.proxy.as_ref().map_or_else(String::new, |pp| {
        let client = &session.req_header().headers;
        forward::upstream_target(&c.conf, pp, &c.req, client, &c.state)
    });
    let h = session.req_header();
    log::error!(
        "{} while SSL handshaking to upstream, client: {}, server: {}, request: \"{} {} HTTP/1.1\", upstream: \"https://{}{target}\", host: \"{}\"",
        upstream_tls::failure_text(e, &peer.sni),
        c.req.remote.map_or_else(String::new, |a| a.ip().to_string()),
        c.req.server_name,
        c.req.method,
        c.req.request_uri,
        peer._address,
        h.headers.get(HOST).and_then(|v| v.to_str().ok()).unwrap_or(""),
    );
}

/// `error_while_proxy`: retried only before the response header, with a complete retry
/// buffer, and for non-idempotent methods only with `non_idempotent`.
pub fn error_while_proxy(
    rt: &Runtime,
    session: &Session,
    c: &mut GenericCtx,
    mut e: Box<Error>,
) -> Box<Error> {
    if c.header_received {
        e.set_retry(false);
        return e;
    }
    let idempotent = !matches!(c.req.method.as_str(), "POST" | "LOCK" | "PATCH");
    // Pingora streams the body either way; nginx without request buffering never retries
    // once sending started, and a truncated retry buffer cannot be replayed.
    let replayable = c.conf.request_buffering && !session.as_ref().retry_buffer_truncated();
    let retry = failed(rt, c, &e) && replayable && (idempotent || c.conf.next.non_idempotent);
    e.set_retry(retry);
    e
}

/// `request_body_filter`: `client_max_body_size` for bodies without Content-Length (413).
/// nginx reads the body before connecting; here the upstream request is abandoned.
pub fn request_body(c: &mut GenericCtx, chunk: Option<&Bytes>) -> Result<()> {
    c.body_bytes += chunk.map_or(0, |b| b.len() as u64);
    if c.conf.max_body > 0 && c.body_bytes > c.conf.max_body {
        c.too_large = true;
        return Err(Error::explain(
            ErrorType::HTTPStatus(413),
            "client intended to send too large body",
        ));
    }
    Ok(())
}

/// `upstream_request_filter`: the request line and headers nginx would send.
pub fn upstream_request(session: &Session, up: &mut RequestHeader, c: &GenericCtx) -> Result<()> {
    let Some(pp) = c.conf.proxy.as_ref() else {
        return Ok(());
    };
    let client = &session.req_header().headers;
    let target = forward::upstream_target(&c.conf, pp, &c.req, client, &c.state);
    // `error_page` turned the request into a GET.
    let method = if up.method.as_str() != c.req.method {
        http::Method::from_bytes(c.req.method.as_bytes()).unwrap_or_else(|_| up.method.clone())
    } else {
        up.method.clone()
    };
    // A fresh header without pingora's case map, the list put in whole: the same bytes on
    // the wire as removing and re-appending every header of pingora's copy (headers sent
    // upstream are title-cased either way), without a case-map update per header
    // (callgrind: ~4k instructions per request).
    let mut parts: http::request::Parts = RequestHeader::build_no_case(method, b"/", None)?.into();
    parts.version = if c.conf.http10 {
        http::Version::HTTP_10
    } else {
        up.version
    };
    parts.headers = forward::upstream_headers(&c.conf, &c.req, client);
    parts.extensions = std::mem::take(up.extensions_mut());
    let mut fresh = RequestHeader::from(parts);
    fresh.set_raw_path(target.as_bytes())?;
    *up = fresh;
    Ok(())
}

/// `upstream_response_filter`: the peer answered, nothing is retried from here on. With
/// `proxy_intercept_errors on`, a status >= 300 that has an `error_page` ends the exchange
/// (`fail_to_proxy` serves the page; the upstream's body is dropped).
pub fn upstream_response(c: &mut GenericCtx, status: u16) -> Result<()> {
    c.header_received = true;
    c.timing.attempt_done(status);
    let page = error_page::find(&c.conf.error_pages, status);
    if c.conf.intercept_errors && status >= 300 && page.is_some() && c.status.is_none() {
        c.intercepted = Some(status);
        return Err(Error::explain(
            ErrorType::HTTPStatus(status),
            "upstream status intercepted by error_page",
        ));
    }
    Ok(())
}

/// `logging`: the request is done with its peer (alive: it was not freed as failed), and
/// its access log lines are queued.
pub fn done(rt: &Runtime, session: &Session, c: &mut GenericCtx) {
    if let Some(pick) = c.pick.take() {
        rt.balancers[c.upstream].free(pick, false, Instant::now());
    }
    limits::release(rt, &mut c.held);
    super::access::log(rt, session, &c.req, &c.conf, &c.timing);
}

/// `response_filter`: hidden headers, `proxy_redirect default`, `add_header`.
pub fn response(session: &Session, resp: &mut ResponseHeader, c: &GenericCtx) -> Result<()> {
    // nginx answers in its own HTTP version, whatever the upstream spoke (pingora would
    // relay an HTTP/1.0 upstream's status line as is).
    resp.set_version(http::Version::HTTP_11);
    if let Some(s) = c.status {
        resp.set_status(s)?;
    }
    for h in c.conf.hide.iter() {
        resp.remove_header(h);
    }
    let rewritten = resp
        .headers
        .get(LOCATION)
        .and_then(|l| l.to_str().ok())
        .and_then(|l| forward::rewrite_redirect(&c.conf, l));
    if let Some(l) = rewritten {
        resp.insert_header(
            LOCATION,
            absolute_in(&l, &c.req.host, local_port(&c.req), c.req.https),
        )?;
    }
    standard_headers(resp)?;
    add_headers(resp, &c.conf, &c.req, &session.req_header().headers)
}

/// `fail_to_proxy`: nginx's 502/504 page (or the location's `error_page` for the status,
/// or for the upstream's intercepted one), unless a response already started.
pub async fn fail_to_proxy(
    session: &mut Session,
    c: Option<(&Runtime, &mut GenericCtx)>,
    e: &Error,
) -> u16 {
    if session.response_written().is_some() {
        return 0;
    }
    let status = match e.etype() {
        _ if c.as_ref().is_some_and(|(_, c)| c.too_large) => 413,
        ErrorType::HTTPStatus(code) => *code,
        _ if c.as_ref().is_some_and(|(_, c)| c.timed_out) || is_timeout(e) => 504,
        _ if matches!(e.esource(), pingora::ErrorSource::Downstream) => return 0,
        _ => 502,
    };
    let result = match c {
        Some((rt, c)) => match error_page::find(&c.conf.error_pages, status) {
            // Once only: a page that was itself proxied gets nginx's own page.
            Some(page) if c.status.is_none() => {
                let page = page.clone();
                after_proxy_page(rt, session, c, &page, status).await
            }
            _ => write_reply(session, &c.conf, &c.req, &reply(status))
                .await
                .map(|()| status),
        },
        None => Ok(status),
    };
    result.unwrap_or(0)
}

/// An `error_page` for a status that arose while proxying: the page is a reply or a file;
/// proxying again from here is not implemented (nginx's page for the status is sent and
/// the error is logged).
async fn after_proxy_page(
    rt: &Runtime,
    session: &mut Session,
    c: &mut GenericCtx,
    page: &ErrorPage,
    status: u16,
) -> Result<u16> {
    let headers = session.req_header().headers.clone();
    let conf = Arc::clone(&c.conf);
    let routed = phases::error_page(
        rt,
        c.server,
        &conf,
        page,
        status,
        &mut c.req,
        &headers,
        &mut c.held,
    )
    .await;
    c.conf = Arc::clone(&routed.conf);
    match routed.action {
        Action::Reply(r) => {
            let challenge = routed.realm.map(|r| format!("Basic realm=\"{r}\""));
            let extra = challenge
                .as_deref()
                .map(|v| (http::header::WWW_AUTHENTICATE, v));
            write_reply_with(session, &routed.conf, &c.req, &r, extra).await?;
            Ok(r.status)
        }
        Action::Static => match routed.file {
            Some(hit) => {
                static_serve::send(session, &routed.conf, &c.req, hit, routed.status).await
            }
            None => Err(Error::explain(ErrorType::InternalError, "no file opened")),
        },
        Action::Proxy(_) => {
            log::error!(
                "error_page {status} to a proxied location after proxying is not implemented yet; sending the plain {status} page"
            );
            write_reply(session, &c.conf, &c.req, &reply(status)).await?;
            Ok(status)
        }
    }
}
