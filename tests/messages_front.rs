//! The Anthropic Messages front door (`POST /v1/messages`): Claude-style clients on OpenAI-kind,
//! built-in mock and Anthropic-kind targets, streamed and not, with tools, and Anthropic-shaped
//! errors (gateway-made and relayed). Passthrough details: tests/messages_passthrough.rs.

mod common;

use serde_json::{json, Value};
use tollgate_mock_provider::{Fault, MockProvider};

use common::{
    assert_python_ok, client, metric_sum, python, sse_data, start_gateway, start_mock, Gateway,
    KEY_ALL, KEY_LIMITED, MOCK_TEXT,
};

const CONFIG: &str = r#"listen: ["{listen}"]
admin: { listen: "{admin}" }
server: { threads: 2, grace_period: 10s, max_body_size: 1MiB }
timeouts: { connect: 1s, first_byte: 2s, idle: 2s, total: 20s }
providers:
  claude: { kind: anthropic, base_url: "{anthropic}", api_key: "sk-upstream-test" }
  up:     { kind: openai, base_url: "{upstream}", api_key: "sk-upstream-test" }
  demo:   { kind: mock }
models:
  claude: { targets: [ { provider: claude, model: claude-sonnet-4-5 } ] }
  gpt: { targets: [ { provider: up, model: gpt-4o-2024-08-06 } ] }
  demo: { targets: [ { provider: demo } ] }
keys:
  - { name: all, key: sk-test-all }
  - { name: limited, key: sk-test-demo-only, models: [demo] }
"#;

async fn setup() -> (MockProvider, Gateway) {
    let mock = start_mock().await;
    let yaml = CONFIG
        .replace("{anthropic}", mock.base_url().trim_end_matches("/v1"))
        .replace("{upstream}", &mock.base_url());
    let gw = start_gateway(yaml).await;
    (mock, gw)
}

