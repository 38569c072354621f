//! The validated runtime configuration model.
//!
//! Owns: the types every other module reads at run time (listeners, providers, model groups,
//! virtual keys, limits, timeouts). Everything here is already checked: durations are
//! `Duration`, lists that must not be empty are `NonEmpty`, secrets are `Secret` (never printed).
//! Must not: parse YAML, read the environment, or know about pingora. `config::load` builds it.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The whole validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file this config was loaded from (for messages and `-T`).
    pub source: PathBuf,
    pub server: ServerSettings,
    pub admin: Option<AdminSettings>,
    /// Provider name -> provider.
    pub providers: BTreeMap<String, Arc<Provider>>,
    /// Public model name (what clients send in `model`) -> group of targets.
    pub models: BTreeMap<String, Arc<ModelGroup>>,
    pub keys: Vec<VirtualKey>,
    /// Retries, fallback and the circuit breaker.
    pub resilience: Resilience,
    /// `None` = no quotas (nothing is reserved, no `x-ratelimit-*` headers).
    pub quota: Option<QuotaSettings>,
    /// Public model name -> price, for `cost` limits.
    pub prices: BTreeMap<String, Price>,
}

/// `quota:` - limits and where their counters live.
#[derive(Debug, Clone)]
pub struct QuotaSettings {
    pub store: QuotaStoreSettings,
    /// Limits applied to every request (each counted per its subject).
    pub limits: Vec<Limit>,
    /// Tier name -> the limits of keys in that tier.
    pub tiers: BTreeMap<String, Vec<Limit>>,
    /// Output tokens reserved when a request sets no `max_tokens`.
    pub default_max_tokens: u64,
    /// Reserve the output budget up front (true) or only the prompt estimate (false: output is
    /// charged at settlement; requests are still rejected before the upstream when the prompt
    /// alone does not fit).
    pub reserve_output: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum QuotaStoreSettings {
    /// Counters in this process (lost on restart, not shared).
    Memory,
    Redis(RedisSettings),
}

#[derive(Debug, Clone, PartialEq)]
pub struct RedisSettings {
    /// `redis://[user:pass@]host:port[/db]`; kept secret (may hold a password).
    pub url: Secret,
    /// What to do when Redis fails or does not answer within `timeout`.
    pub on_error: OnStoreError,
    pub timeout: Duration,
    /// First part of every key (before the version and hash tag).
    pub prefix: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnStoreError {
    /// Admit without counting.
    Allow,
    /// Reject with 503.
    Deny,
    /// Count in this process until Redis is back.
    Local,
}

/// One limit: at most `amount` of `measure` per `window`, counted per value of `subject`.
#[derive(Debug, Clone, PartialEq)]
pub struct Limit {
    /// Stable, bounded name (metrics label and part of the counter key): `<scope>.<index>`
    /// unless configured.
    pub name: String,
    pub subject: Subject,
    pub measure: Measure,
    pub window: Window,
    /// For `Cost`, micro-dollars.
    pub amount: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// One counter for everything.
    Global,
    Key,
    Tier,
    Team,
    Model,
    ClientIp,
    /// The value of a request header (requests without it are not limited by this limit).
    Header(http::HeaderName),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    Requests,
    InputTokens,
    OutputTokens,
    /// Input + output.
    Tokens,
    /// Micro-dollars, from `prices`.
    Cost,
}

impl Measure {
    /// The suffix of the `x-ratelimit-*-<name>` headers.
    pub fn header_name(self) -> &'static str {
        match self {
            Measure::Requests => "requests",
            Measure::InputTokens => "input-tokens",
            Measure::OutputTokens => "output-tokens",
            Measure::Tokens => "tokens",
            Measure::Cost => "cost",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Window {
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

impl Window {
    pub fn name(self) -> &'static str {
        match self {
            Window::Second => "second",
            Window::Minute => "minute",
            Window::Hour => "hour",
            Window::Day => "day",
            Window::Week => "week",
            Window::Month => "month",
            Window::Year => "year",
        }
    }
}

/// USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    pub input: f64,
    pub output: f64,
}

/// `resilience:` - how failed attempts are retried and when targets are kept out.
#[derive(Debug, Clone, PartialEq)]
pub struct Resilience {
    /// Further attempts after the first (so at most `retries + 1` upstream requests).
    pub retries: u32,
    /// Upstream statuses that count as failures and are retried on the next target.
    pub retry_on: Vec<u16>,
    /// Whole request budget across attempts; no new attempt starts after it.
    pub deadline: Duration,
    pub breaker: BreakerSettings,
    /// Sliding window over which `capacity_rpm`/`capacity_tpm` are enforced, prorated.
    pub capacity_window: Duration,
    /// `breaker.shared`: provider-hinted openings published to and read from Redis.
    pub shared_breaker: Option<SharedBreaker>,
}

/// Where breaker openings are shared between gateway instances.
#[derive(Debug, Clone, PartialEq)]
pub struct SharedBreaker {
    /// `redis://[user:pass@]host:port[/db]`; kept secret (may hold a password).
    pub url: Secret,
    /// First part of every key.
    pub prefix: String,
    /// Longest a lookup or publish may take; past it the opening counts as not shared.
    pub timeout: Duration,
}

impl Default for Resilience {
    fn default() -> Self {
        Resilience {
            retries: 2,
            retry_on: vec![429, 500, 502, 503, 504],
            deadline: Duration::from_secs(600),
            breaker: BreakerSettings::default(),
            capacity_window: Duration::from_secs(60),
            shared_breaker: None,
        }
    }
}

/// When a target's circuit breaker opens, and for how long.
#[derive(Debug, Clone, PartialEq)]
pub struct BreakerSettings {
    /// Consecutive failures that open it (0 = never by count).
    pub failures: u32,
    /// Failure ratio over `window` that opens it (checked once `min_requests` were seen).
    pub error_rate: f64,
    pub window: Duration,
    pub min_requests: u32,
    /// How long it stays open when the provider gave no retry hint.
    pub cooldown: Duration,
    /// Upper bound for provider retry hints (Retry-After and friends).
    pub max_retry_after: Duration,
    /// Requests let through at once to test an open target after its time is up (>= 1).
    pub half_open_probes: u32,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        BreakerSettings {
            failures: 5,
            error_rate: 0.5,
            window: Duration::from_secs(30),
            min_requests: 10,
            cooldown: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(300),
            half_open_probes: 1,
        }
    }
}

/// How a model group spreads requests over the targets of its best tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// Smooth weighted round robin (nginx's).
    #[default]
    Weighted,
    RoundRobin,
    /// Weighted random (seeded per process).
    Random,
    LeastInFlight,
    /// Peak-EWMA latency with power of two choices.
    Latency,
}

impl Strategy {
    /// The spelling in the config file.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Weighted => "weighted",
            Strategy::RoundRobin => "round_robin",
            Strategy::Random => "random",
            Strategy::LeastInFlight => "least_inflight",
            Strategy::Latency => "latency",
        }
    }

    pub const ALL: [Strategy; 5] = [
        Strategy::Weighted,
        Strategy::RoundRobin,
        Strategy::Random,
        Strategy::LeastInFlight,
        Strategy::Latency,
    ];
}

