//! The OpenAI Responses front door (`POST /v1/responses`): passed through to an OpenAI-kind
//! target that serves the Responses API (the mock validates what it receives), translated to
//! chat for Anthropic-kind, built-in mock and preset-without-Responses targets, streamed and
//! not, with tools; refusals by name; metrics under the `responses` route; and the official
//! OpenAI Python SDK (`tests/python/openai_responses.py`) against both kinds.

mod common;

use serde_json::{json, Value};
use tollgate_mock_provider::{Fault, MockProvider, RecordedRequest};

use common::{
    assert_python_ok, client, metric_sum, python, start_gateway, start_mock, Gateway, KEY_ALL,
    MOCK_TEXT,
};

const CONFIG: &str = r#"listen: ["{listen}"]
admin: { listen: "{admin}" }
server: { threads: 2, grace_period: 10s, max_body_size: 1MiB }
timeouts: { connect: 1s, first_byte: 2s, idle: 2s, total: 20s }
providers:
  up:     { kind: openai, base_url: "{upstream}", api_key: "sk-upstream-test" }
  groq:   { kind: openai, preset: groq, base_url: "{upstream}", api_key: "sk-upstream-test" }
  claude: { kind: anthropic, base_url: "{anthropic}", api_key: "sk-upstream-test" }
  demo:   { kind: mock }
models:
  gpt: { targets: [ { provider: up, model: gpt-4o-2024-08-06 } ] }
  llama: { targets: [ { provider: groq, model: llama-3.3-70b } ] }
  claude: { targets: [ { provider: claude, model: claude-sonnet-4-5 } ] }
  demo: { targets: [ { provider: demo } ] }
keys:
  - { name: all, key: sk-test-all }
"#;

async fn setup() -> (MockProvider, Gateway) {
    let mock = start_mock().await;
    let yaml = CONFIG
        .replace("{anthropic}", mock.base_url().trim_end_matches("/v1"))
        .replace("{upstream}", &mock.base_url());
    let gw = start_gateway(yaml).await;
    (mock, gw)
}

async fn post_raw(gw: &Gateway, body: String) -> reqwest::Response {
    client()
        .post(gw.url("/v1/responses"))
        .bearer_auth(KEY_ALL)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn post(gw: &Gateway, body: &Value) -> reqwest::Response {
    post_raw(gw, body.to_string()).await
}

fn requests_to(mock: &MockProvider, path: &str) -> Vec<RecordedRequest> {
    mock.requests()
        .into_iter()
        .filter(|r| r.path == path)
        .collect()
}

/// (event name, data) of every SSE event.
fn events(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let mut name = String::new();
            let mut data = Value::Null;
            for line in e.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = n.to_owned();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data = serde_json::from_str(d).unwrap();
                }
            }
            (name, data)
        })
        .collect()
}

