//! Gemini answers → OpenAI answers: a `GenerateContentResponse` → `chat.completion`, the
//! finishReason table, usage mapping, and Google RPC errors → OpenAI-shaped errors with a
//! client status (providers.md §4.3, §4.5, §4.6).
//!
//! Owns: those tables, shared with the stream translator. Must not: do I/O or read the clock
//! (`created` is passed in).

use super::ids;
use super::wire as g;
use crate::providers::openai_wire as o;
use crate::providers::translate::{DecodeOptions, ProviderError, TranslateError};

/// Parses and translates a 2xx non-stream body.
pub fn decode_response(body: &[u8], opts: &DecodeOptions) -> Result<Vec<u8>, TranslateError> {
    let resp: g::Response =
        serde_json::from_slice(body).map_err(|e| TranslateError::InvalidResponse(e.to_string()))?;
    let seed = match resp.response_id.as_deref() {
        Some(r) if !r.is_empty() => ids::seed(r.as_bytes()),
        _ => ids::seed(body),
    };
    let out = to_chat_completion(resp, seed, opts);
    serde_json::to_vec(&out).map_err(|e| TranslateError::InvalidResponse(e.to_string()))
}

/// Translates a parsed answer; `seed` makes its tool-call ids (see [`ids`]).
pub fn to_chat_completion(resp: g::Response, seed: u64, opts: &DecodeOptions) -> o::ChatCompletion {
    let mut choices: Vec<o::Choice> = resp
        .candidates
        .into_iter()
        .enumerate()
        .map(|(i, c)| choice(c, u32::try_from(i).unwrap_or(u32::MAX), seed))
        .collect();
    if choices.is_empty() {
        // A blocked prompt has no candidates (providers.md §4.6): an empty, filtered answer.
        choices.push(o::Choice {
            index: 0,
            message: message(None, None, Vec::new()),
            logprobs: None,
            finish_reason: if resp.prompt_feedback.and_then(|f| f.block_reason).is_some() {
                "content_filter"
            } else {
                "stop"
            },
        });
    }
    o::ChatCompletion {
        id: completion_id(resp.response_id.as_deref(), seed),
        object: "chat.completion",
        created: opts.created,
        model: opts
            .model
            .clone()
            .or(resp.model_version)
            .unwrap_or_default(),
        choices,
        usage: resp
            .usage_metadata
            .as_ref()
            .map(map_usage)
            .unwrap_or_default(),
    }
}

/// `chatcmpl-<responseId>`, or a hash when Gemini sent no id.
pub fn completion_id(response_id: Option<&str>, seed: u64) -> String {
    match response_id.filter(|r| !r.is_empty()) {
        Some(r) => format!("chatcmpl-{r}"),
        None => format!("chatcmpl-{seed:016x}"),
    }
}

fn choice(c: g::Candidate, position: u32, seed: u64) -> o::Choice {
    let index = c.index.unwrap_or(position);
    let mut text: Option<String> = None;
    let mut thoughts: Option<String> = None;
    let mut calls = Vec::new();
    for p in c.content.map(|c| c.parts).unwrap_or_default() {
        if let Some(f) = p.function_call {
            let k = u32::try_from(calls.len()).unwrap_or(u32::MAX);
            calls.push(tool_call(f, seed, index, k, p.thought_signature.as_deref()));
        } else if let Some(t) = p.text {
            let into = if p.thought == Some(true) {
                &mut thoughts
            } else {
                &mut text
            };
            into.get_or_insert_with(String::new).push_str(&t);
        }
    }
    let finish = finish_reason(c.finish_reason.as_deref(), !calls.is_empty());
    o::Choice {
        index,
        message: message(text, thoughts, calls),
        logprobs: None,
        finish_reason: finish,
    }
}

fn message(
    text: Option<String>,
    thoughts: Option<String>,
    calls: Vec<o::ToolCall>,
) -> o::AssistantMessage {
    o::AssistantMessage {
        role: "assistant",
        content: text,
        refusal: None,
        tool_calls: (!calls.is_empty()).then_some(calls),
        reasoning_content: thoughts,
    }
}

/// One `functionCall` part as an OpenAI tool call with a generated id.
pub fn tool_call(
    f: g::FunctionCallIn,
    seed: u64,
    candidate: u32,
    k: u32,
    signature: Option<&str>,
) -> o::ToolCall {
    o::ToolCall {
        id: ids::call_id(seed, candidate, k, signature),
        kind: "function".to_owned(),
        function: o::FunctionCall {
            name: f.name,
            arguments: match f.args {
                None | Some(serde_json::Value::Null) => "{}".to_owned(),
                Some(a) => a.to_string(),
            },
        },
    }
}

