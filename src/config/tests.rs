//! End-to-end tests of `load_str` / `dump`: whole files in, a model or located errors out.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::validate::Host;
use super::*;

pub(super) const HOST: Host = Host {
    now_unix: 1_700_000_000,
    cores: 6,
};

pub(super) fn env(name: &str) -> Option<String> {
    match name {
        "OPENAI_API_KEY" => Some("sk-live-SECRET123".into()),
        _ => None,
    }
}

pub(super) fn no_env(_: &str) -> Option<String> {
    None
}

pub(super) fn load_ok(text: &str) -> Config {
    match load_with(text, Path::new("conf/x.yaml"), &env, HOST) {
        Ok(c) => c,
        Err(e) => panic!("expected a valid config, got:\n{e}"),
    }
}

pub(super) fn errors_with(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
    match load_with(text, Path::new("conf/x.yaml"), env, HOST) {
        Ok(_) => panic!("expected errors"),
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    }
}

pub(super) fn errors(text: &str) -> Vec<String> {
    errors_with(text, &env)
}

const FULL: &str = r#"
listen: ["127.0.0.1:8080", "[::1]:8081"]
admin: { listen: "127.0.0.1:9090" }
server:
  threads: 4
  grace_period: 10s
  max_body_size: 1MiB
  keepalive_timeout: 1m
timeouts: { connect: 2s, total: 5m }
providers:
  demo: { kind: mock, latency: 20ms, tokens_per_second: 50, default_max_tokens: 32, embedding_dimensions: 16 }
  openai:
    kind: openai
    base_url: "https://api.openai.com/v1/"
    api_key: "${OPENAI_API_KEY}"
    headers: { OpenAI-Organization: org-x, X-Api-Key: literal-secret }
    timeouts: { connect: 3s }
models:
  demo:
    targets:
      - { provider: demo }
  gpt-4o:
    targets:
      - { provider: openai, model: gpt-4o-2024-08-06, priority: 0, weight: 3 }
      - { provider: demo, model: demo-1, priority: 1, weight: 0 }
    owned_by: openai
keys:
  - { name: demo, key: sk-tollgate-demo, models: [demo] }
  - { name: team-a, key_sha256: "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD" }
"#;

#[test]
fn full_config_becomes_the_expected_model() {
    let c = load_ok(FULL);
    assert_eq!(c.source, Path::new("conf/x.yaml"));
    let addrs: Vec<SocketAddr> = c.server.listen.iter().copied().collect();
    let want: Vec<SocketAddr> = vec![
        "127.0.0.1:8080".parse().unwrap(),
        "[::1]:8081".parse().unwrap(),
    ];
    assert_eq!(addrs, want);
    assert_eq!(
        c.admin.unwrap().listen,
        "127.0.0.1:9090".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(c.server.threads, 4);
    assert_eq!(c.server.grace_period, Duration::from_secs(10));
    assert_eq!(c.server.max_body_size, 1 << 20);
    assert_eq!(c.server.keepalive_timeout, Duration::from_secs(60));

    let ProviderKind::OpenAi(o) = &c.providers["openai"].kind else {
        panic!("openai kind")
    };
    assert_eq!(
        o.base_url,
        BaseUrl {
            tls: true,
            host: "api.openai.com".into(),
            port: 443,
            path: "/v1".into()
        }
    );
    assert_eq!(
        o.api_key.as_ref().map(Secret::expose),
        Some("sk-live-SECRET123")
    );
    let headers: Vec<(&str, &str)> = o
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.to_str().unwrap()))
        .collect();
    assert_eq!(
        headers,
        [
            ("openai-organization", "org-x"),
            ("x-api-key", "literal-secret")
        ]
    );
    // Provider `connect` beats the global 2s; global `total` beats the built-in default.
    let t = o.timeouts;
    assert_eq!(t.connect, Duration::from_secs(3));
    assert_eq!(
        (t.first_byte, t.idle, t.total),
        (
            Duration::from_secs(120),
            Duration::from_secs(60),
            Duration::from_secs(300)
        )
    );

    let ProviderKind::Mock(m) = &c.providers["demo"].kind else {
        panic!("mock kind")
    };
    let want = MockProvider {
        latency: Duration::from_millis(20),
        tokens_per_second: Some(50.0),
        default_max_tokens: 32,
        embedding_dimensions: 16,
    };
    assert_eq!(*m, want);

    let demo = &c.models["demo"];
    assert_eq!(
        (demo.name.as_str(), demo.owned_by.as_str(), demo.created),
        ("demo", "tollgate", 1_700_000_000)
    );
    let t = demo.targets.first();
    assert_eq!(
        (
            t.provider.name.as_str(),
            t.model.as_str(),
            t.priority,
            t.weight
        ),
        ("demo", "demo", 0, 1)
    );
    let gpt = &c.models["gpt-4o"];
    assert_eq!(gpt.owned_by, "openai");
    let got: Vec<(&str, &str, u32, u32)> = gpt
        .targets
        .iter()
        .map(|t| {
            (
                t.provider.name.as_str(),
                t.model.as_str(),
                t.priority,
                t.weight,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("openai", "gpt-4o-2024-08-06", 0, 3),
            ("demo", "demo-1", 1, 0)
        ]
    );
    assert!(Arc::ptr_eq(
        &gpt.targets.first().provider,
        &c.providers["openai"]
    ));

    assert_eq!(c.keys.len(), 2);
    assert_eq!(c.keys[0].name, "demo");
    assert_eq!(
        c.keys[0].sha256,
        <[u8; 32]>::from(Sha256::digest(b"sk-tollgate-demo"))
    );
    assert_eq!(c.keys[0].models, Some(vec!["demo".to_string()]));
    assert_eq!(c.keys[1].sha256, <[u8; 32]>::from(Sha256::digest(b"abc")));
    assert_eq!(c.keys[1].models, None);
}

