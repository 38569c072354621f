//! The Anthropic side: `POST /v1/messages` (providers.md §3) with validation and the same
//! deterministic answers as the OpenAI side. Pure functions of the request; no I/O.
//!
//! Replies follow the crate's rules (reply text, `echo:`, one token per word); `max_tokens`
//! truncates with `stop_reason: "max_tokens"`, else `"end_turn"`. `input_tokens` = for the
//! system prompt (if any) and every message, 3 + its words; `output_tokens` = words emitted.
//! Tools: when the request has `tools` and the last user text starts with `call:`, the answer
//! is one `tool_use` block calling the first tool with `{"text": <the rest, trimmed>}`
//! (`stop_reason: "tool_use"`, `output_tokens` = words of that input's JSON).
//! Mid-stream errors: a streamed request whose last user text starts with `fail:` gets
//! `message_start`, `ping` and then an `error` event (`overloaded_error`, the rest of the text
//! as its message), as Anthropic sends when it is overloaded after the response started.
//! Thinking: a request with `"thinking": {"type": "enabled", ...}` gets a first block
//! `{"type":"thinking","thinking":"Mock reasoning step.","signature":"sig_mock<n>"}` (streamed
//! as `thinking_delta` then `signature_delta`), the answer block after it at index 1; its 3
//! words count as output tokens.
//! Prompt caching: the words of every text block (system or message) carrying
//! `cache_control` are reported as `cache_read_input_tokens` and left out of `input_tokens`
//! (Anthropic's `input_tokens` excludes cached tokens); `cache_creation_input_tokens` is 0.
//! `POST /v1/messages/count_tokens` validates like `/v1/messages` (without `max_tokens` and
//! `stream`) and answers `{"input_tokens": N}`, N the uncached plus cached input tokens.

use bytes::Bytes;
use serde_json::{json, Map, Value};

use crate::http1::Incoming;
use crate::openai::{self, Reply};
use crate::Options;

/// The Messages endpoint's path.
pub(crate) const PATH: &str = "/v1/messages";
/// The token counting endpoint's path.
pub(crate) const COUNT_TOKENS_PATH: &str = "/v1/messages/count_tokens";

/// The thinking block's text (see the module docs).
const THINKING: &str = "Mock reasoning step.";

/// Tokens counted per message (and for the system prompt) besides its words.
const PER_MESSAGE: usize = 3;

/// Top-level fields the Messages API accepts; anything else is rejected like Anthropic does
/// ("Extra inputs are not permitted"), which catches leaked OpenAI fields.
const FIELDS: &[&str] = &[
    "model",
    "messages",
    "max_tokens",
    "system",
    "metadata",
    "stop_sequences",
    "stream",
    "temperature",
    "top_p",
    "top_k",
    "tools",
    "tool_choice",
    "thinking",
    "service_tier",
    "cache_control",
    "output_config",
    "container",
    "mcp_servers",
    "inference_geo",
];

/// Whether a request target is the Messages endpoint (or its count_tokens).
pub(crate) fn is_messages(target: &str) -> bool {
    let path = openai::path_of(target);
    path == PATH || path == COUNT_TOKENS_PATH
}

/// An Anthropic-shaped error reply.
pub(crate) fn error(status: u16, kind: &str, message: &str) -> Reply {
    let body = json!({"type": "error", "error": {"type": kind, "message": message}});
    openai::Reply::json(status, body.to_string().into_bytes())
}

/// Anthropic's error `type` for an injected status.
pub(crate) fn error_type(status: u16) -> &'static str {
    match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        504 => "timeout_error",
        529 | 503 => "overloaded_error",
        _ => "api_error",
    }
}

/// The reply for a [`crate::Fault::Status`] on the Messages endpoint.
pub(crate) fn status_reply(
    status: u16,
    headers: Vec<(String, String)>,
    body: Option<String>,
) -> Reply {
    let body = body.unwrap_or_else(|| {
        let message = format!("Injected by the mock provider (status {status}).");
        json!({"type": "error", "error": {"type": error_type(status), "message": message}})
            .to_string()
    });
    openai::status_reply(status, headers, Some(body))
}

