//! The OpenAI side: routing, validation and the (deterministic) answers. Pure functions of the
//! request; no I/O.

use std::borrow::Cow;

use bytes::Bytes;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::http1::Incoming;
use crate::Options;

/// `created` of every response.
pub(crate) const CREATED: u64 = 1_700_000_000;
/// The reply when neither [`Options::reply`] nor `echo:` applies.
pub(crate) const DEFAULT_REPLY: &str = "This is a mock response from the tollgate test provider.";
const FINGERPRINT: &str = "fp_tollgate_mock";
/// Words of prompt overhead per chat message.
const PER_MESSAGE: usize = 3;
/// Floats per embedding unless `dimensions` says otherwise.
const EMBEDDING_DIMS: usize = 8;
/// The one model `GET /v1/models` lists.
const MODEL_ID: &str = "mock-1";

/// A response to write.
pub(crate) struct Reply {
    pub status: u16,
    /// Sent as `content-type` unless empty.
    pub content_type: &'static str,
    /// Further headers, sent as given.
    pub extra: Vec<(String, String)>,
    pub body: ReplyBody,
    /// Close the connection after this reply.
    pub close: bool,
}

pub(crate) enum ReplyBody {
    /// A body with a `content-length`.
    Full(Bytes),
    /// SSE events (each a complete `data: ...\n\n`), one HTTP chunk each.
    Events(Vec<Bytes>),
}

impl Reply {
    pub(crate) fn json(status: u16, body: Vec<u8>) -> Reply {
        Reply {
            status,
            content_type: "application/json",
            extra: Vec::new(),
            body: ReplyBody::Full(Bytes::from(body)),
            close: false,
        }
    }

    pub(crate) fn events(events: Vec<Bytes>) -> Reply {
        Reply {
            status: 200,
            content_type: "text/event-stream",
            extra: Vec::new(),
            body: ReplyBody::Events(events),
            close: false,
        }
    }

    fn error(status: u16, message: &str, kind: &str, code: Option<&str>) -> Reply {
        Reply::json(status, error_body(message, kind, code))
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorObject<'a>,
}

#[derive(Serialize)]
struct ErrorObject<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    param: Option<&'a str>,
    code: Option<&'a str>,
}

fn error_body(message: &str, kind: &str, code: Option<&str>) -> Vec<u8> {
    to_json(&ErrorBody {
        error: ErrorObject {
            message,
            kind,
            param: None,
            code,
        },
    })
}

fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("mock response serialises")
}

/// The reply for a [`crate::Fault::Status`].
pub(crate) fn status_reply(
    status: u16,
    headers: Vec<(String, String)>,
    body: Option<String>,
) -> Reply {
    let user_type = headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
    let body = match body {
        Some(body) => body.into_bytes(),
        None => {
            let (message, kind, code) = default_error(status);
            error_body(&message, kind, code)
        }
    };
    Reply {
        status,
        content_type: if user_type { "" } else { "application/json" },
        extra: headers,
        body: ReplyBody::Full(Bytes::from(body)),
        close: false,
    }
}

/// OpenAI-like `(message, type, code)` for an injected status.
fn default_error(status: u16) -> (Cow<'static, str>, &'static str, Option<&'static str>) {
    let (message, kind, code): (&str, &str, Option<&str>) = match status {
        400 => ("Bad request (injected by the mock provider).", "invalid_request_error", None),
        401 => ("Incorrect API key provided.", "invalid_request_error", Some("invalid_api_key")),
        403 => ("Your request was forbidden.", "invalid_request_error", Some("forbidden")),
        404 => (
            "The model does not exist or you do not have access to it.",
            "invalid_request_error",
            Some("model_not_found"),
        ),
        408 => ("Request timed out.", "timeout", Some("timeout")),
        409 => ("Conflict, please retry.", "invalid_request_error", Some("conflict")),
        413 => ("Request too large.", "invalid_request_error", Some("request_too_large")),
        429 => (
            "Rate limit reached for requests (injected by the mock provider). Please try again later.",
            "requests",
            Some("rate_limit_exceeded"),
        ),
        500 => (
            "The server had an error while processing your request. Sorry about that!",
            "server_error",
            Some("server_error"),
        ),
        502 => ("Bad gateway.", "server_error", Some("bad_gateway")),
        503 => (
            "The engine is currently overloaded, please try again later.",
            "server_error",
            Some("overloaded"),
        ),
        504 => ("Gateway timeout.", "server_error", Some("timeout")),
        s if s >= 500 => {
            return (
                Cow::Owned(format!("Server error {s} (injected by the mock provider).")),
                "server_error",
                Some("server_error"),
            )
        }
        s => {
            return (
                Cow::Owned(format!("Request failed with status {s} (injected by the mock provider).")),
                "invalid_request_error",
                None,
            )
        }
    };
    (Cow::Borrowed(message), kind, code)
}

