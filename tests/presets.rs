//! `kind: openai` with `preset:`: a vendor's quirks applied as data. Mistral is the strict
//! one (the mock provider's Mistral dialect refuses what the real API refuses with 422): no
//! `stream_options`, `max_tokens` instead of `max_completion_tokens`, 9-character
//! alphanumeric tool-call ids, `tool_choice: "any"`. Also: a stream without provider usage is
//! metered by counting.

mod common;

use std::time::Duration;

use serde_json::{json, Value};
use tollgate_mock_provider::{MockProvider, RecordedRequest};

use common::{
    assert_python_ok, client, metric_sum, python, sse_data, start_gateway, start_mock, Gateway,
    KEY_ALL, MOCK_TEXT,
};

const CONFIG: &str = r#"listen: ["{listen}"]
admin: { listen: "{admin}" }
server: { threads: 2, grace_period: 10s, max_body_size: 1MiB }
timeouts: { connect: 1s, first_byte: 2s, idle: 2s, total: 20s }
providers:
  mistral: { kind: openai, preset: mistral, base_url: "{root}/mistral/v1", api_key: "sk-upstream-test" }
  raw:     { kind: openai, base_url: "{root}/mistral/v1", api_key: "sk-upstream-test", stream_usage: false }
  quiet:   { kind: openai, base_url: "{root}/v1", api_key: "sk-upstream-test", stream_usage: false }
models:
  mistral-large: { targets: [ { provider: mistral, model: mistral-large-latest } ] }
  mistral-embed: { targets: [ { provider: mistral } ] }
  no-preset: { targets: [ { provider: raw, model: mistral-large-latest } ] }
  counted: { targets: [ { provider: quiet, model: gpt-4o } ] }
resilience: { retries: 0 }
keys:
  - { name: all, key: sk-test-all }
"#;

async fn setup() -> (MockProvider, Gateway) {
    let mock = start_mock().await;
    let root = mock.base_url().trim_end_matches("/v1").to_owned();
    let gw = start_gateway(CONFIG.replace("{root}", &root)).await;
    (mock, gw)
}

async fn post_text(gw: &Gateway, text: String) -> reqwest::Response {
    client()
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(KEY_ALL)
        .header("content-type", "application/json")
        .body(text)
        .send()
        .await
        .unwrap()
}

fn only_request(mock: &MockProvider) -> RecordedRequest {
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    reqs.into_iter().next().unwrap()
}

