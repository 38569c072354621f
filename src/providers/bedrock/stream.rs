//! Sans-IO stream translator: ConverseStream bytes (AWS event-stream frames) in, OpenAI
//! `chat.completion.chunk` SSE events out, usage at the end (providers.md §5.4 and the §5.7
//! streaming rules).
//!
//! Owns: the per-stream state (which Bedrock block is which OpenAI tool call, the stop reason,
//! the usage from `metadata`) and the rule that every stream ends well formed: after
//! `messageStop` and `metadata` (or `messageStop` and the end of the bytes) the finish chunk,
//! the usage chunk and `data: [DONE]`; after an exception frame, a bad frame (CRC, size) or a
//! stream cut short, one OpenAI error event and nothing else. Must not: do I/O, read the
//! clock, or depend on how the bytes were split (tests replay fixtures split at every offset).

use std::collections::HashMap;

use bytes::Bytes;
use serde::de::DeserializeOwned;

use super::response::{error_from_exception, finish_reason, map_usage};
use super::wire as b;
use crate::eventstream::{self, Decoder};
use crate::providers::openai_wire as o;
use crate::providers::translate::{StreamOptions, StreamOutcome, StreamSummary};

/// What a Bedrock content block index stands for.
#[derive(Debug, Clone, Copy)]
enum Block {
    /// A toolUse block and its OpenAI `tool_calls[].index`.
    Tool(u32),
    /// Text, reasoning, and blocks we do not forward.
    Other,
}

/// Bedrock → OpenAI stream state. Feed bytes with [`push`](Self::push), end with
/// [`finish`](Self::finish).
#[derive(Debug)]
pub struct ToOpenAiStream {
    frames: Decoder,
    opts: StreamOptions,
    id: String,
    model: String,
    started: bool,
    blocks: HashMap<u32, Block>,
    /// OpenAI counts tool calls only, not Bedrock blocks (providers.md §8 item 6).
    next_tool: u32,
    stop_reason: Option<Option<String>>,
    usage: Option<b::Usage>,
    finish: Option<&'static str>,
    outcome: Option<StreamOutcome>,
}