async fn post_key(gw: &Gateway, key: &str, body: &Value) -> reqwest::Response {
    client()
        .post(gw.url("/v1/messages"))
        .header("x-api-key", key)
        .header("anthropic-version", "2023-06-01")
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn post(gw: &Gateway, body: &Value) -> reqwest::Response {
    post_key(gw, KEY_ALL, body).await
}

fn messages(model: &str) -> Value {
    json!({"model": model, "max_tokens": 100, "system": "Be brief.",
           "messages": [{"role": "user", "content": "Say hi"}]})
}

fn requests_to(mock: &MockProvider, path: &str) -> Vec<tollgate_mock_provider::RecordedRequest> {
    mock.requests()
        .into_iter()
        .filter(|r| r.path == path)
        .collect()
}

/// Checks a non-streamed Anthropic message with the mock's default reply.
fn assert_message(v: &Value, model: &str) {
    assert_eq!(v["type"], "message", "{v}");
    assert_eq!(v["role"], "assistant", "{v}");
    assert_eq!(v["model"], model, "{v}");
    assert_eq!(
        v["content"],
        json!([{"type": "text", "text": MOCK_TEXT}]),
        "{v}"
    );
    assert_eq!(v["stop_reason"], "end_turn", "{v}");
    assert_eq!(v["usage"]["output_tokens"], 10, "{v}");
    assert!(v["usage"]["input_tokens"].as_u64().unwrap() > 0, "{v}");
}

#[tokio::test(flavor = "multi_thread")]
async fn non_stream_to_openai_target() {
    let (mock, gw) = setup().await;
    let resp = post(&gw, &messages("gpt")).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_message(&v, "gpt");
    // (3 + 2) system + (3 + 2) user, counted by the OpenAI mock.
    assert_eq!(v["usage"]["input_tokens"], 10, "{v}");

    let reqs = requests_to(&mock, "/v1/chat/completions");
    assert_eq!(reqs.len(), 1);
    assert!(reqs[0].problems.is_empty(), "{:?}", reqs[0].problems);
    let up = reqs[0].json();
    assert_eq!(up["model"], "gpt-4o-2024-08-06");
    assert_eq!(up["max_tokens"], 100);
    assert_eq!(
        up["messages"],
        json!([
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Say hi"}]}
        ])
    );

    // Metrics: the route's own label, and the provider's token counts.
    let labels = [("route", "messages"), ("model", "gpt"), ("status", "200")];
    assert_eq!(
        metric(&gw, "tollgate_requests_total", &labels, 1.0).await,
        1.0
    );
    let labels = [("type", "input"), ("model", "gpt"), ("provider", "up")];
    assert_eq!(
        metric(&gw, "tollgate_tokens_total", &labels, 10.0).await,
        10.0
    );
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
async fn non_stream_to_builtin_mock_and_anthropic_target() {
    let (mock, gw) = setup().await;
    let v: Value = post(&gw, &messages("demo")).await.json().await.unwrap();
    assert_eq!(v["type"], "message", "{v}");
    assert_eq!(v["model"], "demo", "{v}");
    assert_eq!(v["content"][0]["type"], "text", "{v}");
    assert!(!v["content"][0]["text"].as_str().unwrap().is_empty(), "{v}");

    // Anthropic targets answer untouched (passthrough): the provider's model name.
    let v: Value = post(&gw, &messages("claude")).await.json().await.unwrap();
    assert_message(&v, "claude-sonnet-4-5");
    assert_eq!(v["usage"]["input_tokens"], 10, "{v}");
    let reqs = requests_to(&mock, "/v1/messages");
    assert_eq!(reqs.len(), 1);
    assert!(reqs[0].problems.is_empty(), "{:?}", reqs[0].problems);
    assert_eq!(reqs[0].json()["model"], "claude-sonnet-4-5");
    assert_eq!(reqs[0].json()["system"], "Be brief.");
}

/// `(event name, data)` of every event of an Anthropic stream.
async fn stream_events(gw: &Gateway, model: &str) -> Vec<(String, Value)> {
    let mut body = messages(model);
    body["stream"] = json!(true);
    let resp = post(gw, &body).await;
    assert_eq!(resp.status(), 200);
    let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("text/event-stream"), "{ct}");
    let text = resp.text().await.unwrap();
    let names: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("event:"))
        .map(|n| n.trim().to_owned())
        .collect();
    let data: Vec<Value> = sse_data(&text)
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert_eq!(names.len(), data.len(), "{text}");
    for (n, d) in names.iter().zip(&data) {
        assert_eq!(d["type"], n.as_str(), "{text}");
    }
    names.into_iter().zip(data).collect()
}