/// `tollgate_tokens_total` for `labels`, polled until it reaches `want` or 5 s pass.
async fn tokens(gw: &Gateway, labels: &[(&str, &str)], want: impl Fn(f64) -> bool) -> f64 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let r = client().get(gw.admin_url("/metrics")).send().await.unwrap();
        let got = metric_sum(&r.text().await.unwrap(), "tollgate_tokens_total", labels);
        if want(got) || tokio::time::Instant::now() >= deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn mistral_stream_gets_no_stream_options_and_still_reports_usage() {
    let (mock, gw) = setup().await;
    let body = json!({"model": "mistral-large", "stream": true,
        "stream_options": {"include_usage": true}, "max_completion_tokens": 4,
        "messages": [{"role": "user", "content": "Say hi"}]});
    let resp = post_text(&gw, body.to_string()).await;
    assert_eq!(resp.status(), 200);
    let events = sse_data(&resp.text().await.unwrap());
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    let last = chunks.last().unwrap();
    // Mistral's usage rides on the finish chunk.
    assert_eq!(last["choices"][0]["finish_reason"], "length");
    assert_eq!(last["usage"]["completion_tokens"], 4);
    let r = only_request(&mock);
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    let sent = r.json();
    assert!(sent.get("stream_options").is_none(), "{sent}");
    assert!(sent.get("max_completion_tokens").is_none(), "{sent}");
    assert_eq!(sent["max_tokens"], 4);
    let labels = [
        ("model", "mistral-large"),
        ("source", "provider"),
        ("type", "output"),
    ];
    assert_eq!(tokens(&gw, &labels, |v| v == 4.0).await, 4.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_the_preset_mistral_refuses_with_422() {
    let (mock, gw) = setup().await;
    let body = json!({"model": "no-preset", "max_completion_tokens": 4, "user": "u1",
        "messages": [{"role": "user", "content": "Say hi"}]});
    let resp = post_text(&gw, body.to_string()).await;
    assert_eq!(resp.status(), 422);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "error");
    let locs: Vec<&Value> = v["message"]["detail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| &d["loc"][1])
        .collect();
    assert_eq!(locs, [&json!("max_completion_tokens"), &json!("user")]);
    assert_eq!(mock.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn mistral_tool_ids_and_tool_choice_are_rewritten_consistently() {
    let (mock, gw) = setup().await;
    let body = json!({"model": "mistral-large", "tool_choice": "required",
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        "messages": [
            {"role": "user", "content": "call: x"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_abc123", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                {"id": "Zz9Zz9Zz9", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "call_abc123", "content": "1"},
            {"role": "tool", "tool_call_id": "Zz9Zz9Zz9", "content": "2"},
            {"role": "user", "content": "echo: done"}]});
    let resp = post_text(&gw, body.to_string()).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "done");
    let r = only_request(&mock);
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    let sent = r.json();
    let rewritten = sent["messages"][1]["tool_calls"][0]["id"].as_str().unwrap();
    assert_ne!(rewritten, "call_abc123");
    assert_eq!(sent["messages"][2]["tool_call_id"], rewritten);
    assert_eq!(sent["messages"][1]["tool_calls"][1]["id"], "Zz9Zz9Zz9");
    assert_eq!(sent["tool_choice"], "any");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_no_quirk_applies_to_passes_byte_for_byte() {
    let (mock, gw) = setup().await;
    let text = r#"{"model":"mistral-large","max_tokens":3,"temperature":0.50,"messages":[{"role":"user","content":"Say hi"}]}"#;
    assert_eq!(post_text(&gw, text.to_owned()).await.status(), 200);
    let r = only_request(&mock);
    assert_eq!(
        std::str::from_utf8(&r.body).unwrap(),
        text.replace("mistral-large", "mistral-large-latest")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_without_provider_usage_is_metered_by_counting() {
    let (mock, gw) = setup().await;
    let body = json!({"model": "counted", "stream": true,
        "messages": [{"role": "user", "content": "Say hi"}]});
    let resp = post_text(&gw, body.to_string()).await;
    assert_eq!(resp.status(), 200);
    let events = sse_data(&resp.text().await.unwrap());
    assert!(
        events.iter().all(|e| !e.contains("\"usage\":{")),
        "{events:?}"
    );
    assert!(only_request(&mock).json().get("stream_options").is_none());
    let counted = [
        ("model", "counted"),
        ("source", "counted"),
        ("type", "output"),
    ];
    let got = tokens(&gw, &counted, |v| v > 0.0).await;
    // The mock's 10-word reply is 10 to 13 tokens in any OpenAI encoding.
    assert!((10.0..=13.0).contains(&got), "{got}");
    let provider = [("model", "counted"), ("source", "provider")];
    assert_eq!(tokens(&gw, &provider, |_| true).await, 0.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn openai_and_anthropic_sdks_against_mistral() {
    let (mock, gw) = setup().await;
    let base = gw.url("/v1");
    let root = gw.url("");
    let out = tokio::task::spawn_blocking(move || {
        python(
            "compat_sdks.py",
            &[
                ("TOLLGATE_BASE_URL", base.as_str()),
                ("TOLLGATE_ROOT_URL", root.as_str()),
                ("TOLLGATE_KEY", KEY_ALL),
                ("TOLLGATE_MODEL", "mistral-large"),
                ("TOLLGATE_EMBED_MODEL", "mistral-embed"),
                ("TOLLGATE_MOCK_TEXT", MOCK_TEXT),
                ("TOLLGATE_ID_RULE", "alnum9"),
            ],
        )
    })
    .await
    .unwrap();
    assert_python_ok(&out);
    let reqs = mock.requests();
    assert!(reqs.len() >= 8, "upstream saw {} requests", reqs.len());
    for r in &reqs {
        assert!(r.problems.is_empty(), "{} {:?}", r.path, r.problems);
        assert!(r.path.starts_with("/mistral/v1/"), "{}", r.path);
    }
}

/// The mock's Mistral dialect refuses foreign tool-call ids with Mistral's 422.
#[tokio::test(flavor = "multi_thread")]
async fn mock_refuses_foreign_tool_call_ids() {
    let mock = start_mock().await;
    let url = mock
        .base_url()
        .replace("/v1", "/mistral/v1/chat/completions");
    let body = json!({"model": "m", "messages": [
        {"role": "user", "content": "x"},
        {"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_abc123", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_abc123", "content": "1"}]});
    let r = client()
        .post(&url)
        .bearer_auth(common::UPSTREAM_KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["object"], "error");
    assert!(v["message"]
        .as_str()
        .unwrap()
        .contains("must be a-z, A-Z, 0-9, with a length of 9"));
}
