//! `providers:` - one entry per upstream, dispatched on `kind`.
//!
//! Owns: the per-kind checks (base URL, API key, extra headers, timeouts, mock settings) and
//! the list of headers the gateway refuses to take from config.
//! Must not: know about models or keys, or open connections (a base URL is parsed, not tried).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use http::{HeaderName, HeaderValue};
use serde_yaml::Value;

use super::error::Diagnostics;
use super::model::{
    AnthropicProvider, MockProvider, OpenAiProvider, Provider, ProviderKind, Secret, Timeouts,
};
use super::path::YamlPath;
use super::raw::{RawAnthropic, RawBedrock, RawMock, RawOpenAi, PROVIDER_KINDS};
use super::units::kind;
use super::url::parse_base_url;
use super::validate::{duration, entries, one_of, timeouts, Context};

/// Headers the gateway sets itself; configuring them would break framing, routing or auth.
const REFUSED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "authorization",
];

/// Header names whose values are treated as secrets (redacted by `dump`) even when written
/// literally in the file.
const SECRET_HINTS: &[&str] = &["key", "token", "secret", "auth", "cookie", "password"];

/// The providers section: names as written, and those that validated.
#[derive(Debug, Default)]
pub(crate) struct Providers {
    /// Every name under `providers:`, valid or not (a target naming an invalid provider gets no
    /// second error).
    pub declared: BTreeSet<String>,
    pub valid: BTreeMap<String, Arc<Provider>>,
}

pub(crate) fn providers(
    v: Option<&Value>,
    path: &YamlPath,
    defaults: &Timeouts,
    cx: &Context<'_>,
    d: &mut Diagnostics<'_>,
) -> Providers {
    let mut out = Providers::default();
    for (name, p, v) in entries(v, path, "provider", d) {
        out.declared.insert(name.clone());
        if name.is_empty() {
            d.at_key(&p, "a provider name must not be empty");
            continue;
        }
        if let Some(kind) = provider_kind(v, &p, defaults, cx, d) {
            out.valid
                .insert(name.clone(), Arc::new(Provider { name, kind }));
        }
    }
    out
}

fn provider_kind(
    v: &Value,
    path: &YamlPath,
    defaults: &Timeouts,
    cx: &Context<'_>,
    d: &mut Diagnostics<'_>,
) -> Option<ProviderKind> {
    let kinds = one_of(PROVIDER_KINDS);
    let Value::Mapping(map) = v else {
        d.at(
            path,
            format!(
                "expected a mapping with a `kind` ({kinds}), found {}",
                kind(v)
            ),
        );
        return None;
    };
    let kind_path = path.key("kind");
    let kind_name = match map.get("kind") {
        None => {
            d.at(
                path,
                format!("missing field `kind`, expected one of {kinds}"),
            );
            return None;
        }
        Some(Value::String(s)) => s.clone(),
        Some(other) => {
            d.at(
                &kind_path,
                format!("expected one of {kinds}, found {}", kind(other)),
            );
            return None;
        }
    };
    let mut rest = map.clone();
    rest.remove("kind");
    let rest = Value::Mapping(rest);
    match kind_name.as_str() {
        "openai" => {
            let raw: RawOpenAi = d.deserialize(&rest, path)?;
            openai(raw, path, defaults, cx, d).map(ProviderKind::OpenAi)
        }
        "azure_openai" => {
            let raw: super::raw::RawAzure = d.deserialize(&rest, path)?;
            super::azure::azure(raw, path, defaults, cx, d).map(ProviderKind::AzureOpenAi)
        }
        "anthropic" => {
            let raw: RawAnthropic = d.deserialize(&rest, path)?;
            anthropic(raw, path, defaults, cx, d).map(ProviderKind::Anthropic)
        }
        "gemini" => {
            let raw: super::gemini::RawGemini = d.deserialize(&rest, path)?;
            super::gemini::gemini(raw, path, defaults, cx, d).map(ProviderKind::Gemini)
        }
        "mock" => {
            let raw: RawMock = d.deserialize(&rest, path)?;
            mock(raw, path, d).map(ProviderKind::Mock)
        }
        "bedrock" => {
            let raw: RawBedrock = d.deserialize(&rest, path)?;
            super::bedrock::bedrock(raw, path, defaults, cx, d).map(ProviderKind::Bedrock)
        }
        other => {
            d.at(
                &kind_path,
                format!("unknown provider kind `{other}`, expected one of {kinds}"),
            );
            None
        }
    }
}

