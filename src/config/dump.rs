//! The effective configuration as YAML, for `tollgate -T` and the admin config dump.
//!
//! Owns: the redaction rules - API keys and sensitive header values print as `***`, virtual
//! keys as `sha256:<first 8 hex>...` - and a layout that mirrors the input file, with every
//! default filled in, so the output reads (and mostly loads) like a config file.
//! Must not: print a secret, or be used to persist config (redacted values do not round-trip).

use serde_yaml::{Mapping, Value};

use super::model::{
    AnthropicProvider, AzureApi, AzureAuth, AzureProvider, BedrockProvider, Config, HealthCheck,
    Limit, Measure, MockProvider, OnStoreError, OpenAiProvider, ProviderKind, QuotaSettings,
    QuotaStoreSettings, Resilience, Subject, Timeouts,
};
use super::units::{format_duration, format_size};

const REDACTED: &str = "***";

/// Renders `config` as YAML with secrets redacted.
pub fn dump(config: &Config) -> String {
    let mut top = Mapping::new();
    let s = &config.server;
    let listen: Vec<Value> = s.listen.iter().map(|a| str(a.to_string())).collect();
    top.insert(str("listen"), Value::Sequence(listen));
    if let Some(admin) = &config.admin {
        top.insert(
            str("admin"),
            map([("listen", str(admin.listen.to_string()))]),
        );
    }
    top.insert(
        str("server"),
        map([
            ("threads", Value::from(s.threads as u64)),
            ("grace_period", str(format_duration(s.grace_period))),
            ("max_body_size", str(format_size(s.max_body_size))),
            (
                "keepalive_timeout",
                str(format_duration(s.keepalive_timeout)),
            ),
        ]),
    );
    if let (Some(p), Some(Value::Mapping(server))) = (&s.pid_file, top.get_mut(str("server"))) {
        server.insert(str("pid_file"), str(p.display().to_string()));
    }
    let mut providers = Mapping::new();
    for (name, p) in &config.providers {
        let v = match &p.kind {
            ProviderKind::OpenAi(o) => openai(o),
            ProviderKind::Anthropic(a) => anthropic(a),
            ProviderKind::Gemini(g) => gemini(g),
            ProviderKind::AzureOpenAi(a) => azure(a),
            ProviderKind::Mock(m) => mock(m),
            ProviderKind::Bedrock(b) => bedrock(b),
        };
        providers.insert(str(name), v);
    }
    top.insert(str("providers"), Value::Mapping(providers));
    let mut models = Mapping::new();
    for (name, g) in &config.models {
        let targets = g
            .targets
            .iter()
            .map(|t| {
                let mut m = map([
                    ("provider", str(&t.provider.name)),
                    ("model", str(&t.model)),
                    ("priority", Value::from(t.priority)),
                    ("weight", Value::from(t.weight)),
                ]);
                if let Value::Mapping(m) = &mut m {
                    if let Some(rpm) = t.capacity_rpm {
                        m.insert(str("capacity_rpm"), Value::from(rpm));
                    }
                    if let Some(tpm) = t.capacity_tpm {
                        m.insert(str("capacity_tpm"), Value::from(tpm));
                    }
                }
                m
            })
            .collect();
        let group = map([
            ("targets", Value::Sequence(targets)),
            ("owned_by", str(&g.owned_by)),
            ("strategy", str(g.strategy.name())),
        ]);
        models.insert(str(name), group);
    }
    top.insert(str("models"), Value::Mapping(models));
    let keys = config
        .keys
        .iter()
        .map(|k| {
            let mut m = Mapping::new();
            m.insert(str("name"), str(&k.name));
            let short = hex::encode(&k.sha256[..4]);
            m.insert(str("key_sha256"), str(format!("sha256:{short}...")));
            if let Some(models) = &k.models {
                m.insert(
                    str("models"),
                    Value::Sequence(models.iter().map(str).collect()),
                );
            }
            for (field, v) in [("tier", &k.tier), ("team", &k.team)] {
                if let Some(v) = v {
                    m.insert(str(field), str(v));
                }
            }
            Value::Mapping(m)
        })
        .collect();
    top.insert(str("keys"), Value::Sequence(keys));
    top.insert(str("resilience"), resilience(&config.resilience));
    if let Some(q) = &config.quota {
        top.insert(str("quota"), quota(q));
    }
    if !config.prices.is_empty() {
        let mut prices = Mapping::new();
        for (name, p) in &config.prices {
            prices.insert(
                str(name),
                map([
                    ("input", Value::from(p.input)),
                    ("output", Value::from(p.output)),
                ]),
            );
        }
        top.insert(str("prices"), Value::Mapping(prices));
    }
    let body = serde_yaml::to_string(&Value::Mapping(top))
        .unwrap_or_else(|e| format!("# cannot render the configuration: {e}\n"));
    format!(
        "# effective configuration from {} (defaults filled in, secrets redacted)\n{body}",
        config.source.display()
    )
}