/// An active HTTP health check of a provider: `GET {base_url}{path}` every `interval`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    /// Appended to the base URL path, e.g. "/models".
    pub path: String,
    pub interval: Duration,
    pub timeout: Duration,
    /// Consecutive passing probes that mark an unhealthy provider healthy again.
    pub healthy_threshold: u32,
    /// Consecutive failing probes that mark it unhealthy.
    pub unhealthy_threshold: u32,
}

#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Data listeners (at least one).
    pub listen: NonEmpty<SocketAddr>,
    /// Worker threads for the data plane (already resolved: `auto` -> number of cores).
    pub threads: usize,
    /// How long in-flight requests and streams may run after SIGTERM/SIGQUIT.
    pub grace_period: Duration,
    /// Largest accepted request body, in bytes (413 above it).
    pub max_body_size: u64,
    /// Downstream HTTP/1 keep-alive idle timeout.
    pub keepalive_timeout: Duration,
    /// Where the running server writes its pid (for `-s reload|stop|quit|reopen`); relative
    /// paths are relative to the config file's directory.
    pub pid_file: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone)]
pub struct AdminSettings {
    pub listen: SocketAddr,
}

/// Upstream timeouts. All are bounded: pingora's defaults are "wait forever".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP (+TLS) connect.
    pub connect: Duration,
    /// From request sent to response headers.
    pub first_byte: Duration,
    /// Longest silence between two body chunks.
    pub idle: Duration,
    /// Whole exchange, first connect to last byte.
    pub total: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(5),
            first_byte: Duration::from_secs(120),
            idle: Duration::from_secs(60),
            total: Duration::from_secs(600),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Provider {
    pub name: String,
    pub kind: ProviderKind,
}

#[derive(Debug, Clone)]
pub enum ProviderKind {
    /// OpenAI and every OpenAI-compatible server (vLLM, Ollama /v1, llama.cpp, Groq, ...).
    OpenAi(OpenAiProvider),
    /// Anthropic's Messages API, reached from the OpenAI front door by translation.
    Anthropic(AnthropicProvider),
    /// Google's Gemini API (generateContent), reached from the OpenAI front door by translation.
    Gemini(GeminiProvider),
    /// Azure OpenAI: OpenAI's format on deployment URLs (or Azure's v1 surface).
    AzureOpenAi(AzureProvider),
    /// The built-in offline mock: answers in-process, no network.
    Mock(MockProvider),
    /// AWS Bedrock Runtime Converse / ConverseStream, SigV4-signed, reached by translation.
    Bedrock(BedrockProvider),
}

