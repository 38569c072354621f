//! OpenAI's Responses API (`POST /v1/responses`, providers.md §1.4): the checks and the
//! (deterministic) answers. Pure functions of the request; no I/O.
//!
//! Validation (on top of the JSON and content-type checks every endpoint has): `model` a
//! non-empty string; `input` a string or a list of items, each a message (`role` user,
//! assistant, system or developer; `content` a string or parts of type `input_text`,
//! `input_image` or `output_text`), a `function_call` (`call_id`, `name`, `arguments`
//! strings) or a `function_call_output` whose `call_id` answers an earlier `function_call`
//! of the same input; tools flat (`type`, and for functions `name` at the top level, never a
//! nested `function` object); and no chat-only fields (`messages`, `max_tokens`,
//! `max_completion_tokens`, `stream_options.include_usage`): a gateway that forwarded a chat
//! body here, or "fixed" a Responses body with chat rules, is caught.
//!
//! Replies: when the request has function tools and the last user text starts with `call:`,
//! one `function_call` item calling the first tool with `{"text": <the rest, trimmed>}`
//! (`call_id` `call_mock<n>`); when the last input item is a `function_call_output`, the text
//! `result: <its output>`; else the chat rules ([`crate::Options::reply`], `echo:`, the default
//! sentence). `max_output_tokens` cuts the words (status `incomplete`, reason
//! `max_output_tokens`). Usage: `input_tokens` = 3 per item (1 item for a string input, plus
//! 1 for `instructions`) + the words of their text; `output_tokens` = words emitted (or of the
//! call's arguments JSON); `cached_tokens` = 0, `reasoning_tokens` = 0. Streams follow §1.4's
//! event order with `event:` lines and `sequence_number`s, and end with `response.completed` /
//! `response.incomplete` (no `[DONE]`).

use bytes::Bytes;
use serde_json::{json, Value};

use crate::http1::Incoming;
use crate::openai::{self, Reply, CREATED};
use crate::Options;

pub(crate) const PATH: &str = "/v1/responses";

const PER_ITEM: usize = 3;
const ROLES: [&str; 4] = ["user", "assistant", "system", "developer"];

/// Answers one `/v1/responses` request: the reply and every problem found.
pub(crate) fn handle(opts: &Options, n: u64, req: &Incoming) -> (Reply, Vec<String>) {
    let mut problems = req.problems.clone();
    if req.method != "POST" {
        problems.push(format!("method {} not allowed for {PATH}", req.method));
        return (openai::invalid(&problems), problems);
    }
    if let Some(key) = &opts.api_key {
        if req
            .header("authorization")
            .and_then(|v| v.strip_prefix("Bearer "))
            != Some(key)
        {
            problems.push("authorization header is not \"Bearer <the configured key>\"".into());
            let reply = openai::status_reply(401, Vec::new(), None);
            return (reply, problems);
        }
    }
    let before = problems.len();
    let body = openai::parse_body(opts.validate, req, &mut problems);
    if opts.validate && problems.len() == before {
        validate(&body, &mut problems);
    }
    if !problems.is_empty() {
        return (openai::invalid(&problems), problems);
    }
    (answer(opts, n, &body), problems)
}

fn validate(body: &Value, p: &mut Vec<String>) {
    match body.get("model") {
        Some(Value::String(s)) if !s.is_empty() => {}
        _ => p.push("model: required non-empty string".into()),
    }
    for chat_only in ["messages", "max_tokens", "max_completion_tokens"] {
        if body.get(chat_only).is_some() {
            p.push(format!("{chat_only}: a chat field, not a Responses one"));
        }
    }
    if body.pointer("/stream_options/include_usage").is_some() {
        p.push("stream_options.include_usage: not a Responses option".into());
    }
    match body.get("input") {
        Some(Value::String(_)) => {}
        Some(Value::Array(items)) => validate_items(items, p),
        _ => p.push("input: required string or array".into()),
    }
    for (i, t) in body["tools"].as_array().into_iter().flatten().enumerate() {
        if !t["type"].is_string() {
            p.push(format!("tools[{i}].type: required"));
        }
        if t["type"] == "function" && (!t["name"].is_string() || t.get("function").is_some()) {
            p.push(format!(
                "tools[{i}]: a function tool is flat (name at the top level)"
            ));
        }
    }
}

