use serde_json::{json, Value};

use super::*;
use crate::providers::bedrock::test_support::snapshot;

fn translate(req: Value) -> Result<Value, TranslateError> {
    let body = serde_json::to_vec(&req).unwrap();
    encode_request(&body).map(|b| serde_json::from_slice(&b).unwrap())
}

fn chat(extra: Value) -> Value {
    let mut req = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]});
    for (k, v) in extra.as_object().unwrap() {
        req[k] = v.clone();
    }
    req
}

/// A conversation with every mapped feature (providers.md §1.1 request, §5.2 target shape).
fn reference_request() -> Value {
    json!({
      "model": "gpt-4o",
      "messages": [
        {"role": "developer", "content": "You are a terse assistant."},
        {"role": "system", "content": [{"type": "text", "text": "Answer in English."}]},
        {"role": "user", "name": "alice", "content": [
          {"type": "text", "text": "What is in this image, and what's the weather in Paris and Tokyo?"},
          {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg==", "detail": "auto"}}
        ]},
        {"role": "assistant", "content": "Let me check.", "tool_calls": [
          {"id": "tooluse_paris", "type": "function",
           "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
          {"id": "tooluse_tokyo", "type": "function",
           "function": {"name": "get_weather", "arguments": "{\"city\":\"Tokyo\"}"}}
        ]},
        {"role": "tool", "tool_call_id": "tooluse_paris", "content": "{\"temp_c\":18}"},
        {"role": "tool", "tool_call_id": "tooluse_tokyo", "content": "rainy, 12C"},
        {"role": "user", "content": "And tomorrow?"}
      ],
      "tools": [{
        "type": "function",
        "function": {
          "name": "get_weather",
          "description": "Get current weather for a city",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
        }
      }],
      "tool_choice": "auto",
      "parallel_tool_calls": true,
      "max_completion_tokens": 1024,
      "temperature": 0.2,
      "top_p": 0.9,
      "stop": ["END"],
      "stream": true,
      "stream_options": {"include_usage": true},
      "seed": 7,
      "user": "u-1"
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
fn roles_alternate_and_tool_results_lead_their_user_turn() {
    let out = translate(reference_request()).unwrap();
    let msgs = out["messages"].as_array().unwrap();
    let roles: Vec<&str> = msgs.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["user", "assistant", "user"]);
    assert_eq!(
        msgs[1]["content"],
        json!([
            {"text": "Let me check."},
            {"toolUse": {"toolUseId": "tooluse_paris", "name": "get_weather", "input": {"city": "Paris"}}},
            {"toolUse": {"toolUseId": "tooluse_tokyo", "name": "get_weather", "input": {"city": "Tokyo"}}}
        ])
    );
    assert_eq!(
        msgs[2]["content"],
        json!([
            {"toolResult": {"toolUseId": "tooluse_paris", "content": [{"json": {"temp_c": 18}}]}},
            {"toolResult": {"toolUseId": "tooluse_tokyo", "content": [{"text": "rainy, 12C"}]}},
            {"text": "And tomorrow?"}
        ])
    );
    assert_eq!(
        out["system"],
        json!([{"text": "You are a terse assistant."}, {"text": "Answer in English."}])
    );
    assert_eq!(
        msgs[0]["content"][1],
        json!({"image": {"format": "png", "source": {"bytes": "iVBORw0KGgoAAAANSUhEUg=="}}})
    );
    assert_eq!(
        out["inferenceConfig"],
        json!({"maxTokens": 1024, "temperature": 0.2, "topP": 0.9, "stopSequences": ["END"]})
    );
    assert_eq!(out["toolConfig"]["toolChoice"], json!({"auto": {}}));
    for k in ["model", "stream", "stream_options", "seed", "user"] {
        assert!(out.get(k).is_none(), "{k} leaked");
    }
}

#[test]
fn consecutive_user_messages_merge() {
    let out = translate(chat(json!({"messages": [
        {"role": "user", "content": "a"},
        {"role": "user", "content": [{"type": "text", "text": "b"}, {"type": "text", "text": ""}]},
        {"role": "assistant", "content": ""},
        {"role": "assistant", "content": "c"}
    ]})))
    .unwrap();
    assert_eq!(
        out["messages"],
        json!([
            {"role": "user", "content": [{"text": "a"}, {"text": "b"}]},
            {"role": "assistant", "content": [{"text": "c"}]}
        ])
    );
    assert!(out.get("system").is_none());
    assert!(out.get("inferenceConfig").is_none());
    assert!(out.get("toolConfig").is_none());
}

#[test]
fn tool_choice_mapping() {
    let tools = json!([{"type": "function", "function": {"name": "f"}}]);
    let with = |choice: Value| {
        translate(chat(json!({"tools": tools, "tool_choice": choice})))
            .map(|v| v["toolConfig"].clone())
    };
    assert_eq!(
        with(json!("required")).unwrap()["toolChoice"],
        json!({"any": {}})
    );
    assert_eq!(
        with(json!({"type": "function", "function": {"name": "f"}})).unwrap()["toolChoice"],
        json!({"tool": {"name": "f"}})
    );
    assert_eq!(
        with(json!("auto")).unwrap()["tools"][0]["toolSpec"],
        json!({"name": "f", "inputSchema": {"json": {"type": "object", "properties": {}}}})
    );
    // `none` without tool blocks in the history: no tools at all (Converse has no `none`).
    assert_eq!(with(json!("none")).unwrap(), Value::Null);
    assert!(matches!(
        with(json!("sometimes")),
        Err(TranslateError::InvalidToolChoice(_))
    ));
    // `none` with tool blocks in the history: the tools stay (Bedrock requires them), no choice.
    let out = translate(json!({
        "model": "m", "tools": tools, "tool_choice": "none",
        "messages": [
            {"role": "user", "content": "go"},
            {"role": "assistant", "tool_calls": [{"id": "t1", "type": "function", "function": {"name": "f", "arguments": ""}}]},
            {"role": "tool", "tool_call_id": "t1", "content": ""}
        ]
    }))
    .unwrap();
    assert_eq!(out["toolConfig"]["tools"][0]["toolSpec"]["name"], "f");
    assert!(out["toolConfig"].get("toolChoice").is_none());
    assert_eq!(
        out["messages"][1]["content"][0]["toolUse"]["input"],
        json!({})
    );
    assert_eq!(
        out["messages"][2]["content"][0]["toolResult"]["content"],
        json!([{"text": ""}])
    );
}

#[test]
fn images_need_base64_data_urls() {
    let img = |url: &str| {
        translate(chat(json!({"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": url}}
        ]}]})))
    };
    let e = img("https://example.com/cat.png").unwrap_err();
    assert_eq!(e.status(), 400);
    assert!(e.to_string().contains("data: URL"), "{e}");
    assert_eq!(
        img("data:image/png,raw").unwrap_err(),
        TranslateError::InvalidImage
    );
    assert_eq!(
        img("data:image/bmp;base64,AAAA").unwrap_err(),
        TranslateError::UnsupportedImageType("image/bmp".into())
    );
    let ok = img("data:image/jpeg;base64,/9j/").unwrap();
    assert_eq!(ok["messages"][0]["content"][0]["image"]["format"], "jpeg");
}

