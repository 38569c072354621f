use serde_json::{json, Value};

use super::*;
use crate::providers::anthropic::test_support::snapshot;

fn decode(v: Value) -> Value {
    let out = decode_openai_response(&serde_json::to_vec(&v).unwrap(), None).unwrap();
    serde_json::from_slice(&out).unwrap()
}

/// The response example of providers.md §1.2, with text and cached tokens added.
fn reference_completion() -> Value {
    json!({
      "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
      "object": "chat.completion",
      "created": 1741569952,
      "model": "gpt-4o-2024-08-06",
      "choices": [{
        "index": 0,
        "message": {
          "role": "assistant",
          "content": "Let me check.",
          "refusal": null,
          "annotations": [],
          "tool_calls": [
            {"id": "call_abc123", "type": "function",
             "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
            {"id": "call_bad", "type": "function",
             "function": {"name": "get_weather", "arguments": "{\"city\":"}}
          ]
        },
        "logprobs": null,
        "finish_reason": "stop"
      }],
      "usage": {
        "prompt_tokens": 82, "completion_tokens": 17, "total_tokens": 99,
        "prompt_tokens_details": {"cached_tokens": 64, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0}
      },
      "service_tier": "default",
      "system_fingerprint": "fp_50cad350e4"
    })
}

#[test]
fn reference_completion_snapshot() {
    let out = decode(reference_completion());
    snapshot(
        "reverse_response_reference",
        &serde_json::to_string_pretty(&out).unwrap(),
    );
    assert_eq!(out["stop_reason"], "tool_use", "decided by content");
    assert_eq!(
        out["usage"],
        json!({"input_tokens": 18, "output_tokens": 17, "cache_read_input_tokens": 64})
    );
    assert_eq!(out["content"][2]["input"], json!({"_raw": "{\"city\":"}));
}

#[test]
fn refusal_and_empty_answers() {
    let out = decode(json!({"id": "c", "model": "m", "choices": [{"message":
        {"content": null, "refusal": "I can't help with that."}, "finish_reason": "content_filter"}]}));
    assert_eq!(
        out["content"],
        json!([{"type": "text", "text": "I can't help with that."}])
    );
    assert_eq!(out["stop_reason"], "refusal");
    let out = decode(json!({"id": "c", "choices": []}));
    assert_eq!(out["content"], json!([]));
    assert_eq!(out["stop_reason"], "end_turn");
    assert_eq!(out["usage"], json!({"input_tokens": 0, "output_tokens": 0}));
}

#[test]
fn errors_keep_status_and_get_anthropic_types() {
    let body = br#"{"error":{"message":"Rate limit reached","type":"tokens","param":null,"code":"rate_limit_exceeded"}}"#;
    let (status, out) = decode_openai_error(429, body);
    assert_eq!(status, 429);
    assert_eq!(
        serde_json::to_value(&out).unwrap(),
        json!({"type": "error", "error": {"type": "rate_limit_error", "message": "Rate limit reached"}})
    );
    let cases = [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (500, "api_error"),
        (503, "overloaded_error"),
        (504, "timeout_error"),
    ];
    for (status, kind) in cases {
        let (s, out) = decode_openai_error(status, b"not json");
        assert_eq!((s, out.error.kind.as_str()), (status, kind));
    }
}

proptest::proptest! {
    /// A stand-in for a fuzz target until tests/fuzz exists: never panics, whatever the body.
    #[test]
    fn arbitrary_bodies_never_panic(
        status in 100u16..600,
        body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256),
    ) {
        let _ = decode_openai_response(&body, None);
        let _ = decode_openai_error(status, &body);
    }
}