impl ProviderKind {
    /// The active health check, if configured.
    pub fn health_check(&self) -> Option<&HealthCheck> {
        match self {
            ProviderKind::OpenAi(o) => o.health_check.as_ref(),
            ProviderKind::Anthropic(a) => a.health_check.as_ref(),
            ProviderKind::Gemini(g) => g.health_check.as_ref(),
            ProviderKind::AzureOpenAi(a) => a.health_check.as_ref(),
            ProviderKind::Mock(_) => None,
            // bedrock-runtime has no cheap authenticated GET to probe.
            ProviderKind::Bedrock(_) => None,
        }
    }

    /// Stable, bounded label for metrics and logs.
    pub fn label(&self) -> &'static str {
        match self {
            ProviderKind::OpenAi(_) => "openai",
            ProviderKind::Anthropic(_) => "anthropic",
            ProviderKind::Gemini(_) => "gemini",
            ProviderKind::AzureOpenAi(_) => "azure_openai",
            ProviderKind::Mock(_) => "mock",
            ProviderKind::Bedrock(_) => "bedrock",
        }
    }
}

#[derive(Debug, Clone)]
pub struct OpenAiProvider {
    pub base_url: BaseUrl,
    /// Sent as `Authorization: Bearer ...`; `None` for local servers without auth.
    pub api_key: Option<Secret>,
    /// Extra headers sent on every upstream request (e.g. OpenAI-Organization).
    pub headers: Vec<(http::HeaderName, http::HeaderValue)>,
    pub timeouts: Timeouts,
    /// Active health check; `None` = none (the provider counts as healthy).
    pub health_check: Option<HealthCheck>,
    /// Ask streams for usage with `stream_options.include_usage` (quotas and token metrics
    /// need it). Off for servers that reject `stream_options` (e.g. Mistral's API): their
    /// streams are then metered by counting the generated text.
    pub stream_usage: bool,
    /// The vendor's quirks (`preset:`, default `openai`), applied to every request body.
    pub preset: &'static crate::providers::compat::Preset,
}

/// An Azure OpenAI resource (`kind: azure_openai`).
#[derive(Debug, Clone)]
pub struct AzureProvider {
    /// The resource endpoint, e.g. `https://RESOURCE.openai.azure.com` (no `/openai`).
    pub base_url: BaseUrl,
    pub auth: AzureAuth,
    pub api: AzureApi,
    /// Extra headers sent on every upstream request.
    pub headers: Vec<(http::HeaderName, http::HeaderValue)>,
    pub timeouts: Timeouts,
    /// Active health check (default path: the resource's model list); `None` = none.
    pub health_check: Option<HealthCheck>,
    /// Ask streams for usage with `stream_options.include_usage` (api-version 2024-09-01 and
    /// later honour it).
    pub stream_usage: bool,
}

/// How an Azure request authenticates.
#[derive(Debug, Clone)]
pub enum AzureAuth {
    /// `api-key: <key>`.
    ApiKey(Secret),
    /// `Authorization: Bearer <Microsoft Entra ID token>`.
    Bearer(Secret),
}

/// Which Azure URL scheme a provider uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AzureApi {
    /// `/openai/deployments/{deployment}/...?api-version=<this>`: the target's `model` is
    /// the deployment name.
    Dated(String),
    /// `/openai/v1/...` without api-version: the target's `model` goes in the body.
    V1,
}

/// An Anthropic Messages API upstream (`POST {base_url}/v1/messages`).
#[derive(Debug, Clone)]
pub struct AnthropicProvider {
    /// Default `https://api.anthropic.com` (no `/v1`: the Messages path carries it).
    pub base_url: BaseUrl,
    /// Sent as `x-api-key`.
    pub api_key: Secret,
    /// Sent as `anthropic-version`.
    pub version: String,
    /// `max_tokens` when the client sets none (Anthropic requires it).
    pub default_max_tokens: u64,
    pub timeouts: Timeouts,
    /// Active health check (`GET {base_url}{path}`, default path `/v1/models`); `None` = none.
    pub health_check: Option<HealthCheck>,
}

