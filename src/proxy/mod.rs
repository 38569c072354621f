//! The pingora adapter: the ONLY module that names pingora's proxy types.
//!
//! Owns: the `ProxyHttp` implementation, the `Downstream` adapter over pingora's session,
//! and the configuration served now (`Live`: swapped by an in-process reload, loaded once per
//! request in `new_ctx`, so a request finishes on the configuration it started with).
//! Request lifecycle: `request_filter` hands every request to the LLM pipeline
//! (`llm::serve`), which reads the body, talks to the provider itself through
//! `upstream::UpstreamClient` (the "owned exchange") and writes the response; it then returns
//! `Ok(true)` so pingora's own upstream phases never run. When the process serves an nginx
//! configuration, every phase goes to the generic path instead ([`generic`]): classic
//! `upstream_peer` phases with streaming bodies and nginx's retry rules.
//! Must not: contain gateway or nginx logic (it only adapts).

mod access;
mod date;
mod generic;
mod limits;
pub mod logs;
mod phases;
mod reply;
mod static_serve;
mod upstream_tls;

use std::sync::Arc;

use arc_swap::ArcSwap;
use async_trait::async_trait;
use bytes::Bytes;
use http::HeaderMap;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use pingora::upstreams::peer::HttpPeer;
use pingora::{Error, ErrorType, Result};

use crate::http::Runtime;
use crate::llm::{self, ClientGone, Downstream, Gateway, ResponseHead};

use generic::GenericCtx;

/// The proxy service's application.
pub struct Tollgate {
    mode: Mode,
}

/// Which request path this process serves, and the configuration it serves now: an
/// in-process reload swaps it (`live`), and each request loads it once, in `new_ctx`.
enum Mode {
    /// The LLM gateway (tollgate's YAML configuration).
    Llm(Live<Gateway>),
    /// An nginx configuration.
    Nginx(Live<NginxState>),
}

/// A configuration the server serves until a reload swaps in the next.
pub type Live<T> = Arc<ArcSwap<T>>;

/// What the generic path serves: a runtime, the gateways of its `llm_gateway` locations
/// (indexed like `Site::llm_gateways`) and its upstream TLS peers (indexed like
/// `Site::upstream_tls`).
pub struct NginxState {
    pub rt: Runtime,
    pub llm: Vec<Arc<Gateway>>,
    tls: Arc<[upstream_tls::PeerTls]>,
}

impl NginxState {
    /// Fails when the files of `proxy_ssl_*` cannot be loaded.
    pub fn new(rt: Runtime, llm: Vec<Arc<Gateway>>) -> Result<Self, String> {
        let tls = upstream_tls::load(&rt.site)?;
        Ok(NginxState { rt, llm, tls })
    }
}

impl Tollgate {
    /// Serves the LLM gateway that `live` holds at each request's start.
    pub fn new(live: Live<Gateway>) -> Self {
        Tollgate {
            mode: Mode::Llm(live),
        }
    }

    /// Serves the nginx configuration that `live` holds at each request's start.
    pub fn nginx(live: Live<NginxState>) -> Self {
        Tollgate {
            mode: Mode::Nginx(live),
        }
    }
}

/// The configuration one request is served by, loaded once when it starts: a request never
/// mixes two configurations, and finishes on the one it started with.
enum Snapshot {
    Llm(Arc<Gateway>),
    Nginx(Arc<NginxState>),
}

/// Per-request context.
pub struct Ctx {
    config: Snapshot,
    /// Set only on the generic path once a request is proxied.
    generic: Option<Box<GenericCtx>>,
    /// An `llm_gateway` location matched: the gateway's index and the URI it sees.
    llm: Option<(usize, String)>,
}

impl Ctx {
    fn generic(&mut self) -> Option<(&Runtime, &mut GenericCtx)> {
        match (&self.config, self.generic.as_deref_mut()) {
            (Snapshot::Nginx(s), Some(c)) => Some((&s.rt, c)),
            _ => None,
        }
    }
}