/// Answers one Messages request: the reply, and every problem found.
pub(crate) fn handle(opts: &Options, n: u64, req: &Incoming) -> (Reply, Vec<String>) {
    let mut problems = req.problems.clone();
    if !problems.is_empty() {
        let mut reply = error(400, "invalid_request_error", &problems.join("; "));
        reply.close = true;
        return (reply, problems);
    }
    if req.method != "POST" {
        problems.push(format!("method {} not allowed for {PATH}", req.method));
        let mut reply = error(405, "invalid_request_error", "Method not allowed.");
        reply.extra.push(("allow".into(), "POST".into()));
        return (reply, problems);
    }
    let auth = auth_problem(opts, req);
    if let Some(p) = &auth {
        problems.push(p.clone());
    }
    let body = openai::parse_body(opts.validate, req, &mut problems);
    if opts.validate {
        if req.header("anthropic-version").is_none() {
            problems.push("anthropic-version header missing".into());
        }
        if let Some(obj) = body.as_object() {
            validate(obj, Endpoint::Messages, &mut problems);
        }
    }
    if auth.is_some() {
        let reply = error(401, "authentication_error", "invalid x-api-key");
        return (reply, problems);
    }
    if !problems.is_empty() {
        let message = format!("Invalid request: {}", problems.join("; "));
        return (error(400, "invalid_request_error", &message), problems);
    }
    (answer(opts, n, &body), problems)
}

/// Answers one `POST /v1/messages/count_tokens` request.
pub(crate) fn count_tokens(opts: &Options, req: &Incoming) -> (Reply, Vec<String>) {
    let mut problems = req.problems.clone();
    if req.method != "POST" {
        problems.push(format!(
            "method {} not allowed for {COUNT_TOKENS_PATH}",
            req.method
        ));
    }
    let auth = auth_problem(opts, req);
    if let Some(p) = &auth {
        problems.push(p.clone());
    }
    let body = openai::parse_body(opts.validate, req, &mut problems);
    if opts.validate {
        if req.header("anthropic-version").is_none() {
            problems.push("anthropic-version header missing".into());
        }
        if let Some(obj) = body.as_object() {
            validate(obj, Endpoint::CountTokens, &mut problems);
        }
    }
    if auth.is_some() {
        let reply = error(401, "authentication_error", "invalid x-api-key");
        return (reply, problems);
    }
    if !problems.is_empty() {
        let message = format!("Invalid request: {}", problems.join("; "));
        return (error(400, "invalid_request_error", &message), problems);
    }
    let (input, cached) = input_tokens(&body);
    let answer = json!({"input_tokens": input + cached});
    (Reply::json(200, answer.to_string().into_bytes()), problems)
}

/// `GET /v1/models` from an Anthropic client (it sends `anthropic-version`): Anthropic's
/// model list, behind the same `x-api-key` check.
pub(crate) fn models(opts: &Options, req: &Incoming) -> (Reply, Vec<String>) {
    let mut problems = req.problems.clone();
    if req.method != "GET" {
        problems.push(format!("method {} not allowed for /v1/models", req.method));
    }
    if let Some(p) = auth_problem(opts, req) {
        problems.push(p);
        return (
            error(401, "authentication_error", "invalid x-api-key"),
            problems,
        );
    }
    if !problems.is_empty() {
        let message = format!("Invalid request: {}", problems.join("; "));
        return (error(400, "invalid_request_error", &message), problems);
    }
    let body = json!({
        "data": [{"type": "model", "id": "claude-mock", "display_name": "Claude Mock",
                  "created_at": "2025-01-01T00:00:00Z"}],
        "has_more": false, "first_id": "claude-mock", "last_id": "claude-mock",
    });
    (Reply::json(200, body.to_string().into_bytes()), problems)
}

fn auth_problem(opts: &Options, req: &Incoming) -> Option<String> {
    let key = opts.api_key.as_deref()?;
    match req.header("x-api-key") {
        Some(v) if v == key => None,
        Some(_) => Some("x-api-key is not the configured key".into()),
        None => Some("x-api-key header missing".into()),
    }
}

// ---------------------------------------------------------------------------------------------
// Validation

/// Which endpoint a body is validated for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Messages,
    /// No `max_tokens`, `stream` or `stop_sequences`.
    CountTokens,
}

