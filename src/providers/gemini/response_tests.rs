use serde_json::{json, Value};

use super::*;
use crate::providers::gemini::test_support::snapshot;

fn opts() -> DecodeOptions {
    DecodeOptions {
        created: 1_741_569_952,
        model: None,
    }
}

fn decode(v: Value) -> Value {
    let out = decode_response(&serde_json::to_vec(&v).unwrap(), &opts()).unwrap();
    serde_json::from_slice(&out).unwrap()
}

/// The captured body of providers.md §4.3, with a text part, a thought and a cache count.
fn reference_response() -> Value {
    json!({
      "candidates": [{
        "content": {"role": "model", "parts": [
          {"text": "Thinking about files", "thought": true},
          {"text": "Listing first."},
          {"functionCall": {"name": "list_directory", "args": {"path": "/tmp"}}, "thoughtSignature": "CiQBEU0yD7pXvs4w"},
          {"functionCall": {"name": "read_file", "args": {"path": "/tmp/foo.txt"}}}
        ]},
        "finishReason": "STOP",
        "index": 0,
        "finishMessage": "Model generated function call(s)."
      }],
      "usageMetadata": {"promptTokenCount": 103, "candidatesTokenCount": 34, "totalTokenCount": 188, "cachedContentTokenCount": 64},
      "modelVersion": "gemini-2.5-flash",
      "responseId": "_V2BapveKcPg8QGa35aRCw"
    })
}

#[test]
fn reference_response_snapshot() {
    let out = decode(reference_response());
    snapshot(
        "response_reference",
        &serde_json::to_string_pretty(&out).unwrap(),
    );
    assert_eq!(out["id"], "chatcmpl-_V2BapveKcPg8QGa35aRCw");
    assert_eq!(out["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(out["choices"][0]["message"]["content"], "Listing first.");
    assert_eq!(
        out["choices"][0]["message"]["reasoning_content"],
        "Thinking about files"
    );
    let calls = out["choices"][0]["message"]["tool_calls"]
        .as_array()
        .unwrap();
    assert_eq!(calls.len(), 2);
    assert_ne!(calls[0]["id"], calls[1]["id"]);
    assert_eq!(
        calls[1]["function"]["arguments"],
        r#"{"path":"/tmp/foo.txt"}"#
    );
    assert_eq!(out["usage"]["prompt_tokens_details"]["cached_tokens"], 64);
    assert_eq!(out["usage"]["total_tokens"], 188);
    assert_eq!(
        out["usage"]["completion_tokens_details"]["reasoning_tokens"],
        51
    );
    // Same bytes, same ids: deterministic per response.
    assert_eq!(decode(reference_response()), out);
}

#[test]
fn finish_reason_table() {
    for (g, called, want) in [
        (Some("STOP"), false, "stop"),
        (Some("STOP"), true, "tool_calls"),
        (None, true, "tool_calls"),
        (Some("MAX_TOKENS"), true, "length"),
        (Some("SAFETY"), false, "content_filter"),
        (Some("RECITATION"), false, "content_filter"),
        (Some("PROHIBITED_CONTENT"), false, "content_filter"),
        (Some("SPII"), false, "content_filter"),
        (Some("IMAGE_SAFETY"), false, "content_filter"),
        (Some("MALFORMED_FUNCTION_CALL"), false, "stop"),
        (Some("OTHER"), false, "stop"),
        (Some("SOMETHING_NEW"), false, "stop"),
        (None, false, "stop"),
    ] {
        assert_eq!(finish_reason(g, called), want, "{g:?} {called}");
    }
}

#[test]
fn usage_with_thoughts_cache_and_tool_prompt() {
    let u = map_usage(&g::UsageMetadata {
        prompt_token_count: Some(55),
        candidates_token_count: Some(15),
        total_token_count: Some(115),
        thoughts_token_count: Some(45),
        cached_content_token_count: Some(32),
        tool_use_prompt_token_count: None,
    });
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.total_tokens),
        (55, 60, 115)
    );
    assert_eq!(u.prompt_tokens_details.cached_tokens, 32);
    assert_eq!(
        u.completion_tokens_details.map(|d| d.reasoning_tokens),
        Some(45)
    );
    // No thinking anywhere: no reasoning details.
    let u = map_usage(&g::UsageMetadata {
        prompt_token_count: Some(5),
        candidates_token_count: Some(7),
        total_token_count: Some(12),
        tool_use_prompt_token_count: Some(2),
        ..g::UsageMetadata::default()
    });
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.total_tokens),
        (7, 7, 14)
    );
    assert_eq!(u.completion_tokens_details, None);
}

#[test]
fn blocked_prompt_and_multiple_candidates() {
    let out = decode(
        json!({"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 4, "totalTokenCount": 4}}),
    );
    assert_eq!(out["choices"][0]["finish_reason"], "content_filter");
    assert_eq!(out["choices"][0]["message"]["content"], Value::Null);
    assert_eq!(out["usage"]["prompt_tokens"], 4);
    let out = decode(json!({"candidates": [
        {"content": {"parts": [{"text": "a"}]}, "finishReason": "STOP", "index": 0},
        {"content": {"parts": [{"functionCall": {"name": "f"}}]}, "finishReason": "STOP", "index": 1}
    ]}));
    assert_eq!(out["choices"][1]["index"], 1);
    assert_eq!(out["choices"][1]["finish_reason"], "tool_calls");
    assert_eq!(
        out["choices"][1]["message"]["tool_calls"][0]["function"]["arguments"],
        "{}"
    );
    assert_eq!(out["choices"][0]["message"]["content"], "a");
    assert!(decode_response(b"nope", &opts()).is_err());
}

#[test]
fn google_errors_become_openai_errors() {
    let body = br#"{"error": {"code": 429, "message": "You exceeded your current quota", "status": "RESOURCE_EXHAUSTED",
        "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "28s"}]}}"#;
    let e = decode_error(429, body);
    assert_eq!((e.status, e.retryable), (429, true));
    assert_eq!(e.body.error.kind, "rate_limit_error");
    assert_eq!(e.body.error.code.as_deref(), Some("RESOURCE_EXHAUSTED"));
    assert_eq!(e.body.error.message, "You exceeded your current quota");
    let e = decode_error(400, br#"[{"error": {"code": 400, "message": "API key not valid.", "status": "INVALID_ARGUMENT"}}]"#);
    assert_eq!(
        (e.status, e.retryable, e.body.error.kind.as_str()),
        (400, false, "invalid_request_error")
    );
    let e = decode_error(503, b"<html>oops</html>");
    assert_eq!(
        (e.status, e.retryable, e.body.error.kind.as_str()),
        (503, true, "server_error")
    );
    let e = decode_error(302, b"");
    assert_eq!(e.status, 502);
    // Mid-stream (no HTTP status): the body's code, else its canonical status, decides.
    let e = from_status(
        0,
        g::Status {
            code: None,
            message: String::new(),
            status: Some("UNAVAILABLE".into()),
        },
    );
    assert_eq!((e.status, e.retryable), (503, true));
    assert!(!e.body.error.message.is_empty());
}
