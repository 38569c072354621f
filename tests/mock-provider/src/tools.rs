//! Tool calling for the mock's OpenAI-format dialects (see `compat`): the `call:` rule's
//! answers, non-streamed and streamed, and the checks on a history's tool-call ids.

use bytes::Bytes;
use serde_json::{json, Value};

use crate::openai::{self, Reply};

pub(crate) fn last_user_text(body: &Value) -> String {
    let Some(messages) = body.get("messages").and_then(Value::as_array) else {
        return String::new();
    };
    let Some(m) = messages.iter().rev().find(|m| m["role"] == "user") else {
        return String::new();
    };
    match &m["content"] {
        Value::String(s) => s.trim_start().to_owned(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n")
            .trim_start()
            .to_owned(),
        _ => String::new(),
    }
}

/// Every tool-call id in the history (assistant calls and tool results).
pub(crate) fn tool_ids(body: &Value) -> Vec<String> {
    let mut ids = Vec::new();
    for m in body["messages"].as_array().into_iter().flatten() {
        for c in m["tool_calls"].as_array().into_iter().flatten() {
            ids.extend(c["id"].as_str().map(str::to_owned));
        }
        ids.extend(m["tool_call_id"].as_str().map(str::to_owned));
    }
    ids
}

/// Every tool result must answer a call made earlier in the conversation.
pub(crate) fn tool_ids_answer_calls(body: &Value, problems: &mut Vec<String>) {
    let mut called: Vec<&str> = Vec::new();
    for (i, m) in body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        for c in m["tool_calls"].as_array().into_iter().flatten() {
            called.extend(c["id"].as_str());
        }
        if let Some(id) = m["tool_call_id"].as_str() {
            if !called.contains(&id) {
                problems.push(format!(
                    "messages[{i}].tool_call_id {id:?} answers no earlier tool call"
                ));
            }
        }
    }
}

/// The tool-calling answer (see the module docs), or `None` when no tool is to be called.
pub(crate) fn tool_answer(n: u64, body: &Value, mistral: bool) -> Option<Reply> {
    let rest = last_user_text(body)
        .strip_prefix("call:")?
        .trim()
        .to_owned();
    let tools = body.get("tools")?.as_array()?;
    let names: Vec<&str> = tools
        .iter()
        .filter_map(|t| t["function"]["name"].as_str())
        .take(2)
        .collect();
    if names.is_empty() {
        return None;
    }
    let args = json!({"text": rest}).to_string();
    let id = |i: usize| {
        if mistral {
            format!("mk{:05}{i:02}", n % 100_000)
        } else {
            format!("call_mock{n}_{i}")
        }
    };
    let calls: Vec<Value> = names.iter().enumerate().map(|(i, name)| json!({"id": id(i), "type": "function", "function": {"name": name, "arguments": args}})).collect();
    let prompt = body["messages"].as_array().map_or(0, |m| m.len() * 3);
    let usage = json!({"prompt_tokens": prompt, "completion_tokens": 2 * calls.len(), "total_tokens": prompt + 2 * calls.len()});
    let model = body["model"].as_str().unwrap_or("mock-1");
    let base =
        json!({"id": format!("chatcmpl-mock{n}"), "created": openai::CREATED, "model": model});
    if body.get("stream") != Some(&Value::Bool(true)) {
        let mut out = base;
        out["object"] = json!("chat.completion");
        out["choices"] = json!([{"index": 0, "message": {"role": "assistant", "content": null, "tool_calls": calls}, "finish_reason": "tool_calls", "logprobs": null}]);
        out["usage"] = usage;
        return Some(Reply::json(200, out.to_string().into_bytes()));
    }
    let chunk = |delta: Value, finish: Value| {
        let mut c = base.clone();
        c["object"] = json!("chat.completion.chunk");
        c["choices"] =
            json!([{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": null}]);
        c
    };
    let mut chunks = vec![chunk(
        json!({"role": "assistant", "content": null}),
        Value::Null,
    )];
    for (i, c) in calls.iter().enumerate() {
        if mistral {
            let mut whole = c.clone();
            whole["index"] = json!(i);
            chunks.push(chunk(json!({"tool_calls": [whole]}), Value::Null));
        } else {
            let head = json!({"index": i, "id": c["id"], "type": "function", "function": {"name": c["function"]["name"], "arguments": ""}});
            chunks.push(chunk(json!({"tool_calls": [head]}), Value::Null));
            let (a, b) = args.split_at(args.len() / 2);
            for piece in [a, b] {
                chunks.push(chunk(
                    json!({"tool_calls": [{"index": i, "function": {"arguments": piece}}]}),
                    Value::Null,
                ));
            }
        }
    }
    let mut last = chunk(json!({}), json!("tool_calls"));
    let include_usage = body["stream_options"]["include_usage"] == json!(true);
    if mistral {
        last["usage"] = usage.clone();
    }
    chunks.push(last);
    if !mistral && include_usage {
        let mut u = base.clone();
        u["object"] = json!("chat.completion.chunk");
        u["choices"] = json!([]);
        u["usage"] = usage;
        chunks.push(u);
    }
    let mut events: Vec<Bytes> = chunks
        .iter()
        .map(|c| Bytes::from(format!("data: {c}\n\n")))
        .collect();
    events.push(Bytes::from_static(b"data: [DONE]\n\n"));
    Some(Reply::events(events))
}
