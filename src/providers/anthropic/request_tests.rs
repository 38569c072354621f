use serde_json::{json, Value};

use super::*;
use crate::providers::anthropic::test_support::snapshot;
use crate::providers::anthropic::TranslateError;

fn opts() -> EncodeOptions {
    EncodeOptions {
        model: "claude-sonnet-4-5".into(),
        default_max_tokens: 4096,
    }
}

fn translate(req: Value) -> Result<Value, TranslateError> {
    let body = serde_json::to_vec(&req).unwrap();
    encode_request(&body, &opts()).map(|b| serde_json::from_slice(&b).unwrap())
}

fn chat(extra: Value) -> Value {
    let mut req = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]});
    for (k, v) in extra.as_object().unwrap() {
        req[k] = v.clone();
    }
    req
}

/// The full request example of providers.md §1.1.
fn reference_request() -> Value {
    json!({
      "model": "gpt-4o",
      "messages": [
        {"role": "developer", "content": "You are a terse assistant."},
        {"role": "system", "content": [{"type": "text", "text": "Answer in English."}]},
        {"role": "user", "name": "alice", "content": [
          {"type": "text", "text": "What is in this image, and what's the weather in Paris?"},
          {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "auto"}},
          {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg..."}}
        ]},
        {"role": "assistant", "content": null, "tool_calls": [
          {"id": "call_abc123", "type": "function",
           "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}
        ]},
        {"role": "tool", "tool_call_id": "call_abc123", "content": "{\"temp_c\":18,\"sky\":\"clear\"}"}
      ],
      "tools": [{
        "type": "function",
        "function": {
          "name": "get_weather",
          "description": "Get current weather for a city",
          "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": false
          },
          "strict": true
        }
      }],
      "tool_choice": "auto",
      "parallel_tool_calls": true,
      "response_format": {
        "type": "json_schema",
        "json_schema": {
          "name": "answer",
          "schema": {"type": "object", "properties": {"text": {"type": "string"}},
                     "required": ["text"], "additionalProperties": false},
          "strict": true
        }
      },
      "max_completion_tokens": 512,
      "temperature": 0.2,
      "top_p": 1,
      "stop": ["\n\nUser:"],
      "n": 1,
      "stream": true,
      "stream_options": {"include_usage": true},
      "user": "user-1234"
    })
}

#[test]
fn reference_request_snapshot() {
    let out = translate(reference_request()).unwrap();
    snapshot(
        "request_reference",
        &serde_json::to_string_pretty(&out).unwrap(),
    );
}

#[test]
fn dropped_fields_are_named() {
    let req: o::ChatRequest = serde_json::from_value(chat(json!({
        "seed": 1, "logprobs": true, "presence_penalty": 0.5, "stream_options": {"include_usage": true}
    })))
    .unwrap();
    let mut dropped = dropped_fields(&req);
    dropped.sort_unstable();
    assert_eq!(dropped, ["logprobs", "presence_penalty", "seed"]);
}

#[test]
fn consecutive_turns_merge_and_tool_results_lead_their_turn() {
    let out = translate(json!({"messages": [
        {"role": "user", "content": "a"},
        {"role": "user", "content": [{"type": "text", "text": "b"}]},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "t1", "type": "function", "function": {"name": "f", "arguments": ""}},
            {"id": "t2", "type": "function", "function": {"name": "g", "arguments": "{\"x\":1}"}}
        ]},
        {"role": "tool", "tool_call_id": "t1", "content": "r1"},
        {"role": "user", "content": "then this"},
        {"role": "tool", "tool_call_id": "t2", "content": [{"type": "text", "text": "r2"}]},
        {"role": "system", "content": "late system"}
    ]}))
    .unwrap();
    assert_eq!(out["system"], "late system");
    assert_eq!(
        out["messages"],
        json!([
            {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "t1", "name": "f", "input": {}},
                {"type": "tool_use", "id": "t2", "name": "g", "input": {"x": 1}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": "r1"},
                {"type": "tool_result", "tool_use_id": "t2", "content": [{"type": "text", "text": "r2"}]},
                {"type": "text", "text": "then this"}
            ]}
        ])
    );
}

#[test]
fn max_tokens_prefers_completion_tokens_then_default() {
    let get = |extra| translate(chat(extra)).unwrap()["max_tokens"].clone();
    assert_eq!(get(json!({})), 4096);
    assert_eq!(get(json!({"max_tokens": 100})), 100);
    assert_eq!(
        get(json!({"max_tokens": 100, "max_completion_tokens": 50})),
        50
    );
}