// ---------------------------------------------------------------------------------------------
// Routing

#[derive(Clone, Copy)]
enum Route<'a> {
    Chat,
    Completions,
    Embeddings,
    Models,
    Model(&'a str),
}

impl Route<'_> {
    fn method(self) -> &'static str {
        match self {
            Route::Chat | Route::Completions | Route::Embeddings => "POST",
            Route::Models | Route::Model(_) => "GET",
        }
    }
}

fn route(path: &str) -> Option<Route<'_>> {
    match path {
        "/v1/chat/completions" => Some(Route::Chat),
        "/v1/completions" => Some(Route::Completions),
        "/v1/embeddings" => Some(Route::Embeddings),
        "/v1/models" => Some(Route::Models),
        _ => match path.strip_prefix("/v1/models/") {
            Some(id) if !id.is_empty() => Some(Route::Model(id)),
            _ => None,
        },
    }
}

/// The path of a request target: no query, no `scheme://authority` (absolute form).
pub(crate) fn path_of(target: &str) -> &str {
    let mut path = target;
    if let Some(rest) = path
        .strip_prefix("http://")
        .or_else(|| path.strip_prefix("https://"))
    {
        path = rest.find('/').map_or("/", |i| &rest[i..]);
    }
    path.split(['?', '#']).next().unwrap_or_default()
}

/// Answers one request: the reply, and every problem found (empty when the request was fine).
pub(crate) fn handle(opts: &Options, n: u64, req: &Incoming) -> (Reply, Vec<String>) {
    let mut problems = req.problems.clone();
    if !problems.is_empty() {
        // Broken framing (or an unreadable head): the rest of the request can't be trusted.
        let mut reply = invalid(&problems);
        reply.close = true;
        return (reply, problems);
    }

    let path = path_of(&req.target);
    if let Some((_, stream)) = crate::bedrock::route(path) {
        return crate::bedrock::handle(opts, n, req, stream);
    }
    if let Some(answer) = crate::compat::handle(opts, n, req) {
        return answer;
    }
    if path == crate::responses::PATH {
        return crate::responses::handle(opts, n, req);
    }
    if path == crate::anthropic::PATH {
        return crate::anthropic::handle(opts, n, req);
    }
    if path == crate::anthropic::COUNT_TOKENS_PATH {
        return crate::anthropic::count_tokens(opts, req);
    }
    if crate::gemini::is_gemini(&req.target) {
        return crate::gemini::handle(opts, n, req);
    }
    if path == "/v1/models" && req.header("anthropic-version").is_some() {
        return crate::anthropic::models(opts, req);
    }
    let Some(route) = route(path) else {
        problems.push(format!("no such endpoint: {} {}", req.method, req.target));
        let message = format!("Invalid URL ({} {})", req.method, path);
        return (
            Reply::error(404, &message, "invalid_request_error", None),
            problems,
        );
    };
    if req.method != route.method() {
        problems.push(format!(
            "method {} not allowed for {path} (use {})",
            req.method,
            route.method()
        ));
        let message = format!(
            "Method {} is not allowed for {path}; use {}.",
            req.method,
            route.method()
        );
        let mut reply = Reply::error(
            405,
            &message,
            "invalid_request_error",
            Some("method_not_allowed"),
        );
        reply.extra.push(("allow".into(), route.method().into()));
        return (reply, problems);
    }

    let auth_error = opts.api_key.as_deref().and_then(|key| {
        let (problem, message) = match req.header("authorization") {
            None => (
                "authorization header missing".to_owned(),
                "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).".to_owned(),
            ),
            Some(v) if v.strip_prefix("Bearer ") == Some(key) => return None,
            Some(v) => (
                format!("authorization header {v:?} is not \"Bearer <the configured key>\""),
                format!("Incorrect API key provided: {}.", mask_key(v)),
            ),
        };
        problems.push(problem);
        Some(message)
    });

    let body = if route.method() == "POST" {
        let problems_before = problems.len();
        let body = parse_body(opts.validate, req, &mut problems);
        if opts.validate && problems.len() == problems_before {
            if let Some(obj) = body.as_object() {
                match route {
                    Route::Chat => validate_chat(obj, &mut problems),
                    Route::Completions => validate_completions(obj, &mut problems),
                    Route::Embeddings => validate_embeddings(obj, &mut problems),
                    Route::Models | Route::Model(_) => {}
                }
            }
        }
        body
    } else {
        Value::Null
    };

    if let Some(message) = auth_error {
        let reply = Reply::error(
            401,
            &message,
            "invalid_request_error",
            Some("invalid_api_key"),
        );
        return (reply, problems);
    }
    if !problems.is_empty() {
        return (invalid(&problems), problems);
    }

    let reply = match route {
        Route::Chat => chat(opts, n, &body),
        Route::Completions => completions(opts, n, &body),
        Route::Embeddings => embeddings(&body),
        Route::Models => models(),
        Route::Model(id) => Reply::json(200, to_json(&ModelObject::new(id))),
    };
    (reply, problems)
}

