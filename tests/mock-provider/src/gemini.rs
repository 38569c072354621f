//! The Gemini side (providers.md §4): `POST /{version}/models/{model}:generateContent`,
//! `:streamGenerateContent?alt=sse`, `:batchEmbedContents` and `GET /{version}/models`, for any
//! version segment (`v1beta`, `v1`). Pure functions of the request; no I/O.
//!
//! Auth: with [`Options::api_key`], `x-goog-api-key` must be the key (else 400
//! `INVALID_ARGUMENT` with reason `API_KEY_INVALID`, as Google answers); a `key=` query
//! parameter is recorded as a problem (keys belong in the header). Validation: see
//! `gemini_validate`. Replies follow the crate's rules (reply text, `echo:`, one token per
//! word, `maxOutputTokens` → `MAX_TOKENS`). Usage: `promptTokenCount` = 3 + words for the
//! system instruction and each content, `candidatesTokenCount` = words emitted,
//! `thoughtsTokenCount` = 2 (so the thinking mapping is exercised), `totalTokenCount` = all.
//! Rules on the last user turn's text: `call:` calls every declared function (up to 2, so two
//! tools give parallel calls) with `{"text": <rest>}`; `block:` answers a blocked prompt
//! (`promptFeedback.blockReason`, no candidates); `fail:` on a stream sends one text chunk and
//! then Google's raw JSON error object (`UNAVAILABLE`). A user turn of function responses is
//! answered with `results for <name> <name>...`. Streams send one event per word, each event
//! split in two HTTP chunks (so clients must reassemble), usage on every event (cumulative),
//! `finishReason` on the last. Embeddings: one unit vector of 8 floats (or
//! `outputDimensionality`) per request, from a hash of its text.

use bytes::Bytes;
use serde_json::{json, Value};

use crate::gemini_validate;
use crate::http1::Incoming;
use crate::openai::{self, Reply};
use crate::Options;

/// Words of prompt overhead per content.
const PER_CONTENT: usize = 3;
/// Thinking tokens reported on every answer.
const THOUGHTS: usize = 2;

enum Call<'a> {
    Generate { model: &'a str, stream: bool },
    Embed { model: &'a str },
    Models,
}

/// Whether a request target is a Gemini endpoint.
pub(crate) fn is_gemini(target: &str) -> bool {
    call(openai::path_of(target)).is_some()
}

fn call(path: &str) -> Option<Call<'_>> {
    let rest = path.strip_prefix('/')?;
    let (version, rest) = rest.split_once('/')?;
    if !version.starts_with('v') || version == "v1" && !rest.contains(':') && rest != "models" {
        return None;
    }
    if rest == "models" {
        return (version != "v1").then_some(Call::Models);
    }
    let (model, method) = rest.strip_prefix("models/")?.split_once(':')?;
    match method {
        "generateContent" => Some(Call::Generate {
            model,
            stream: false,
        }),
        "streamGenerateContent" => Some(Call::Generate {
            model,
            stream: true,
        }),
        "batchEmbedContents" => Some(Call::Embed { model }),
        _ => None,
    }
}

/// A Google RPC error reply.
pub(crate) fn error(code: u16, status: &str, message: &str, details: Value) -> Reply {
    let body =
        json!({"error": {"code": code, "message": message, "status": status, "details": details}});
    Reply::json(code, body.to_string().into_bytes())
}

