//! The pingora adapter: the ONLY module that names pingora's proxy types.
//!
//! Owns: the `ProxyHttp` implementation and the `Downstream` adapter over pingora's session.
//! Request lifecycle: `request_filter` hands every request to the LLM pipeline
//! (`llm::serve`), which reads the body, talks to the provider itself through
//! `upstream::UpstreamClient` (the "owned exchange") and writes the response; it then returns
//! `Ok(true)` so pingora's own upstream phases never run. The generic nginx-style path (classic
//! `upstream_peer` phases) will be routed from the same `request_filter`.
//! Must not: contain gateway logic (it only adapts).

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use http::HeaderMap;
use pingora::http::ResponseHeader;
use pingora::proxy::{ProxyHttp, Session};
use pingora::upstreams::peer::HttpPeer;
use pingora::{Error, ErrorType, Result};

use crate::llm::{self, ClientGone, Downstream, Gateway, ResponseHead};

/// The proxy service's application.
pub struct Tollgate {
    gateway: Arc<Gateway>,
    keepalive_secs: u64,
}

impl Tollgate {
    pub fn new(gateway: Arc<Gateway>) -> Self {
        let keepalive_secs = gateway.config.server.keepalive_timeout.as_secs().max(1);
        Tollgate {
            gateway,
            keepalive_secs,
        }
    }
}

#[async_trait]
impl ProxyHttp for Tollgate {
    type CTX = ();

    fn new_ctx(&self) -> Self::CTX {}

    async fn request_filter(&self, session: &mut Session, _ctx: &mut Self::CTX) -> Result<bool> {
        session.set_keepalive(Some(self.keepalive_secs));
        let mut ds = PingoraDownstream {
            session,
            keepalive: true,
        };
        llm::serve(&self.gateway, &mut ds).await;
        if !ds.keepalive {
            session.set_keepalive(None);
        }
        Ok(true)
    }

    async fn upstream_peer(&self, _s: &mut Session, _ctx: &mut Self::CTX) -> Result<Box<HttpPeer>> {
        // Every request is answered in request_filter; reaching this is a bug, not a panic.
        Err(Error::explain(
            ErrorType::InternalError,
            "no generic upstream configured",
        ))
    }
}

/// `Downstream` over pingora's session.
struct PingoraDownstream<'a> {
    session: &'a mut Session,
    keepalive: bool,
}

#[async_trait]
impl Downstream for PingoraDownstream<'_> {
    fn method(&self) -> &str {
        self.session.req_header().method.as_str()
    }

    fn path(&self) -> &str {
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
