//! `kind: anthropic` targets behind the OpenAI front door: the gateway translates requests to
//! Anthropic's Messages API (the mock provider's `/v1/messages`, which validates them like
//! Anthropic does) and the answers, errors and streams back to the OpenAI shapes.

mod common;

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{json, Value};
use tollgate_mock_provider::{Fault, MockProvider};

use common::{
    assert_python_ok, client, metric_sum, python, sse_data, start_gateway, start_mock, stream_text,
    Gateway, KEY_ALL, MOCK_TEXT, UPSTREAM_KEY,
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
  claude-then-gpt:
    targets:
      - { provider: claude, model: claude-sonnet-4-5, priority: 0 }
      - { provider: up, model: gpt-4o-2024-08-06, priority: 1 }
keys:
  - { name: all, key: sk-test-all }
"#;

/// The mock's root URL (Anthropic base URLs carry no `/v1`).
fn anthropic_base(mock: &MockProvider) -> String {
    mock.base_url().trim_end_matches("/v1").to_owned()
}

async fn setup() -> (MockProvider, Gateway) {
    let mock = start_mock().await;
    let yaml = CONFIG
        .replace("{anthropic}", &anthropic_base(&mock))
        .replace("{upstream}", &mock.base_url());
    let gw = start_gateway(yaml).await;
    (mock, gw)
}

async fn post(gw: &Gateway, body: &Value) -> reqwest::Response {
    client()
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(KEY_ALL)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// Requests the mock got on the Messages endpoint.
fn messages_requests(mock: &MockProvider) -> Vec<tollgate_mock_provider::RecordedRequest> {
    mock.requests()
        .into_iter()
        .filter(|r| r.path == "/v1/messages")
        .collect()
}

fn chat(model: &str) -> Value {
    json!({"model": model, "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Say hi"},
    ]})
}

/// Chunks of a streamed response, bounded in time.
async fn collect_chunks(resp: reqwest::Response) -> Vec<Vec<u8>> {
    let mut stream = resp.bytes_stream();
    let mut chunks = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while let Some(c) = tokio::time::timeout_at(deadline, stream.next())
        .await
        .expect("stream did not end in time")
    {
        chunks.push(c.expect("stream error").to_vec());
    }
    chunks
}