/// An AWS Bedrock Runtime upstream (`POST {base_url}/model/{modelId}/converse[-stream]`),
/// every request signed with SigV4 (service `bedrock`).
#[derive(Debug, Clone)]
pub struct BedrockProvider {
    /// The signing region, e.g. `us-east-1`.
    pub region: String,
    /// Default `https://bedrock-runtime.{region}.amazonaws.com`; set for VPC endpoints and
    /// test servers.
    pub base_url: BaseUrl,
    pub access_key_id: Secret,
    pub secret_access_key: Secret,
    /// For temporary credentials (sent as `x-amz-security-token`).
    pub session_token: Option<Secret>,
    pub timeouts: Timeouts,
}

/// A Gemini API upstream (`POST {base_url}/{api_version}/models/{model}:generateContent`).
#[derive(Debug, Clone)]
pub struct GeminiProvider {
    /// Default `https://generativelanguage.googleapis.com` (no version: `api_version` adds it).
    pub base_url: BaseUrl,
    /// Sent as `x-goog-api-key` (never in the URL, where logs would keep it).
    pub api_key: Secret,
    /// The version path segment, default `v1beta`.
    pub api_version: String,
    pub timeouts: Timeouts,
    /// Active health check (`GET {base_url}{path}`, default path `/{api_version}/models`).
    pub health_check: Option<HealthCheck>,
}

impl GeminiProvider {
    /// `{base path}/{api_version}`: the prefix of every API path.
    pub fn api_root(&self) -> String {
        format!("{}/{}", self.base_url.path, self.api_version)
    }
}

/// A parsed `http(s)://host[:port][/path]` base URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl {
    pub tls: bool,
    /// Host name or IP literal (without brackets), used for DNS, SNI and the Host header.
    pub host: String,
    pub port: u16,
    /// Path prefix without a trailing slash, e.g. "/v1" or "" .
    pub path: String,
}

impl BaseUrl {
    /// The Host header value: host, plus the port when it is not the scheme's default.
    pub fn host_header(&self) -> String {
        let default = if self.tls { 443 } else { 80 };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == default {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "https" } else { "http" };
        write!(f, "{scheme}://{}{}", self.host_header(), self.path)
    }
}

/// The built-in mock provider's behaviour.
#[derive(Debug, Clone, PartialEq)]
pub struct MockProvider {
    /// Delay before the first byte (simulates time to first token).
    pub latency: Duration,
    /// Generation speed for streams; `None` = as fast as possible.
    pub tokens_per_second: Option<f64>,
    /// Completion length when the request sets no max tokens.
    pub default_max_tokens: u32,
    /// Embedding vector length.
    pub embedding_dimensions: u32,
}

impl Default for MockProvider {
    fn default() -> Self {
        MockProvider {
            latency: Duration::ZERO,
            tokens_per_second: None,
            default_max_tokens: 16,
            embedding_dimensions: 8,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ModelGroup {
    /// The public name clients use.
    pub name: String,
    pub targets: NonEmpty<Target>,
    /// Shown in `/v1/models` as `owned_by`.
    pub owned_by: String,
    /// Unix seconds shown in `/v1/models` as `created`.
    pub created: u64,
    /// In-tier selection.
    pub strategy: Strategy,
}

#[derive(Debug, Clone)]
pub struct Target {
    pub provider: Arc<Provider>,
    /// The model name sent to the provider.
    pub model: String,
    /// Lower runs first; a higher tier is used only when every target of the lower ones is
    /// open, unhealthy or out of capacity.
    pub priority: u32,
    /// Share inside the tier; 0 = never picked.
    pub weight: u32,
    /// Requests per minute this target may take (e.g. a PTU's); `None` = unlimited.
    pub capacity_rpm: Option<u32>,
    /// Tokens (prompt + completion) per minute this target may take; `None` = unlimited.
    pub capacity_tpm: Option<u32>,
}

impl Target {
    /// `provider/model`: the target's bounded label in metrics and logs.
    pub fn label(&self) -> String {
        format!("{}/{}", self.provider.name, self.model)
    }
}

#[derive(Debug, Clone)]
pub struct VirtualKey {
    pub name: String,
    /// sha256 of the key; the plain key is never kept.
    pub sha256: [u8; 32],
    /// `None` = every configured model.
    pub models: Option<Vec<String>>,
    /// A tier of `quota.tiers`: its limits apply to this key.
    pub tier: Option<String>,
    /// Team name (for `subject: team` limits).
    pub team: Option<String>,
}

/// A secret string whose Debug/Display never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The value, for the one place that must send it (an upstream header).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A list with at least one element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonEmpty<T>(Vec<T>);

impl<T> NonEmpty<T> {
    /// `None` when `v` is empty.
    pub fn new(v: Vec<T>) -> Option<Self> {
        if v.is_empty() {
            None
        } else {
            Some(NonEmpty(v))
        }
    }
    pub fn first(&self) -> &T {
        &self.0[0]
    }
    pub fn as_slice(&self) -> &[T] {
        &self.0
    }
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.0.iter()
    }
}
