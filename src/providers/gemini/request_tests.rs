use serde_json::{json, Value};

use super::*;
use crate::providers::gemini::ids;
use crate::providers::gemini::test_support::snapshot;

fn encode(v: Value) -> Value {
    serde_json::from_slice(&encode_request(&serde_json::to_vec(&v).unwrap()).unwrap()).unwrap()
}

fn encode_err(v: Value) -> TranslateError {
    encode_request(&serde_json::to_vec(&v).unwrap()).unwrap_err()
}

/// The full request example of providers.md §1.1, with a history answering a Gemini call.
#[test]
fn reference_request_snapshot() {
    let sig_id = ids::call_id(7, 0, 0, Some("CiQBEU0yD7pX+vs4w/Zq8A=="));
    let v = encode(json!({
      "model": "gpt-4o",
      "messages": [
        {"role": "developer", "content": "You are a terse assistant."},
        {"role": "system", "content": [{"type": "text", "text": "Answer in English."}]},
        {"role": "user", "name": "alice", "content": [
          {"type": "text", "text": "What is in this image, and what's the weather in Paris?"},
          {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "auto"}},
          {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo"}}
        ]},
        {"role": "assistant", "content": "Let me check.", "tool_calls": [
          {"id": sig_id, "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
          {"id": "call_b", "type": "function", "function": {"name": "get_time", "arguments": ""}}
        ]},
        {"role": "tool", "tool_call_id": sig_id, "content": "{\"temp_c\":18,\"sky\":\"clear\"}"},
        {"role": "tool", "tool_call_id": "call_b", "content": "12:00"},
        {"role": "user", "content": "Thanks. And tomorrow?"}
      ],
      "tools": [
        {"type": "function", "function": {"name": "get_weather", "description": "Get current weather for a city",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                         "required": ["city"], "additionalProperties": false}, "strict": true}},
        {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}}
      ],
      "tool_choice": "auto",
      "parallel_tool_calls": true,
      "response_format": {"type": "json_schema", "json_schema": {"name": "answer",
        "schema": {"type": "object", "properties": {"text": {"type": "string"}},
                   "required": ["text"], "additionalProperties": false}, "strict": true}},
      "max_completion_tokens": 512,
      "temperature": 0.2,
      "top_p": 1,
      "stop": ["\n\nUser:"],
      "n": 1,
      "seed": 42,
      "presence_penalty": 0.5,
      "stream": true,
      "stream_options": {"include_usage": true},
      "user": "user-1234"
    }));
    snapshot(
        "request_reference",
        &serde_json::to_string_pretty(&v).unwrap(),
    );
    // The spots the snapshot must never lose.
    assert_eq!(
        v["contents"][1]["parts"][1]["thoughtSignature"],
        "CiQBEU0yD7pX+vs4w/Zq8A=="
    );
    assert_eq!(
        v["contents"][2]["parts"][0]["functionResponse"]["name"],
        "get_weather"
    );
    assert_eq!(
        v["contents"][2]["parts"][1]["functionResponse"]["response"],
        json!({"result": "12:00"})
    );
    assert!(
        v.get("stream").is_none() && v.get("stream_options").is_none() && v.get("model").is_none()
    );
}

#[test]
fn system_developer_and_roles() {
    let v = encode(json!({"messages": [
        {"role": "system", "content": "A"},
        {"role": "user", "content": "hi"},
        {"role": "developer", "content": "B"},
        {"role": "user", "content": "again"},
        {"role": "assistant", "content": "yo"},
        {"role": "assistant", "content": ""},
        {"role": "assistant", "content": [{"type": "text", "text": "more"}, {"type": "refusal", "refusal": "no"}]}
    ]}));
    assert_eq!(
        v["systemInstruction"],
        json!({"parts": [{"text": "A\n\nB"}]})
    );
    assert_eq!(
        v["contents"],
        json!([
            {"role": "user", "parts": [{"text": "hi"}, {"text": "again"}]},
            {"role": "model", "parts": [{"text": "yo"}, {"text": "more"}]}
        ])
    );
    assert!(v.get("generationConfig").is_none());
    assert!(v.get("tools").is_none());
}

