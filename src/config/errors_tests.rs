//! End-to-end error tests: whole files in, every error out with its exact line:column.

use sha2::{Digest, Sha256};

use super::tests::{errors, errors_with, load_ok, no_env, MINIMAL};
use super::ProviderKind;
use super::Secret;

#[test]
fn independent_errors_are_all_reported_with_their_lines() {
    let text = r#"listen: ["127.0.0.1:8080", "nope"]
server:
  grace_period: 30 seconds
  max_body_size: 0
providers:
  openai:
    kind: openai
    base_url: "ftp://x"
    api_key: "${MISSING_KEY}"
  demo: { kind: mock, embedding_dimensions: 9000 }
  weird: { kind: palm }
models:
  demo:
    targets:
      - { provider: demo }
      - { provider: nowhere }
      - { provider: demo, weight: -1 }
keys:
  - { name: a, key: same }
  - { name: b, key: same }
  - { name: a, key_sha256: abc }
  - { name: c, key_sha256: "0000000000000000000000000000000000000000000000000000000000000000", models: [demo, ghost] }
"#;
    let want = [
        r#"conf/x.yaml:1:28: listen[1]: invalid address "nope": expected "ip:port", e.g. "127.0.0.1:8080" or "[::1]:8080""#,
        r#"conf/x.yaml:3:17: server.grace_period: invalid duration "30 seconds": expected a whole number of seconds, or numbers with units ms, s, m, h (e.g. 100ms, 30s, 5m, 1h30m)"#,
        "conf/x.yaml:4:18: server.max_body_size: max_body_size must be greater than 0",
        r#"conf/x.yaml:8:15: providers.openai.base_url: invalid base_url "ftp://x": unsupported scheme `ftp`; expected http://host[:port][/path] or https://host[:port][/path]"#,
        "conf/x.yaml:9:14: providers.openai.api_key: environment variable MISSING_KEY is not set",
        "conf/x.yaml:10:45: providers.demo.embedding_dimensions: embedding_dimensions must be between 1 and 4096, found 9000",
        "conf/x.yaml:11:18: providers.weird.kind: unknown provider kind `palm`, expected one of `openai`, `anthropic`, `azure_openai`, `gemini`, `bedrock`, `mock`",
        "conf/x.yaml:16:21: models.demo.targets[1].provider: unknown provider `nowhere`; known providers: `demo`, `openai`, `weird`",
        "conf/x.yaml:17:35: models.demo.targets[2].weight: invalid value: integer `-1`, expected u32",
        "conf/x.yaml:20:7: keys[1]: same secret as keys[0] (`a`); every key must be distinct",
        "conf/x.yaml:21:13: keys[2].name: duplicate key name `a` (also at keys[0])",
        "conf/x.yaml:22:111: keys[3].models[1]: unknown model `ghost`; known models: `demo`",
    ];
    assert_eq!(errors(text), want);
}

#[test]
fn unknown_fields_are_located_at_their_key() {
    let text = "listen: 127.0.0.1:8080\nprovders:\n  x: {}\nproviders:\n  openai:\n    kind: openai\n    base_ur: \"https://x\"\nmodels:\n  m: { targets: [ { provider: openai, modle: x } ] }\n";
    assert_eq!(errors(text), [
        "conf/x.yaml:2:1: provders: unknown field `provders`, expected one of `listen`, `admin`, `server`, `timeouts`, `providers`, `models`, `keys`, `resilience`, `quota`, `prices`",
        "conf/x.yaml:7:5: providers.openai.base_ur: unknown field `base_ur`, expected one of `preset`, `base_url`, `api_key`, `headers`, `timeouts`, `health_check`, `stream_usage`",
        "conf/x.yaml:9:39: models.m.targets[0].modle: unknown field `modle`, expected one of `provider`, `model`, `priority`, `weight`, `capacity_rpm`, `capacity_tpm`",
    ]);
    // Fields of one kind are unknown for the other.
    let text = MINIMAL.replace("{ kind: mock }", "{ kind: mock, base_url: \"http://x\" }");
    assert_eq!(errors(&text), [
        "conf/x.yaml:2:34: providers.demo.base_url: unknown field `base_url`, expected one of `latency`, `tokens_per_second`, `default_max_tokens`, `embedding_dimensions`",
    ]);
}