fn output_text(v: &Value) -> String {
    v["output"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["type"] == "message")
        .flat_map(|i| i["content"].as_array().cloned().unwrap_or_default())
        .filter_map(|p| p["text"].as_str().map(str::to_owned))
        .collect()
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
async fn passthrough_forwards_bytes_and_meters_the_responses_usage() {
    let (mock, gw) = setup().await;
    // Odd spacing, number formatting and unknown fields must reach OpenAI untouched.
    let body = r#"{"input": "echo: hello there",  "model" : "gpt", "temperature": 1.50,
        "tools": [{"type": "web_search"}], "x_unknown": {"a": [1, 2.0]}, "store": true}"#;
    let resp = post_raw(&gw, body.to_owned()).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "response", "{v}");
    assert_eq!(v["id"], "resp_mock1", "the provider's own answer: {v}");
    assert_eq!(output_text(&v), "hello there");

    let reqs = requests_to(&mock, "/v1/responses");
    assert_eq!(reqs.len(), 1);
    assert!(reqs[0].problems.is_empty(), "{:?}", reqs[0].problems);
    let want = body.replace(r#""gpt""#, r#""gpt-4o-2024-08-06""#);
    assert_eq!(std::str::from_utf8(&reqs[0].body).unwrap(), want);

    // (3 + 3 words) in, 2 words out, as the provider reported them.
    let labels = [("type", "input"), ("model", "gpt"), ("provider", "up")];
    assert_eq!(
        metric(&gw, "tollgate_tokens_total", &labels, 6.0).await,
        6.0
    );
    let labels = [("type", "output"), ("model", "gpt"), ("provider", "up")];
    assert_eq!(
        metric(&gw, "tollgate_tokens_total", &labels, 2.0).await,
        2.0
    );
    let labels = [("route", "responses"), ("model", "gpt"), ("status", "200")];
    assert_eq!(
        metric(&gw, "tollgate_requests_total", &labels, 1.0).await,
        1.0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn passthrough_stream_is_untouched_and_metered() {
    let (mock, gw) = setup().await;
    let body = json!({"model": "gpt", "input": "echo: one two three", "stream": true});
    let resp = post(&gw, &body).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let text = resp.text().await.unwrap();
    let evs = events(&text);
    assert_eq!(evs.first().unwrap().0, "response.created");
    assert_eq!(evs.last().unwrap().0, "response.completed");
    assert_eq!(evs.last().unwrap().1["response"]["id"], "resp_mock1");
    let reqs = requests_to(&mock, "/v1/responses");
    assert!(reqs[0].problems.is_empty(), "{:?}", reqs[0].problems);
    assert!(reqs[0].json().get("stream_options").is_none());
    let labels = [("type", "output"), ("model", "gpt"), ("provider", "up")];
    assert_eq!(
        metric(&gw, "tollgate_tokens_total", &labels, 3.0).await,
        3.0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn translated_to_anthropic_and_back() {
    let (mock, gw) = setup().await;
    let body = json!({"model": "claude", "instructions": "Be brief.", "input": "Say hi",
                      "max_output_tokens": 100, "metadata": {"k": "v"}});
    let resp = post(&gw, &body).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "response", "{v}");
    assert_eq!(v["status"], "completed", "{v}");
    assert_eq!(v["model"], "claude", "{v}");
    assert_eq!(v["metadata"], json!({"k": "v"}), "{v}");
    assert_eq!(v["max_output_tokens"], 100, "{v}");
    assert_eq!(output_text(&v), MOCK_TEXT);
    assert_eq!(v["usage"]["output_tokens"], 10, "{v}");
    assert_eq!(v["usage"]["input_tokens"], 10, "{v}");
    assert_eq!(v["usage"]["total_tokens"], 20, "{v}");

    let reqs = requests_to(&mock, "/v1/messages");
    assert_eq!(reqs.len(), 1);
    assert!(reqs[0].problems.is_empty(), "{:?}", reqs[0].problems);
    let up = reqs[0].json();
    assert_eq!(up["model"], "claude-sonnet-4-5");
    assert_eq!(up["system"], "Be brief.");
    assert_eq!(up["max_tokens"], 100);
    let labels = [
        ("route", "responses"),
        ("model", "claude"),
        ("status", "200"),
    ];
    assert_eq!(
        metric(&gw, "tollgate_requests_total", &labels, 1.0).await,
        1.0
    );
    let labels = [
        ("type", "output"),
        ("model", "claude"),
        ("provider", "claude"),
    ];
    assert_eq!(
        metric(&gw, "tollgate_tokens_total", &labels, 10.0).await,
        10.0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn translated_streams_from_every_kind() {
    let (mock, gw) = setup().await;
    for model in ["claude", "llama", "demo"] {
        let body = json!({"model": model, "input": "echo: alpha beta", "stream": true,
                          "max_output_tokens": 50});
        let resp = post(&gw, &body).await;
        assert_eq!(resp.status(), 200, "{model}");
        let text = resp.text().await.unwrap();
        let evs = events(&text);
        let names: Vec<&str> = evs.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            &names[..4],
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added"
            ],
            "{model}: {text}"
        );
        assert!(names.contains(&"response.output_text.delta"), "{model}");
        let tail = &names[names.len() - 4..];
        assert_eq!(
            tail,
            [
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.completed"
            ],
            "{model}: {text}"
        );
        for (i, (n, d)) in evs.iter().enumerate() {
            assert_eq!(d["type"], n.as_str());
            assert_eq!(d["sequence_number"], i as u64, "{model}");
        }
        let done = &evs.last().unwrap().1["response"];
        assert_eq!(done["model"], model);
        assert!(
            done["usage"]["output_tokens"].as_u64().unwrap() > 0,
            "{done}"
        );
        if model != "demo" {
            assert_eq!(output_text(done), "alpha beta", "{model}");
        }
    }
    // The preset without Responses got a chat request, not a Responses one.
    let chat = requests_to(&mock, "/v1/chat/completions");
    assert_eq!(chat.len(), 1);
    assert!(chat[0].problems.is_empty(), "{:?}", chat[0].problems);
    assert_eq!(chat[0].json()["model"], "llama-3.3-70b");
    assert!(requests_to(&mock, "/v1/responses").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_cut_mid_way_ends_with_a_well_formed_failure() {
    let (mock, gw) = setup().await;
    for model in ["claude", "llama", "gpt"] {
        mock.push_fault(Fault::DisconnectAfter { events: 3 });
        let body = json!({"model": model, "input": "echo: a b c d e f g h", "stream": true});
        let resp = post(&gw, &body).await;
        assert_eq!(resp.status(), 200, "{model}");
        let text = resp.text().await.unwrap();
        let evs = events(&text);
        assert_eq!(evs[0].0, "response.created", "{model}: {text}");
        let names: Vec<&str> = evs.iter().map(|(n, _)| n.as_str()).collect();
        assert!(!names.contains(&"response.completed"), "{model}: {text}");
        if model == "gpt" {
            // Passed through: the provider's events, then the gateway's `error` event.
            let (name, data) = evs.last().unwrap();
            assert_eq!(name, "error", "{text}");
            assert_eq!(data["type"], "error");
            assert!(data["message"].as_str().unwrap().contains("up"), "{data}");
        } else {
            assert_eq!(
                names[names.len() - 2..],
                ["error", "response.failed"],
                "{model}"
            );
            let failed = &evs.last().unwrap().1["response"];
            assert_eq!(failed["status"], "failed", "{model}");
            assert!(failed["error"]["message"].is_string(), "{model}: {failed}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn untranslatable_requests_are_400s_naming_the_field() {
    let (mock, gw) = setup().await;
    let cases = [
        (
            json!({"model": "claude", "input": "q", "tools": [{"type": "web_search"}]}),
            "tools",
        ),
        (
            json!({"model": "claude", "input": "q", "previous_response_id": "resp_1"}),
            "previous_response_id",
        ),
        (
            json!({"model": "demo", "input": "q", "store": true}),
            "store",
        ),
        (
            json!({"model": "llama", "input": [{"type": "item_reference", "id": "x"}]}),
            "input",
        ),
    ];
    for (body, param) in cases {
        let resp = post(&gw, &body).await;
        assert_eq!(resp.status(), 400, "{body}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["param"], param, "{v}");
        assert_eq!(v["error"]["type"], "invalid_request_error", "{v}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains(param),
            "{v}"
        );
    }
    let resp = post(
        &gw,
        &json!({"model": "claude", "input": "q", "frobnicate": 1}),
    )
    .await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("frobnicate"),
        "{v}"
    );
    // Nothing reached a provider; the same built-in tool passes through to OpenAI.
    assert!(mock.requests().is_empty());
    let body = json!({"model": "gpt", "input": "q", "tools": [{"type": "web_search"}]});
    assert_eq!(post(&gw, &body).await.status(), 200);
    // Gateway errors are OpenAI-shaped.
    let resp = post(&gw, &json!({"model": "nope", "input": "q"})).await;
    assert_eq!(resp.status(), 404);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "model_not_found");
}

#[tokio::test(flavor = "multi_thread")]
async fn openai_python_sdk_responses() {
    let (mock, gw) = setup().await;
    let base_url = gw.url("/v1");
    let out = tokio::task::spawn_blocking(move || {
        python(
            "openai_responses.py",
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
    let reqs = mock.requests();
    assert!(reqs.iter().any(|r| r.path == "/v1/responses"));
    assert!(reqs.iter().any(|r| r.path == "/v1/messages"));
    for r in &reqs {
        assert!(
            r.problems.is_empty(),
            "mock rejected {} {}: {:?}",
            r.method,
            r.path,
            r.problems
        );
    }
}
