//! The HTTP request for an Anthropic-native client (the `/v1/messages` front door) on a
//! `kind: anthropic` target: the client's own Messages (or count_tokens) body, already carrying
//! the target's model, to `{base_url}/v1/messages[/count_tokens]` (providers.md §3.1, §7.5).
//!
//! Owns: the path and headers of a passthrough: the provider's `x-api-key` (never a client
//! credential), the client's `anthropic-version` when it sent one (else the configured one:
//! the client knows which API version its body is written for) and its `anthropic-beta`
//! values. Must not: do I/O, or touch the body (every byte the client sent passes, so fields
//! no translation can express - thinking, cache_control, documents, citations, server tools -
//! reach Anthropic).

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};

use super::anthropic::MESSAGES_PATH;
use crate::config::AnthropicProvider;
use crate::upstream::UpstreamRequest;

const USER_AGENT: &str = concat!("tollgate/", env!("CARGO_PKG_VERSION"));
const VERSION: &str = "anthropic-version";
const BETA: &str = "anthropic-beta";

/// Which Messages endpoint a passthrough goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /v1/messages`.
    Messages { stream: bool },
    /// `POST /v1/messages/count_tokens`.
    CountTokens,
}

/// Builds the upstream request; `body` is the client's body with the target's model.
pub fn build_request(
    p: &AnthropicProvider,
    endpoint: Endpoint,
    client: &HeaderMap,
    body: Bytes,
) -> UpstreamRequest {
    let (suffix, accept) = match endpoint {
        Endpoint::Messages { stream: true } => ("", "text/event-stream"),
        Endpoint::Messages { stream: false } => ("", "application/json"),
        Endpoint::CountTokens => ("/count_tokens", "application/json"),
    };
    UpstreamRequest {
        method: "POST",
        path: format!("{}{MESSAGES_PATH}{suffix}", p.base_url.path),
        headers: headers(p, client, accept),
        body,
    }
}

fn headers(
    p: &AnthropicProvider,
    client: &HeaderMap,
    accept: &'static str,
) -> Vec<(HeaderName, HeaderValue)> {
    let mut out = vec![
        (
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        ),
        (http::header::ACCEPT, HeaderValue::from_static(accept)),
        (
            http::header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity"),
        ),
        (
            http::header::USER_AGENT,
            HeaderValue::from_static(USER_AGENT),
        ),
    ];
    for (name, value) in super::anthropic_target::auth_headers(p) {
        match client.get(VERSION) {
            Some(v) if name == VERSION => out.push((name, v.clone())),
            _ => out.push((name, value)),
        }
    }
    // Several `anthropic-beta` lines mean one comma-separated list; every value is kept.
    for v in client.get_all(BETA) {
        out.push((HeaderName::from_static(BETA), v.clone()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{BaseUrl, Secret, Timeouts};

    fn provider() -> AnthropicProvider {
        AnthropicProvider {
            base_url: BaseUrl {
                tls: true,
                host: "api.anthropic.com".into(),
                port: 443,
                path: "/proxy".into(),
            },
            api_key: Secret::new("sk-ant-test"),
            version: "2023-06-01".into(),
            default_max_tokens: 77,
            timeouts: Timeouts::default(),
            health_check: None,
        }
    }

    fn values<'a>(r: &'a UpstreamRequest, name: &str) -> Vec<&'a str> {
        r.headers
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.to_str().unwrap())
            .collect()
    }

    #[test]
    fn provider_key_client_version_and_betas() {
        let mut client = HeaderMap::new();
        client.insert("x-api-key", HeaderValue::from_static("sk-virtual"));
        client.insert(
            "authorization",
            HeaderValue::from_static("Bearer sk-virtual"),
        );
        client.insert(VERSION, HeaderValue::from_static("2026-10-21"));
        client.append(BETA, HeaderValue::from_static("a-2025"));
        client.append(BETA, HeaderValue::from_static("b-2025"));
        let body = Bytes::from_static(br#"{"model":"claude-x", "thinking":{}}"#);
        let r = build_request(
            &provider(),
            Endpoint::Messages { stream: true },
            &client,
            body.clone(),
        );
        assert_eq!(r.path, "/proxy/v1/messages");
        assert_eq!(r.body, body);
        assert_eq!(values(&r, "x-api-key"), ["sk-ant-test"]);
        assert_eq!(values(&r, "authorization"), Vec::<&str>::new());
        assert_eq!(values(&r, VERSION), ["2026-10-21"]);
        assert_eq!(values(&r, BETA), ["a-2025", "b-2025"]);
        assert_eq!(values(&r, "accept"), ["text/event-stream"]);
    }

    #[test]
    fn configured_version_without_the_clients() {
        let r = build_request(
            &provider(),
            Endpoint::CountTokens,
            &HeaderMap::new(),
            Bytes::new(),
        );
        assert_eq!(r.path, "/proxy/v1/messages/count_tokens");
        assert_eq!(values(&r, VERSION), ["2023-06-01"]);
        assert!(values(&r, BETA).is_empty());
    }
}
