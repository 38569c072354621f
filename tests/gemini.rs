//! `kind: gemini` targets: the gateway translates OpenAI chat and embeddings requests (and,
//! through the Messages front door, Anthropic ones) to Gemini's generateContent,
//! streamGenerateContent?alt=sse and batchEmbedContents on the mock provider, which validates
//! them like Google does, and the answers, errors and streams back.

mod common;

use futures_util::StreamExt;
use serde_json::{json, Value};
use tollgate_mock_provider::{Fault, MockProvider, RecordedRequest};

use common::{
    assert_python_ok, client, python, sse_data, start_gateway, start_mock, stream_text, Gateway,
    KEY_ALL, MOCK_TEXT, UPSTREAM_KEY,
};

const CONFIG: &str = r#"listen: ["{listen}"]
admin: { listen: "{admin}" }
server: { threads: 2, grace_period: 10s, max_body_size: 1MiB }
timeouts: { connect: 1s, first_byte: 2s, idle: 2s, total: 20s }
providers:
  gem: { kind: gemini, base_url: "{root}", api_key: "sk-upstream-test" }
  up:  { kind: openai, base_url: "{upstream}", api_key: "sk-upstream-test" }
models:
  gemini: { targets: [ { provider: gem, model: gemini-2.5-flash } ] }
  gemini-embed: { targets: [ { provider: gem, model: text-embedding-004 } ] }
  gemini-then-gpt:
    targets:
      - { provider: gem, model: gemini-2.5-flash, priority: 0 }
      - { provider: up, model: gpt-4o-2024-08-06, priority: 1 }
keys:
  - { name: all, key: sk-test-all }
"#;

async fn setup() -> (MockProvider, Gateway) {
    let mock = start_mock().await;
    let root = mock.base_url().trim_end_matches("/v1").to_owned();
    let yaml = CONFIG
        .replace("{root}", &root)
        .replace("{upstream}", &mock.base_url());
    (mock, start_gateway(yaml).await)
}

async fn post(gw: &Gateway, path: &str, body: &Value) -> reqwest::Response {
    client()
        .post(gw.url(path))
        .bearer_auth(KEY_ALL)
        .json(body)
        .send()
        .await
        .unwrap()
}

fn gemini_requests(mock: &MockProvider) -> Vec<RecordedRequest> {
    mock.requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/v1beta/"))
        .collect()
}

fn assert_clean(reqs: &[RecordedRequest]) {
    for r in reqs {
        assert!(r.problems.is_empty(), "{} {:?}", r.path, r.problems);
        assert_eq!(r.header("x-goog-api-key"), Some(UPSTREAM_KEY));
        assert_eq!(
            r.header("authorization"),
            None,
            "no client credential upstream"
        );
        assert!(!r.path.contains("key="), "{}", r.path);
        for (k, v) in &r.headers {
            assert!(!v.contains(KEY_ALL), "client key leaked in {k}");
        }
    }
}

fn chat(model: &str) -> Value {
    json!({"model": model, "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Say hi"},
    ]})
}