fn no_upstream() -> Box<Error> {
    // Reaching an upstream phase without a generic context is a bug, not a panic.
    Error::explain(ErrorType::InternalError, "no generic upstream configured")
}

#[async_trait]
impl ProxyHttp for Tollgate {
    type CTX = Ctx;

    fn new_ctx(&self) -> Self::CTX {
        // The one atomic load per request.
        let config = match &self.mode {
            Mode::Llm(live) => Snapshot::Llm(live.load_full()),
            Mode::Nginx(live) => Snapshot::Nginx(live.load_full()),
        };
        Ctx {
            config,
            generic: None,
            llm: None,
        }
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut Self::CTX) -> Result<bool> {
        let (gateway, path) = match &ctx.config {
            Snapshot::Nginx(s) => {
                let done = generic::request_filter(&s.rt, session, &mut ctx.generic, &mut ctx.llm);
                let done = done.await?;
                let Some((i, path)) = ctx.llm.take() else {
                    return Ok(done);
                };
                (s.llm.get(i).ok_or_else(no_upstream)?, Some(path))
            }
            Snapshot::Llm(gateway) => (gateway, None),
        };
        let keepalive_secs = gateway.config.server.keepalive_timeout.as_secs().max(1);
        session.set_keepalive(Some(keepalive_secs));
        let mut ds = PingoraDownstream {
            session,
            keepalive: true,
            path,
        };
        // Boxed: the LLM pipeline's future is many KiB, and async_trait boxes (memcpy's) this
        // whole future for every request, nginx-mode requests that never reach this line
        // included (callgrind: ~15k instructions of memcpy per plain proxied request).
        Box::pin(llm::serve(gateway, &mut ds)).await;
        if !ds.keepalive {
            session.set_keepalive(None);
        }
        Ok(true)
    }

    async fn upstream_peer(&self, _s: &mut Session, ctx: &mut Self::CTX) -> Result<Box<HttpPeer>> {
        let (Snapshot::Nginx(s), Some(c)) = (&ctx.config, ctx.generic.as_deref_mut()) else {
            return Err(no_upstream());
        };
        generic::upstream_peer(&s.rt, &s.tls, c)
    }

    fn fail_to_connect(
        &self,
        session: &mut Session,
        peer: &HttpPeer,
        ctx: &mut Self::CTX,
        e: Box<Error>,
    ) -> Box<Error> {
        match ctx.generic() {
            Some((rt, c)) => generic::fail_to_connect(rt, session, peer, c, e),
            None => e,
        }
    }

    fn error_while_proxy(
        &self,
        peer: &HttpPeer,
        session: &mut Session,
        e: Box<Error>,
        ctx: &mut Self::CTX,
        _client_reused: bool,
    ) -> Box<Error> {
        let e = e.more_context(format!("Peer: {peer}"));
        match ctx.generic() {
            Some((rt, c)) => generic::error_while_proxy(rt, session, c, e),
            None => e,
        }
    }

    async fn request_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<Bytes>,
        _end_of_stream: bool,
        ctx: &mut Self::CTX,
    ) -> Result<()> {
        match ctx.generic() {
            Some((_, c)) => generic::request_body(c, body.as_ref()),
            None => Ok(()),
        }
    }

    async fn upstream_request_filter(
        &self,
        session: &mut Session,
        upstream_request: &mut RequestHeader,
        ctx: &mut Self::CTX,
    ) -> Result<()> {
        let (_, c) = ctx.generic().ok_or_else(no_upstream)?;
        generic::upstream_request(session, upstream_request, c)
    }

    async fn upstream_response_filter(
        &self,
        _session: &mut Session,
        upstream_response: &mut ResponseHeader,
        ctx: &mut Self::CTX,
    ) -> Result<()> {
        match ctx.generic() {
            Some((_, c)) => generic::upstream_response(c, upstream_response.status.as_u16()),
            None => Ok(()),
        }
    }

    async fn logging(&self, session: &mut Session, _e: Option<&Error>, ctx: &mut Self::CTX) {
        if let Some((rt, c)) = ctx.generic() {
            generic::done(rt, session, c);
        }
    }

    async fn response_filter(
        &self,
        session: &mut Session,
        upstream_response: &mut ResponseHeader,
        ctx: &mut Self::CTX,
    ) -> Result<()> {
        match ctx.generic() {
            Some((_, c)) => generic::response(session, upstream_response, c),
            None => Ok(()),
        }
    }

    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        e: &Error,
        ctx: &mut Self::CTX,
    ) -> FailToProxy {
        let error_code = match &self.mode {
            Mode::Nginx(_) => generic::fail_to_proxy(session, ctx.generic(), e).await,
            Mode::Llm(_) => default_fail_to_proxy(session, e).await,
        };
        FailToProxy {
            error_code,
            can_reuse_downstream: false,
        }
    }
}

