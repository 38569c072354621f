//! The OpenAI-compatible front door, end to end: a real gateway process in front of the
//! in-process mock provider (and the built-in `demo` mock provider).

mod common;

use std::time::{Duration, Instant};

use common::{
    client, metric_sum, sse_data, standard_config, start_gateway, start_mock, stream_text, Gateway,
    RawConn, KEY_ALL, KEY_LIMITED, MOCK_TEXT, UPSTREAM_KEY,
};
use futures_util::StreamExt;
use serde_json::{json, Value};
use tollgate_mock_provider::{Fault, MockProvider, RecordedRequest};

async fn setup() -> (MockProvider, Gateway) {
    let mock = start_mock().await;
    let gw = start_gateway(standard_config(&mock.base_url())).await;
    (mock, gw)
}

fn auth(key: &str) -> String {
    format!("Bearer {key}")
}

/// POSTs JSON to the gateway with the all-models key.
async fn post(gw: &Gateway, path: &str, body: &Value) -> reqwest::Response {
    client()
        .post(gw.url(path))
        .header("authorization", auth(KEY_ALL))
        .json(body)
        .send()
        .await
        .expect("send")
}

async fn json_ok(resp: reqwest::Response) -> Value {
    let status = resp.status();
    let body = resp.text().await.expect("body");
    assert_eq!(status, 200, "body: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// Asserts an OpenAI-shaped error with this status and code; returns the parsed body.
async fn expect_error(resp: reqwest::Response, status: u16, code: &str) -> Value {
    let got = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = resp.text().await.expect("body");
    assert_eq!(got, status, "expected {status} {code}, body: {body}");
    assert!(
        ct.starts_with("application/json"),
        "error content-type {ct:?}, body: {body}"
    );
    let v: Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("error not JSON ({e}): {body}"));
    let e = &v["error"];
    assert!(
        e["message"].as_str().is_some_and(|m| !m.is_empty()),
        "error.message: {body}"
    );
    assert!(e["type"].is_string(), "error.type: {body}");
    assert!(
        e.as_object().is_some_and(|o| o.contains_key("param")),
        "error.param missing: {body}"
    );
    assert_eq!(e["code"], code, "error.code: {body}");
    v
}

/// The one upstream request of a test, checked for what every upstream request must be.
fn single_upstream_request(mock: &MockProvider) -> RecordedRequest {
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 1, "upstream requests: {reqs:#?}");
    let r = reqs.into_iter().next().unwrap();
    assert_upstream_clean(&r);
    r
}

/// Provider key sent, client key not, and the mock found nothing wrong.
fn assert_upstream_clean(r: &RecordedRequest) {
    assert!(r.problems.is_empty(), "mock rejected: {:?}", r.problems);
    assert_eq!(
        r.header("authorization"),
        Some(format!("Bearer {UPSTREAM_KEY}").as_str()),
        "upstream authorization"
    );
    assert_eq!(r.header("x-api-key"), None, "x-api-key leaked upstream");
    assert_eq!(r.header("api-key"), None, "api-key leaked upstream");
    for (k, v) in &r.headers {
        assert!(
            !v.contains(KEY_ALL) && !v.contains(KEY_LIMITED),
            "client key leaked upstream in header {k}: {v}"
        );
    }
}

/// Collects a streaming response chunk by chunk, bounded in time.
async fn collect_chunks(
    resp: reqwest::Response,
    limit: Duration,
) -> (Vec<Vec<u8>>, Option<String>) {
    let mut stream = resp.bytes_stream();
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Err(_) => panic!(
                "stream did not end within {limit:?}; received so far: {:?}",
                String::from_utf8_lossy(&chunks.concat())
            ),
            Ok(None) => return (chunks, None),
            Ok(Some(Ok(b))) => chunks.push(b.to_vec()),
            Ok(Some(Err(e))) => return (chunks, Some(e.to_string())),
        }
    }
}

fn chat_body(model: &str, content: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": content}]})
}

