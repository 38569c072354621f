use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;
use crate::providers::responses::test_support::snapshot;

fn chat(body: Value) -> Value {
    let t = translate(
        body.to_string().as_bytes(),
        &ChatOptions {
            model: "m".to_owned(),
        },
    )
    .unwrap();
    serde_json::to_value(&t.chat).unwrap()
}

fn refused(body: Value) -> RequestError {
    translate(body.to_string().as_bytes(), &ChatOptions::default()).unwrap_err()
}

fn param(e: &RequestError) -> Option<&'static str> {
    match e {
        RequestError::Unsupported { param, .. } | RequestError::Invalid { param, .. } => {
            Some(param)
        }
        RequestError::Json(_) | RequestError::Unknown(_) => None,
    }
}

/// The reference request of providers.md §1.4.
const REFERENCE: &str = r#"{
  "model": "gpt-4.1",
  "instructions": "You are terse.",
  "input": [
    {"role": "user", "content": [
      {"type": "input_text", "text": "What's the weather in Paris?"},
      {"type": "input_image", "image_url": "https://example.com/paris.jpg", "detail": "auto"}
    ]},
    {"type": "function_call", "call_id": "call_abc", "name": "get_weather", "arguments": "{\"city\":\"Paris\"}"},
    {"type": "function_call_output", "call_id": "call_abc", "output": "{\"temp_c\":18}"}
  ],
  "tools": [{"type": "function", "name": "get_weather", "description": "Get weather",
             "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                            "required": ["city"], "additionalProperties": false},
             "strict": true}],
  "tool_choice": "auto",
  "text": {"format": {"type": "json_schema", "name": "answer", "strict": true,
           "schema": {"type": "object", "properties": {"text": {"type": "string"}},
                      "required": ["text"], "additionalProperties": false}}},
  "max_output_tokens": 512,
  "temperature": 0.2,
  "store": false,
  "stream": true
}"#;

#[test]
fn reference_request() {
    let t = translate(
        REFERENCE.as_bytes(),
        &ChatOptions {
            model: "gpt-4.1".to_owned(),
        },
    )
    .unwrap();
    let chat = serde_json::to_string_pretty(&t.chat).unwrap();
    snapshot("request_reference", &chat);
    let echo = serde_json::to_value(&t.echo).unwrap();
    assert_eq!(echo["instructions"], "You are terse.");
    assert_eq!(echo["max_output_tokens"], 512);
    assert_eq!(echo["tools"][0]["name"], "get_weather");
    assert_eq!(echo["text"]["format"]["name"], "answer");
    assert_eq!(echo["store"], false);
}

#[test]
fn string_input_is_one_user_message() {
    let c = chat(json!({"model": "x", "input": "hi", "max_output_tokens": 9}));
    assert_eq!(c["messages"], json!([{"role": "user", "content": "hi"}]));
    assert_eq!(c["max_tokens"], 9);
    assert_eq!(c["model"], "m");
    assert!(c.get("stream").is_none());
}

#[test]
fn history_items_become_chat_turns() {
    let c = chat(json!({"model": "x", "input": [
        {"role": "developer", "content": "rules"},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "a"}]},
        {"type": "message", "role": "assistant", "id": "msg_1", "status": "completed",
         "content": [{"type": "output_text", "text": "b", "annotations": []}]},
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}", "id": "fc_1"},
        {"type": "function_call", "call_id": "c2", "name": "g", "arguments": "{\"x\":1}"},
        {"type": "function_call_output", "call_id": "c1", "output": "one"},
        {"type": "function_call_output", "call_id": "c2",
         "output": [{"type": "input_text", "text": "two"}]}
    ]}));
    assert_eq!(
        c["messages"],
        json!([
            {"role": "system", "content": "rules"},
            {"role": "user", "content": [{"type": "text", "text": "a"}]},
            {"role": "assistant", "content": "b", "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                {"id": "c2", "type": "function", "function": {"name": "g", "arguments": "{\"x\":1}"}}
            ]},
            {"role": "tool", "tool_call_id": "c1", "content": "one"},
            {"role": "tool", "tool_call_id": "c2", "content": "two"}
        ])
    );
}

