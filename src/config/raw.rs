//! Serde types that mirror the YAML file, one per section or entry.
//!
//! Owns: the shape of the file (field names, which fields exist, basic types) with
//! `deny_unknown_fields` everywhere, so a typo is an error and not a silently ignored field.
//! Must not: check values (ranges, references, URLs, units) - `validate` does that and collects
//! every error. Fields whose spelling is checked later (durations, sizes, `threads`, `listen`)
//! stay `serde_yaml::Value` here so one bad value does not hide the others.
//! Lists and maps of entries (providers, models, targets, keys) are also kept as `Value` and
//! deserialized entry by entry, for the same reason.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_yaml::Value;

/// The top-level sections, in the order `dump` writes them.
pub(crate) const SECTIONS: &[&str] = &[
    "listen",
    "admin",
    "server",
    "timeouts",
    "providers",
    "models",
    "keys",
    "resilience",
    "quota",
    "prices",
];

/// Every provider `kind`.
pub(crate) const PROVIDER_KINDS: &[&str] = &[
    "openai",
    "anthropic",
    "azure_openai",
    "gemini",
    "bedrock",
    "mock",
];

/// `admin:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping with `listen`")]
pub(crate) struct RawAdmin {
    pub listen: String,
}

/// `server:`
#[derive(Debug, Default, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with `threads`, `grace_period`, `max_body_size`, `keepalive_timeout`, `pid_file`"
)]
pub(crate) struct RawServer {
    /// `auto` or an integer >= 1.
    pub threads: Option<Value>,
    /// Duration.
    pub grace_period: Option<Value>,
    /// Size.
    pub max_body_size: Option<Value>,
    /// Duration.
    pub keepalive_timeout: Option<Value>,
    /// Path.
    pub pid_file: Option<Value>,
}

/// `timeouts:` at the top level and inside a provider; every field is a duration.
#[derive(Debug, Default, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with `connect`, `first_byte`, `idle`, `total`"
)]
pub(crate) struct RawTimeouts {
    pub connect: Option<Value>,
    pub first_byte: Option<Value>,
    pub idle: Option<Value>,
    pub total: Option<Value>,
}

/// `providers.<name>` with `kind: openai` (the `kind` field is taken out before this is read).
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with `preset`, `base_url`, `api_key`, `headers`, `timeouts`, `health_check`, `stream_usage`"
)]
pub(crate) struct RawOpenAi {
    /// Vendor quirks (providers::compat); default `openai`.
    pub preset: Option<String>,
    /// Required unless the preset has a default.
    pub base_url: Option<String>,
    pub api_key: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub timeouts: Option<RawTimeouts>,
    pub health_check: Option<RawHealthCheck>,
    /// Ask streams for usage (`stream_options.include_usage`); default true.
    pub stream_usage: Option<bool>,
}

/// `providers.<name>` with `kind: azure_openai` (the `kind` field is taken out before this is
/// read).
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with `base_url`, `api_key`, `bearer_token`, `api_version`, `v1`, `headers`, `timeouts`, `health_check`, `stream_usage`"
)]
pub(crate) struct RawAzure {
    pub base_url: Option<String>,
    pub api_key: Option<String>,
    pub bearer_token: Option<String>,
    /// A dated version, or `v1` for the v1 surface.
    pub api_version: Option<String>,
    /// Same as `api_version: v1`.
    pub v1: Option<bool>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub timeouts: Option<RawTimeouts>,
    pub health_check: Option<RawHealthCheck>,
    pub stream_usage: Option<bool>,
}

/// `providers.<name>` with `kind: anthropic` (the `kind` field is taken out before this is
/// read).
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with `base_url`, `api_key`, `version`, `default_max_tokens`, `timeouts`, `health_check`"
)]
pub(crate) struct RawAnthropic {
    pub base_url: Option<String>,
    pub api_key: Option<String>,
    pub version: Option<String>,
    pub default_max_tokens: Option<u64>,
    pub timeouts: Option<RawTimeouts>,
    pub health_check: Option<RawHealthCheck>,
}

