//! Balancing and resilience end to end: a real gateway in front of two (or three) in-process
//! mock providers that inject 429 + Retry-After, 503, hangs and failing health probes.
//!
//! Timing is only ever checked by bounded polling; the breaker's exact timing is unit-tested
//! with injected time in `src/balance/breaker_tests.rs`.

mod common;

use std::time::{Duration, Instant};

use common::{client, http_get, metric_sum, start_gateway, start_mock, Gateway, KEY_ALL};
use serde_json::{json, Value};
use tollgate_mock_provider::{Fault, MockProvider};

const CONFIG: &str = r#"listen: ["{listen}"]
admin: { listen: "{admin}" }
server: { threads: 2, grace_period: 10s, max_body_size: 4MiB }
timeouts: { connect: 1s, first_byte: 3s, idle: 3s, total: 20s }
providers:
  a: { kind: openai, base_url: "{a}", api_key: "sk-upstream-test", timeouts: { first_byte: 500ms } }
  b: { kind: openai, base_url: "{b}", api_key: "sk-upstream-test" }
models:
  gpt-4o:
    targets:
      - { provider: a, model: model-a, priority: 0 }
      - { provider: b, model: model-b, priority: 1 }
  split:
    strategy: weighted
    targets:
      - { provider: a, model: model-a, weight: 3 }
      - { provider: b, model: model-b, weight: 1 }
  solo:
    targets: [ { provider: a, model: model-a } ]
  fastest:
    strategy: latency
    targets:
      - { provider: a, model: model-a }
      - { provider: b, model: model-b }
  metered:
    targets:
      - { provider: a, model: model-a, priority: 0, capacity_tpm: 600 }
      - { provider: b, model: model-b, priority: 1 }
resilience:
  retries: 3
  deadline: 30s
  capacity_window: 3s
  breaker: { failures: 100, min_requests: 1000, cooldown: 30s, max_retry_after: 5m }
keys:
  - { name: all, key: sk-test-all }
"#;

