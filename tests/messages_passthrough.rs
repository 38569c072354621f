//! The Messages front door on `kind: anthropic` targets is a passthrough: the client's body
//! reaches Anthropic byte for byte (only `model` rewritten), with the provider's key and the
//! client's `anthropic-version`/`anthropic-beta`; the answer (JSON, stream, error, 529) comes
//! back untouched while its usage (cache tokens included) is metered. Mixed groups fail over
//! between Anthropic and OpenAI targets. `POST /v1/messages/count_tokens` is forwarded to
//! Anthropic targets and estimated locally for the others, outside the quotas.

mod common;

use serde_json::{json, Value};
use tollgate_mock_provider::{Fault, MockProvider, RecordedRequest};

use common::{
    client, metric_sum, sse_data, start_gateway, start_mock, Gateway, KEY_ALL, KEY_LIMITED,
    MOCK_TEXT, UPSTREAM_KEY,
};

const CONFIG: &str = r#"listen: ["{listen}"]
admin: { listen: "{admin}" }
server: { threads: 2, grace_period: 10s, max_body_size: 1MiB }
timeouts: { connect: 1s, first_byte: 2s, idle: 2s, total: 20s }
providers:
  claude: { kind: anthropic, base_url: "{anthropic}", api_key: "sk-upstream-test" }
  up:     { kind: openai, base_url: "{upstream}", api_key: "sk-upstream-test" }
models:
  claude: { targets: [ { provider: claude, model: claude-sonnet-4-5 } ] }
  gpt: { targets: [ { provider: up, model: gpt-4o-2024-08-06 } ] }
  claude-then-gpt:
    targets:
      - { provider: claude, model: claude-sonnet-4-5, priority: 0 }
      - { provider: up, model: gpt-4o-2024-08-06, priority: 1 }
  gpt-then-claude:
    targets:
      - { provider: up, model: gpt-4o-2024-08-06, priority: 0 }
      - { provider: claude, model: claude-sonnet-4-5, priority: 1 }
keys:
  - { name: all, key: sk-test-all }
  - { name: limited, key: sk-test-demo-only, models: [gpt] }
"#;

async fn setup_with(extra: &str) -> (MockProvider, Gateway) {
    let mock = start_mock().await;
    let yaml = CONFIG
        .replace("{anthropic}", mock.base_url().trim_end_matches("/v1"))
        .replace("{upstream}", &mock.base_url())
        + extra;
    let gw = start_gateway(yaml).await;
    (mock, gw)
}

async fn setup() -> (MockProvider, Gateway) {
    setup_with("").await
}

/// A Messages body with what no chat translation keeps: thinking on, a signed thinking block
/// handed back, cache_control on system, message and tool blocks, metadata, service_tier,
/// top_k, and JSON spacing/number forms a re-serialisation would change.
fn native_body(model: &str, stream: bool) -> String {
    format!(
        r#"{{ "model" :"{model}", "max_tokens": 300, "stream": {stream},
  "thinking": {{"type":"enabled","budget_tokens":1024}},
  "system": [{{"type":"text","text":"You are terse.","cache_control":{{"type":"ephemeral"}}}}],
  "metadata": {{"user_id":"u-1"}}, "service_tier":"auto", "top_k": 5, "temperature": 1.0,
  "messages": [
    {{"role":"user","content":"What is the weather in Paris?"}},
    {{"role":"assistant","content":[{{"type":"thinking","thinking":"Let me look.","signature":"EqQBCkYIARgCIkB\u002b/x=="}},
      {{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{{"city":"Paris"}}}}]}},
    {{"role":"user","content":[{{"type":"tool_result","tool_use_id":"toolu_1","content":"18C"}},
      {{"type":"text","text":"Thanks a lot!","cache_control":{{"type":"ephemeral","ttl":"1h"}}}}]}}],
  "tools":[{{"name":"get_weather","input_schema":{{"type":"object","properties":{{"city":{{"type":"string"}}}}}},"cache_control":{{"type":"ephemeral"}}}}]
}}"#
    )
}

