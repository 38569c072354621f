//! Token accounting and quotas end to end: real gateway processes, the mock provider, and
//! redis-servers started by the tests on free ports.

mod common;

use std::time::{Duration, Instant};

use common::redis::Redis;
use common::{client, metric_sum, sse_data, start_gateway, start_mock, Gateway, KEY_ALL};
use serde_json::{json, Value};

/// The standard providers and models, with a quota section and tiered keys.
fn config(upstream: &str, quota: &str) -> String {
    let tiers = if quota.contains("tiers:") {
        ""
    } else {
        "\n  tiers: { gold: { limits: [] } }"
    };
    format!(
        r#"listen: ["{{listen}}"]
admin: {{ listen: "{{admin}}" }}
server: {{ threads: 2, grace_period: 2s }}
timeouts: {{ connect: 1s, first_byte: 5s, idle: 5s, total: 20s }}
providers:
  up:   {{ kind: openai, base_url: "{upstream}", api_key: "sk-upstream-test" }}
  demo: {{ kind: mock }}
models:
  gpt-4o: {{ targets: [ {{ provider: up, model: gpt-4o-2024-08-06 }} ] }}
  demo:   {{ targets: [ {{ provider: demo }} ] }}
prices:
  gpt-4o: {{ input: 2.5, output: 10 }}
keys:
  - {{ name: all, key: sk-test-all }}
  - {{ name: gold, key: sk-gold, tier: gold, team: ml }}
quota:
{quota}{tiers}
"#
    )
}

async fn chat(gw: &Gateway, key: &str, body: Value) -> reqwest::Response {
    client()
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .expect("request")
}

fn hello(stream: bool, include_usage: bool) -> Value {
    let mut b = json!({"model": "gpt-4o", "max_tokens": 20,
        "messages": [{"role": "user", "content": "say something nice"}]});
    if stream {
        b["stream"] = json!(true);
    }
    if include_usage {
        b["stream_options"] = json!({"include_usage": true});
    }
    b
}

