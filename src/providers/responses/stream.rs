//! Sans-IO stream translator for the Responses front door on translated targets: OpenAI
//! `chat.completion.chunk` SSE bytes in (what the pipeline relays from any target), Responses
//! stream events out (providers.md §1.4 "Responses streaming"), each as
//! `event: <type>\ndata: {..., "sequence_number": n}`.
//!
//! Owns: the event order (`response.created`, `response.in_progress`, then per output item
//! `output_item.added` → `content_part.added` → `output_text.delta`… → `output_text.done` →
//! `content_part.done` → `output_item.done`, or for a tool call `output_item.added` →
//! `function_call_arguments.delta`… → `function_call_arguments.done` → `output_item.done`;
//! finally `response.completed` / `response.incomplete` with usage), holding the terminal
//! event until usage is known (it follows the finish chunk), and ending every stream well
//! formed (a terminal event, or `error` + `response.failed`). Must not: do I/O, or depend on
//! how the bytes were split.
//!
//! Limits, on purpose: only choice 0 is translated (Responses has no `n`); reasoning deltas
//! are dropped (a `reasoning` item needs encrypted content we cannot make); a tool-call
//! fragment for an already closed call still goes to that call's item (OpenAI does not
//! interleave calls in practice, and the SDKs accumulate by `output_index`).

use std::collections::HashMap;

use bytes::Bytes;

use super::response::{
    call_item_id, incomplete, message_id, output_text, response_id, status, usage, ResponseOptions,
};
use super::wire::{ErrorOut, EventOut, ItemOut, PartOut, ResponseOut, Sequenced};
use crate::providers::openai_wire as o;
use crate::providers::translate::{ProviderError, StreamOutcome, StreamSummary, StreamTranslator};
use crate::sse;

#[derive(Debug, Clone, Copy)]
enum Open {
    /// A message item with one `output_text` part.
    Text(usize),
    /// A function call item.
    Tool(usize),
}

/// Chat chunks → Responses events.
#[derive(Debug)]
pub struct ToResponsesStream {
    sse: sse::Decoder,
    opts: ResponseOptions,
    seq: u64,
    started: bool,
    chat_id: String,
    output: Vec<ItemOut>,
    open: Option<Open>,
    /// Chat tool-call index → output index.
    tools: HashMap<u32, usize>,
    messages: usize,
    finish: Option<String>,
    usage: Option<o::UsageIn>,
    outcome: Option<StreamOutcome>,
}

impl ToResponsesStream {
    pub fn new(opts: ResponseOptions) -> Self {
        ToResponsesStream {
            sse: sse::Decoder::default(),
            opts,
            seq: 0,
            started: false,
            chat_id: String::new(),
            output: Vec::new(),
            open: None,
            tools: HashMap::new(),
            messages: 0,
            finish: None,
            usage: None,
            outcome: None,
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
            return self.fail(StreamOutcome::ProviderError(provider_error(e)), out);
        }
        // Empty-choices chunks without usage (Azure's prompt-filter chunk) carry nothing.
        if let Some(choice) = c.choices.into_iter().find(|ch| ch.index == 0) {
            self.start(&c.id, out);
            let delta = choice.delta.unwrap_or_default();
            if let Some(text) = delta.content.filter(|t| !t.is_empty()) {
                self.on_text(&text, out);
            }
            for call in delta.tool_calls.unwrap_or_default() {
                self.on_tool(call, out);
            }
            if let Some(reason) = choice.finish_reason {
                self.finish = Some(reason);
                self.close(out);
            }
        }
        if c.usage.is_some() {
            self.usage = c.usage;
        }
        if self.finish.is_some() && self.usage.is_some() {
            self.complete(out);
        }
    }

    /// The in-progress response object (no output yet).
    fn skeleton(&self, status: &'static str) -> ResponseOut {
        ResponseOut {
            id: response_id(&self.chat_id),
            object: "response",
            created_at: self.opts.created_at,
            status,
            error: None,
            incomplete_details: None,
            model: self.opts.model.clone(),
            output: Vec::new(),
            usage: None,
            echo: self.opts.echo.clone(),
        }
    }

    fn start(&mut self, chat_id: &str, out: &mut Vec<Bytes>) {
        if self.started {
            return;
        }
        self.started = true;
        chat_id.clone_into(&mut self.chat_id);
        let response = self.skeleton("in_progress");
        emit(
            out,
            &mut self.seq,
            &EventOut::Created {
                response: &response,
            },
        );
        emit(
            out,
            &mut self.seq,
            &EventOut::InProgress {
                response: &response,
            },
        );
    }