async fn post_raw(gw: &Gateway, path: &str, key: &str, body: String) -> reqwest::Response {
    client()
        .post(gw.url(path))
        .header("x-api-key", key)
        .header("anthropic-version", "2023-06-01")
        .header("anthropic-beta", "interleaved-thinking-2025-05-14")
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn post(gw: &Gateway, body: String) -> reqwest::Response {
    post_raw(gw, "/v1/messages", KEY_ALL, body).await
}

fn requests_to(mock: &MockProvider, path: &str) -> Vec<RecordedRequest> {
    mock.requests()
        .into_iter()
        .filter(|r| r.path == path)
        .collect()
}

/// The mock's answer to `r` when asked directly (what the client must see, byte for byte).
async fn direct(mock: &MockProvider, r: &RecordedRequest) -> String {
    let url = format!("http://{}{}", mock.addr(), r.path);
    let resp = client()
        .post(url)
        .header("x-api-key", UPSTREAM_KEY)
        .header("anthropic-version", "2023-06-01")
        .header("content-type", "application/json")
        .body(r.body.clone())
        .send()
        .await
        .unwrap();
    resp.text().await.unwrap()
}

/// Replaces the mock's per-request numbers (`msg_mock7`, `sig_mock7`) so two answers compare.
fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("_mock") {
        out.push_str(&rest[..at + 5]);
        rest = rest[at + 5..].trim_start_matches(|c: char| c.is_ascii_digit());
        out.push('#');
    }
    out.push_str(rest);
    out
}

