//! Sans-IO reverse stream translator for the Anthropic Messages front door: OpenAI
//! `chat.completion.chunk` SSE bytes in (any OpenAI-style upstream), Anthropic Messages events
//! out (providers.md §3.7, "Streaming translation OpenAI → Anthropic events").
//!
//! Owns: opening and closing Anthropic content blocks as text and tool-call deltas arrive,
//! holding `message_delta` until usage is known (OpenAI sends usage in a trailing chunk), and
//! ending every stream well formed (`message_stop`, or one `error` event). Must not: do I/O,
//! or depend on how the bytes were split.
//!
//! Limits, on purpose: only choice 0 is translated (Anthropic has no `n`); `reasoning_content`
//! is dropped because Anthropic thinking blocks need a signature we cannot make; a tool-call
//! fragment for an already closed call is still sent to that call's block index (OpenAI does
//! not interleave calls in practice, and the SDKs accumulate by index).

use std::collections::HashMap;

use bytes::Bytes;
use serde_json::Map;

use super::response::ProviderError;
use super::stream::{StreamOutcome, StreamSummary};
use super::wire::anthropic as a;
use super::wire::openai as o;
use crate::sse;

/// What the caller knows.
#[derive(Debug, Clone, Default)]
pub struct ReverseOptions {
    /// Reported `model` instead of the upstream's (e.g. the client's alias).
    pub model: Option<String>,
    /// `message_start.usage.input_tokens`: OpenAI upstreams report usage only at the end, so
    /// this is the caller's estimate (0 if none); the real numbers go in `message_delta`.
    pub input_tokens_estimate: u64,
}

#[derive(Debug, Clone, Copy)]
enum Open {
    Text(u32),
    Tool(u32),
}

/// OpenAI → Anthropic stream state.
#[derive(Debug)]
pub struct ToAnthropicStream {
    sse: sse::Decoder,
    opts: ReverseOptions,
    started: bool,
    open: Option<Open>,
    next_block: u32,
    /// OpenAI tool-call index → Anthropic block index.
    tools: HashMap<u32, u32>,
    finish: Option<String>,
    usage: Option<o::UsageIn>,
    stop_reason: Option<&'static str>,
    outcome: Option<StreamOutcome>,
}

impl ToAnthropicStream {
    pub fn new(opts: ReverseOptions) -> Self {
        ToAnthropicStream {
            sse: sse::Decoder::default(),
            opts,
            started: false,
            open: None,
            next_block: 0,
            tools: HashMap::new(),
            finish: None,
            usage: None,
            stop_reason: None,
            outcome: None,
        }
    }