#[test]
fn tools_choices_and_formats() {
    let c = chat(json!({"model": "x", "input": "q",
        "tools": [{"type": "function", "name": "f", "parameters": null, "strict": null}],
        "tool_choice": {"type": "function", "name": "f"},
        "parallel_tool_calls": false,
        "text": {"format": {"type": "json_object"}, "verbosity": "low"},
        "user": "u1", "safety_identifier": "s1", "metadata": {"k": "v"},
        "stream_options": {"include_obfuscation": false}, "include": [], "store": false,
        "truncation": "disabled", "previous_response_id": null}));
    assert_eq!(
        c["tools"],
        json!([{"type": "function", "function": {"name": "f"}}])
    );
    assert_eq!(
        c["tool_choice"],
        json!({"type": "function", "function": {"name": "f"}})
    );
    assert_eq!(c["parallel_tool_calls"], false);
    assert_eq!(c["response_format"], json!({"type": "json_object"}));
    assert_eq!(c["verbosity"], "low");
    assert_eq!(c["user"], "u1");
    assert_eq!(c["safety_identifier"], "s1");
    assert!(c.get("metadata").is_none(), "{c}");
    assert!(c.get("stream_options").is_none(), "{c}");
}

#[test]
fn what_chat_cannot_carry_is_refused_by_name() {
    let cases = [
        (
            json!({"model": "x", "input": "q", "tools": [{"type": "web_search"}]}),
            Some("tools"),
            "web_search",
        ),
        (
            json!({"model": "x", "input": "q", "previous_response_id": "resp_1"}),
            Some("previous_response_id"),
            "previous_response_id",
        ),
        (
            json!({"model": "x", "input": "q", "store": true}),
            Some("store"),
            "store",
        ),
        (
            json!({"model": "x", "input": "q", "background": true}),
            Some("background"),
            "background",
        ),
        (
            json!({"model": "x", "input": "q", "truncation": "auto"}),
            Some("truncation"),
            "truncation",
        ),
        (
            json!({"model": "x", "input": "q", "reasoning": {"effort": "low"}}),
            Some("reasoning"),
            "reasoning",
        ),
        (
            json!({"model": "x", "input": "q", "include": ["reasoning.encrypted_content"]}),
            Some("include"),
            "include",
        ),
        (
            json!({"model": "x", "input": "q", "tool_choice": {"type": "web_search_preview"}}),
            Some("tool_choice"),
            "web_search_preview",
        ),
        (
            json!({"model": "x", "input": [{"type": "reasoning", "id": "rs_1", "summary": []}]}),
            Some("input"),
            "input[0]",
        ),
        (
            json!({"model": "x", "input": [{"role": "user", "content": [
                {"type": "input_image", "file_id": "file_1", "detail": "auto"}]}]}),
            Some("input"),
            "file_id",
        ),
        (
            json!({"model": "x", "input": [{"role": "user", "content": [
                {"type": "input_file", "file_id": "file_1"}]}]}),
            Some("input"),
            "input_file",
        ),
        (
            json!({"model": "x", "input": [{"role": "tool", "content": "x"}]}),
            Some("input"),
            "input[0].role",
        ),
        (json!({"model": "x"}), Some("input"), "input"),
        (
            json!({"model": "x", "input": "q", "frobnicate": 1}),
            None,
            "frobnicate",
        ),
    ];
    for (body, want_param, mention) in cases {
        let e = refused(body.clone());
        assert_eq!(param(&e), want_param, "{body}: {e}");
        assert!(e.to_string().contains(mention), "{body}: {e}");
    }
    assert!(matches!(
        translate(b"{", &ChatOptions::default()),
        Err(RequestError::Json(_))
    ));
}

proptest! {
    /// The decoder never panics, and whatever it accepts serializes to a chat body with at
    /// least one message.
    #[test]
    fn decoder_is_total(body in prop::collection::vec(any::<u8>(), 0..256)) {
        if let Ok(t) = translate(&body, &ChatOptions::default()) {
            prop_assert!(!t.chat.messages.is_empty());
            prop_assert!(serde_json::to_vec(&t.chat).is_ok());
        }
    }

    #[test]
    fn structured_inputs_never_panic(
        items in prop::collection::vec(
            prop_oneof![
                Just(json!({"role": "user", "content": "a"})),
                Just(json!({"role": "assistant", "content": [{"type": "output_text", "text": "b"}]})),
                Just(json!({"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"})),
                Just(json!({"type": "function_call_output", "call_id": "c", "output": "o"})),
                Just(json!({"type": "function_call_output", "call_id": 3})),
                Just(json!({"role": "user", "content": [{"type": "input_image"}]})),
                Just(json!({"type": "mystery"})),
                Just(json!(null)),
            ],
            0..8,
        ),
    ) {
        let body = json!({"model": "x", "input": items}).to_string();
        let _ = translate(body.as_bytes(), &ChatOptions::default());
    }
}