/// `providers.<name>` with `kind: bedrock` (the `kind` field is taken out before this is read).
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with `region`, `base_url`, `access_key_id`, `secret_access_key`, `session_token`, `timeouts`"
)]
pub(crate) struct RawBedrock {
    pub region: Option<String>,
    pub base_url: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
    pub timeouts: Option<RawTimeouts>,
}

/// `providers.<name>.health_check`
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with `path`, `interval`, `timeout`, `healthy_threshold`, `unhealthy_threshold`"
)]
pub(crate) struct RawHealthCheck {
    pub path: Option<String>,
    /// Duration.
    pub interval: Option<Value>,
    /// Duration.
    pub timeout: Option<Value>,
    pub healthy_threshold: Option<u32>,
    pub unhealthy_threshold: Option<u32>,
}

/// `resilience:`
#[derive(Debug, Default, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with `retries`, `retry_on`, `deadline`, `breaker`, `capacity_window`"
)]
pub(crate) struct RawResilience {
    pub retries: Option<u32>,
    pub retry_on: Option<Vec<u16>>,
    /// Duration.
    pub deadline: Option<Value>,
    pub breaker: Option<RawBreaker>,
    /// Duration.
    pub capacity_window: Option<Value>,
}

/// `resilience.breaker.shared:`
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with `url`, `prefix`, `timeout`"
)]
pub(crate) struct RawSharedBreaker {
    pub url: String,
    pub prefix: Option<String>,
    /// Duration.
    pub timeout: Option<Value>,
}

/// `resilience.breaker:`
#[derive(Debug, Default, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with `failures`, `error_rate`, `window`, `min_requests`, `cooldown`, `max_retry_after`, `half_open_probes`, `shared`"
)]
pub(crate) struct RawBreaker {
    pub shared: Option<RawSharedBreaker>,
    pub failures: Option<u32>,
    pub error_rate: Option<f64>,
    /// Duration.
    pub window: Option<Value>,
    pub min_requests: Option<u32>,
    /// Duration.
    pub cooldown: Option<Value>,
    /// Duration.
    pub max_retry_after: Option<Value>,
    pub half_open_probes: Option<u32>,
}

/// `providers.<name>` with `kind: mock` (the `kind` field is taken out before this is read).
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with `latency`, `tokens_per_second`, `default_max_tokens`, `embedding_dimensions`"
)]
pub(crate) struct RawMock {
    /// Duration.
    pub latency: Option<Value>,
    pub tokens_per_second: Option<f64>,
    pub default_max_tokens: Option<u32>,
    pub embedding_dimensions: Option<u32>,
}

/// `models.<name>`
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with `targets`, `owned_by` and `strategy`"
)]
pub(crate) struct RawModelGroup {
    /// Each item is read as a `RawTarget` on its own.
    pub targets: Vec<Value>,
    pub owned_by: Option<String>,
    /// Checked against `Strategy::ALL` in `models`.
    pub strategy: Option<String>,
}

/// `models.<name>.targets[i]`
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with `provider`, `model`, `priority`, `weight`, `capacity_rpm`, `capacity_tpm`"
)]
pub(crate) struct RawTarget {
    pub provider: String,
    /// Defaults to the group's name.
    pub model: Option<String>,
    pub priority: Option<u32>,
    pub weight: Option<u32>,
    pub capacity_rpm: Option<u32>,
    pub capacity_tpm: Option<u32>,
}

/// `keys[i]`: exactly one of `key` / `key_sha256`.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with `name` and `key` or `key_sha256`, and `models`, `tier`, `team`"
)]
pub(crate) struct RawKey {
    pub name: String,
    pub key: Option<String>,
    pub key_sha256: Option<String>,
    /// Absent = every model.
    pub models: Option<Vec<String>>,
    /// A tier of `quota.tiers`.
    pub tier: Option<String>,
    pub team: Option<String>,
}
