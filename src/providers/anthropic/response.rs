//! Anthropic answers → OpenAI answers: the non-stream message → `chat.completion`, the
//! stop_reason → finish_reason table, usage mapping, and provider errors → OpenAI-shaped
//! errors with a client status (providers.md §3.3, §3.5, §3.7).
//!
//! Owns: those tables, shared with the stream translator. Must not: do I/O or read the clock
//! (`created` is passed in).

use super::wire::anthropic as a;
use super::wire::openai as o;
use super::TranslateError;
pub use crate::providers::translate::{DecodeOptions, ProviderError};

/// Parses and translates a 2xx non-stream body.
pub fn decode_response(body: &[u8], opts: &DecodeOptions) -> Result<Vec<u8>, TranslateError> {
    let msg: a::MessagesResponse =
        serde_json::from_slice(body).map_err(|e| TranslateError::InvalidResponse(e.to_string()))?;
    let out = to_chat_completion(msg, opts);
    serde_json::to_vec(&out).map_err(|e| TranslateError::InvalidResponse(e.to_string()))
}

/// Translates a parsed Anthropic message.
pub fn to_chat_completion(msg: a::MessagesResponse, opts: &DecodeOptions) -> o::ChatCompletion {
    let mut text: Option<String> = None;
    let mut thinking: Option<String> = None;
    let mut calls = Vec::new();
    for block in msg.content {
        match block {
            a::ResponseBlock::Text { text: t } => text.get_or_insert_with(String::new).push_str(&t),
            a::ResponseBlock::Thinking { thinking: t } => {
                thinking.get_or_insert_with(String::new).push_str(&t)
            }
            a::ResponseBlock::ToolUse { id, name, input } => calls.push(o::ToolCall {
                id,
                kind: "function".to_owned(),
                function: o::FunctionCall {
                    name,
                    arguments: tool_arguments(&input),
                },
            }),
            a::ResponseBlock::Other => {}
        }
    }
    o::ChatCompletion {
        id: msg.id,
        object: "chat.completion",
        created: opts.created,
        model: opts.model.clone().unwrap_or(msg.model),
        choices: vec![o::Choice {
            index: 0,
            message: o::AssistantMessage {
                role: "assistant",
                content: text,
                refusal: None,
                tool_calls: (!calls.is_empty()).then_some(calls),
                reasoning_content: thinking,
            },
            logprobs: None,
            finish_reason: finish_reason(msg.stop_reason.as_deref()),
        }],
        usage: map_usage(&msg.usage),
    }
}

/// `input` object → OpenAI's JSON-string `arguments` (a missing input is `{}`).
fn tool_arguments(input: &serde_json::Value) -> String {
    if input.is_null() {
        return "{}".to_owned();
    }
    input.to_string()
}

/// stop_reason → finish_reason (providers.md §3.7). Unknown or absent reasons are "stop":
/// the turn ended and nothing better is known.
pub fn finish_reason(stop_reason: Option<&str>) -> &'static str {
    match stop_reason {
        Some("max_tokens") | Some("model_context_window_exceeded") => "length",
        Some("tool_use") => "tool_calls",
        Some("refusal") => "content_filter",
        // end_turn, stop_sequence, pause_turn (server tools), new values, none.
        _ => "stop",
    }
}

/// Anthropic usage → OpenAI usage. Anthropic's `input_tokens` excludes cache reads and
/// writes, OpenAI's `prompt_tokens` includes them (providers.md §8 item 2).
pub fn map_usage(u: &a::Usage) -> o::Usage {
    let cache_read = u.cache_read_input_tokens.unwrap_or(0);
    let cache_write = u.cache_creation_input_tokens.unwrap_or(0);
    let prompt = u.input_tokens.unwrap_or(0) + cache_read + cache_write;
    let completion = u.output_tokens.unwrap_or(0);
    o::Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: prompt + completion,
        prompt_tokens_details: o::PromptDetails {
            cached_tokens: cache_read,
            cache_write_tokens: cache_write,
        },
        completion_tokens_details: u
            .output_tokens_details
            .as_ref()
            .and_then(|d| d.thinking_tokens)
            .map(|reasoning_tokens| o::CompletionDetails { reasoning_tokens }),
    }
}

/// Translates a non-2xx Anthropic answer. An unreadable body still gives a well-formed error.
pub fn decode_error(status: u16, body: &[u8]) -> ProviderError {
    let (kind, message) = match serde_json::from_slice::<a::ErrorBody>(body) {
        Ok(b) => (b.error.kind, b.error.message),
        Err(_) => (
            type_for_status(status).to_owned(),
            format!("The provider answered with HTTP status {status}."),
        ),
    };
    ProviderError {
        status: map_status(status),
        body: error_body(kind, message),
        retryable: retryable(status),
    }
}

/// An Anthropic error `type` seen without a status (a mid-stream `error` event).
pub fn error_from_type(kind: &str, message: &str) -> ProviderError {
    let status = status_for_type(kind);
    ProviderError {
        status: map_status(status),
        body: error_body(kind.to_owned(), message.to_owned()),
        retryable: retryable(status),
    }
}

/// The OpenAI shape keeps Anthropic's `type` (the SDKs switch on status, and the original
/// type tells an operator most); `param`/`code` have no source.
fn error_body(kind: String, message: String) -> o::ErrorBody {
    o::ErrorBody {
        error: o::ErrorDetail {
            message,
            kind,
            param: None,
            code: None,
        },
    }
}

/// Client status for a provider status: 529 (Anthropic's "overloaded") is not a status OpenAI
/// clients know, so it becomes 503 with the same retry meaning; every other status passes.
pub fn map_status(status: u16) -> u16 {
    match status {
        529 => 503,
        s => s,
    }
}

fn retryable(status: u16) -> bool {
    matches!(status, 408 | 409 | 429) || status >= 500
}

/// providers.md §3.5 `ErrorType` → HTTP status.
fn status_for_type(kind: &str) -> u16 {
    match kind {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "billing_error" => 402,
        "permission_error" => 403,
        "not_found_error" => 404,
        "conflict_error" => 409,
        "request_too_large" => 413,
        "rate_limit_error" => 429,
        "timeout_error" => 504,
        "overloaded_error" => 529,
        _ => 500,
    }
}

fn type_for_status(status: u16) -> &'static str {
    match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        504 => "timeout_error",
        529 => "overloaded_error",
        _ => "api_error",
    }
}

#[cfg(test)]
#[path = "response_tests.rs"]
mod tests;
