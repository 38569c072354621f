//! The Bedrock side: `POST /model/{modelId}/converse` and `/converse-stream` (providers.md §5)
//! with SigV4 verification, validation and deterministic answers. Pure functions of the
//! request; no I/O.
//!
//! Auth: with [`crate::Options::bedrock`] set, every request must carry a valid SigV4
//! signature for service `bedrock` (checked by [`crate::sigv4`]); failures are 403 with
//! `x-amzn-errortype` `UnrecognizedClientException` / `InvalidSignatureException` and AWS's
//! message (which, like AWS's, echoes the canonical request). Validation failures are 400
//! `ValidationException` (`{"message": ..}`).
//!
//! Answers follow the crate's reply rules (reply text, `echo:`, one token per word);
//! `inferenceConfig.maxTokens` truncates with `stopReason: "max_tokens"`. `inputTokens` = for
//! each system block and message, 3 + the words of its text. Tools: when the request has
//! `toolConfig` and the last user text starts with `call:`, the answer calls EVERY tool (in
//! parallel, one `toolUse` each, ids `tooluse_mock<n>_<i>`) with `{"text": <rest>}`
//! (`stopReason: "tool_use"`). When the last user turn holds `toolResult` blocks the reply is
//! `results: <each result's text or JSON, joined by " | ">`. Streams: a streamed request whose
//! last user text starts with `fail:` gets `messageStart`, one text delta and then a
//! `throttlingException` exception frame. Stream frames are written cut in the middle, so
//! every write ends inside a frame.

use bytes::Bytes;
use serde_json::{json, Value};

use crate::bedrock_frames::{event, exception, split_across_writes};
use crate::http1::Incoming;
use crate::openai::{self, Reply, ReplyBody};
use crate::Options;

const PER_MESSAGE: usize = 3;
const EVENT_STREAM: &str = "application/vnd.amazon.eventstream";

/// `(model id as sent, stream?)` for a Converse path.
pub(crate) fn route(path: &str) -> Option<(&str, bool)> {
    let rest = path.strip_prefix("/model/")?;
    if let Some(id) = rest.strip_suffix("/converse-stream") {
        return Some((id, true));
    }
    rest.strip_suffix("/converse").map(|id| (id, false))
}

/// A Bedrock-shaped error reply.
pub(crate) fn error(status: u16, exception: &str, message: &str) -> Reply {
    let mut r = Reply::json(
        status,
        json!({ "message": message }).to_string().into_bytes(),
    );
    r.extra.push((
        "x-amzn-errortype".into(),
        format!("{exception}:http://internal.amazon.com/coral/com.amazon.bedrock/"),
    ));
    r
}

/// The exception Bedrock names for an injected status.
fn exception_for(status: u16) -> &'static str {
    match status {
        400 => "ValidationException",
        403 => "AccessDeniedException",
        404 => "ResourceNotFoundException",
        408 => "ModelTimeoutException",
        424 => "ModelErrorException",
        429 => "ThrottlingException",
        503 => "ServiceUnavailableException",
        _ => "InternalServerException",
    }
}

/// The reply for a [`crate::Fault::Status`] on a Converse path.
pub(crate) fn status_reply(
    status: u16,
    headers: Vec<(String, String)>,
    body: Option<String>,
) -> Reply {
    let mut r = match body {
        Some(b) => openai::status_reply(status, Vec::new(), Some(b)),
        None => error(
            status,
            exception_for(status),
            &format!("Injected by the mock provider (status {status})."),
        ),
    };
    r.extra.extend(headers);
    r
}

/// Answers one Converse request: the reply, and every problem found.
pub(crate) fn handle(opts: &Options, n: u64, req: &Incoming, stream: bool) -> (Reply, Vec<String>) {
    let mut problems = req.problems.clone();
    if req.method != "POST" {
        problems.push(format!("method {} not allowed", req.method));
        return (
            error(405, "ValidationException", "Method not allowed."),
            problems,
        );
    }
    if let Some(auth) = &opts.bedrock {
        if let Err(r) = crate::sigv4::verify(req, auth, "bedrock") {
            problems.push(format!("SigV4: {}", r.exception));
            return (error(403, r.exception, &r.message), problems);
        }
    }
    let body = openai::parse_body(opts.validate, req, &mut problems);
    if opts.validate {
        if let Some(obj) = body.as_object() {
            crate::bedrock_validate::validate(obj, &mut problems);
        }
    }
    if !problems.is_empty() {
        return (
            error(400, "ValidationException", &problems.join("; ")),
            problems,
        );
    }
    (answer(opts, n, &body, stream), problems)
}

// ---------------------------------------------------------------------------------------------
// Answers

fn words(s: &str) -> usize {
    s.split_whitespace().count()
}

/// Text of a message's `text` blocks joined with `\n`.
fn text_of(m: &Value) -> String {
    m.get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|b| b.get("text").and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join("\n")
}

fn input_tokens(body: &Value) -> usize {
    let sys: usize = body
        .get("system")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|b| PER_MESSAGE + b.get("text").and_then(Value::as_str).map_or(0, words))
        .sum();
    let msgs: usize = body
        .get("messages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|m| PER_MESSAGE + words(&text_of(m)))
        .sum();
    sys + msgs
}

/// What the assistant says: text tokens or tool calls.
enum Content {
    Text(Vec<String>),
    Tools(Vec<(String, String, Value)>),
}