    /// Consumes upstream bytes; appends the Anthropic events they complete to `out`.
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<Bytes>) {
        if self.outcome.is_some() {
            return;
        }
        match self.sse.push(bytes) {
            Ok(events) => {
                for ev in events {
                    self.on_raw(&ev, out, false);
                }
            }
            Err(e) => self.fail(StreamOutcome::Protocol(e.to_string()), out),
        }
    }

    /// Ends the stream. A stream that stopped after its finish reason (only `[DONE]` missing)
    /// still completes; one that stopped earlier gets an `error` event.
    pub fn finish(&mut self, out: &mut Vec<Bytes>) -> StreamSummary {
        if self.outcome.is_none() {
            if let Some(rest) = self.sse.finish() {
                self.on_raw(&rest, out, true);
            }
        }
        if self.outcome.is_none() {
            if self.finish.is_some() {
                self.complete(out);
            } else {
                self.fail(StreamOutcome::Truncated, out);
            }
        }
        StreamSummary {
            usage: self.usage.as_ref().map(openai_usage),
            finish_reason: self.stop_reason,
            outcome: self.outcome.clone().unwrap_or(StreamOutcome::Truncated),
        }
    }

    fn on_raw(&mut self, raw: &[u8], out: &mut Vec<Bytes>, at_end: bool) {
        if self.outcome.is_some() {
            return;
        }
        let Some(data) = sse::data_of(raw) else {
            return;
        };
        let data = data.trim();
        if data.is_empty() {
            return;
        }
        if data == "[DONE]" {
            return self.complete(out);
        }
        match serde_json::from_str::<o::ChunkIn>(data) {
            Ok(chunk) => self.on_chunk(chunk, out),
            // A cut final event is a truncation, not garbage.
            Err(_) if at_end => {}
            Err(e) => self.fail(StreamOutcome::Protocol(e.to_string()), out),
        }
    }

    fn on_chunk(&mut self, c: o::ChunkIn, out: &mut Vec<Bytes>) {
        if let Some(e) = c.error {
            return self.fail(StreamOutcome::ProviderError(upstream_error(e)), out);
        }
        // Empty-choices chunks without usage (Azure's prompt-filter chunk) carry nothing.
        if let Some(choice) = c.choices.into_iter().find(|ch| ch.index == 0) {
            self.start(&c.id, &c.model, out);
            let delta = choice.delta.unwrap_or_default();
            if let Some(text) = delta.content.filter(|t| !t.is_empty()) {
                self.on_text(text, out);
            }
            for call in delta.tool_calls.unwrap_or_default() {
                self.on_tool(call, out);
            }
            if let Some(reason) = choice.finish_reason {
                self.close(out);
                self.finish = Some(reason);
            }
        }
        if c.usage.is_some() {
            self.usage = c.usage;
        }
        if self.finish.is_some() && self.usage.is_some() {
            self.complete(out);
        }
    }

    fn start(&mut self, id: &str, model: &str, out: &mut Vec<Bytes>) {
        if self.started {
            return;
        }
        self.started = true;
        let message = a::OutMessage {
            id: id.to_owned(),
            kind: "message",
            role: "assistant",
            model: self.opts.model.clone().unwrap_or_else(|| model.to_owned()),
            content: [],
            stop_reason: None,
            stop_sequence: None,
            usage: a::OutUsage {
                input_tokens: self.opts.input_tokens_estimate,
                output_tokens: 0,
                cache_creation_input_tokens: None,
                cache_read_input_tokens: None,
            },
        };
        emit(out, &a::OutEvent::MessageStart { message });
    }

    fn on_text(&mut self, text: String, out: &mut Vec<Bytes>) {
        let index = match self.open {
            Some(Open::Text(i)) => i,
            _ => {
                self.close(out);
                let i = self.new_block();
                let content_block = a::OutBlock::Text {
                    text: String::new(),
                };
                emit(
                    out,
                    &a::OutEvent::ContentBlockStart {
                        index: i,
                        content_block,
                    },
                );
                self.open = Some(Open::Text(i));
                i
            }
        };
        let delta = a::OutDelta::TextDelta { text };
        emit(out, &a::OutEvent::ContentBlockDelta { index, delta });
    }

    fn on_tool(&mut self, call: o::ToolCallDeltaIn, out: &mut Vec<Bytes>) {
        let f = call.function.unwrap_or_default();
        let index = match self.tools.get(&call.index) {
            Some(&i) => i,
            None => {
                // The first delta of a call carries its id and name (providers.md §1.3).
                self.close(out);
                let i = self.new_block();
                let id = call.id.unwrap_or_else(|| format!("toolu_gw_{i}"));
                let content_block = a::OutBlock::ToolUse {
                    id,
                    name: f.name.clone().unwrap_or_default(),
                    input: Map::new(),
                };
                emit(
                    out,
                    &a::OutEvent::ContentBlockStart {
                        index: i,
                        content_block,
                    },
                );
                self.tools.insert(call.index, i);
                self.open = Some(Open::Tool(i));
                i
            }
        };
        if let Some(partial_json) = f.arguments.filter(|s| !s.is_empty()) {
            let delta = a::OutDelta::InputJsonDelta { partial_json };
            emit(out, &a::OutEvent::ContentBlockDelta { index, delta });
        }
    }

    fn new_block(&mut self) -> u32 {
        let i = self.next_block;
        self.next_block += 1;
        i
    }

    fn close(&mut self, out: &mut Vec<Bytes>) {
        if let Some(Open::Text(index) | Open::Tool(index)) = self.open.take() {
            emit(out, &a::OutEvent::ContentBlockStop { index });
        }
    }

    fn complete(&mut self, out: &mut Vec<Bytes>) {
        self.start("", "", out);
        self.close(out);
        let stop_reason = stop_reason(self.finish.as_deref(), !self.tools.is_empty());
        self.stop_reason = Some(stop_reason);
        let usage = self.usage.as_ref().map(anthropic_usage).unwrap_or_default();
        let delta = a::OutStop {
            stop_reason,
            stop_sequence: None,
        };
        emit(out, &a::OutEvent::MessageDelta { delta, usage });
        emit(out, &a::OutEvent::MessageStop);
        self.outcome = Some(StreamOutcome::Completed);
    }

    fn fail(&mut self, outcome: StreamOutcome, out: &mut Vec<Bytes>) {
        let error = match &outcome {
            StreamOutcome::ProviderError(e) => a::OutError {
                // An Anthropic upstream's type survives the OpenAI leg (relay_translated keeps
                // it); anything else is guessed from the status.
                kind: if ANTHROPIC_TYPES.contains(&e.body.error.kind.as_str()) {
                    e.body.error.kind.clone()
                } else {
                    anthropic_type(e.status).to_owned()
                },
                message: e.body.error.message.clone(),
            },
            _ => a::OutError {
                kind: "api_error".to_owned(),
                message: "The provider's stream ended before the answer was complete.".to_owned(),
            },
        };
        emit(out, &a::OutEvent::Error { error });
        self.outcome = Some(outcome);
    }
}