fn quota(q: &QuotaSettings) -> Value {
    let mut m = Mapping::new();
    match &q.store {
        QuotaStoreSettings::Memory => {
            m.insert(str("store"), str("memory"));
        }
        QuotaStoreSettings::Redis(r) => {
            m.insert(str("store"), str("redis"));
            // The URL may carry a password.
            m.insert(str("url"), str(REDACTED));
            let policy = match r.on_error {
                OnStoreError::Allow => "allow",
                OnStoreError::Deny => "deny",
                OnStoreError::Local => "local",
            };
            m.insert(str("on_error"), str(policy));
            m.insert(str("timeout"), str(format_duration(r.timeout)));
            m.insert(str("prefix"), str(&r.prefix));
        }
    }
    m.insert(str("default_max_tokens"), Value::from(q.default_max_tokens));
    m.insert(str("reserve_output"), Value::from(q.reserve_output));
    m.insert(str("limits"), limits(&q.limits));
    let mut tiers = Mapping::new();
    for (name, l) in &q.tiers {
        tiers.insert(str(name), map([("limits", limits(l))]));
    }
    m.insert(str("tiers"), Value::Mapping(tiers));
    Value::Mapping(m)
}

fn limits(list: &[Limit]) -> Value {
    let items = list
        .iter()
        .map(|l| {
            let (field, amount) = match l.measure {
                Measure::Requests => ("requests", Value::from(l.amount)),
                Measure::Tokens => ("tokens", Value::from(l.amount)),
                Measure::InputTokens => ("input_tokens", Value::from(l.amount)),
                Measure::OutputTokens => ("output_tokens", Value::from(l.amount)),
                Measure::Cost => ("cost", Value::from(l.amount as f64 / 1_000_000.0)),
            };
            let subject = match &l.subject {
                Subject::Global => "global".to_owned(),
                Subject::Key => "key".to_owned(),
                Subject::Tier => "tier".to_owned(),
                Subject::Team => "team".to_owned(),
                Subject::Model => "model".to_owned(),
                Subject::ClientIp => "client_ip".to_owned(),
                Subject::Header(h) => format!("header:{h}"),
            };
            map([
                ("name", str(&l.name)),
                (field, amount),
                ("per", str(l.window.name())),
                ("subject", str(subject)),
            ])
        })
        .collect();
    Value::Sequence(items)
}

fn openai(o: &OpenAiProvider) -> Value {
    let mut m = Mapping::new();
    m.insert(str("kind"), str("openai"));
    m.insert(str("base_url"), str(o.base_url.to_string()));
    if o.api_key.is_some() {
        m.insert(str("api_key"), str(REDACTED));
    }
    if !o.headers.is_empty() {
        m.insert(str("headers"), headers(&o.headers));
    }
    m.insert(str("timeouts"), timeouts(&o.timeouts));
    if let Some(h) = &o.health_check {
        m.insert(str("health_check"), health_check(h));
    }
    if !o.stream_usage {
        m.insert(str("stream_usage"), Value::from(false));
    }
    if o.preset.name != crate::providers::compat::OPENAI.name {
        m.insert(str("preset"), str(o.preset.name));
    }
    Value::Mapping(m)
}

fn azure(a: &AzureProvider) -> Value {
    let mut m = Mapping::new();
    m.insert(str("kind"), str("azure_openai"));
    m.insert(str("base_url"), str(a.base_url.to_string()));
    let version = match &a.api {
        AzureApi::Dated(v) => v.as_str(),
        AzureApi::V1 => "v1",
    };
    match &a.auth {
        AzureAuth::ApiKey(_) => m.insert(str("api_key"), str(REDACTED)),
        AzureAuth::Bearer(_) => m.insert(str("bearer_token"), str(REDACTED)),
    };
    m.insert(str("api_version"), str(version));
    if !a.headers.is_empty() {
        m.insert(str("headers"), headers(&a.headers));
    }
    m.insert(str("timeouts"), timeouts(&a.timeouts));
    if let Some(h) = &a.health_check {
        m.insert(str("health_check"), health_check(h));
    }
    if !a.stream_usage {
        m.insert(str("stream_usage"), Value::from(false));
    }
    Value::Mapping(m)
}

