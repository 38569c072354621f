//! Sans-IO stream translator: Gemini `streamGenerateContent?alt=sse` bytes in, OpenAI
//! `chat.completion.chunk` SSE events out, usage at the end (providers.md §4.4, §4.6).
//!
//! Every Gemini event is a whole `GenerateContentResponse` carrying only the new parts, and the
//! stream has no end marker: it is complete when the body ends after every candidate sent its
//! `finishReason`. Function calls arrive whole, so each becomes one complete tool-call delta
//! (index counted per choice across the stream, id generated, see [`super::ids`]). Usage repeats
//! cumulatively on many events: the last value of each field wins, never a sum.
//!
//! Owns: the per-stream state and the rule that every stream ends well formed: `data: [DONE]`
//! after a complete answer (usage chunk first when asked), or one OpenAI error event after a
//! provider error (a `data:` event with `error`, or a raw JSON error object, which Google
//! sends mid-stream without `data:`), unreadable data, or a body that ended before every
//! candidate finished. Must not: do I/O, read the clock, or depend on how the bytes were split.

use bytes::Bytes;

use super::ids;
use super::response::{completion_id, finish_reason, from_status, map_usage, tool_call};
use super::wire as g;
use crate::providers::openai_wire as o;
use crate::providers::translate::{StreamOptions, StreamOutcome, StreamSummary};
use crate::sse;

/// One candidate's progress (an OpenAI choice).
#[derive(Debug)]
struct Choice {
    index: u32,
    /// Tool calls sent so far (the next `tool_calls[].index`).
    tools: u32,
    finish: Option<&'static str>,
}

/// Gemini → OpenAI stream state. Feed bytes with [`push`](Self::push), end with
/// [`finish`](Self::finish).
#[derive(Debug)]
pub struct GeminiStream {
    sse: sse::Decoder,
    opts: StreamOptions,
    /// Set by the first event: the response's id seed, completion id and model.
    seed: Option<u64>,
    id: String,
    model: String,
    choices: Vec<Choice>,
    blocked: bool,
    usage: Option<g::UsageMetadata>,
    outcome: Option<StreamOutcome>,
}