    fn on_text(&mut self, text: &str, out: &mut Vec<Bytes>) {
        let index = match self.open {
            Some(Open::Text(i)) => i,
            _ => self.open_message(out),
        };
        if let Some(ItemOut::Message { id, content, .. }) = self.output.get_mut(index) {
            if let Some(PartOut::OutputText { text: acc, .. }) = content.first_mut() {
                acc.push_str(text);
            }
            let ev = EventOut::TextDelta {
                item_id: id,
                output_index: index,
                content_index: 0,
                delta: text,
                logprobs: [],
            };
            emit(out, &mut self.seq, &ev);
        }
    }

    /// Opens a message item and its text part; returns its output index.
    fn open_message(&mut self, out: &mut Vec<Bytes>) -> usize {
        self.close(out);
        let index = self.output.len();
        let id = message_id(&self.chat_id, self.messages);
        self.messages += 1;
        self.output.push(ItemOut::Message {
            id,
            role: "assistant",
            status: "in_progress",
            content: Vec::new(),
        });
        let item = &self.output[index];
        emit(
            out,
            &mut self.seq,
            &EventOut::ItemAdded {
                output_index: index,
                item,
            },
        );
        if let Some(ItemOut::Message { id, content, .. }) = self.output.get_mut(index) {
            let part = output_text(String::new());
            let ev = EventOut::PartAdded {
                item_id: id,
                output_index: index,
                content_index: 0,
                part: &part,
            };
            emit(out, &mut self.seq, &ev);
            content.push(part);
        }
        self.open = Some(Open::Text(index));
        index
    }

    fn on_tool(&mut self, call: o::ToolCallDeltaIn, out: &mut Vec<Bytes>) {
        let f = call.function.unwrap_or_default();
        let index = match self.tools.get(&call.index) {
            Some(&i) => i,
            None => {
                // The first delta of a call carries its id and name (providers.md §1.3).
                self.close(out);
                let index = self.output.len();
                let call_id = call.id.unwrap_or_else(|| format!("call_gw_{index}"));
                self.output.push(ItemOut::FunctionCall {
                    id: call_item_id(&call_id),
                    call_id,
                    name: f.name.clone().unwrap_or_default(),
                    arguments: String::new(),
                    status: "in_progress",
                });
                let item = &self.output[index];
                emit(
                    out,
                    &mut self.seq,
                    &EventOut::ItemAdded {
                        output_index: index,
                        item,
                    },
                );
                self.tools.insert(call.index, index);
                self.open = Some(Open::Tool(index));
                index
            }
        };
        let Some(delta) = f.arguments.filter(|s| !s.is_empty()) else {
            return;
        };
        if let Some(ItemOut::FunctionCall { id, arguments, .. }) = self.output.get_mut(index) {
            arguments.push_str(&delta);
            let ev = EventOut::ArgumentsDelta {
                item_id: id,
                output_index: index,
                delta: &delta,
            };
            emit(out, &mut self.seq, &ev);
        }
    }

    /// Closes the open item with its `.done` events.
    fn close(&mut self, out: &mut Vec<Bytes>) {
        let item_status = if incomplete(self.finish.as_deref()).is_some() {
            "incomplete"
        } else {
            "completed"
        };
        match self.open.take() {
            None => {}
            Some(Open::Text(index)) => {
                let Some(ItemOut::Message {
                    id,
                    content,
                    status,
                    ..
                }) = self.output.get_mut(index)
                else {
                    return;
                };
                *status = item_status;
                if let Some(part) = content.first() {
                    if let PartOut::OutputText { text, .. } = part {
                        let ev = EventOut::TextDone {
                            item_id: id,
                            output_index: index,
                            content_index: 0,
                            text,
                            logprobs: [],
                        };
                        emit(out, &mut self.seq, &ev);
                    }
                    let ev = EventOut::PartDone {
                        item_id: id,
                        output_index: index,
                        content_index: 0,
                        part,
                    };
                    emit(out, &mut self.seq, &ev);
                }
                let item = &self.output[index];
                emit(
                    out,
                    &mut self.seq,
                    &EventOut::ItemDone {
                        output_index: index,
                        item,
                    },
                );
            }
            Some(Open::Tool(index)) => {
                let Some(ItemOut::FunctionCall {
                    id,
                    name,
                    arguments,
                    status,
                    ..
                }) = self.output.get_mut(index)
                else {
                    return;
                };
                *status = "completed";
                let ev = EventOut::ArgumentsDone {
                    item_id: id,
                    output_index: index,
                    name,
                    arguments,
                };
                emit(out, &mut self.seq, &ev);
                let item = &self.output[index];
                emit(
                    out,
                    &mut self.seq,
                    &EventOut::ItemDone {
                        output_index: index,
                        item,
                    },
                );
            }
        }
    }