/// Extra headers, sensitive values redacted.
fn headers(list: &[(http::HeaderName, http::HeaderValue)]) -> Value {
    let mut h = Mapping::new();
    for (name, value) in list {
        let shown = if value.is_sensitive() {
            REDACTED.to_string()
        } else {
            String::from_utf8_lossy(value.as_bytes()).into_owned()
        };
        h.insert(str(name.as_str()), str(shown));
    }
    Value::Mapping(h)
}

fn anthropic(a: &AnthropicProvider) -> Value {
    let mut m = map([
        ("kind", str("anthropic")),
        ("base_url", str(a.base_url.to_string())),
        ("api_key", str(REDACTED)),
        ("version", str(&a.version)),
        ("default_max_tokens", Value::from(a.default_max_tokens)),
        ("timeouts", timeouts(&a.timeouts)),
    ]);
    if let (Some(h), Value::Mapping(m)) = (&a.health_check, &mut m) {
        m.insert(str("health_check"), health_check(h));
    }
    m
}

fn bedrock(b: &BedrockProvider) -> Value {
    let mut m = map([
        ("kind", str("bedrock")),
        ("region", str(&b.region)),
        ("base_url", str(b.base_url.to_string())),
        ("access_key_id", str(REDACTED)),
        ("secret_access_key", str(REDACTED)),
        ("timeouts", timeouts(&b.timeouts)),
    ]);
    if let (Some(_), Value::Mapping(m)) = (&b.session_token, &mut m) {
        m.insert(str("session_token"), str(REDACTED));
    }
    m
}

fn gemini(g: &crate::config::GeminiProvider) -> Value {
    let mut m = map([
        ("kind", str("gemini")),
        ("base_url", str(g.base_url.to_string())),
        ("api_key", str(REDACTED)),
        ("api_version", str(&g.api_version)),
        ("timeouts", timeouts(&g.timeouts)),
    ]);
    if let (Some(h), Value::Mapping(m)) = (&g.health_check, &mut m) {
        m.insert(str("health_check"), health_check(h));
    }
    m
}

fn health_check(h: &HealthCheck) -> Value {
    map([
        ("path", str(&h.path)),
        ("interval", str(format_duration(h.interval))),
        ("timeout", str(format_duration(h.timeout))),
        ("healthy_threshold", Value::from(h.healthy_threshold)),
        ("unhealthy_threshold", Value::from(h.unhealthy_threshold)),
    ])
}

fn resilience(r: &Resilience) -> Value {
    let b = &r.breaker;
    let mut out = map([
        ("retries", Value::from(r.retries)),
        (
            "retry_on",
            Value::Sequence(r.retry_on.iter().map(|s| Value::from(*s)).collect()),
        ),
        ("deadline", str(format_duration(r.deadline))),
        ("capacity_window", str(format_duration(r.capacity_window))),
        (
            "breaker",
            map([
                ("failures", Value::from(b.failures)),
                ("error_rate", Value::from(b.error_rate)),
                ("window", str(format_duration(b.window))),
                ("min_requests", Value::from(b.min_requests)),
                ("cooldown", str(format_duration(b.cooldown))),
                ("max_retry_after", str(format_duration(b.max_retry_after))),
                ("half_open_probes", Value::from(b.half_open_probes)),
            ]),
        ),
    ]);
    if let (Some(s), Value::Mapping(top)) = (&r.shared_breaker, &mut out) {
        if let Some(Value::Mapping(b)) = top.get_mut(str("breaker")) {
            let shared = map([
                // The URL may carry a password.
                ("url", str(REDACTED)),
                ("prefix", str(&s.prefix)),
                ("timeout", str(format_duration(s.timeout))),
            ]);
            b.insert(str("shared"), shared);
        }
    }
    out
}

fn mock(m: &MockProvider) -> Value {
    let mut out = Mapping::new();
    out.insert(str("kind"), str("mock"));
    out.insert(str("latency"), str(format_duration(m.latency)));
    if let Some(tps) = m.tokens_per_second {
        out.insert(str("tokens_per_second"), Value::from(tps));
    }
    out.insert(str("default_max_tokens"), Value::from(m.default_max_tokens));
    out.insert(
        str("embedding_dimensions"),
        Value::from(m.embedding_dimensions),
    );
    Value::Mapping(out)
}

fn timeouts(t: &Timeouts) -> Value {
    map([
        ("connect", str(format_duration(t.connect))),
        ("first_byte", str(format_duration(t.first_byte))),
        ("idle", str(format_duration(t.idle))),
        ("total", str(format_duration(t.total))),
    ])
}

fn str(s: impl Into<String>) -> Value {
    Value::String(s.into())
}

fn map<const N: usize>(entries: [(&str, Value); N]) -> Value {
    Value::Mapping(entries.into_iter().map(|(k, v)| (str(k), v)).collect())
}