/// The reply for a [`crate::Fault::Status`] on a Gemini endpoint: 429 carries Google's
/// `QuotaFailure` and `RetryInfo` (`retryDelay: "3s"`) details.
pub(crate) fn status_reply(
    status: u16,
    headers: Vec<(String, String)>,
    body: Option<String>,
) -> Reply {
    let body = body.unwrap_or_else(|| {
        let (name, details) = match status {
            429 => ("RESOURCE_EXHAUSTED", json!([
                {"@type": "type.googleapis.com/google.rpc.QuotaFailure",
                 "violations": [{"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                                 "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"}]},
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "3s"}])),
            400 => ("INVALID_ARGUMENT", json!([])),
            403 => ("PERMISSION_DENIED", json!([])),
            404 => ("NOT_FOUND", json!([])),
            503 => ("UNAVAILABLE", json!([])),
            504 => ("DEADLINE_EXCEEDED", json!([])),
            _ => ("INTERNAL", json!([])),
        };
        let message = format!("Injected by the mock provider (status {status}).");
        json!({"error": {"code": status, "message": message, "status": name, "details": details}}).to_string()
    });
    openai::status_reply(status, headers, Some(body))
}

/// Answers one Gemini request: the reply, and every problem found.
pub(crate) fn handle(opts: &Options, n: u64, req: &Incoming) -> (Reply, Vec<String>) {
    let mut problems = req.problems.clone();
    let Some(c) = call(openai::path_of(&req.target)) else {
        problems.push(format!("no such Gemini endpoint: {}", req.target));
        return (error(404, "NOT_FOUND", "Not found.", json!([])), problems);
    };
    let want = if matches!(c, Call::Models) {
        "GET"
    } else {
        "POST"
    };
    if req.method != want {
        problems.push(format!(
            "method {} not allowed for {}",
            req.method, req.target
        ));
        return (
            error(405, "INVALID_ARGUMENT", "Method not allowed.", json!([])),
            problems,
        );
    }
    let query = req.target.split_once('?').map_or("", |(_, q)| q);
    if query.split('&').any(|kv| kv.starts_with("key=")) {
        problems.push("the API key is in the URL (use x-goog-api-key)".into());
    }
    if let Some(key) = opts.api_key.as_deref() {
        if req.header("x-goog-api-key") != Some(key) {
            problems.push("x-goog-api-key is missing or not the configured key".into());
            let details = json!([{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                  "reason": "API_KEY_INVALID", "domain": "googleapis.com"}]);
            let reply = error(
                400,
                "INVALID_ARGUMENT",
                "API key not valid. Please pass a valid API key.",
                details,
            );
            return (reply, problems);
        }
    }
    if let Call::Models = c {
        let body = json!({"models": [{"name": "models/gemini-mock", "displayName": "Gemini Mock",
            "supportedGenerationMethods": ["generateContent", "countTokens"]}]});
        return (Reply::json(200, body.to_string().into_bytes()), problems);
    }
    let body = openai::parse_body(opts.validate, req, &mut problems);
    if opts.validate {
        if let Call::Generate { stream: true, .. } = c {
            if !query.split('&').any(|kv| kv == "alt=sse") {
                problems.push("streamGenerateContent without alt=sse streams a JSON array".into());
            }
        }
        if let Some(obj) = body.as_object() {
            match c {
                Call::Embed { model } => validate_embed(obj, model, &mut problems),
                _ => gemini_validate::validate(obj, &mut problems),
            }
        }
    }
    if !problems.is_empty() {
        let message = format!("Invalid request: {}", problems.join("; "));
        return (
            error(400, "INVALID_ARGUMENT", &message, json!([])),
            problems,
        );
    }
    let reply = match c {
        Call::Generate { model, stream } => generate(opts, n, model, stream, &body),
        Call::Embed { .. } => embed(&body),
        Call::Models => unreachable!("answered above"),
    };
    (reply, problems)
}

fn validate_embed(obj: &serde_json::Map<String, Value>, model: &str, p: &mut Vec<String>) {
    let Some(reqs) = obj
        .get("requests")
        .and_then(Value::as_array)
        .filter(|r| !r.is_empty())
    else {
        return p.push("requests: required non-empty array".into());
    };
    for (i, r) in reqs.iter().enumerate() {
        if r.get("model").and_then(Value::as_str) != Some(&format!("models/{model}")) {
            p.push(format!(
                "requests[{i}].model: must be \"models/{model}\" like the URL"
            ));
        }
        let text = r
            .pointer("/content/parts/0/text")
            .is_some_and(Value::is_string);
        if !text {
            p.push(format!("requests[{i}].content: a text part is required"));
        }
        if let Some(d) = r.get("outputDimensionality") {
            if !d.as_u64().is_some_and(|d| (1..=3072).contains(&d)) {
                p.push(format!("requests[{i}].outputDimensionality: invalid {d}"));
            }
        }
    }
}

fn words(s: &str) -> usize {
    s.split_whitespace().count()
}

fn text_of(content: &Value) -> String {
    content
        .get("parts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| p.get("text").and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join("\n")
}

fn prompt_tokens(body: &Value) -> usize {
    let system = body
        .get("systemInstruction")
        .map_or(0, |s| PER_CONTENT + words(&text_of(s)));
    let contents: usize = body
        .get("contents")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| PER_CONTENT + words(&text_of(c)))
        .sum();
    system + contents
}

/// What the model "says": text words, or function calls.
enum Output {
    Text(Vec<String>, &'static str),
    Calls(Vec<Value>),
    Blocked,
}

fn output(opts: &Options, body: &Value) -> Output {
    let last_user = body
        .get("contents")
        .and_then(Value::as_array)
        .and_then(|c| {
            c.iter()
                .rev()
                .find(|c| c.get("role").and_then(Value::as_str) == Some("user"))
        });
    let responses: Vec<&str> = last_user
        .and_then(|c| c.get("parts").and_then(Value::as_array))
        .into_iter()
        .flatten()
        .filter_map(|p| p.pointer("/functionResponse/name").and_then(Value::as_str))
        .collect();
    let text = last_user.map(text_of);
    let trimmed = text.as_deref().map(str::trim_start).unwrap_or_default();
    if trimmed.starts_with("block:") {
        return Output::Blocked;
    }
    if let Some(rest) = trimmed.strip_prefix("call:") {
        let names: Vec<&str> = body
            .pointer("/tools/0/functionDeclarations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|d| d.get("name").and_then(Value::as_str))
            .take(2)
            .collect();
        if !names.is_empty() {
            let calls = names
                .iter()
                .map(|n| json!({"functionCall": {"name": n, "args": {"text": rest.trim()}}}))
                .collect();
            return Output::Calls(calls);
        }
    }
    let reply = if responses.is_empty() {
        openai::reply_text(opts, text.as_deref()).into_owned()
    } else {
        format!("results for {}", responses.join(" "))
    };
    let mut out: Vec<&str> = reply.split_whitespace().collect();
    let limit = body
        .pointer("/generationConfig/maxOutputTokens")
        .and_then(Value::as_u64)
        .map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
    let finish = if limit < out.len() {
        out.truncate(limit);
        "MAX_TOKENS"
    } else {
        "STOP"
    };
    Output::Text(openai::tokens(&out), finish)
}

fn usage(prompt: usize, candidates: Option<usize>) -> Value {
    match candidates {
        Some(c) => json!({"promptTokenCount": prompt, "candidatesTokenCount": c,
                          "thoughtsTokenCount": THOUGHTS, "totalTokenCount": prompt + c + THOUGHTS}),
        None => json!({"promptTokenCount": prompt, "totalTokenCount": prompt}),
    }
}

fn generate(opts: &Options, n: u64, model: &str, stream: bool, body: &Value) -> Reply {
    let prompt = prompt_tokens(body);
    let response_id = format!("mockresp{n}");
    let wrap = |candidates: Value, usage: Value| {
        json!({"candidates": candidates, "usageMetadata": usage,
               "modelVersion": model, "responseId": response_id})
    };
    let last_text = body
        .get("contents")
        .and_then(Value::as_array)
        .and_then(|c| c.last())
        .map(text_of)
        .unwrap_or_default();
    let out = output(opts, body);
    if !stream {
        let doc = match &out {
            Output::Blocked => json!({"promptFeedback": {"blockReason": "SAFETY"},
                "usageMetadata": usage(prompt, None), "modelVersion": model, "responseId": response_id}),
            Output::Text(tokens, finish) => wrap(
                json!([{"content": {"role": "model", "parts": [{"text": tokens.concat()}]}, "finishReason": finish, "index": 0}]),
                usage(prompt, Some(tokens.len())),
            ),
            Output::Calls(calls) => wrap(
                json!([{"content": {"role": "model", "parts": calls}, "finishReason": "STOP", "index": 0}]),
                usage(prompt, Some(calls.len() * 3)),
            ),
        };
        return Reply::json(200, doc.to_string().into_bytes());
    }
    let mut events: Vec<Value> = Vec::new();
    let mut tail: Option<Bytes> = None;
    match out {
        Output::Blocked => events.push(json!({"promptFeedback": {"blockReason": "SAFETY"},
            "usageMetadata": usage(prompt, None), "modelVersion": model, "responseId": response_id})),
        Output::Text(tokens, finish) => {
            let count = tokens.len();
            for (i, t) in tokens.iter().enumerate() {
                let last = i + 1 == count;
                let mut c = json!({"content": {"role": "model", "parts": [{"text": t}]}, "index": 0});
                if last {
                    c["finishReason"] = json!(finish);
                }
                events.push(wrap(json!([c]), usage(prompt, last.then_some(count))));
                if last_text.trim_start().starts_with("fail:") {
                    tail = Some(Bytes::from_static(
                        b"{\n  \"error\": {\n    \"code\": 503,\n    \"message\": \"The model is overloaded.\",\n    \"status\": \"UNAVAILABLE\"\n  }\n}\n",
                    ));
                    break;
                }
            }
        }
        Output::Calls(calls) => {
            let n = calls.len();
            events.push(wrap(
                json!([{"content": {"role": "model", "parts": calls}, "finishReason": "STOP", "index": 0}]),
                usage(prompt, Some(n * 3)),
            ));
        }
    }
    // Each event in two writes: the client must reassemble events across reads.
    let mut pieces = Vec::new();
    for e in events {
        let text = format!("data: {e}\r\n\r\n").into_bytes();
        let mid = text.len() / 2;
        pieces.push(Bytes::copy_from_slice(&text[..mid]));
        pieces.push(Bytes::copy_from_slice(&text[mid..]));
    }
    pieces.extend(tail);
    Reply::events(pieces)
}

fn embed(body: &Value) -> Reply {
    let embeddings: Vec<Value> = body
        .get("requests")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|r| {
            let text = r
                .pointer("/content/parts/0/text")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let dims = r
                .get("outputDimensionality")
                .and_then(Value::as_u64)
                .map_or(8, |d| usize::try_from(d).unwrap_or(8));
            let seed = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
            });
            json!({"values": openai::unit_vector(seed, dims)})
        })
        .collect();
    Reply::json(
        200,
        json!({"embeddings": embeddings}).to_string().into_bytes(),
    )
}