fn validate_items(items: &[Value], p: &mut Vec<String>) {
    let mut called: Vec<&str> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match item["type"].as_str() {
            None | Some("message") => {
                if !item["role"].as_str().is_some_and(|r| ROLES.contains(&r)) {
                    p.push(format!("input[{i}].role: invalid"));
                }
                match &item["content"] {
                    Value::String(_) => {}
                    Value::Array(parts) => {
                        for (j, part) in parts.iter().enumerate() {
                            let ok = match part["type"].as_str() {
                                Some("input_text" | "output_text") => part["text"].is_string(),
                                Some("input_image") => {
                                    part["image_url"].is_string() || part["file_id"].is_string()
                                }
                                _ => false,
                            };
                            if !ok {
                                p.push(format!("input[{i}].content[{j}]: invalid part"));
                            }
                        }
                    }
                    _ => p.push(format!("input[{i}].content: required")),
                }
            }
            Some("function_call") => {
                for k in ["call_id", "name", "arguments"] {
                    if !item[k].is_string() {
                        p.push(format!("input[{i}].{k}: required string"));
                    }
                }
                called.extend(item["call_id"].as_str());
            }
            Some("function_call_output") => match item["call_id"].as_str() {
                Some(id) if called.contains(&id) => {}
                other => p.push(format!(
                    "input[{i}].call_id {other:?} answers no earlier function_call"
                )),
            },
            Some(other) => p.push(format!(
                "input[{i}].type {other:?}: not handled by the mock"
            )),
        }
    }
}

fn words(s: &str) -> usize {
    s.split_whitespace().count()
}

/// The text of a content value (a string, or the `text` of its parts).
fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

fn input_tokens(body: &Value) -> usize {
    let instructions = body["instructions"]
        .as_str()
        .map_or(0, |s| PER_ITEM + words(s));
    let input = match &body["input"] {
        Value::String(s) => PER_ITEM + words(s),
        Value::Array(items) => items
            .iter()
            .map(|it| PER_ITEM + words(&text_of(&it["content"])) + words(&text_of(&it["output"])))
            .sum(),
        _ => 0,
    };
    instructions + input
}

fn last_user(body: &Value) -> Option<String> {
    match &body["input"] {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => items
            .iter()
            .rev()
            .find(|it| it["role"] == "user")
            .map(|it| text_of(&it["content"])),
        _ => None,
    }
}

