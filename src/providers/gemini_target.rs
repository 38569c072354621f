//! The HTTP request for a `kind: gemini` target: `POST {base}/{version}/models/{model}:
//! generateContent` (or `:streamGenerateContent?alt=sse`, or `:batchEmbedContents` for
//! embeddings) with the provider's key in `x-goog-api-key`, and the client's OpenAI body
//! encoded for Gemini (providers.md §4.1).
//!
//! Owns: the upstream path, headers and body for one attempt, and [`GeminiCodec`]. Must not: do
//! I/O, forward any client credential, or put the key in the URL (`?key=` would land in access
//! logs and error messages).

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderName, HeaderValue};

use super::gemini::{self, GeminiStream};
use super::translate::{
    DecodeOptions, EmbeddingsOptions, ProviderError, ResponseCodec, StreamOptions, StreamSummary,
    StreamTranslator, TranslateError,
};
use crate::balance::retry_after;
use crate::config::GeminiProvider;
use crate::upstream::UpstreamRequest;

const USER_AGENT: &str = concat!("tollgate/", env!("CARGO_PKG_VERSION"));

/// Builds the chat request from the client's original OpenAI body; `model` is the target's
/// provider model name (with or without the `models/` prefix).
pub fn build_request(
    p: &GeminiProvider,
    client_body: &[u8],
    model: &str,
    stream: bool,
) -> Result<UpstreamRequest, TranslateError> {
    let body = gemini::encode_request(client_body)?;
    let method = if stream {
        "streamGenerateContent?alt=sse"
    } else {
        "generateContent"
    };
    Ok(UpstreamRequest {
        method: "POST",
        path: model_path(p, model, method)?,
        headers: headers(p, stream),
        body: Bytes::from(body),
    })
}

/// Builds the `batchEmbedContents` request from the client's OpenAI embeddings body.
pub fn build_embeddings_request(
    p: &GeminiProvider,
    client_body: &[u8],
    model: &str,
) -> Result<UpstreamRequest, TranslateError> {
    let name = model.strip_prefix("models/").unwrap_or(model);
    let body = gemini::encode_embeddings(client_body, name)?;
    Ok(UpstreamRequest {
        method: "POST",
        path: model_path(p, model, "batchEmbedContents")?,
        headers: headers(p, false),
        body: Bytes::from(body),
    })
}

/// `{base}/{version}/models/{model}:{method}`. The model name comes from config, but is
/// checked anyway: it is spliced into a URL path.
fn model_path(p: &GeminiProvider, model: &str, method: &str) -> Result<String, TranslateError> {
    let name = model.strip_prefix("models/").unwrap_or(model);
    let safe = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@'));
    if !safe {
        return Err(TranslateError::Invalid(format!(
            "The model name '{name}' cannot be used in a Gemini URL."
        )));
    }
    Ok(format!("{}/models/{name}:{method}", p.api_root()))
}