/// The 400 for a list of problems.
pub(crate) fn invalid(problems: &[String]) -> Reply {
    let message = format!("Invalid request: {}", problems.join("; "));
    Reply::error(400, &message, "invalid_request_error", None)
}

/// `sk-abc...xyz`-style masking for the 401 message.
fn mask_key(header: &str) -> String {
    let key = header.strip_prefix("Bearer ").unwrap_or(header);
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 8 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}***{tail}")
}

/// Parses a POST body (recording content-type and JSON problems when validating).
pub(crate) fn parse_body(validate: bool, req: &Incoming, problems: &mut Vec<String>) -> Value {
    if validate {
        let is_json = req.header("content-type").is_some_and(|ct| {
            ct.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .eq_ignore_ascii_case("application/json")
        });
        if !is_json {
            problems.push(format!(
                "content-type must be application/json (got {:?})",
                req.header("content-type").unwrap_or("none")
            ));
        }
    }
    match serde_json::from_slice::<Value>(&req.body) {
        Ok(v) => {
            if validate && !v.is_object() {
                problems.push("body must be a JSON object".into());
            }
            v
        }
        Err(e) => {
            if validate {
                problems.push(format!("body is not valid JSON: {e}"));
            }
            Value::Null
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Validation

const ROLES: [&str; 5] = ["system", "developer", "user", "assistant", "tool"];

fn validate_model(obj: &Map<String, Value>, p: &mut Vec<String>) {
    match obj.get("model") {
        Some(Value::String(s)) if !s.is_empty() => {}
        Some(Value::String(_)) => p.push("model: must not be empty".into()),
        Some(_) => p.push("model: must be a string".into()),
        None => p.push("model: required".into()),
    }
}

fn validate_chat(obj: &Map<String, Value>, p: &mut Vec<String>) {
    validate_model(obj, p);
    match obj.get("messages") {
        None => p.push("messages: required".into()),
        Some(Value::Array(msgs)) if msgs.is_empty() => p.push("messages: must not be empty".into()),
        Some(Value::Array(msgs)) => {
            for (i, m) in msgs.iter().enumerate() {
                validate_message(i, m, p);
            }
        }
        Some(_) => p.push("messages: must be an array".into()),
    }
    validate_stream(obj, p);
    validate_count(obj, "max_tokens", p);
    validate_count(obj, "max_completion_tokens", p);
}

fn validate_message(i: usize, m: &Value, p: &mut Vec<String>) {
    let Some(msg) = m.as_object() else {
        p.push(format!("messages[{i}]: must be an object"));
        return;
    };
    let role = msg.get("role").and_then(Value::as_str);
    match role {
        Some(r) if ROLES.contains(&r) => {}
        Some(r) => p.push(format!(
            "messages[{i}].role: {r:?} is not one of {}",
            ROLES.join(", ")
        )),
        None => p.push(format!("messages[{i}].role: required string")),
    }
    match msg.get("content") {
        Some(Value::String(_)) => {}
        Some(Value::Array(parts)) => {
            for (j, part) in parts.iter().enumerate() {
                if !part.get("type").is_some_and(Value::is_string) {
                    p.push(format!(
                        "messages[{i}].content[{j}]: must be an object with a string \"type\""
                    ));
                }
            }
        }
        None | Some(Value::Null) => {
            let has_calls = |k: &str| match msg.get(k) {
                Some(Value::Array(a)) => !a.is_empty(),
                Some(Value::Object(_)) => true,
                _ => false,
            };
            if !(role == Some("assistant")
                && (has_calls("tool_calls") || has_calls("function_call")))
            {
                p.push(format!(
                    "messages[{i}].content: required (null or absent only for an assistant message with tool_calls)"
                ));
            }
        }
        Some(_) => p.push(format!(
            "messages[{i}].content: must be a string or an array of content parts"
        )),
    }
    if role == Some("tool") {
        match msg.get("tool_call_id") {
            Some(Value::String(s)) if !s.is_empty() => {}
            _ => p.push(format!(
                "messages[{i}].tool_call_id: required (non-empty string) for tool messages"
            )),
        }
    }
}

fn validate_stream(obj: &Map<String, Value>, p: &mut Vec<String>) {
    let stream = match obj.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            p.push("stream: must be a boolean".into());
            false
        }
    };
    match obj.get("stream_options") {
        None | Some(Value::Null) => {}
        Some(so) => {
            if !stream {
                p.push("stream_options: only allowed when stream is true".into());
            }
            match so {
                Value::Object(o) => {
                    if o.get("include_usage").is_some_and(|v| !v.is_boolean()) {
                        p.push("stream_options.include_usage: must be a boolean".into());
                    }
                }
                _ => p.push("stream_options: must be an object".into()),
            }
        }
    }
}

fn validate_count(obj: &Map<String, Value>, key: &str, p: &mut Vec<String>) {
    match obj.get(key) {
        None | Some(Value::Null) => {}
        Some(v) if v.as_u64().is_some() => {}
        Some(v) => p.push(format!("{key}: must be a non-negative integer (got {v})")),
    }
}

fn validate_completions(obj: &Map<String, Value>, p: &mut Vec<String>) {
    validate_model(obj, p);
    validate_text_input(obj, "prompt", false, p);
    validate_stream(obj, p);
    validate_count(obj, "max_tokens", p);
}

fn validate_embeddings(obj: &Map<String, Value>, p: &mut Vec<String>) {
    validate_model(obj, p);
    validate_text_input(obj, "input", true, p);
    match obj.get("encoding_format") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if s == "float" || s == "base64" => {}
        Some(v) => p.push(format!(
            "encoding_format: must be \"float\" or \"base64\" (got {v})"
        )),
    }
    match obj.get("dimensions") {
        None | Some(Value::Null) => {}
        Some(v) if v.as_u64().is_some_and(|d| (1..=4096).contains(&d)) => {}
        Some(v) => p.push(format!(
            "dimensions: must be an integer from 1 to 4096 (got {v})"
        )),
    }
}

