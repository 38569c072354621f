//! `providers.<name>` with `kind: azure_openai`.
//!
//! Owns: the Azure checks: the resource endpoint (no `/openai` suffix: the gateway adds the
//! path), exactly one credential (`api_key` or an Entra `bearer_token`), the URL scheme
//! (`api_version: <date>` for deployment URLs, `api_version: v1` or `v1: true` for the v1
//! surface), and the default health-check path of each. Must not: open connections.

use http::HeaderValue;

use super::error::Diagnostics;
use super::model::{AzureApi, AzureAuth, AzureProvider, Secret, Timeouts};
use super::path::YamlPath;
use super::providers::headers;
use super::raw::RawAzure;
use super::url::parse_base_url;
use super::validate::{timeouts, Context};

/// A GA api-version that every current chat, embeddings and `stream_options` feature works
/// with (providers.md §2.1); set `api_version` for newer features.
pub const DEFAULT_API_VERSION: &str = "2024-10-21";

pub(crate) fn azure(
    raw: RawAzure,
    path: &YamlPath,
    defaults: &Timeouts,
    cx: &Context<'_>,
    d: &mut Diagnostics<'_>,
) -> Option<AzureProvider> {
    let url_path = path.key("base_url");
    let base_url = match raw.base_url.as_deref() {
        None => {
            d.at(
                path,
                "missing field `base_url` (the resource endpoint, e.g. https://RESOURCE.openai.azure.com)",
            );
            None
        }
        Some(url) => parse_base_url(url)
            .map_err(|m| d.at(&url_path, m))
            .ok()
            .filter(|b| {
                let bad = b.path.ends_with("/openai") || b.path.contains("/openai/");
                if bad {
                    d.at(
                        &url_path,
                        "base_url is the resource endpoint (https://RESOURCE.openai.azure.com) without `/openai`: the gateway adds the deployment or v1 path",
                    );
                }
                !bad
            }),
    };
    let auth = auth(&raw, path, cx, d);
    let api = match (raw.api_version.as_deref(), raw.v1) {
        (Some(v), Some(flag)) if (v == "v1") != flag => {
            d.at(
                &path.key("v1"),
                "`v1` contradicts `api_version`: use `api_version: v1` (or `v1: true`) for the v1 surface, or a dated api_version",
            );
            None
        }
        (Some("v1"), _) | (None, Some(true)) => Some(AzureApi::V1),
        (Some(v), _) => {
            let ok = !v.is_empty()
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
            if !ok {
                d.at(
                    &path.key("api_version"),
                    format!("api_version must look like `{DEFAULT_API_VERSION}` (or be `v1`), found {v:?}"),
                );
            }
            ok.then(|| AzureApi::Dated(v.to_owned()))
        }
        (None, _) => Some(AzureApi::Dated(DEFAULT_API_VERSION.to_owned())),
    };
    let hdr_path = path.key("headers");
    let headers = headers(&raw.headers, &hdr_path, cx, d).filter(|h| {
        let own = h.iter().any(|(n, _)| n.as_str() == "api-key");
        if own {
            d.at_key(
                &hdr_path.key("api-key"),
                "header `api-key` is set by the gateway and cannot be configured; use `api_key` instead",
            );
        }
        !own
    });
    let timeouts = match &raw.timeouts {
        Some(t) => timeouts(t, *defaults, &path.key("timeouts"), d),
        None => Some(*defaults),
    };
    let default_hc = match &api {
        Some(AzureApi::Dated(v)) => format!("/openai/models?api-version={v}"),
        _ => "/openai/v1/models".to_owned(),
    };
    let health_check = match &raw.health_check {
        Some(h) => {
            super::resilience::health_check(h, &path.key("health_check"), &default_hc, d).map(Some)
        }
        None => Some(None),
    };
    Some(AzureProvider {
        base_url: base_url?,
        auth: auth?,
        api: api?,
        headers: headers?,
        timeouts: timeouts?,
        health_check: health_check?,
        stream_usage: raw.stream_usage.unwrap_or(true),
    })
}

fn auth(
    raw: &RawAzure,
    path: &YamlPath,
    cx: &Context<'_>,
    d: &mut Diagnostics<'_>,
) -> Option<AzureAuth> {
    let secret = |field: &str, v: &str, d: &mut Diagnostics<'_>| {
        let p = path.key(field);
        if v.is_empty() {
            let from = if cx.substituted.contains(&p) {
                " (after env interpolation)"
            } else {
                ""
            };
            d.at(&p, format!("{field} is empty{from}"));
            None
        } else if HeaderValue::from_str(v).is_err() {
            d.at(
                &p,
                format!("{field} holds characters not allowed in a header"),
            );
            None
        } else {
            Some(Secret::new(v))
        }
    };
    match (raw.api_key.as_deref(), raw.bearer_token.as_deref()) {
        (Some(k), None) => secret("api_key", k, d).map(AzureAuth::ApiKey),
        (None, Some(t)) => secret("bearer_token", t, d).map(AzureAuth::Bearer),
        (Some(_), Some(_)) => {
            d.at(
                path,
                "set either `api_key` or `bearer_token` (an Entra ID token), not both",
            );
            None
        }
        (None, None) => {
            d.at(
                path,
                "missing credentials: set `api_key` (sent as `api-key`) or `bearer_token` (an Entra ID token)",
            );
            None
        }
    }
}