fn validate(obj: &Map<String, Value>, endpoint: Endpoint, p: &mut Vec<String>) {
    let generation_only = ["max_tokens", "stream", "stop_sequences", "temperature"];
    for k in obj.keys() {
        let generation = endpoint == Endpoint::CountTokens && generation_only.contains(&k.as_str());
        if !FIELDS.contains(&k.as_str()) || generation {
            p.push(format!("{k}: Extra inputs are not permitted"));
        }
    }
    match obj.get("model") {
        Some(Value::String(s)) if !s.is_empty() => {}
        _ => p.push("model: required non-empty string".into()),
    }
    match obj.get("max_tokens") {
        _ if endpoint == Endpoint::CountTokens => {}
        Some(v) if v.as_u64().is_some_and(|n| n >= 1) => {}
        _ => p.push("max_tokens: required integer >= 1".into()),
    }
    if !matches!(obj.get("stream"), None | Some(Value::Bool(_))) {
        p.push("stream: must be a boolean".into());
    }
    validate_system(obj.get("system"), p);
    match obj.get("messages") {
        Some(Value::Array(msgs)) if !msgs.is_empty() => validate_messages(msgs, p),
        Some(Value::Array(_)) => p.push("messages: must not be empty".into()),
        _ => p.push("messages: required array".into()),
    }
}

fn validate_system(system: Option<&Value>, p: &mut Vec<String>) {
    match system {
        None | Some(Value::String(_)) => {}
        Some(Value::Array(blocks)) => {
            for (i, b) in blocks.iter().enumerate() {
                let text = b.get("type").and_then(Value::as_str) == Some("text")
                    && b.get("text").is_some_and(Value::is_string);
                if !text {
                    p.push(format!("system[{i}]: must be a text block"));
                }
            }
        }
        Some(_) => p.push("system: must be a string or an array of text blocks".into()),
    }
}

fn validate_messages(msgs: &[Value], p: &mut Vec<String>) {
    let mut expected = "user";
    for (i, m) in msgs.iter().enumerate() {
        let role = m.get("role").and_then(Value::as_str);
        match role {
            Some(r) if r == expected => {}
            Some(r @ ("user" | "assistant")) => p.push(format!(
                "messages[{i}].role: {r:?} breaks the user/assistant alternation (expected {expected:?})"
            )),
            other => p.push(format!(
                "messages[{i}].role: {other:?} is not \"user\" or \"assistant\""
            )),
        }
        expected = if role == Some("user") {
            "assistant"
        } else {
            "user"
        };
        match m.get("content") {
            Some(Value::String(_)) => {}
            Some(Value::Array(blocks)) if !blocks.is_empty() => {
                for (j, b) in blocks.iter().enumerate() {
                    if let Err(e) = validate_block(b) {
                        p.push(format!("messages[{i}].content[{j}]: {e}"));
                    }
                }
            }
            _ => p.push(format!(
                "messages[{i}].content: must be a string or a non-empty array of blocks"
            )),
        }
    }
}

fn validate_block(b: &Value) -> Result<(), &'static str> {
    let has = |k: &str, pred: fn(&Value) -> bool| b.get(k).is_some_and(pred);
    let ok = match b.get("type").and_then(Value::as_str) {
        Some("text") => has("text", Value::is_string),
        Some("image") => has("source", Value::is_object),
        Some("tool_use") => {
            has("id", Value::is_string)
                && has("name", Value::is_string)
                && has("input", Value::is_object)
        }
        Some("tool_result") => has("tool_use_id", Value::is_string),
        // Thinking blocks go back with the signature Anthropic gave them.
        Some("thinking") => has("thinking", Value::is_string) && has("signature", Value::is_string),
        Some("redacted_thinking") => has("data", Value::is_string),
        Some("document") => has("source", Value::is_object),
        _ => return Err("unknown or missing block type"),
    };
    if ok {
        Ok(())
    } else {
        Err("block is missing a required field")
    }
}

// ---------------------------------------------------------------------------------------------
// Answers

fn words(s: &str) -> usize {
    s.split_whitespace().count()
}