/// finishReason → finish_reason (providers.md §4.6). Gemini ends function calls with `STOP`,
/// so whether tools were called decides `tool_calls` (§8 item 1). Unknown, absent and the
/// tool-misuse reasons are "stop": the turn ended and nothing better is known.
pub fn finish_reason(reason: Option<&str>, called_tools: bool) -> &'static str {
    match reason {
        Some("MAX_TOKENS") => "length",
        Some(
            "SAFETY"
            | "RECITATION"
            | "BLOCKLIST"
            | "PROHIBITED_CONTENT"
            | "SPII"
            | "LANGUAGE"
            | "IMAGE_SAFETY"
            | "IMAGE_PROHIBITED_CONTENT"
            | "IMAGE_RECITATION"
            | "IMAGE_OTHER",
        ) => "content_filter",
        _ if called_tools => "tool_calls",
        _ => "stop",
    }
}

/// Gemini usage → OpenAI usage (providers.md §4.3): prompt includes tool-use prompt tokens and
/// the cached ones; completion is candidates + thoughts; a total larger than both (thinking
/// not itemised) counts the gap as reasoning, so prompt + completion == total.
pub fn map_usage(u: &g::UsageMetadata) -> o::Usage {
    let prompt = u.prompt_token_count.unwrap_or(0) + u.tool_use_prompt_token_count.unwrap_or(0);
    let thoughts = u.thoughts_token_count.unwrap_or(0);
    let visible = u.candidates_token_count.unwrap_or(0);
    let gap = u
        .total_token_count
        .unwrap_or(0)
        .saturating_sub(prompt + visible + thoughts);
    let reasoning = thoughts + gap;
    let completion = visible + reasoning;
    o::Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: prompt + completion,
        prompt_tokens_details: o::PromptDetails {
            cached_tokens: u.cached_content_token_count.unwrap_or(0),
            cache_write_tokens: 0,
        },
        completion_tokens_details: (u.thoughts_token_count.is_some() || gap > 0).then_some(
            o::CompletionDetails {
                reasoning_tokens: reasoning,
            },
        ),
    }
}

/// Translates a non-2xx Gemini answer (an object, or the list-wrapped form some endpoints
/// send). An unreadable body still gives a well-formed error.
pub fn decode_error(status: u16, body: &[u8]) -> ProviderError {
    let parsed = serde_json::from_slice::<g::ErrorBody>(body)
        .ok()
        .or_else(|| {
            serde_json::from_slice::<Vec<g::ErrorBody>>(body)
                .ok()
                .and_then(|v| v.into_iter().next())
        });
    match parsed {
        Some(b) => from_status(status, b.error),
        None => ProviderError {
            status: client_status(status),
            body: error_body(
                type_for_status(status),
                format!("The provider answered with HTTP status {status}."),
                None,
            ),
            retryable: retryable(status),
        },
    }
}

/// A Google RPC status (from an error answer or a mid-stream error event); `http` is the
/// response status when there is one (mid-stream it is 200 and the body's `code` decides).
pub fn from_status(http: u16, s: g::Status) -> ProviderError {
    let status = match (http, s.code) {
        (200..=299, Some(code)) | (0, Some(code)) => code,
        (200..=299, None) | (0, None) => status_for_rpc(s.status.as_deref()),
        (h, _) => h,
    };
    let message = if s.message.is_empty() {
        format!("The provider answered with HTTP status {status}.")
    } else {
        s.message
    };
    ProviderError {
        status: client_status(status),
        body: error_body(type_for_status(status), message, s.status),
        retryable: retryable(status),
    }
}

/// OpenAI's `type` names by status (what the SDKs and most clients expect), with Google's
/// canonical status (`RESOURCE_EXHAUSTED`, ...) as the `code`.
fn error_body(kind: &str, message: String, code: Option<String>) -> o::ErrorBody {
    o::ErrorBody {
        error: o::ErrorDetail {
            message,
            kind: kind.to_owned(),
            param: None,
            code,
        },
    }
}

/// Statuses a client understands; anything outside 400..600 is a provider failure (502).
fn client_status(status: u16) -> u16 {
    if (400..600).contains(&status) {
        status
    } else {
        502
    }
}

fn retryable(status: u16) -> bool {
    matches!(status, 408 | 409 | 429) || status >= 500
}

/// google.rpc.Code name → HTTP status (the standard mapping).
fn status_for_rpc(name: Option<&str>) -> u16 {
    match name.unwrap_or_default() {
        "INVALID_ARGUMENT" | "FAILED_PRECONDITION" | "OUT_OF_RANGE" => 400,
        "UNAUTHENTICATED" => 401,
        "PERMISSION_DENIED" => 403,
        "NOT_FOUND" => 404,
        "ABORTED" | "ALREADY_EXISTS" => 409,
        "RESOURCE_EXHAUSTED" => 429,
        "CANCELLED" => 499,
        "UNIMPLEMENTED" => 501,
        "UNAVAILABLE" => 503,
        "DEADLINE_EXCEEDED" => 504,
        _ => 500,
    }
}

fn type_for_status(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        s if s >= 500 => "server_error",
        _ => "invalid_request_error",
    }
}

#[cfg(test)]
#[path = "response_tests.rs"]
mod tests;