async fn setup() -> (MockProvider, MockProvider, Gateway) {
    let a = start_mock().await;
    let b = start_mock().await;
    let yaml = CONFIG
        .replace("{a}", &a.base_url())
        .replace("{b}", &b.base_url());
    let gw = start_gateway(yaml).await;
    (a, b, gw)
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
    /// The upstream model that answered (the mock echoes the request's `model`).
    fn served_by(&self) -> String {
        self.json()["model"].as_str().unwrap_or("").to_owned()
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

async fn chat_body(gw: &Gateway, body: &Value) -> Answer {
    let resp = client()
        .post(gw.url("/v1/chat/completions"))
        .header("authorization", format!("Bearer {KEY_ALL}"))
        .json(body)
        .send()
        .await
        .expect("send");
    Answer {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        body: resp.text().await.expect("body"),
    }
}

async fn chat(gw: &Gateway, model: &str) -> Answer {
    chat_body(
        gw,
        &json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await
}

fn metrics(gw: &Gateway) -> String {
    http_get(&gw.admin, "/metrics", Duration::from_secs(5))
        .expect("metrics")
        .1
}

/// Bounded polling: waits (at most 10 s) until `cond` holds.
async fn eventually(what: &str, cond: &dyn Fn() -> bool) {
    let t0 = Instant::now();
    while !cond() {
        assert!(t0.elapsed() < Duration::from_secs(10), "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn status(code: u16, headers: &[(&str, &str)], body: Option<&str>) -> Fault {
    Fault::Status {
        status: code,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: body.map(str::to_owned),
    }
}

/// 30% of the preferred target's answers are 429/503 (without retry hints, so it stays in
/// rotation): every client request still gets a 200, the failed ones from the fallback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_mix_on_the_preferred_target_is_invisible_to_clients() {
    let (a, b, gw) = setup().await;
    let n = 50;
    let mut faults = 0;
    for i in 0..n {
        match i % 10 {
            0 | 4 => {
                a.push_fault(status(429, &[], None));
                faults += 1;
            }
            7 => {
                a.push_fault(status(503, &[], None));
                faults += 1;
            }
            // Answer normally.
            _ => a.push_fault(Fault::DelayHeaders(Duration::ZERO)),
        }
    }
    for i in 0..n {
        let r = chat(&gw, "gpt-4o").await;
        assert_eq!(r.status, 200, "request {i}: {}", r.body);
    }
    assert_eq!(a.requests().len(), n);
    assert_eq!(b.requests().len(), faults, "one fallback per fault");
    let m = metrics(&gw);
    let retries = |reason| metric_sum(&m, "tollgate_retries_total", &[("reason", reason)]);
    assert_eq!(retries("429"), 10.0, "{m}");
    assert_eq!(retries("503"), 5.0, "{m}");
    let fallbacks = metric_sum(
        &m,
        "tollgate_fallbacks_total",
        &[("model", "gpt-4o"), ("from", "a"), ("to", "b")],
    );
    assert_eq!(fallbacks, 15.0);
}

/// A 429 with `retry-after: 2` opens the preferred target's breaker for that long: traffic
/// goes to the fallback, then a probe goes back, succeeds, and traffic returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_keeps_traffic_off_then_it_returns() {
    let (a, b, gw) = setup().await;
    a.push_fault(status(429, &[("retry-after", "2")], None));
    let r = chat(&gw, "gpt-4o").await;
    let t0 = Instant::now();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.served_by(), "model-b");
    assert_eq!(a.requests().len(), 1);
    // Bounded polling: until the preferred target serves again.
    let back = loop {
        let r = chat(&gw, "gpt-4o").await;
        assert_eq!(r.status, 200, "{}", r.body);
        if r.served_by() == "model-a" {
            break t0.elapsed();
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "never returned");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        back >= Duration::from_millis(1500),
        "back after {back:?}, before the advertised 2 s"
    );
    assert_eq!(a.requests().len(), 2, "exactly one probe after the 429");
    assert!(b.requests().len() >= 2);
    // Closed again: the next request goes to the preferred target directly.
    assert_eq!(chat(&gw, "gpt-4o").await.served_by(), "model-a");
    let m = metrics(&gw);
    let tr = |to, reason| {
        metric_sum(
            &m,
            "tollgate_breaker_transitions_total",
            &[("target", "a/model-a"), ("to", to), ("reason", reason)],
        )
    };
    assert_eq!(tr("open", "retry_after"), 1.0, "{m}");
    assert_eq!(tr("half_open", "probe"), 1.0, "{m}");
    assert_eq!(tr("closed", "recovered"), 1.0, "{m}");
    assert_eq!(
        metric_sum(&m, "tollgate_breaker_state", &[("target", "a/model-a")]),
        0.0
    );
}

/// `capacity_tpm: 600` over a 3 s `capacity_window` is 30 tokens per window. Each "hi" uses 14
/// real tokens at the mock (4 prompt + 10 completion) and is estimated at fewer before the
/// call, so two fit on the preferred target and the third overflows to the next tier (only
/// because the real usage replaced the smaller estimates); once the window slid, the preferred
/// target serves again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_out_of_tokens_overflows_then_serves_again() {
    let (a, b, gw) = setup().await;
    let served: Vec<String> = {
        let mut v = Vec::new();
        for _ in 0..3 {
            let r = chat(&gw, "metered").await;
            assert_eq!(r.status, 200, "{}", r.body);
            assert_eq!(r.json()["usage"]["total_tokens"], 14, "{}", r.body);
            v.push(r.served_by());
        }
        v
    };
    let t0 = Instant::now();
    assert_eq!(served, ["model-a", "model-a", "model-b"]);
    assert_eq!((a.requests().len(), b.requests().len()), (2, 1));
    // Bounded polling: until the window slid far enough for another request.
    loop {
        let r = chat(&gw, "metered").await;
        assert_eq!(r.status, 200, "{}", r.body);
        if r.served_by() == "model-a" {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "never returned");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(a.requests().len(), 3);
    let m = metrics(&gw);
    let selected = |target| {
        metric_sum(
            &m,
            "tollgate_target_selections_total",
            &[("model", "metered"), ("target", target)],
        )
    };
    assert_eq!(selected("a/model-a"), 3.0, "{m}");
    assert!(selected("b/model-b") >= 1.0, "{m}");
}

/// One target: a 503 is retried on it and the client gets the success.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_503_is_retried_and_succeeds() {
    let (a, _b, gw) = setup().await;
    a.push_fault(status(503, &[], None));
    let r = chat(&gw, "solo").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let reqs = a.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].body, reqs[1].body, "the retry sends the same body");
    assert!(reqs.iter().all(|r| r.problems.is_empty()), "{reqs:#?}");
}