#[tokio::test(flavor = "multi_thread")]
async fn chat_non_stream_reaches_the_upstream_rewritten() {
    let (mock, gw) = setup().await;
    let body = json!({
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "echo: hello through the gateway"}],
        "temperature": 0.25,
        "seed": 42,
        "x_custom_field": {"nested": [1, "two", null, {"deep": true}]},
    });
    let v = json_ok(post(&gw, "/v1/chat/completions", &body).await).await;
    assert_eq!(v["object"], "chat.completion", "{v}");
    assert_eq!(v["choices"][0]["message"]["role"], "assistant", "{v}");
    assert_eq!(
        v["choices"][0]["message"]["content"], "hello through the gateway",
        "{v}"
    );
    assert_eq!(v["choices"][0]["finish_reason"], "stop", "{v}");
    // The mock's usage: prompt = 3 + 5 words, completion = 4 words.
    assert_eq!(v["usage"]["prompt_tokens"], 8, "{v}");
    assert_eq!(v["usage"]["completion_tokens"], 4, "{v}");
    assert_eq!(v["usage"]["total_tokens"], 12, "{v}");

    let r = single_upstream_request(&mock);
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/v1/chat/completions");
    let up = r.json();
    assert_eq!(
        up["model"], "gpt-4o-2024-08-06",
        "target model name upstream"
    );
    assert_eq!(up["messages"], body["messages"]);
    assert_eq!(up["temperature"], body["temperature"]);
    assert_eq!(up["seed"], body["seed"]);
    assert_eq!(
        up["x_custom_field"], body["x_custom_field"],
        "unknown fields must pass through untouched"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn chat_stream_is_chunked_sse_one_event_per_chunk() {
    let (mock, gw) = setup().await;
    let mut body = chat_body("gpt-4o", "Say something");
    body["stream"] = json!(true);
    let resp = post(&gw, "/v1/chat/completions", &body).await;
    assert_eq!(resp.status(), 200);
    let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("text/event-stream"), "content-type {ct}");
    assert_eq!(
        resp.headers()
            .get("transfer-encoding")
            .and_then(|v| v.to_str().ok()),
        Some("chunked"),
        "stream must be chunked: {:?}",
        resp.headers()
    );
    assert!(resp.headers().get("content-length").is_none());

    let (chunks, err) = collect_chunks(resp, Duration::from_secs(10)).await;
    assert!(err.is_none(), "stream error: {err:?}");
    let all = String::from_utf8(chunks.concat()).expect("utf-8 stream");
    let events = sse_data(&all);
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"), "{all}");
    assert_eq!(
        events.iter().filter(|e| e.as_str() == "[DONE]").count(),
        1,
        "{all}"
    );
    assert_eq!(stream_text(&events), MOCK_TEXT, "deltas in order: {all}");
    let finish: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str::<Value>(e).unwrap_or_else(|_| panic!("bad event {e}")))
        .filter(|v| !v["choices"][0]["finish_reason"].is_null())
        .collect();
    assert_eq!(finish.len(), 1, "one finish_reason chunk: {all}");
    assert_eq!(finish[0]["choices"][0]["finish_reason"], "stop");
    for v in events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str::<Value>(e).unwrap())
    {
        assert_eq!(v["object"], "chat.completion.chunk", "{v}");
    }
    // role chunk + 10 words + finish chunk + [DONE]
    assert_eq!(events.len(), 13, "{all}");
    // The mock writes each event on its own, paced: the gateway forwards what each read
    // completed at once, so every event travels in its own HTTP chunk (a chunk may be split
    // by the client's reads but never holds two events: nothing was held back).
    for c in &chunks {
        let s = String::from_utf8_lossy(c);
        assert!(
            s.matches("\n\n").count() <= 1,
            "several events coalesced into one chunk: {s:?}"
        );
    }
    assert!(chunks.len() >= events.len(), "{} chunks", chunks.len());

    let r = single_upstream_request(&mock);
    let up = r.json();
    assert_eq!(up["model"], "gpt-4o-2024-08-06");
    assert_eq!(up["stream"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn embeddings_through_upstream_and_demo() {
    let (mock, gw) = setup().await;
    let body = json!({"model": "text-embedding-3-small", "input": ["hello world", "bye"]});
    let v = json_ok(post(&gw, "/v1/embeddings", &body).await).await;
    assert_eq!(v["object"], "list", "{v}");
    let data = v["data"].as_array().expect("data");
    assert_eq!(data.len(), 2, "{v}");
    for (i, d) in data.iter().enumerate() {
        assert_eq!(d["object"], "embedding");
        assert_eq!(d["index"], i);
        assert_eq!(d["embedding"].as_array().map(Vec::len), Some(8), "{v}");
    }
    assert_eq!(v["usage"]["prompt_tokens"], 3, "{v}");
    let r = single_upstream_request(&mock);
    assert_eq!(r.path, "/v1/embeddings");
    assert_eq!(r.json()["model"], "text-embedding-3-small");
    assert_eq!(r.json()["input"], body["input"]);

    // The built-in mock provider embeds offline.
    let v = json_ok(
        post(
            &gw,
            "/v1/embeddings",
            &json!({"model": "demo", "input": "hi"}),
        )
        .await,
    )
    .await;
    assert_eq!(v["object"], "list", "{v}");
    let emb = v["data"][0]["embedding"].as_array().expect("embedding");
    assert!(!emb.is_empty() && emb.iter().all(Value::is_number), "{v}");
    assert_eq!(mock.requests().len(), 1, "demo must not call the upstream");
}

#[tokio::test(flavor = "multi_thread")]
async fn legacy_completions() {
    let (mock, gw) = setup().await;
    let body = json!({"model": "gpt-4o", "prompt": "echo: completed text", "max_tokens": 5});
    let v = json_ok(post(&gw, "/v1/completions", &body).await).await;
    assert_eq!(v["object"], "text_completion", "{v}");
    assert_eq!(v["choices"][0]["text"], "completed text", "{v}");
    let r = single_upstream_request(&mock);
    assert_eq!(r.path, "/v1/completions");
    assert_eq!(r.json()["model"], "gpt-4o-2024-08-06");
    assert_eq!(r.json()["prompt"], body["prompt"]);
    assert_eq!(r.json()["max_tokens"], 5);

    let mut body = body;
    body["stream"] = json!(true);
    let resp = post(&gw, "/v1/completions", &body).await;
    assert_eq!(resp.status(), 200);
    let all = resp.text().await.unwrap();
    let events = sse_data(&all);
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"), "{all}");
    let text: String = events
        .iter()
        .filter_map(|e| serde_json::from_str::<Value>(e).ok())
        .filter_map(|v| v["choices"][0]["text"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(text, "completed text", "{all}");
}

#[tokio::test(flavor = "multi_thread")]
async fn models_list_and_get() {
    let (mock, gw) = setup().await;
    let c = client();
    let resp = c
        .get(gw.url("/v1/models"))
        .header("authorization", auth(KEY_ALL))
        .send()
        .await
        .unwrap();
    let v = json_ok(resp).await;
    assert_eq!(v["object"], "list", "{v}");
    let mut ids: Vec<&str> = v["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|m| {
            assert_eq!(m["object"], "model", "{m}");
            assert_eq!(m["owned_by"], "tollgate", "{m}");
            assert!(m["created"].is_u64(), "{m}");
            m["id"].as_str().expect("id")
        })
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, ["dead", "demo", "gpt-4o", "text-embedding-3-small"]);

    let resp = c
        .get(gw.url("/v1/models/gpt-4o"))
        .header("authorization", auth(KEY_ALL))
        .send()
        .await
        .unwrap();
    let v = json_ok(resp).await;
    assert_eq!(v["id"], "gpt-4o", "{v}");
    assert_eq!(v["object"], "model", "{v}");
    assert_eq!(v["owned_by"], "tollgate", "{v}");

    let resp = c
        .get(gw.url("/v1/models/gpt-5-nope"))
        .header("authorization", auth(KEY_ALL))
        .send()
        .await
        .unwrap();
    expect_error(resp, 404, "model_not_found").await;
    assert!(
        mock.requests().is_empty(),
        "models are answered by the gateway"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn large_body_reaches_the_upstream_intact() {
    let (mock, gw) = setup().await;
    // 300 KiB of varied text, with characters JSON must escape and non-ASCII.
    let mut content = String::with_capacity(310 * 1024);
    let mut i = 0u64;
    while content.len() < 300 * 1024 {
        content.push_str(&format!("line {i} \"quoted\" tab\t é ü 漢字 \\ {{}}\n"));
        i += 1;
    }
    let body = json!({
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "You are a test."},
            {"role": "user", "content": content},
        ],
        "metadata_passthrough": {"k": "v"},
    });
    let sent = serde_json::to_vec(&body).unwrap();
    assert!(sent.len() > 300 * 1024);
    let resp = client()
        .post(gw.url("/v1/chat/completions"))
        .header("authorization", auth(KEY_ALL))
        .header("content-type", "application/json")
        .body(sent.clone())
        .send()
        .await
        .unwrap();
    let v = json_ok(resp).await;
    assert_eq!(v["choices"][0]["message"]["content"], MOCK_TEXT);

    let r = single_upstream_request(&mock);
    assert!(
        r.body.len() >= sent.len(),
        "upstream got {} bytes, client sent {}",
        r.body.len(),
        sent.len()
    );
    let up = r.json();
    assert_eq!(up["model"], "gpt-4o-2024-08-06");
    assert!(
        up["messages"] == body["messages"],
        "messages must arrive byte-for-byte (upstream body {} bytes)",
        r.body.len()
    );
    assert_eq!(up["metadata_passthrough"], body["metadata_passthrough"]);
    // The content string's JSON encoding is carried through unchanged.
    let encoded = serde_json::to_string(&content).unwrap();
    assert!(
        r.body
            .windows(encoded.len())
            .any(|w| w == encoded.as_bytes()),
        "the encoded user message is not in the upstream body verbatim"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn keep_alive_serves_many_requests_on_one_connection() {
    let (mock, gw) = setup().await;
    let addr = gw.listen.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = RawConn::connect(&addr);
        let key = format!("Bearer {KEY_ALL}");
        let hdrs = [
            ("Authorization", key.as_str()),
            ("Content-Type", "application/json"),
        ];
        let plain = serde_json::to_vec(&chat_body("gpt-4o", "hi")).unwrap();
        let demo_stream = serde_json::to_vec(&json!({
            "model": "demo", "stream": true,
            "messages": [{"role": "user", "content": "hi"}],
        }))
        .unwrap();
        let up_stream = serde_json::to_vec(&json!({
            "model": "gpt-4o", "stream": true,
            "messages": [{"role": "user", "content": "hi"}],
        }))
        .unwrap();
        let unknown = serde_json::to_vec(&chat_body("no-such-model", "hi")).unwrap();

        // (what, body, expected status, streamed)
        let steps: [(&str, &[u8], u16, bool); 5] = [
            ("upstream non-stream", &plain, 200, false),
            ("upstream stream", &up_stream, 200, true),
            ("demo stream", &demo_stream, 200, true),
            ("unknown model", &unknown, 404, false),
            ("upstream non-stream again", &plain, 200, false),
        ];
        for (what, body, status, streamed) in steps {
            conn.send("POST", "/v1/chat/completions", &hdrs, body);
            let resp = conn.read_response();
            assert_eq!(resp.status, status, "{what}: {}", resp.text());
            assert!(
                !resp
                    .header("connection")
                    .is_some_and(|c| c.eq_ignore_ascii_case("close")),
                "{what}: server asked to close the connection"
            );
            if streamed {
                assert!(!resp.chunks.is_empty(), "{what}: not chunked");
                let events = sse_data(&resp.text());
                assert_eq!(events.last().map(String::as_str), Some("[DONE]"), "{what}");
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(mock.requests().len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_errors() {
    let (mock, gw) = setup().await;
    let c = client();
    let body = chat_body("gpt-4o", "hi");
    let url = gw.url("/v1/chat/completions");

    let resp = c.post(&url).json(&body).send().await.unwrap();
    expect_error(resp, 401, "missing_api_key").await;

    let resp = c
        .post(&url)
        .header("authorization", "Bearer sk-wrong")
        .json(&body)
        .send()
        .await
        .unwrap();
    expect_error(resp, 401, "invalid_api_key").await;

    let resp = c
        .post(&url)
        .header("x-api-key", "sk-wrong")
        .json(&body)
        .send()
        .await
        .unwrap();
    expect_error(resp, 401, "invalid_api_key").await;

    let resp = c
        .post(&url)
        .header("authorization", auth(KEY_LIMITED))
        .json(&body)
        .send()
        .await
        .unwrap();
    expect_error(resp, 403, "model_not_allowed").await;

    // The limited key may use its model.
    let resp = c
        .post(&url)
        .header("authorization", auth(KEY_LIMITED))
        .json(&chat_body("demo", "hi"))
        .send()
        .await
        .unwrap();
    json_ok(resp).await;

    assert!(
        mock.requests().is_empty(),
        "rejected requests must not reach the upstream"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn request_errors() {
    let (mock, gw) = setup().await;
    let c = client();
    let url = gw.url("/v1/chat/completions");
    let send_raw = |body: &'static str| {
        c.post(&url)
            .header("authorization", auth(KEY_ALL))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };

    let v = expect_error(
        post(
            &gw,
            "/v1/chat/completions",
            &chat_body("gpt-9-unknown", "hi"),
        )
        .await,
        404,
        "model_not_found",
    )
    .await;
    assert_eq!(v["error"]["param"], "model");

    expect_error(
        send_raw("{\"model\": \"gpt-4o\", ").await.unwrap(),
        400,
        "invalid_json",
    )
    .await;
    expect_error(
        send_raw("not json at all").await.unwrap(),
        400,
        "invalid_json",
    )
    .await;

    let v = expect_error(
        send_raw(r#"{"messages":[{"role":"user","content":"hi"}]}"#)
            .await
            .unwrap(),
        400,
        "missing_required_parameter",
    )
    .await;
    assert_eq!(v["error"]["param"], "model");

    let v = expect_error(
        send_raw(r#"{"model":"gpt-4o"}"#).await.unwrap(),
        400,
        "missing_required_parameter",
    )
    .await;
    assert_eq!(v["error"]["param"], "messages");

    assert!(
        mock.requests().is_empty(),
        "rejected requests must not reach the upstream"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn body_over_the_limit_is_413() {
    let (mock, gw) = setup().await;
    // max_body_size is 1 MiB.
    let content = "a".repeat(1024 * 1024 + 4096);
    let resp = post(&gw, "/v1/chat/completions", &chat_body("gpt-4o", &content)).await;
    expect_error(resp, 413, "request_too_large").await;
    assert!(mock.requests().is_empty());

    // Just under the limit is fine.
    let content = "a".repeat(1024 * 1024 - 4096);
    json_ok(post(&gw, "/v1/chat/completions", &chat_body("gpt-4o", &content)).await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn method_and_path_errors() {
    let (mock, gw) = setup().await;
    let c = client();
    let resp = c
        .get(gw.url("/v1/chat/completions"))
        .header("authorization", auth(KEY_ALL))
        .send()
        .await
        .unwrap();
    expect_error(resp, 405, "method_not_allowed").await;

    let resp = c
        .delete(gw.url("/v1/embeddings"))
        .header("authorization", auth(KEY_ALL))
        .send()
        .await
        .unwrap();
    expect_error(resp, 405, "method_not_allowed").await;

    let resp = c
        .post(gw.url("/v1/no/such/thing"))
        .header("authorization", auth(KEY_ALL))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    expect_error(resp, 404, "not_found").await;

    let resp = c
        .get(gw.url("/nothing-here"))
        .header("authorization", auth(KEY_ALL))
        .send()
        .await
        .unwrap();
    expect_error(resp, 404, "not_found").await;
    assert!(mock.requests().is_empty());
}

fn assert_no_secrets(body: &str, mock: Option<&MockProvider>) {
    assert!(
        !body.contains(UPSTREAM_KEY),
        "provider key in error body: {body}"
    );
    assert!(
        !body.contains("127.0.0.1:1/"),
        "upstream address in error body: {body}"
    );
    assert!(
        !body.contains("127.0.0.1:1\""),
        "upstream address in error body: {body}"
    );
    if let Some(m) = mock {
        let addr = m.addr().to_string();
        assert!(
            !body.contains(&addr),
            "upstream address {addr} in error body: {body}"
        );
        let port = format!(":{}", m.addr().port());
        assert!(!body.contains(&port), "upstream port in error body: {body}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_upstream_is_502_within_the_connect_timeout() {
    let (_mock, gw) = setup().await;
    for stream in [false, true] {
        let mut body = chat_body("dead", "hi");
        body["stream"] = json!(stream);
        let t = Instant::now();
        let resp = post(&gw, "/v1/chat/completions", &body).await;
        let elapsed = t.elapsed();
        let v = expect_error(resp, 502, "upstream_unreachable").await;
        assert!(
            elapsed < Duration::from_secs(3),
            "502 took {elapsed:?} (connect timeout 1s)"
        );
        assert_no_secrets(&v.to_string(), None);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn silent_upstream_is_504_at_the_first_byte_timeout() {
    // Without retries: the timeout itself reaches the client (tests/resilience.rs covers the
    // fallback a retry gives).
    let mock = start_mock().await;
    let yaml = format!(
        "{}resilience: {{ retries: 0 }}\n",
        standard_config(&mock.base_url())
    );
    let gw = start_gateway(yaml).await;
    mock.push_fault(Fault::Hang);
    let t = Instant::now();
    let resp = post(&gw, "/v1/chat/completions", &chat_body("gpt-4o", "hi")).await;
    let elapsed = t.elapsed();
    let v = expect_error(resp, 504, "upstream_timeout").await;
    assert!(
        elapsed >= Duration::from_millis(1500) && elapsed < Duration::from_secs(6),
        "504 after {elapsed:?}, first_byte timeout is 2s"
    );
    assert_no_secrets(&v.to_string(), Some(&mock));

    // Streams too, and the gateway recovers afterwards.
    mock.push_fault(Fault::Hang);
    let mut body = chat_body("gpt-4o", "hi");
    body["stream"] = json!(true);
    let resp = post(&gw, "/v1/chat/completions", &body).await;
    expect_error(resp, 504, "upstream_timeout").await;

    let v = json_ok(post(&gw, "/v1/chat/completions", &chat_body("gpt-4o", "hi")).await).await;
    assert_eq!(v["choices"][0]["message"]["content"], MOCK_TEXT);
}

#[tokio::test(flavor = "multi_thread")]
async fn upstream_4xx_passes_through() {
    let (mock, gw) = setup().await;
    let cases = [
        (
            400u16,
            json!({"error": {"message": "Invalid value for 'temperature': 7 > 2.",
                "type": "invalid_request_error", "param": "temperature", "code": "invalid_value"}}),
            false,
        ),
        (
            404,
            json!({"error": {"message": "The model `gpt-4o-2024-08-06` does not exist.",
                "type": "invalid_request_error", "param": null, "code": "model_not_found"}}),
            false,
        ),
        (
            404,
            json!({"error": {"message": "stream variant", "type": "invalid_request_error",
                "param": null, "code": "model_not_found"}}),
            true,
        ),
    ];
    for (status, upstream_body, stream) in cases {
        mock.push_fault(Fault::Status {
            status,
            headers: vec![],
            body: Some(upstream_body.to_string()),
        });
        let mut body = chat_body("gpt-4o", "hi");
        body["stream"] = json!(stream);
        let resp = post(&gw, "/v1/chat/completions", &body).await;
        let got = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        assert_eq!(got, status, "stream={stream} body: {text}");
        let v: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
        assert_eq!(v, upstream_body, "upstream error body must pass through");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn mid_stream_upstream_disconnect_ends_the_stream_with_an_error_event() {
    let (mock, gw) = setup().await;
    // role chunk + "This" + " is", then the upstream connection is cut.
    mock.push_fault(Fault::DisconnectAfter { events: 3 });
    let mut body = chat_body("gpt-4o", "hi");
    body["stream"] = json!(true);
    let t = Instant::now();
    let resp = post(&gw, "/v1/chat/completions", &body).await;
    assert_eq!(resp.status(), 200);
    let (chunks, _err) = collect_chunks(resp, Duration::from_secs(10)).await;
    let elapsed = t.elapsed();
    let all = String::from_utf8_lossy(&chunks.concat()).into_owned();
    let events = sse_data(&all);
    assert!(
        stream_text(&events).starts_with("This is"),
        "events before the cut must be delivered: {all}"
    );
    assert!(
        !stream_text(&events).contains("mock"),
        "nothing after the cut: {all}"
    );
    let error_event = events
        .iter()
        .filter_map(|e| serde_json::from_str::<Value>(e).ok())
        .find(|v| v["error"].is_object());
    assert!(
        error_event.is_some(),
        "the client must get an error event: {all}"
    );
    assert_no_secrets(&all, Some(&mock));
    assert!(
        elapsed < Duration::from_secs(5),
        "the stream ended after {elapsed:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn api_key_header_variants() {
    let (mock, gw) = setup().await;
    let c = client();
    for header in ["x-api-key", "api-key"] {
        let resp = c
            .post(gw.url("/v1/chat/completions"))
            .header(header, KEY_ALL)
            .json(&chat_body("gpt-4o", "echo: via header"))
            .send()
            .await
            .unwrap();
        let v = json_ok(resp).await;
        assert_eq!(
            v["choices"][0]["message"]["content"], "via header",
            "{header}"
        );
    }
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 2);
    reqs.iter().for_each(assert_upstream_clean);
}

#[tokio::test(flavor = "multi_thread")]
async fn builtin_demo_provider_non_stream_and_stream() {
    let (mock, gw) = setup().await;
    let v = json_ok(
        post(
            &gw,
            "/v1/chat/completions",
            &chat_body("demo", "Hello demo"),
        )
        .await,
    )
    .await;
    assert_eq!(v["object"], "chat.completion", "{v}");
    let text = v["choices"][0]["message"]["content"]
        .as_str()
        .expect("content")
        .to_owned();
    assert!(!text.is_empty(), "{v}");
    assert!(v["choices"][0]["finish_reason"].is_string(), "{v}");
    let u = &v["usage"];
    let (p, c, t) = (
        u["prompt_tokens"].as_u64().expect("prompt_tokens"),
        u["completion_tokens"].as_u64().expect("completion_tokens"),
        u["total_tokens"].as_u64().expect("total_tokens"),
    );
    assert!(p > 0 && c > 0 && t == p + c, "usage {u}");

    let mut body = chat_body("demo", "Hello demo");
    body["stream"] = json!(true);
    let resp = post(&gw, "/v1/chat/completions", &body).await;
    assert_eq!(resp.status(), 200);
    let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("text/event-stream"), "content-type {ct}");
    let (chunks, err) = collect_chunks(resp, Duration::from_secs(10)).await;
    assert!(err.is_none(), "{err:?}");
    let all = String::from_utf8(chunks.concat()).unwrap();
    let events = sse_data(&all);
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"), "{all}");
    assert_eq!(
        stream_text(&events),
        text,
        "the same request streams the same deterministic text"
    );
    assert!(mock.requests().is_empty(), "demo never calls the upstream");
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_health_and_metrics_count_requests() {
    let (_mock, gw) = setup().await;
    let c = client();
    assert_eq!(
        c.get(gw.admin_url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        c.get(gw.admin_url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    for _ in 0..2 {
        json_ok(post(&gw, "/v1/chat/completions", &chat_body("gpt-4o", "hi")).await).await;
    }
    json_ok(post(&gw, "/v1/chat/completions", &chat_body("demo", "hi")).await).await;
    let resp = post(&gw, "/v1/chat/completions", &chat_body("dead", "hi")).await;
    expect_error(resp, 502, "upstream_unreachable").await;

    // Counters are updated when a request ends, which can be just after the client has the
    // response: poll (bounded).
    let deadline = Instant::now() + Duration::from_secs(5);
    let text = loop {
        let resp = c.get(gw.admin_url("/metrics")).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(ct.starts_with("text/plain"), "metrics content-type {ct}");
        let text = resp.text().await.unwrap();
        let requests =
            |labels: &[(&str, &str)]| metric_sum(&text, "tollgate_requests_total", labels);
        let done = requests(&[("model", "gpt-4o"), ("status", "200")]) >= 2.0
            && requests(&[("model", "demo"), ("status", "200")]) >= 1.0
            && requests(&[("model", "dead"), ("status", "502")]) >= 1.0
            && metric_sum(&text, "tollgate_request_duration_seconds_count", &[]) >= 4.0
            && metric_sum(&text, "tollgate_in_flight_requests", &[]) == 0.0;
        if done || Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    for name in [
        "tollgate_requests_total",
        "tollgate_request_duration_seconds",
        "tollgate_upstream_ttfb_seconds",
        "tollgate_gateway_overhead_seconds",
        "tollgate_in_flight_requests",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(name)),
            "metric {name} missing:\n{text}"
        );
    }
    let first = text
        .lines()
        .find(|l| l.starts_with("tollgate_requests_total{"))
        .expect("a tollgate_requests_total series");
    for label in ["route=", "model=", "provider=", "status="] {
        assert!(first.contains(label), "label {label} missing in {first}");
    }
    let count = |labels: &[(&str, &str)]| metric_sum(&text, "tollgate_requests_total", labels);
    assert_eq!(
        count(&[("model", "gpt-4o"), ("status", "200")]),
        2.0,
        "{text}"
    );
    assert_eq!(
        count(&[("model", "demo"), ("status", "200")]),
        1.0,
        "{text}"
    );
    assert_eq!(
        count(&[("model", "dead"), ("status", "502")]),
        1.0,
        "{text}"
    );
    assert!(
        metric_sum(&text, "tollgate_request_duration_seconds_count", &[]) >= 4.0,
        "{text}"
    );
    assert!(
        metric_sum(&text, "tollgate_upstream_ttfb_seconds_count", &[]) >= 2.0,
        "{text}"
    );
    assert_eq!(
        metric_sum(&text, "tollgate_in_flight_requests", &[]),
        0.0,
        "{text}"
    );
}