impl GeminiStream {
    pub fn new(opts: StreamOptions) -> Self {
        GeminiStream {
            sse: sse::Decoder::default(),
            model: opts.model.clone().unwrap_or_default(),
            opts,
            seed: None,
            id: String::new(),
            choices: Vec::new(),
            blocked: false,
            usage: None,
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

    /// Ends the stream: uses an unterminated last event, then completes it (`[DONE]`) if every
    /// candidate finished, else reports the early end as an error event.
    pub fn finish(&mut self, out: &mut Vec<Bytes>) -> StreamSummary {
        if self.outcome.is_none() {
            if let Some(rest) = self.sse.finish() {
                self.on_raw(&rest, out);
            }
        }
        if self.outcome.is_none() {
            let all_finished =
                !self.choices.is_empty() && self.choices.iter().all(|c| c.finish.is_some());
            if all_finished {
                self.complete(out);
            } else if self.blocked && self.choices.is_empty() {
                // A blocked prompt: an empty answer filtered by the provider.
                self.choice_mut(0, out);
                self.end_choice(0, Some("content_filter"), out);
                self.complete(out);
            } else {
                self.fail(StreamOutcome::Truncated, out);
            }
        }
        StreamSummary {
            usage: self.usage.as_ref().map(map_usage),
            finish_reason: self.choices.first().and_then(|c| c.finish),
            outcome: self.outcome.clone().unwrap_or(StreamOutcome::Truncated),
        }
    }

    fn on_raw(&mut self, raw: &[u8], out: &mut Vec<Bytes>) {
        if self.outcome.is_some() {
            return;
        }
        let Some(data) = sse::data_of(raw) else {
            return self.on_raw_json(raw, out);
        };
        if data.trim().is_empty() {
            return;
        }
        match serde_json::from_str::<g::Response>(&data) {
            Ok(r) => self.on_response(r, data.as_bytes(), out),
            Err(e) => self.fail(StreamOutcome::Protocol(e.to_string()), out),
        }
    }

    /// Lines without `data:`: comments are ignored; anything else must be a raw JSON error
    /// (object or one-element list), as Google sends when a stream fails.
    fn on_raw_json(&mut self, raw: &[u8], out: &mut Vec<Bytes>) {
        let text = String::from_utf8_lossy(raw);
        let body: String = text
            .split(['\n', '\r'])
            .filter(|l| !l.starts_with(':'))
            .collect::<Vec<_>>()
            .join("\n");
        if body.trim().is_empty() {
            return;
        }
        let parsed = serde_json::from_str::<g::ErrorBody>(&body)
            .ok()
            .or_else(|| {
                serde_json::from_str::<Vec<g::ErrorBody>>(&body)
                    .ok()
                    .and_then(|v| v.into_iter().next())
            });
        let outcome = match parsed {
            Some(b) => StreamOutcome::ProviderError(from_status(0, b.error)),
            None => StreamOutcome::Protocol("a non-SSE line in the stream".into()),
        };
        self.fail(outcome, out);
    }

    fn on_response(&mut self, r: g::Response, data: &[u8], out: &mut Vec<Bytes>) {
        if let Some(e) = r.error {
            return self.fail(StreamOutcome::ProviderError(from_status(0, e)), out);
        }
        let seed = match self.seed {
            Some(s) => s,
            None => {
                let s = match r.response_id.as_deref() {
                    Some(id) if !id.is_empty() => ids::seed(id.as_bytes()),
                    _ => ids::seed(data),
                };
                self.seed = Some(s);
                self.id = completion_id(r.response_id.as_deref(), s);
                if self.opts.model.is_none() {
                    self.model = r.model_version.clone().unwrap_or_default();
                }
                s
            }
        };
        if let Some(u) = &r.usage_metadata {
            self.overlay_usage(u);
        }
        if r.candidates.is_empty() && r.prompt_feedback.is_some_and(|f| f.block_reason.is_some()) {
            self.blocked = true;
        }
        for (pos, c) in r.candidates.into_iter().enumerate() {
            let index = c.index.unwrap_or(u32::try_from(pos).unwrap_or(u32::MAX));
            self.on_candidate(index, c, seed, out);
        }
    }

    fn on_candidate(&mut self, index: u32, c: g::Candidate, seed: u64, out: &mut Vec<Bytes>) {
        let at = self.choice_mut(index, out);
        if self.choices[at].finish.is_some() {
            // Gemini sends nothing after a candidate's finishReason; ignore it if it did.
            return;
        }
        let mut text: Option<String> = None;
        let mut thoughts: Option<String> = None;
        let mut calls = Vec::new();
        for p in c.content.map(|c| c.parts).unwrap_or_default() {
            if let Some(f) = p.function_call {
                let k = self.choices[at].tools;
                self.choices[at].tools += 1;
                let call = tool_call(f, seed, index, k, p.thought_signature.as_deref());
                calls.push(o::ToolCallDelta {
                    index: k,
                    id: Some(call.id),
                    kind: Some("function"),
                    function: o::FunctionDelta {
                        name: Some(call.function.name),
                        arguments: call.function.arguments,
                    },
                });
            } else if let Some(t) = p.text.filter(|t| !t.is_empty()) {
                let into = if p.thought == Some(true) {
                    &mut thoughts
                } else {
                    &mut text
                };
                into.get_or_insert_with(String::new).push_str(&t);
            }
        }
        if thoughts.is_some() {
            let delta = o::Delta {
                reasoning_content: thoughts,
                ..o::Delta::default()
            };
            self.emit(index, delta, None, out);
        }
        if text.is_some() {
            let delta = o::Delta {
                content: text,
                ..o::Delta::default()
            };
            self.emit(index, delta, None, out);
        }
        if !calls.is_empty() {
            let delta = o::Delta {
                tool_calls: Some(calls),
                ..o::Delta::default()
            };
            self.emit(index, delta, None, out);
        }
        if let Some(reason) = c.finish_reason.as_deref() {
            let called = self.choices[at].tools > 0;
            self.end_choice(at, Some(finish_reason(Some(reason), called)), out);
        }
    }

    /// The position of choice `index`, announcing its role on first sight.
    fn choice_mut(&mut self, index: u32, out: &mut Vec<Bytes>) -> usize {
        if let Some(at) = self.choices.iter().position(|c| c.index == index) {
            return at;
        }
        self.choices.push(Choice {
            index,
            tools: 0,
            finish: None,
        });
        let delta = o::Delta {
            role: Some("assistant"),
            content: Some(String::new()),
            ..o::Delta::default()
        };
        self.emit(index, delta, None, out);
        self.choices.len() - 1
    }

    fn end_choice(&mut self, at: usize, reason: Option<&'static str>, out: &mut Vec<Bytes>) {
        let c = &mut self.choices[at];
        c.finish = reason;
        let index = c.index;
        self.emit(index, o::Delta::default(), reason, out);
    }

    fn complete(&mut self, out: &mut Vec<Bytes>) {
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
    fn overlay_usage(&mut self, u: &g::UsageMetadata) {
        let acc = self.usage.get_or_insert_with(g::UsageMetadata::default);
        let keep = |new: Option<u64>, old: Option<u64>| new.or(old);
        acc.prompt_token_count = keep(u.prompt_token_count, acc.prompt_token_count);
        acc.candidates_token_count = keep(u.candidates_token_count, acc.candidates_token_count);
        acc.total_token_count = keep(u.total_token_count, acc.total_token_count);
        acc.cached_content_token_count =
            keep(u.cached_content_token_count, acc.cached_content_token_count);
        acc.thoughts_token_count = keep(u.thoughts_token_count, acc.thoughts_token_count);
        acc.tool_use_prompt_token_count = keep(
            u.tool_use_prompt_token_count,
            acc.tool_use_prompt_token_count,
        );
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

    fn emit(
        &self,
        index: u32,
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
                index,
                delta,
                logprobs: None,
                finish_reason,
            }],
            usage: None,
        };
        out.push(data_event(&chunk));
    }
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