/// `prompt` / `input`: a string, strings, token integers, or arrays of token integers.
fn validate_text_input(obj: &Map<String, Value>, key: &str, non_empty: bool, p: &mut Vec<String>) {
    let is_tokens = |v: &Value| {
        v.as_array()
            .is_some_and(|a| !a.is_empty() && a.iter().all(|t| t.as_u64().is_some()))
    };
    match obj.get(key) {
        None | Some(Value::Null) => p.push(format!("{key}: required")),
        Some(Value::String(s)) => {
            if non_empty && s.is_empty() {
                p.push(format!("{key}: must not be an empty string"));
            }
        }
        Some(Value::Array(items)) if items.is_empty() => {
            p.push(format!("{key}: must not be an empty array"))
        }
        Some(v @ Value::Array(items)) => {
            let ok = items.iter().all(Value::is_string)
                || is_tokens(v)
                || items.iter().all(is_tokens);
            if !ok {
                p.push(format!(
                    "{key}: must be a string, an array of strings, an array of integers or an array of integer arrays"
                ));
            } else if non_empty && items.iter().any(|s| s.as_str() == Some("")) {
                p.push(format!("{key}: must not contain empty strings"));
            }
        }
        Some(_) => p.push(format!(
            "{key}: must be a string, an array of strings, an array of integers or an array of integer arrays"
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// Answers

fn words(s: &str) -> usize {
    s.split_whitespace().count()
}

/// The text of a message `content`: the string, or the `text` parts joined with `\n`.
fn content_text(content: Option<&Value>) -> Cow<'_, str> {
    match content {
        Some(Value::String(s)) => Cow::Borrowed(s),
        Some(Value::Array(parts)) => {
            let texts: Vec<&str> = parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect();
            match texts.as_slice() {
                [one] => Cow::Borrowed(one),
                _ => Cow::Owned(texts.join("\n")),
            }
        }
        _ => Cow::Borrowed(""),
    }
}

/// Words in a message `content` (string, or the `text` of its parts).
fn content_words(content: Option<&Value>) -> usize {
    match content {
        Some(Value::String(s)) => words(s),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .map(words)
            .sum(),
        _ => 0,
    }
}

/// The completion text (see the crate docs).
pub(crate) fn reply_text<'a>(opts: &'a Options, last_user: Option<&str>) -> Cow<'a, str> {
    if let Some(reply) = &opts.reply {
        return Cow::Borrowed(reply);
    }
    if let Some(rest) = last_user.and_then(|t| t.trim_start().strip_prefix("echo:")) {
        return Cow::Owned(rest.trim().to_owned());
    }
    Cow::Borrowed(DEFAULT_REPLY)
}

/// `max_completion_tokens` / `max_tokens` (the smaller if both).
fn max_tokens(body: &Value) -> Option<usize> {
    let get = |k: &str| body.get(k).and_then(Value::as_u64);
    let limit = match (get("max_completion_tokens"), get("max_tokens")) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    limit.map(|l| usize::try_from(l).unwrap_or(usize::MAX))
}

/// The words to emit and the finish reason.
fn generate<'t>(text: &'t str, body: &Value) -> (Vec<&'t str>, &'static str) {
    let mut out: Vec<&str> = text.split_whitespace().collect();
    match max_tokens(body) {
        Some(limit) if limit < out.len() => {
            out.truncate(limit);
            (out, "length")
        }
        _ => (out, "stop"),
    }
}

