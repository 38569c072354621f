//! Bedrock answers → OpenAI answers: `ConverseResponse` → `chat.completion`, the stopReason →
//! finish_reason table, usage, and Bedrock errors (HTTP and stream exceptions) → OpenAI-shaped
//! errors with a client status (providers.md §5.3, §5.6, §5.7).
//!
//! Owns: those tables, shared with the stream translator, and the rule that credential and
//! signature errors never carry Bedrock's message to the client (AWS echoes the canonical
//! request there, which can include the session token). Must not: do I/O or read the clock
//! (`created` and the completion id are passed in).

use http::HeaderMap;

use super::wire as b;
use crate::providers::openai_wire as o;
use crate::providers::translate::{DecodeOptions, ProviderError, TranslateError};

/// Parses and translates a 2xx non-stream body. Bedrock sends no id or model name: `id` is
/// the caller's, the model is `opts.model` (or empty).
pub fn decode_response(
    body: &[u8],
    opts: &DecodeOptions,
    id: String,
) -> Result<Vec<u8>, TranslateError> {
    let r: b::ConverseResponse =
        serde_json::from_slice(body).map_err(|e| TranslateError::InvalidResponse(e.to_string()))?;
    let out = to_chat_completion(r, opts, id);
    serde_json::to_vec(&out).map_err(|e| TranslateError::InvalidResponse(e.to_string()))
}

/// Translates a parsed Converse answer.
pub fn to_chat_completion(
    r: b::ConverseResponse,
    opts: &DecodeOptions,
    id: String,
) -> o::ChatCompletion {
    let mut text: Option<String> = None;
    let mut thinking: Option<String> = None;
    let mut calls = Vec::new();
    for block in r.output.message.content {
        if let Some(t) = block.text {
            text.get_or_insert_with(String::new).push_str(&t);
        }
        if let Some(t) = block.reasoning_content.and_then(|r| r.reasoning_text) {
            thinking.get_or_insert_with(String::new).push_str(&t.text);
        }
        if let Some(t) = block.tool_use {
            calls.push(o::ToolCall {
                id: t.tool_use_id,
                kind: "function".to_owned(),
                function: o::FunctionCall {
                    name: t.name,
                    arguments: if t.input.is_null() {
                        "{}".to_owned()
                    } else {
                        t.input.to_string()
                    },
                },
            });
        }
    }
    o::ChatCompletion {
        id,
        object: "chat.completion",
        created: opts.created,
        model: opts.model.clone().unwrap_or_default(),
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
            finish_reason: finish_reason(r.stop_reason.as_deref()),
        }],
        usage: r.usage.as_ref().map(map_usage).unwrap_or_default(),
    }
}

/// stopReason → finish_reason (providers.md §5.7). Unknown, absent and the `malformed_*`
/// reasons are "stop": the turn ended and nothing better is known.
pub fn finish_reason(stop_reason: Option<&str>) -> &'static str {
    match stop_reason {
        Some("max_tokens" | "model_context_window_exceeded") => "length",
        Some("tool_use") => "tool_calls",
        Some("guardrail_intervened" | "content_filtered") => "content_filter",
        _ => "stop",
    }
}

/// Bedrock usage → OpenAI usage: `inputTokens` excludes cache reads and writes, OpenAI's
/// `prompt_tokens` includes them; `totalTokens` is recomputed (providers.md §5.3).
pub fn map_usage(u: &b::Usage) -> o::Usage {
    let cache_read = u.cache_read_input_tokens.unwrap_or(0);
    let cache_write = u.cache_write_input_tokens.unwrap_or(0);
    let prompt = u.input_tokens + cache_read + cache_write;
    o::Usage {
        prompt_tokens: prompt,
        completion_tokens: u.output_tokens,
        total_tokens: prompt + u.output_tokens,
        prompt_tokens_details: o::PromptDetails {
            cached_tokens: cache_read,
            cache_write_tokens: cache_write,
        },
        completion_tokens_details: None,
    }
}

/// Translates a non-2xx Bedrock answer. The exception name comes from `x-amzn-errortype`
/// (`Name:namespace...`), else the body's `__type`; an unreadable body still gives a
/// well-formed error.
pub fn decode_error(status: u16, headers: &HeaderMap, body: &[u8]) -> ProviderError {
    let parsed: b::ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let name = headers
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or(parsed.kind)
        .map(|t| exception_name(&t).to_owned());
    let message = parsed
        .message
        .unwrap_or_else(|| format!("The provider answered with HTTP status {status}."));
    build(status, name.as_deref(), &message)
}

/// A stream exception (`:exception-type`, camelCase) or unmodelled error (`:error-code`).
pub fn error_from_exception(kind: &str, message: &str) -> ProviderError {
    let name = pascal(kind);
    let status = status_for(&name).unwrap_or(500);
    build(status, Some(&name), message)
}

fn build(status: u16, name: Option<&str>, message: &str) -> ProviderError {
    let status = name.and_then(status_for).unwrap_or(status);
    let message = match name {
        Some(n) if is_credential_error(n) => format!(
            "The provider rejected the gateway's AWS credentials or signature ({n}); check the provider's configuration."
        ),
        _ => message.to_owned(),
    };
    ProviderError {
        status,
        body: o::ErrorBody {
            error: o::ErrorDetail {
                message,
                kind: type_for_status(status).to_owned(),
                param: None,
                code: name.map(str::to_owned),
            },
        },
        retryable: matches!(status, 408 | 409 | 429) || status >= 500,
    }
}

/// `ThrottlingException:http://internal.amazon.com/coral/...` or
/// `com.amazon.coral.service#ThrottlingException` → `ThrottlingException`.
fn exception_name(t: &str) -> &str {
    let t = t.split(':').next().unwrap_or(t);
    t.rsplit('#').next().unwrap_or(t).trim()
}

/// `throttlingException` → `ThrottlingException` (stream exception names are camelCase).
fn pascal(kind: &str) -> String {
    let mut c = kind.chars();
    match c.next() {
        Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
        None => String::new(),
    }
}

/// Signature and key failures: the gateway's configuration, not the client's request.
fn is_credential_error(name: &str) -> bool {
    matches!(
        name,
        "UnrecognizedClientException"
            | "InvalidSignatureException"
            | "IncompleteSignatureException"
            | "SignatureDoesNotMatch"
            | "ExpiredTokenException"
            | "InvalidClientTokenId"
            | "MissingAuthenticationTokenException"
    )
}

/// providers.md §5.6; `None` for names the table does not know (the HTTP status stands).
fn status_for(name: &str) -> Option<u16> {
    Some(match name {
        "ValidationException" => 400,
        "AccessDeniedException" => 403,
        "ResourceNotFoundException" => 404,
        "ModelTimeoutException" => 408,
        "ModelErrorException" | "ModelStreamErrorException" => 424,
        "ThrottlingException" | "ModelNotReadyException" | "ServiceQuotaExceededException" => 429,
        "InternalServerException" | "InternalFailure" => 500,
        "ServiceUnavailableException" => 503,
        n if is_credential_error(n) => 403,
        _ => return None,
    })
}

/// The OpenAI error `type` for a status (the exception name goes in `code`).
fn type_for_status(status: u16) -> &'static str {
    match status {
        400 | 404 | 413 | 422 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        429 => "rate_limit_error",
        s if s >= 500 => "server_error",
        _ => "api_error",
    }
}

#[cfg(test)]
#[path = "response_tests.rs"]
mod tests;
