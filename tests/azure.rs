//! `kind: azure_openai` targets: classic deployment URLs with `api-version`, the v1 surface,
//! `api-key` and Entra-token auth, Azure's content-filter extras passed through untouched,
//! its errors and retry hints, and no internal Azure headers leaking to clients. The mock
//! provider's Azure routes validate every request (tests/mock-provider/src/compat.rs).

mod common;

use std::time::Duration;

use serde_json::{json, Value};
use tollgate_mock_provider::{Fault, MockProvider, RecordedRequest};

use common::{
    assert_python_ok, client, metric_sum, python, sse_data, start_gateway, start_mock, Gateway,
    KEY_ALL, MOCK_TEXT,
};

const CONFIG: &str = r#"listen: ["{listen}"]
admin: { listen: "{admin}" }
server: { threads: 2, grace_period: 10s, max_body_size: 1MiB }
timeouts: { connect: 1s, first_byte: 2s, idle: 2s, total: 20s }
providers:
  az:    { kind: azure_openai, base_url: "{root}", api_key: "sk-upstream-test" }
  az-v1: { kind: azure_openai, base_url: "{root}", api_key: "sk-upstream-test", api_version: v1 }
  entra: { kind: azure_openai, base_url: "{root}", bearer_token: "sk-upstream-test", api_version: 2025-04-01-preview }
  probed: { kind: azure_openai, base_url: "{root}", api_key: "sk-upstream-test", health_check: { interval: 200ms } }
  probed-v1: { kind: azure_openai, base_url: "{root}", api_key: "sk-upstream-test", v1: true, health_check: { interval: 200ms } }
models:
  gpt-4o: { targets: [ { provider: az, model: gpt-4o-prod } ] }
  gpt-v1: { targets: [ { provider: az-v1, model: gpt-4o-v1 } ] }
  gpt-entra: { targets: [ { provider: entra, model: gpt-4o-entra } ] }
  o3: { targets: [ { provider: az, model: o3-mini } ] }
  emb: { targets: [ { provider: az, model: text-embedding-3-small } ] }
  probed: { targets: [ { provider: probed }, { provider: probed-v1 } ] }
keys:
  - { name: all, key: sk-test-all }
"#;

async fn setup() -> (MockProvider, Gateway) {
    let mock = start_mock().await;
    let root = mock.base_url().trim_end_matches("/v1").to_owned();
    let gw = start_gateway(CONFIG.replace("{root}", &root)).await;
    (mock, gw)
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

fn chat(model: &str) -> Value {
    json!({"model": model, "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Say hi"},
    ]})
}

/// The requests that are not health probes.
fn requests(mock: &MockProvider) -> Vec<RecordedRequest> {
    mock.requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .collect()
}

fn only_request(mock: &MockProvider) -> RecordedRequest {
    let reqs = requests(mock);
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    let r = reqs.into_iter().next().unwrap();
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    r
}