fn openai(
    raw: RawOpenAi,
    path: &YamlPath,
    defaults: &Timeouts,
    cx: &Context<'_>,
    d: &mut Diagnostics<'_>,
) -> Option<OpenAiProvider> {
    let preset = match raw.preset.as_deref() {
        None => Some(&crate::providers::compat::OPENAI),
        Some(name) => crate::providers::compat::find(name).or_else(|| {
            let names: Vec<&str> = crate::providers::compat::names().collect();
            d.at(
                &path.key("preset"),
                format!(
                    "unknown preset `{name}`, expected one of {}",
                    one_of(&names)
                ),
            );
            None
        }),
    };
    // A preset's default URL applies only when the preset is named: a bare `kind: openai`
    // without `base_url` is more likely a forgotten local URL than a wish for api.openai.com.
    let default_url = raw.preset.as_ref().and(preset).and_then(|p| p.base_url);
    let base_url = match (raw.base_url.as_deref(), default_url) {
        (Some(url), _) | (None, Some(url)) => parse_base_url(url)
            .map_err(|m| d.at(&path.key("base_url"), m))
            .ok(),
        (None, None) => {
            if preset.is_some() {
                d.at(path, "missing field `base_url`");
            }
            None
        }
    };
    let stream_usage = match (raw.stream_usage, preset) {
        (Some(true), Some(p)) if !p.stream_options => {
            d.at(
                &path.key("stream_usage"),
                format!(
                    "preset `{}` rejects `stream_options`, so stream_usage cannot be true (its streams are metered by counting)",
                    p.name
                ),
            );
            None
        }
        (Some(v), _) => Some(v),
        (None, p) => Some(p.is_none_or(|p| p.stream_options)),
    };
    let key_path = path.key("api_key");
    let api_key = match raw.api_key {
        Some(k) if k.is_empty() => {
            let from = if cx.substituted.contains(&key_path) {
                " (after env interpolation)"
            } else {
                ""
            };
            d.at(
                &key_path,
                format!("api_key is empty{from}; remove it for servers without authentication"),
            );
            None
        }
        other => Some(other.map(Secret::new)),
    };
    let headers = headers(&raw.headers, &path.key("headers"), cx, d);
    let timeouts = match &raw.timeouts {
        Some(t) => timeouts(t, *defaults, &path.key("timeouts"), d),
        None => Some(*defaults),
    };
    let health_check = match &raw.health_check {
        Some(h) => {
            super::resilience::health_check(h, &path.key("health_check"), "/models", d).map(Some)
        }
        None => Some(None),
    };
    Some(OpenAiProvider {
        base_url: base_url?,
        api_key: api_key?,
        headers: headers?,
        timeouts: timeouts?,
        health_check: health_check?,
        stream_usage: stream_usage?,
        preset: preset?,
    })
}

/// Anthropic's public API; a configured base URL replaces it (proxies, test servers).
const ANTHROPIC_BASE_URL: &str = "https://api.anthropic.com";