pub(super) const MINIMAL: &str = "listen: 127.0.0.1:8080\nproviders: { demo: { kind: mock } }\nmodels: { demo: { targets: [ { provider: demo } ] } }\n";

#[test]
fn defaults_fill_a_minimal_config() {
    let c = load_ok(MINIMAL);
    assert_eq!(c.server.threads, HOST.cores, "threads default to auto");
    assert_eq!(c.server.grace_period, Duration::from_secs(30));
    assert_eq!(c.server.max_body_size, 32 << 20);
    assert_eq!(c.server.keepalive_timeout, Duration::from_secs(75));
    assert!(c.admin.is_none() && c.keys.is_empty());
    let ProviderKind::Mock(m) = &c.providers["demo"].kind else {
        panic!("mock kind")
    };
    assert_eq!(*m, MockProvider::default());
}

#[test]
fn threads_auto_uses_the_core_count() {
    let text = MINIMAL.replace("listen:", "server: { threads: auto }\nlisten:");
    assert_eq!(load_ok(&text).server.threads, 6);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let real = load_str(&text, Path::new("x.yaml"), &no_env).unwrap();
    assert_eq!(real.server.threads, cores);
    let bad = MINIMAL.replace("listen:", "server: { threads: 0 }\nlisten:");
    assert_eq!(
        errors(&bad),
        ["conf/x.yaml:1:20: server.threads: expected `auto` or a whole number of threads >= 1"]
    );
}

#[test]
fn env_defaults_and_literal_dollars() {
    let text = "listen: \"${LISTEN:-127.0.0.1:8080}\"\nproviders:\n  local:\n    kind: openai\n    base_url: \"http://${HOST:-127.0.0.1}:8000/v1\"\n    headers: { X-Price: \"5$$ per ${UNIT:-call}\" }\nmodels: { m: { targets: [ { provider: local } ] } }\n";
    let c = load_ok(text);
    assert_eq!(c.server.listen.first().to_string(), "127.0.0.1:8080");
    let ProviderKind::OpenAi(o) = &c.providers["local"].kind else {
        panic!("openai kind")
    };
    assert_eq!(o.base_url.to_string(), "http://127.0.0.1:8000/v1");
    assert_eq!(o.headers[0].1.to_str().unwrap(), "5$ per call");
    let bad = text.replace("${UNIT:-call}", "${UNIT");
    let errs = errors(&bad);
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0].starts_with(
            "conf/x.yaml:6:25: providers.local.headers.X-Price: malformed environment reference"
        ),
        "{}",
        errs[0]
    );
}

#[test]
fn unreadable_file_is_one_error_naming_it() {
    let err = load(Path::new("/nonexistent/tollgate.yaml")).unwrap_err();
    assert_eq!(err.0.len(), 1);
    let shown = err.to_string();
    assert!(
        shown.starts_with("/nonexistent/tollgate.yaml: cannot read config file: "),
        "{shown}"
    );
    assert_eq!(err.0[0].line, None);
}

#[test]
fn dump_redacts_secrets_and_reloads() {
    let c = load_ok(FULL);
    let out = dump(&c);
    assert!(!out.contains("sk-live-SECRET123"), "{out}");
    assert!(!out.contains("literal-secret"), "{out}");
    assert!(!out.contains("sk-tollgate-demo"), "{out}");
    assert!(out.contains("api_key: '***'"), "{out}");
    assert!(out.contains("openai-organization: org-x"), "{out}");
    let demo_sha = hex::encode(Sha256::digest(b"sk-tollgate-demo"));
    assert!(
        out.contains(&format!("key_sha256: sha256:{}...", &demo_sha[..8])),
        "{out}"
    );
    assert!(!out.contains(&demo_sha), "{out}");

    // Without keys, the dump is itself a valid config describing the same thing.
    let no_keys = FULL.split("keys:").next().unwrap();
    let first = load_ok(no_keys);
    let again = load_ok(&dump(&first));
    assert_eq!(dump(&again), dump(&first));
    assert_eq!(again.server.max_body_size, 1 << 20);
    let ProviderKind::OpenAi(o) = &again.providers["openai"].kind else {
        panic!("openai kind")
    };
    assert_eq!(o.timeouts.total, Duration::from_secs(300));
    assert_eq!(o.api_key.as_ref().map(Secret::expose), Some("***"));
}
