use serde_json::{json, Value};

use super::*;
use crate::providers::anthropic::test_support::snapshot;
use crate::providers::anthropic::TranslateError;

fn opts() -> ReverseEncodeOptions {
    ReverseEncodeOptions {
        model: "gpt-4o".into(),
        legacy_max_tokens: false,
        stream_usage: true,
    }
}

fn translate_with(req: Value, o: &ReverseEncodeOptions) -> Result<Value, TranslateError> {
    let body = serde_json::to_vec(&req).unwrap();
    encode_openai_request(&body, o).map(|b| serde_json::from_slice(&b).unwrap())
}

fn translate(req: Value) -> Result<Value, TranslateError> {
    translate_with(req, &opts())
}

/// The request example of providers.md §3.2, streamed, with a tool_result followed by text.
fn reference_request() -> Value {
    json!({
      "model": "claude-sonnet-4-5",
      "max_tokens": 1024,
      "system": [{"type": "text", "text": "You are a terse assistant."}],
      "messages": [
        {"role": "user", "content": [
          {"type": "text", "text": "What's in this image and what's the weather in Paris?"},
          {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo..."}}
        ]},
        {"role": "assistant", "content": [
          {"type": "thinking", "thinking": "hmm", "signature": "sig"},
          {"type": "text", "text": "Let me check."},
          {"type": "tool_use", "id": "toolu_01A", "name": "get_weather", "input": {"city": "Paris"}}
        ]},
        {"role": "user", "content": [
          {"type": "tool_result", "tool_use_id": "toolu_01A", "content": "{\"temp_c\":18}"},
          {"type": "text", "text": "And in Celsius only, please."}
        ]}
      ],
      "tools": [{"name": "get_weather", "description": "Get current weather",
                 "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}],
      "tool_choice": {"type": "auto", "disable_parallel_tool_use": true},
      "stop_sequences": ["\n\nHuman:"],
      "metadata": {"user_id": "user-1234"},
      "top_k": 5,
      "stream": true
    })
}

#[test]
fn reference_request_snapshot() {
    let out = translate(reference_request()).unwrap();
    snapshot(
        "reverse_request_reference",
        &serde_json::to_string_pretty(&out).unwrap(),
    );
    let roles: Vec<&str> = out["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["system", "user", "assistant", "tool", "user"]);
}

#[test]
fn target_quirks_are_options() {
    let o = ReverseEncodeOptions {
        legacy_max_tokens: true,
        stream_usage: false,
        ..opts()
    };
    let out = translate_with(reference_request(), &o).unwrap();
    assert_eq!(out["max_tokens"], 1024);
    assert!(out.get("max_completion_tokens").is_none());
    assert!(out.get("stream_options").is_none());
    assert_eq!(out["stream"], true);
}

#[test]
fn tool_choice_table() {
    let cases = [
        (json!({"type": "auto"}), json!("auto"), Value::Null),
        (json!({"type": "any"}), json!("required"), Value::Null),
        (json!({"type": "none"}), json!("none"), Value::Null),
        (
            json!({"type": "tool", "name": "f", "disable_parallel_tool_use": true}),
            json!({"type": "function", "function": {"name": "f"}}),
            json!(false),
        ),
    ];
    for (choice, want, parallel) in cases {
        let req = json!({"max_tokens": 5, "messages": [{"role": "user", "content": "x"}],
            "tools": [{"name": "f", "input_schema": {"type": "object"}}], "tool_choice": choice});
        let out = translate(req).unwrap();
        assert_eq!(out["tool_choice"], want, "{choice}");
        assert_eq!(
            out.get("parallel_tool_calls")
                .cloned()
                .unwrap_or(Value::Null),
            parallel
        );
    }
}

#[test]
fn structured_output_and_plain_strings() {
    let out = translate(json!({"max_tokens": 5, "system": "S", "messages": [
        {"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}],
        "output_config": {"format": {"type": "json_schema", "schema": {"type": "object"}}}}))
    .unwrap();
    assert_eq!(
        out["messages"],
        json!([
            {"role": "system", "content": "S"},
            {"role": "user", "content": [{"type": "text", "text": "hi"}]},
            {"role": "assistant", "content": "yo"}
        ])
    );
    assert_eq!(
        out["response_format"],
        json!({"type": "json_schema", "json_schema": {"name": "response", "schema": {"type": "object"}}})
    );
    assert!(out.get("stream").is_none());
}

#[test]
fn inexpressible_inputs_are_client_errors() {
    let msg = |content: Value| json!({"max_tokens": 5, "messages": [{"role": "user", "content": content}]});
    let cases = [
        (
            json!({"max_tokens": 5, "messages": [{"role": "user", "content": "x"}],
                "tools": [{"type": "web_search_20250305", "name": "web_search"}]}),
            TranslateError::Unsupported("Anthropic server tools"),
        ),
        (
            msg(
                json!([{"type": "tool_result", "tool_use_id": "t", "content": [
                {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}}]}]),
            ),
            TranslateError::Unsupported("non-text content in a tool_result"),
        ),
        (
            msg(json!([{"type": "document", "source": {"type": "text", "data": "d"}}])),
            TranslateError::UnsupportedPart { role: "user" },
        ),
        (
            json!({"max_tokens": 5, "messages": [{"role": "system", "content": "x"}]}),
            TranslateError::Invalid("Unknown role 'system'.".into()),
        ),
    ];
    for (req, want) in cases {
        assert_eq!(translate(req.clone()).unwrap_err(), want, "{req}");
    }
}

proptest::proptest! {
    /// A stand-in for a fuzz target until tests/fuzz exists: never panics, whatever the body.
    #[test]
    fn arbitrary_bodies_never_panic(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
        let _ = encode_openai_request(&body, &opts());
    }
}
