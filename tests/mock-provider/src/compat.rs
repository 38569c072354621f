//! Azure OpenAI and Mistral dialects of the OpenAI mock.
//!
//! Both are OpenAI's chat format with a different envelope, so a request is checked for the
//! dialect's own rules, handed to the OpenAI mock as a plain `/v1/...` request, and the answer
//! is dressed in the dialect's extras.
//!
//! **Azure** (`/openai/deployments/{deployment}/{chat/completions,completions,embeddings}`
//! with a required `api-version` query, and the v1 surface `/openai/v1/...` which must carry
//! no `api-version`): with [`crate::Options::api_key`] set, the key must come as `api-key:`
//! (or `Authorization: Bearer`), else 401 in Azure's shape. The deployment becomes the
//! response `model`. Answers carry `prompt_filter_results` / `content_filter_results`, streams
//! start with Azure's empty-`choices` prompt-filter chunk and every event is split across two
//! writes; responses carry `x-ms-region`, `apim-request-id` and `azureml-model-session`
//! (internal values a gateway must not pass on) and `x-ratelimit-remaining-*`. A last user
//! text starting with `blocked:` is refused with Azure's 400 `content_filter` error.
//!
//! **Mistral** (`/mistral/v1/chat/completions`, `/mistral/v1/embeddings`): top-level chat
//! fields outside Mistral's request model (`stream_options`, `max_completion_tokens`, `user`,
//! ...) and tool-call ids that are not 9 ASCII letters/digits are refused with 422 in
//! Mistral's FastAPI shape. Streams carry usage on the finish chunk (never a separate chunk,
//! never `"usage":null`).
//!
//! Tools (both): when the request has `tools` and the last user text starts with `call:`, the
//! answer calls every tool (at most 2, in parallel) with `{"text": <the rest, trimmed>}`;
//! Azure ids are `call_mock<n>_<i>`, Mistral ids `mk<n:05><i:02>`. Streamed, Azure sends each
//! call's arguments in two deltas, Mistral each call whole. Every `tool` message's
//! `tool_call_id` must name a tool call of an earlier assistant message (both dialects).

use bytes::Bytes;
use serde_json::{json, Value};

use crate::http1::Incoming;
use crate::openai::{self, Reply, ReplyBody};
use crate::tools::{last_user_text, tool_answer, tool_ids, tool_ids_answer_calls};
use crate::Options;

/// Mistral's top-level chat fields (mistralai 3.7 `ChatCompletionRequest`).
const MISTRAL_FIELDS: &[&str] = &[
    "model",
    "messages",
    "temperature",
    "top_p",
    "max_tokens",
    "stream",
    "stop",
    "random_seed",
    "metadata",
    "response_format",
    "tools",
    "tool_choice",
    "presence_penalty",
    "frequency_penalty",
    "n",
    "prediction",
    "parallel_tool_calls",
    "reasoning_effort",
    "prompt_mode",
    "safe_prompt",
    "guardrails",
    "prompt_cache_key",
    "service_tier",
    "min_tokens",
    "repetition_penalty",
    "top_k",
    "logprobs",
    "top_logprobs",
];

/// Answers a request of either dialect; `None` for other paths.
pub(crate) fn handle(opts: &Options, n: u64, req: &Incoming) -> Option<(Reply, Vec<String>)> {
    let path = openai::path_of(&req.target);
    if let Some(rest) = path.strip_prefix("/openai/") {
        return Some(azure(opts, n, req, rest));
    }
    let rest = path.strip_prefix("/mistral/v1/")?;
    Some(mistral(opts, n, req, rest))
}

fn query_param<'a>(target: &'a str, name: &str) -> Option<&'a str> {
    let query = target.split_once('?')?.1;
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
}

fn azure_error(status: u16, code: &str, message: &str) -> Reply {
    let body = json!({"error": {"code": code, "message": message}});
    Reply::json(status, body.to_string().into_bytes())
}

