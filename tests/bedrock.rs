//! `kind: bedrock` targets behind the OpenAI and Anthropic front doors: the gateway translates
//! requests to Bedrock's Converse API, signs them with SigV4 (the mock verifies every signature
//! with its own implementation, and botocore re-checks the recorded ones), and translates the
//! JSON answers, errors and event-stream frames back.

mod common;

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{json, Value};
use tollgate_mock_provider::{BedrockAuth, Fault, MockProvider, Options, RecordedRequest};

use common::{
    assert_python_ok, client, python, sse_data, start_gateway, start_mock_with, stream_text,
    Gateway, KEY_ALL, MOCK_TEXT,
};

const ACCESS_KEY_ID: &str = "AKIDMOCKBEDROCK7";
const SECRET: &str = "mock/Secret+Access+KEY0123456789";
const TOKEN: &str = "mock-session-token-FwoGZXIvYXdzE";

const CONFIG: &str = r#"listen: ["{listen}"]
admin: { listen: "{admin}" }
server: { threads: 2, grace_period: 10s, max_body_size: 1MiB }
timeouts: { connect: 1s, first_byte: 2s, idle: 2s, total: 20s }
providers:
  aws:
    kind: bedrock
    region: us-east-1
    base_url: "{bedrock}"
    access_key_id: "{key_id}"
    secret_access_key: "{secret}"
    session_token: "{token}"
  up: { kind: openai, base_url: "{upstream}", api_key: "sk-upstream-test" }
models:
  nova: { targets: [ { provider: aws, model: "amazon.nova-pro-v1:0" } ] }
  nova-then-gpt:
    targets:
      - { provider: aws, model: "amazon.nova-pro-v1:0", priority: 0 }
      - { provider: up, model: gpt-4o-2024-08-06, priority: 1 }
keys:
  - { name: all, key: sk-test-all }
"#;

async fn mock() -> MockProvider {
    start_mock_with(Options {
        bedrock: Some(BedrockAuth {
            access_key_id: ACCESS_KEY_ID.into(),
            secret_access_key: SECRET.into(),
            session_token: Some(TOKEN.into()),
        }),
        ..Options::default()
    })
    .await
}

async fn setup_with_secret(secret: &str) -> (MockProvider, Gateway) {
    let mock = mock().await;
    let yaml = CONFIG
        .replace("{bedrock}", mock.base_url().trim_end_matches("/v1"))
        .replace("{upstream}", &mock.base_url())
        .replace("{key_id}", ACCESS_KEY_ID)
        .replace("{secret}", secret)
        .replace("{token}", TOKEN);
    let gw = start_gateway(yaml).await;
    (mock, gw)
}

async fn setup() -> (MockProvider, Gateway) {
    setup_with_secret(SECRET).await
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

fn converse_requests(mock: &MockProvider) -> Vec<RecordedRequest> {
    mock.requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/model/"))
        .collect()
}

fn chat(model: &str) -> Value {
    json!({"model": model, "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Say hi"},
    ]})
}

/// botocore re-signs every recorded request and must get the same Authorization.
async fn assert_botocore_agrees(reqs: &[RecordedRequest]) {
    use base64_like::encode;
    let input = json!({
        "region": "us-east-1",
        "access_key_id": ACCESS_KEY_ID,
        "secret_access_key": SECRET,
        "session_token": TOKEN,
        "requests": reqs.iter().map(|r| json!({
            "method": r.method, "url": r.path, "headers": r.headers, "body_b64": encode(&r.body),
        })).collect::<Vec<_>>(),
    })
    .to_string();
    let out = tokio::task::spawn_blocking(move || {
        python(
            "bedrock_sigv4.py",
            &[("TOLLGATE_SIGV4_INPUT", input.as_str())],
        )
    })
    .await
    .unwrap();
    assert_python_ok(&out);
}

