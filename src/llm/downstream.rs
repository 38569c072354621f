//! The client side of an exchange, as the LLM pipeline sees it.
//!
//! Owns: the `Downstream` trait (read the request body, write a response head and body
//! chunks) and `ResponseHead`. `proxy/` implements it on pingora's session; tests can
//! implement it in memory. Must not: name pingora types.

use async_trait::async_trait;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};

/// The client went away (or its connection failed) while we read or wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientGone;

/// A response head to send.
#[derive(Debug, Clone)]
pub struct ResponseHead {
    pub status: u16,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// `Some(n)`: a Content-Length body of n bytes; `None`: chunked (streams).
    pub body_len: Option<usize>,
}

impl ResponseHead {
    /// A JSON response of `len` bytes.
    pub fn json(status: u16, len: usize) -> Self {
        ResponseHead {
            status,
            headers: vec![(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body_len: Some(len),
        }
    }

    /// A Server-Sent Events stream.
    pub fn event_stream() -> Self {
        ResponseHead {
            status: 200,
            headers: vec![
                (
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("text/event-stream"),
                ),
                (
                    http::header::CACHE_CONTROL,
                    HeaderValue::from_static("no-cache"),
                ),
                // Tell buffering proxies in front of us (nginx) to pass events through.
                (
                    HeaderName::from_static("x-accel-buffering"),
                    HeaderValue::from_static("no"),
                ),
            ],
            body_len: None,
        }
    }
}

/// The downstream (client) half of one request.
#[async_trait]
pub trait Downstream: Send {
    fn method(&self) -> &str;
    /// Path and query as received.
    fn path(&self) -> &str;
    fn headers(&self) -> &HeaderMap;
    /// Next request body chunk; `None` at the end.
    async fn read_body(&mut self) -> Result<Option<Bytes>, ClientGone>;
    /// Answers `Expect: 100-continue`.
    async fn send_continue(&mut self) -> Result<(), ClientGone>;
    async fn write_head(&mut self, head: ResponseHead) -> Result<(), ClientGone>;
    /// Writes (and flushes) one body chunk; `end` finishes the response.
    async fn write_body(&mut self, data: Bytes, end: bool) -> Result<(), ClientGone>;
    /// The connection must not be reused (e.g. the request body was not read to its end).
    fn close_after_response(&mut self);
    /// The client's IP address (for `subject: client_ip` quotas), when known.
    fn client_ip(&self) -> Option<std::net::IpAddr> {
        None
    }
    /// The gateway's prompt token estimate, once known: for adapters that must report input
    /// tokens before the provider does (Anthropic's `message_start`). Ignored by default.
    fn prompt_estimate(&mut self, _tokens: u64) {}
}