fn azure(opts: &Options, n: u64, req: &Incoming, rest: &str) -> (Reply, Vec<String>) {
    let version = query_param(&req.target, "api-version");
    let (deployment, endpoint) = match rest.strip_prefix("v1/") {
        Some(endpoint) => {
            if version.is_some() {
                let p = format!("api-version sent to the v1 surface: {}", req.target);
                let m = "api-version query parameter is not allowed when using /v1 path";
                return (azure_error(400, "BadRequest", m), vec![p]);
            }
            (None, endpoint)
        }
        None => {
            let Some((d, endpoint)) = rest
                .strip_prefix("deployments/")
                .and_then(|r| r.split_once('/'))
                .or_else(|| (rest == "models").then_some(("", "models")))
            else {
                let p = format!("no such Azure endpoint: {}", req.target);
                return (azure_error(404, "404", "Resource not found"), vec![p]);
            };
            if version.is_none_or(str::is_empty) {
                let p = format!("api-version missing: {}", req.target);
                return (azure_error(404, "404", "Resource not found"), vec![p]);
            }
            (Some(d).filter(|d| !d.is_empty()), endpoint)
        }
    };
    if let Some(key) = &opts.api_key {
        let ok = req.header("api-key") == Some(key.as_str())
            || req
                .header("authorization")
                .and_then(|v| v.strip_prefix("Bearer "))
                == Some(key);
        if !ok {
            let m = "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.";
            let p = "api-key header missing or wrong".to_owned();
            return (azure_error(401, "401", m), vec![p]);
        }
    }
    let mut body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    if let (Some(d), Some(obj)) = (deployment, body.as_object_mut()) {
        // The deployment selects the model; the body's `model` is optional and ignored.
        obj.insert("model".into(), Value::from(d));
    }
    if endpoint == "chat/completions" && last_user_text(&body).starts_with("blocked:") {
        let body = json!({"error": {"message": "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.", "type": null, "param": "prompt", "code": "content_filter", "status": 400, "innererror": {"code": "ResponsibleAIPolicyViolation", "content_filter_result": {"hate": {"filtered": false, "severity": "safe"}, "jailbreak": {"filtered": true, "detected": true}}}}});
        return (Reply::json(400, body.to_string().into_bytes()), Vec::new());
    }
    let mut problems = Vec::new();
    tool_ids_answer_calls(&body, &mut problems);
    let (mut reply, mut inner_problems) = match tool_answer(n, &body, false) {
        Some(r) if problems.is_empty() => (r, Vec::new()),
        _ => delegate(opts, n, req, endpoint, &body),
    };
    problems.append(&mut inner_problems);
    if reply.status == 200 && endpoint == "chat/completions" {
        dress_azure(&mut reply);
    }
    reply.extra.extend(
        [
            ("x-ms-region", "East US"),
            ("apim-request-id", "4b7a2c1e-0000-4000-8000-10.20.30.40"),
            ("azureml-model-session", "d058-20250101-internal-10.1.2.3"),
            ("x-ratelimit-remaining-requests", "99"),
            ("x-ratelimit-remaining-tokens", "9000"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    (reply, problems)
}

fn mistral(opts: &Options, n: u64, req: &Incoming, endpoint: &str) -> (Reply, Vec<String>) {
    let mut body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    let mut problems = Vec::new();
    if endpoint == "chat/completions" {
        if let Some(obj) = body.as_object() {
            let extra: Vec<Value> = obj
                .iter()
                .filter(|(k, _)| !MISTRAL_FIELDS.contains(&k.as_str()))
                .map(|(k, v)| json!({"type": "extra_forbidden", "loc": ["body", k], "msg": "Extra inputs are not permitted", "input": v}))
                .collect();
            if !extra.is_empty() {
                problems.push(format!("fields Mistral refuses: {extra:?}"));
                let body = json!({"object": "error", "message": {"detail": extra}, "type": "invalid_request_error", "param": null, "code": null});
                return (Reply::json(422, body.to_string().into_bytes()), problems);
            }
        }
        for id in tool_ids(&body) {
            if !(id.len() == 9 && id.bytes().all(|b| b.is_ascii_alphanumeric())) {
                let m =
                    format!("Tool call id was {id} but must be a-z, A-Z, 0-9, with a length of 9.");
                problems.push(m.clone());
                let body = json!({"object": "error", "message": m, "type": "invalid_request_error", "param": null, "code": null});
                return (Reply::json(422, body.to_string().into_bytes()), problems);
            }
        }
        tool_ids_answer_calls(&body, &mut problems);
        if !problems.is_empty() {
            return (
                azure_error(400, "invalid_request", &problems.join("; ")),
                problems,
            );
        }
        if let Some(r) = tool_answer(n, &body, true) {
            return (r, problems);
        }
        // Mistral streams usage unasked: ask the OpenAI mock for it, then move it.
        if body.get("stream") == Some(&Value::Bool(true)) {
            if let Some(obj) = body.as_object_mut() {
                obj.insert("stream_options".into(), json!({"include_usage": true}));
            }
        }
    }
    let (mut reply, problems) = delegate(opts, n, req, endpoint, &body);
    if let ReplyBody::Events(events) = &mut reply.body {
        *events = usage_on_finish_chunk(events);
    }
    (reply, problems)
}

/// The OpenAI mock's answer for the same request on `/v1/{endpoint}`.
fn delegate(
    opts: &Options,
    n: u64,
    req: &Incoming,
    endpoint: &str,
    body: &Value,
) -> (Reply, Vec<String>) {
    let mut headers: Vec<(String, String)> = req
        .headers
        .iter()
        .filter(|(k, _)| k != "api-key" && k != "authorization" && k != "content-length")
        .cloned()
        .collect();
    if let Some(key) = &opts.api_key {
        headers.push(("authorization".into(), format!("Bearer {key}")));
    }
    let inner = Incoming {
        method: req.method.clone(),
        target: format!("/v1/{endpoint}"),
        headers,
        body: if body.is_null() {
            req.body.clone()
        } else {
            Bytes::from(body.to_string())
        },
        problems: Vec::new(),
    };
    openai::handle(opts, n, &inner)
}

/// Azure's content-safety annotations, and its leading prompt-filter chunk on streams.
fn dress_azure(reply: &mut Reply) {
    let filters = json!({"hate": {"filtered": false, "severity": "safe"}, "self_harm": {"filtered": false, "severity": "safe"}, "sexual": {"filtered": false, "severity": "safe"}, "violence": {"filtered": false, "severity": "safe"}});
    let prompt_filter = json!([{"prompt_index": 0, "content_filter_results": filters}]);
    let annotate = |v: &mut Value| {
        for c in v["choices"].as_array_mut().into_iter().flatten() {
            c["content_filter_results"] = filters.clone();
        }
    };
    match &mut reply.body {
        ReplyBody::Full(b) => {
            if let Ok(mut v) = serde_json::from_slice::<Value>(b) {
                annotate(&mut v);
                v["prompt_filter_results"] = prompt_filter;
                *b = Bytes::from(v.to_string());
            }
        }
        ReplyBody::Events(events) => {
            let first = json!({"choices": [], "created": 0, "id": "", "model": "", "object": "", "prompt_filter_results": prompt_filter});
            let mut out = vec![Bytes::from(format!("data: {first}\n\n"))];
            for ev in events.iter() {
                let ev = map_event(ev, |v| {
                    if v["choices"].as_array().is_some_and(|c| !c.is_empty()) {
                        annotate(v);
                    }
                });
                // Realistic chunking: every event arrives in two TCP writes.
                let mid = ev.len() / 2;
                out.push(ev.slice(..mid));
                out.push(ev.slice(mid..));
            }
            *events = out;
        }
    }
}

/// Moves the usage chunk's usage onto the finish chunk and drops `"usage":null` (Mistral).
fn usage_on_finish_chunk(events: &[Bytes]) -> Vec<Bytes> {
    let usage = events.iter().find_map(|ev| {
        let v = event_json(ev)?;
        (v["choices"].as_array().is_some_and(Vec::is_empty)).then(|| v["usage"].clone())
    });
    events
        .iter()
        .filter(|ev| {
            event_json(ev).is_none_or(|v| !v["choices"].as_array().is_some_and(Vec::is_empty))
        })
        .map(|ev| {
            map_event(ev, |v| {
                let finished = v["choices"][0]["finish_reason"].is_string();
                if let Some(obj) = v.as_object_mut() {
                    obj.remove("usage");
                    if let (true, Some(u)) = (finished, &usage) {
                        obj.insert("usage".into(), u.clone());
                    }
                }
            })
        })
        .collect()
}

fn event_json(ev: &[u8]) -> Option<Value> {
    let text = std::str::from_utf8(ev).ok()?;
    serde_json::from_str(text.strip_prefix("data: ")?.trim_end()).ok()
}

fn map_event(ev: &Bytes, f: impl FnOnce(&mut Value)) -> Bytes {
    match event_json(ev) {
        Some(mut v) => {
            f(&mut v);
            Bytes::from(format!("data: {v}\n\n"))
        }
        None => ev.clone(),
    }
}