fn assert_no_internal_headers(resp: &reqwest::Response) {
    for h in ["x-ms-region", "apim-request-id", "azureml-model-session"] {
        assert!(resp.headers().get(h).is_none(), "{h} leaked");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn classic_chat_uses_the_deployment_url_and_api_key() {
    let (mock, gw) = setup().await;
    let resp = post(&gw, "/v1/chat/completions", &chat("gpt-4o")).await;
    assert_eq!(resp.status(), 200);
    assert_no_internal_headers(&resp);
    assert_eq!(resp.headers()["x-ratelimit-remaining-requests"], "99");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], MOCK_TEXT);
    assert_eq!(v["model"], "gpt-4o-prod");
    // Azure's content-safety annotations reach the client untouched.
    assert_eq!(v["prompt_filter_results"][0]["prompt_index"], 0);
    assert_eq!(
        v["choices"][0]["content_filter_results"]["hate"]["severity"],
        "safe"
    );
    let r = only_request(&mock);
    assert_eq!(
        r.path,
        "/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21"
    );
    assert_eq!(r.header("api-key"), Some("sk-upstream-test"));
    assert_eq!(r.header("authorization"), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn v1_surface_has_no_api_version_and_entra_tokens_are_bearer() {
    let (mock, gw) = setup().await;
    let resp = post(&gw, "/v1/chat/completions", &chat("gpt-v1")).await;
    assert_eq!(resp.status(), 200);
    let r = only_request(&mock);
    assert_eq!(r.path, "/openai/v1/chat/completions");
    assert_eq!(r.json()["model"], "gpt-4o-v1");
    mock.clear_requests();

    let resp = post(&gw, "/v1/chat/completions", &chat("gpt-entra")).await;
    assert_eq!(resp.status(), 200);
    let r = only_request(&mock);
    assert_eq!(
        r.path,
        "/openai/deployments/gpt-4o-entra/chat/completions?api-version=2025-04-01-preview"
    );
    assert_eq!(r.header("authorization"), Some("Bearer sk-upstream-test"));
    assert_eq!(r.header("api-key"), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn stream_hides_the_injected_usage_and_keeps_the_prompt_filter_chunk() {
    let (mock, gw) = setup().await;
    let mut body = chat("gpt-4o");
    body["stream"] = json!(true);
    let resp = post(&gw, "/v1/chat/completions", &body).await;
    assert_eq!(resp.status(), 200);
    let events = sse_data(&resp.text().await.unwrap());
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    // Azure's leading prompt-filter chunk passes; the usage chunk we asked for does not.
    assert!(
        chunks[0]["prompt_filter_results"].is_array(),
        "{:?}",
        chunks[0]
    );
    assert!(
        chunks.iter().all(|c| c.get("usage").is_none()),
        "{chunks:?}"
    );
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, MOCK_TEXT);
    let r = only_request(&mock);
    assert_eq!(r.json()["stream_options"]["include_usage"], true);
    // Quotas and metrics got the provider's numbers.
    let labels = [
        ("model", "gpt-4o"),
        ("source", "provider"),
        ("type", "output"),
    ];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let m = client().get(gw.admin_url("/metrics")).send().await.unwrap();
        let got = metric_sum(&m.text().await.unwrap(), "tollgate_tokens_total", &labels);
        if got == 10.0 || tokio::time::Instant::now() >= deadline {
            assert_eq!(got, 10.0);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bodies_pass_byte_for_byte_unless_a_rule_applies() {
    let (mock, gw) = setup().await;
    let text = r#"{"model":"gpt-4o","max_tokens":5,"temperature":0.50,"messages":[{"role":"user","content":"Say hi"}]}"#;
    let send = |t: String| {
        client()
            .post(gw.url("/v1/chat/completions"))
            .bearer_auth(KEY_ALL)
            .header("content-type", "application/json")
            .body(t)
            .send()
    };
    assert_eq!(send(text.to_owned()).await.unwrap().status(), 200);
    let r = only_request(&mock);
    assert_eq!(
        std::str::from_utf8(&r.body).unwrap(),
        text.replace("\"gpt-4o\"", "\"gpt-4o-prod\"")
    );
    mock.clear_requests();
    // A reasoning deployment takes only max_completion_tokens.
    assert_eq!(
        send(text.replace("gpt-4o", "o3")).await.unwrap().status(),
        200
    );
    let r = only_request(&mock);
    assert_eq!(
        std::str::from_utf8(&r.body).unwrap(),
        r#"{"model":"o3-mini","max_completion_tokens":5,"temperature":0.50,"messages":[{"role":"user","content":"Say hi"}]}"#
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn embeddings_use_the_deployment_url() {
    let (mock, gw) = setup().await;
    let resp = post(
        &gw,
        "/v1/embeddings",
        &json!({"model": "emb", "input": ["a b", "c"]}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    let r = only_request(&mock);
    assert_eq!(
        r.path,
        "/openai/deployments/text-embedding-3-small/embeddings?api-version=2024-10-21"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn content_filter_errors_pass_through_without_retry() {
    let (mock, gw) = setup().await;
    let body = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "blocked: x"}]});
    let resp = post(&gw, "/v1/chat/completions", &body).await;
    assert_eq!(resp.status(), 400);
    assert_no_internal_headers(&resp);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "content_filter");
    assert_eq!(
        v["error"]["innererror"]["code"],
        "ResponsibleAIPolicyViolation"
    );
    assert_eq!(requests(&mock).len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn azure_retry_after_ms_reaches_clients_as_retry_after() {
    let (mock, gw) = setup().await;
    mock.set_fault_always(Some(Fault::Status {
        status: 429,
        headers: vec![
            ("x-ms-retry-after-ms".into(), "1500".into()),
            ("x-ms-region".into(), "East US".into()),
        ],
        body: None,
    }));
    let resp = post(&gw, "/v1/chat/completions", &chat("gpt-4o")).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "2");
    assert_eq!(resp.headers()["retry-after-ms"], "1500");
    assert!(resp.headers().get("x-ms-region").is_none());
    // The hint opened the breaker: the next request does not reach the provider.
    let before = requests(&mock).len();
    let resp = post(&gw, "/v1/chat/completions", &chat("gpt-4o")).await;
    assert_eq!(resp.status(), 503, "{:?}", resp.text().await);
    assert_eq!(requests(&mock).len(), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn health_checks_list_the_resource_models_with_the_key() {
    let (mock, _gw) = setup().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let probes = loop {
        let probes: Vec<RecordedRequest> = mock
            .requests()
            .into_iter()
            .filter(|r| r.method == "GET")
            .collect();
        let paths: Vec<&str> = probes.iter().map(|r| r.path.as_str()).collect();
        let both = paths.contains(&"/openai/models?api-version=2024-10-21")
            && paths.contains(&"/openai/v1/models");
        if both || tokio::time::Instant::now() >= deadline {
            break probes;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(probes.len() >= 2, "{probes:?}");
    for p in &probes {
        assert!(p.problems.is_empty(), "{} {:?}", p.path, p.problems);
        assert_eq!(p.header("api-key"), Some("sk-upstream-test"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn openai_and_anthropic_sdks_against_azure() {
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
                ("TOLLGATE_MODEL", "gpt-4o"),
                ("TOLLGATE_EMBED_MODEL", "emb"),
                ("TOLLGATE_MOCK_TEXT", MOCK_TEXT),
            ],
        )
    })
    .await
    .unwrap();
    assert_python_ok(&out);
    let reqs = requests(&mock);
    assert!(reqs.len() >= 8, "upstream saw {} requests", reqs.len());
    for r in &reqs {
        assert!(r.problems.is_empty(), "{} {:?}", r.path, r.problems);
        assert!(r.path.starts_with("/openai/deployments/"), "{}", r.path);
    }
}

/// The mock's Azure routes refuse what Azure refuses, so the tests above can fail.
#[tokio::test(flavor = "multi_thread")]
async fn mock_refuses_what_azure_refuses() {
    let mock = start_mock().await;
    let root = mock.base_url().trim_end_matches("/v1").to_owned();
    let body = chat("x");
    let send = |path: &str, key: Option<&str>| {
        let mut r = client().post(format!("{root}{path}")).json(&body);
        if let Some(k) = key {
            r = r.header("api-key", k);
        }
        r.send()
    };
    let ok = "/openai/deployments/d/chat/completions?api-version=2024-10-21";
    assert_eq!(
        send(ok, Some("sk-upstream-test")).await.unwrap().status(),
        200
    );
    let no_version = "/openai/deployments/d/chat/completions";
    let r = send(no_version, Some("sk-upstream-test")).await.unwrap();
    assert_eq!(r.status(), 404);
    let v1_with_version = "/openai/v1/chat/completions?api-version=2024-10-21";
    let r = send(v1_with_version, Some("sk-upstream-test"))
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = send(ok, None).await.unwrap();
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "401");
    let r = send(ok, Some("wrong")).await.unwrap();
    assert_eq!(r.status(), 401);
}

/// Claude-style clients on an Azure target: a Messages answer, with Azure's rate-limit
/// headers in Anthropic's naming and nothing internal.
#[tokio::test(flavor = "multi_thread")]
async fn messages_clients_get_anthropic_rate_limit_names() {
    let (_mock, gw) = setup().await;
    let resp = client()
        .post(gw.url("/v1/messages"))
        .header("x-api-key", KEY_ALL)
        .header("anthropic-version", "2023-06-01")
        .json(&json!({"model": "gpt-4o", "max_tokens": 50,
            "messages": [{"role": "user", "content": "echo: hi there"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_no_internal_headers(&resp);
    let h = resp.headers();
    assert_eq!(h["anthropic-ratelimit-requests-remaining"], "99");
    assert_eq!(h["anthropic-ratelimit-tokens-remaining"], "9000");
    assert!(h.get("x-ratelimit-remaining-requests").is_none());
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["type"], "message");
    assert_eq!(v["content"][0]["text"], "hi there");
}
