//! Azure OpenAI (`kind: azure_openai`): OpenAI's wire format on Azure's URLs.
//!
//! Owns: the upstream request of one attempt: the deployment URL with its `api-version`
//! (classic) or the `/openai/v1` path (v1 surface), the `api-key` header or an Entra bearer
//! token, configured extra headers. Bodies and answers are OpenAI's: the body passes through
//! (model already set by the caller; quirks applied by `providers::compat` with the `AZURE`
//! row), and answers are relayed untranslated, Azure's `prompt_filter_results` and
//! `content_filter_results` included. Must not: forward the client's credentials.

use bytes::Bytes;
use http::{HeaderName, HeaderValue};

use crate::config::{AzureApi, AzureAuth, AzureProvider};
use crate::llm::route::Route;
use crate::upstream::UpstreamRequest;

const USER_AGENT: &str = concat!("tollgate/", env!("CARGO_PKG_VERSION"));

/// The path (and query) of `route` for `model` (the deployment name on classic URLs).
pub fn path(p: &AzureProvider, route: &Route, model: &str) -> String {
    let base = &p.base_url.path;
    let suffix = route.upstream_suffix();
    match &p.api {
        AzureApi::V1 => format!("{base}/openai/v1{suffix}"),
        AzureApi::Dated(version) => {
            let deployment = encode_segment(model);
            format!("{base}/openai/deployments/{deployment}{suffix}?api-version={version}")
        }
    }
}

/// The credential header (`api-key`, or `Authorization: Bearer` for an Entra token) and the
/// configured extra headers: what every request and health probe carries.
pub fn auth_headers(p: &AzureProvider) -> Vec<(HeaderName, HeaderValue)> {
    let mut headers = Vec::with_capacity(1 + p.headers.len());
    let (name, value) = match &p.auth {
        AzureAuth::ApiKey(k) => (
            HeaderName::from_static("api-key"),
            HeaderValue::from_str(k.expose()),
        ),
        AzureAuth::Bearer(t) => (
            http::header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {}", t.expose())),
        ),
    };
    // Validated at config load; a value that cannot be a header is left out, never logged.
    if let Ok(mut v) = value {
        v.set_sensitive(true);
        headers.push((name, v));
    }
    headers.extend(p.headers.iter().cloned());
    headers
}

/// Builds the upstream request for a POST route.
pub fn build_request(
    p: &AzureProvider,
    route: &Route,
    model: &str,
    stream: bool,
    body: Bytes,
) -> UpstreamRequest {
    let mut headers: Vec<(HeaderName, HeaderValue)> = Vec::with_capacity(6 + p.headers.len());
    headers.push((
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    ));
    let accept = if stream {
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
    headers.extend(auth_headers(p));
    UpstreamRequest {
        method: "POST",
        path: path(p, route, model),
        headers,
        body,
    }
}

/// Percent-encodes a deployment name for one path segment (Azure names are letters, digits,
/// `-`, `_` and `.`; anything else must not be able to change the path).
fn encode_segment(s: &str) -> std::borrow::Cow<'_, str> {
    let safe = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~');
    if s.bytes().all(safe) && s != "." && s != ".." {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if safe(b) && b != b'.' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{BaseUrl, Secret, Timeouts};

    fn provider(api: AzureApi, auth: AzureAuth) -> AzureProvider {
        AzureProvider {
            base_url: BaseUrl {
                tls: true,
                host: "res.openai.azure.com".into(),
                port: 443,
                path: String::new(),
            },
            auth,
            api,
            headers: Vec::new(),
            timeouts: Timeouts::default(),
            health_check: None,
            stream_usage: true,
        }
    }

    fn header(r: &UpstreamRequest, n: &str) -> Option<String> {
        r.headers
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.to_str().unwrap().to_owned())
    }

    #[test]
    fn classic_urls_name_the_deployment_and_version() {
        let p = provider(
            AzureApi::Dated("2024-10-21".into()),
            AzureAuth::ApiKey(Secret::new("k1")),
        );
        let r = build_request(
            &p,
            &Route::ChatCompletions,
            "gpt-4o-prod",
            true,
            Bytes::new(),
        );
        assert_eq!(
            r.path,
            "/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21"
        );
        assert_eq!(header(&r, "api-key").as_deref(), Some("k1"));
        assert_eq!(header(&r, "authorization"), None);
        assert_eq!(header(&r, "accept").as_deref(), Some("text/event-stream"));
        assert_eq!(
            path(&p, &Route::Embeddings, "emb"),
            "/openai/deployments/emb/embeddings?api-version=2024-10-21"
        );
        assert_eq!(
            path(&p, &Route::Completions, "a/../b?x"),
            "/openai/deployments/a%2F%2E%2E%2Fb%3Fx/completions?api-version=2024-10-21"
        );
        assert_eq!(
            path(&p, &Route::Completions, ".."),
            "/openai/deployments/%2E%2E/completions?api-version=2024-10-21"
        );
    }

    #[test]
    fn v1_has_no_version_and_entra_tokens_are_bearer() {
        let mut p = provider(AzureApi::V1, AzureAuth::Bearer(Secret::new("tok")));
        p.base_url.path = "/apim".into();
        let r = build_request(&p, &Route::ChatCompletions, "gpt-4o", false, Bytes::new());
        assert_eq!(r.path, "/apim/openai/v1/chat/completions");
        assert_eq!(
            path(&p, &Route::Responses, "gpt-4o"),
            "/apim/openai/v1/responses"
        );
        assert_eq!(header(&r, "authorization").as_deref(), Some("Bearer tok"));
        assert_eq!(header(&r, "api-key"), None);
        assert!(r
            .headers
            .iter()
            .all(|(k, v)| k != "authorization" || v.is_sensitive()));
    }
}