/// Minimal standard base64 for handing bodies to Python.
mod base64_like {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    pub fn encode(bytes: &[u8]) -> String {
        let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn non_stream_chat_is_signed_and_translated_both_ways() {
    let (mock, gw) = setup().await;
    let resp = post(&gw, &chat("nova")).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion", "{v}");
    assert_eq!(v["choices"][0]["message"]["content"], MOCK_TEXT, "{v}");
    assert_eq!(v["choices"][0]["finish_reason"], "stop", "{v}");
    assert_eq!(v["usage"]["prompt_tokens"], 10, "{v}");
    assert_eq!(v["usage"]["completion_tokens"], 10, "{v}");
    assert!(
        v["id"].as_str().unwrap().starts_with("chatcmpl-bedrock-"),
        "{v}"
    );

    let reqs = converse_requests(&mock);
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert_eq!(r.path, "/model/amazon.nova-pro-v1%3A0/converse");
    assert_eq!(r.header("x-amz-security-token"), Some(TOKEN));
    assert!(r
        .header("authorization")
        .unwrap()
        .starts_with(&format!("AWS4-HMAC-SHA256 Credential={ACCESS_KEY_ID}/")));
    for (k, v) in &r.headers {
        assert!(!v.contains(KEY_ALL), "client key leaked in {k}");
        assert!(!v.contains(SECRET), "secret sent in {k}");
    }
    let up = r.json();
    assert_eq!(up["system"], json!([{"text": "Be brief."}]));
    assert_eq!(
        up["messages"],
        json!([{"role": "user", "content": [{"text": "Say hi"}]}])
    );
    assert!(up.get("model").is_none());
    assert_botocore_agrees(&reqs).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn stream_is_decoded_from_event_stream_frames() {
    let (mock, gw) = setup().await;
    let mut body = chat("nova");
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let resp = post(&gw, &body).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let mut stream = resp.bytes_stream();
    let mut text = Vec::new();
    while let Some(c) = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("stream ended in time")
    {
        text.extend_from_slice(&c.unwrap());
    }
    let events = sse_data(&String::from_utf8(text).unwrap());
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    assert_eq!(stream_text(&events), MOCK_TEXT);
    let usage: Value = serde_json::from_str(&events[events.len() - 2]).unwrap();
    assert_eq!(usage["usage"]["total_tokens"], 20, "{usage}");
    let reqs = converse_requests(&mock);
    assert_eq!(
        reqs[0].path,
        "/model/amazon.nova-pro-v1%3A0/converse-stream"
    );
    assert!(reqs[0].problems.is_empty(), "{:?}", reqs[0].problems);
    assert_eq!(
        reqs[0].header("accept"),
        Some("application/vnd.amazon.eventstream")
    );
    assert_botocore_agrees(&reqs).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_falls_back_and_the_last_failure_is_openai_shaped() {
    let (mock, gw) = setup().await;
    mock.push_fault(Fault::Status {
        status: 429,
        headers: vec![],
        body: None,
    });
    let resp = post(&gw, &chat("nova-then-gpt")).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["model"], "gpt-4o-2024-08-06", "{v}");

    // Bedrock alone, throttled once: retried on the same target.
    mock.clear_requests();
    mock.push_fault(Fault::Status {
        status: 429,
        headers: vec![],
        body: None,
    });
    let resp = post(&gw, &chat("nova")).await;
    assert_eq!(resp.status(), 200);
    let reqs = converse_requests(&mock);
    assert_eq!(reqs.len(), 2);
    // Each attempt is signed anew (the mock checked both signatures).
    assert!(reqs.iter().all(|r| r.problems.is_empty()));

    // Throttled on every attempt: the client gets the translated 429.
    mock.set_fault_always(Some(Fault::Status {
        status: 429,
        headers: vec![],
        body: None,
    }));
    let resp = post(&gw, &chat("nova")).await;
    mock.set_fault_always(None);
    assert_eq!(resp.status(), 429);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "rate_limit_error", "{v}");
    assert_eq!(v["error"]["code"], "ThrottlingException", "{v}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_signature_reaches_the_client_without_credentials() {
    let (mock, gw) = setup_with_secret("not-the-right-secret-key").await;
    let resp = post(&gw, &chat("nova")).await;
    assert_eq!(resp.status(), 403);
    let text = resp.text().await.unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["error"]["code"], "InvalidSignatureException", "{v}");
    for secret in [
        SECRET,
        "not-the-right-secret-key",
        TOKEN,
        ACCESS_KEY_ID,
        "Canonical",
    ] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    // The mock refused it by its own check.
    let reqs = converse_requests(&mock);
    assert_eq!(reqs[0].problems, ["SigV4: InvalidSignatureException"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_throttled_stream_ends_with_an_openai_error_event() {
    let (_mock, gw) = setup().await;
    let body = json!({"model": "nova", "stream": true,
                      "messages": [{"role": "user", "content": "fail: slow down"}]});
    let resp = post(&gw, &body).await;
    assert_eq!(resp.status(), 200);
    let events = sse_data(&resp.text().await.unwrap());
    let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert_eq!(last["error"]["code"], "ThrottlingException", "{last}");
    assert_eq!(last["error"]["message"], "slow down", "{last}");
    assert!(!events.iter().any(|e| e == "[DONE]"));
}

#[tokio::test(flavor = "multi_thread")]
async fn official_sdks() {
    let (mock, gw) = setup().await;
    let base_url = gw.url("");
    let out = tokio::task::spawn_blocking(move || {
        python(
            "bedrock_sdks.py",
            &[
                ("TOLLGATE_BASE_URL", base_url.trim_end_matches('/')),
                ("TOLLGATE_KEY", KEY_ALL),
            ],
        )
    })
    .await
    .unwrap();
    assert_python_ok(&out);
    let reqs = converse_requests(&mock);
    assert!(reqs.len() >= 10);
    for r in &reqs {
        assert!(r.problems.is_empty(), "{} {:?}", r.path, r.problems);
    }
    assert_botocore_agrees(&reqs).await;
}

/// Converse answers name no model: both front doors report the model the client asked for,
/// streamed or not (never an empty `model`).
#[tokio::test(flavor = "multi_thread")]
async fn the_requested_model_is_reported_on_both_front_doors() {
    let (_mock, gw) = setup().await;
    let v: Value = post(&gw, &chat("nova")).await.json().await.unwrap();
    assert_eq!(v["model"], "nova", "{v}");
    let mut body = chat("nova");
    body["stream"] = json!(true);
    let text = post(&gw, &body).await.text().await.unwrap();
    let chunks: Vec<Value> = sse_data(&text)
        .iter()
        .filter(|d| d.as_str() != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert!(!chunks.is_empty(), "{text}");
    assert!(chunks.iter().all(|c| c["model"] == "nova"), "{text}");

    let messages = |stream: bool| {
        client()
            .post(gw.url("/v1/messages"))
            .header("x-api-key", KEY_ALL)
            .header("anthropic-version", "2023-06-01")
            .json(&json!({"model": "nova", "max_tokens": 50, "stream": stream,
                          "messages": [{"role": "user", "content": "Say hi"}]}))
            .send()
    };
    let v: Value = messages(false).await.unwrap().json().await.unwrap();
    assert_eq!(v["model"], "nova", "{v}");
    let text = messages(true).await.unwrap().text().await.unwrap();
    let start: Value = serde_json::from_str(&sse_data(&text)[0]).unwrap();
    assert_eq!(start["type"], "message_start", "{text}");
    assert_eq!(start["message"]["model"], "nova", "{text}");
}