/// `Downstream` over pingora's session.
struct PingoraDownstream<'a> {
    session: &'a mut Session,
    keepalive: bool,
    /// The URI after nginx's rewrites, for a request an `llm_gateway` location hands over.
    path: Option<String>,
}

#[async_trait]
impl Downstream for PingoraDownstream<'_> {
    fn method(&self) -> &str {
        self.session.req_header().method.as_str()
    }

    fn path(&self) -> &str {
        if let Some(p) = &self.path {
            return p;
        }
        self.session
            .req_header()
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
    }

    fn headers(&self) -> &HeaderMap {
        &self.session.req_header().headers
    }

    fn client_ip(&self) -> Option<std::net::IpAddr> {
        self.session
            .client_addr()
            .and_then(|a| a.as_inet())
            .map(|a| a.ip())
    }

    async fn read_body(&mut self) -> std::result::Result<Option<Bytes>, ClientGone> {
        self.session
            .read_request_body()
            .await
            .map_err(|_| ClientGone)
    }

    async fn send_continue(&mut self) -> std::result::Result<(), ClientGone> {
        self.session
            .write_continue_response()
            .await
            .map_err(|_| ClientGone)
    }

    async fn write_head(&mut self, head: ResponseHead) -> std::result::Result<(), ClientGone> {
        let mut resp = ResponseHeader::build(head.status, Some(head.headers.len() + 2))
            .map_err(|_| ClientGone)?;
        for (k, v) in head.headers {
            resp.append_header(k, v).map_err(|_| ClientGone)?;
        }
        match head.body_len {
            Some(n) => resp.insert_header(http::header::CONTENT_LENGTH, n.to_string()),
            None => resp.insert_header(http::header::TRANSFER_ENCODING, "chunked"),
        }
        .map_err(|_| ClientGone)?;
        if !self.keepalive {
            resp.insert_header(http::header::CONNECTION, "close")
                .map_err(|_| ClientGone)?;
        }
        self.session
            .write_response_header(Box::new(resp), false)
            .await
            .map_err(|_| ClientGone)
    }

    async fn write_body(&mut self, data: Bytes, end: bool) -> std::result::Result<(), ClientGone> {
        let data = (!data.is_empty()).then_some(data);
        self.session
            .write_response_body(data, end)
            .await
            .map_err(|_| ClientGone)
    }

    fn close_after_response(&mut self) {
        self.keepalive = false;
        self.session.set_keepalive(None);
    }
}

/// pingora's own `fail_to_proxy` (the LLM path keeps its behaviour).
async fn default_fail_to_proxy(session: &mut Session, e: &Error) -> u16 {
    use pingora::ErrorSource;
    let code = match e.etype() {
        ErrorType::HTTPStatus(code) => *code,
        _ => match e.esource() {
            ErrorSource::Upstream => 502,
            ErrorSource::Downstream => match e.etype() {
                ErrorType::WriteError | ErrorType::ReadError | ErrorType::ConnectionClosed => 0,
                _ => 400,
            },
            ErrorSource::Internal | ErrorSource::Unset => 500,
        },
    };
    if code > 0 && session.respond_error(code).await.is_err() {
        log::error!("failed to send error response to downstream");
    }
    code
}