/// The tokens of a word list as streamed: every word after the first with a leading space.
pub(crate) fn tokens(words: &[&str]) -> Vec<String> {
    words
        .iter()
        .enumerate()
        .map(|(i, w)| {
            if i == 0 {
                (*w).to_owned()
            } else {
                format!(" {w}")
            }
        })
        .collect()
}

fn model_of(body: &Value) -> &str {
    body.get("model")
        .and_then(Value::as_str)
        .unwrap_or(MODEL_ID)
}

fn is_stream(body: &Value) -> bool {
    body.get("stream").and_then(Value::as_bool).unwrap_or(false)
}

fn include_usage(body: &Value) -> bool {
    body.pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

fn sse_event<T: Serialize>(value: &T) -> Bytes {
    let mut out = Vec::with_capacity(320);
    out.extend_from_slice(b"data: ");
    serde_json::to_writer(&mut out, value).expect("mock chunk serialises");
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

const DONE: &[u8] = b"data: [DONE]\n\n";

#[derive(Serialize, Default, Clone, Copy)]
struct PromptDetails {
    cached_tokens: u32,
    audio_tokens: u32,
}

#[derive(Serialize, Default, Clone, Copy)]
struct CompletionDetails {
    reasoning_tokens: u32,
    audio_tokens: u32,
    accepted_prediction_tokens: u32,
    rejected_prediction_tokens: u32,
}

#[derive(Serialize, Clone, Copy)]
struct ChatUsage {
    prompt_tokens: usize,
    completion_tokens: usize,
    total_tokens: usize,
    prompt_tokens_details: PromptDetails,
    completion_tokens_details: CompletionDetails,
}

impl ChatUsage {
    fn new(prompt: usize, completion: usize) -> Self {
        ChatUsage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: prompt + completion,
            prompt_tokens_details: PromptDetails::default(),
            completion_tokens_details: CompletionDetails::default(),
        }
    }
}

#[derive(Serialize)]
struct ChatCompletion<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: [ChatChoice<'a>; 1],
    usage: ChatUsage,
    service_tier: &'static str,
    system_fingerprint: &'static str,
}

#[derive(Serialize)]
struct ChatChoice<'a> {
    index: u32,
    message: ChatMessage<'a>,
    logprobs: Option<()>,
    finish_reason: &'a str,
}

