//! Sans-IO stream translator: Anthropic Messages SSE bytes in, OpenAI `chat.completion.chunk`
//! SSE events out, usage at the end (providers.md §3.4 and the §3.7 state machine).
//!
//! Owns: the per-stream state (message id and model, which Anthropic block is which OpenAI
//! tool call, stop reason, cumulative usage) and the rule that every stream ends well formed:
//! `data: [DONE]` after a complete message, or one OpenAI error event after a provider
//! `error` event, unreadable data or a stream that stopped early (no `[DONE]` then, like the
//! gateway's other failed streams). Must not: do I/O, read the clock, or depend on how the
//! bytes were split (tests replay fixtures split at every offset).

use std::collections::HashMap;

use bytes::Bytes;

use super::response::{error_from_type, finish_reason, map_usage};
use super::wire::anthropic as a;
use super::wire::openai as o;
pub use crate::providers::translate::{StreamOptions, StreamOutcome, StreamSummary};
use crate::sse;

/// What an Anthropic content block index stands for.
#[derive(Debug, Clone, Copy)]
enum Block {
    Text,
    Thinking,
    /// A tool_use block and its OpenAI `tool_calls[].index`.
    Tool(u32),
    /// Server tools and future block types: their deltas are not forwarded.
    Other,
}

/// Anthropic → OpenAI stream state. Feed bytes with [`push`](Self::push), end with
/// [`finish`](Self::finish).
#[derive(Debug)]
pub struct ToOpenAiStream {
    sse: sse::Decoder,
    opts: StreamOptions,
    started: bool,
    id: String,
    model: String,
    blocks: HashMap<u32, Block>,
    /// OpenAI counts tool calls only, not Anthropic blocks (providers.md §8 item 6).
    next_tool: u32,
    stop_reason: Option<String>,
    usage: Option<a::Usage>,
    finish: Option<&'static str>,
    outcome: Option<StreamOutcome>,
}

impl ToOpenAiStream {
    pub fn new(opts: StreamOptions) -> Self {
        ToOpenAiStream {
            sse: sse::Decoder::default(),
            model: opts.model.clone().unwrap_or_default(),
            opts,
            started: false,
            id: String::new(),
            blocks: HashMap::new(),
            next_tool: 0,
            stop_reason: None,
            usage: None,
            finish: None,
            outcome: None,
        }
    }

