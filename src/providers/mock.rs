//! The built-in offline `mock` provider: deterministic answers generated in-process.
//!
//! Owns: the reply text rule, honest usage numbers for it, and the OpenAI wire shapes of chat
//! completions, text completions (both streamed or not) and embeddings. Rules: the reply is
//! the rest of the last user message when it starts with `echo:`, else a fixed sentence; one
//! token = one whitespace-separated word (each word after the first carries its leading
//! space); prompt tokens = words of every text content + 3 per message + 3 (the OpenAI chat
//! priming overhead); `max_tokens`/`max_completion_tokens` (else the provider's
//! `default_max_tokens`) truncate the reply with finish_reason "length".
//! Must not: touch the network or sleep (the caller paces the events).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde_json::{json, Value};

use crate::config::MockProvider;
use crate::error::GatewayError;
use crate::llm::request::RequestHead;
use crate::llm::route::Route;

const DEFAULT_REPLY: &str =
    "Hello from the tollgate mock provider. This reply is deterministic and generated offline.";

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// What the mock answers.
pub struct MockReply {
    /// Delay before the response head (time to first token).
    pub latency: Duration,
    pub body: MockBody,
}

pub enum MockBody {
    Json(Bytes),
    /// SSE events (each complete, with its blank line) and the pause between them.
    Events {
        events: Vec<Bytes>,
        interval: Duration,
    },
}

/// Builds the reply to a POST route.
pub fn reply(
    m: &MockProvider,
    route: &Route,
    head: &RequestHead,
    body: &[u8],
    model: &str,
) -> Result<MockReply, GatewayError> {
    let req: Value =
        serde_json::from_slice(body).map_err(|e| GatewayError::InvalidJson(e.to_string()))?;
    let interval = m
        .tokens_per_second
        .map(|tps| Duration::from_secs_f64(1.0 / tps))
        .unwrap_or(Duration::ZERO);
    let body = match route {
        Route::Embeddings => MockBody::Json(embeddings(m, &req, model)),
        Route::ChatCompletions | Route::Completions => {
            let chat = *route == Route::ChatCompletions;
            let (prompt_tokens, reply_source) = if chat {
                chat_prompt(&req)
            } else {
                let p = text_of(&req["prompt"]);
                (words(&p), p)
            };
            let text = reply_text(&reply_source);
            let limit = head.max_tokens.unwrap_or(u64::from(m.default_max_tokens)) as usize;
            let all = tokens(&text);
            let finish = if all.len() > limit { "length" } else { "stop" };
            let toks = &all[..all.len().min(limit)];
            let gen = Generation {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                created: now_secs(),
                model,
                chat,
                prompt_tokens,
                finish,
            };
            if head.stream {
                MockBody::Events {
                    events: gen.events(toks, head.include_usage),
                    interval,
                }
            } else {
                MockBody::Json(gen.json(&toks.concat(), toks.len()))
            }
        }
        // Messages and Responses requests reach the mock translated to chat completions.
        Route::ListModels
        | Route::GetModel(_)
        | Route::Messages
        | Route::CountTokens
        | Route::Responses => return Err(GatewayError::Internal),
    };
    Ok(MockReply {
        latency: m.latency,
        body,
    })
}

/// (prompt tokens, text the reply is based on) of a chat request.
fn chat_prompt(req: &Value) -> (usize, String) {
    let msgs = req["messages"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    let tokens = msgs
        .iter()
        .map(|m| words(&text_of(&m["content"])) + 3)
        .sum::<usize>()
        + 3;
    let last_user = msgs
        .iter()
        .rev()
        .find(|m| m["role"] == "user")
        .map(|m| text_of(&m["content"]))
        .unwrap_or_default();
    (tokens, last_user)
}

fn reply_text(source: &str) -> String {
    match source.trim_start().strip_prefix("echo:") {
        Some(rest) if !rest.trim().is_empty() => rest.trim().to_owned(),
        _ => DEFAULT_REPLY.to_owned(),
    }
}

/// Text of a string, or the `text` parts of a content array, or the strings of an array.
fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.as_str().or_else(|| p["text"].as_str()))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

fn words(s: &str) -> usize {
    s.split_whitespace().count()
}

