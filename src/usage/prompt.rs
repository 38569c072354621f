//! The prompt-token estimate of a front-door body, made before the upstream call.
//!
//! Owns: the OpenAI Cookbook chat overhead (3 tokens per message, 1 per `name`, 3 to prime the
//! reply), counting text parts only (images are billed by the provider's own formula), and a
//! rough count of tool definitions (their JSON text); the same for Anthropic Messages bodies
//! (system prompt, text, thinking, tool calls and results; documents and images count 0).
//! Must not: reject requests (an unparseable shape counts as 0 here; `llm::request`
//! validates).

use serde_json::Value;

use super::tokens::Encoder;
use crate::llm::request::BodyKind;

/// Per message, for every current chat model (the Cookbook's `tokens_per_message`).
const PER_MESSAGE: u64 = 3;
/// Per `name` field (`tokens_per_name`).
const PER_NAME: u64 = 1;
/// Every reply is primed with `<|start|>assistant<|message|>`.
const REPLY_PRIMER: u64 = 3;

/// Bodies larger than this are tokenized on the blocking pool, not on an async worker.
pub const BLOCKING_THRESHOLD: usize = 100 * 1024;

/// Estimated prompt tokens of `body` (already validated by `llm::request::parse`).
pub fn estimate(body: &[u8], kind: BodyKind, enc: Encoder) -> u64 {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return 0;
    };
    match kind {
        BodyKind::Chat => chat(&v, enc),
        BodyKind::Messages => messages(&v, enc),
        BodyKind::Completion => strings(v.get("prompt"), enc),
        BodyKind::Embedding => strings(v.get("input"), enc),
        BodyKind::Responses => responses(&v, enc),
    }
}

/// A prompt estimate made only when something asks for it: most answers carry the
/// provider's usage and most gateways run without token quotas, and tokenizing the prompt
/// was the largest single cost of a small chat completion (~23k instructions, callgrind).
/// Large bodies are estimated at once, on the blocking pool ([`Prompt::estimate`]), so a
/// later question never tokenizes on an async worker.
pub struct Prompt {
    value: std::sync::OnceLock<u64>,
    /// The body still to estimate (`None` once known).
    pending: Option<(bytes::Bytes, BodyKind, Encoder)>,
}

impl Prompt {
    /// A known estimate.
    pub fn known(n: u64) -> Prompt {
        let value = std::sync::OnceLock::new();
        let _ = value.set(n);
        Prompt {
            value,
            pending: None,
        }
    }

    /// The estimate of `body`: deferred when small, made now on the blocking pool when large.
    pub async fn estimate(body: bytes::Bytes, kind: BodyKind, enc: Encoder) -> Prompt {
        if body.len() < BLOCKING_THRESHOLD {
            return Prompt {
                value: std::sync::OnceLock::new(),
                pending: Some((body, kind, enc)),
            };
        }
        Prompt::known(estimate_async(body, kind, enc).await)
    }

    /// The estimated prompt tokens (tokenized on first call when deferred).
    pub fn get(&self) -> u64 {
        *self.value.get_or_init(|| match &self.pending {
            Some((body, kind, enc)) => estimate(body, *kind, *enc),
            None => 0,
        })
    }
}

/// Like [`estimate`], on the blocking pool when the body is large.
pub async fn estimate_async(body: bytes::Bytes, kind: BodyKind, enc: Encoder) -> u64 {
    if body.len() < BLOCKING_THRESHOLD {
        return estimate(&body, kind, enc);
    }
    tokio::task::spawn_blocking(move || estimate(&body, kind, enc))
        .await
        .unwrap_or(0)
}

fn chat(v: &Value, enc: Encoder) -> u64 {
    let mut n = REPLY_PRIMER;
    for m in v
        .get("messages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        n += PER_MESSAGE;
        n += text(m.get("role"), enc);
        n += content(m.get("content"), enc);
        if let Some(name) = m.get("name") {
            n += text(Some(name), enc) + PER_NAME;
        }
        for call in m
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let f = call.get("function");
            n += text(f.and_then(|f| f.get("name")), enc);
            n += text(f.and_then(|f| f.get("arguments")), enc) + 1;
        }
    }
    // Tool definitions: the Cookbook formula walks the schema; their JSON text is a close,
    // slightly high stand-in, which is the safe side for a reservation.
    for key in ["tools", "functions"] {
        if let Some(tools) = v.get(key) {
            n += enc.count(&tools.to_string());
        }
    }
    n
}