    fn complete(&mut self, out: &mut Vec<Bytes>) {
        self.start("", out);
        self.close(out);
        let details = incomplete(self.finish.as_deref());
        let mut response = self.skeleton(status(details.as_ref()));
        response.output = std::mem::take(&mut self.output);
        response.usage = self.usage.as_ref().map(usage);
        let ev = if details.is_some() {
            response.incomplete_details = details;
            EventOut::Incomplete {
                response: &response,
            }
        } else {
            EventOut::Completed {
                response: &response,
            }
        };
        emit(out, &mut self.seq, &ev);
        self.outcome = Some(StreamOutcome::Completed);
    }

    fn fail(&mut self, outcome: StreamOutcome, out: &mut Vec<Bytes>) {
        self.start("", out);
        let (code, message) = match &outcome {
            StreamOutcome::ProviderError(e) => (
                e.body
                    .error
                    .code
                    .clone()
                    .unwrap_or_else(|| e.body.error.kind.clone()),
                e.body.error.message.clone(),
            ),
            _ => (
                "server_error".to_owned(),
                "The provider's stream ended before the answer was complete.".to_owned(),
            ),
        };
        let ev = EventOut::Error {
            code: &code,
            message: &message,
            param: None,
        };
        emit(out, &mut self.seq, &ev);
        let mut response = self.skeleton("failed");
        response.output = std::mem::take(&mut self.output);
        response.usage = self.usage.as_ref().map(usage);
        response.error = Some(ErrorOut { code, message });
        let ev = EventOut::Failed {
            response: &response,
        };
        emit(out, &mut self.seq, &ev);
        self.outcome = Some(outcome);
    }
}

impl StreamTranslator for ToResponsesStream {
    fn push(&mut self, bytes: &[u8], out: &mut Vec<Bytes>) {
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

    /// A stream that stopped after its finish reason (only `[DONE]` or usage missing) still
    /// completes; one that stopped earlier fails.
    fn finish(&mut self, out: &mut Vec<Bytes>) -> StreamSummary {
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
        let details = incomplete(self.finish.as_deref());
        StreamSummary {
            usage: self.usage.as_ref().map(chat_usage),
            finish_reason: matches!(self.outcome, Some(StreamOutcome::Completed))
                .then(|| status(details.as_ref())),
            outcome: self.outcome.clone().unwrap_or(StreamOutcome::Truncated),
        }
    }
}

/// The usage in the summary keeps the chat names (the summary is the pipeline's view).
fn chat_usage(u: &o::UsageIn) -> o::Usage {
    let r = usage(u);
    o::Usage {
        prompt_tokens: r.input_tokens,
        completion_tokens: r.output_tokens,
        total_tokens: r.total_tokens,
        prompt_tokens_details: o::PromptDetails {
            cached_tokens: r.input_tokens_details.cached_tokens,
            cache_write_tokens: 0,
        },
        completion_tokens_details: None,
    }
}

/// A mid-stream chat error, with a status guessed from its type/code (no HTTP status exists
/// mid-stream).
fn provider_error(e: o::ErrorIn) -> ProviderError {
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

/// `event: <type>\ndata: <json with sequence_number>\n\n`, as OpenAI sends them.
fn emit(out: &mut Vec<Bytes>, seq: &mut u64, ev: &EventOut<'_>) {
    let mut buf = format!("event: {}\ndata: ", ev.name()).into_bytes();
    let sequenced = Sequenced {
        event: ev,
        sequence_number: *seq,
    };
    *seq += 1;
    if serde_json::to_writer(&mut buf, &sequenced).is_err() {
        // Our own types always serialize; this only keeps the function total.
        buf = b"event: error\ndata: {\"type\":\"error\",\"code\":\"server_error\",\"message\":\"internal gateway error\",\"param\":null}".to_vec();
    }
    buf.extend_from_slice(b"\n\n");
    out.push(Bytes::from(buf));
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