/// The text of a content (string, or its text blocks joined with `\n`).
fn text_of(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(blocks)) => blocks
            .iter()
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// `(uncached, cached)` input tokens: 3 + words per message and for the system prompt; the
/// words of text blocks with `cache_control` are the cached ones.
fn input_tokens(body: &Value) -> (usize, usize) {
    let contents = body.get("system").into_iter().chain(
        body.get("messages")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|m| m.get("content")),
    );
    let (mut total, mut cached) = (0, 0);
    for c in contents {
        total += PER_MESSAGE + words(&text_of(Some(c)));
        cached += c
            .as_array()
            .into_iter()
            .flatten()
            .filter(|b| b.get("cache_control").is_some())
            .map(|b| words(b.get("text").and_then(Value::as_str).unwrap_or("")))
            .sum::<usize>();
    }
    (total - cached, cached)
}

/// Whether the request turns extended thinking on.
fn thinks(body: &Value) -> bool {
    body.pointer("/thinking/type").and_then(Value::as_str) == Some("enabled")
}

fn answer(opts: &Options, n: u64, body: &Value) -> Reply {
    let last_user = body
        .get("messages")
        .and_then(Value::as_array)
        .and_then(|m| {
            m.iter()
                .rev()
                .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        })
        .map(|m| text_of(m.get("content")));
    let stream = body.get("stream").and_then(Value::as_bool) == Some(true);
    if let Some(message) = last_user
        .as_deref()
        .and_then(|t| t.trim_start().strip_prefix("fail:"))
        .filter(|_| stream)
    {
        return failing_stream(n, body, message.trim());
    }
    if let Some(a) = tool_answer(n, body, last_user.as_deref()) {
        return a.reply(body);
    }
    let text = openai::reply_text(opts, last_user.as_deref()).into_owned();
    let mut out: Vec<&str> = text.split_whitespace().collect();
    let limit = body
        .get("max_tokens")
        .and_then(Value::as_u64)
        .map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
    let stop = if limit < out.len() {
        out.truncate(limit);
        "max_tokens"
    } else {
        "end_turn"
    };
    let a = Answer {
        id: format!("msg_mock{n}"),
        model: model_of(body),
        content: Content::Text(openai::tokens(&out)),
        stop,
        input: input_tokens(body),
        signature: thinks(body).then(|| format!("sig_mock{n}")),
    };
    a.reply(body)
}

/// The `fail:` rule (see the module docs).
fn failing_stream(n: u64, body: &Value, message: &str) -> Reply {
    let start = json!({"type": "message_start", "message": {
        "id": format!("msg_mock{n}"), "type": "message", "role": "assistant",
        "model": model_of(body), "content": [], "stop_reason": null, "stop_sequence": null,
        "usage": usage(input_tokens(body), 1),
    }});
    let error = json!({"type": "error",
        "error": {"type": "overloaded_error", "message": message}});
    Reply::events(vec![
        event("message_start", &start),
        event("ping", &json!({"type": "ping"})),
        event("error", &error),
    ])
}

fn model_of(body: &Value) -> &str {
    body.get("model")
        .and_then(Value::as_str)
        .unwrap_or("claude-mock")
}

/// The `call:` rule (see the module docs).
fn tool_answer<'b>(n: u64, body: &'b Value, last_user: Option<&str>) -> Option<Answer<'b>> {
    let rest = last_user?.trim_start().strip_prefix("call:")?.trim();
    let name = body.pointer("/tools/0/name").and_then(Value::as_str)?;
    Some(Answer {
        id: format!("msg_mock{n}"),
        model: model_of(body),
        content: Content::Tool {
            id: format!("toolu_mock{n}"),
            name: name.to_owned(),
            input: json!({ "text": rest }),
        },
        stop: "tool_use",
        input: input_tokens(body),
        signature: thinks(body).then(|| format!("sig_mock{n}")),
    })
}

struct Answer<'a> {
    id: String,
    model: &'a str,
    content: Content,
    stop: &'static str,
    /// `(uncached, cached)` input tokens.
    input: (usize, usize),
    /// With thinking on: the thinking block's signature.
    signature: Option<String>,
}

/// A usage object with the cache fields Anthropic always sends.
fn usage((input, cached): (usize, usize), output: usize) -> Value {
    json!({"input_tokens": input, "cache_creation_input_tokens": 0,
           "cache_read_input_tokens": cached, "output_tokens": output})
}

