//! Reading usage and generated text from Anthropic Messages answers (a `message` body, or the
//! events of its stream), for the meter when an Anthropic answer reaches the client as is.
//!
//! Owns: the usage overlay rule (providers.md §3.4: `message_start.message.usage`, then every
//! `message_delta.usage` overrides the fields it carries; values are cumulative, never summed)
//! and the prompt total (`input_tokens` excludes cache reads and writes, so the prompt is
//! their sum, §3.3). Must not: do I/O or change any byte of what it reads.

use serde::Deserialize;

/// Usage fields as Anthropic sends them; absent fields are `None`.
#[derive(Deserialize, Default, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub cache_creation_input_tokens: Option<u64>,
    pub cache_read_input_tokens: Option<u64>,
}

impl Usage {
    /// Overrides the fields `newer` carries (Anthropic's values are cumulative).
    pub fn overlay(&mut self, newer: Usage) {
        let pick = |old: &mut Option<u64>, new: Option<u64>| {
            if new.is_some() {
                *old = new;
            }
        };
        pick(&mut self.input_tokens, newer.input_tokens);
        pick(&mut self.output_tokens, newer.output_tokens);
        pick(
            &mut self.cache_creation_input_tokens,
            newer.cache_creation_input_tokens,
        );
        pick(
            &mut self.cache_read_input_tokens,
            newer.cache_read_input_tokens,
        );
    }

    /// Every prompt token: uncached input plus cache writes and reads; `None` without
    /// `input_tokens`.
    pub fn prompt(&self) -> Option<u64> {
        let cached = self
            .cache_creation_input_tokens
            .unwrap_or(0)
            .saturating_add(self.cache_read_input_tokens.unwrap_or(0));
        self.input_tokens.map(|n| n.saturating_add(cached))
    }
}

/// One Anthropic event's data, or a whole `message` body: only what the meter reads.
#[derive(Deserialize, Default)]
pub struct Frame {
    /// `message_start` carries the message (with its first usage).
    message: Option<Message>,
    /// A non-stream `message` body and `message_delta` carry usage at the top level.
    usage: Option<Usage>,
    /// A non-stream body's blocks.
    content: Option<Vec<Block>>,
    /// `content_block_start`.
    content_block: Option<Block>,
    /// `content_block_delta` (a `message_delta`'s delta has none of the text fields).
    delta: Option<Delta>,
}

#[derive(Deserialize)]
struct Message {
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct Block {
    text: Option<String>,
    thinking: Option<String>,
    name: Option<String>,
    input: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Delta {
    text: Option<String>,
    thinking: Option<String>,
    partial_json: Option<String>,
}

impl Frame {
    /// The usage this frame reports, if any.
    pub fn usage(&self) -> Option<Usage> {
        self.usage
            .or_else(|| self.message.as_ref().and_then(|m| m.usage))
    }

    /// Calls `f` with every piece of generated text in the frame (for counting when no usage
    /// arrives): text, thinking, tool names and tool input.
    pub fn texts(&self, mut f: impl FnMut(&str)) {
        let blocks = self.content.iter().flatten().chain(&self.content_block);
        for b in blocks {
            for t in [&b.text, &b.thinking, &b.name].into_iter().flatten() {
                f(t);
            }
            // A stream's tool_use starts with `{}`: its input arrives as partial_json.
            if let Some(i) = b.input.as_ref().filter(|i| !is_empty_object(i)) {
                f(&i.to_string());
            }
        }
        if let Some(d) = &self.delta {
            for t in [&d.text, &d.thinking, &d.partial_json]
                .into_iter()
                .flatten()
            {
                f(t);
            }
        }
    }
}

fn is_empty_object(v: &serde_json::Value) -> bool {
    v.as_object().is_some_and(|o| o.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delta_usage_overrides_only_what_it_carries() {
        let start: Frame = serde_json::from_str(
            r#"{"type":"message_start","message":{"usage":{"input_tokens":10,"output_tokens":1,"cache_read_input_tokens":4,"cache_creation_input_tokens":2}}}"#,
        )
        .unwrap();
        let delta: Frame = serde_json::from_str(
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":9}}"#,
        )
        .unwrap();
        let mut u = start.usage().unwrap();
        u.overlay(delta.usage().unwrap());
        assert_eq!(u.prompt(), Some(16));
        assert_eq!(u.output_tokens, Some(9));
    }

    #[test]
    fn texts_of_bodies_and_deltas() {
        let body: Frame = serde_json::from_str(
            r#"{"type":"message","content":[{"type":"thinking","thinking":"a","signature":"s"},{"type":"text","text":"b"},{"type":"tool_use","id":"t","name":"c","input":{"x":1}}]}"#,
        )
        .unwrap();
        let mut got = Vec::new();
        body.texts(|t| got.push(t.to_owned()));
        assert_eq!(got, ["a", "b", "c", r#"{"x":1}"#]);
        let delta: Frame = serde_json::from_str(
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"x\""}}"#,
        )
        .unwrap();
        let mut got = Vec::new();
        delta.texts(|t| got.push(t.to_owned()));
        assert_eq!(got, [r#"{"x""#]);
    }
}
