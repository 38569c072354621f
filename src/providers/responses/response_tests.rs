use serde_json::{json, Value};

use super::*;
use crate::providers::responses::test_support::snapshot;

fn opts() -> ResponseOptions {
    ResponseOptions {
        model: "client-model".to_owned(),
        created_at: 1_741_569_952,
        echo: Echo::default(),
    }
}

fn decode(chat: Value) -> Value {
    let out = decode_chat_response(chat.to_string().as_bytes(), &opts()).unwrap();
    serde_json::from_slice(&out).unwrap()
}

#[test]
fn text_answer_reference() {
    let out = decode_chat_response(
        json!({"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o",
               "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello"},
                            "finish_reason": "stop"}],
               "usage": {"prompt_tokens": 12, "completion_tokens": 2, "total_tokens": 14,
                         "prompt_tokens_details": {"cached_tokens": 4},
                         "completion_tokens_details": {"reasoning_tokens": 1}}})
        .to_string()
        .as_bytes(),
        &opts(),
    )
    .unwrap();
    let v: Value = serde_json::from_slice(&out).unwrap();
    snapshot(
        "response_reference",
        &serde_json::to_string_pretty(&v).unwrap(),
    );
    assert_eq!(v["status"], "completed");
    assert_eq!(v["usage"]["input_tokens_details"]["cached_tokens"], 4);
    assert_eq!(v["usage"]["output_tokens_details"]["reasoning_tokens"], 1);
}

#[test]
fn tool_calls_become_function_call_items() {
    let v = decode(
        json!({"id": "c", "choices": [{"message": {"content": null, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}},
        {"id": "call_2", "type": "function", "function": {"name": "g", "arguments": "{}"}}
    ]}, "finish_reason": "tool_calls"}]}),
    );
    assert_eq!(v["status"], "completed");
    assert_eq!(
        v["output"],
        json!([
            {"type": "function_call", "id": "fc_call_1", "call_id": "call_1", "name": "f",
             "arguments": "{\"a\":1}", "status": "completed"},
            {"type": "function_call", "id": "fc_call_2", "call_id": "call_2", "name": "g",
             "arguments": "{}", "status": "completed"}
        ])
    );
    // No usage from the provider: zeros, never a missing object the SDKs would choke on.
    assert_eq!(v["usage"]["total_tokens"], 0);
}

#[test]
fn length_is_incomplete_and_refusals_are_parts() {
    let v = decode(
        json!({"id": "c", "choices": [{"message": {"content": "cut"},
                                                  "finish_reason": "length"}]}),
    );
    assert_eq!(v["status"], "incomplete");
    assert_eq!(
        v["incomplete_details"],
        json!({"reason": "max_output_tokens"})
    );
    assert_eq!(v["output"][0]["status"], "incomplete");
    let v = decode(
        json!({"id": "c", "choices": [{"message": {"content": null, "refusal": "no"},
                                                  "finish_reason": "stop"}]}),
    );
    assert_eq!(
        v["output"][0]["content"],
        json!([{"type": "refusal", "refusal": "no"}])
    );
    assert!(decode_chat_response(b"\"text\"", &opts()).is_err());
}