#[test]
fn missing_sections_and_fields() {
    assert_eq!(errors(""), [
        "conf/x.yaml: listen: at least one listen address is required, e.g. listen: [\"127.0.0.1:8080\"]",
        "conf/x.yaml: providers: at least one provider is required",
        "conf/x.yaml: models: at least one model is required",
    ]);
    let text = "listen: []\nproviders:\n  p: { base_url: x }\nmodels:\n  m: { owned_by: me }\n";
    assert_eq!(errors(text), [
        "conf/x.yaml:1:1: listen: at least one listen address is required, e.g. listen: [\"127.0.0.1:8080\"]",
        "conf/x.yaml:3:3: providers.p: missing field `kind`, expected one of `openai`, `anthropic`, `azure_openai`, `gemini`, `bedrock`, `mock`",
        "conf/x.yaml:5:3: models.m: missing field `targets`",
    ]);
}

#[test]
fn unset_env_var_names_the_variable_and_the_path() {
    let text = "listen: 127.0.0.1:8080\nproviders:\n  openai:\n    kind: openai\n    base_url: https://api.openai.com/v1\n    # the key comes from the environment\n    api_key: ${OPENAI_API_KEY}\nmodels: { gpt: { targets: [ { provider: openai } ] } }\n";
    assert_eq!(errors_with(text, &no_env), [
        "conf/x.yaml:7:14: providers.openai.api_key: environment variable OPENAI_API_KEY is not set",
    ]);
    let ok = load_ok(text);
    let ProviderKind::OpenAi(o) = &ok.providers["openai"].kind else {
        panic!("openai kind")
    };
    assert_eq!(
        o.api_key.as_ref().map(Secret::expose),
        Some("sk-live-SECRET123")
    );
}

#[test]
fn refused_and_invalid_headers() {
    let text = "listen: 127.0.0.1:8080
providers:
  up:
    kind: openai
    base_url: http://x
    api_key: \"\"
    headers:
      Host: a
      Authorization: b
      \"bad name\": c
      x-ok: \"bell\\a\"
models: { m: { targets: [ { provider: up } ] } }
";
    assert_eq!(errors(text), [
        "conf/x.yaml:6:14: providers.up.api_key: api_key is empty; remove it for servers without authentication",
        "conf/x.yaml:8:7: providers.up.headers.Host: header `Host` is set by the gateway and cannot be configured",
        "conf/x.yaml:9:7: providers.up.headers.Authorization: header `Authorization` is set by the gateway and cannot be configured; use `api_key` instead",
        "conf/x.yaml:10:7: providers.up.headers.\"bad name\": invalid header name `bad name`",
        "conf/x.yaml:11:13: providers.up.headers.x-ok: invalid value for header `x-ok`: control characters are not allowed",
    ]);
}

#[test]
fn key_rules() {
    let base = MINIMAL.to_string() + "keys:\n";
    let cases = [
        ("  - { name: k }", "conf/x.yaml:5:7: keys[0]: missing `key` (the secret) or `key_sha256` (its sha256 in hex)"),
        ("  - { name: k, key: a, key_sha256: b }", "conf/x.yaml:5:7: keys[0]: set either `key` or `key_sha256`, not both"),
        ("  - { name: k, key: \"\" }", "conf/x.yaml:5:21: keys[0].key: key must not be empty"),
        ("  - { name: k, key_sha256: xyz }", "conf/x.yaml:5:28: keys[0].key_sha256: key_sha256 must be 64 hex characters (the sha256 of the key), found 3 characters"),
        ("  - { name: k, key: a, models: [] }", "conf/x.yaml:5:24: keys[0].models: an empty list allows no model; remove `models` to allow every model"),
        ("  - { name: k, key: a, tier: x }", "conf/x.yaml:5:30: keys[0].tier: unknown tier `x`; no tiers are configured"),
        ("  - { name: k, key: a, tiers: x }", "conf/x.yaml:5:24: keys[0].tiers: unknown field `tiers`, expected one of `name`, `key`, `key_sha256`, `models`, `tier`, `team`"),
    ];
    for (line, want) in cases {
        assert_eq!(errors(&format!("{base}{line}\n")), [want], "{line}");
    }
    // Two spellings of the same secret collide too.
    let sha = hex::encode(Sha256::digest(b"s"));
    let text = format!("{base}  - {{ name: a, key: s }}\n  - {{ name: b, key_sha256: {sha} }}\n");
    assert_eq!(
        errors(&text),
        ["conf/x.yaml:6:7: keys[1]: same secret as keys[0] (`a`); every key must be distinct"]
    );
}