enum Content {
    /// The reply's tokens (words, all but the first with a leading space).
    Text(Vec<String>),
    Tool {
        id: String,
        name: String,
        input: Value,
    },
}

impl Content {
    fn output_tokens(&self) -> usize {
        match self {
            Content::Text(tokens) => tokens.len(),
            Content::Tool { input, .. } => words(&input.to_string()),
        }
    }

    fn block(&self) -> Value {
        match self {
            Content::Text(tokens) => json!({"type": "text", "text": tokens.concat()}),
            Content::Tool { id, name, input } => {
                json!({"type": "tool_use", "id": id, "name": name, "input": input})
            }
        }
    }

    /// The `content_block_start` block and the deltas of the one block.
    fn stream(&self) -> (Value, Vec<Value>) {
        match self {
            Content::Text(tokens) => (
                json!({"type": "text", "text": ""}),
                tokens
                    .iter()
                    .map(|t| json!({"type": "text_delta", "text": t}))
                    .collect(),
            ),
            Content::Tool { id, name, input } => {
                // Anthropic streams the input JSON in arbitrary pieces; two halves here.
                let json = input.to_string();
                let mid = (json.len() / 2..json.len())
                    .find(|i| json.is_char_boundary(*i))
                    .unwrap_or(json.len());
                let (a, b) = json.split_at(mid);
                (
                    json!({"type": "tool_use", "id": id, "name": name, "input": {}}),
                    [a, b]
                        .iter()
                        .map(|p| json!({"type": "input_json_delta", "partial_json": p}))
                        .collect(),
                )
            }
        }
    }
}

impl Answer<'_> {
    fn reply(&self, body: &Value) -> Reply {
        if body.get("stream").and_then(Value::as_bool) == Some(true) {
            Reply::events(self.events())
        } else {
            Reply::json(200, self.message().to_string().into_bytes())
        }
    }

    fn output_tokens(&self) -> usize {
        let thinking = if self.signature.is_some() {
            words(THINKING)
        } else {
            0
        };
        self.content.output_tokens() + thinking
    }

    fn message(&self) -> Value {
        let mut content = Vec::new();
        if let Some(sig) = &self.signature {
            content.push(json!({"type": "thinking", "thinking": THINKING, "signature": sig}));
        }
        content.push(self.content.block());
        json!({
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": content,
            "stop_reason": self.stop,
            "stop_sequence": null,
            "usage": usage(self.input, self.output_tokens()),
        })
    }

    /// The exact Anthropic event sequence (providers.md §3.4), one event per HTTP chunk.
    fn events(&self) -> Vec<Bytes> {
        let start = json!({"type": "message_start", "message": {
            "id": self.id, "type": "message", "role": "assistant", "model": self.model,
            "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": usage(self.input, 1),
        }});
        let mut out = vec![event("message_start", &start)];
        let mut index = 0;
        if let Some(sig) = &self.signature {
            let first = json!({"type": "thinking", "thinking": "", "signature": ""});
            let deltas = [
                json!({"type": "thinking_delta", "thinking": THINKING}),
                json!({"type": "signature_delta", "signature": sig}),
            ];
            block_events(&mut out, index, first, deltas.into_iter());
            index += 1;
        }
        let (first, deltas) = self.content.stream();
        block_events(&mut out, index, first, deltas.into_iter());
        out.push(event(
            "message_delta",
            &json!({"type": "message_delta",
                    "delta": {"stop_reason": self.stop, "stop_sequence": null},
                    "usage": {"output_tokens": self.output_tokens()}}),
        ));
        out.push(event("message_stop", &json!({"type": "message_stop"})));
        out
    }
}

/// One content block's events; a `ping` follows the first block's start, as Anthropic sends.
fn block_events(
    out: &mut Vec<Bytes>,
    index: usize,
    first: Value,
    deltas: impl Iterator<Item = Value>,
) {
    out.push(event(
        "content_block_start",
        &json!({"type": "content_block_start", "index": index, "content_block": first}),
    ));
    if index == 0 {
        out.push(event("ping", &json!({"type": "ping"})));
    }
    for delta in deltas {
        out.push(event(
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": index, "delta": delta}),
        ));
    }
    out.push(event(
        "content_block_stop",
        &json!({"type": "content_block_stop", "index": index}),
    ));
}

fn event(name: &str, data: &Value) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}