/// A Responses body counted like the chat it stands for: `instructions` is a system message,
/// a string `input` one user message, each input item a message (function calls and their
/// outputs count their name, arguments and output text).
fn responses(v: &Value, enc: Encoder) -> u64 {
    let mut n = REPLY_PRIMER;
    if let Some(s) = v.get("instructions").and_then(Value::as_str) {
        n += PER_MESSAGE + enc.count(s);
    }
    match v.get("input") {
        Some(Value::String(s)) => n += PER_MESSAGE + enc.count(s),
        Some(Value::Array(items)) => {
            for item in items {
                n += PER_MESSAGE;
                n += text(item.get("role"), enc);
                n += content(item.get("content"), enc);
                n += text(item.get("name"), enc);
                n += text(item.get("arguments"), enc);
                n += content(item.get("output"), enc);
            }
        }
        _ => {}
    }
    if let Some(tools) = v.get("tools") {
        n += enc.count(&tools.to_string());
    }
    n
}

/// An Anthropic Messages body, with the chat overhead (Anthropic's own is not published; the
/// provider's count settles it).
fn messages(v: &Value, enc: Encoder) -> u64 {
    let mut n = REPLY_PRIMER;
    if let Some(system) = v.get("system") {
        n += PER_MESSAGE + blocks(system, enc);
    }
    for m in v
        .get("messages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        n += PER_MESSAGE + text(m.get("role"), enc);
        n += m.get("content").map_or(0, |c| blocks(c, enc));
    }
    if let Some(tools) = v.get("tools") {
        n += enc.count(&tools.to_string());
    }
    n
}

/// A string, or Anthropic content blocks: their text, thinking, tool input and tool results.
fn blocks(v: &Value, enc: Encoder) -> u64 {
    match v {
        Value::String(s) => enc.count(s),
        Value::Array(items) => items
            .iter()
            .map(|b| {
                text(b.get("text"), enc)
                    + text(b.get("thinking"), enc)
                    + text(b.get("name"), enc)
                    + b.get("input").map_or(0, |i| enc.count(&i.to_string()))
                    + b.get("content").map_or(0, |c| blocks(c, enc))
            })
            .sum(),
        _ => 0,
    }
}

fn text(v: Option<&Value>, enc: Encoder) -> u64 {
    v.and_then(Value::as_str).map_or(0, |s| enc.count(s))
}

fn content(v: Option<&Value>, enc: Encoder) -> u64 {
    match v {
        Some(Value::String(s)) => enc.count(s),
        Some(Value::Array(parts)) => parts.iter().map(|p| text(p.get("text"), enc)).sum(),
        _ => 0,
    }
}

