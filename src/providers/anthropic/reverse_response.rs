//! Non-stream answers for the Anthropic Messages front door: an OpenAI-style upstream's
//! `chat.completion` → an Anthropic `message`, and its error → an Anthropic error body.
//!
//! Owns: that mapping (providers.md §3.7, reverse finish table). Shares the stop-reason, usage
//! and error-type tables with reverse_stream.rs. Must not: do I/O.

use serde_json::{Map, Value};

use super::reverse_stream::{anthropic_type, anthropic_usage, stop_reason};
use super::wire::anthropic as a;
use super::wire::openai as o;
use super::TranslateError;

/// Parses an OpenAI `chat.completion` and writes the Anthropic message. `model` replaces the
/// upstream's model name when set.
pub fn decode_openai_response(body: &[u8], model: Option<&str>) -> Result<Vec<u8>, TranslateError> {
    let c: o::ChatCompletionIn =
        serde_json::from_slice(body).map_err(|e| TranslateError::InvalidResponse(e.to_string()))?;
    let out = to_messages_response(c, model);
    serde_json::to_vec(&out).map_err(|e| TranslateError::InvalidResponse(e.to_string()))
}

/// Translates a parsed `chat.completion` (choice 0; Anthropic has no `n`).
pub fn to_messages_response(c: o::ChatCompletionIn, model: Option<&str>) -> a::OutResponse {
    let choice = c.choices.into_iter().next();
    let finish = choice.as_ref().and_then(|ch| ch.finish_reason.clone());
    let msg = choice.map(|ch| ch.message).unwrap_or_default();
    let mut content = Vec::new();
    // A refusal is the model's answer text; Anthropic has no separate field for it.
    if let Some(text) = msg.content.or(msg.refusal).filter(|t| !t.is_empty()) {
        content.push(a::OutBlock::Text { text });
    }
    let calls = msg.tool_calls.unwrap_or_default();
    let called_tools = !calls.is_empty();
    for call in calls {
        content.push(a::OutBlock::ToolUse {
            id: call.id,
            name: call.function.name,
            input: tool_input(&call.function.arguments),
        });
    }
    a::OutResponse {
        id: c.id,
        kind: "message",
        role: "assistant",
        model: model.map_or(c.model, str::to_owned),
        content,
        stop_reason: stop_reason(finish.as_deref(), called_tools),
        stop_sequence: None,
        usage: c.usage.as_ref().map(anthropic_usage).unwrap_or_default(),
    }
}

/// The model's arguments as an object. Invalid JSON is kept under `_raw` rather than failing
/// an answer the model already gave (providers.md §8 item 8 leaves this to policy).
fn tool_input(args: &str) -> Map<String, Value> {
    if args.trim().is_empty() {
        return Map::new();
    }
    match serde_json::from_str::<Value>(args) {
        Ok(Value::Object(m)) => m,
        _ => Map::from_iter([("_raw".to_owned(), Value::String(args.to_owned()))]),
    }
}

/// An OpenAI-style error answer → status and Anthropic error body for a Messages client.
/// The status passes through (Anthropic clients know OpenAI's statuses too).
pub fn decode_openai_error(status: u16, body: &[u8]) -> (u16, a::OutErrorBody) {
    let message = serde_json::from_slice::<o::ErrorBodyIn>(body)
        .map(|b| b.error.message)
        .unwrap_or_else(|_| format!("The provider answered with HTTP status {status}."));
    let body = a::OutErrorBody {
        kind: "error",
        error: a::OutError {
            kind: anthropic_type(status).to_owned(),
            message,
        },
    };
    (status, body)
}

#[cfg(test)]
#[path = "reverse_response_tests.rs"]
mod tests;