/// Words, each after the first with its leading space.
fn tokens(text: &str) -> Vec<String> {
    text.split_whitespace()
        .enumerate()
        .map(|(i, w)| {
            if i == 0 {
                w.to_owned()
            } else {
                format!(" {w}")
            }
        })
        .collect()
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

struct Generation<'a> {
    id: u64,
    created: u64,
    model: &'a str,
    chat: bool,
    prompt_tokens: usize,
    finish: &'static str,
}

impl Generation<'_> {
    fn usage(&self, completion: usize) -> Value {
        json!({"prompt_tokens": self.prompt_tokens, "completion_tokens": completion,
               "total_tokens": self.prompt_tokens + completion})
    }

    fn id(&self) -> String {
        if self.chat {
            format!("chatcmpl-mock{}", self.id)
        } else {
            format!("cmpl-mock{}", self.id)
        }
    }

    fn json(&self, text: &str, completion: usize) -> Bytes {
        let v = if self.chat {
            json!({"id": self.id(), "object": "chat.completion", "created": self.created,
                "model": self.model, "choices": [{"index": 0,
                "message": {"role": "assistant", "content": text, "refusal": null},
                "logprobs": null, "finish_reason": self.finish}],
                "usage": self.usage(completion)})
        } else {
            json!({"id": self.id(), "object": "text_completion", "created": self.created,
                "model": self.model, "choices": [{"index": 0, "text": text, "logprobs": null,
                "finish_reason": self.finish}], "usage": self.usage(completion)})
        };
        Bytes::from(v.to_string())
    }

    fn chunk(&self, choice: Value, with_usage_null: bool) -> Bytes {
        let object = if self.chat {
            "chat.completion.chunk"
        } else {
            "text_completion"
        };
        let mut v = json!({"id": self.id(), "object": object, "created": self.created,
            "model": self.model, "choices": [choice]});
        if with_usage_null {
            v["usage"] = Value::Null;
        }
        event(&v)
    }

    fn events(&self, toks: &[String], include_usage: bool) -> Vec<Bytes> {
        let mut out = Vec::with_capacity(toks.len() + 4);
        if self.chat {
            out.push(self.chunk(
                json!({"index": 0, "delta": {"role": "assistant", "content": ""},
                "logprobs": null, "finish_reason": null}),
                include_usage,
            ));
        }
        for t in toks {
            let choice = if self.chat {
                json!({"index": 0, "delta": {"content": t}, "logprobs": null, "finish_reason": null})
            } else {
                json!({"index": 0, "text": t, "logprobs": null, "finish_reason": null})
            };
            out.push(self.chunk(choice, include_usage));
        }
        let last = if self.chat {
            json!({"index": 0, "delta": {}, "logprobs": null, "finish_reason": self.finish})
        } else {
            json!({"index": 0, "text": "", "logprobs": null, "finish_reason": self.finish})
        };
        out.push(self.chunk(last, include_usage));
        if include_usage {
            let object = if self.chat {
                "chat.completion.chunk"
            } else {
                "text_completion"
            };
            out.push(event(
                &json!({"id": self.id(), "object": object, "created": self.created,
                "model": self.model, "choices": [], "usage": self.usage(toks.len())}),
            ));
        }
        out.push(Bytes::from_static(b"data: [DONE]\n\n"));
        out
    }
}

fn event(v: &Value) -> Bytes {
    Bytes::from(format!("data: {v}\n\n"))
}

