//! `quota:` (store, limits, tiers) and `prices:`.
//!
//! Owns: turning limit entries (`{ tokens: 100000, per: minute, subject: key }`) into
//! `Limit`s with stable names, the store settings (memory, or redis with its failure policy
//! and timeout), and model prices. Every error is recorded with its path and the check goes
//! on. Must not: connect to Redis or know the window math.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Deserialize;
use serde_yaml::Value;

use super::error::Diagnostics;
use super::model::{
    Limit, Measure, OnStoreError, Price, QuotaSettings, QuotaStoreSettings, RedisSettings, Secret,
    Subject, Window,
};
use super::path::YamlPath;
use super::units::{duration_value, kind};

const DEFAULT_TIMEOUT: Duration = Duration::from_millis(50);
const DEFAULT_MAX_TOKENS: u64 = 4096;

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with `store`, `url`, `on_error`, `timeout`, `prefix`, `limits`, `tiers`, `default_max_tokens`, `reserve_output`"
)]
struct RawQuota {
    store: Option<String>,
    url: Option<String>,
    on_error: Option<String>,
    /// Duration.
    timeout: Option<Value>,
    prefix: Option<String>,
    #[serde(default)]
    limits: Vec<Value>,
    #[serde(default)]
    tiers: BTreeMap<String, RawTier>,
    default_max_tokens: Option<u64>,
    reserve_output: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping with `limits`")]
struct RawTier {
    #[serde(default)]
    limits: Vec<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with one of `requests`, `tokens`, `input_tokens`, `output_tokens`, `cost`, and `per`, `subject`, `name`"
)]
struct RawLimit {
    name: Option<String>,
    subject: Option<String>,
    per: String,
    requests: Option<u64>,
    tokens: Option<u64>,
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    /// US dollars.
    cost: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with `input` and `output` (USD per million tokens)"
)]
struct RawPrice {
    input: f64,
    output: f64,
}

/// The names under `quota.tiers`, valid or not.
pub(crate) fn declared_tiers(v: Option<&Value>) -> BTreeSet<String> {
    v.and_then(|q| q.get("tiers"))
        .and_then(Value::as_mapping)
        .map(|m| m.keys().map(super::path::key_text).collect())
        .unwrap_or_default()
}

/// Validates `quota:`; `None` when absent or invalid.
pub(crate) fn quota(
    v: Option<&Value>,
    path: &YamlPath,
    d: &mut Diagnostics<'_>,
) -> Option<QuotaSettings> {
    let raw = d.deserialize::<RawQuota>(v?, path)?;
    let store = store(&raw, path, d);
    let mut names = BTreeSet::new();
    let limits = limit_list(&raw.limits, "all", &path.key("limits"), &mut names, d);
    let mut tiers = BTreeMap::new();
    for (tier, t) in &raw.tiers {
        let p = path.key("tiers").key(tier);
        let list = limit_list(&t.limits, tier, &p.key("limits"), &mut names, d);
        tiers.insert(tier.clone(), list);
    }
    if raw.default_max_tokens == Some(0) {
        d.at(&path.key("default_max_tokens"), "must be at least 1");
    }
    Some(QuotaSettings {
        store: store?,
        limits,
        tiers,
        default_max_tokens: raw.default_max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
        reserve_output: raw.reserve_output.unwrap_or(true),
    })
}

fn store(raw: &RawQuota, path: &YamlPath, d: &mut Diagnostics<'_>) -> Option<QuotaStoreSettings> {
    match raw.store.as_deref().unwrap_or("memory") {
        "memory" => {
            for (field, set) in [
                ("url", raw.url.is_some()),
                ("on_error", raw.on_error.is_some()),
                ("timeout", raw.timeout.is_some()),
            ] {
                if set {
                    d.at_key(&path.key(field), format!("`{field}` needs `store: redis`"));
                }
            }
            Some(QuotaStoreSettings::Memory)
        }
        "redis" => {
            let url = match &raw.url {
                Some(u) if u.starts_with("redis://") || u.starts_with("rediss://") => {
                    Some(Secret::new(u.clone()))
                }
                Some(_) => {
                    d.at(&path.key("url"), "expected a redis://host:port URL");
                    None
                }
                None => {
                    d.at(
                        path,
                        "`store: redis` needs `url` (e.g. redis://127.0.0.1:6379)",
                    );
                    None
                }
            };
            let on_error = match raw.on_error.as_deref().unwrap_or("local") {
                "allow" => Some(OnStoreError::Allow),
                "deny" => Some(OnStoreError::Deny),
                "local" => Some(OnStoreError::Local),
                other => {
                    d.at(
                        &path.key("on_error"),
                        format!("unknown policy `{other}`, expected `allow`, `deny` or `local`"),
                    );
                    None
                }
            };
            let timeout = match &raw.timeout {
                None => Some(DEFAULT_TIMEOUT),
                Some(v) => duration_value(v)
                    .and_then(|t| {
                        if t.is_zero() {
                            Err("must be more than 0".into())
                        } else {
                            Ok(t)
                        }
                    })
                    .map_err(|m| d.at(&path.key("timeout"), m))
                    .ok(),
            };
            Some(QuotaStoreSettings::Redis(RedisSettings {
                url: url?,
                on_error: on_error?,
                timeout: timeout?,
                prefix: raw.prefix.clone().unwrap_or_else(|| "tollgate".into()),
            }))
        }
        other => {
            d.at(
                &path.key("store"),
                format!("unknown store `{other}`, expected `memory` or `redis`"),
            );
            None
        }
    }
}