#[test]
fn sampling_stop_user_and_stream() {
    let out = translate(chat(json!({
        "temperature": 1.7, "top_p": 0.9, "stop": "END", "safety_identifier": "s-1", "user": "u-1",
        "stream": false
    })))
    .unwrap();
    assert_eq!(out["temperature"], 1.0, "clamped to Anthropic's range");
    assert!(out.get("top_p").is_none(), "temperature wins over top_p");
    assert_eq!(out["stop_sequences"], json!(["END"]));
    assert_eq!(out["metadata"], json!({"user_id": "s-1"}));
    assert!(out.get("stream").is_none());
    assert_eq!(out["model"], "claude-sonnet-4-5");
    let out = translate(chat(json!({"top_p": 0.9}))).unwrap();
    assert_eq!(out["top_p"], 0.9);
}

#[test]
fn tool_choice_table() {
    let tools = json!([{"type": "function", "function": {"name": "f"}}]);
    let cases = [
        (json!("auto"), None, json!({"type": "auto"})),
        (json!("required"), None, json!({"type": "any"})),
        (json!("none"), None, json!({"type": "none"})),
        (
            json!({"type": "function", "function": {"name": "f"}}),
            None,
            json!({"type": "tool", "name": "f"}),
        ),
        (
            json!("required"),
            Some(false),
            json!({"type": "any", "disable_parallel_tool_use": true}),
        ),
        (
            Value::Null,
            Some(false),
            json!({"type": "auto", "disable_parallel_tool_use": true}),
        ),
        (Value::Null, Some(true), Value::Null),
    ];
    for (choice, parallel, want) in cases {
        let mut extra = json!({"tools": tools});
        if !choice.is_null() {
            extra["tool_choice"] = choice.clone();
        }
        if let Some(p) = parallel {
            extra["parallel_tool_calls"] = json!(p);
        }
        let out = translate(chat(extra)).unwrap();
        let got = out.get("tool_choice").cloned().unwrap_or(Value::Null);
        assert_eq!(got, want, "{choice} parallel={parallel:?}");
        assert_eq!(
            out["tools"][0]["input_schema"],
            json!({"type": "object", "properties": {}})
        );
    }
}

#[test]
fn tool_choice_without_tools_is_dropped() {
    let out = translate(chat(json!({"tool_choice": "none", "tools": []}))).unwrap();
    assert!(out.get("tools").is_none() && out.get("tool_choice").is_none());
}

#[test]
fn response_formats() {
    let out = translate(chat(json!({"response_format": {"type": "json_object"}}))).unwrap();
    assert!(out.get("output_config").is_none());
    let out = translate(chat(json!({"response_format": {"type": "json_schema",
        "json_schema": {"name": "x", "schema": {"type": "object"}}}})))
    .unwrap();
    assert_eq!(
        out["output_config"],
        json!({"format": {"type": "json_schema", "schema": {"type": "object"}}})
    );
}

