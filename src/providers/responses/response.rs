//! Non-stream answers for the Responses front door on translated targets: a
//! `chat.completion` → a Responses `response` object (providers.md §1.2 → §1.4).
//!
//! Owns: that mapping and the tables shared with stream.rs: item ids, `status` and
//! `incomplete_details` from the finish reason, usage under the Responses names. Must not: do
//! I/O or read clocks (the caller passes `created_at`).

use super::wire::{
    Echo, IncompleteOut, InputDetailsOut, ItemOut, OutputDetailsOut, PartOut, ResponseOut, UsageOut,
};
use crate::providers::openai_wire as o;
use crate::providers::translate::TranslateError;

/// What the caller knows about the request.
#[derive(Debug, Clone, Default)]
pub struct ResponseOptions {
    /// Reported `model` (the client's name for it).
    pub model: String,
    /// Unix seconds for `created_at`.
    pub created_at: u64,
    /// The request parameters the object repeats.
    pub echo: Echo,
}

/// Parses a `chat.completion` body and writes the Responses object.
pub fn decode_chat_response(
    body: &[u8],
    opts: &ResponseOptions,
) -> Result<Vec<u8>, TranslateError> {
    let c: o::ChatCompletionIn =
        serde_json::from_slice(body).map_err(|e| TranslateError::InvalidResponse(e.to_string()))?;
    let out = to_response(c, opts);
    serde_json::to_vec(&out).map_err(|e| TranslateError::InvalidResponse(e.to_string()))
}

/// Translates a parsed `chat.completion` (choice 0: Responses has no `n`).
pub fn to_response(c: o::ChatCompletionIn, opts: &ResponseOptions) -> ResponseOut {
    let choice = c.choices.into_iter().next();
    let finish = choice.as_ref().and_then(|ch| ch.finish_reason.clone());
    let msg = choice.map(|ch| ch.message).unwrap_or_default();
    let incomplete = incomplete(finish.as_deref());
    let item_status = if incomplete.is_some() {
        "incomplete"
    } else {
        "completed"
    };
    let mut output = Vec::new();
    let mut content = Vec::new();
    if let Some(text) = msg.content.filter(|t| !t.is_empty()) {
        content.push(output_text(text));
    }
    if let Some(refusal) = msg.refusal.filter(|t| !t.is_empty()) {
        content.push(PartOut::Refusal { refusal });
    }
    if !content.is_empty() {
        output.push(ItemOut::Message {
            id: message_id(&c.id, 0),
            role: "assistant",
            status: item_status,
            content,
        });
    }
    for call in msg.tool_calls.unwrap_or_default() {
        output.push(ItemOut::FunctionCall {
            id: call_item_id(&call.id),
            call_id: call.id,
            name: call.function.name,
            arguments: call.function.arguments,
            status: "completed",
        });
    }
    ResponseOut {
        id: response_id(&c.id),
        object: "response",
        created_at: opts.created_at,
        status: status(incomplete.as_ref()),
        error: None,
        incomplete_details: incomplete,
        model: opts.model.clone(),
        output,
        usage: Some(c.usage.as_ref().map(usage).unwrap_or_default()),
        echo: opts.echo.clone(),
    }
}

pub(super) fn output_text(text: String) -> PartOut {
    PartOut::OutputText {
        text,
        annotations: [],
        logprobs: [],
    }
}

/// `resp_…` from the upstream's completion id (or a fixed one when it sent none).
pub(super) fn response_id(chat_id: &str) -> String {
    if chat_id.is_empty() {
        "resp_tollgate".to_owned()
    } else {
        format!("resp_{chat_id}")
    }
}

/// `msg_…`: the `n`-th message item of an answer.
pub(super) fn message_id(chat_id: &str, n: usize) -> String {
    format!("msg_{chat_id}_{n}")
}

/// `fc_…`: the item id of a function call (the client answers by `call_id`, not this).
pub(super) fn call_item_id(call_id: &str) -> String {
    format!("fc_{call_id}")
}

/// A finish reason that cut the answer short, as Responses reports it.
pub(super) fn incomplete(finish_reason: Option<&str>) -> Option<IncompleteOut> {
    match finish_reason {
        Some("length") => Some(IncompleteOut {
            reason: "max_output_tokens",
        }),
        Some("content_filter") => Some(IncompleteOut {
            reason: "content_filter",
        }),
        _ => None,
    }
}

pub(super) fn status(incomplete: Option<&IncompleteOut>) -> &'static str {
    if incomplete.is_some() {
        "incomplete"
    } else {
        "completed"
    }
}

/// Chat usage → Responses usage (same meaning: input includes cached tokens, output includes
/// reasoning tokens).
pub(super) fn usage(u: &o::UsageIn) -> UsageOut {
    let cached = u
        .prompt_tokens_details
        .as_ref()
        .and_then(|d| d.cached_tokens)
        .unwrap_or(0);
    let reasoning = u
        .completion_tokens_details
        .as_ref()
        .and_then(|d| d.reasoning_tokens)
        .unwrap_or(0);
    UsageOut {
        input_tokens: u.prompt_tokens,
        input_tokens_details: InputDetailsOut {
            cached_tokens: cached,
        },
        output_tokens: u.completion_tokens,
        output_tokens_details: OutputDetailsOut {
            reasoning_tokens: reasoning,
        },
        total_tokens: u.prompt_tokens + u.completion_tokens,
    }
}

#[cfg(test)]
#[path = "response_tests.rs"]
mod tests;
