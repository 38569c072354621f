//! The upstream HTTP client of the owned exchange, on pingora's connector and pool.
//!
//! Owns: resolving, connecting (pooled), sending one request, reading the response head and
//! body chunks under the connect / first-byte / idle / total timeouts, and returning healthy
//! connections to the pool. Must not: interpret bodies, choose targets or retry.

pub mod resolve;

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{HeaderName, HeaderValue};
use pingora::connectors::http::Connector;
use pingora::connectors::ConnectorOptions;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::protocols::http::client::HttpSession;
use pingora::upstreams::peer::HttpPeer;
use tokio::time::Instant;

use crate::config::{BaseUrl, Timeouts};
use resolve::Resolver;

/// How long an idle pooled upstream connection is kept. Below the common 60-90 s provider
/// keep-alive so we rarely reuse a connection the server is closing.
const POOL_IDLE: Duration = Duration::from_secs(50);

/// Why an exchange failed. Messages never hold addresses or secrets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    #[error("could not connect ({0})")]
    Connect(&'static str),
    #[error("timed out waiting for the {0}")]
    Timeout(&'static str),
    #[error("connection failed after the request was sent")]
    Broken,
}

/// One request to send.
pub struct UpstreamRequest {
    pub method: &'static str,
    /// Path and query, e.g. "/v1/chat/completions".
    pub path: String,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
}

/// Shared by all workers: one pool of upstream connections.
pub struct UpstreamClient {
    connector: Connector,
    resolver: Resolver,
}

impl UpstreamClient {
    /// Builds the connector, which loads the TLS trust store (the platform's, or the files
    /// named by `SSL_CERT_FILE` / `SSL_CERT_DIR`).
    pub fn new(pool_size: usize) -> Result<Self, String> {
        check_trust_env()?;
        // pingora unwraps the trust-store load; turn a panic into a startup error.
        let connector =
            std::panic::catch_unwind(|| Connector::new(Some(ConnectorOptions::new(pool_size))))
                .map_err(|_| {
                    "cannot load the TLS trust store for upstream connections".to_owned()
                })?;
        Ok(UpstreamClient {
            connector,
            resolver: Resolver::default(),
        })
    }

    /// Connects, sends `req` and waits for the response head.
    pub async fn send(
        self: &Arc<Self>,
        base: &BaseUrl,
        timeouts: &Timeouts,
        req: UpstreamRequest,
    ) -> Result<Exchange, UpstreamError> {
        let started = Instant::now();
        let deadline = started + timeouts.total;
        let addr = self
            .resolver
            .resolve(&base.host, base.port, timeouts.connect)
            .await
            .ok_or(UpstreamError::Connect("name resolution failed"))?;
        let mut peer = HttpPeer::new(addr, base.tls, base.host.clone());
        peer.options.connection_timeout = Some(timeouts.connect);
        peer.options.total_connection_timeout = Some(timeouts.connect);
        peer.options.idle_timeout = Some(POOL_IDLE);
        // Boxed: these futures are kilobytes, and `bounded` and its timeout would otherwise
        // copy them by value on every request (memcpy was ~4% of the gateway's CPU at
        // saturation).
        let connect = Box::pin(self.connector.get_http_session(&peer));
        let (mut session, _reused) = bounded(deadline, timeouts.connect, "connection", connect)
            .await?
            .map_err(|e| UpstreamError::Connect(connect_reason(&e.etype)))?;
        session.set_write_timeout(Some(timeouts.first_byte));
        let header = build_header(base, &req)?;
        let sent_at = Instant::now();
        let send = Box::pin(async {
            let mut session = write_request(session, header, req.body).await?;
            match session.read_response_header().await {
                Ok(()) => Ok(session),
                Err(e) => {
                    session.shutdown().await;
                    Err(e)
                }
            }
        });
        // On a timeout the future (and the connection in it) is dropped: never pooled.
        let session = match bounded(deadline, timeouts.first_byte, "first byte", send).await {
            Ok(Ok(s)) => s,
            Ok(Err(_)) => return Err(UpstreamError::Broken),
            Err(e) => return Err(e),
        };
        let head = session
            .response_header()
            .cloned()
            .ok_or(UpstreamError::Broken)?;
        let ttfb = sent_at.elapsed();
        Ok(Exchange {
            client: Arc::clone(self),
            session: Some(session),
            peer,
            head,
            idle: timeouts.idle,
            deadline,
            ttfb,
            waited: started.elapsed(),
        })
    }
}

/// An exchange whose response head has arrived.
pub struct Exchange {
    client: Arc<UpstreamClient>,
    session: Option<HttpSession>,
    peer: HttpPeer,
    head: ResponseHeader,
    idle: Duration,
    deadline: Instant,
    /// Request sent -> response head received.
    pub ttfb: Duration,
    /// Total time spent waiting on the upstream so far.
    pub waited: Duration,
}

impl Exchange {
    pub fn status(&self) -> u16 {
        self.head.status.as_u16()
    }

    pub fn headers(&self) -> &http::HeaderMap {
        &self.head.headers
    }

    /// Reads the next body chunk; `None` at the end of the body.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>, UpstreamError> {
        let Some(session) = self.session.as_mut() else {
            return Ok(None);
        };
        let t0 = Instant::now();
        let read = bounded(
            self.deadline,
            self.idle,
            "next chunk",
            session.read_response_body(),
        )
        .await;
        self.waited += t0.elapsed();
        match read {
            Ok(Ok(Some(b))) => Ok(Some(b)),
            Ok(Ok(None)) => {
                self.release().await;
                Ok(None)
            }
            Ok(Err(_)) => {
                self.abandon().await;
                Err(UpstreamError::Broken)
            }
            Err(e) => {
                self.abandon().await;
                Err(e)
            }
        }
    }

    /// Reads the whole body, refusing more than `limit` bytes.
    pub async fn read_all(&mut self, limit: usize) -> Result<Bytes, UpstreamError> {
        let mut out = BytesMut::new();
        while let Some(chunk) = self.next_chunk().await? {
            if out.len() + chunk.len() > limit {
                self.abandon().await;
                return Err(UpstreamError::Broken);
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out.freeze())
    }

    /// Gives the connection back to the pool when its response was read to the end.
    async fn release(&mut self) {
        if let Some(mut s) = self.session.take() {
            if s.response_done() {
                self.client
                    .connector
                    .release_http_session(s, &self.peer, Some(POOL_IDLE))
                    .await;
            } else {
                s.shutdown().await;
            }
        }
    }

    /// Drops the connection (the client went away, or the upstream misbehaved).
    pub async fn abandon(&mut self) {
        if let Some(mut s) = self.session.take() {
            s.shutdown().await;
        }
    }
}

/// `SSL_CERT_FILE` / `SSL_CERT_DIR` naming something unreadable would make pingora panic.
fn check_trust_env() -> Result<(), String> {
    for var in ["SSL_CERT_FILE", "SSL_CERT_DIR"] {
        if let Some(path) = std::env::var_os(var) {
            if let Err(e) = std::fs::metadata(&path) {
                return Err(format!("{var}={}: {e}", path.to_string_lossy()));
            }
        }
    }
    Ok(())
}

/// Runs `fut` under `limit`, and under the exchange's total deadline.
async fn bounded<T>(
    deadline: Instant,
    limit: Duration,
    phase: &'static str,
    fut: impl std::future::Future<Output = T>,
) -> Result<T, UpstreamError> {
    let step_end = Instant::now() + limit;
    let (end, what) = if step_end <= deadline {
        (step_end, phase)
    } else {
        (deadline, "total")
    };
    tokio::time::timeout_at(end, fut)
        .await
        .map_err(|_| UpstreamError::Timeout(what))
}

/// Bodies up to this size go out in the same write as the request head.
const COALESCE_BODY: usize = 64 * 1024;

/// Sends the request. HTTP/1.1 requests with a small body are written as ONE buffer (head and
/// body): pingora's h1 client flushes the head by itself before the body, which costs a
/// second `sendto` per request and makes the provider read twice. The session is rebuilt on
/// the same stream afterwards, exactly as the pool builds one for a reused connection.
async fn write_request(
    session: HttpSession,
    header: RequestHeader,
    body: Bytes,
) -> pingora::Result<HttpSession> {
    use pingora::protocols::http::v1::client::{http_req_header_to_wire, HttpSession as H1};
    use pingora::{ErrorType, OrErr};
    use tokio::io::AsyncWriteExt;
    match session {
        HttpSession::H1(h1) if body.len() <= COALESCE_BODY => {
            let mut wire = http_req_header_to_wire(&header).ok_or_else(|| {
                pingora::Error::explain(ErrorType::InvalidHTTPHeader, "request head")
            })?;
            wire.extend_from_slice(&body);
            let mut stream = h1.into_inner();
            stream
                .write_all(&wire)
                .await
                .or_err(ErrorType::WriteError, "writing request")?;
            stream
                .flush()
                .await
                .or_err(ErrorType::WriteError, "flushing request")?;
            Ok(HttpSession::H1(H1::new(stream)))
        }
        mut session => {
            session.write_request_header(Box::new(header)).await?;
            if !body.is_empty() {
                session.write_request_body(body, true).await?;
            }
            session.finish_request_body().await?;
            Ok(session)
        }
    }
}

fn build_header(base: &BaseUrl, req: &UpstreamRequest) -> Result<RequestHeader, UpstreamError> {
    let bad = |_| UpstreamError::Connect("invalid request header");
    let mut h = RequestHeader::build(req.method, req.path.as_bytes(), Some(req.headers.len() + 4))
        .map_err(bad)?;
    h.insert_header(http::header::HOST, base.host_header())
        .map_err(bad)?;
    for (name, value) in &req.headers {
        h.insert_header(name.clone(), value.clone()).map_err(bad)?;
    }
    if req.method != "GET" || !req.body.is_empty() {
        h.insert_header(http::header::CONTENT_LENGTH, req.body.len().to_string())
            .map_err(bad)?;
    }
    Ok(h)
}

fn connect_reason(e: &pingora::ErrorType) -> &'static str {
    use pingora::ErrorType::*;
    match e {
        ConnectTimedout => "connect timeout",
        ConnectRefused => "connection refused",
        ConnectNoRoute => "no route to host",
        TLSHandshakeFailure | TLSHandshakeTimedout | InvalidCert | HandshakeError => {
            "TLS handshake failed"
        }
        _ => "connect error",
    }
}
