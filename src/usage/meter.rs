//! Per-response usage: provider-reported usage when present, else our count of the
//! generated text; and the filter that hides the usage we asked for on the client's behalf.
//!
//! Owns: reading `usage` from OpenAI-shaped JSON bodies and SSE chunks (the last non-null
//! one wins; providers that repeat usage report cumulative values, so never sum) or, when the
//! answer is relayed in Anthropic's own shape ([`Wire::Anthropic`]), from Anthropic's
//! (`usage::anthropic`), collecting
//! completion text (content, refusal, tool-call name/arguments, legacy `text`) to count when
//! no usage arrives, and dropping the injected usage chunk / `"usage":null` fields. Responses
//! API answers (passed through) are read too: `usage` with `input_tokens`/`output_tokens`
//! on the response object, or inside the terminal event's `response`, and the `delta` text
//! of its stream events.
//! Must not: do I/O or decide admission. Works on whatever prefix of the stream arrived, so a
//! client that leaves mid-stream is billed for what was generated until then.

use std::borrow::Cow;
use std::sync::LazyLock;

use bytes::{Bytes, BytesMut};
use memchr::memmem::Finder;
use serde::Deserialize;

use super::anthropic;
use super::tokens::Encoder;
use super::{Source, Usage};
use crate::sse;

/// Collected text is counted and dropped past this size, so memory stays bounded.
const TEXT_FLUSH: usize = 64 * 1024;

/// The shape of the answer the meter reads (set per attempt: one request may be answered by
/// an OpenAI-shaped translation or, on the Messages front door, by Anthropic itself).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Wire {
    /// `chat.completion` bodies and chunks (every answer but the one below).
    #[default]
    OpenAi,
    /// Anthropic `message` bodies and events, relayed untouched (never stripped).
    Anthropic,
}

/// Accounts one response.
pub struct Meter {
    enc: Encoder,
    wire: Wire,
    /// Anthropic usage seen so far (overlaid event by event) when `wire` is Anthropic.
    anthropic: Option<anthropic::Usage>,
    prompt_estimate: super::prompt::Prompt,
    /// We injected `include_usage`, the client did not ask: hide the usage from it.
    strip: bool,
    provider: Option<WireUsage>,
    text: String,
    counted: u64,
    /// A successful answer arrived (a 2xx body or a stream event). Without one nothing is
    /// billed: providers do not charge for refused or failed requests.
    answered: bool,
}

// Text fields borrow from the event when they hold no escapes: the meter reads every event
// of every stream, so it should not copy what it only counts.
#[derive(Deserialize, Default)]
struct Chunk<'a> {
    #[serde(borrow)]
    choices: Option<Vec<Choice<'a>>>,
    usage: Option<WireUsage>,
    /// Responses stream events: the response object (usage in the terminal event).
    response: Option<ResponseObject>,
    /// Responses stream events: generated text (`output_text.delta`, arguments, ...).
    delta: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct ResponseObject {
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct Choice<'a> {
    #[serde(borrow)]
    delta: Option<Message<'a>>,
    #[serde(borrow)]
    message: Option<Message<'a>>,
    #[serde(borrow)]
    text: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow)]
    content: Option<Cow<'a, str>>,
    #[serde(borrow)]
    refusal: Option<Cow<'a, str>>,
    #[serde(borrow)]
    tool_calls: Option<Vec<ToolCall<'a>>>,
}

#[derive(Deserialize)]
struct ToolCall<'a> {
    #[serde(borrow)]
    function: Option<Function<'a>>,
}

#[derive(Deserialize)]
struct Function<'a> {
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    arguments: Option<Cow<'a, str>>,
}

/// Chat's names, or the Responses API's (same meanings: input includes cached tokens, output
/// includes reasoning tokens).
#[derive(Deserialize, Clone, Copy)]
struct WireUsage {
    #[serde(alias = "input_tokens")]
    prompt_tokens: Option<u64>,
    #[serde(alias = "output_tokens")]
    completion_tokens: Option<u64>,
}

impl Meter {
    pub fn new(enc: Encoder, prompt_estimate: super::prompt::Prompt, strip: bool) -> Self {
        Meter {
            enc,
            wire: Wire::OpenAi,
            anthropic: None,
            prompt_estimate,
            strip,
            provider: None,
            text: String::new(),
            counted: 0,
            answered: false,
        }
    }

    /// The prompt's estimated tokens (counted before the call).
    pub fn prompt_estimate(&self) -> u64 {
        self.prompt_estimate.get()
    }