/// The token counter once it reaches `want` (it is recorded right after the response is
/// written, so a fast client can look before it is), or its value after 3 s.
async fn tokens_metric_reaching(gw: &Gateway, kind: &str, want: f64) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let n = tokens_metric(gw, kind).await;
        if n == want || Instant::now() > deadline {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn tokens_metric(gw: &Gateway, kind: &str) -> f64 {
    let text = client()
        .get(gw.admin_url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    metric_sum(
        &text,
        "tollgate_tokens_total",
        &[("type", kind), ("model", "gpt-4o"), ("key", "all")],
    )
}

async fn metrics(gw: &Gateway) -> String {
    let r = client().get(gw.admin_url("/metrics")).send().await.unwrap();
    r.text().await.unwrap()
}

fn usage_of(v: &Value) -> (f64, f64) {
    (
        v["usage"]["prompt_tokens"].as_f64().unwrap(),
        v["usage"]["completion_tokens"].as_f64().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_counted_matches_the_provider_streamed_or_not() {
    let mock = start_mock().await;
    let gw = start_gateway(config(&mock.base_url(), "  store: memory")).await;

    // Not streamed: the body's usage is what the gateway counts.
    let v: Value = chat(&gw, KEY_ALL, hello(false, false))
        .await
        .json()
        .await
        .unwrap();
    let (p, c) = usage_of(&v);
    assert_eq!(tokens_metric_reaching(&gw, "input", p).await, p);
    assert_eq!(tokens_metric_reaching(&gw, "output", c).await, c);

    // Streamed, client asked for usage: it gets the usage chunk, same numbers.
    let body = chat(&gw, KEY_ALL, hello(true, true))
        .await
        .text()
        .await
        .unwrap();
    let events = sse_data(&body);
    let last: Value = serde_json::from_str(&events[events.len() - 2]).unwrap();
    assert_eq!(usage_of(&last), (p, c));
    assert_eq!(tokens_metric_reaching(&gw, "input", 2.0 * p).await, 2.0 * p);

    // Streamed, client did not ask: the gateway asked upstream anyway, the client sees no
    // usage at all, and the provider's numbers are counted.
    let body = chat(&gw, KEY_ALL, hello(true, false))
        .await
        .text()
        .await
        .unwrap();
    assert!(!body.contains("usage"), "{body}");
    assert!(body.ends_with("data: [DONE]\n\n"));
    let sent = mock.requests().last().unwrap().json();
    assert_eq!(sent["stream_options"]["include_usage"], json!(true));
    assert_eq!(tokens_metric_reaching(&gw, "input", 3.0 * p).await, 3.0 * p);
    assert_eq!(
        tokens_metric_reaching(&gw, "output", 3.0 * c).await,
        3.0 * c
    );
    let m = metrics(&gw).await;
    assert_eq!(
        metric_sum(&m, "tollgate_tokens_total", &[("source", "provider")]),
        6.0 * (p + c) / 2.0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn memory_quota_429_with_retry_after_and_headers_on_every_response() {
    let mock = start_mock().await;
    let quota = "  store: memory\n  tiers:\n    gold:\n      limits:\n        - { requests: 3, per: minute }\n        - { tokens: 100000, per: day }";
    let gw = start_gateway(config(&mock.base_url(), quota)).await;
    for remaining in ["2", "1", "0"] {
        let r = chat(&gw, "sk-gold", hello(false, false)).await;
        assert_eq!(r.status(), 200);
        let h = r.headers();
        assert_eq!(h["x-ratelimit-limit-requests"], "3");
        assert_eq!(h["x-ratelimit-remaining-requests"], remaining);
        assert_eq!(h["x-ratelimit-limit-tokens"], "100000");
        assert!(h.contains_key("x-ratelimit-reset-requests"));
    }
    let r = chat(&gw, "sk-gold", hello(true, false)).await;
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    // Rolling minute: the 3 requests of this bucket fade (as the previous bucket) over the
    // next minute, so one more fits 20 s into it: at most 80 s from now.
    assert!((1..=80).contains(&retry), "{retry}");
    assert_eq!(r.headers()["x-ratelimit-remaining-requests"], "0");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "rate_limit_exceeded");
    assert_eq!(v["error"]["type"], "requests");
    // The rejected request never reached the provider; other keys are not limited.
    assert_eq!(mock.requests().len(), 3);
    let r = chat(&gw, KEY_ALL, hello(false, false)).await;
    assert_eq!(r.status(), 200);
    assert!(!r.headers().contains_key("x-ratelimit-limit-requests"));
    let m = metrics(&gw).await;
    assert_eq!(
        metric_sum(
            &m,
            "tollgate_quota_rejections_total",
            &[("limit", "gold.0")]
        ),
        1.0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn settlement_refunds_the_unused_reservation() {
    let mock = start_mock().await;
    let quota =
        "  store: memory\n  default_max_tokens: 500\n  limits:\n    - { tokens: 1000, per: hour }";
    let gw = start_gateway(config(&mock.base_url(), quota)).await;
    let mut body = hello(false, false);
    body.as_object_mut().unwrap().remove("max_tokens");
    // Each request reserves prompt + 500; without refunds the second would not fit.
    let r = chat(&gw, KEY_ALL, body.clone()).await;
    assert_eq!(r.status(), 200);
    let first_remaining: u64 = r.headers()["x-ratelimit-remaining-tokens"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(first_remaining < 500, "{first_remaining}");
    let v: Value = r.json().await.unwrap();
    let used = v["usage"]["total_tokens"].as_u64().unwrap();
    // Settlement runs right after the response is written: a fast client may be a moment
    // early (a rejection counts nothing, so retrying is harmless).
    let deadline = Instant::now() + Duration::from_secs(3);
    let r = loop {
        let r = chat(&gw, KEY_ALL, body.clone()).await;
        if r.status() != 429 || Instant::now() > deadline {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(r.status(), 200, "the refund made room");
    let remaining: u64 = r.headers()["x-ratelimit-remaining-tokens"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    // 1000 - first actual usage - second reservation (prompt estimate + 500).
    assert!(
        remaining + used + 500 <= 1000 && remaining + used + 520 >= 1000,
        "{remaining} {used}"
    );
}

/// Two gateways on one Redis, many concurrent clients: the admitted total never exceeds the
/// limit (requests exactly; tokens by at most one in-flight reservation).
#[tokio::test(flavor = "multi_thread")]
async fn redis_two_gateways_never_overspend_under_concurrency() {
    let redis = Redis::start(false);
    let mock = start_mock().await;
    let quota = format!(
        "  store: redis\n  url: {}\n  timeout: 2s\n  on_error: deny\n  limits:\n    - {{ requests: 37, per: hour, subject: global }}\n    - {{ tokens: 100000, per: day, subject: team }}\n  tiers:\n    gold:\n      limits:\n        - {{ tokens: 300, per: hour, subject: tier }}",
        redis.url()
    );
    let a = start_gateway(config(&mock.base_url(), &quota)).await;
    let b = start_gateway(config(&mock.base_url(), &quota)).await;
    let mut tasks = Vec::new();
    for i in 0..120 {
        let url = if i % 2 == 0 {
            a.url("/v1/chat/completions")
        } else {
            b.url("/v1/chat/completions")
        };
        let key = if i % 3 == 0 { KEY_ALL } else { "sk-gold" };
        tasks.push(tokio::spawn(async move {
            let r = client()
                .post(url)
                .bearer_auth(key)
                .json(&hello(false, false))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let v: Value = r.json().await.unwrap();
            (
                key,
                status,
                v["usage"]["total_tokens"].as_u64().unwrap_or(0),
            )
        }));
    }
    let mut admitted = 0;
    let mut gold_tokens = 0;
    let mut rejected = 0;
    for t in tasks {
        let (key, status, tokens) = t.await.unwrap();
        match status {
            200 => {
                admitted += 1;
                if key == "sk-gold" {
                    gold_tokens += tokens;
                }
            }
            429 => rejected += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(
        admitted, 37,
        "the global request limit holds exactly across two gateways"
    );
    assert_eq!(rejected, 120 - 37);
    // The gold tier's shared token budget binds too; a request it rejects consumed nothing
    // (all or nothing), so other keys still got the rest of the 37. One reservation is the
    // prompt estimate (~11) + max_tokens 20: the most the tier can overshoot by.
    assert!(gold_tokens > 0 && gold_tokens <= 300 + 32, "{gold_tokens}");
    assert_eq!(mock.requests().len(), 37);
    // Store latency as seen by gateway A (for the record; not asserted).
    let m = metrics(&a).await;
    let sum = metric_sum(
        &m,
        "tollgate_quota_store_duration_seconds_sum",
        &[("op", "reserve")],
    );
    let n = metric_sum(
        &m,
        "tollgate_quota_store_duration_seconds_count",
        &[("op", "reserve")],
    );
    println!("redis reserve: {n} calls, mean {:.3} ms", sum / n * 1000.0);
}

/// Counters live in Redis: a new gateway process after a Redis restart (persistence on)
/// sees everything counted before, and scripts are reloaded after Redis lost them.
#[tokio::test(flavor = "multi_thread")]
async fn redis_counters_survive_gateway_and_redis_restarts() {
    let mut redis = Redis::start(true);
    let mock = start_mock().await;
    let quota = format!(
        "  store: redis\n  url: {}\n  timeout: 1s\n  on_error: deny\n  limits:\n    - {{ requests: 5, per: day }}",
        redis.url()
    );
    let gw = start_gateway(config(&mock.base_url(), &quota)).await;
    for _ in 0..3 {
        assert_eq!(chat(&gw, KEY_ALL, hello(false, false)).await.status(), 200);
    }
    drop(gw);
    redis.kill();
    redis.restart();
    let gw = start_gateway(config(&mock.base_url(), &quota)).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut statuses = Vec::new();
    while statuses.len() < 3 && Instant::now() < deadline {
        let r = chat(&gw, KEY_ALL, hello(false, false)).await;
        // 503 while the new process is still connecting (policy deny).
        if r.status() != 503 {
            statuses.push(r.status().as_u16());
        } else {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    assert_eq!(
        statuses,
        [200, 200, 429],
        "3 of 5 were used before the restarts"
    );
}

/// Redis dies under load: no request waits longer than the store timeout (plus the request),
/// each policy holds, and when Redis is back the gateway reconnects by itself.
#[tokio::test(flavor = "multi_thread")]
async fn redis_outage_applies_the_policy_without_hanging_then_recovers() {
    let mut redis = Redis::start(false);
    let mock = start_mock().await;
    let quota = |policy: &str| {
        format!(
            "  store: redis\n  url: {}\n  timeout: 100ms\n  on_error: {policy}\n  limits:\n    - {{ requests: 1000, per: hour }}\n  tiers:\n    gold:\n      limits:\n        - {{ requests: 4, per: hour }}",
            redis.url()
        )
    };
    let deny = start_gateway(config(&mock.base_url(), &quota("deny"))).await;
    let local = start_gateway(config(&mock.base_url(), &quota("local"))).await;
    let allow = start_gateway(config(&mock.base_url(), &quota("allow"))).await;
    for gw in [&deny, &local, &allow] {
        assert_eq!(chat(gw, KEY_ALL, hello(false, false)).await.status(), 200);
    }
    // Load running while Redis is killed.
    let load = {
        let url = deny.url("/v1/chat/completions");
        tokio::spawn(async move {
            let mut worst = Duration::ZERO;
            let mut statuses = Vec::new();
            for _ in 0..40 {
                let t = Instant::now();
                let r = client()
                    .post(&url)
                    .bearer_auth(KEY_ALL)
                    .json(&hello(false, false))
                    .send()
                    .await
                    .unwrap();
                worst = worst.max(t.elapsed());
                statuses.push(r.status().as_u16());
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            (worst, statuses)
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    redis.kill();
    let (worst, statuses) = load.await.unwrap();
    assert!(worst < Duration::from_secs(2), "a request waited {worst:?}");
    assert!(statuses.contains(&503), "deny policy: {statuses:?}");
    assert!(statuses.iter().all(|s| *s == 200 || *s == 503));

    // Down: deny rejects, allow admits without limit, local counts in the process.
    let t = Instant::now();
    let r = chat(&deny, KEY_ALL, hello(false, false)).await;
    assert_eq!(r.status(), 503);
    assert!(t.elapsed() < Duration::from_secs(1));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "quota_unavailable");
    for _ in 0..6 {
        assert_eq!(
            chat(&allow, "sk-gold", hello(false, false)).await.status(),
            200
        );
    }
    let local_statuses: Vec<u16> = {
        let mut s = Vec::new();
        for _ in 0..6 {
            s.push(
                chat(&local, "sk-gold", hello(false, false))
                    .await
                    .status()
                    .as_u16(),
            );
        }
        s
    };
    assert_eq!(local_statuses, [200, 200, 200, 200, 429, 429]);
    let m = metrics(&deny).await;
    assert!(
        metric_sum(
            &m,
            "tollgate_quota_store_errors_total",
            &[("policy", "deny")]
        ) >= 1.0
    );

    // Back: the gateway reconnects by itself.
    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = chat(&deny, KEY_ALL, hello(false, false)).await.status();
        if s == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no recovery after Redis came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A client that leaves mid-stream is billed for the tokens generated until then (the
/// provider's usage chunk never comes: the gateway counts the deltas it relayed).
#[tokio::test(flavor = "multi_thread")]
async fn a_client_leaving_mid_stream_is_billed_for_what_was_generated() {
    let mock = common::start_mock_with(tollgate_mock_provider::Options {
        token_interval: Duration::from_millis(100),
        ..Default::default()
    })
    .await;
    let quota = "  store: memory\n  limits:\n    - { output_tokens: 100000, per: day }";
    let gw = start_gateway(config(&mock.base_url(), quota)).await;
    let mut r = chat(&gw, KEY_ALL, hello(true, false)).await;
    assert_eq!(r.status(), 200);
    let mut got = String::new();
    while got.matches("data: ").count() < 3 {
        let chunk = r.chunk().await.unwrap().expect("stream ended early");
        got.push_str(&String::from_utf8_lossy(&chunk));
    }
    drop(r);
    // The gateway notices at its next write, settles and records the tokens.
    let deadline = Instant::now() + Duration::from_secs(5);
    let counted = loop {
        let m = metrics(&gw).await;
        let n = metric_sum(
            &m,
            "tollgate_tokens_total",
            &[("type", "output"), ("source", "counted")],
        );
        if n > 0.0 || Instant::now() > deadline {
            break n;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // The mock's full reply is 10 words; the client saw 2-3 content events before leaving.
    assert!((1.0..10.0).contains(&counted), "{counted}");
    let m = metrics(&gw).await;
    assert_eq!(metric_sum(&m, "tollgate_quota_settlements_total", &[]), 1.0);
}

/// With `reserve_output: false` only the prompt is reserved, and a prompt that alone exceeds
/// a limit is rejected before the upstream is called.
#[tokio::test(flavor = "multi_thread")]
async fn a_prompt_over_the_limit_is_rejected_before_the_upstream() {
    let mock = start_mock().await;
    let quota = "  store: memory\n  reserve_output: false\n  limits:\n    - { input_tokens: 50, per: hour }";
    let gw = start_gateway(config(&mock.base_url(), quota)).await;
    let small = chat(&gw, KEY_ALL, hello(false, false)).await;
    assert_eq!(small.status(), 200);
    let big =
        json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "word ".repeat(80)}]});
    let r = chat(&gw, KEY_ALL, big).await;
    assert_eq!(r.status(), 429);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["type"], "input-tokens");
    assert_eq!(mock.requests().len(), 1);
}

/// A Redis that keeps its connections open but stops answering (the worse failure: nothing
/// resets the TCP connection): requests still finish within the store timeout under the
/// policy, and the store works again once Redis answers.
#[tokio::test(flavor = "multi_thread")]
async fn a_frozen_redis_times_out_under_the_policy_then_recovers() {
    let redis = Redis::start(false);
    let mock = start_mock().await;
    let quota = format!(
        "  store: redis\n  url: {}\n  timeout: 100ms\n  on_error: allow\n  limits:\n    - {{ requests: 1000, per: hour }}",
        redis.url()
    );
    let gw = start_gateway(config(&mock.base_url(), &quota)).await;
    let r = chat(&gw, KEY_ALL, hello(false, false)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-ratelimit-remaining-requests"], "999");
    redis.freeze(true);
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let url = gw.url("/v1/chat/completions");
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let r = client()
                .post(url)
                .bearer_auth(KEY_ALL)
                .json(&hello(false, false))
                .send()
                .await
                .unwrap();
            // allow: admitted, without quota headers (nothing was counted).
            (
                r.status().as_u16(),
                r.headers().contains_key("x-ratelimit-remaining-requests"),
                t.elapsed(),
            )
        }));
    }
    for t in tasks {
        let (status, counted, took) = t.await.unwrap();
        assert_eq!((status, counted), (200, false));
        assert!(took < Duration::from_secs(1), "{took:?}");
    }
    redis.freeze(false);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = chat(&gw, KEY_ALL, hello(false, false)).await;
        if r.headers().contains_key("x-ratelimit-remaining-requests") {
            break;
        }
        assert!(Instant::now() < deadline, "the store did not come back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let m = metrics(&gw).await;
    assert!(
        metric_sum(
            &m,
            "tollgate_quota_store_errors_total",
            &[("policy", "allow")]
        ) >= 10.0
    );
}

/// A provider that must not get `stream_options` (`stream_usage: false`): the body passes
/// untouched and its streams are metered by counting the generated text.
#[tokio::test(flavor = "multi_thread")]
async fn without_stream_usage_the_stream_is_counted() {
    let mock = start_mock().await;
    let yaml = config(&mock.base_url(), "  store: memory").replace(
        "api_key: \"sk-upstream-test\" }",
        "api_key: \"sk-upstream-test\", stream_usage: false }",
    );
    let gw = start_gateway(yaml).await;
    let body = chat(&gw, KEY_ALL, hello(true, false))
        .await
        .text()
        .await
        .unwrap();
    assert!(body.ends_with("data: [DONE]\n\n"));
    assert!(mock
        .requests()
        .last()
        .unwrap()
        .json()
        .get("stream_options")
        .is_none());
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let m = metrics(&gw).await;
        let out = metric_sum(
            &m,
            "tollgate_tokens_total",
            &[("type", "output"), ("source", "counted")],
        );
        if out > 0.0 {
            // The mock's reply, "This is a mock response from the tollgate test provider.",
            // is 12 tokens in o200k.
            assert_eq!(out, 12.0);
            break;
        }
        assert!(Instant::now() < deadline, "no counted output tokens");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The built-in mock provider kind: same accounting, streamed or not.
#[tokio::test(flavor = "multi_thread")]
async fn builtin_mock_usage_is_counted_streamed_or_not() {
    let mock = start_mock().await;
    let gw = start_gateway(config(&mock.base_url(), "  store: memory")).await;
    let mut body = hello(false, false);
    body["model"] = json!("demo");
    let v: Value = chat(&gw, KEY_ALL, body.clone()).await.json().await.unwrap();
    let (p, c) = usage_of(&v);
    body["stream"] = json!(true);
    let text = chat(&gw, KEY_ALL, body).await.text().await.unwrap();
    assert!(!text.contains("usage"), "{text}");
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let m = metrics(&gw).await;
        let sum = |t| {
            metric_sum(
                &m,
                "tollgate_tokens_total",
                &[("model", "demo"), ("type", t), ("source", "provider")],
            )
        };
        if (sum("input"), sum("output")) == (2.0 * p, 2.0 * c) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} {} vs {p} {c}",
            sum("input"),
            sum("output")
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn quota_headers_also_on_relayed_upstream_failures() {
    let mock = start_mock().await;
    let quota = "  store: memory\n  tiers:\n    gold:\n      limits:\n        - { requests: 5, per: minute }";
    let gw = start_gateway(config(&mock.base_url(), quota)).await;
    // Every attempt fails with a retryable status: the last failure is relayed as it was.
    mock.set_fault_always(Some(tollgate_mock_provider::Fault::Status {
        status: 503,
        headers: vec![],
        body: None,
    }));
    let r = chat(&gw, "sk-gold", hello(false, false)).await;
    mock.set_fault_always(None);
    assert_eq!(r.status(), 503);
    let h = r.headers();
    assert_eq!(h["x-ratelimit-limit-requests"], "5", "{h:?}");
    assert!(h.contains_key("x-ratelimit-remaining-requests"), "{h:?}");
}