fn answer(opts: &Options, n: u64, body: &Value, stream: bool) -> Reply {
    let last = body
        .get("messages")
        .and_then(Value::as_array)
        .and_then(|m| m.last());
    let last_text = last.map(text_of);
    let input = input_tokens(body);
    if stream {
        if let Some(msg) = last_text
            .as_deref()
            .and_then(|t| t.trim_start().strip_prefix("fail:"))
        {
            return stream_reply(
                vec![
                    event("messageStart", &json!({"role": "assistant"})),
                    event(
                        "contentBlockDelta",
                        &json!({"contentBlockIndex": 0, "delta": {"text": "Partial"}}),
                    ),
                    exception("throttlingException", &json!({"message": msg.trim()})),
                ],
                n,
            );
        }
    }
    let tool_results: Vec<String> = last
        .and_then(|m| m.get("content"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|b| b.get("toolResult"))
        .flat_map(|r| {
            r.get("content")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        })
        .map(|c| {
            c.get("text").and_then(Value::as_str).map_or_else(
                || c.get("json").map(Value::to_string).unwrap_or_default(),
                str::to_owned,
            )
        })
        .collect();
    let call = last_text
        .as_deref()
        .and_then(|t| t.trim_start().strip_prefix("call:"))
        .filter(|_| body.get("toolConfig").is_some());
    let (content, stop) = if let Some(rest) = call {
        let tools = body
            .pointer("/toolConfig/tools")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let calls = tools
            .iter()
            .enumerate()
            .filter_map(|(i, t)| {
                let name = t.pointer("/toolSpec/name")?.as_str()?.to_owned();
                Some((
                    format!("tooluse_mock{n}_{i}"),
                    name,
                    json!({"text": rest.trim()}),
                ))
            })
            .collect();
        (Content::Tools(calls), "tool_use")
    } else {
        let text = if tool_results.is_empty() {
            openai::reply_text(opts, last_text.as_deref()).into_owned()
        } else {
            format!("results: {}", tool_results.join(" | "))
        };
        let mut out: Vec<&str> = text.split_whitespace().collect();
        let limit = body
            .pointer("/inferenceConfig/maxTokens")
            .and_then(Value::as_u64)
            .map_or(usize::MAX, |l| l as usize);
        let stop = if limit < out.len() {
            out.truncate(limit);
            "max_tokens"
        } else {
            "end_turn"
        };
        (Content::Text(openai::tokens(&out)), stop)
    };
    let output = match &content {
        Content::Text(t) => t.len(),
        Content::Tools(calls) => calls.iter().map(|(_, _, i)| words(&i.to_string())).sum(),
    };
    let usage =
        json!({"inputTokens": input, "outputTokens": output, "totalTokens": input + output});
    if stream {
        return stream_reply(events(&content, stop, &usage), n);
    }
    let blocks: Vec<Value> = match &content {
        Content::Text(t) => vec![json!({"text": t.concat()})],
        Content::Tools(calls) => calls
            .iter()
            .map(|(id, name, input)| json!({"toolUse": {"toolUseId": id, "name": name, "input": input}}))
            .collect(),
    };
    let body = json!({
        "output": {"message": {"role": "assistant", "content": blocks}},
        "stopReason": stop, "usage": usage, "metrics": {"latencyMs": 1},
    });
    let mut r = Reply::json(200, body.to_string().into_bytes());
    r.extra
        .push(("x-amzn-requestid".into(), format!("mock-{n}")));
    r
}

/// The ConverseStream event sequence (providers.md §5.4).
fn events(content: &Content, stop: &str, usage: &Value) -> Vec<Vec<u8>> {
    let mut out = vec![event("messageStart", &json!({"role": "assistant"}))];
    match content {
        Content::Text(tokens) => {
            for t in tokens {
                out.push(event(
                    "contentBlockDelta",
                    &json!({"contentBlockIndex": 0, "delta": {"text": t}}),
                ));
            }
            out.push(event("contentBlockStop", &json!({"contentBlockIndex": 0})));
        }
        Content::Tools(calls) => {
            for (i, (id, name, input)) in calls.iter().enumerate() {
                out.push(event("contentBlockStart", &json!({"contentBlockIndex": i, "start": {"toolUse": {"toolUseId": id, "name": name}}})));
                let s = input.to_string();
                let mid = (s.len() / 2..s.len())
                    .find(|i| s.is_char_boundary(*i))
                    .unwrap_or(s.len());
                for part in [&s[..mid], &s[mid..]] {
                    out.push(event(
                        "contentBlockDelta",
                        &json!({"contentBlockIndex": i, "delta": {"toolUse": {"input": part}}}),
                    ));
                }
                out.push(event("contentBlockStop", &json!({"contentBlockIndex": i})));
            }
        }
    }
    out.push(event("messageStop", &json!({"stopReason": stop})));
    out.push(event(
        "metadata",
        &json!({"usage": usage, "metrics": {"latencyMs": 1}}),
    ));
    out
}

fn stream_reply(frames: Vec<Vec<u8>>, n: u64) -> Reply {
    Reply {
        status: 200,
        content_type: EVENT_STREAM,
        extra: vec![("x-amzn-requestid".into(), format!("mock-{n}"))],
        body: ReplyBody::Events(
            split_across_writes(&frames)
                .into_iter()
                .map(Bytes::from)
                .collect(),
        ),
        close: false,
    }
}