#[test]
fn yaml_syntax_errors_have_a_line() {
    let text = "listen: 127.0.0.1:8080\nproviders:\n  demo: { kind: mock\nmodels: {}\n";
    let errs = errors(text);
    assert_eq!(errs.len(), 1);
    assert!(errs[0].starts_with("conf/x.yaml:4:"), "{}", errs[0]);
    let dup =
        "listen: 127.0.0.1:8080\nproviders:\n  demo: { kind: mock }\n  demo: { kind: mock }\n";
    assert_eq!(
        errors(dup),
        ["conf/x.yaml:4:3: providers.demo: duplicate entry with key \"demo\""]
    );
}

#[test]
fn wrong_shapes_name_what_was_expected() {
    let text = "listen: [8080]\nadmin: { listen: \"127.0.0.1:8080\" }\nproviders:\n  p: null\n  q: { kind: mock, tokens_per_second: 0 }\nmodels:\n  m: null\n  n: { targets: [] }\n  o: [1]\nkeys: { a: 1 }\ntimeouts: { idle: 0s }\n";
    assert_eq!(errors(text), [
        "conf/x.yaml:1:10: listen[0]: expected an address string, found a number: expected \"ip:port\", e.g. \"127.0.0.1:8080\" or \"[::1]:8080\"",
        "conf/x.yaml:4:6: providers.p: expected a mapping with a `kind` (`openai`, `anthropic`, `azure_openai`, `gemini`, `bedrock`, `mock`), found nothing (null)",
        "conf/x.yaml:5:39: providers.q.tokens_per_second: tokens_per_second must be a number greater than 0 (omit it for no pacing)",
        "conf/x.yaml:7:6: models.m: missing field `targets`",
        "conf/x.yaml:8:8: models.n.targets: at least one target is required",
        "conf/x.yaml:9:3: models.o: invalid type: sequence, expected a mapping with `targets`, `owned_by` and `strategy`",
        "conf/x.yaml:10:1: keys: expected a list of keys, found a mapping",
        "conf/x.yaml:11:19: timeouts.idle: must be greater than 0",
    ]);
    // `listen` fails, so the admin/listen clash is not checked against it; with a valid
    // listen it is reported.
    let clash = MINIMAL.to_string() + "admin: { listen: \"127.0.0.1:8080\" }\n";
    assert_eq!(errors(&clash), [
        "conf/x.yaml:4:18: admin.listen: address 127.0.0.1:8080 is also a data listener (`listen`)",
    ]);
}

#[test]
fn a_broken_provider_does_not_hide_other_errors_or_cascade() {
    // `bad` is declared but invalid: the target naming it gets no second error, while the
    // unrelated errors in `good`'s target and in keys are still reported.
    let text = "listen: 127.0.0.1:8080\nproviders:\n  bad: { kind: openai }\n  good: { kind: mock }\nmodels:\n  m:\n    targets:\n      - { provider: bad }\n      - { provider: good, model: \"\" }\nkeys:\n  - { name: k, key: x, models: [m, nope] }\n";
    assert_eq!(errors(text), [
        "conf/x.yaml:3:3: providers.bad: missing field `base_url`",
        "conf/x.yaml:9:34: models.m.targets[1].model: model must not be empty (omit it to use the group name)",
        "conf/x.yaml:11:36: keys[0].models[1]: unknown model `nope`; known models: `m`",
    ]);
}

