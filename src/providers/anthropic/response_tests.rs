use serde_json::{json, Value};

use super::*;
use crate::providers::anthropic::test_support::snapshot;

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

/// The response example of providers.md §3.3, with cache and thinking counters filled in.
fn reference_response() -> Value {
    json!({
      "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF",
      "type": "message",
      "role": "assistant",
      "model": "claude-sonnet-4-5-20250929",
      "content": [
        {"type": "thinking", "thinking": "Need the weather tool.", "signature": "EqQB"},
        {"type": "text", "text": "Checking the weather."},
        {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "x"}},
        {"type": "tool_use", "id": "toolu_01B", "name": "get_time", "input": {}}
      ],
      "stop_reason": "tool_use",
      "stop_sequence": null,
      "usage": {
        "input_tokens": 472,
        "output_tokens": 89,
        "cache_creation_input_tokens": 100,
        "cache_read_input_tokens": 2048,
        "cache_creation": {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 0},
        "output_tokens_details": {"thinking_tokens": 12},
        "service_tier": "standard"
      }
    })
}

#[test]
fn reference_response_snapshot() {
    let out = decode(reference_response());
    snapshot(
        "response_reference",
        &serde_json::to_string_pretty(&out).unwrap(),
    );
}

#[test]
fn usage_counts_cache_tokens_into_the_prompt() {
    let out = decode(reference_response());
    assert_eq!(out["usage"]["prompt_tokens"], 472 + 100 + 2048);
    assert_eq!(out["usage"]["prompt_tokens_details"]["cached_tokens"], 2048);
    assert_eq!(out["usage"]["completion_tokens"], 89);
    assert_eq!(out["usage"]["total_tokens"], 472 + 100 + 2048 + 89);
    assert_eq!(
        out["usage"]["completion_tokens_details"]["reasoning_tokens"],
        12
    );
}

#[test]
fn text_only_answer_has_no_tool_calls_and_null_content_when_empty() {
    let out = decode(
        json!({"id": "msg_1", "model": "m", "content": [{"type": "text", "text": "Hi"}],
        "stop_reason": "end_turn", "usage": {"input_tokens": 1, "output_tokens": 2}}),
    );
    assert_eq!(out["choices"][0]["message"]["content"], "Hi");
    assert!(out["choices"][0]["message"].get("tool_calls").is_none());
    assert_eq!(out["choices"][0]["finish_reason"], "stop");
    let out =
        decode(json!({"id": "msg_2", "content": [], "stop_reason": "max_tokens", "usage": {}}));
    assert_eq!(out["choices"][0]["message"]["content"], Value::Null);
    assert_eq!(out["choices"][0]["finish_reason"], "length");
    assert_eq!(out["usage"]["total_tokens"], 0);
}

#[test]
fn model_override() {
    let o = DecodeOptions {
        model: Some("alias".into()),
        ..opts()
    };
    let body = serde_json::to_vec(&reference_response()).unwrap();
    let out: Value = serde_json::from_slice(&decode_response(&body, &o).unwrap()).unwrap();
    assert_eq!(out["model"], "alias");
}

#[test]
fn unreadable_answer_is_a_bad_gateway() {
    let e = decode_response(b"<html>", &opts()).unwrap_err();
    assert_eq!(e.status(), 502);
}

#[test]
fn finish_reason_table() {
    let cases = [
        (Some("end_turn"), "stop"),
        (Some("stop_sequence"), "stop"),
        (Some("pause_turn"), "stop"),
        (Some("max_tokens"), "length"),
        (Some("model_context_window_exceeded"), "length"),
        (Some("tool_use"), "tool_calls"),
        (Some("refusal"), "content_filter"),
        (Some("something_new"), "stop"),
        (None, "stop"),
    ];
    for (stop, want) in cases {
        assert_eq!(finish_reason(stop), want, "{stop:?}");
    }
}

#[test]
fn error_mapping_table() {
    let body = |t: &str| {
        format!(
            r#"{{"type":"error","error":{{"type":"{t}","message":"m {t}"}},"request_id":"req_1"}}"#
        )
    };
    // (provider status, type, client status, retryable)
    let cases = [
        (400, "invalid_request_error", 400, false),
        (401, "authentication_error", 401, false),
        (402, "billing_error", 402, false),
        (403, "permission_error", 403, false),
        (404, "not_found_error", 404, false),
        (413, "request_too_large", 413, false),
        (429, "rate_limit_error", 429, true),
        (500, "api_error", 500, true),
        (504, "timeout_error", 504, true),
        (529, "overloaded_error", 503, true),
    ];
    for (status, kind, want_status, want_retry) in cases {
        let e = decode_error(status, body(kind).as_bytes());
        assert_eq!(
            (e.status, e.retryable),
            (want_status, want_retry),
            "{status} {kind}"
        );
        assert_eq!(e.body.error.kind, kind);
        assert_eq!(e.body.error.message, format!("m {kind}"));
        // The same type without a status (mid-stream) maps the same way.
        let s = error_from_type(kind, "x");
        assert_eq!((s.status, s.retryable), (want_status, want_retry), "{kind}");
    }
}

#[test]
fn unreadable_error_bodies_still_give_an_openai_error() {
    let e = decode_error(529, b"upstream connect error");
    assert_eq!(e.status, 503);
    assert_eq!(e.body.error.kind, "overloaded_error");
    assert_eq!(
        serde_json::to_value(&e.body).unwrap(),
        json!({"error": {"message": "The provider answered with HTTP status 529.",
            "type": "overloaded_error", "param": null, "code": null}})
    );
    assert_eq!(error_from_type("brand_new_error", "x").status, 500);
}

proptest::proptest! {
    /// A stand-in for a fuzz target until tests/fuzz exists: never panics, whatever the body.
    #[test]
    fn arbitrary_bodies_never_panic(
        status in 100u16..600,
        body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256),
    ) {
        let _ = decode_response(&body, &opts());
        let e = decode_error(status, &body);
        proptest::prop_assert!(e.status >= 100 && e.status < 600 && e.status != 529);
    }
}