    /// Whether the provider's usage chunk must be hidden from the client (the gateway asked
    /// for it, the client did not); decided per attempt, as targets differ.
    pub fn set_strip(&mut self, strip: bool) {
        self.strip = strip;
    }

    /// Which shape the next answer has (see [`Wire`]).
    pub fn set_wire(&mut self, wire: Wire) {
        self.wire = wire;
    }

    /// Reads a whole (non-streamed) JSON response.
    pub fn on_body(&mut self, body: &[u8]) {
        self.answered = true;
        match self.wire {
            Wire::OpenAi => {
                if let Ok(c) = serde_json::from_slice::<Chunk>(body) {
                    self.take(c);
                }
            }
            Wire::Anthropic => {
                if let Ok(f) = serde_json::from_slice::<anthropic::Frame>(body) {
                    self.take_anthropic(f);
                }
            }
        }
    }

    /// Reads one raw SSE event; returns the bytes to forward, `None` to drop the event.
    pub fn on_event(&mut self, event: Bytes) -> Option<Bytes> {
        self.answered = true;
        let Some(data) = sse::data_of(&event) else {
            return Some(event);
        };
        if self.wire == Wire::Anthropic {
            if let Ok(f) = serde_json::from_str::<anthropic::Frame>(&data) {
                self.take_anthropic(f);
            }
            return Some(event);
        }
        let Ok(chunk) = serde_json::from_str::<Chunk>(&data) else {
            return Some(event);
        };
        let usage_only =
            chunk.usage.is_some() && chunk.choices.as_ref().is_some_and(|c| c.is_empty());
        self.take(chunk);
        if !self.strip {
            Some(event)
        } else if usage_only {
            None
        } else {
            Some(strip_usage_null(event))
        }
    }

    fn take(&mut self, c: Chunk<'_>) {
        if let Some(u) = c.usage.or(c.response.and_then(|r| r.usage)) {
            self.provider = Some(u);
        }
        if let Some(serde_json::Value::String(t)) = &c.delta {
            self.push(t);
        }
        for choice in c.choices.into_iter().flatten() {
            if let Some(t) = &choice.text {
                self.push(t);
            }
            for m in [choice.delta, choice.message].into_iter().flatten() {
                for t in [m.content, m.refusal].into_iter().flatten() {
                    self.push(&t);
                }
                for call in m.tool_calls.into_iter().flatten() {
                    if let Some(f) = call.function {
                        for t in [f.name, f.arguments].into_iter().flatten() {
                            self.push(&t);
                        }
                    }
                }
            }
        }
    }

    fn take_anthropic(&mut self, f: anthropic::Frame) {
        if let Some(u) = f.usage() {
            let total = self.anthropic.get_or_insert_with(Default::default);
            total.overlay(u);
            self.provider = Some(WireUsage {
                prompt_tokens: total.prompt(),
                completion_tokens: total.output_tokens,
            });
        }
        f.texts(|t| self.push(t));
    }

    fn push(&mut self, t: &str) {
        self.text.push_str(t);
        if self.text.len() > TEXT_FLUSH {
            self.counted += self.enc.count(&self.text);
            self.text.clear();
        }
    }

    /// The usage so far: the provider's when it reported any, else our counts.
    pub fn usage(&self) -> Usage {
        if !self.answered {
            return Usage::default();
        }
        match self.provider {
            Some(u) => Usage {
                input: u
                    .prompt_tokens
                    .unwrap_or_else(|| self.prompt_estimate.get()),
                output: u.completion_tokens.unwrap_or(0),
                source: Source::Provider,
            },
            None => Usage {
                input: self.prompt_estimate.get(),
                output: self.counted + self.enc.count(&self.text),
                source: Source::Counted,
            },
        }
    }
}

/// Removes the `"usage":null` member OpenAI adds to every chunk once `include_usage` is on.
fn strip_usage_null(event: Bytes) -> Bytes {
    // Built once: building a memmem searcher costs more than searching one event.
    static BEFORE: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b",\"usage\":null"));
    static AFTER: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\"usage\":null,"));
    let (at, len) = match BEFORE.find(&event) {
        Some(at) => (at, BEFORE.needle().len()),
        None => match AFTER.find(&event) {
            Some(at) => (at, AFTER.needle().len()),
            None => return event,
        },
    };
    let mut out = BytesMut::with_capacity(event.len() - len);
    out.extend_from_slice(&event[..at]);
    out.extend_from_slice(&event[at + len..]);
    out.freeze()
}

#[cfg(test)]
#[path = "meter_tests.rs"]
mod tests;
