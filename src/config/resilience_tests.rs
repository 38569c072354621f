//! `resilience:`, `strategy`, `capacity_rpm`/`capacity_tpm` and `health_check`: values in, model or located
//! errors out, and the dump reloads to the same thing.

use std::time::Duration;

use super::tests::{errors, load_ok, MINIMAL};
use super::{dump, BreakerSettings, ProviderKind, Resilience, Strategy};

const FULL: &str = r#"listen: 127.0.0.1:8080
providers:
  demo: { kind: mock }
  up:
    kind: openai
    base_url: "http://127.0.0.1:9/v1"
    health_check: { path: /health, interval: 5s, timeout: 1s, healthy_threshold: 3, unhealthy_threshold: 4 }
models:
  demo:
    strategy: least_inflight
    targets:
      - { provider: up, capacity_rpm: 600, capacity_tpm: 90000 }
      - { provider: demo, priority: 1 }
resilience:
  retries: 4
  retry_on: [429, 503]
  deadline: 45s
  capacity_window: 10s
  breaker: { failures: 7, error_rate: 0.25, window: 1m, min_requests: 20, cooldown: 10s, max_retry_after: 2m, half_open_probes: 2 }
"#;

#[test]
fn defaults() {
    let c = load_ok(MINIMAL);
    assert_eq!(c.resilience, Resilience::default());
    assert_eq!(c.resilience.retry_on, [429, 500, 502, 503, 504]);
    assert_eq!(c.models["demo"].strategy, Strategy::Weighted);
    assert_eq!(c.models["demo"].targets.first().capacity_rpm, None);
    assert_eq!(c.models["demo"].targets.first().capacity_tpm, None);
    assert_eq!(c.resilience.capacity_window, Duration::from_secs(60));
}

#[test]
fn every_field_is_read() {
    let c = load_ok(FULL);
    let r = &c.resilience;
    assert_eq!((r.retries, r.deadline), (4, Duration::from_secs(45)));
    assert_eq!(r.retry_on, [429, 503]);
    assert_eq!(r.capacity_window, Duration::from_secs(10));
    assert_eq!(
        r.breaker,
        BreakerSettings {
            failures: 7,
            error_rate: 0.25,
            window: Duration::from_secs(60),
            min_requests: 20,
            cooldown: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(120),
            half_open_probes: 2,
        }
    );
    let g = &c.models["demo"];
    assert_eq!(g.strategy, Strategy::LeastInFlight);
    assert_eq!(g.targets.first().capacity_rpm, Some(600));
    assert_eq!(g.targets.first().capacity_tpm, Some(90000));
    let ProviderKind::OpenAi(o) = &c.providers["up"].kind else {
        panic!("openai kind")
    };
    let h = o.health_check.as_ref().expect("health check");
    assert_eq!(h.path, "/health");
    assert_eq!(
        (h.interval, h.timeout),
        (Duration::from_secs(5), Duration::from_secs(1))
    );
    assert_eq!((h.healthy_threshold, h.unhealthy_threshold), (3, 4));
    // The dump reloads to the same configuration.
    let again = load_ok(&dump(&c));
    assert_eq!(dump(&again), dump(&c));
    assert_eq!(again.resilience, c.resilience);
}

#[test]
fn bad_values_are_located() {
    let text = r#"listen: 127.0.0.1:8080
providers:
  demo: { kind: mock }
  up: { kind: openai, base_url: "http://h/v1", health_check: { path: health, interval: 0s, unhealthy_threshold: 0 } }
models:
  demo:
    strategy: fastest
    targets: [ { provider: demo, capacity_rpm: 0, capacity_tpm: 0 } ]
  zero: { targets: [ { provider: demo, weight: 0 } ] }
resilience:
  retries: 11
  retry_on: [429, 200]
  deadline: 0s
  capacity_window: 2h
  breaker: { error_rate: 1.5, cooldown: soon, half_open_probes: 0 }
"#;
    let want = [
        r#"conf/x.yaml:4:70: providers.up.health_check.path: path must start with `/` and hold no spaces, found "health" (it is appended to base_url)"#,
        "conf/x.yaml:4:88: providers.up.health_check.interval: must be greater than 0",
        "conf/x.yaml:4:113: providers.up.health_check.unhealthy_threshold: unhealthy_threshold must be at least 1",
        "conf/x.yaml:7:15: models.demo.strategy: unknown strategy `fastest`, expected one of `weighted`, `round_robin`, `random`, `least_inflight`, `latency`",
        "conf/x.yaml:8:48: models.demo.targets[0].capacity_rpm: capacity_rpm must be at least 1 (omit it for no limit)",
        "conf/x.yaml:8:65: models.demo.targets[0].capacity_tpm: capacity_tpm must be at least 1 (omit it for no limit)",
        "conf/x.yaml:9:11: models.zero.targets: every target has weight 0, so none could ever be picked",
        "conf/x.yaml:11:12: resilience.retries: retries must be at most 10, found 11",
        "conf/x.yaml:12:19: resilience.retry_on[1]: retry_on lists HTTP error statuses (400-599), found 200",
        "conf/x.yaml:13:13: resilience.deadline: must be greater than 0",
        "conf/x.yaml:14:20: resilience.capacity_window: capacity_window must be at most 1h",
        "conf/x.yaml:15:26: resilience.breaker.error_rate: error_rate is a ratio above 0 and at most 1 (e.g. 0.5), found 1.5",
        r#"conf/x.yaml:15:41: resilience.breaker.cooldown: invalid duration "soon": expected a whole number of seconds, or numbers with units ms, s, m, h (e.g. 100ms, 30s, 5m, 1h30m)"#,
        "conf/x.yaml:15:65: resilience.breaker.half_open_probes: half_open_probes must be at least 1",
    ];
    assert_eq!(errors(text), want);
}

#[test]
fn a_shared_breaker_is_read_and_redacted_in_the_dump() {
    let text = format!(
        "{MINIMAL}resilience:\n  breaker: {{ cooldown: 10s, shared: {{ url: \"redis://:pw@127.0.0.1:6390/2\", prefix: gw, timeout: 20ms }} }}\n"
    );
    let c = load_ok(&text);
    let s = c.resilience.shared_breaker.as_ref().expect("shared");
    assert_eq!(s.url.expose(), "redis://:pw@127.0.0.1:6390/2");
    assert_eq!(
        (s.prefix.as_str(), s.timeout),
        ("gw", Duration::from_millis(20))
    );
    assert_eq!(c.resilience.breaker.cooldown, Duration::from_secs(10));
    let dumped = dump(&c);
    assert!(dumped.contains("shared:"), "{dumped}");
    assert!(!dumped.contains("pw@"), "{dumped}");
    let d = load_ok(&format!(
        "{MINIMAL}resilience:\n  breaker: {{ shared: {{ url: \"redis://h:1\" }} }}\n"
    ));
    let s = d.resilience.shared_breaker.expect("shared");
    assert_eq!(
        (s.prefix.as_str(), s.timeout),
        ("tollgate", Duration::from_millis(50))
    );
}

#[test]
fn a_bad_shared_breaker_is_located() {
    let text = format!(
        "{MINIMAL}resilience:\n  breaker: {{ shared: {{ url: \"http://h:1\", timeout: 0s }} }}\n"
    );
    let got = errors(&text);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(
        got[0].contains("resilience.breaker.shared.url: expected a redis://host:port URL"),
        "{got:?}"
    );
    assert!(
        got[1].contains("resilience.breaker.shared.timeout: must be greater than 0"),
        "{got:?}"
    );
}
