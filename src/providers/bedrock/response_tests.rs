use http::{HeaderMap, HeaderValue};
use serde_json::{json, Value};

use super::*;
use crate::providers::bedrock::test_support::snapshot;

fn opts() -> DecodeOptions {
    DecodeOptions {
        created: 1_741_569_952,
        model: Some("claude-on-bedrock".into()),
    }
}

fn decode(v: Value) -> Value {
    let body = serde_json::to_vec(&v).unwrap();
    serde_json::from_slice(&decode_response(&body, &opts(), "chatcmpl-x".into()).unwrap()).unwrap()
}

#[test]
fn reference_response_snapshot() {
    // providers.md §5.3, verbatim.
    let out = decode(json!({
      "output": {"message": {"role": "assistant", "content": [
        {"reasoningContent": {"reasoningText": {"text": "thinking", "signature": "sig-1"}}},
        {"text": "It is 18°C in Paris."},
        {"toolUse": {"toolUseId": "call-weather", "name": "weather", "input": {"city": "Paris"}}}
      ]}},
      "stopReason": "tool_use",
      "usage": {"inputTokens": 7, "outputTokens": 3, "totalTokens": 10,
                "cacheReadInputTokens": 2, "cacheWriteInputTokens": 1},
      "metrics": {"latencyMs": 42}
    }));
    snapshot(
        "response_reference",
        &serde_json::to_string_pretty(&out).unwrap(),
    );
    assert_eq!(out["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(
        out["choices"][0]["message"]["tool_calls"][0],
        json!({"id": "call-weather", "type": "function",
               "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}})
    );
    assert_eq!(
        out["usage"],
        json!({"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13,
               "prompt_tokens_details": {"cached_tokens": 2, "cache_write_tokens": 1}})
    );
}

#[test]
fn stop_reasons() {
    let cases = [
        (Some("end_turn"), "stop"),
        (Some("stop_sequence"), "stop"),
        (Some("max_tokens"), "length"),
        (Some("model_context_window_exceeded"), "length"),
        (Some("tool_use"), "tool_calls"),
        (Some("guardrail_intervened"), "content_filter"),
        (Some("content_filtered"), "content_filter"),
        (Some("malformed_tool_use"), "stop"),
        (Some("brand_new"), "stop"),
        (None, "stop"),
    ];
    for (reason, want) in cases {
        assert_eq!(finish_reason(reason), want, "{reason:?}");
    }
}

#[test]
fn a_text_answer_without_usage_or_model() {
    let body = br#"{"output":{"message":{"role":"assistant","content":[{"text":"Hi"},{"text":" there"}]}},"stopReason":"end_turn","metrics":{"latencyMs":1}}"#;
    let plain = DecodeOptions {
        created: 5,
        model: None,
    };
    let out: Value =
        serde_json::from_slice(&decode_response(body, &plain, "id-1".into()).unwrap()).unwrap();
    assert_eq!(out["choices"][0]["message"]["content"], "Hi there");
    assert_eq!(out["model"], "");
    assert_eq!(out["id"], "id-1");
    assert_eq!(out["usage"]["total_tokens"], 0);
    assert!(matches!(
        decode_response(b"{}", &plain, "x".into()),
        Err(TranslateError::InvalidResponse(_))
    ));
}

fn headers(errortype: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        "x-amzn-errortype",
        HeaderValue::from_str(errortype).unwrap(),
    );
    h
}

#[test]
fn errors_map_to_openai_shape_and_status() {
    let cases = [
        (
            "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/",
            400,
            429,
            true,
            "rate_limit_error",
        ),
        ("ModelNotReadyException", 429, 429, true, "rate_limit_error"),
        (
            "ServiceUnavailableException",
            503,
            503,
            true,
            "server_error",
        ),
        (
            "ValidationException",
            400,
            400,
            false,
            "invalid_request_error",
        ),
        ("AccessDeniedException", 403, 403, false, "permission_error"),
        (
            "ResourceNotFoundException",
            404,
            404,
            false,
            "invalid_request_error",
        ),
        ("ModelTimeoutException", 408, 408, true, "api_error"),
        ("ModelErrorException", 424, 424, false, "api_error"),
        ("InternalServerException", 500, 500, true, "server_error"),
        ("SomethingNew", 418, 418, false, "api_error"),
    ];
    for (name, http_status, status, retryable, kind) in cases {
        let e = decode_error(http_status, &headers(name), br#"{"message":"why"}"#);
        assert_eq!((e.status, e.retryable), (status, retryable), "{name}");
        assert_eq!(e.body.error.kind, kind, "{name}");
        assert_eq!(e.body.error.message, "why");
        assert_eq!(
            e.body.error.code.as_deref(),
            Some(name.split(':').next().unwrap())
        );
    }
}

#[test]
fn error_name_from_body_and_unreadable_bodies() {
    let e = decode_error(
        400,
        &HeaderMap::new(),
        br#"{"__type":"com.amazon.coral.validate#ValidationException","Message":"bad"}"#,
    );
    assert_eq!(e.body.error.code.as_deref(), Some("ValidationException"));
    assert_eq!(e.body.error.message, "bad");
    let e = decode_error(502, &HeaderMap::new(), b"<html>");
    assert_eq!((e.status, e.retryable), (502, true));
    assert_eq!(e.body.error.code, None);
    assert!(e.body.error.message.contains("502"));
}

#[test]
fn credential_errors_never_echo_the_provider_message() {
    // AWS puts the canonical request (with the session token) in this message.
    let leaky = br#"{"message":"The request signature we calculated does not match. The Canonical String for this request should have been 'POST\n/model\nx-amz-security-token:SECRET-TOKEN'"}"#;
    for name in [
        "InvalidSignatureException",
        "UnrecognizedClientException",
        "ExpiredTokenException",
    ] {
        let e = decode_error(403, &headers(name), leaky);
        assert_eq!(e.status, 403);
        assert!(!e.body.error.message.contains("SECRET"), "{name}");
        assert!(e.body.error.message.contains(name));
        assert!(!e.retryable);
    }
}

#[test]
fn stream_exceptions_use_the_same_table() {
    let e = error_from_exception("throttlingException", "slow down");
    assert_eq!((e.status, e.retryable), (429, true));
    assert_eq!(e.body.error.code.as_deref(), Some("ThrottlingException"));
    let e = error_from_exception("modelStreamErrorException", "boom");
    assert_eq!(e.status, 424);
    let e = error_from_exception("InternalFailure", "x");
    assert_eq!(e.status, 500);
    let e = error_from_exception("", "x");
    assert_eq!(e.status, 500);
}