#[test]
fn quota_errors_are_located() {
    let text = MINIMAL.to_string()
        + r#"keys:
  - { name: k, key: a, tier: gold, team: ml }
quota:
  store: redis
  url: "http://x"
  on_error: maybe
  timeout: 0s
  limits:
    - { tokens: 10, per: fortnight }
    - { tokens: 10, requests: 3, per: day }
    - { cost: 0, per: month }
    - { requests: 1, per: second, subject: planet }
    - { requests: 1, per: second, subject: "header:bad header" }
  tiers:
    gold:
      limits:
        - { tokens: 5, per: minute, burst: 2 }
prices:
  nope: { input: 1, output: 2 }
  demo: { input: -1, output: 2 }
"#;
    let got = errors(&text);
    let want = [
        "conf/x.yaml:8:8: quota.url: expected a redis://host:port URL",
        "conf/x.yaml:9:13: quota.on_error: unknown policy `maybe`, expected `allow`, `deny` or `local`",
        "conf/x.yaml:10:12: quota.timeout: must be more than 0",
        "conf/x.yaml:12:26: quota.limits[0].per: unknown window `fortnight`, expected second, minute, hour, day, week, month or year",
        "conf/x.yaml:13:9: quota.limits[1]: set exactly one of `requests`, `tokens`, `input_tokens`, `output_tokens`, `cost`",
        "conf/x.yaml:14:9: quota.limits[2]: the amount must be more than 0",
        "conf/x.yaml:15:44: quota.limits[3].subject: unknown subject `planet`, expected global, key, tier, team, model, client_ip or header:<name>",
        "conf/x.yaml:16:44: quota.limits[4].subject: invalid header name `bad header`",
        "conf/x.yaml:20:37: quota.tiers.gold.limits[0].burst: unknown field `burst`, expected one of `name`, `subject`, `per`, `requests`, `tokens`, `input_tokens`, `output_tokens`, `cost`",
        "conf/x.yaml:22:3: prices.nope: unknown model `nope`; known models: `demo`",
        "conf/x.yaml:23:3: prices.demo: prices must be finite numbers >= 0",
    ];
    assert_eq!(got, want);
}