#[derive(Serialize)]
struct ChatMessage<'a> {
    role: &'static str,
    content: &'a str,
    refusal: Option<()>,
    annotations: [(); 0],
}

#[derive(Serialize)]
struct ChatChunk<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    service_tier: &'static str,
    system_fingerprint: &'static str,
    choices: &'a [ChunkChoice<'a>],
    /// Absent without `include_usage`; `null` on the chunks before the usage chunk.
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Option<&'a ChatUsage>>,
}

#[derive(Serialize)]
struct ChunkChoice<'a> {
    index: u32,
    delta: Delta<'a>,
    logprobs: Option<()>,
    finish_reason: Option<&'a str>,
}

fn chunk_choice<'a>(delta: Delta<'a>, finish: Option<&'a str>) -> ChunkChoice<'a> {
    ChunkChoice {
        index: 0,
        delta,
        logprobs: None,
        finish_reason: finish,
    }
}

#[derive(Serialize)]
struct Delta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<&'a str>,
}

fn chat(opts: &Options, n: u64, body: &Value) -> Reply {
    let empty = Vec::new();
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    let prompt_tokens: usize = messages
        .iter()
        .map(|m| PER_MESSAGE + content_words(m.get("content")))
        .sum();
    let last_user = messages
        .iter()
        .rev()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        .map(|m| content_text(m.get("content")));
    let text = reply_text(opts, last_user.as_deref());
    let (words, finish) = generate(&text, body);
    let usage = ChatUsage::new(prompt_tokens, words.len());
    let id = format!("chatcmpl-mock{n}");
    let model = model_of(body);

    if !is_stream(body) {
        let content = words.join(" ");
        let completion = ChatCompletion {
            id: &id,
            object: "chat.completion",
            created: CREATED,
            model,
            choices: [ChatChoice {
                index: 0,
                message: ChatMessage {
                    role: "assistant",
                    content: &content,
                    refusal: None,
                    annotations: [],
                },
                logprobs: None,
                finish_reason: finish,
            }],
            usage,
            service_tier: "default",
            system_fingerprint: FINGERPRINT,
        };
        return Reply::json(200, to_json(&completion));
    }

    let with_usage = include_usage(body);
    let chunk = |choices: &[ChunkChoice<'_>], usage: Option<&ChatUsage>| {
        sse_event(&ChatChunk {
            id: &id,
            object: "chat.completion.chunk",
            created: CREATED,
            model,
            service_tier: "default",
            system_fingerprint: FINGERPRINT,
            choices,
            usage: with_usage.then_some(usage),
        })
    };

    let mut events = Vec::with_capacity(words.len() + 4);
    let first = Delta {
        role: Some("assistant"),
        content: Some(""),
    };
    events.push(chunk(&[chunk_choice(first, None)], None));
    for token in tokens(&words) {
        let delta = Delta {
            role: None,
            content: Some(&token),
        };
        events.push(chunk(&[chunk_choice(delta, None)], None));
    }
    let last = Delta {
        role: None,
        content: None,
    };
    events.push(chunk(&[chunk_choice(last, Some(finish))], None));
    if with_usage {
        events.push(chunk(&[], Some(&usage)));
    }
    events.push(Bytes::from_static(DONE));
    Reply::events(events)
}

#[derive(Serialize, Clone, Copy)]
struct TextUsage {
    prompt_tokens: usize,
    completion_tokens: usize,
    total_tokens: usize,
}

#[derive(Serialize)]
struct TextCompletion<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    system_fingerprint: &'static str,
    choices: &'a [TextChoice<'a>],
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Option<&'a TextUsage>>,
}

#[derive(Serialize)]
struct TextChoice<'a> {
    text: &'a str,
    index: u32,
    logprobs: Option<()>,
    finish_reason: Option<&'a str>,
}

/// The prompt's text for the `echo:` rule (a string, or the last string of an array) and its
/// token count.
fn prompt_info(prompt: Option<&Value>) -> (Option<&str>, usize) {
    match prompt {
        Some(Value::String(s)) => (Some(s), words(s)),
        Some(Value::Array(items)) => {
            let count = items
                .iter()
                .map(|item| match item {
                    Value::String(s) => words(s),
                    Value::Array(tokens) => tokens.len(),
                    Value::Number(_) => 1,
                    _ => 0,
                })
                .sum();
            let last = items.iter().rev().find_map(Value::as_str);
            (last, count)
        }
        _ => (None, 0),
    }
}