/// Every target fails: the client gets the LAST upstream failure as it was (status, body,
/// Retry-After), and while every breaker is open a 503 that says when to come back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_all_fail_the_last_failure_reaches_the_client() {
    let (a, b, gw) = setup().await;
    a.push_fault(status(
        503,
        &[("retry-after", "5")],
        Some(r#"{"error":{"message":"a is overloaded","type":"server_error","param":null,"code":null}}"#),
    ));
    let last_body = r#"{"error":{"message":"b says slow down","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#;
    b.push_fault(status(
        429,
        &[
            ("retry-after", "7"),
            ("x-ratelimit-remaining-requests", "0"),
        ],
        Some(last_body),
    ));
    let r = chat(&gw, "gpt-4o").await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.body, last_body);
    assert_eq!(r.header("retry-after"), Some("7"));
    assert_eq!(r.header("x-ratelimit-remaining-requests"), Some("0"));
    assert_eq!((a.requests().len(), b.requests().len()), (1, 1));
    // Both breakers are open now: no upstream request, a 503 with a Retry-After.
    let r = chat(&gw, "gpt-4o").await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.json()["error"]["code"], "no_target_available");
    let secs: u64 = r
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("retry-after");
    assert!((1..=5).contains(&secs), "retry-after {secs}");
    assert_eq!((a.requests().len(), b.requests().len()), (1, 1));
}

/// A body far over pingora's 64 KiB replay limit is replayed intact to the fallback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_64k_are_retried_intact() {
    let (a, b, gw) = setup().await;
    a.push_fault(status(500, &[], None));
    let big: String = (0..40_000).map(|i| format!("w{} ", i % 10)).collect();
    assert!(big.len() > 100 * 1024);
    let body = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": big}]});
    let r = chat_body(&gw, &body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.served_by(), "model-b");
    let (ra, rb) = (&a.requests()[0], &b.requests()[0]);
    assert!(ra.problems.is_empty() && rb.problems.is_empty());
    assert_eq!(ra.json()["messages"][0]["content"], big.as_str());
    assert_eq!(rb.json()["messages"][0]["content"], big.as_str());
    // Same length names: the bodies differ only in the model.
    assert_eq!(ra.body.len(), rb.body.len());
    let swapped = String::from_utf8_lossy(&ra.body).replace("model-a", "model-b");
    assert_eq!(swapped.as_bytes(), &rb.body[..]);
}

/// Two healthy targets weighted 3:1 share the traffic 3:1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weighted_split_follows_the_weights() {
    let (a, b, gw) = setup().await;
    for _ in 0..80 {
        assert_eq!(chat(&gw, "split").await.status, 200);
    }
    let (na, nb) = (a.requests().len() as f64, b.requests().len() as f64);
    assert!(
        (na - 60.0).abs() <= 6.0 && (nb - 20.0).abs() <= 6.0,
        "{na}:{nb}"
    );
    let m = metrics(&gw);
    let sel = |t| metric_sum(&m, "tollgate_target_selections_total", &[("target", t)]);
    assert_eq!(sel("a/model-a"), na);
    assert_eq!(sel("b/model-b"), nb);
}

/// A hung target (no response head) falls over to the next one after its first-byte timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_target_falls_over_after_the_first_byte_timeout() {
    let (a, b, gw) = setup().await;
    a.push_fault(Fault::Hang);
    let t0 = Instant::now();
    let r = chat(&gw, "gpt-4o").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.served_by(), "model-b");
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
    assert_eq!((a.requests().len(), b.requests().len()), (1, 1));
    let m = metrics(&gw);
    assert_eq!(
        metric_sum(&m, "tollgate_retries_total", &[("reason", "timeout")]),
        1.0
    );
}