fn embeddings(m: &MockProvider, req: &Value, model: &str) -> Bytes {
    let inputs: Vec<String> = match &req["input"] {
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
            .collect(),
        other => vec![other
            .as_str()
            .map_or_else(|| other.to_string(), str::to_owned)],
    };
    let base64 = req["encoding_format"] == "base64";
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let v = vector(text, m.embedding_dimensions as usize);
            let embedding = if base64 {
                Value::String(b64_f32(&v))
            } else {
                json!(v)
            };
            json!({"object": "embedding", "index": i, "embedding": embedding})
        })
        .collect();
    let tokens: usize = inputs.iter().map(|t| words(t).max(1)).sum();
    Bytes::from(
        json!({"object": "list", "data": data, "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})
        .to_string(),
    )
}

/// A unit-length vector derived from the text (FNV-1a per dimension).
fn vector(text: &str, dims: usize) -> Vec<f32> {
    let raw: Vec<f32> = (0..dims)
        .map(|d| {
            let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ d as u64;
            for b in text.bytes() {
                h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
            (h % 2001) as f32 / 1000.0 - 1.0
        })
        .collect();
    let norm = raw
        .iter()
        .map(|x| x * x)
        .sum::<f32>()
        .sqrt()
        .max(f32::EPSILON);
    raw.iter().map(|x| x / norm).collect()
}

/// Little-endian f32s, base64 (standard alphabet, padded), as OpenAI's `encoding_format`.
fn b64_f32(v: &[f32]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for (i, shift) in [18, 12, 6, 0].iter().enumerate() {
            if i <= c.len() {
                out.push(ALPHABET[(n >> shift) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::request::parse;

    fn run(body: &str, route: Route) -> MockReply {
        let kind = route.body_kind().unwrap();
        let head = parse(body.as_bytes(), kind).unwrap();
        reply(
            &MockProvider::default(),
            &route,
            &head,
            body.as_bytes(),
            "demo-1",
        )
        .unwrap()
    }

    #[test]
    fn chat_echo_with_honest_usage() {
        let r = run(
            r#"{"model":"demo","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"echo: one two three"}]}"#,
            Route::ChatCompletions,
        );
        let MockBody::Json(b) = r.body else {
            panic!("expected json")
        };
        let v: Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v["choices"][0]["message"]["content"], "one two three");
        assert_eq!(v["choices"][0]["finish_reason"], "stop");
        // 2 + 4 words + 3 per message * 2 + 3
        assert_eq!(v["usage"]["prompt_tokens"], 15);
        assert_eq!(v["usage"]["completion_tokens"], 3);
        assert_eq!(v["model"], "demo-1");
    }

    #[test]
    fn stream_truncates_and_reports_usage() {
        let r = run(
            r#"{"model":"demo","max_tokens":2,"stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}"#,
            Route::ChatCompletions,
        );
        let MockBody::Events { events, .. } = r.body else {
            panic!("expected events")
        };
        let datas: Vec<String> = events
            .iter()
            .filter_map(|e| crate::sse::data_of(e).map(std::borrow::Cow::into_owned))
            .collect();
        assert_eq!(datas.last().unwrap(), "[DONE]");
        let text: String = datas
            .iter()
            .filter_map(|d| serde_json::from_str::<Value>(d).ok())
            .filter_map(|v| {
                v["choices"][0]["delta"]["content"]
                    .as_str()
                    .map(str::to_owned)
            })
            .collect();
        assert_eq!(text, "Hello from");
        let usage: Value = serde_json::from_str(&datas[datas.len() - 2]).unwrap();
        assert_eq!(usage["usage"]["completion_tokens"], 2);
        assert_eq!(usage["choices"], json!([]));
        let fin: Value = serde_json::from_str(&datas[datas.len() - 3]).unwrap();
        assert_eq!(fin["choices"][0]["finish_reason"], "length");
    }

    #[test]
    fn embeddings_are_deterministic_unit_vectors() {
        let a = run(r#"{"model":"e","input":["x","y"]}"#, Route::Embeddings);
        let b = run(r#"{"model":"e","input":["x","y"]}"#, Route::Embeddings);
        let (MockBody::Json(a), MockBody::Json(b)) = (a.body, b.body) else {
            panic!()
        };
        assert_eq!(a, b);
        let v: Value = serde_json::from_slice(&a).unwrap();
        let e: Vec<f64> = serde_json::from_value(v["data"][0]["embedding"].clone()).unwrap();
        assert_eq!(e.len(), 8);
        assert!((e.iter().map(|x| x * x).sum::<f64>() - 1.0).abs() < 1e-3);
        assert_ne!(v["data"][0]["embedding"], v["data"][1]["embedding"]);
    }

    #[test]
    fn base64_matches_reference() {
        assert_eq!(b64_f32(&[1.0]), "AACAPw==");
        assert_eq!(b64_f32(&[1.0, 2.0]), "AACAPwAAAEA=");
    }
}