async fn events_of(resp: reqwest::Response) -> Vec<String> {
    assert_eq!(resp.status(), 200);
    let mut body = Vec::new();
    let mut s = resp.bytes_stream();
    while let Some(c) = tokio::time::timeout(std::time::Duration::from_secs(10), s.next())
        .await
        .expect("stream ended in time")
    {
        body.extend_from_slice(&c.unwrap());
    }
    sse_data(&String::from_utf8(body).unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn non_stream_chat_is_translated_both_ways() {
    let (mock, gw) = setup().await;
    let resp = post(&gw, "/v1/chat/completions", &chat("gemini")).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion", "{v}");
    assert_eq!(v["choices"][0]["message"]["content"], MOCK_TEXT, "{v}");
    assert_eq!(v["choices"][0]["finish_reason"], "stop", "{v}");
    // (3 + 2) system + (3 + 2) user; 10 words + 2 thinking tokens.
    assert_eq!(v["usage"]["prompt_tokens"], 10, "{v}");
    assert_eq!(v["usage"]["completion_tokens"], 12, "{v}");
    assert_eq!(v["usage"]["total_tokens"], 22, "{v}");
    assert_eq!(
        v["usage"]["completion_tokens_details"]["reasoning_tokens"], 2,
        "{v}"
    );

    let reqs = gemini_requests(&mock);
    assert_eq!(reqs.len(), 1);
    assert_clean(&reqs);
    assert_eq!(
        reqs[0].path,
        "/v1beta/models/gemini-2.5-flash:generateContent"
    );
    let up = reqs[0].json();
    assert_eq!(
        up["systemInstruction"],
        json!({"parts": [{"text": "Be brief."}]})
    );
    assert_eq!(
        up["contents"],
        json!([{"role": "user", "parts": [{"text": "Say hi"}]}])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn stream_is_translated_with_usage_only_when_asked() {
    let (mock, gw) = setup().await;
    for include_usage in [false, true] {
        let mut body = chat("gemini");
        body["stream"] = json!(true);
        if include_usage {
            body["stream_options"] = json!({"include_usage": true});
        }
        let events = events_of(post(&gw, "/v1/chat/completions", &body).await).await;
        assert_eq!(
            events.last().map(String::as_str),
            Some("[DONE]"),
            "{events:?}"
        );
        assert_eq!(stream_text(&events), MOCK_TEXT);
        let parsed: Vec<Value> = events[..events.len() - 1]
            .iter()
            .map(|e| serde_json::from_str(e).unwrap())
            .collect();
        let finishes: Vec<&Value> = parsed
            .iter()
            .filter(|v| !v["choices"][0]["finish_reason"].is_null())
            .collect();
        assert_eq!(finishes.len(), 1, "{events:?}");
        assert_eq!(finishes[0]["choices"][0]["finish_reason"], "stop");
        let usage: Vec<&Value> = parsed.iter().filter(|v| v["usage"].is_object()).collect();
        if include_usage {
            assert_eq!(usage.len(), 1, "{events:?}");
            assert_eq!(usage[0]["choices"], json!([]));
            assert_eq!(usage[0]["usage"]["completion_tokens"], 12);
        } else {
            assert!(usage.is_empty(), "{events:?}");
        }
    }
    let reqs = gemini_requests(&mock);
    assert_clean(&reqs);
    assert!(reqs
        .iter()
        .all(|r| r.path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"));
    assert!(reqs
        .iter()
        .all(|r| r.json().get("stream_options").is_none()));
}

fn tools() -> Value {
    json!([
        {"type": "function", "function": {"name": "get_weather", "parameters": {
            "type": "object", "properties": {"city": {"type": "string"}},
            "required": ["city"], "additionalProperties": false}, "strict": true}},
        {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}}
    ])
}

#[tokio::test(flavor = "multi_thread")]
async fn parallel_tool_calls_and_results_round_trip() {
    let (mock, gw) = setup().await;
    let mut body = json!({"model": "gemini", "tools": tools(), "tool_choice": "auto",
        "messages": [{"role": "user", "content": "call: Paris"}]});
    let v: Value = post(&gw, "/v1/chat/completions", &body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls", "{v}");
    let calls = v["choices"][0]["message"]["tool_calls"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(calls.len(), 2, "{v}");
    assert_ne!(calls[0]["id"], calls[1]["id"]);
    assert_eq!(calls[0]["function"]["arguments"], r#"{"text":"Paris"}"#);

    // The client answers both calls; Gemini needs the function names back.
    let msgs = body["messages"].as_array_mut().unwrap();
    msgs.push(json!({"role": "assistant", "content": null, "tool_calls": calls}));
    for (c, result) in calls.iter().zip([r#"{"temp_c":18}"#, "12:00"]) {
        msgs.push(json!({"role": "tool", "tool_call_id": c["id"], "content": result}));
    }
    let v: Value = post(&gw, "/v1/chat/completions", &body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        v["choices"][0]["message"]["content"], "results for get_weather get_time",
        "{v}"
    );

    // Streamed: whole calls with indices 0 and 1.
    body["messages"] = json!([{"role": "user", "content": "call: Tokyo"}]);
    body["stream"] = json!(true);
    let events = events_of(post(&gw, "/v1/chat/completions", &body).await).await;
    let deltas: Vec<Value> = events
        .iter()
        .filter_map(|e| serde_json::from_str::<Value>(e).ok())
        .filter_map(|v| v["choices"][0]["delta"]["tool_calls"].as_array().cloned())
        .flatten()
        .collect();
    assert_eq!(deltas.len(), 2, "{events:?}");
    assert_eq!(
        (deltas[0]["index"].clone(), deltas[1]["index"].clone()),
        (json!(0), json!(1))
    );
    assert_eq!(deltas[1]["function"]["name"], "get_time");

    let reqs = gemini_requests(&mock);
    assert_clean(&reqs);
    let second = reqs[1].json();
    assert_eq!(
        second["contents"][2]["parts"][0]["functionResponse"],
        json!({"name": "get_weather", "response": {"temp_c": 18}})
    );
    assert_eq!(
        second["contents"][2]["parts"][1]["functionResponse"],
        json!({"name": "get_time", "response": {"result": "12:00"}})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn embeddings_become_batch_embed_contents() {
    let (mock, gw) = setup().await;
    let body = json!({"model": "gemini-embed", "input": ["hello world", "bye"], "dimensions": 4});
    let resp = post(&gw, "/v1/embeddings", &body).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "list", "{v}");
    assert_eq!(v["model"], "gemini-embed", "{v}");
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(data[1]["index"], 1);
    assert_eq!(data[0]["embedding"].as_array().unwrap().len(), 4);
    // Gemini reports no usage for embeddings: the gateway's count stands in.
    assert!(v["usage"]["prompt_tokens"].as_u64().unwrap() >= 3, "{v}");
    assert_eq!(v["usage"]["total_tokens"], v["usage"]["prompt_tokens"]);
    let reqs = gemini_requests(&mock);
    assert_clean(&reqs);
    assert_eq!(
        reqs[0].path,
        "/v1beta/models/text-embedding-004:batchEmbedContents"
    );

    let b64 = json!({"model": "gemini-embed", "input": "x", "encoding_format": "base64"});
    let v: Value = post(&gw, "/v1/embeddings", &b64)
        .await
        .json()
        .await
        .unwrap();
    assert!(v["data"][0]["embedding"].is_string(), "{v}");

    let tokens = json!({"model": "gemini-embed", "input": [1, 2, 3]});
    assert_eq!(post(&gw, "/v1/embeddings", &tokens).await.status(), 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limit_with_retry_info_is_a_429_with_retry_after() {
    let (mock, gw) = setup().await;
    mock.set_fault_always(Some(Fault::Status {
        status: 429,
        headers: vec![],
        body: None,
    }));
    let resp = post(&gw, "/v1/chat/completions", &chat("gemini")).await;
    assert_eq!(resp.status(), 429);
    let retry = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    assert_eq!(retry.as_deref(), Some("3"));
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "rate_limit_error", "{v}");
    assert_eq!(v["error"]["code"], "RESOURCE_EXHAUSTED", "{v}");
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limit_falls_back_to_another_target() {
    let (mock, gw) = setup().await;
    mock.push_fault(Fault::Status {
        status: 429,
        headers: vec![],
        body: None,
    });
    let resp = post(&gw, "/v1/chat/completions", &chat("gemini-then-gpt")).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], MOCK_TEXT, "{v}");
    let paths: Vec<String> = mock.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        [
            "/v1beta/models/gemini-2.5-flash:generateContent",
            "/v1/chat/completions"
        ]
    );
    // The breaker honoured RetryInfo: the next request skips the Gemini target.
    let resp = post(&gw, "/v1/chat/completions", &chat("gemini-then-gpt")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(gemini_requests(&mock).len(), 1, "gemini target still open");
}

#[tokio::test(flavor = "multi_thread")]
async fn mid_stream_error_and_blocked_prompt() {
    let (_mock, gw) = setup().await;
    let body = json!({"model": "gemini", "stream": true,
        "messages": [{"role": "user", "content": "fail: boom"}]});
    let events = events_of(post(&gw, "/v1/chat/completions", &body).await).await;
    let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert_eq!(last["error"]["code"], "UNAVAILABLE", "{events:?}");
    assert!(!events.iter().any(|e| e == "[DONE]"));

    let body = json!({"model": "gemini", "messages": [{"role": "user", "content": "block: this"}]});
    let v: Value = post(&gw, "/v1/chat/completions", &body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["choices"][0]["finish_reason"], "content_filter", "{v}");
}

#[tokio::test(flavor = "multi_thread")]
async fn untranslatable_requests_are_400_before_the_upstream() {
    let (mock, gw) = setup().await;
    let body = json!({"model": "gemini", "messages": [{"role": "tool", "tool_call_id": "x", "content": "r"}]});
    let resp = post(&gw, "/v1/chat/completions", &body).await;
    assert_eq!(resp.status(), 400);
    let completions = json!({"model": "gemini", "prompt": "hi"});
    assert_eq!(
        post(&gw, "/v1/completions", &completions).await.status(),
        400
    );
    assert!(mock.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn official_openai_and_anthropic_sdks() {
    let (mock, gw) = setup().await;
    let base = gw.url("");
    let out = tokio::task::spawn_blocking(move || {
        python(
            "gemini_sdks.py",
            &[
                ("TOLLGATE_BASE_URL", base.trim_end_matches('/')),
                ("TOLLGATE_KEY", KEY_ALL),
                ("TOLLGATE_MOCK_TEXT", MOCK_TEXT),
            ],
        )
    })
    .await
    .unwrap();
    assert_python_ok(&out);
    let reqs = gemini_requests(&mock);
    assert!(reqs.len() >= 10, "upstream saw {} requests", reqs.len());
    assert_clean(&reqs);
}

/// The health probe is `GET /v1beta/models` with the Gemini key, and a failing probe takes the
/// target out of rotation.
#[tokio::test(flavor = "multi_thread")]
async fn health_check_probes_the_model_list_with_the_key() {
    let mock = start_mock().await;
    let up = start_mock().await;
    let yaml = CONFIG
        .replace(
            r#"api_key: "sk-upstream-test" }
  up:"#,
            r#"api_key: "sk-upstream-test", health_check: { interval: 100ms, timeout: 1s, healthy_threshold: 1, unhealthy_threshold: 1 } }
  up:"#,
        )
        .replace("{root}", mock.base_url().trim_end_matches("/v1"))
        .replace("{upstream}", &up.base_url());
    let gw = start_gateway(yaml).await;
    let healthy = |want: f64| {
        let gw = &gw;
        async move {
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
            loop {
                let r = client().get(gw.admin_url("/metrics")).send().await.unwrap();
                let text = r.text().await.unwrap();
                let got =
                    common::metric_sum(&text, "tollgate_provider_healthy", &[("provider", "gem")]);
                if got == want || tokio::time::Instant::now() >= deadline {
                    return got;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    };
    assert_eq!(healthy(1.0).await, 1.0);
    mock.set_fault_always(Some(Fault::Status {
        status: 503,
        headers: vec![],
        body: None,
    }));
    assert_eq!(healthy(0.0).await, 0.0);
    let v: Value = post(&gw, "/v1/chat/completions", &chat("gemini-then-gpt"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["model"], "gpt-4o-2024-08-06", "{v}");
    mock.set_fault_always(None);
    assert_eq!(healthy(1.0).await, 1.0);
    let probes = gemini_requests(&mock);
    assert!(!probes.is_empty());
    for p in &probes {
        assert_eq!(
            (p.method.as_str(), p.path.as_str()),
            ("GET", "/v1beta/models")
        );
    }
    assert_clean(&probes);
}
