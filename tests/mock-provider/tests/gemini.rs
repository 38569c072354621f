//! The mock's Gemini endpoints: what it accepts, what it rejects (so the gateway's
//! translation is really checked), and its answers.

use std::net::SocketAddr;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tollgate_mock_provider::{Fault, MockProvider, Options};

const KEY: &str = "AIza-mock";

/// One request on a fresh connection (`connection: close`); status and body (de-chunked).
async fn send(addr: SocketAddr, path: &str, key: Option<&str>, body: &Value) -> (u16, String) {
    let body = body.to_string();
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    if let Some(k) = key {
        head.push_str(&format!("x-goog-api-key: {k}\r\n"));
    }
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("{head}\r\n{body}").as_bytes())
        .await
        .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap();
    let status = head[9..12].parse().unwrap();
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut out = String::new();
        let mut rest = rest;
        while let Some((size, tail)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap();
            if n == 0 {
                break;
            }
            out.push_str(&tail[..n]);
            rest = &tail[n + 2..];
        }
        out
    } else {
        rest.to_owned()
    };
    (status, body)
}

async fn mock() -> MockProvider {
    MockProvider::start(Options {
        api_key: Some(KEY.into()),
        ..Options::default()
    })
    .await
}

const GENERATE: &str = "/v1beta/models/gemini-x:generateContent";

#[tokio::test]
async fn answers_text_with_usage() {
    let m = mock().await;
    let body = json!({"systemInstruction": {"parts": [{"text": "Be brief."}]},
        "contents": [{"role": "user", "parts": [{"text": "echo: hi there"}]}]});
    let (status, out) = send(m.addr(), GENERATE, Some(KEY), &body).await;
    assert_eq!(status, 200, "{out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["candidates"][0]["content"]["parts"][0]["text"],
        "hi there"
    );
    assert_eq!(v["candidates"][0]["finishReason"], "STOP");
    assert_eq!(
        v["usageMetadata"],
        json!({"promptTokenCount": 5 + 6, "candidatesTokenCount": 2, "thoughtsTokenCount": 2, "totalTokenCount": 15})
    );
    assert!(m.requests()[0].problems.is_empty());
}

#[tokio::test]
async fn streams_and_function_calls() {
    let m = mock().await;
    let path = "/v1beta/models/gemini-x:streamGenerateContent?alt=sse";
    let body = json!({"contents": [{"role": "user", "parts": [{"text": "echo: a b"}]}]});
    let (status, out) = send(m.addr(), path, Some(KEY), &body).await;
    assert_eq!(status, 200);
    let events: Vec<&str> = out.split("\r\n\r\n").filter(|e| !e.is_empty()).collect();
    assert_eq!(events.len(), 2, "{out}");
    assert!(events[1].contains("\"finishReason\":\"STOP\""));
    let tools = json!([{"functionDeclarations": [{"name": "f"}, {"name": "g"}]}]);
    let body =
        json!({"tools": tools, "contents": [{"role": "user", "parts": [{"text": "call: x"}]}]});
    let (_, out) = send(m.addr(), GENERATE, Some(KEY), &body).await;
    let v: Value = serde_json::from_str(&out).unwrap();
    let parts = &v["candidates"][0]["content"]["parts"];
    assert_eq!(
        parts[1]["functionCall"],
        json!({"name": "g", "args": {"text": "x"}})
    );
}

#[tokio::test]
async fn rejects_what_gemini_rejects() {
    let m = mock().await;
    let body = json!({
        "model": "leaked",
        "contents": [
            {"role": "assistant", "parts": [{"text": "x"}]},
            {"role": "user", "parts": []},
            {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "g", "response": {}}}]},
            {"role": "user", "parts": [{"text": "a", "inlineData": {"mimeType": "image/png", "data": ""}}]}
        ],
        "generationConfig": {"maxOutputTokens": "9", "stream": true},
        "tools": [{"functionDeclarations": [{"name": "f", "parameters": {"type": "object", "properties": {}, "additionalProperties": false}}]}],
        "toolConfig": {"functionCallingConfig": {"mode": "AUTO", "allowedFunctionNames": ["nope"]}}
    });
    let (status, out) = send(m.addr(), GENERATE, Some(KEY), &body).await;
    assert_eq!(status, 400, "{out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["error"]["status"], "INVALID_ARGUMENT");
    let problems = &m.requests()[0].problems;
    for needle in [
        "Unknown name \"model\"",
        "contents[0].role",
        "contents[1].parts",
        "contents[3].parts[0].functionResponse.name",
        "contents[4].role: \"user\" repeats",
        "contents[4].parts[0]: exactly one data field",
        "generationConfig.maxOutputTokens",
        "generationConfig: Unknown name \"stream\"",
        "Unknown name \"additionalProperties\"",
        "should be non-empty for OBJECT type",
        "allowedFunctionNames: only with mode ANY",
        "allowedFunctionNames: \"nope\" is not declared",
    ] {
        assert!(
            problems.iter().any(|p| p.contains(needle)),
            "{needle} not in {problems:#?}"
        );
    }
}

#[tokio::test]
async fn auth_query_keys_alt_sse_and_faults() {
    let m = mock().await;
    let ok = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]});
    let (status, out) = send(m.addr(), GENERATE, Some("wrong"), &ok).await;
    assert_eq!(status, 400);
    assert!(out.contains("API_KEY_INVALID"), "{out}");
    let (status, _) = send(m.addr(), &format!("{GENERATE}?key={KEY}"), Some(KEY), &ok).await;
    assert_eq!(status, 400, "a key in the URL is refused");
    let (status, _) = send(
        m.addr(),
        "/v1beta/models/x:streamGenerateContent",
        Some(KEY),
        &ok,
    )
    .await;
    assert_eq!(status, 400, "streams need alt=sse");
    m.push_fault(Fault::Status {
        status: 429,
        headers: vec![],
        body: None,
    });
    let (status, out) = send(m.addr(), GENERATE, Some(KEY), &ok).await;
    assert_eq!(status, 429);
    assert!(
        out.contains("\"retryDelay\":\"3s\"") && out.contains("RESOURCE_EXHAUSTED"),
        "{out}"
    );
}

#[tokio::test]
async fn batch_embeddings() {
    let m = mock().await;
    let body = json!({"requests": [
        {"model": "models/emb", "content": {"parts": [{"text": "a"}]}, "outputDimensionality": 3},
        {"model": "models/emb", "content": {"parts": [{"text": "b"}]}}
    ]});
    let (status, out) = send(
        m.addr(),
        "/v1beta/models/emb:batchEmbedContents",
        Some(KEY),
        &body,
    )
    .await;
    assert_eq!(status, 200, "{out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["embeddings"][0]["values"].as_array().unwrap().len(), 3);
    assert_eq!(v["embeddings"][1]["values"].as_array().unwrap().len(), 8);
    let bad =
        json!({"requests": [{"model": "models/other", "content": {"parts": [{"text": "a"}]}}]});
    let (status, _) = send(
        m.addr(),
        "/v1beta/models/emb:batchEmbedContents",
        Some(KEY),
        &bad,
    )
    .await;
    assert_eq!(status, 400);
}