#[test]
fn quota_loads_with_defaults() {
    let text = MINIMAL.to_string()
        + "keys:\n  - { name: k, key: a, tier: free }\nquota:\n  store: redis\n  url: redis://127.0.0.1:6379\n  limits:\n    - { requests: 60, per: minute, subject: global }\n  tiers:\n    free: { limits: [ { cost: 1.5, per: month } ] }\n";
    let c = load_ok(&text);
    let q = c.quota.unwrap();
    assert_eq!(q.default_max_tokens, 4096);
    assert!(q.reserve_output);
    match q.store {
        super::QuotaStoreSettings::Redis(r) => {
            assert_eq!(r.on_error, super::OnStoreError::Local);
            assert_eq!(r.timeout, std::time::Duration::from_millis(50));
            assert_eq!(format!("{:?}", r.url), "Secret(***)");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(q.limits[0].name, "all.0");
    assert_eq!(q.limits[0].subject, super::Subject::Global);
    let free = &q.tiers["free"][0];
    assert_eq!((free.name.as_str(), free.amount), ("free.0", 1_500_000));
    assert_eq!(free.measure, super::Measure::Cost);
    assert_eq!(c.keys[0].tier.as_deref(), Some("free"));
}

#[test]
fn anthropic_provider_defaults_and_errors() {
    let text = "listen: 127.0.0.1:8080
providers:
  claude: { kind: anthropic, api_key: sk-ant-x }
models: { c: { targets: [ { provider: claude, model: claude-sonnet-4-5 } ] } }
";
    let ok = load_ok(text);
    let ProviderKind::Anthropic(a) = &ok.providers["claude"].kind else {
        panic!("anthropic kind")
    };
    assert_eq!(a.base_url.to_string(), "https://api.anthropic.com");
    assert_eq!(a.api_key.expose(), "sk-ant-x");
    assert_eq!(a.version, "2023-06-01");
    assert_eq!(a.default_max_tokens, 4096);
    assert!(a.health_check.is_none());
    let checked = load_ok(&text.replace(
        "api_key: sk-ant-x }",
        "api_key: sk-ant-x, health_check: { interval: 5s } }",
    ));
    let ProviderKind::Anthropic(a) = &checked.providers["claude"].kind else {
        panic!("anthropic kind")
    };
    assert_eq!(
        a.health_check.as_ref().map(|h| h.path.as_str()),
        Some("/v1/models")
    );
    let dumped = super::dump(&ok);
    assert!(!dumped.contains("sk-ant-x"), "{dumped}");
    assert!(dumped.contains("kind: anthropic"), "{dumped}");

    let bad = "listen: 127.0.0.1:8080
providers:
  a: { kind: anthropic }
  b: { kind: anthropic, api_key: k, default_max_tokens: 0, version: \"\", stream_usage: true }
models: { c: { targets: [ { provider: a }, { provider: b } ] } }
";
    assert_eq!(errors(bad), [
        "conf/x.yaml:3:3: providers.a: missing field `api_key` (Anthropic requires a key)",
        "conf/x.yaml:4:73: providers.b.stream_usage: unknown field `stream_usage`, expected one of `base_url`, `api_key`, `version`, `default_max_tokens`, `timeouts`, `health_check`",
    ]);
    let bad = bad.replace(", stream_usage: true", "");
    assert_eq!(errors(&bad), [
        "conf/x.yaml:3:3: providers.a: missing field `api_key` (Anthropic requires a key)",
        "conf/x.yaml:4:57: providers.b.default_max_tokens: default_max_tokens must be at least 1",
        "conf/x.yaml:4:69: providers.b.version: version must be a non-empty header value such as `2023-06-01`",
    ]);
}

#[test]
fn gemini_provider_defaults_and_errors() {
    let text = "listen: 127.0.0.1:8080
providers:
  g: { kind: gemini, api_key: AIza-secret }
models: { c: { targets: [ { provider: g, model: gemini-2.5-flash } ] } }
";
    let ok = load_ok(text);
    let ProviderKind::Gemini(g) = &ok.providers["g"].kind else {
        panic!("gemini kind")
    };
    assert_eq!(
        g.base_url.to_string(),
        "https://generativelanguage.googleapis.com"
    );
    assert_eq!(g.api_key.expose(), "AIza-secret");
    assert_eq!(
        (g.api_version.as_str(), g.api_root().as_str()),
        ("v1beta", "/v1beta")
    );
    assert!(g.health_check.is_none());
    let checked = load_ok(&text.replace(
        "api_key: AIza-secret }",
        "api_key: AIza-secret, api_version: v1, base_url: \"http://127.0.0.1:9/g\", health_check: { interval: 5s } }",
    ));
    let ProviderKind::Gemini(g) = &checked.providers["g"].kind else {
        panic!("gemini kind")
    };
    assert_eq!(g.api_root(), "/g/v1");
    assert_eq!(
        g.health_check.as_ref().map(|h| h.path.as_str()),
        Some("/v1/models")
    );
    let dumped = super::dump(&ok);
    assert!(!dumped.contains("AIza-secret"), "{dumped}");
    assert!(dumped.contains("kind: gemini"), "{dumped}");
    assert!(dumped.contains("api_version: v1beta"), "{dumped}");

    let bad = "listen: 127.0.0.1:8080
providers:
  a: { kind: gemini }
  b: { kind: gemini, api_key: k, api_version: \"v1/../x\", version: x }
models: { c: { targets: [ { provider: a }, { provider: b } ] } }
";
    assert_eq!(errors(bad), [
        "conf/x.yaml:3:3: providers.a: missing field `api_key` (Gemini requires a key)",
        "conf/x.yaml:4:58: providers.b.version: unknown field `version`, expected one of `base_url`, `api_key`, `api_version`, `timeouts`, `health_check`",
    ]);
    let bad = bad.replace(", version: x", "");
    assert_eq!(errors(&bad), [
        "conf/x.yaml:3:3: providers.a: missing field `api_key` (Gemini requires a key)",
        "conf/x.yaml:4:47: providers.b.api_version: api_version must be a path segment such as `v1beta` or `v1`, found \"v1/../x\"",
    ]);
}
