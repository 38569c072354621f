//! The HTTP request for a `kind: anthropic` target: `POST {base_url}/v1/messages` with the
//! provider's `x-api-key` and `anthropic-version`, and the client's OpenAI chat body encoded
//! as a Messages request (providers.md §3.1).
//!
//! Owns: the upstream path, headers and body for one attempt. Must not: do I/O, forward any
//! client credential, or add `stream_options` (Anthropic streams always carry usage).

use bytes::Bytes;
use http::{HeaderName, HeaderValue};

use super::anthropic::{
    decode_error, decode_response, encode_request, EncodeOptions, ToOpenAiStream, TranslateError,
    MESSAGES_PATH,
};
use super::translate::{
    DecodeOptions, ProviderError, ResponseCodec, StreamOptions, StreamSummary, StreamTranslator,
};
use crate::config::AnthropicProvider;
use crate::upstream::UpstreamRequest;

const USER_AGENT: &str = concat!("tollgate/", env!("CARGO_PKG_VERSION"));

/// Builds the upstream request from the client's original chat body; `model` is the
/// target's provider model name.
pub fn build_request(
    p: &AnthropicProvider,
    client_body: &[u8],
    model: &str,
    stream: bool,
) -> Result<UpstreamRequest, TranslateError> {
    let opts = EncodeOptions {
        model: model.to_owned(),
        default_max_tokens: p.default_max_tokens,
    };
    let body = encode_request(client_body, &opts)?;
    Ok(UpstreamRequest {
        method: "POST",
        path: format!("{}{MESSAGES_PATH}", p.base_url.path),
        headers: headers(p, stream),
        body: Bytes::from(body),
    })
}

fn headers(p: &AnthropicProvider, stream: bool) -> Vec<(HeaderName, HeaderValue)> {
    let accept = if stream {
        "text/event-stream"
    } else {
        "application/json"
    };
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
    out.extend(auth_headers(p));
    out
}

/// How Anthropic answers become OpenAI answers (for the exchange's translated relay).
pub struct AnthropicCodec;

impl ResponseCodec for AnthropicCodec {
    fn is_stream(&self, headers: &http::HeaderMap) -> bool {
        crate::sse::is_event_stream(headers)
    }

    fn decode_response(
        &self,
        body: &[u8],
        opts: &DecodeOptions,
    ) -> Result<Vec<u8>, TranslateError> {
        decode_response(body, opts)
    }

    fn decode_error(&self, status: u16, _headers: &http::HeaderMap, body: &[u8]) -> ProviderError {
        decode_error(status, body)
    }

    fn stream(&self, opts: StreamOptions) -> Box<dyn StreamTranslator> {
        Box::new(ToOpenAiStream::new(opts))
    }

    /// 529 is Anthropic's "overloaded": always worth another target.
    fn always_retry(&self, status: u16) -> bool {
        status == 529
    }
}

impl StreamTranslator for ToOpenAiStream {
    fn push(&mut self, bytes: &[u8], out: &mut Vec<bytes::Bytes>) {
        ToOpenAiStream::push(self, bytes, out);
    }

    fn finish(&mut self, out: &mut Vec<bytes::Bytes>) -> StreamSummary {
        ToOpenAiStream::finish(self, out)
    }
}

/// `x-api-key` and `anthropic-version` (also sent by the health probe).
pub fn auth_headers(p: &AnthropicProvider) -> Vec<(HeaderName, HeaderValue)> {
    let mut out = Vec::with_capacity(2);
    // Both values were checked as header values when the config was loaded; a value that
    // still fails is left out and Anthropic answers 401/400, which the client sees.
    if let Ok(mut key) = HeaderValue::from_str(p.api_key.expose()) {
        key.set_sensitive(true);
        out.push((HeaderName::from_static("x-api-key"), key));
    }
    if let Ok(v) = HeaderValue::from_str(&p.version) {
        out.push((HeaderName::from_static("anthropic-version"), v));
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
                path: String::new(),
            },
            api_key: Secret::new("sk-ant-test"),
            version: "2023-06-01".into(),
            default_max_tokens: 77,
            timeouts: Timeouts::default(),
            health_check: None,
        }
    }

    #[test]
    fn path_headers_and_body() {
        let body = br#"{"model":"alias","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"hi"}]}"#;
        let r = build_request(&provider(), body, "claude-x", false).unwrap();
        assert_eq!(r.path, "/v1/messages");
        let get = |n: &str| {
            r.headers
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.to_str().unwrap().to_owned())
        };
        assert_eq!(get("x-api-key").as_deref(), Some("sk-ant-test"));
        assert_eq!(get("anthropic-version").as_deref(), Some("2023-06-01"));
        assert_eq!(get("authorization"), None);
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["model"], "claude-x");
        assert_eq!(v["max_tokens"], 77);
        assert_eq!(v["system"], "Be brief.");
        assert!(v.get("stream_options").is_none());
    }

    #[test]
    fn untranslatable_body_is_an_error() {
        let e = build_request(&provider(), b"{", "m", false).err();
        assert_eq!(e.map(|e| e.status()), Some(400));
    }
}