fn limit_list(
    items: &[Value],
    scope: &str,
    path: &YamlPath,
    names: &mut BTreeSet<String>,
    d: &mut Diagnostics<'_>,
) -> Vec<Limit> {
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let p = path.index(i);
        let Some(raw) = d.deserialize::<RawLimit>(item, &p) else {
            continue;
        };
        let name = raw.name.clone().unwrap_or_else(|| format!("{scope}.{i}"));
        if !names.insert(name.clone()) {
            d.at(&p, format!("duplicate limit name `{name}`"));
            continue;
        }
        if let Some(l) = limit(raw, name, &p, d) {
            out.push(l);
        }
    }
    out
}

fn limit(raw: RawLimit, name: String, p: &YamlPath, d: &mut Diagnostics<'_>) -> Option<Limit> {
    let cost = raw.cost.map(|c| (c * 1_000_000.0).round());
    let measures: Vec<(Measure, Option<u64>)> = [
        (Measure::Requests, raw.requests),
        (Measure::Tokens, raw.tokens),
        (Measure::InputTokens, raw.input_tokens),
        (Measure::OutputTokens, raw.output_tokens),
    ]
    .into_iter()
    .chain(std::iter::once((
        Measure::Cost,
        cost.map(|c| c.max(0.0) as u64),
    )))
    .filter(|(_, v)| v.is_some())
    .collect();
    let measure = match measures.as_slice() {
        [(m, Some(amount))] if *amount > 0 && raw.cost.is_none_or(|c| c.is_finite() && c > 0.0) => {
            Some((*m, *amount))
        }
        [_] => {
            d.at(p, "the amount must be more than 0");
            None
        }
        _ => {
            d.at(
                p,
                "set exactly one of `requests`, `tokens`, `input_tokens`, `output_tokens`, `cost`",
            );
            None
        }
    };
    let window = match raw.per.as_str() {
        "second" => Some(Window::Second),
        "minute" => Some(Window::Minute),
        "hour" => Some(Window::Hour),
        "day" => Some(Window::Day),
        "week" => Some(Window::Week),
        "month" => Some(Window::Month),
        "year" => Some(Window::Year),
        other => {
            d.at(
                &p.key("per"),
                format!("unknown window `{other}`, expected second, minute, hour, day, week, month or year"),
            );
            None
        }
    };
    let subject = subject(
        raw.subject.as_deref().unwrap_or("key"),
        &p.key("subject"),
        d,
    );
    let (measure, amount) = measure?;
    Some(Limit {
        name,
        subject: subject?,
        measure,
        window: window?,
        amount,
    })
}

fn subject(text: &str, p: &YamlPath, d: &mut Diagnostics<'_>) -> Option<Subject> {
    let s = match text {
        "global" => Subject::Global,
        "key" => Subject::Key,
        "tier" => Subject::Tier,
        "team" => Subject::Team,
        "model" => Subject::Model,
        "client_ip" => Subject::ClientIp,
        other => match other.strip_prefix("header:") {
            Some(h) => match http::HeaderName::try_from(h.trim()) {
                Ok(name) => Subject::Header(name),
                Err(_) => {
                    d.at(p, format!("invalid header name `{h}`"));
                    return None;
                }
            },
            None => {
                d.at(
                    p,
                    format!("unknown subject `{other}`, expected global, key, tier, team, model, client_ip or header:<name>"),
                );
                return None;
            }
        },
    };
    Some(s)
}

/// Validates `prices:` (model name -> USD per million input/output tokens).
pub(crate) fn prices(
    v: Option<&Value>,
    path: &YamlPath,
    models: &BTreeSet<String>,
    d: &mut Diagnostics<'_>,
) -> BTreeMap<String, Price> {
    let mut out = BTreeMap::new();
    let Some(v) = v else {
        return out;
    };
    let Value::Mapping(m) = v else {
        d.at(
            path,
            format!(
                "expected a mapping of model names to prices, found {}",
                kind(v)
            ),
        );
        return out;
    };
    for (k, item) in m {
        let name = super::path::key_text(k);
        let p = path.key(&name);
        if !models.contains(&name) {
            d.at_key(&p, super::models::unknown("model", &name, models));
            continue;
        }
        let Some(raw) = d.deserialize::<RawPrice>(item, &p) else {
            continue;
        };
        if !(raw.input >= 0.0
            && raw.output >= 0.0
            && raw.input.is_finite()
            && raw.output.is_finite())
        {
            d.at(&p, "prices must be finite numbers >= 0");
            continue;
        }
        out.insert(
            name,
            Price {
                input: raw.input,
                output: raw.output,
            },
        );
    }
    out
}