/// The upstream request carries the client's bytes with the target's model, the provider's
/// key and the client's version and betas, and no client credential.
fn assert_forwarded(r: &RecordedRequest, client_body: &str) {
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    let want = client_body.replacen(r#""claude""#, r#""claude-sonnet-4-5""#, 1);
    assert_eq!(std::str::from_utf8(&r.body).unwrap(), want);
    assert_eq!(r.header("x-api-key"), Some(UPSTREAM_KEY));
    assert_eq!(r.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(
        r.header("anthropic-beta"),
        Some("interleaved-thinking-2025-05-14")
    );
    assert_eq!(r.header("authorization"), None);
    for (k, v) in &r.headers {
        assert!(!v.contains(KEY_ALL), "client key leaked in {k}");
    }
}

/// A metric polled until it reaches `want` (recorded just after the response ends) or 5 s.
async fn metric(gw: &Gateway, name: &str, labels: &[(&str, &str)], want: f64) -> f64 {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let r = client().get(gw.admin_url("/metrics")).send().await.unwrap();
        let got = metric_sum(&r.text().await.unwrap(), name, labels);
        if got == want || tokio::time::Instant::now() >= deadline {
            return got;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn non_stream_body_and_answer_pass_untouched() {
    let (mock, gw) = setup().await;
    let body = native_body("claude", false);
    let resp = post(&gw, body.clone()).await;
    assert_eq!(resp.status(), 200);
    let got = resp.text().await.unwrap();
    let reqs = requests_to(&mock, "/v1/messages");
    assert_eq!(reqs.len(), 1);
    assert_forwarded(&reqs[0], &body);
    assert_eq!(normalize(&got), normalize(&direct(&mock, &reqs[0]).await));
    // What the chat translation would have lost reached the client.
    let v: Value = serde_json::from_str(&got).unwrap();
    assert_eq!(v["model"], "claude-sonnet-4-5", "{v}");
    assert_eq!(v["content"][0]["type"], "thinking", "{v}");
    assert!(v["content"][0]["signature"]
        .as_str()
        .unwrap()
        .starts_with("sig_mock"));
    assert_eq!(v["content"][1]["text"], MOCK_TEXT, "{v}");
    // "You are terse." and "Thanks a lot!" carry cache_control.
    assert_eq!(v["usage"]["cache_read_input_tokens"], 6, "{v}");
    let input = v["usage"]["input_tokens"].as_u64().unwrap();
    let labels = [
        ("type", "input"),
        ("model", "claude"),
        ("provider", "claude"),
    ];
    let want = (input + 6) as f64;
    assert_eq!(
        metric(&gw, "tollgate_tokens_total", &labels, want).await,
        want
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn stream_passes_untouched_and_is_metered_from_its_events() {
    let (mock, gw) = setup().await;
    let body = native_body("claude", true);
    let resp = post(&gw, body.clone()).await;
    assert_eq!(resp.status(), 200);
    let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("text/event-stream"), "{ct}");
    let got = resp.text().await.unwrap();
    let reqs = requests_to(&mock, "/v1/messages");
    assert_forwarded(&reqs[0], &body);
    assert_eq!(normalize(&got), normalize(&direct(&mock, &reqs[0]).await));
    assert!(got.contains("\"signature_delta\""), "{got}");

    let events: Vec<Value> = sse_data(&got)
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let start = &events[0]["message"]["usage"];
    let input = start["input_tokens"].as_u64().unwrap() + 6;
    assert_eq!(start["cache_read_input_tokens"], 6, "{start}");
    let delta = events
        .iter()
        .find(|e| e["type"] == "message_delta")
        .unwrap();
    let output = delta["usage"]["output_tokens"].as_u64().unwrap();
    // The reply's 10 words and the thinking block's 3.
    assert_eq!(output, 13, "{delta}");
    let labels = |t| {
        [
            ("type", t),
            ("model", "claude"),
            ("provider", "claude"),
            ("source", "provider"),
        ]
    };
    let name = "tollgate_tokens_total";
    let got_in = metric(&gw, name, &labels("input"), input as f64).await;
    assert_eq!(got_in, input as f64);
    let got_out = metric(&gw, name, &labels("output"), output as f64).await;
    assert_eq!(got_out, output as f64);
}

#[tokio::test(flavor = "multi_thread")]
async fn token_quota_settles_with_the_streamed_usage() {
    let quota = "quota:\n  store: memory\n  limits:\n    - { tokens: 100000, per: minute }\n";
    let (_mock, gw) = setup_with(quota).await;
    let remaining = |r: &reqwest::Response| -> u64 {
        r.headers()["x-ratelimit-remaining-tokens"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    // Both requests reserve the same estimate (same body): the difference between their
    // `remaining` is what the first one was settled with.
    let first = post(&gw, native_body("claude", true)).await;
    let before = remaining(&first);
    let events: Vec<Value> = sse_data(&first.text().await.unwrap())
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let prompt = events[0]["message"]["usage"]["input_tokens"]
        .as_u64()
        .unwrap()
        + 6;
    let settled = [("outcome", "adjusted")];
    assert_eq!(
        metric(&gw, "tollgate_quota_settlements_total", &settled, 1.0).await,
        1.0
    );
    let second = post(&gw, native_body("claude", true)).await;
    assert_eq!(before - remaining(&second), prompt + 13);
}

fn count_body(model: &str) -> String {
    format!(
        r#"{{"model":"{model}","system":"Be brief.","messages":[{{"role":"user","content":"Say hi"}}]}}"#
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn anthropic_529_falls_back_to_an_openai_target() {
    let (mock, gw) = setup().await;
    mock.push_fault(Fault::Status {
        status: 529,
        headers: vec![],
        body: None,
    });
    let resp = post(&gw, native_body("claude-then-gpt", false)).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["type"], "message", "{v}");
    assert_eq!(v["model"], "claude-then-gpt", "{v}");
    assert_eq!(v["content"][0]["text"], MOCK_TEXT, "{v}");
    let paths: Vec<String> = mock.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/v1/messages", "/v1/chat/completions"]);
    let chat = &requests_to(&mock, "/v1/chat/completions")[0];
    assert!(chat.problems.is_empty(), "{:?}", chat.problems);
    assert_eq!(chat.json()["model"], "gpt-4o-2024-08-06");
    let labels = [("model", "claude-then-gpt"), ("reason", "529")];
    assert_eq!(
        metric(&gw, "tollgate_retries_total", &labels, 1.0).await,
        1.0
    );

    // Streamed, the same way round.
    mock.push_fault(Fault::Status {
        status: 529,
        headers: vec![],
        body: None,
    });
    let text = post(&gw, native_body("claude-then-gpt", true))
        .await
        .text()
        .await
        .unwrap();
    assert!(text.contains("event: message_stop"), "{text}");
    assert!(!text.contains("thinking_delta"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn openai_failure_falls_back_to_the_anthropic_passthrough() {
    let (mock, gw) = setup().await;
    mock.push_fault(Fault::Status {
        status: 503,
        headers: vec![],
        body: None,
    });
    let body = native_body("gpt-then-claude", false);
    let v: Value = post(&gw, body.clone()).await.json().await.unwrap();
    assert_eq!(v["content"][0]["type"], "thinking", "{v}");
    let paths: Vec<String> = mock.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/v1/chat/completions", "/v1/messages"]);
    let r = &requests_to(&mock, "/v1/messages")[0];
    let want = body.replacen(r#""gpt-then-claude""#, r#""claude-sonnet-4-5""#, 1);
    assert_eq!(std::str::from_utf8(&r.body).unwrap(), want);
}

#[tokio::test(flavor = "multi_thread")]
async fn anthropic_errors_reach_the_client_as_anthropic_sent_them() {
    let (mock, gw) = setup().await;
    mock.set_fault_always(Some(Fault::Status {
        status: 529,
        headers: vec![("retry-after".into(), "1".into())],
        body: None,
    }));
    let resp = post(&gw, native_body("claude", false)).await;
    assert_eq!(resp.status(), 529);
    assert_eq!(resp.headers()["retry-after"], "1");
    let v: Value = resp.json().await.unwrap();
    let want = json!({"type": "error", "error": {"type": "overloaded_error",
        "message": "Injected by the mock provider (status 529)."}});
    assert_eq!(v, want);

    let body = r#"{"type":"error","error":{"type":"invalid_request_error","message":"thinking.budget_tokens: too small"},"request_id":"req_1"}"#;
    mock.set_fault_always(Some(Fault::Status {
        status: 400,
        headers: vec![],
        body: Some(body.into()),
    }));
    // Not retried (another group: the 529's retry-after keeps `claude`'s target open).
    let resp = post(&gw, native_body("claude-then-gpt", false)).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.text().await.unwrap(), body);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cut_stream_ends_with_an_anthropic_error_event() {
    let (mock, gw) = setup().await;
    mock.push_fault(Fault::DisconnectAfter { events: 3 });
    let text = post(&gw, native_body("claude", true))
        .await
        .text()
        .await
        .unwrap();
    let data: Vec<Value> = sse_data(&text)
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert_eq!(data[0]["type"], "message_start", "{text}");
    let last = data.last().unwrap();
    assert_eq!(last["type"], "error", "{text}");
    assert_eq!(last["error"]["type"], "api_error", "{text}");
    assert!(
        text.ends_with("\n\n") && text.contains("event: error\n"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn count_tokens_is_forwarded_or_estimated_and_spends_no_quota() {
    let quota = "quota:\n  store: memory\n  limits:\n    - { requests: 1, per: minute }\n";
    let (mock, gw) = setup_with(quota).await;
    let count = |model: &str, key: &'static str| {
        let gw = &gw;
        let body = count_body(model);
        async move { post_raw(gw, "/v1/messages/count_tokens", key, body).await }
    };
    // Anthropic target: forwarded, the provider's answer as is: (3 + 2) + (3 + 2).
    let resp = count("claude", KEY_ALL).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), r#"{"input_tokens":10}"#);
    let reqs = requests_to(&mock, "/v1/messages/count_tokens");
    assert_eq!(reqs.len(), 1);
    assert!(reqs[0].problems.is_empty(), "{:?}", reqs[0].problems);
    assert_eq!(reqs[0].json()["model"], "claude-sonnet-4-5");
    assert_eq!(reqs[0].header("x-api-key"), Some(UPSTREAM_KEY));

    // Other kinds: the gateway's estimate, no upstream call.
    let v: Value = count("gpt", KEY_ALL).await.json().await.unwrap();
    let n = v["input_tokens"].as_u64().unwrap();
    assert!((10..30).contains(&n), "{v}");
    assert_eq!(mock.requests().len(), 1);

    // Keys and model access apply, Anthropic-shaped.
    let resp = count("claude", "sk-wrong").await;
    assert_eq!(resp.status(), 401);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "authentication_error", "{v}");
    let resp = count("claude", KEY_LIMITED).await;
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["type"], "error", "{v}");
    let resp = count("nope", KEY_ALL).await;
    assert_eq!(resp.status(), 404);

    // Counting spent none of the one request a minute allows.
    let resp = post(&gw, native_body("claude", false)).await;
    assert_eq!(resp.status(), 200);
    let resp = post(&gw, native_body("claude", false)).await;
    assert_eq!(resp.status(), 429);

    let labels = [("route", "count_tokens"), ("status", "200")];
    assert_eq!(
        metric(&gw, "tollgate_requests_total", &labels, 2.0).await,
        2.0
    );
}
