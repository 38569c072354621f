//! `providers.<name>` with `kind: gemini`: the raw shape and its checks (providers.md §4.1).
//!
//! Owns: Gemini's defaults (public endpoint, `v1beta`, the model list as health probe) and the
//! validation of its fields. Must not: know the wire format (providers/gemini) or open
//! connections.

use http::HeaderValue;
use serde::Deserialize;

use super::error::Diagnostics;
use super::model::{GeminiProvider, Secret, Timeouts};
use super::path::YamlPath;
use super::raw::{RawHealthCheck, RawTimeouts};
use super::url::parse_base_url;
use super::validate::{timeouts, Context};

/// Google's public Generative Language API; a configured base URL replaces it (proxies, tests).
const GEMINI_BASE_URL: &str = "https://generativelanguage.googleapis.com";
/// The API version path segment every current SDK uses (`v1` lacks newer fields).
pub const DEFAULT_API_VERSION: &str = "v1beta";

/// `providers.<name>` with `kind: gemini` (the `kind` field is taken out before this is read).
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with `base_url`, `api_key`, `api_version`, `timeouts`, `health_check`"
)]
pub(crate) struct RawGemini {
    pub base_url: Option<String>,
    pub api_key: Option<String>,
    pub api_version: Option<String>,
    pub timeouts: Option<RawTimeouts>,
    pub health_check: Option<RawHealthCheck>,
}

pub(crate) fn gemini(
    raw: RawGemini,
    path: &YamlPath,
    defaults: &Timeouts,
    cx: &Context<'_>,
    d: &mut Diagnostics<'_>,
) -> Option<GeminiProvider> {
    let url = raw.base_url.as_deref().unwrap_or(GEMINI_BASE_URL);
    let base_url = parse_base_url(url)
        .map_err(|m| d.at(&path.key("base_url"), m))
        .ok();
    let key_path = path.key("api_key");
    let api_key = match raw.api_key {
        Some(k) if !k.is_empty() && HeaderValue::from_str(&k).is_ok() => Some(Secret::new(k)),
        Some(k) if !k.is_empty() => {
            d.at(
                &key_path,
                "api_key holds characters not allowed in a header",
            );
            None
        }
        Some(_) => {
            let from = if cx.substituted.contains(&key_path) {
                " (after env interpolation)"
            } else {
                ""
            };
            d.at(&key_path, format!("api_key is empty{from}"));
            None
        }
        None => {
            d.at(path, "missing field `api_key` (Gemini requires a key)");
            None
        }
    };
    let api_version = match raw.api_version {
        Some(v) if !valid_version(&v) => {
            d.at(
                &path.key("api_version"),
                format!("api_version must be a path segment such as `v1beta` or `v1`, found {v:?}"),
            );
            None
        }
        v => Some(v.unwrap_or_else(|| DEFAULT_API_VERSION.to_owned())),
    };
    let timeouts = match &raw.timeouts {
        Some(t) => timeouts(t, *defaults, &path.key("timeouts"), d),
        None => Some(*defaults),
    };
    let health_check = match (&raw.health_check, &api_version) {
        (Some(h), Some(v)) => {
            let default_path = format!("/{v}/models");
            super::resilience::health_check(h, &path.key("health_check"), &default_path, d)
                .map(Some)
        }
        (Some(_), None) => None,
        (None, _) => Some(None),
    };
    Some(GeminiProvider {
        base_url: base_url?,
        api_key: api_key?,
        api_version: api_version?,
        timeouts: timeouts?,
        health_check: health_check?,
    })
}

/// One non-empty URL path segment of safe characters.
fn valid_version(v: &str) -> bool {
    !v.is_empty()
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}