impl ToOpenAiStream {
    /// `id` is the completion id every chunk carries (Bedrock sends none).
    pub fn new(opts: StreamOptions, id: String) -> Self {
        ToOpenAiStream {
            frames: Decoder::default(),
            model: opts.model.clone().unwrap_or_default(),
            opts,
            id,
            started: false,
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
        self.frames.push(bytes);
        while self.outcome.is_none() {
            match self.frames.next_message() {
                Ok(Some(m)) => self.on_message(&m, out),
                Ok(None) => break,
                Err(e) => self.fail(StreamOutcome::Protocol(e.to_string()), out),
            }
        }
    }

    /// Ends the stream and reports usage and outcome. `messageStop` without `metadata` still
    /// completes (without usage); anything less is a truncation.
    pub fn finish(&mut self, out: &mut Vec<Bytes>) -> StreamSummary {
        if self.outcome.is_none() {
            if self.stop_reason.is_some() && self.frames.buffered() == 0 {
                self.complete(out);
            } else {
                self.fail(StreamOutcome::Truncated, out);
            }
        }
        StreamSummary {
            usage: self.usage.as_ref().map(map_usage),
            finish_reason: self.finish,
            outcome: self.outcome.clone().unwrap_or(StreamOutcome::Truncated),
        }
    }

    fn on_message(&mut self, m: &eventstream::Message, out: &mut Vec<Bytes>) {
        match m.str_header(":message-type") {
            Some("event") => self.on_event(m, out),
            Some("exception") => {
                let kind = m
                    .str_header(":exception-type")
                    .unwrap_or("unknownException");
                let message = serde_json::from_slice::<b::ErrorBody>(&m.payload)
                    .ok()
                    .and_then(|e| e.message)
                    .unwrap_or_else(|| "The provider reported an error mid-stream.".to_owned());
                let e = error_from_exception(kind, &message);
                self.fail(StreamOutcome::ProviderError(e), out)
            }
            Some("error") => {
                let code = m.str_header(":error-code").unwrap_or("InternalFailure");
                let message = m
                    .str_header(":error-message")
                    .unwrap_or("The provider reported an error mid-stream.");
                let e = error_from_exception(code, message);
                self.fail(StreamOutcome::ProviderError(e), out)
            }
            other => {
                let what = format!("unknown :message-type {other:?}");
                self.fail(StreamOutcome::Protocol(what), out)
            }
        }
    }

    fn on_event(&mut self, m: &eventstream::Message, out: &mut Vec<Bytes>) {
        let result = match m.str_header(":event-type") {
            Some("messageStart") => {
                self.on_start(out);
                Ok(())
            }
            Some("contentBlockStart") => {
                parse::<b::BlockStart>(&m.payload).map(|s| self.on_block_start(s, out))
            }
            Some("contentBlockDelta") => {
                parse::<b::BlockDelta>(&m.payload).map(|d| self.on_block_delta(d, out))
            }
            Some("messageStop") => parse::<b::MessageStop>(&m.payload).map(|s| {
                self.stop_reason = Some(s.stop_reason);
            }),
            Some("metadata") => parse::<b::Metadata>(&m.payload).map(|md| {
                if md.usage.is_some() {
                    self.usage = md.usage;
                }
                // Usage follows messageStop (providers.md §5.4): the answer is complete.
                if self.stop_reason.is_some() {
                    self.complete(out);
                }
            }),
            // contentBlockStop and event types added later carry nothing to forward.
            _ => Ok(()),
        };
        if let Err(e) = result {
            self.fail(StreamOutcome::Protocol(e), out);
        }
    }

    fn on_start(&mut self, out: &mut Vec<Bytes>) {
        if self.started {
            return;
        }
        self.started = true;
        let delta = o::Delta {
            role: Some("assistant"),
            content: Some(String::new()),
            ..o::Delta::default()
        };
        self.emit_delta(delta, None, out);
    }

    fn on_block_start(&mut self, s: b::BlockStart, out: &mut Vec<Bytes>) {
        let Some(tool) = s.start.and_then(|s| s.tool_use) else {
            self.blocks.insert(s.content_block_index, Block::Other);
            return;
        };
        let index = self.next_tool;
        self.next_tool += 1;
        self.blocks
            .insert(s.content_block_index, Block::Tool(index));
        let call = o::ToolCallDelta {
            index,
            id: Some(tool.tool_use_id),
            kind: Some("function"),
            function: o::FunctionDelta {
                name: Some(tool.name),
                arguments: String::new(),
            },
        };
        self.emit_tool(call, out);
    }

    fn on_block_delta(&mut self, d: b::BlockDelta, out: &mut Vec<Bytes>) {
        let block = self.blocks.get(&d.content_block_index).copied();
        let delta = d.delta;
        if let Some(text) = delta.text.filter(|t| !t.is_empty()) {
            let delta = o::Delta {
                content: Some(text),
                ..o::Delta::default()
            };
            self.emit_delta(delta, None, out);
        }
        if let Some(text) = delta
            .reasoning_content
            .and_then(|r| r.text)
            .filter(|t| !t.is_empty())
        {
            let delta = o::Delta {
                reasoning_content: Some(text),
                ..o::Delta::default()
            };
            self.emit_delta(delta, None, out);
        }
        // Input fragments of a started tool block; the first is often "" (nothing to say).
        if let (Some(Block::Tool(index)), Some(t)) = (block, delta.tool_use) {
            if !t.input.is_empty() {
                let call = o::ToolCallDelta {
                    index,
                    id: None,
                    kind: None,
                    function: o::FunctionDelta {
                        name: None,
                        arguments: t.input,
                    },
                };
                self.emit_tool(call, out);
            }
        }
    }

    fn complete(&mut self, out: &mut Vec<Bytes>) {
        let reason = finish_reason(self.stop_reason.clone().flatten().as_deref());
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

    fn emit_tool(&mut self, call: o::ToolCallDelta, out: &mut Vec<Bytes>) {
        let delta = o::Delta {
            tool_calls: Some(vec![call]),
            ..o::Delta::default()
        };
        self.emit_delta(delta, None, out)
    }

    fn emit_delta(
        &self,
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

fn parse<T: DeserializeOwned>(payload: &[u8]) -> Result<T, String> {
    serde_json::from_slice(payload).map_err(|e| e.to_string())
}

/// An error the gateway itself reports mid-stream (same shape as the other translators').
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