/// Active health checks: a provider failing its probes is taken out of rotation (traffic goes
/// to the next tier), shows in metrics and `/readyz`, and comes back when probes pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_health_checks_take_a_provider_out_and_back() {
    let c = start_mock().await;
    let b = start_mock().await;
    let yaml = format!(
        r#"listen: ["{{listen}}"]
admin: {{ listen: "{{admin}}" }}
providers:
  c:
    kind: openai
    base_url: "{}"
    api_key: "sk-upstream-test"
    health_check: {{ path: /models, interval: 100ms, timeout: 1s, healthy_threshold: 1, unhealthy_threshold: 2 }}
  b: {{ kind: openai, base_url: "{}", api_key: "sk-upstream-test" }}
models:
  gpt-4o:
    targets:
      - {{ provider: c, model: model-c, priority: 0 }}
      - {{ provider: b, model: model-b, priority: 1 }}
  only-c: {{ targets: [ {{ provider: c }} ] }}
keys:
  - {{ name: all, key: sk-test-all }}
"#,
        c.base_url(),
        b.base_url()
    );
    let gw = start_gateway(yaml).await;
    let healthy = |gw: &Gateway| {
        metric_sum(
            &metrics(gw),
            "tollgate_provider_healthy",
            &[("provider", "c")],
        )
    };
    let readyz = |gw: &Gateway| {
        http_get(&gw.admin, "/readyz", Duration::from_secs(5))
            .expect("readyz")
            .0
    };
    eventually("a probe", &|| {
        c.requests().iter().any(|r| r.path == "/v1/models")
    })
    .await;
    assert_eq!(chat(&gw, "gpt-4o").await.served_by(), "model-c");

    c.set_fault_always(Some(status(500, &[], None)));
    eventually("c unhealthy", &|| healthy(&gw) == 0.0).await;
    assert_eq!(readyz(&gw), 503, "only-c has no healthy target");
    let r = chat(&gw, "gpt-4o").await;
    assert_eq!((r.status, r.served_by().as_str()), (200, "model-b"));

    c.set_fault_always(None);
    eventually("c healthy", &|| healthy(&gw) == 1.0).await;
    assert_eq!(readyz(&gw), 200);
    assert_eq!(chat(&gw, "gpt-4o").await.served_by(), "model-c");
}

/// The total deadline bounds all attempts together: two hung targets give one 504 within the
/// deadline, not one first-byte timeout per target.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deadline_bounds_all_attempts() {
    let a = start_mock().await;
    let b = start_mock().await;
    let yaml = CONFIG
        .replace("{a}", &a.base_url())
        .replace("{b}", &b.base_url())
        .replace("deadline: 30s", "deadline: 1s");
    let gw = start_gateway(yaml).await;
    a.push_fault(Fault::Hang);
    b.push_fault(Fault::Hang);
    let t0 = Instant::now();
    let r = chat(&gw, "gpt-4o").await;
    let took = t0.elapsed();
    assert_eq!(r.status, 504, "{}", r.body);
    assert_eq!(r.json()["error"]["code"], "upstream_timeout");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(2500),
        "504 after {took:?}, deadline 1s (b's own first_byte timeout is 3s)"
    );
    assert_eq!((a.requests().len(), b.requests().len()), (1, 1));
}

/// Fallback crosses provider kinds: an unreachable OpenAI-compatible target falls back to the
/// built-in mock, with the request rebuilt for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_errors_fall_back_across_provider_kinds() {
    let yaml = r#"listen: ["{listen}"]
admin: { listen: "{admin}" }
providers:
  dead: { kind: openai, base_url: "http://127.0.0.1:1/v1" }
  demo: { kind: mock }
models:
  gpt-4o:
    targets:
      - { provider: dead, model: gpt-4o }
      - { provider: demo, model: demo-1, priority: 1 }
keys:
  - { name: all, key: sk-test-all }
"#;
    let gw = start_gateway(yaml.to_owned()).await;
    for _ in 0..3 {
        let r = chat(&gw, "gpt-4o").await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.served_by(), "demo-1");
    }
    let m = metrics(&gw);
    assert_eq!(
        metric_sum(&m, "tollgate_retries_total", &[("reason", "connect")]),
        3.0,
        "{m}"
    );
    assert_eq!(
        metric_sum(
            &m,
            "tollgate_fallbacks_total",
            &[("from", "dead"), ("to", "demo")]
        ),
        3.0
    );
}