#[test]
fn refusals_of_untranslatable_requests() {
    assert!(matches!(
        translate(chat(json!({"n": 2}))),
        Err(TranslateError::Unsupported(_))
    ));
    assert!(matches!(
        translate(chat(
            json!({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}})
        )),
        Err(TranslateError::Unsupported(_))
    ));
    assert!(translate(chat(json!({"response_format": {"type": "json_object"}}))).is_ok());
    assert!(matches!(
        translate(json!({"model": "m", "messages": [{"role": "system", "content": "only"}]})),
        Err(TranslateError::Invalid(_))
    ));
    assert!(matches!(
        translate(json!({"model": "m", "messages": [
            {"role": "user", "content": "x"},
            {"role": "assistant", "tool_calls": [{"id": "t", "type": "function", "function": {"name": "f", "arguments": "[1]"}}]}
        ]})),
        Err(TranslateError::InvalidToolArguments { .. })
    ));
    assert!(matches!(
        encode_request(b"not json"),
        Err(TranslateError::InvalidJson(_))
    ));
    assert!(matches!(
        translate(chat(
            json!({"tools": [{"type": "custom", "custom": {"name": "x"}}]})
        )),
        Err(TranslateError::Unsupported(_))
    ));
}

#[test]
fn temperature_is_clamped_to_converse_range() {
    let out = translate(chat(json!({"temperature": 1.7, "top_p": 1}))).unwrap();
    assert_eq!(
        out["inferenceConfig"],
        json!({"temperature": 1.0, "topP": 1.0})
    );
}

#[test]
fn max_tokens_falls_back_and_stop_accepts_a_string() {
    let out = translate(chat(json!({"max_tokens": 50, "stop": "##"}))).unwrap();
    assert_eq!(
        out["inferenceConfig"],
        json!({"maxTokens": 50, "stopSequences": ["##"]})
    );
}