fn headers(p: &GeminiProvider, stream: bool) -> Vec<(HeaderName, HeaderValue)> {
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

/// `x-goog-api-key` (also sent by the health probe).
pub fn auth_headers(p: &GeminiProvider) -> Vec<(HeaderName, HeaderValue)> {
    // Checked as a header value when the config was loaded; a value that still fails is left
    // out and Gemini answers 400/403, which the client sees.
    match HeaderValue::from_str(p.api_key.expose()) {
        Ok(mut key) => {
            key.set_sensitive(true);
            vec![(HeaderName::from_static("x-goog-api-key"), key)]
        }
        Err(_) => Vec::new(),
    }
}

/// How Gemini answers become OpenAI answers (for the exchange's translated relay).
pub struct GeminiCodec;

impl ResponseCodec for GeminiCodec {
    fn is_stream(&self, headers: &http::HeaderMap) -> bool {
        crate::sse::is_event_stream(headers)
    }

    fn decode_response(
        &self,
        body: &[u8],
        opts: &DecodeOptions,
    ) -> Result<Vec<u8>, TranslateError> {
        gemini::decode_response(body, opts)
    }

    fn decode_error(&self, status: u16, _headers: &http::HeaderMap, body: &[u8]) -> ProviderError {
        gemini::decode_error(status, body)
    }

    fn stream(&self, opts: StreamOptions) -> Box<dyn StreamTranslator> {
        Box::new(GeminiStream::new(opts))
    }

    fn decode_embeddings(
        &self,
        body: &[u8],
        opts: &EmbeddingsOptions,
    ) -> Result<Vec<u8>, TranslateError> {
        gemini::decode_embeddings(body, opts)
    }

    /// Gemini puts the delay in the body (`RetryInfo.retryDelay`), which the breaker already
    /// reads; the client gets it as `Retry-After`.
    fn retry_after(&self, status: u16, body: &[u8]) -> Option<Duration> {
        let none = http::HeaderMap::new();
        // No cap here: the client gets what Gemini asked for.
        retry_after::hint(status, &none, body, SystemTime::UNIX_EPOCH, Duration::MAX)
            .filter(|h| h.source == retry_after::HintSource::GeminiRetryInfo)
            .map(|h| h.delay)
    }
}

impl StreamTranslator for GeminiStream {
    fn push(&mut self, bytes: &[u8], out: &mut Vec<Bytes>) {
        GeminiStream::push(self, bytes, out);
    }

    fn finish(&mut self, out: &mut Vec<Bytes>) -> StreamSummary {
        GeminiStream::finish(self, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{BaseUrl, Secret, Timeouts};

    fn provider() -> GeminiProvider {
        GeminiProvider {
            base_url: BaseUrl {
                tls: true,
                host: "generativelanguage.googleapis.com".into(),
                port: 443,
                path: String::new(),
            },
            api_key: Secret::new("AIza-test"),
            api_version: "v1beta".into(),
            timeouts: Timeouts::default(),
            health_check: None,
        }
    }

    fn header(r: &UpstreamRequest, n: &str) -> Option<String> {
        r.headers
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.to_str().unwrap().to_owned())
    }

    #[test]
    fn paths_headers_and_no_key_in_the_url() {
        let body = br#"{"model":"alias","messages":[{"role":"user","content":"hi"}]}"#;
        let r = build_request(&provider(), body, "gemini-2.5-flash", false).unwrap();
        assert_eq!(r.path, "/v1beta/models/gemini-2.5-flash:generateContent");
        assert_eq!(header(&r, "x-goog-api-key").as_deref(), Some("AIza-test"));
        assert_eq!(header(&r, "authorization"), None);
        let s = build_request(&provider(), body, "models/gemini-2.5-flash", true).unwrap();
        assert_eq!(
            s.path,
            "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
        );
        assert_eq!(header(&s, "accept").as_deref(), Some("text/event-stream"));
        assert!(!s.path.contains("AIza"));
        let e = build_embeddings_request(&provider(), br#"{"input":"x"}"#, "text-embedding-004")
            .unwrap();
        assert_eq!(
            e.path,
            "/v1beta/models/text-embedding-004:batchEmbedContents"
        );
        let v: serde_json::Value = serde_json::from_slice(&e.body).unwrap();
        assert_eq!(v["requests"][0]["model"], "models/text-embedding-004");
    }

    #[test]
    fn bad_bodies_and_model_names_are_400s() {
        let body = br#"{"messages":[{"role":"user","content":"hi"}]}"#;
        for model in ["", "a/b", "x?key=1", "m m"] {
            let e = build_request(&provider(), body, model, false).err();
            assert_eq!(e.map(|e| e.status()), Some(400), "{model}");
        }
        assert_eq!(
            build_request(&provider(), b"{", "m", false)
                .err()
                .map(|e| e.status()),
            Some(400)
        );
    }

    #[test]
    fn retry_info_becomes_a_client_delay() {
        let body = br#"{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"27.4s"}]}}"#;
        assert_eq!(
            GeminiCodec.retry_after(429, body),
            Some(Duration::from_millis(27_400))
        );
        assert_eq!(GeminiCodec.retry_after(429, b"{}"), None);
    }
}