async fn stream(gw: &Gateway, model: &str) -> Answer {
    chat_body(
        gw,
        &json!({"model": model, "stream": true,
                "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await
}

/// Streams fall back too while nothing was sent to the client; once the response head went
/// out, a failure ends the stream with an error event and is never retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_fall_back_before_the_head_and_never_after() {
    let (a, b, gw) = setup().await;
    a.push_fault(status(503, &[], None));
    let r = stream(&gw, "gpt-4o").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let events = common::sse_data(&r.body);
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    assert!(events[0].contains("model-b"), "{events:?}");
    assert_eq!((a.requests().len(), b.requests().len()), (1, 1));

    a.push_fault(Fault::DisconnectAfter { events: 2 });
    let r = stream(&gw, "gpt-4o").await;
    assert_eq!(r.status, 200);
    let events = common::sse_data(&r.body);
    assert!(
        events.last().is_some_and(|e| e.contains("\"error\"")),
        "{events:?}"
    );
    assert_eq!(
        (a.requests().len(), b.requests().len()),
        (2, 1),
        "no retry after bytes went to the client"
    );
}

/// A status outside `retry_on` (a client error) passes through at once, without a retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_400_is_not_retried() {
    let (a, b, gw) = setup().await;
    let body = r#"{"error":{"message":"bad temperature","type":"invalid_request_error","param":"temperature","code":null}}"#;
    a.push_fault(status(400, &[], Some(body)));
    let r = chat(&gw, "gpt-4o").await;
    assert_eq!((r.status, r.body.as_str()), (400, body));
    assert_eq!((a.requests().len(), b.requests().len()), (1, 0));
}

/// Response headers and body of a 429.
type Hinted = (
    &'static [(&'static str, &'static str)],
    Option<&'static str>,
);

/// Every retry-hint spelling on a 429 opens the breaker end to end: the request right after
/// the 429 goes straight to the fallback (no second try on the limited target), and the
/// preferred target serves again once the hint has passed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_retry_hint_spelling_opens_the_breaker() {
    let (a, b, gw) = setup().await;
    let gemini = r#"{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"1s"}]}}"#;
    let cases: [Hinted; 4] = [
        (&[("retry-after-ms", "1000")], None),
        (&[("x-ms-retry-after-ms", "1000")], None),
        (
            &[
                ("x-ratelimit-remaining-tokens", "0"),
                ("x-ratelimit-reset-tokens", "1s"),
                ("x-ratelimit-reset-requests", "0s"),
            ],
            None,
        ),
        (&[], Some(gemini)),
    ];
    for (i, (headers, body)) in cases.iter().enumerate() {
        a.clear_requests();
        a.push_fault(status(429, headers, *body));
        assert_eq!(chat(&gw, "gpt-4o").await.served_by(), "model-b", "case {i}");
        assert_eq!(chat(&gw, "gpt-4o").await.served_by(), "model-b", "case {i}");
        assert_eq!(
            a.requests().len(),
            1,
            "case {i}: the open target was skipped"
        );
        let t0 = Instant::now();
        while chat(&gw, "gpt-4o").await.served_by() != "model-a" {
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "case {i}: never back"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let m = metrics(&gw);
    assert_eq!(
        metric_sum(
            &m,
            "tollgate_breaker_transitions_total",
            &[
                ("target", "a/model-a"),
                ("to", "open"),
                ("reason", "retry_after")
            ],
        ),
        4.0,
        "{m}"
    );
    assert!(!b.requests().is_empty());
}

/// `strategy: latency` (peak EWMA, power of two choices) steers traffic to the faster target.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_latency_strategy_prefers_the_faster_target() {
    let (a, b, gw) = setup().await;
    a.set_fault_always(Some(Fault::DelayHeaders(Duration::from_millis(150))));
    for _ in 0..20 {
        assert_eq!(chat(&gw, "fastest").await.status, 200);
    }
    let (na, nb) = (a.requests().len(), b.requests().len());
    assert_eq!(na + nb, 20);
    assert!(nb >= 17, "slow a: {na}, fast b: {nb}");
}

/// The CONFIG with `resilience.breaker.shared` pointing at `url`.
fn shared_config(a: &MockProvider, b: &MockProvider, url: &str) -> String {
    let breaker =
        "breaker: { failures: 100, min_requests: 1000, cooldown: 30s, max_retry_after: 5m }";
    assert!(CONFIG.contains(breaker));
    let shared = format!(
        "breaker: {{ failures: 100, min_requests: 1000, cooldown: 30s, max_retry_after: 5m, shared: {{ url: \"{url}\", prefix: t, timeout: 1s }} }}"
    );
    CONFIG
        .replace(breaker, &shared)
        .replace("{a}", &a.base_url())
        .replace("{b}", &b.base_url())
}

/// Two gateways on one Redis: a 429 with `retry-after: 3` seen by gateway A keeps gateway
/// B's traffic off that target too (B never saw the 429), and B uses it again once the
/// advertised time passed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_opening_keeps_other_instances_off_the_target() {
    let redis = common::redis::Redis::start(false);
    let a = start_mock().await;
    let b = start_mock().await;
    let yaml = shared_config(&a, &b, &redis.url());
    let ga = start_gateway(yaml.clone()).await;
    let gb = start_gateway(yaml).await;
    // B works and prefers `a` before anything happened.
    assert_eq!(chat(&gb, "gpt-4o").await.served_by(), "model-a");
    a.push_fault(status(429, &[("retry-after", "3")], None));
    let r = chat(&ga, "gpt-4o").await;
    let t0 = Instant::now();
    assert_eq!(r.served_by(), "model-b", "{}", r.body);
    let before = a.requests().len();
    assert_eq!(before, 2);
    // Bounded polling: B sees the opening within its lookup cache time (250 ms) after A
    // published it; a request that raced ahead of the publish may still reach `a`.
    loop {
        let r = chat(&gb, "gpt-4o").await;
        assert_eq!(r.status, 200, "{}", r.body);
        if r.served_by() == "model-b" {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(2),
            "B never saw the opening"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seen = a.requests().len();
    // Then B keeps off `a` until the advertised 3 s passed.
    let back = loop {
        let r = chat(&gb, "gpt-4o").await;
        assert_eq!(r.status, 200, "{}", r.body);
        if r.served_by() == "model-a" {
            break t0.elapsed();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "B never returned to a"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        back >= Duration::from_millis(2500),
        "B back on a after {back:?}"
    );
    assert_eq!(
        a.requests().len(),
        seen + 1,
        "nothing reached a while it was open"
    );
    let (ma, mb) = (metrics(&ga), metrics(&gb));
    let ops = |m: &str, op, result| {
        metric_sum(
            m,
            "tollgate_shared_breaker_ops_total",
            &[("op", op), ("result", result)],
        )
    };
    assert_eq!(ops(&ma, "publish", "ok"), 1.0, "{ma}");
    assert!(ops(&mb, "lookup", "ok") >= 2.0, "{mb}");
    assert_eq!(ops(&mb, "lookup", "error"), 0.0, "{mb}");
    let skips = metric_sum(
        &mb,
        "tollgate_shared_breaker_skips_total",
        &[("model", "gpt-4o"), ("target", "a/model-a")],
    );
    assert!(skips >= 1.0, "{mb}");
}

/// Redis down: requests go on as if nothing were shared (no error, no wait), the failures
/// counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_breaker_without_redis_never_blocks_requests() {
    let a = start_mock().await;
    let b = start_mock().await;
    let url = format!("redis://127.0.0.1:{}", common::free_port());
    let gw = start_gateway(shared_config(&a, &b, &url)).await;
    let t0 = Instant::now();
    assert_eq!(chat(&gw, "gpt-4o").await.served_by(), "model-a");
    a.push_fault(status(429, &[("retry-after", "3")], None));
    let r = chat(&gw, "gpt-4o").await;
    assert_eq!(
        (r.status, r.served_by()),
        (200, "model-b".to_owned()),
        "{}",
        r.body
    );
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    eventually("the failed publish is counted", &|| {
        metric_sum(
            &metrics(&gw),
            "tollgate_shared_breaker_ops_total",
            &[("op", "publish"), ("result", "error")],
        ) == 1.0
    })
    .await;
    let m = metrics(&gw);
    assert!(
        metric_sum(
            &m,
            "tollgate_shared_breaker_ops_total",
            &[("op", "lookup"), ("result", "error")]
        ) >= 1.0,
        "{m}"
    );
}