/// `tollgate_tokens_total` for `labels`, polled until it reaches `want` (usage is recorded
/// just after the response ends) or 5 s pass.
async fn tokens_metric(gw: &Gateway, labels: &[(&str, &str)], want: f64) -> f64 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let r = client().get(gw.admin_url("/metrics")).send().await.unwrap();
        let got = metric_sum(&r.text().await.unwrap(), "tollgate_tokens_total", labels);
        if got == want || tokio::time::Instant::now() >= deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn non_stream_chat_is_translated_both_ways() {
    let (mock, gw) = setup().await;
    let resp = post(&gw, &chat("claude")).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion", "{v}");
    assert_eq!(v["choices"][0]["message"]["role"], "assistant", "{v}");
    assert_eq!(v["choices"][0]["message"]["content"], MOCK_TEXT, "{v}");
    assert_eq!(v["choices"][0]["finish_reason"], "stop", "{v}");
    // (3 + 2) system + (3 + 2) user; the default reply has 10 words.
    assert_eq!(v["usage"]["prompt_tokens"], 10, "{v}");
    assert_eq!(v["usage"]["completion_tokens"], 10, "{v}");
    assert_eq!(v["usage"]["total_tokens"], 20, "{v}");

    let reqs = messages_requests(&mock);
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert_eq!(r.method, "POST");
    assert_eq!(r.header("x-api-key"), Some(UPSTREAM_KEY));
    assert_eq!(r.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(
        r.header("authorization"),
        None,
        "no client credential upstream"
    );
    for (k, v) in &r.headers {
        assert!(!v.contains(KEY_ALL), "client key leaked in {k}");
    }
    let up = r.json();
    assert_eq!(up["model"], "claude-sonnet-4-5");
    assert_eq!(up["max_tokens"], 4096);
    assert_eq!(up["system"], "Be brief.");
    assert_eq!(
        up["messages"],
        json!([{"role": "user", "content": [{"type": "text", "text": "Say hi"}]}])
    );

    // Token metrics carry the provider's numbers.
    let labels = |t| [("type", t), ("model", "claude"), ("provider", "claude")];
    assert_eq!(tokens_metric(&gw, &labels("input"), 10.0).await, 10.0);
    assert_eq!(tokens_metric(&gw, &labels("output"), 10.0).await, 10.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn max_tokens_maps_to_length() {
    let (mock, gw) = setup().await;
    let mut body = chat("claude");
    body["max_completion_tokens"] = json!(3);
    let v: Value = post(&gw, &body).await.json().await.unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "This is a", "{v}");
    assert_eq!(v["choices"][0]["finish_reason"], "length", "{v}");
    assert_eq!(messages_requests(&mock)[0].json()["max_tokens"], 3);
}

async fn stream(gw: &Gateway, include_usage: bool) -> (Vec<Vec<u8>>, Vec<String>) {
    let mut body = chat("claude");
    body["stream"] = json!(true);
    if include_usage {
        body["stream_options"] = json!({"include_usage": true});
    }
    let resp = post(gw, &body).await;
    assert_eq!(resp.status(), 200);
    let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("text/event-stream"), "{ct}");
    let chunks = collect_chunks(resp).await;
    let all = String::from_utf8(chunks.concat()).unwrap();
    (chunks, sse_data(&all))
}

#[tokio::test(flavor = "multi_thread")]
async fn stream_is_translated_in_whole_events() {
    let (mock, gw) = setup().await;
    let (chunks, events) = stream(&gw, false).await;
    assert_eq!(
        events.last().map(String::as_str),
        Some("[DONE]"),
        "{events:?}"
    );
    assert_eq!(stream_text(&events), MOCK_TEXT, "{events:?}");
    let parsed: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    for v in &parsed {
        assert_eq!(v["object"], "chat.completion.chunk", "{v}");
        assert!(v["usage"].is_null(), "no usage without include_usage: {v}");
        assert!(!v["choices"].as_array().unwrap().is_empty(), "{v}");
    }
    let finishes: Vec<&Value> = parsed
        .iter()
        .filter(|v| !v["choices"][0]["finish_reason"].is_null())
        .collect();
    assert_eq!(finishes.len(), 1, "{events:?}");
    assert_eq!(finishes[0]["choices"][0]["finish_reason"], "stop");
    // Events that one upstream read completed leave together (one chunk), but the stream is
    // not held back to the end.
    assert!(chunks.len() > 1, "the stream came in one piece");
    let reqs = messages_requests(&mock);
    assert!(reqs[0].problems.is_empty(), "{:?}", reqs[0].problems);
    assert_eq!(reqs[0].json()["stream"], true);
    assert!(reqs[0].json().get("stream_options").is_none());

    // The usage was counted although the client did not see it.
    let out = [("type", "output"), ("model", "claude")];
    assert_eq!(tokens_metric(&gw, &out, 10.0).await, 10.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn stream_usage_chunk_only_when_asked() {
    let (mock, gw) = setup().await;
    let (_, events) = stream(&gw, true).await;
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let usage: Vec<Value> = events
        .iter()
        .filter_map(|e| serde_json::from_str::<Value>(e).ok())
        .filter(|v| v["usage"].is_object())
        .collect();
    assert_eq!(usage.len(), 1, "{events:?}");
    assert_eq!(usage[0]["choices"], json!([]));
    assert_eq!(usage[0]["usage"]["prompt_tokens"], 10);
    assert_eq!(usage[0]["usage"]["completion_tokens"], 10);
    assert!(messages_requests(&mock)[0].problems.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn overloaded_529_falls_back_to_the_next_target() {
    let (mock, gw) = setup().await;
    mock.push_fault(Fault::Status {
        status: 529,
        headers: vec![],
        body: None,
    });
    let resp = post(&gw, &chat("claude-then-gpt")).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], MOCK_TEXT, "{v}");
    let paths: Vec<String> = mock.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/v1/messages", "/v1/chat/completions"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn overloaded_529_alone_is_an_openai_503() {
    let (mock, gw) = setup().await;
    mock.set_fault_always(Some(Fault::Status {
        status: 529,
        headers: vec![("retry-after".into(), "1".into())],
        body: None,
    }));
    let resp = post(&gw, &chat("claude")).await;
    assert_eq!(resp.status(), 503);
    assert_eq!(
        resp.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "overloaded_error", "{v}");
    assert!(v["error"]["message"].is_string(), "{v}");
    assert!(
        v.get("type").is_none(),
        "OpenAI shape, not Anthropic's: {v}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn anthropic_400_is_an_openai_400() {
    let (mock, gw) = setup().await;
    mock.push_fault(Fault::Status {
        status: 400,
        headers: vec![],
        body: Some(
            r#"{"type":"error","error":{"type":"invalid_request_error","message":"messages: bad"}}"#
                .into(),
        ),
    });
    let resp = post(&gw, &chat("claude")).await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "invalid_request_error", "{v}");
    assert_eq!(v["error"]["message"], "messages: bad", "{v}");
    assert_eq!(messages_requests(&mock).len(), 1, "a 400 is not retried");
}

#[tokio::test(flavor = "multi_thread")]
async fn untranslatable_request_is_a_400_before_the_upstream() {
    let (mock, gw) = setup().await;
    let mut body = chat("claude");
    body["n"] = json!(2);
    let resp = post(&gw, &body).await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "invalid_request_error", "{v}");
    assert!(mock.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn openai_python_sdk_against_an_anthropic_target() {
    let (mock, gw) = setup().await;
    let base_url = gw.url("/v1");
    let out = tokio::task::spawn_blocking(move || {
        python(
            "openai_sdk_anthropic.py",
            &[
                ("TOLLGATE_BASE_URL", base_url.as_str()),
                ("TOLLGATE_KEY", KEY_ALL),
                ("TOLLGATE_MOCK_TEXT", MOCK_TEXT),
            ],
        )
    })
    .await
    .unwrap();
    assert_python_ok(&out);
    let reqs = messages_requests(&mock);
    assert!(reqs.len() >= 3, "upstream saw {} requests", reqs.len());
    for r in &reqs {
        assert!(r.problems.is_empty(), "{:?}", r.problems);
    }
}

fn weather_tools() -> Value {
    json!([{"type": "function", "function": {
        "name": "get_weather",
        "description": "Weather of a city",
        "parameters": {"type": "object", "properties": {"text": {"type": "string"}}},
    }}])
}

#[tokio::test(flavor = "multi_thread")]
async fn tool_call_round_trip() {
    let (mock, gw) = setup().await;
    let ask = json!({"role": "user", "content": "call: Paris"});
    let body = json!({"model": "claude", "messages": [ask], "tools": weather_tools()});
    let v: Value = post(&gw, &body).await.json().await.unwrap();
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls", "{v}");
    let call = &v["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["type"], "function", "{v}");
    assert_eq!(call["function"]["name"], "get_weather", "{v}");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"text": "Paris"}));

    // The result goes back; Anthropic gets tool_use and tool_result blocks.
    let id = call["id"].as_str().unwrap().to_owned();
    let body = json!({"model": "claude", "tools": weather_tools(), "messages": [
        ask,
        {"role": "assistant", "content": null, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": id, "content": "sunny"},
    ]});
    let v: Value = post(&gw, &body).await.json().await.unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], MOCK_TEXT, "{v}");
    assert_eq!(v["choices"][0]["finish_reason"], "stop", "{v}");
    let reqs = messages_requests(&mock);
    assert_eq!(reqs.len(), 2);
    for r in &reqs {
        assert!(r.problems.is_empty(), "{:?}", r.problems);
    }
    let up = reqs[1].json();
    assert_eq!(up["tools"][0]["name"], "get_weather", "{up}");
    assert_eq!(up["messages"][1]["content"][0]["type"], "tool_use", "{up}");
    assert_eq!(up["messages"][1]["content"][0]["id"], id.as_str(), "{up}");
    assert_eq!(up["messages"][2]["role"], "user", "{up}");
    assert_eq!(
        up["messages"][2]["content"][0]["type"], "tool_result",
        "{up}"
    );
    assert_eq!(
        up["messages"][2]["content"][0]["tool_use_id"],
        id.as_str(),
        "{up}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn streamed_tool_call_arguments_assemble() {
    let (_mock, gw) = setup().await;
    let body = json!({"model": "claude", "stream": true, "tools": weather_tools(),
        "messages": [{"role": "user", "content": "call: Paris"}]});
    let resp = post(&gw, &body).await;
    assert_eq!(resp.status(), 200);
    let all = String::from_utf8(collect_chunks(resp).await.concat()).unwrap();
    let events = sse_data(&all);
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"), "{all}");
    let mut name = String::new();
    let mut args = String::new();
    let mut finish = Value::Null;
    for e in &events[..events.len() - 1] {
        let v: Value = serde_json::from_str(e).unwrap();
        let choice = &v["choices"][0];
        if let Some(calls) = choice["delta"]["tool_calls"].as_array() {
            for c in calls {
                assert_eq!(c["index"], 0, "{v}");
                name.push_str(c["function"]["name"].as_str().unwrap_or_default());
                args.push_str(c["function"]["arguments"].as_str().unwrap_or_default());
            }
        }
        if !choice["finish_reason"].is_null() {
            finish = choice["finish_reason"].clone();
        }
    }
    assert_eq!(name, "get_weather", "{all}");
    assert_eq!(
        serde_json::from_str::<Value>(&args).unwrap(),
        json!({"text": "Paris"})
    );
    assert_eq!(finish, "tool_calls", "{all}");
}

#[tokio::test(flavor = "multi_thread")]
async fn stream_cut_by_the_provider_ends_with_an_error_event() {
    let (mock, gw) = setup().await;
    mock.push_fault(Fault::DisconnectAfter { events: 5 });
    let mut body = chat("claude");
    body["stream"] = json!(true);
    let resp = post(&gw, &body).await;
    assert_eq!(resp.status(), 200);
    let all = String::from_utf8(collect_chunks(resp).await.concat()).unwrap();
    let events = sse_data(&all);
    assert!(!events.iter().any(|e| e == "[DONE]"), "{all}");
    let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert!(last["error"]["message"].is_string(), "{all}");
    // Two words arrived before the cut.
    assert_eq!(stream_text(&events), "This is", "{all}");
}

/// An Anthropic provider's health probe (`GET /v1/models` with its key and version) takes it
/// out of rotation while failing, and back when passing.
#[tokio::test(flavor = "multi_thread")]
async fn health_check_probes_with_anthropic_credentials() {
    let mock = start_mock().await;
    let up = start_mock().await;
    let yaml = CONFIG
        .replace(
            r#"api_key: "sk-upstream-test" }
  up:"#,
            r#"api_key: "sk-upstream-test",
            health_check: { interval: 100ms, timeout: 1s, healthy_threshold: 1, unhealthy_threshold: 1 } }
  up:"#,
        )
        .replace("{anthropic}", &anthropic_base(&mock))
        .replace("{upstream}", &up.base_url());
    let gw = start_gateway(yaml).await;
    let healthy = |want: f64| {
        let gw = &gw;
        async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
            loop {
                let r = client().get(gw.admin_url("/metrics")).send().await.unwrap();
                let text = r.text().await.unwrap();
                let got = metric_sum(
                    &text,
                    "tollgate_provider_healthy",
                    &[("provider", "claude")],
                );
                if got == want || tokio::time::Instant::now() >= deadline {
                    return got;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    assert_eq!(healthy(1.0).await, 1.0);
    mock.set_fault_always(Some(Fault::Status {
        status: 500,
        headers: vec![],
        body: None,
    }));
    assert_eq!(healthy(0.0).await, 0.0);
    // Unhealthy: the next tier answers.
    let v: Value = post(&gw, &chat("claude-then-gpt"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["model"], "gpt-4o-2024-08-06", "{v}");
    mock.set_fault_always(None);
    assert_eq!(healthy(1.0).await, 1.0);

    let probes: Vec<_> = mock
        .requests()
        .into_iter()
        .filter(|r| r.path == "/v1/models")
        .collect();
    assert!(!probes.is_empty());
    for p in &probes {
        assert!(p.problems.is_empty(), "{:?}", p.problems);
        assert_eq!(p.method, "GET");
        assert_eq!(p.header("x-api-key"), Some(UPSTREAM_KEY));
        assert_eq!(p.header("anthropic-version"), Some("2023-06-01"));
    }
}

/// A 429 from the only target reaches the client OpenAI-shaped with Anthropic's retry header
/// and its rate-limit headers renamed to OpenAI's convention (providers::ratelimit).
#[tokio::test(flavor = "multi_thread")]
async fn rate_limit_keeps_retry_and_ratelimit_headers() {
    let (mock, gw) = setup().await;
    mock.set_fault_always(Some(Fault::Status {
        status: 429,
        headers: vec![
            ("retry-after".into(), "7".into()),
            ("anthropic-ratelimit-requests-remaining".into(), "0".into()),
            ("request-id".into(), "req_ant_1".into()),
        ],
        body: None,
    }));
    let resp = post(&gw, &chat("claude")).await;
    assert_eq!(resp.status(), 429);
    let h = |n: &str| {
        resp.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(h("retry-after").as_deref(), Some("7"));
    assert_eq!(h("x-ratelimit-remaining-requests").as_deref(), Some("0"));
    assert_eq!(h("anthropic-ratelimit-requests-remaining"), None);
    assert_eq!(h("request-id").as_deref(), Some("req_ant_1"));
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "rate_limit_error", "{v}");
}

/// Only chat is translated: other endpoints on an Anthropic model are a 400.
#[tokio::test(flavor = "multi_thread")]
async fn embeddings_on_an_anthropic_model_is_a_400() {
    let (mock, gw) = setup().await;
    let resp = client()
        .post(gw.url("/v1/embeddings"))
        .bearer_auth(KEY_ALL)
        .json(&json!({"model": "claude", "input": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "unsupported_by_provider", "{v}");
    assert!(mock.requests().is_empty());
}

/// An `error` event from Anthropic mid-stream reaches the client as one OpenAI error event,
/// and the stream still ends properly (no `[DONE]`, like the gateway's other failed streams).
#[tokio::test(flavor = "multi_thread")]
async fn provider_error_mid_stream_becomes_an_openai_error_event() {
    let (_mock, gw) = setup().await;
    let body = json!({"model": "claude", "stream": true,
        "messages": [{"role": "user", "content": "fail: Overloaded right now"}]});
    let resp = post(&gw, &body).await;
    assert_eq!(resp.status(), 200);
    let all = String::from_utf8(collect_chunks(resp).await.concat()).unwrap();
    let events = sse_data(&all);
    assert!(!events.iter().any(|e| e == "[DONE]"), "{all}");
    let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert_eq!(last["error"]["message"], "Overloaded right now", "{all}");
    assert_eq!(last["error"]["type"], "overloaded_error", "{all}");
}

/// Quotas settle with Anthropic's reported usage, also for a stream whose client did not ask
/// for usage: 100 output tokens reserved per request, 10 used each time.
#[tokio::test(flavor = "multi_thread")]
async fn quota_settles_with_the_translated_stream_usage() {
    let mock = start_mock().await;
    let yaml = format!(
        "{CONFIG}quota:\n  store: memory\n  limits:\n    - {{ output_tokens: 1000, per: hour }}\n"
    )
    .replace("{anthropic}", &anthropic_base(&mock))
    .replace("{upstream}", &mock.base_url());
    let gw = start_gateway(yaml).await;
    let mut body = chat("claude");
    body["stream"] = json!(true);
    body["max_tokens"] = json!(100);
    let r = post(&gw, &body).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.header_u64("x-ratelimit-remaining-output-tokens"),
        Some(900)
    );
    let text = r.text().await.unwrap();
    assert!(!text.contains("usage"), "{text}");
    // Settlement runs right after a stream ends, so a request may still see an earlier
    // reservation: poll until one sees every earlier request settled at 10.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    for earlier in 1u64.. {
        let r = post(&gw, &body).await;
        let remaining = r.header_u64("x-ratelimit-remaining-output-tokens");
        let _ = r.text().await;
        if remaining == Some(1000 - 10 * earlier - 100) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never settled at 10 per request: {remaining:?} after {earlier}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

trait HeaderU64 {
    fn header_u64(&self, name: &str) -> Option<u64>;
}

impl HeaderU64 for reqwest::Response {
    fn header_u64(&self, name: &str) -> Option<u64> {
        self.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
    }
}
