//! OpenAI and every OpenAI-compatible server (vLLM, Ollama /v1, llama.cpp, Groq, ...).
//!
//! Owns: the upstream request for an OpenAI-shaped body: path under the provider's base URL,
//! provider credentials, configured extra headers. The body passes through as the client sent
//! it (only `model` was rewritten by the caller, and the preset's quirks applied by
//! `providers::compat` when one applies). Must not: forward the client's credentials.

use bytes::Bytes;
use http::{HeaderName, HeaderValue};

use crate::config::OpenAiProvider;
use crate::llm::request::RequestHead;
use crate::llm::route::Route;
use crate::upstream::UpstreamRequest;

const USER_AGENT: &str = concat!("tollgate/", env!("CARGO_PKG_VERSION"));

/// Builds the upstream request for a POST route.
pub fn build_request(
    p: &OpenAiProvider,
    route: &Route,
    head: &RequestHead,
    body: Bytes,
) -> UpstreamRequest {
    let mut headers: Vec<(HeaderName, HeaderValue)> = Vec::with_capacity(6 + p.headers.len());
    headers.push((
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    ));
    let accept = if head.stream {
        "text/event-stream"
    } else {
        "application/json"
    };
    headers.push((http::header::ACCEPT, HeaderValue::from_static(accept)));
    // Compressed SSE could not be split into events; ask for identity.
    headers.push((
        http::header::ACCEPT_ENCODING,
        HeaderValue::from_static("identity"),
    ));
    headers.push((
        http::header::USER_AGENT,
        HeaderValue::from_static(USER_AGENT),
    ));
    if let Some(key) = &p.api_key {
        if let Ok(v) = HeaderValue::from_str(&format!("Bearer {}", key.expose())) {
            let mut v = v;
            v.set_sensitive(true);
            headers.push((http::header::AUTHORIZATION, v));
        }
    }
    headers.extend(p.headers.iter().cloned());
    UpstreamRequest {
        method: "POST",
        path: format!("{}{}", p.base_url.path, route.upstream_suffix()),
        headers,
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{BaseUrl, Secret, Timeouts};

    #[test]
    fn injects_provider_key_and_path() {
        let p = OpenAiProvider {
            base_url: BaseUrl {
                tls: true,
                host: "api.openai.com".into(),
                port: 443,
                path: "/v1".into(),
            },
            api_key: Some(Secret::new("sk-prov")),
            headers: vec![(
                HeaderName::from_static("openai-organization"),
                HeaderValue::from_static("org-1"),
            )],
            timeouts: Timeouts::default(),
            health_check: None,
            stream_usage: true,
            preset: &crate::providers::compat::OPENAI,
        };
        let head = RequestHead {
            model: "m".into(),
            model_span: 0..0,
            stream: true,
            include_usage: false,
            max_tokens: None,
            stream_options_span: None,
        };
        let r = build_request(
            &p,
            &Route::ChatCompletions,
            &head,
            Bytes::from_static(b"{}"),
        );
        assert_eq!(r.path, "/v1/chat/completions");
        let get = |n: &str| {
            r.headers
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.to_str().unwrap().to_owned())
        };
        assert_eq!(get("authorization").as_deref(), Some("Bearer sk-prov"));
        assert_eq!(get("accept").as_deref(), Some("text/event-stream"));
        assert_eq!(get("openai-organization").as_deref(), Some("org-1"));
    }
}