fn completions(opts: &Options, n: u64, body: &Value) -> Reply {
    let (prompt, prompt_tokens) = prompt_info(body.get("prompt"));
    let text = reply_text(opts, prompt);
    let (words, finish) = generate(&text, body);
    let usage = TextUsage {
        prompt_tokens,
        completion_tokens: words.len(),
        total_tokens: prompt_tokens + words.len(),
    };
    let id = format!("cmpl-mock{n}");
    let model = model_of(body);
    let object = |choices: &[TextChoice<'_>], usage: Option<Option<&TextUsage>>, sse: bool| {
        let completion = TextCompletion {
            id: &id,
            object: "text_completion",
            created: CREATED,
            model,
            system_fingerprint: FINGERPRINT,
            choices,
            usage,
        };
        if sse {
            sse_event(&completion)
        } else {
            Bytes::from(to_json(&completion))
        }
    };

    if !is_stream(body) {
        let content = words.join(" ");
        let choices = [text_choice(&content, Some(finish))];
        return Reply::json(200, object(&choices, Some(Some(&usage)), false).into());
    }

    let with_usage = include_usage(body);
    let no_usage = with_usage.then_some(None);
    let mut events = Vec::with_capacity(words.len() + 3);
    for token in tokens(&words) {
        events.push(object(&[text_choice(&token, None)], no_usage, true));
    }
    events.push(object(&[text_choice("", Some(finish))], no_usage, true));
    if with_usage {
        events.push(object(&[], Some(Some(&usage)), true));
    }
    events.push(Bytes::from_static(DONE));
    Reply::events(events)
}

fn text_choice<'a>(text: &'a str, finish: Option<&'a str>) -> TextChoice<'a> {
    TextChoice {
        text,
        index: 0,
        logprobs: None,
        finish_reason: finish,
    }
}

#[derive(Serialize)]
struct EmbeddingList<'a> {
    object: &'static str,
    data: Vec<Embedding>,
    model: &'a str,
    usage: EmbeddingUsage,
}

#[derive(Serialize)]
struct Embedding {
    object: &'static str,
    index: usize,
    embedding: EmbeddingData,
}

#[derive(Serialize)]
#[serde(untagged)]
enum EmbeddingData {
    Floats(Vec<f32>),
    Base64(String),
}

#[derive(Serialize)]
struct EmbeddingUsage {
    prompt_tokens: usize,
    total_tokens: usize,
}

/// One embedding input: its hash seed and token count.
fn embedding_input(item: &Value) -> (u64, usize) {
    match item {
        Value::String(s) => (fnv1a(FNV_OFFSET, s.as_bytes()), words(s)),
        Value::Array(tokens) => {
            let mut h = fnv1a(FNV_OFFSET, b"tokens:");
            for t in tokens {
                h = fnv1a(h, &t.as_i64().unwrap_or_default().to_le_bytes());
            }
            (h, tokens.len())
        }
        other => (fnv1a(FNV_OFFSET, other.to_string().as_bytes()), 0),
    }
}

