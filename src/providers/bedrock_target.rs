//! The HTTP request for a `kind: bedrock` target: `POST {base_url}/model/{modelId}/converse`
//! (or `/converse-stream`), the client's OpenAI chat body encoded as a Converse request, and
//! an AWS SigV4 signature (service `bedrock`) made by the `aws-sigv4` crate for this exact
//! body and time (providers.md §5.1).
//!
//! Owns: the path (the model id percent-encoded as the AWS SDKs encode a path label; the
//! signer encodes it once more for the canonical URI), the signed headers, and
//! [`BedrockCodec`]. Must not: read the clock (the caller passes `now`, so a signature is made
//! per attempt and tests can fix it), forward any client credential, or put a credential in
//! an error or log line.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::bedrock::{decode_error, decode_response, encode_request, ToOpenAiStream};
use super::translate::{
    DecodeOptions, ProviderError, ResponseCodec, StreamOptions, StreamSummary, StreamTranslator,
    TranslateError,
};
use crate::config::BedrockProvider;
use crate::upstream::UpstreamRequest;

const USER_AGENT: &str = concat!("tollgate/", env!("CARGO_PKG_VERSION"));
/// The SigV4 service name of bedrock-runtime (not `bedrock-runtime`).
const SIGNING_NAME: &str = "bedrock";
pub const EVENT_STREAM: &str = "application/vnd.amazon.eventstream";

/// Everything but RFC 3986 unreserved characters, as the SDKs encode a `{modelId}` label:
/// `:` → `%3A`, `/` (in ARNs) → `%2F`.
const LABEL: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Why a request could not be signed (a configuration the loader let through, e.g. a region
/// that makes an invalid URI). Reported without any credential.
#[derive(Debug, thiserror::Error)]
#[error("could not sign the Bedrock request: {0}")]
pub struct SignError(String);

/// Builds and signs the upstream request from the client's original chat body; `model` is
/// the target's Bedrock model id (or inference profile id, or ARN).
pub fn build_request(
    p: &BedrockProvider,
    client_body: &[u8],
    model: &str,
    stream: bool,
    now: SystemTime,
) -> Result<UpstreamRequest, BuildError> {
    let body = encode_request(client_body)?;
    let op = if stream {
        "converse-stream"
    } else {
        "converse"
    };
    let path = format!(
        "{}/model/{}/{op}",
        p.base_url.path,
        utf8_percent_encode(model, LABEL)
    );
    let accept = if stream {
        EVENT_STREAM
    } else {
        "application/json"
    };
    let host = p.base_url.host_header();
    let mut headers = vec![
        (
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        ),
        (http::header::ACCEPT, HeaderValue::from_static(accept)),
    ];
    headers.extend(signature(p, &host, &path, &headers, &body, now)?);
    headers.push((
        http::header::USER_AGENT,
        HeaderValue::from_static(USER_AGENT),
    ));
    Ok(UpstreamRequest {
        method: "POST",
        path,
        headers,
        body: Bytes::from(body),
    })
}

/// A request that cannot be translated (the client's fault) or signed (the config's).
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Translate(#[from] TranslateError),
    #[error(transparent)]
    Sign(#[from] SignError),
}

/// The SigV4 headers (`x-amz-date`, `authorization`, `x-amz-security-token`) for a POST of
/// `body` to `path` with `headers` (all signed, with `host`).
pub fn signature(
    p: &BedrockProvider,
    host: &str,
    path: &str,
    headers: &[(HeaderName, HeaderValue)],
    body: &[u8],
    now: SystemTime,
) -> Result<Vec<(HeaderName, HeaderValue)>, SignError> {
    let err = |e: &dyn std::fmt::Display| SignError(e.to_string());
    let identity = Credentials::new(
        p.access_key_id.expose(),
        p.secret_access_key.expose(),
        p.session_token.as_ref().map(|t| t.expose().to_owned()),
        None,
        "tollgate-config",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&p.region)
        .name(SIGNING_NAME)
        .time(now)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| err(&e))?
        .into();
    let scheme = if p.base_url.tls { "https" } else { "http" };
    let mut signed: Vec<(&str, &str)> = vec![("host", host)];
    for (k, v) in headers {
        signed.push((k.as_str(), v.to_str().map_err(|e| err(&e))?));
    }
    let req = SignableRequest::new(
        "POST",
        format!("{scheme}://{host}{path}"),
        signed.into_iter(),
        SignableBody::Bytes(body),
    )
    .map_err(|e| err(&e))?;
    let (instructions, _) = sign(req, &params).map_err(|e| err(&e))?.into_parts();
    let (out, _) = instructions.into_parts();
    out.into_iter()
        .map(|h| {
            let name = HeaderName::from_static(h.name());
            let mut value = HeaderValue::from_str(h.value()).map_err(|e| err(&e))?;
            value.set_sensitive(h.sensitive() || name == http::header::AUTHORIZATION);
            Ok((name, value))
        })
        .collect()
}

/// Completion ids for answers that carry none: unique in this process, cheap, no clock.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn completion_id(created: u64) -> String {
    let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    format!("chatcmpl-bedrock-{created:x}{n:06x}")
}

/// How Bedrock answers become OpenAI answers (for the exchange's translated relay).
pub struct BedrockCodec;

impl ResponseCodec for BedrockCodec {
    fn is_stream(&self, headers: &http::HeaderMap) -> bool {
        headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().starts_with(EVENT_STREAM))
    }

    fn decode_response(
        &self,
        body: &[u8],
        opts: &DecodeOptions,
    ) -> Result<Vec<u8>, TranslateError> {
        decode_response(body, opts, completion_id(opts.created))
    }

    fn decode_error(&self, status: u16, headers: &http::HeaderMap, body: &[u8]) -> ProviderError {
        decode_error(status, headers, body)
    }

    fn stream(&self, opts: StreamOptions) -> Box<dyn StreamTranslator> {
        let id = completion_id(opts.created);
        Box::new(ToOpenAiStream::new(opts, id))
    }

    /// Converse answers name no model.
    fn reports_model(&self) -> bool {
        false
    }
}

impl StreamTranslator for ToOpenAiStream {
    fn push(&mut self, bytes: &[u8], out: &mut Vec<Bytes>) {
        ToOpenAiStream::push(self, bytes, out);
    }

    fn finish(&mut self, out: &mut Vec<Bytes>) -> StreamSummary {
        ToOpenAiStream::finish(self, out)
    }
}

#[cfg(test)]
#[path = "bedrock_target_tests.rs"]
mod tests;