#[test]
fn tool_choice_modes() {
    let tools = json!([{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {"a": {"type": "string"}}}}}]);
    let with = |choice: Value| {
        encode(json!({"messages": [{"role": "user", "content": "x"}], "tools": tools, "tool_choice": choice}))["toolConfig"].clone()
    };
    assert_eq!(
        with(json!("auto")),
        json!({"functionCallingConfig": {"mode": "AUTO"}})
    );
    assert_eq!(
        with(json!("required")),
        json!({"functionCallingConfig": {"mode": "ANY"}})
    );
    assert_eq!(
        with(json!("none")),
        json!({"functionCallingConfig": {"mode": "NONE"}})
    );
    assert_eq!(
        with(json!({"type": "function", "function": {"name": "f"}})),
        json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["f"]}})
    );
    assert_eq!(with(Value::Null), Value::Null);
    let e = encode_err(
        json!({"messages": [{"role": "user", "content": "x"}], "tools": tools, "tool_choice": "sometimes"}),
    );
    assert_eq!(e, TranslateError::InvalidToolChoice("sometimes".into()));
    // No tools: a tool_choice alone means nothing to Gemini.
    let v = encode(json!({"messages": [{"role": "user", "content": "x"}], "tool_choice": "none"}));
    assert!(v.get("toolConfig").is_none());
}

#[test]
fn generation_config_and_json_modes() {
    let v = encode(json!({"messages": [{"role": "user", "content": "x"}],
        "max_tokens": 9, "stop": "END", "n": 2, "frequency_penalty": -1.5,
        "response_format": {"type": "json_object"}}));
    assert_eq!(
        v["generationConfig"],
        json!({"maxOutputTokens": 9, "stopSequences": ["END"], "candidateCount": 2,
               "frequencyPenalty": -1.5, "responseMimeType": "application/json"})
    );
    let v = encode(
        json!({"messages": [{"role": "user", "content": "x"}], "max_tokens": 9, "max_completion_tokens": 3}),
    );
    assert_eq!(v["generationConfig"]["maxOutputTokens"], 3);
    let e = encode_err(json!({"messages": [{"role": "user", "content": "x"}], "seed": "s"}));
    assert_eq!(e.status(), 400);
}

#[test]
fn untranslatable_requests_are_clear_400s() {
    let cases = [
        json!({"messages": [{"role": "system", "content": "only system"}]}),
        json!({"messages": [{"role": "tool", "tool_call_id": "ghost", "content": "x"}]}),
        json!({"messages": [{"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "[1]"}}]}]}),
        json!({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "ftp://x/y.png"}}]}]}),
        json!({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:text/plain;base64,AA"}}]}]}),
        json!({"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "", "format": "wav"}}]}]}),
        json!({"messages": [{"role": "function", "name": "f", "content": "x"}]}),
        json!({"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "custom", "custom": {"name": "c"}}]}),
        json!({"messages": "nope"}),
    ];
    for c in cases {
        let e = encode_err(c.clone());
        assert_eq!(e.status(), 400, "{c}: {e}");
    }
}

#[test]
fn images_map_to_inline_and_file_data() {
    let v = encode(json!({"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/webp;base64,UklGR"}},
        {"type": "image_url", "image_url": {"url": "gs://bucket/cat.JPG"}},
        {"type": "image_url", "image_url": {"url": "https://generativelanguage.googleapis.com/v1beta/files/abc"}}
    ]}]}));
    assert_eq!(
        v["contents"][0]["parts"],
        json!([
            {"inlineData": {"mimeType": "image/webp", "data": "UklGR"}},
            {"fileData": {"mimeType": "image/jpeg", "fileUri": "gs://bucket/cat.JPG"}},
            {"fileData": {"fileUri": "https://generativelanguage.googleapis.com/v1beta/files/abc"}}
        ])
    );
}

#[test]
fn no_argument_tools_have_no_parameters() {
    let v = encode(
        json!({"messages": [{"role": "user", "content": "x"}], "tools": [
            {"type": "function", "function": {"name": "a"}},
            {"type": "function", "function": {"name": "b", "parameters": {"type": "object", "properties": {}, "additionalProperties": false}}}
        ]}),
    );
    assert_eq!(
        v["tools"],
        json!([{"functionDeclarations": [{"name": "a"}, {"name": "b"}]}])
    );
}