/// A string, a list of strings, or token arrays (counted by length).
fn strings(v: Option<&Value>, enc: Encoder) -> u64 {
    match v {
        Some(Value::String(s)) => enc.count(s),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => enc.count(s),
                Value::Array(toks) => toks.len() as u64,
                Value::Number(_) => 1,
                _ => 0,
            })
            .sum(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::tokens::for_model;

    /// The Cookbook's verification example: the API reported 129 prompt tokens on cl100k
    /// models and 124 on o200k models.
    const COOKBOOK: &str = r#"{"model":"x","messages":[
      {"role":"system","content":"You are a helpful, pattern-following assistant that translates corporate jargon into plain English."},
      {"role":"system","name":"example_user","content":"New synergies will help drive top-line growth."},
      {"role":"system","name":"example_assistant","content":"Things working well together will increase revenue."},
      {"role":"system","name":"example_user","content":"Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage."},
      {"role":"system","name":"example_assistant","content":"Let's talk later when we're less busy about how to do better."},
      {"role":"user","content":"This late pivot means we don't have time to boil the ocean for the client deliverable."}]}"#;

    #[test]
    fn chat_matches_the_cookbook() {
        let b = COOKBOOK.as_bytes();
        assert_eq!(estimate(b, BodyKind::Chat, for_model("gpt-4")), 129);
        assert_eq!(estimate(b, BodyKind::Chat, for_model("gpt-4o")), 124);
    }

    #[test]
    fn parts_lists_and_token_arrays() {
        let enc = for_model("gpt-4o");
        let chat = br#"{"messages":[{"role":"user","content":[{"type":"text","text":"hello world"},{"type":"image_url","image_url":{"url":"x"}}]}]}"#;
        assert_eq!(estimate(chat, BodyKind::Chat, enc), 3 + 3 + 1 + 2);
        let emb = br#"{"input":["hello world",[1,2,3]]}"#;
        assert_eq!(estimate(emb, BodyKind::Embedding, enc), 5);
        assert_eq!(estimate(b"not json", BodyKind::Completion, enc), 0);
        // A Responses body counts like its chat twin.
        let resp = br#"{"input":[{"role":"user","content":[{"type":"input_text","text":"hello world"}]}]}"#;
        assert_eq!(estimate(resp, BodyKind::Responses, enc), 3 + 3 + 1 + 2);
        let resp = br#"{"instructions":"hello world","input":"hello world"}"#;
        assert_eq!(
            estimate(resp, BodyKind::Responses, enc),
            3 + (3 + 2) + (3 + 2)
        );
    }

    #[test]
    fn anthropic_messages_count_system_blocks_and_tools() {
        let enc = for_model("gpt-4o");
        let body = br#"{"system":[{"type":"text","text":"hello world","cache_control":{"type":"ephemeral"}}],
          "messages":[{"role":"user","content":"hello world"},
            {"role":"assistant","content":[{"type":"thinking","thinking":"hello world","signature":"x"},
              {"type":"tool_use","id":"t","name":"f","input":{}}]},
            {"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"text","text":"hello world"}]}]}]}"#;
        // primer 3; system 3 + 2; user 3 + 1 + 2; assistant 3 + 1 + 2 + 1 ("f") + 1 ("{}");
        // user 3 + 1 + 2.
        assert_eq!(estimate(body, BodyKind::Messages, enc), 3 + 5 + 6 + 8 + 6);
    }

    #[tokio::test]
    async fn large_bodies_are_counted_off_the_workers_with_the_same_result() {
        let text = "lorem ipsum dolor sit amet ".repeat(8_000);
        let body = serde_json::json!({"messages": [{"role": "user", "content": text}]}).to_string();
        assert!(body.len() > BLOCKING_THRESHOLD);
        let enc = for_model("gpt-4o");
        let sync = estimate(body.as_bytes(), BodyKind::Chat, enc);
        let off = estimate_async(bytes::Bytes::from(body), BodyKind::Chat, enc).await;
        assert_eq!(sync, off);
        assert!(sync > 40_000, "{sync}");
    }

    #[tokio::test]
    async fn deferred_and_eager_estimates_agree_with_the_direct_count() {
        let enc = for_model("gpt-4o");
        let small = bytes::Bytes::from_static(COOKBOOK.as_bytes());
        let p = Prompt::estimate(small.clone(), BodyKind::Chat, enc).await;
        // Deferred: nothing counted until asked.
        assert!(p.value.get().is_none());
        assert_eq!(p.get(), 124);
        assert_eq!(p.get(), 124);
        let text = "lorem ipsum dolor sit amet ".repeat(8_000);
        let large =
            serde_json::json!({"messages": [{"role": "user", "content": text}]}).to_string();
        let direct = estimate(large.as_bytes(), BodyKind::Chat, enc);
        let p = Prompt::estimate(bytes::Bytes::from(large), BodyKind::Chat, enc).await;
        // Large: counted at once (on the blocking pool), never on first use.
        assert_eq!(p.value.get(), Some(&direct));
        assert_eq!(Prompt::known(7).get(), 7);
    }
}