fn embeddings(body: &Value) -> Reply {
    let inputs: Vec<(u64, usize)> = match body.get("input") {
        Some(tokens @ Value::Array(items)) if items.iter().all(|i| i.as_u64().is_some()) => {
            vec![embedding_input(tokens)]
        }
        Some(Value::Array(items)) => items.iter().map(embedding_input).collect(),
        Some(other) => vec![embedding_input(other)],
        None => vec![embedding_input(&Value::String(String::new()))],
    };
    let dims = body
        .get("dimensions")
        .and_then(Value::as_u64)
        .filter(|d| (1..=4096).contains(d))
        .map_or(EMBEDDING_DIMS, |d| d as usize);
    let base64 = body.get("encoding_format").and_then(Value::as_str) == Some("base64");
    let prompt_tokens = inputs.iter().map(|(_, t)| t).sum();
    let data = inputs
        .iter()
        .enumerate()
        .map(|(index, (seed, _))| {
            let v = unit_vector(*seed, dims);
            let embedding = if base64 {
                let bytes: Vec<u8> = v.iter().flat_map(|f| f.to_le_bytes()).collect();
                EmbeddingData::Base64(base64_encode(&bytes))
            } else {
                EmbeddingData::Floats(v)
            };
            Embedding {
                object: "embedding",
                index,
                embedding,
            }
        })
        .collect();
    let list = EmbeddingList {
        object: "list",
        data,
        model: model_of(body),
        usage: EmbeddingUsage {
            prompt_tokens,
            total_tokens: prompt_tokens,
        },
    };
    Reply::json(200, to_json(&list))
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

fn fnv1a(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `dims` floats in [-1, 1) from `seed`, scaled to length 1.
pub(crate) fn unit_vector(seed: u64, dims: usize) -> Vec<f32> {
    let mut state = seed;
    let mut v: Vec<f32> = (0..dims)
        .map(|_| (splitmix64(&mut state) >> 40) as f32 / (1u64 << 23) as f32 - 1.0)
        .collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

/// Standard base64 with padding.
pub(crate) fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[derive(Serialize)]
struct ModelObject<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    owned_by: &'static str,
}

impl<'a> ModelObject<'a> {
    fn new(id: &'a str) -> Self {
        ModelObject {
            id,
            object: "model",
            created: CREATED,
            owned_by: "tollgate-mock",
        }
    }
}

#[derive(Serialize)]
struct ModelList<'a> {
    object: &'static str,
    data: [ModelObject<'a>; 1],
}

fn models() -> Reply {
    let list = ModelList {
        object: "list",
        data: [ModelObject::new(MODEL_ID)],
    };
    Reply::json(200, to_json(&list))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_vectors() {
        assert_eq!(base64_encode(b""), "");
        assert_eq!(base64_encode(b"f"), "Zg==");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        assert_eq!(base64_encode(b"foo"), "Zm9v");
        assert_eq!(base64_encode(b"foob"), "Zm9vYg==");
        assert_eq!(base64_encode(b"fooba"), "Zm9vYmE=");
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64_encode(&[0xff, 0xfe, 0xfd]), "//79");
    }

    #[test]
    fn unit_vectors_are_deterministic_and_normalised() {
        let a = unit_vector(42, 8);
        assert_eq!(a, unit_vector(42, 8));
        assert_ne!(a, unit_vector(43, 8));
        let norm: f32 = a.iter().map(|x| x * x).sum();
        assert!((norm - 1.0).abs() < 1e-5, "{norm}");
        assert!(a.iter().all(|x| x.abs() <= 1.0));
    }

    #[test]
    fn paths() {
        assert_eq!(path_of("/v1/models?limit=1"), "/v1/models");
        assert_eq!(path_of("http://h:1/v1/models"), "/v1/models");
        assert_eq!(path_of("http://h:1"), "/");
        assert!(matches!(route("/v1/models/a/b"), Some(Route::Model("a/b"))));
        assert!(route("/v1/models/").is_none());
        assert!(route("/v1/chat/completions/").is_none());
    }

    #[test]
    fn reply_rules() {
        let opts = Options::default();
        assert_eq!(reply_text(&opts, Some("echo:  a b ")), "a b");
        assert_eq!(reply_text(&opts, Some(" echo:x")), "x");
        assert_eq!(reply_text(&opts, Some("hi echo: x")), DEFAULT_REPLY);
        assert_eq!(reply_text(&opts, None), DEFAULT_REPLY);
        let fixed = Options {
            reply: Some("fixed".into()),
            ..Options::default()
        };
        assert_eq!(reply_text(&fixed, Some("echo: x")), "fixed");
        assert_eq!(tokens(&["a", "b", "c"]), ["a", " b", " c"]);
    }

    #[test]
    fn token_limits() {
        let body = serde_json::json!({"max_tokens": 5, "max_completion_tokens": 2});
        assert_eq!(generate("a b c", &body), (vec!["a", "b"], "length"));
        let body = serde_json::json!({"max_tokens": 3});
        assert_eq!(generate("a b c", &body), (vec!["a", "b", "c"], "stop"));
        assert_eq!(generate("a\n b", &Value::Null), (vec!["a", "b"], "stop"));
    }

    #[test]
    fn default_errors_match_status() {
        assert_eq!(default_error(429).2, Some("rate_limit_exceeded"));
        assert_eq!(default_error(500).1, "server_error");
        assert_eq!(default_error(503).2, Some("overloaded"));
        assert_eq!(default_error(599).1, "server_error");
        assert_eq!(default_error(418).1, "invalid_request_error");
    }
}
