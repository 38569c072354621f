//! The admin listener: `/metrics` (Prometheus text), `/healthz` (the process answers) and
//! `/readyz` (the gateway serves traffic; 503 once a graceful shutdown started, or while a
//! model group has no target whose provider passes its active health check).
//!
//! Owns: the admin routes. Must not: serve gateway traffic or expose secrets.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use http::{Response, StatusCode};
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;

use crate::observe::Metrics;

/// Whether the data plane accepts traffic (flipped off at shutdown).
#[derive(Debug, Default)]
pub struct Readiness(AtomicBool);

impl Readiness {
    pub fn set(&self, ready: bool) {
        self.0.store(ready, Ordering::SeqCst);
    }
    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

pub struct AdminApp {
    pub metrics: Arc<Metrics>,
    pub readiness: Arc<Readiness>,
    /// The gateway served now (an in-process reload swaps it).
    pub gateway: crate::proxy::Live<crate::llm::Gateway>,
}

fn text(status: StatusCode, content_type: &str, body: Vec<u8>) -> Response<Vec<u8>> {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    if let Ok(v) = http::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    let len = r.body().len();
    r.headers_mut()
        .insert(http::header::CONTENT_LENGTH, len.into());
    r
}

#[async_trait]
impl ServeHttp for AdminApp {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let path = session.req_header().uri.path().to_owned();
        let is_get = matches!(session.req_header().method.as_str(), "GET" | "HEAD");
        if !is_get {
            return text(
                StatusCode::METHOD_NOT_ALLOWED,
                "text/plain",
                b"method not allowed\n".to_vec(),
            );
        }
        match path.as_str() {
            "/metrics" => text(
                StatusCode::OK,
                "text/plain; version=0.0.4",
                self.metrics.render(),
            ),
            "/healthz" => text(StatusCode::OK, "text/plain", b"ok\n".to_vec()),
            "/readyz" if self.readiness.is_ready() => {
                let gw = self.gateway.load();
                let down = gw.balancer.groups_without_healthy_target(&gw.config);
                if down.is_empty() {
                    text(StatusCode::OK, "text/plain", b"ready\n".to_vec())
                } else {
                    let msg = format!(
                        "not ready: no healthy target for model {}\n",
                        down.join(", ")
                    );
                    text(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "text/plain",
                        msg.into_bytes(),
                    )
                }
            }
            "/readyz" => text(
                StatusCode::SERVICE_UNAVAILABLE,
                "text/plain",
                b"not ready\n".to_vec(),
            ),
            _ => text(StatusCode::NOT_FOUND, "text/plain", b"not found\n".to_vec()),
        }
    }
}