fn answer(opts: &Options, n: u64, body: &Value) -> Reply {
    let model = body["model"].as_str().unwrap_or("mock-1");
    let id = format!("resp_mock{n}");
    let input_tokens = input_tokens(body);
    let last_item = body["input"].as_array().and_then(|a| a.last());
    let user = last_user(body);
    let tool = body["tools"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["type"] == "function"))
        .and_then(|t| t["name"].as_str());
    let tool_result = last_item.filter(|it| it["type"] == "function_call_output");
    let call = user
        .as_deref()
        .filter(|_| tool_result.is_none())
        .and_then(|u| u.trim_start().strip_prefix("call:"))
        .zip(tool);
    let (item, output_tokens, incomplete) = if let Some((rest, name)) = call {
        let args = json!({"text": rest.trim()}).to_string();
        let item = json!({"type": "function_call", "id": format!("fc_mock{n}"),
                          "call_id": format!("call_mock{n}"), "name": name,
                          "arguments": args, "status": "completed"});
        (item, words(&args), false)
    } else {
        let text = match tool_result {
            Some(it) => format!("result: {}", text_of(&it["output"])),
            None => openai::reply_text(opts, user.as_deref()).into_owned(),
        };
        let mut ws: Vec<&str> = text.split_whitespace().collect();
        let limit = body["max_output_tokens"].as_u64().map(|l| l as usize);
        let cut = limit.is_some_and(|l| l < ws.len());
        if let Some(l) = limit.filter(|_| cut) {
            ws.truncate(l);
        }
        let item = json!({"type": "message", "id": format!("msg_mock{n}"), "role": "assistant",
                          "status": if cut { "incomplete" } else { "completed" },
                          "content": [{"type": "output_text", "text": ws.join(" "),
                                       "annotations": [], "logprobs": []}]});
        (item, ws.len(), cut)
    };
    let usage = json!({"input_tokens": input_tokens, "input_tokens_details": {"cached_tokens": 0},
                       "output_tokens": output_tokens,
                       "output_tokens_details": {"reasoning_tokens": 0},
                       "total_tokens": input_tokens + output_tokens});
    let response = |status: &str, output: Value, usage: Value| {
        json!({"id": id, "object": "response", "created_at": CREATED, "status": status,
               "error": null,
               "incomplete_details": if status == "incomplete" {
                   json!({"reason": "max_output_tokens"})
               } else {
                   Value::Null
               },
               "model": model, "output": output, "usage": usage,
               "instructions": body["instructions"], "tools": body.get("tools").cloned().unwrap_or(json!([])),
               "tool_choice": body.get("tool_choice").cloned().unwrap_or(json!("auto")),
               "parallel_tool_calls": true, "store": body.get("store").cloned().unwrap_or(json!(true)),
               "metadata": {}, "temperature": 1.0, "top_p": 1.0,
               "text": {"format": {"type": "text"}}})
    };
    let status = if incomplete {
        "incomplete"
    } else {
        "completed"
    };
    if !body["stream"].as_bool().unwrap_or(false) {
        let r = response(status, json!([item]), usage);
        return Reply::json(200, r.to_string().into_bytes());
    }
    let mut events = Events::default();
    let skeleton = response("in_progress", json!([]), Value::Null);
    events.push("response.created", json!({"response": skeleton}));
    events.push("response.in_progress", json!({"response": skeleton}));
    let mut added = item.clone();
    if item["type"] == "message" {
        added["content"] = json!([]);
        added["status"] = json!("in_progress");
        events.push(
            "response.output_item.added",
            json!({"output_index": 0, "item": added}),
        );
        let item_id = &item["id"];
        let empty = json!({"type": "output_text", "text": "", "annotations": [], "logprobs": []});
        events.push(
            "response.content_part.added",
            json!({"item_id": item_id, "output_index": 0, "content_index": 0, "part": empty}),
        );
        let text = item["content"][0]["text"].as_str().unwrap_or_default();
        let ws: Vec<&str> = text.split_whitespace().collect();
        for token in openai::tokens(&ws) {
            events.push(
                "response.output_text.delta",
                json!({"item_id": item_id, "output_index": 0, "content_index": 0,
                       "delta": token, "logprobs": []}),
            );
        }
        events.push(
            "response.output_text.done",
            json!({"item_id": item_id, "output_index": 0, "content_index": 0, "text": text,
                   "logprobs": []}),
        );
        events.push(
            "response.content_part.done",
            json!({"item_id": item_id, "output_index": 0, "content_index": 0,
                   "part": item["content"][0]}),
        );
    } else {
        added["arguments"] = json!("");
        added["status"] = json!("in_progress");
        events.push(
            "response.output_item.added",
            json!({"output_index": 0, "item": added}),
        );
        let args = item["arguments"].as_str().unwrap_or_default();
        let (a, b) = args.split_at(args.len() / 2);
        for delta in [a, b] {
            events.push(
                "response.function_call_arguments.delta",
                json!({"item_id": item["id"], "output_index": 0, "delta": delta}),
            );
        }
        events.push(
            "response.function_call_arguments.done",
            json!({"item_id": item["id"], "output_index": 0, "name": item["name"],
                   "arguments": args}),
        );
    }
    events.push(
        "response.output_item.done",
        json!({"output_index": 0, "item": item}),
    );
    let terminal = if incomplete {
        "response.incomplete"
    } else {
        "response.completed"
    };
    events.push(
        terminal,
        json!({"response": response(status, json!([item]), usage)}),
    );
    Reply::events(events.out)
}

/// Numbered `event:`/`data:` SSE events.
#[derive(Default)]
struct Events {
    out: Vec<Bytes>,
}

impl Events {
    fn push(&mut self, kind: &str, mut data: Value) {
        data["type"] = json!(kind);
        data["sequence_number"] = json!(self.out.len());
        self.out
            .push(Bytes::from(format!("event: {kind}\ndata: {data}\n\n")));
    }
}