    /// Consumes provider bytes; appends the client events they complete to `out`.
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<Bytes>) {
        if self.outcome.is_some() {
            return;
        }
        match self.sse.push(bytes) {
            Ok(events) => {
                for ev in events {
                    self.on_raw(&ev, out);
                }
            }
            Err(e) => self.fail(StreamOutcome::Protocol(e.to_string()), out),
        }
    }

    /// Ends the stream: handles an unterminated last event, reports an early end as an error
    /// event, and returns the usage and outcome.
    pub fn finish(&mut self, out: &mut Vec<Bytes>) -> StreamSummary {
        if self.outcome.is_none() {
            // An unterminated last event: a whole one is used, a cut one means truncation.
            if let Some(rest) = self.sse.finish() {
                if let Some(Ok(ev)) = parse(&rest) {
                    self.on_event(ev, out);
                }
            }
        }
        if self.outcome.is_none() {
            self.fail(StreamOutcome::Truncated, out);
        }
        StreamSummary {
            usage: self.usage.as_ref().map(map_usage),
            finish_reason: self.finish,
            outcome: self.outcome.clone().unwrap_or(StreamOutcome::Truncated),
        }
    }

    fn on_raw(&mut self, raw: &[u8], out: &mut Vec<Bytes>) {
        if self.outcome.is_some() {
            return;
        }
        match parse(raw) {
            None => {}
            Some(Ok(ev)) => self.on_event(ev, out),
            Some(Err(e)) => self.fail(StreamOutcome::Protocol(e), out),
        }
    }

    fn on_event(&mut self, ev: a::StreamEvent, out: &mut Vec<Bytes>) {
        match ev {
            a::StreamEvent::MessageStart { message } => self.on_start(message, out),
            a::StreamEvent::ContentBlockStart {
                index,
                content_block,
            } => self.on_block_start(index, content_block, out),
            a::StreamEvent::ContentBlockDelta { index, delta } => {
                self.on_block_delta(index, delta, out)
            }
            a::StreamEvent::MessageDelta { delta, usage } => {
                if delta.stop_reason.is_some() {
                    self.stop_reason = delta.stop_reason;
                }
                self.overlay_usage(&usage);
            }
            a::StreamEvent::MessageStop => self.on_stop(out),
            // Keeps idle connections alive through proxies during long thinking phases;
            // SSE clients ignore comments.
            a::StreamEvent::Ping => out.push(Bytes::from_static(b": ping\n\n")),
            a::StreamEvent::Error { error } => {
                let e = error_from_type(&error.kind, &error.message);
                self.fail(StreamOutcome::ProviderError(e), out)
            }
            a::StreamEvent::ContentBlockStop { .. } | a::StreamEvent::Unknown => {}
        }
    }

    fn on_start(&mut self, m: a::StartMessage, out: &mut Vec<Bytes>) {
        // A repeated message_start must not announce the role twice.
        if self.started {
            return;
        }
        self.started = true;
        self.id = m.id;
        if self.opts.model.is_none() {
            self.model = m.model;
        }
        self.overlay_usage(&m.usage);
        let delta = o::Delta {
            role: Some("assistant"),
            content: Some(String::new()),
            ..o::Delta::default()
        };
        self.emit_delta(delta, None, out);
    }

    fn on_block_start(&mut self, index: u32, block: a::StartBlock, out: &mut Vec<Bytes>) {
        let kind = match block {
            a::StartBlock::Text { text } => {
                self.emit_text(text, out);
                Block::Text
            }
            a::StartBlock::Thinking {} => Block::Thinking,
            a::StartBlock::ToolUse { id, name } => {
                let tool = self.next_tool;
                self.next_tool += 1;
                let call = o::ToolCallDelta {
                    index: tool,
                    id: Some(id),
                    kind: Some("function"),
                    function: o::FunctionDelta {
                        name: Some(name),
                        arguments: String::new(),
                    },
                };
                self.emit_tool(call, out);
                Block::Tool(tool)
            }
            a::StartBlock::Other => Block::Other,
        };
        self.blocks.insert(index, kind);
    }

    fn on_block_delta(&mut self, index: u32, delta: a::BlockDelta, out: &mut Vec<Bytes>) {
        let block = self.blocks.get(&index).copied().unwrap_or(Block::Other);
        match (block, delta) {
            (Block::Text, a::BlockDelta::TextDelta { text }) => self.emit_text(text, out),
            (Block::Thinking, a::BlockDelta::ThinkingDelta { thinking })
                if !thinking.is_empty() =>
            {
                let delta = o::Delta {
                    reasoning_content: Some(thinking),
                    ..o::Delta::default()
                };
                self.emit_delta(delta, None, out)
            }
            // The first fragment is often "" (providers.md §3.4): nothing to say.
            (Block::Tool(tool), a::BlockDelta::InputJsonDelta { partial_json })
                if !partial_json.is_empty() =>
            {
                let call = o::ToolCallDelta {
                    index: tool,
                    id: None,
                    kind: None,
                    function: o::FunctionDelta {
                        name: None,
                        arguments: partial_json,
                    },
                };
                self.emit_tool(call, out)
            }
            // Signatures, citations, server-tool input, empty pieces, unknown blocks.
            _ => {}
        }
    }

    fn on_stop(&mut self, out: &mut Vec<Bytes>) {
        let reason = finish_reason(self.stop_reason.as_deref());
        self.finish = Some(reason);
        self.emit_delta(o::Delta::default(), Some(reason), out);
        if self.opts.include_usage {
            let usage = self.usage.as_ref().map(map_usage).unwrap_or_default();
            let chunk = o::Chunk {
                id: &self.id,
                object: "chat.completion.chunk",
                created: self.opts.created,
                model: &self.model,
                choices: Vec::new(),
                usage: Some(&usage),
            };
            out.push(data_event(&chunk));
        }
        out.push(Bytes::from_static(b"data: [DONE]\n\n"));
        self.outcome = Some(StreamOutcome::Completed);
    }

    /// Cumulative: each field present replaces the earlier value, never adds to it.
    fn overlay_usage(&mut self, u: &a::Usage) {
        let acc = self.usage.get_or_insert_with(a::Usage::default);
        let keep = |new: Option<u64>, old: Option<u64>| new.or(old);
        acc.input_tokens = keep(u.input_tokens, acc.input_tokens);
        acc.output_tokens = keep(u.output_tokens, acc.output_tokens);
        acc.cache_creation_input_tokens = keep(
            u.cache_creation_input_tokens,
            acc.cache_creation_input_tokens,
        );
        acc.cache_read_input_tokens = keep(u.cache_read_input_tokens, acc.cache_read_input_tokens);
        if u.output_tokens_details.is_some() {
            acc.output_tokens_details = u.output_tokens_details.clone();
        }
    }

    fn fail(&mut self, outcome: StreamOutcome, out: &mut Vec<Bytes>) {
        let body = match &outcome {
            StreamOutcome::ProviderError(e) => e.body.clone(),
            StreamOutcome::Protocol(_) => gateway_error("The provider sent an unreadable stream."),
            StreamOutcome::Truncated | StreamOutcome::Completed => {
                gateway_error("The provider's stream ended before the answer was complete.")
            }
        };
        out.push(data_event(&body));
        self.outcome = Some(outcome);
    }

    fn emit_text(&mut self, text: String, out: &mut Vec<Bytes>) {
        if text.is_empty() {
            return;
        }
        let delta = o::Delta {
            content: Some(text),
            ..o::Delta::default()
        };
        self.emit_delta(delta, None, out)
    }

    fn emit_tool(&mut self, call: o::ToolCallDelta, out: &mut Vec<Bytes>) {
        let delta = o::Delta {
            tool_calls: Some(vec![call]),
            ..o::Delta::default()
        };
        self.emit_delta(delta, None, out)
    }

    fn emit_delta(
        &mut self,
        delta: o::Delta,
        finish_reason: Option<&'static str>,
        out: &mut Vec<Bytes>,
    ) {
        let chunk = o::Chunk {
            id: &self.id,
            object: "chat.completion.chunk",
            created: self.opts.created,
            model: &self.model,
            choices: vec![o::ChunkChoice {
                index: 0,
                delta,
                logprobs: None,
                finish_reason,
            }],
            usage: None,
        };
        out.push(data_event(&chunk));
    }
}

/// The event's JSON; `None` for comments, data-less and empty events.
fn parse(raw: &[u8]) -> Option<Result<a::StreamEvent, String>> {
    let data = sse::data_of(raw)?;
    if data.trim().is_empty() {
        return None;
    }
    Some(serde_json::from_str(&data).map_err(|e| e.to_string()))
}

/// An error the gateway itself reports mid-stream (same shape as GatewayError's bodies).
fn gateway_error(message: &str) -> o::ErrorBody {
    o::ErrorBody {
        error: o::ErrorDetail {
            message: message.to_owned(),
            kind: "upstream_error".to_owned(),
            param: None,
            code: Some("upstream_protocol_error".to_owned()),
        },
    }
}

/// `data: <json>\n\n`. Our own types always serialize; the fallback only keeps this total.
fn data_event<T: serde::Serialize>(value: &T) -> Bytes {
    let mut buf = b"data: ".to_vec();
    if serde_json::to_writer(&mut buf, value).is_err() {
        buf.truncate(6);
        buf.extend_from_slice(br#"{"error":{"message":"internal gateway error","type":"server_error","param":null,"code":null}}"#);
    }
    buf.extend_from_slice(b"\n\n");
    Bytes::from(buf)
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