#[test]
fn inexpressible_inputs_are_client_errors() {
    let user = |content: Value| chat(json!({"messages": [{"role": "user", "content": content}]}));
    let img = |url: &str| user(json!([{"type": "image_url", "image_url": {"url": url}}]));
    let bad_args = chat(json!({"messages": [
        {"role": "user", "content": "x"},
        {"role": "assistant", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{oops"}}]}
    ]}));
    let cases: Vec<(Value, TranslateError)> = vec![
        (
            chat(json!({"n": 2})),
            TranslateError::Unsupported("'n' greater than 1"),
        ),
        (
            bad_args,
            TranslateError::InvalidToolArguments { id: "c1".into() },
        ),
        (
            img("data:image/bmp;base64,AAAA"),
            TranslateError::UnsupportedImageType("image/bmp".into()),
        ),
        (img("data:image/png,raw"), TranslateError::InvalidImage),
        (img("ftp://x/y.png"), TranslateError::InvalidImage),
        (
            user(json!([{"type": "input_audio", "input_audio": {"data": "", "format": "wav"}}])),
            TranslateError::UnsupportedPart { role: "user" },
        ),
        (
            chat(json!({"tools": [{"type": "custom", "custom": {"name": "c"}}]})),
            TranslateError::Unsupported("custom tools"),
        ),
        (
            chat(
                json!({"tools": [{"type": "function", "function": {"name": "f"}}],
                "tool_choice": "sometimes"}),
            ),
            TranslateError::InvalidToolChoice("sometimes".into()),
        ),
        (
            json!({"messages": [{"role": "system", "content": "only system"}]}),
            TranslateError::Invalid(
                "'messages' must contain at least one user or assistant message".into(),
            ),
        ),
    ];
    for (req, want) in cases {
        let got = translate(req.clone()).unwrap_err();
        assert_eq!(got, want, "{req}");
        assert_eq!(got.status(), 400);
    }
    assert!(matches!(
        encode_request(b"{\"messages\": 3}", &opts()),
        Err(TranslateError::InvalidJson(_))
    ));
}

proptest::proptest! {
    /// A stand-in for a fuzz target until tests/fuzz exists: never panics, whatever the body.
    #[test]
    fn arbitrary_bodies_never_panic(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
        let _ = encode_request(&body, &opts());
    }

    #[test]
    fn arbitrary_json_messages_never_panic(
        role in proptest::sample::select(vec!["system", "developer", "user", "assistant", "tool", "function", "x"]),
        content in proptest::sample::select(vec![json!("t"), json!(""), json!(null), json!([]),
            json!([{"type": "text", "text": ""}]), json!([{"type": "image_url", "image_url": {"url": "data:,"}}]),
            json!([{"type": "refusal", "refusal": "no"}]), json!(3)]),
        args in proptest::sample::select(vec!["", "{}", "[]", "{\"a\":", "null", "{\"a\":1}"]),
    ) {
        let req = json!({"messages": [
            {"role": role, "content": content, "tool_call_id": "t",
             "tool_calls": [{"id": "t", "type": "function", "function": {"name": "f", "arguments": args}}]},
            {"role": "tool", "tool_call_id": "t", "content": content},
        ]});
        let _ = translate(req);
    }
}

/// One OpenAI message from a small menu of shapes that stress the turn rules.
fn any_message() -> impl proptest::strategy::Strategy<Value = Value> {
    proptest::sample::select(vec![
        json!({"role": "system", "content": "s"}),
        json!({"role": "developer", "content": [{"type": "text", "text": "d"}]}),
        json!({"role": "user", "content": "u"}),
        json!({"role": "user", "content": ""}),
        json!({"role": "user", "content": [{"type": "text", "text": "p"},
            {"type": "image_url", "image_url": {"url": "https://x/i.png"}}]}),
        json!({"role": "assistant", "content": "a"}),
        json!({"role": "assistant", "content": null, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}),
        json!({"role": "assistant", "content": "", "tool_calls": [
            {"id": "c2", "type": "function", "function": {"name": "f", "arguments": ""}},
            {"id": "c3", "type": "function", "function": {"name": "g", "arguments": "{\"k\":[1]}"}}]}),
        json!({"role": "tool", "tool_call_id": "c1", "content": "r"}),
        json!({"role": "tool", "tool_call_id": "c2", "content": ""}),
    ])
}

proptest::proptest! {
    /// Whatever the conversation, the encoded request obeys Anthropic's turn rules: roles
    /// alternate, no turn or text block is empty, tool results lead their user turn.
    #[test]
    fn encoded_turns_obey_anthropic_rules(msgs in proptest::collection::vec(any_message(), 1..12)) {
        let Ok(out) = translate(json!({"messages": msgs})) else {
            return Ok(()); // only "no user or assistant message" can fail here
        };
        let turns = out["messages"].as_array().unwrap();
        proptest::prop_assert!(!turns.is_empty());
        for pair in turns.windows(2) {
            proptest::prop_assert_ne!(&pair[0]["role"], &pair[1]["role"]);
        }
        for t in turns {
            let blocks = t["content"].as_array().unwrap();
            proptest::prop_assert!(!blocks.is_empty());
            let results = blocks.iter().take_while(|b| b["type"] == "tool_result").count();
            proptest::prop_assert!(blocks[results..].iter().all(|b| b["type"] != "tool_result"));
            proptest::prop_assert!(blocks.iter().all(|b| b["type"] != "text" || b["text"] != ""));
            if t["role"] == "assistant" {
                proptest::prop_assert!(results == 0);
            }
        }
    }
}