fn anthropic(
    raw: RawAnthropic,
    path: &YamlPath,
    defaults: &Timeouts,
    cx: &Context<'_>,
    d: &mut Diagnostics<'_>,
) -> Option<AnthropicProvider> {
    let url = raw.base_url.as_deref().unwrap_or(ANTHROPIC_BASE_URL);
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
            d.at(path, "missing field `api_key` (Anthropic requires a key)");
            None
        }
    };
    let version = match raw.version {
        Some(v) if v.is_empty() || HeaderValue::from_str(&v).is_err() => {
            d.at(
                &path.key("version"),
                "version must be a non-empty header value such as `2023-06-01`",
            );
            None
        }
        v => Some(v.unwrap_or_else(|| crate::providers::anthropic::DEFAULT_VERSION.to_owned())),
    };
    let default_max_tokens = match raw.default_max_tokens {
        Some(0) => {
            d.at(
                &path.key("default_max_tokens"),
                "default_max_tokens must be at least 1",
            );
            None
        }
        n => Some(n.unwrap_or(DEFAULT_ANTHROPIC_MAX_TOKENS)),
    };
    let timeouts = match &raw.timeouts {
        Some(t) => timeouts(t, *defaults, &path.key("timeouts"), d),
        None => Some(*defaults),
    };
    let hc_path = path.key("health_check");
    let health_check = match &raw.health_check {
        Some(h) => super::resilience::health_check(h, &hc_path, "/v1/models", d).map(Some),
        None => Some(None),
    };
    Some(AnthropicProvider {
        base_url: base_url?,
        api_key: api_key?,
        version: version?,
        default_max_tokens: default_max_tokens?,
        timeouts: timeouts?,
        health_check: health_check?,
    })
}

/// `max_tokens` sent when neither the client nor the config sets one.
const DEFAULT_ANTHROPIC_MAX_TOKENS: u64 = 4096;

type Headers = Vec<(HeaderName, HeaderValue)>;

pub(crate) fn headers(
    raw: &BTreeMap<String, String>,
    path: &YamlPath,
    cx: &Context<'_>,
    d: &mut Diagnostics<'_>,
) -> Option<Headers> {
    let mut out: Headers = Vec::new();
    let mut ok = true;
    for (name, value) in raw {
        let p = path.key(name);
        let Ok(header) = HeaderName::from_bytes(name.as_bytes()) else {
            d.at_key(&p, format!("invalid header name `{name}`"));
            ok = false;
            continue;
        };
        if REFUSED_HEADERS.contains(&header.as_str()) {
            let hint = if header == http::header::AUTHORIZATION {
                "; use `api_key` instead"
            } else {
                ""
            };
            d.at_key(
                &p,
                format!("header `{name}` is set by the gateway and cannot be configured{hint}"),
            );
            ok = false;
            continue;
        }
        if out.iter().any(|(h, _)| *h == header) {
            d.at_key(
                &p,
                format!("header `{name}` is configured twice (header names ignore case)"),
            );
            ok = false;
            continue;
        }
        let Ok(mut v) = HeaderValue::from_str(value) else {
            d.at(
                &p,
                format!("invalid value for header `{name}`: control characters are not allowed"),
            );
            ok = false;
            continue;
        };
        let secret_name = SECRET_HINTS.iter().any(|h| header.as_str().contains(h));
        v.set_sensitive(secret_name || cx.substituted.contains(&p));
        out.push((header, v));
    }
    ok.then_some(out)
}

fn mock(raw: RawMock, path: &YamlPath, d: &mut Diagnostics<'_>) -> Option<MockProvider> {
    let defaults = MockProvider::default();
    let latency = duration(
        raw.latency.as_ref(),
        &path.key("latency"),
        defaults.latency,
        false,
        d,
    );
    let tps = match raw.tokens_per_second {
        Some(t) if !(t.is_finite() && t > 0.0) => {
            d.at(
                &path.key("tokens_per_second"),
                "tokens_per_second must be a number greater than 0 (omit it for no pacing)",
            );
            None
        }
        t => Some(t),
    };
    let dims = match raw.embedding_dimensions {
        Some(n) if !(1..=4096).contains(&n) => {
            d.at(
                &path.key("embedding_dimensions"),
                format!("embedding_dimensions must be between 1 and 4096, found {n}"),
            );
            None
        }
        n => Some(n.unwrap_or(defaults.embedding_dimensions)),
    };
    Some(MockProvider {
        latency: latency?,
        tokens_per_second: tps?,
        default_max_tokens: raw
            .default_max_tokens
            .unwrap_or(defaults.default_max_tokens),
        embedding_dimensions: dims?,
    })
}