/// finish_reason → stop_reason (providers.md §3.7 reverse table). Tool calls decide by
/// content: OpenAI says "stop" after a named tool_choice (providers.md §8 item 1).
pub fn stop_reason(finish_reason: Option<&str>, called_tools: bool) -> &'static str {
    match finish_reason {
        _ if called_tools => "tool_use",
        Some("length") => "max_tokens",
        Some("tool_calls") | Some("function_call") => "tool_use",
        Some("content_filter") => "refusal",
        _ => "end_turn",
    }
}

/// OpenAI usage → Anthropic's: `input_tokens` excludes cache reads and writes there.
pub(super) fn anthropic_usage(u: &o::UsageIn) -> a::OutUsage {
    let (read, write) = (cached(u), cache_writes(u));
    a::OutUsage {
        input_tokens: u.prompt_tokens.saturating_sub(read).saturating_sub(write),
        output_tokens: u.completion_tokens,
        cache_creation_input_tokens: (write > 0).then_some(write),
        cache_read_input_tokens: (read > 0).then_some(read),
    }
}

pub(super) fn openai_usage(u: &o::UsageIn) -> o::Usage {
    o::Usage {
        prompt_tokens: u.prompt_tokens,
        completion_tokens: u.completion_tokens,
        total_tokens: u.prompt_tokens + u.completion_tokens,
        prompt_tokens_details: o::PromptDetails {
            cached_tokens: cached(u),
            cache_write_tokens: cache_writes(u),
        },
        completion_tokens_details: None,
    }
}

fn cache_writes(u: &o::UsageIn) -> u64 {
    u.prompt_tokens_details
        .as_ref()
        .and_then(|d| d.cache_write_tokens)
        .unwrap_or(0)
}

fn cached(u: &o::UsageIn) -> u64 {
    u.prompt_tokens_details
        .as_ref()
        .and_then(|d| d.cached_tokens)
        .unwrap_or(0)
}

/// A mid-stream OpenAI error, kept OpenAI-shaped for the summary, with a status guessed from
/// its type/code (no HTTP status exists mid-stream).
fn upstream_error(e: o::ErrorIn) -> ProviderError {
    let kind = e.kind.unwrap_or_else(|| "server_error".to_owned());
    let status = match (kind.as_str(), e.code.as_deref()) {
        (_, Some("rate_limit_exceeded")) | ("tokens" | "requests", _) => 429,
        ("invalid_request_error", _) => 400,
        _ => 500,
    };
    ProviderError {
        status,
        body: o::ErrorBody {
            error: o::ErrorDetail {
                message: e.message,
                kind,
                param: None,
                code: e.code,
            },
        },
        retryable: status >= 429,
    }
}

/// Anthropic's error `type`s (providers.md §3.5), except the ambiguous `api_error`.
const ANTHROPIC_TYPES: &[&str] = &[
    "invalid_request_error",
    "authentication_error",
    "billing_error",
    "permission_error",
    "not_found_error",
    "request_too_large",
    "rate_limit_error",
    "timeout_error",
    "overloaded_error",
];

/// HTTP status → Anthropic error `type` (providers.md §3.5).
pub(super) fn anthropic_type(status: u16) -> &'static str {
    match status {
        400 | 422 => "invalid_request_error",
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        504 => "timeout_error",
        _ => "api_error",
    }
}

/// `event: <name>\ndata: <json>\n\n`, as Anthropic sends them.
fn emit(out: &mut Vec<Bytes>, ev: &a::OutEvent) {
    let mut buf = format!("event: {}\ndata: ", ev.name()).into_bytes();
    if serde_json::to_writer(&mut buf, ev).is_err() {
        // Our own types always serialize; this only keeps the function total.
        buf = b"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"internal gateway error\"}}".to_vec();
    }
    buf.extend_from_slice(b"\n\n");
    out.push(Bytes::from(buf));
}

#[cfg(test)]
#[path = "reverse_stream_tests.rs"]
mod tests;