/// Checks the exact Anthropic event sequence of a one-text-block answer.
fn assert_text_stream(events: &[(String, Value)], model: &str, text: &str) {
    let names: Vec<&str> = events
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| *n != "ping")
        .collect();
    assert_eq!(names.first(), Some(&"message_start"), "{events:?}");
    assert_eq!(names[1], "content_block_start", "{events:?}");
    let tail = &names[names.len() - 3..];
    assert_eq!(
        tail,
        ["content_block_stop", "message_delta", "message_stop"],
        "{events:?}"
    );
    assert!(names[2..names.len() - 3]
        .iter()
        .all(|n| *n == "content_block_delta"));
    let start = &events[0].1;
    assert_eq!(start["message"]["model"], model, "{start}");
    // The gateway's estimate, before the provider's count in message_delta.
    let estimate = start["message"]["usage"]["input_tokens"].as_u64().unwrap();
    assert!(estimate > 0, "{start}");
    assert_eq!(start["message"]["role"], "assistant", "{start}");
    let got: String = events
        .iter()
        .filter(|(n, _)| n == "content_block_delta")
        .map(|(_, d)| d["delta"]["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, text);
    let delta = &events.iter().find(|(n, _)| n == "message_delta").unwrap().1;
    assert_eq!(delta["delta"]["stop_reason"], "end_turn", "{delta}");
    assert!(
        delta["usage"]["output_tokens"].as_u64().unwrap() > 0,
        "{delta}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn stream_to_openai_target() {
    let (mock, gw) = setup().await;
    let events = stream_events(&gw, "gpt").await;
    assert_text_stream(&events, "gpt", MOCK_TEXT);
    let delta = &events.iter().find(|(n, _)| n == "message_delta").unwrap().1;
    assert_eq!(delta["usage"]["output_tokens"], 10, "{delta}");
    let up = requests_to(&mock, "/v1/chat/completions")[0].json();
    assert_eq!(up["model"], "gpt-4o-2024-08-06");
    assert_eq!(up["stream"], true);
    // The gateway asks for usage: the client's message_delta needs it.
    assert_eq!(up["stream_options"]["include_usage"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn stream_to_builtin_mock_and_anthropic_target() {
    let (_mock, gw) = setup().await;
    let events = stream_events(&gw, "demo").await;
    let text: String = events
        .iter()
        .filter(|(n, _)| n == "content_block_delta")
        .map(|(_, d)| d["delta"]["text"].as_str().unwrap().to_owned())
        .collect();
    assert_text_stream(&events, "demo", &text);
    assert!(!text.is_empty());

    let events = stream_events(&gw, "claude").await;
    assert_text_stream(&events, "claude-sonnet-4-5", MOCK_TEXT);
    let delta = &events.iter().find(|(n, _)| n == "message_delta").unwrap().1;
    assert_eq!(delta["usage"]["output_tokens"], 10, "{delta}");
}

fn tool_request(model: &str) -> Value {
    json!({"model": model, "max_tokens": 100,
        "tools": [{"name": "shout", "description": "Shouts.",
                   "input_schema": {"type": "object", "properties": {"text": {"type": "string"}}}}],
        "messages": [{"role": "user", "content": "call: hello there"}]})
}

#[tokio::test(flavor = "multi_thread")]
async fn tool_use_round_trip() {
    let (mock, gw) = setup().await;
    // The Anthropic mock calls the first tool on `call:`.
    let v: Value = post(&gw, &tool_request("claude"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["stop_reason"], "tool_use", "{v}");
    let block = &v["content"][0];
    assert_eq!(block["type"], "tool_use", "{v}");
    assert_eq!(block["name"], "shout", "{v}");
    assert_eq!(block["input"], json!({"text": "hello there"}), "{v}");
    let id = block["id"].as_str().unwrap().to_owned();
    let up = requests_to(&mock, "/v1/messages")[0].json();
    assert_eq!(up["tools"][0]["name"], "shout", "{up}");

    // The result goes back; to an OpenAI target it becomes a `tool` message.
    let mut next = tool_request("gpt");
    next["messages"] = json!([
        {"role": "user", "content": "call: hello there"},
        {"role": "assistant", "content": [block.clone()]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": id, "content": "HELLO THERE"}]}
    ]);
    let resp = post(&gw, &next).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["type"], "message", "{v}");
    let reqs = requests_to(&mock, "/v1/chat/completions");
    assert!(reqs[0].problems.is_empty(), "{:?}", reqs[0].problems);
    let up = reqs[0].json();
    assert_eq!(up["tools"][0]["type"], "function", "{up}");
    assert_eq!(up["tools"][0]["function"]["name"], "shout", "{up}");
    let msgs = up["messages"].as_array().unwrap();
    assert_eq!(msgs[1]["tool_calls"][0]["id"], id.as_str(), "{up}");
    assert_eq!(msgs[2]["role"], "tool", "{up}");
    assert_eq!(msgs[2]["tool_call_id"], id.as_str(), "{up}");
}

async fn error_of(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["type"], "error", "{v}");
    assert!(v["error"]["message"].as_str().is_some(), "{v}");
    (status, v)
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_are_anthropic_shaped() {
    let (mock, gw) = setup().await;
    let (s, v) = error_of(post_key(&gw, "sk-wrong", &messages("gpt")).await).await;
    assert_eq!(
        (s, v["error"]["type"].as_str()),
        (401, Some("authentication_error"))
    );

    let (s, v) = error_of(post(&gw, &messages("nope")).await).await;
    assert_eq!(
        (s, v["error"]["type"].as_str()),
        (404, Some("not_found_error"))
    );

    let (s, v) = error_of(post_key(&gw, KEY_LIMITED, &messages("gpt")).await).await;
    assert_eq!(
        v["error"]["type"],
        if s == 403 {
            "permission_error"
        } else {
            "not_found_error"
        }
    );

    let mut bad = messages("gpt");
    bad.as_object_mut().unwrap().remove("max_tokens");
    let (s, v) = error_of(post(&gw, &bad).await).await;
    assert_eq!(
        (s, v["error"]["type"].as_str()),
        (400, Some("invalid_request_error"))
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_tokens"),
        "{v}"
    );

    let mut big = messages("gpt");
    big["messages"][0]["content"] = json!("x".repeat(2 << 20));
    let (s, v) = error_of(post(&gw, &big).await).await;
    assert_eq!(
        (s, v["error"]["type"].as_str()),
        (413, Some("request_too_large"))
    );

    // A provider's failure, relayed after the retries.
    mock.set_fault_always(Some(Fault::Status {
        status: 429,
        headers: vec![("retry-after".into(), "1".into())],
        body: None,
    }));
    let resp = post(&gw, &messages("gpt")).await;
    assert_eq!(resp.headers().get("retry-after").unwrap(), "1");
    let (s, v) = error_of(resp).await;
    assert_eq!(
        (s, v["error"]["type"].as_str()),
        (429, Some("rate_limit_error"))
    );
    mock.set_fault_always(None);
}

#[tokio::test(flavor = "multi_thread")]
async fn mid_stream_provider_error_becomes_an_error_event() {
    let (_mock, gw) = setup().await;
    let mut body = messages("claude");
    body["stream"] = json!(true);
    body["messages"] = json!([{"role": "user", "content": "fail: too busy"}]);
    let resp = post(&gw, &body).await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    let data: Vec<Value> = sse_data(&text)
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert_eq!(data[0]["type"], "message_start", "{text}");
    let last = data.last().unwrap();
    assert_eq!(last["type"], "error", "{text}");
    assert_eq!(last["error"]["type"], "overloaded_error", "{text}");
    assert_eq!(last["error"]["message"], "too busy", "{text}");
    assert!(!text.contains("message_stop"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn quota_refusal_is_a_rate_limit_error() {
    let mock = start_mock().await;
    let yaml = CONFIG
        .replace("{anthropic}", mock.base_url().trim_end_matches("/v1"))
        .replace("{upstream}", &mock.base_url())
        + "quota:\n  store: memory\n  limits:\n    - { requests: 1, per: minute }\n";
    let gw = start_gateway(yaml).await;
    assert_eq!(post(&gw, &messages("gpt")).await.status(), 200);
    let resp = post(&gw, &messages("gpt")).await;
    assert!(resp.headers().get("retry-after").is_some());
    let (s, v) = error_of(resp).await;
    assert_eq!(
        (s, v["error"]["type"].as_str()),
        (429, Some("rate_limit_error"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn official_anthropic_sdk() {
    let (_mock, gw) = setup().await;
    let base_url = gw.url("");
    let out = tokio::task::spawn_blocking(move || {
        python(
            "anthropic_sdk.py",
            &[
                ("TOLLGATE_BASE_URL", base_url.trim_end_matches('/')),
                ("TOLLGATE_KEY", KEY_ALL),
                ("TOLLGATE_MOCK_TEXT", MOCK_TEXT),
            ],
        )
    })
    .await
    .unwrap();
    assert_python_ok(&out);
}
