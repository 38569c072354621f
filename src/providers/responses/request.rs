//! Responses request → chat-completions request, for targets that do not speak the
//! Responses API (providers.md §1.4 → §1.1).
//!
//! Owns: the mapping of `input` (a string, or message / `function_call` /
//! `function_call_output` items), `instructions`, flat function tools, `tool_choice`,
//! `max_output_tokens`, sampling and `text.format`; the parameters the answer echoes
//! ([`Echo`]); and refusing, by name, everything a chat request cannot carry (built-in tools,
//! server-side state such as `previous_response_id` or `store: true`, unknown fields).
//! Must not: do I/O, or silently drop a field that changes what the model is asked.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::wire::{
    ChatContentOut, ChatMessageOut, ChatOut, ChatPartOut, ChatToolOut, ContentIn, Echo, FormatIn,
    FunctionCallIn, FunctionCallOut, FunctionCallOutputIn, FunctionDefOut, FunctionToolIn, ImageIn,
    ImageUrlOut, Input, MessageIn, RequestIn, ToolCallOut,
};

/// Why a Responses request cannot be translated. Every variant names the parameter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("We could not parse the JSON body of your request: {0}")]
    Json(String),
    /// Meaningful in the Responses API, impossible on this target (built-in tools, stored
    /// state).
    #[error("{message}")]
    Unsupported {
        param: &'static str,
        message: String,
    },
    /// Malformed for the Responses API itself.
    #[error("{message}")]
    Invalid {
        param: &'static str,
        message: String,
    },
    #[error("Unknown parameter: '{0}'.")]
    Unknown(String),
}

/// What the caller decides.
#[derive(Debug, Clone, Default)]
pub struct ChatOptions {
    /// The `model` written into the chat body (the attempt loop rewrites it per target).
    pub model: String,
}

/// A translated request: the chat body and the parameters the answer repeats.
#[derive(Debug, Clone, PartialEq)]
pub struct Translated {
    pub chat: ChatOut,
    pub echo: Echo,
}

/// Chat fields with the same name and meaning in both APIs, passed on as sent.
const SAME_IN_CHAT: &[&str] = &["safety_identifier", "service_tier", "prompt_cache_key"];

/// Fields that change nothing a chat target computes: `stream_options` only holds
/// `include_obfuscation` (padding we never add).
const HARMLESS: &[&str] = &["stream_options"];

/// Responses features a chat request cannot carry, with the reason given to the client.
const REFUSED: &[(&str, &str)] = &[
    (
        "previous_response_id",
        "stored responses exist only on OpenAI; send the whole conversation in 'input'",
    ),
    (
        "conversation",
        "stored conversations exist only on OpenAI; send the whole conversation in 'input'",
    ),
    ("prompt", "stored prompt templates exist only on OpenAI"),
    (
        "include",
        "extra output data cannot be produced for this model",
    ),
    (
        "reasoning",
        "reasoning options cannot be translated for this model",
    ),
    (
        "max_tool_calls",
        "a tool-call budget cannot be enforced for this model",
    ),
    (
        "top_logprobs",
        "log probabilities cannot be returned for this model",
    ),
];

/// Parses and translates a Responses request body.
pub fn translate(body: &[u8], opts: &ChatOptions) -> Result<Translated, RequestError> {
    let req: RequestIn =
        serde_json::from_slice(body).map_err(|e| RequestError::Json(e.to_string()))?;
    to_chat(req, opts)
}

/// Translates a parsed Responses request.
pub fn to_chat(req: RequestIn, opts: &ChatOptions) -> Result<Translated, RequestError> {
    check_state(&req)?;
    let same = check_rest(&req.rest)?;
    let mut messages = Vec::new();
    if let Some(text) = &req.instructions {
        messages.push(ChatMessageOut::System {
            content: text.clone(),
        });
    }
    match &req.input {
        Some(Input::Text(text)) => messages.push(ChatMessageOut::User {
            content: ChatContentOut::Text(text.clone()),
        }),
        Some(Input::Items(items)) => {
            for (i, item) in items.iter().enumerate() {
                push_item(&mut messages, i, item)?;
            }
        }
        None => {}
    }
    if messages.is_empty() {
        return Err(RequestError::Invalid {
            param: "input",
            message: "Missing required parameter: 'input'.".to_owned(),
        });
    }
    let tools = match &req.tools {
        Some(list) if !list.is_empty() => Some(tools(list)?),
        _ => None,
    };
    let echo = Echo {
        instructions: req.instructions.clone(),
        max_output_tokens: req.max_output_tokens,
        parallel_tool_calls: req.parallel_tool_calls.unwrap_or(true),
        temperature: req.temperature,
        top_p: req.top_p,
        tool_choice: req
            .tool_choice
            .clone()
            .filter(|v| !v.is_null())
            .unwrap_or_else(|| json!("auto")),
        tools: Value::Array(req.tools.clone().unwrap_or_default()),
        text: text_echo(&req),
        metadata: req
            .metadata
            .clone()
            .filter(|v| !v.is_null())
            .unwrap_or_else(|| Value::Object(Map::new())),
        user: req.user.clone(),
        ..Echo::default()
    };
    let format = req.text.as_ref().and_then(|t| t.format.as_ref());
    let chat = ChatOut {
        model: opts.model.clone(),
        messages,
        stream: req.stream.filter(|s| *s),
        // `max_tokens` is the name every chat server accepts; the vendor presets rename it
        // where a model wants `max_completion_tokens` (providers::compat).
        max_tokens: req.max_output_tokens,
        temperature: req.temperature,
        top_p: req.top_p,
        tools,
        tool_choice: req
            .tool_choice
            .as_ref()
            .filter(|v| !v.is_null())
            .map(tool_choice)
            .transpose()?,
        parallel_tool_calls: req.parallel_tool_calls,
        response_format: format.and_then(response_format),
        verbosity: req.text.as_ref().and_then(|t| t.verbosity.clone()),
        user: req.user.clone(),
        same,
    };
    Ok(Translated { chat, echo })
}

/// Server-side state and background runs exist only where responses are stored.
fn check_state(req: &RequestIn) -> Result<(), RequestError> {
    if req.store == Some(true) {
        return Err(RequestError::Unsupported {
            param: "store",
            message: "'store': true is not supported for this model: its responses are not stored; send 'store': false (or omit it) and keep the conversation in 'input'.".to_owned(),
        });
    }
    if req.background == Some(true) {
        return Err(RequestError::Unsupported {
            param: "background",
            message: "'background': true is not supported for this model.".to_owned(),
        });
    }
    match req.truncation.as_deref() {
        None | Some("disabled") => Ok(()),
        Some(_) => Err(RequestError::Unsupported {
            param: "truncation",
            message: "Only 'truncation': 'disabled' is supported for this model.".to_owned(),
        }),
    }
}

/// Every other field: passed on when chat has it, ignored when harmless, else refused.
fn check_rest(rest: &Map<String, Value>) -> Result<Map<String, Value>, RequestError> {
    let mut same = Map::new();
    for (k, v) in rest {
        if v.is_null() || HARMLESS.contains(&k.as_str()) {
            continue;
        }
        if SAME_IN_CHAT.contains(&k.as_str()) {
            same.insert(k.clone(), v.clone());
            continue;
        }
        if let Some((param, why)) = REFUSED.iter().find(|(p, _)| *p == k) {
            // An empty `include` list asks for nothing.
            if *param == "include" && v.as_array().is_some_and(Vec::is_empty) {
                continue;
            }
            return Err(RequestError::Unsupported {
                param,
                message: format!("'{param}' is not supported for this model: {why}."),
            });
        }
        return Err(RequestError::Unknown(k.clone()));
    }
    Ok(same)
}

/// Appends the chat message(s) of one input item.
fn push_item(out: &mut Vec<ChatMessageOut>, i: usize, item: &Value) -> Result<(), RequestError> {
    let kind = item.get("type").and_then(Value::as_str);
    match kind {
        None | Some("message") => {
            let m: MessageIn = parse(item, i)?;
            out.push(message(m, i)?);
        }
        Some("function_call") => {
            let c: FunctionCallIn = parse(item, i)?;
            let call = ToolCallOut {
                id: c.call_id,
                kind: "function",
                function: FunctionCallOut {
                    name: c.name,
                    arguments: c.arguments,
                },
            };
            // Calls of one turn share one assistant message (with its text, if any).
            match out.last_mut() {
                Some(ChatMessageOut::Assistant { tool_calls, .. }) => tool_calls.push(call),
                _ => out.push(ChatMessageOut::Assistant {
                    content: None,
                    tool_calls: vec![call],
                }),
            }
        }
        Some("function_call_output") => {
            let r: FunctionCallOutputIn = parse(item, i)?;
            out.push(ChatMessageOut::Tool {
                tool_call_id: r.call_id,
                content: text_only(r.output, i)?,
            });
        }
        Some(other) => {
            return Err(RequestError::Unsupported {
                param: "input",
                message: format!(
                    "input[{i}]: items of type '{other}' are not supported for this model (only messages, 'function_call' and 'function_call_output')."
                ),
            })
        }
    }
    Ok(())
}

fn parse<T: serde::de::DeserializeOwned>(item: &Value, i: usize) -> Result<T, RequestError> {
    T::deserialize(item).map_err(|e| RequestError::Invalid {
        param: "input",
        message: format!("Invalid value for 'input[{i}]': {e}."),
    })
}

fn message(m: MessageIn, i: usize) -> Result<ChatMessageOut, RequestError> {
    match m.role.as_str() {
        "user" => Ok(ChatMessageOut::User {
            content: user_content(m.content, i)?,
        }),
        // Developer instructions are system instructions for every chat target.
        "system" | "developer" => Ok(ChatMessageOut::System {
            content: text_only(m.content, i)?,
        }),
        "assistant" => Ok(ChatMessageOut::Assistant {
            content: Some(text_only(m.content, i)?),
            tool_calls: Vec::new(),
        }),
        other => Err(RequestError::Invalid {
            param: "input",
            message: format!(
                "Invalid value for 'input[{i}].role': '{other}' (expected 'user', 'assistant', 'system' or 'developer')."
            ),
        }),
    }
}

/// A user message's content: text and images.
fn user_content(c: ContentIn, i: usize) -> Result<ChatContentOut, RequestError> {
    let parts = match c {
        ContentIn::Text(t) => return Ok(ChatContentOut::Text(t)),
        ContentIn::Parts(parts) => parts,
    };
    let mut out = Vec::with_capacity(parts.len());
    for (j, p) in parts.iter().enumerate() {
        match p.get("type").and_then(Value::as_str) {
            Some("input_text" | "output_text") => out.push(ChatPartOut::Text {
                text: part_text(p, i, j)?,
            }),
            Some("input_image") => {
                let img: ImageIn = parse(p, i)?;
                let Some(url) = img.image_url else {
                    return Err(RequestError::Unsupported {
                        param: "input",
                        message: format!(
                            "input[{i}].content[{j}]: images by 'file_id' are not supported for this model; send 'image_url' (an URL or a data: URL)."
                        ),
                    });
                };
                let detail = img.detail.filter(|d| d != "auto");
                out.push(ChatPartOut::ImageUrl {
                    image_url: ImageUrlOut { url, detail },
                });
            }
            other => return Err(unsupported_part(i, j, other)),
        }
    }
    Ok(ChatContentOut::Parts(out))
}

/// Content that must be text (system, assistant and tool messages): parts joined.
fn text_only(c: ContentIn, i: usize) -> Result<String, RequestError> {
    let parts = match c {
        ContentIn::Text(t) => return Ok(t),
        ContentIn::Parts(parts) => parts,
    };
    let mut text = String::new();
    for (j, p) in parts.iter().enumerate() {
        match p.get("type").and_then(Value::as_str) {
            Some("input_text" | "output_text") => text.push_str(&part_text(p, i, j)?),
            Some("refusal") => {
                text.push_str(p.get("refusal").and_then(Value::as_str).unwrap_or_default())
            }
            other => return Err(unsupported_part(i, j, other)),
        }
    }
    Ok(text)
}

fn part_text(p: &Value, i: usize, j: usize) -> Result<String, RequestError> {
    match p.get("text") {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(RequestError::Invalid {
            param: "input",
            message: format!(
                "Invalid value for 'input[{i}].content[{j}].text': expected a string."
            ),
        }),
    }
}

fn unsupported_part(i: usize, j: usize, kind: Option<&str>) -> RequestError {
    RequestError::Unsupported {
        param: "input",
        message: format!(
            "input[{i}].content[{j}]: content of type '{}' is not supported here for this model.",
            kind.unwrap_or("(none)")
        ),
    }
}

/// Flat function tools → chat's nested ones; any built-in tool is refused by type.
fn tools(list: &[Value]) -> Result<Vec<ChatToolOut>, RequestError> {
    let mut out = Vec::with_capacity(list.len());
    for (i, t) in list.iter().enumerate() {
        match t.get("type").and_then(Value::as_str) {
            Some("function") => {}
            other => {
                return Err(RequestError::Unsupported {
                    param: "tools",
                    message: format!(
                        "tools[{i}]: the built-in tool '{}' is not supported for this model; only tools of type 'function' are.",
                        other.unwrap_or("(none)")
                    ),
                })
            }
        }
        let f = FunctionToolIn::deserialize(t).map_err(|e| RequestError::Invalid {
            param: "tools",
            message: format!("Invalid value for 'tools[{i}]': {e}."),
        })?;
        out.push(ChatToolOut {
            kind: "function",
            function: FunctionDefOut {
                name: f.name,
                description: f.description,
                parameters: f.parameters.filter(|p| !p.is_null()),
                strict: f.strict,
            },
        });
    }
    Ok(out)
}

/// `"none" | "auto" | "required"` or `{"type":"function","name"}` → chat's shapes.
fn tool_choice(v: &Value) -> Result<Value, RequestError> {
    match v {
        Value::String(s) if matches!(s.as_str(), "none" | "auto" | "required") => Ok(v.clone()),
        Value::Object(o) if o.get("type").and_then(Value::as_str) == Some("function") => {
            match o.get("name").and_then(Value::as_str) {
                Some(name) => Ok(json!({"type": "function", "function": {"name": name}})),
                None => Err(RequestError::Invalid {
                    param: "tool_choice",
                    message: "Invalid value for 'tool_choice': a function choice needs 'name'."
                        .to_owned(),
                }),
            }
        }
        other => Err(RequestError::Unsupported {
            param: "tool_choice",
            message: format!(
                "'tool_choice' {other} is not supported for this model; use 'none', 'auto', 'required' or {{\"type\":\"function\",\"name\":...}}."
            ),
        }),
    }
}

/// `text.format` → chat's `response_format` (which nests the schema under `json_schema`).
fn response_format(f: &FormatIn) -> Option<Value> {
    match f {
        FormatIn::Text => None,
        FormatIn::JsonObject => Some(json!({"type": "json_object"})),
        FormatIn::JsonSchema {
            name,
            schema,
            description,
            strict,
        } => {
            let mut s = Map::new();
            s.insert("name".into(), json!(name));
            s.insert("schema".into(), schema.clone());
            if let Some(d) = description {
                s.insert("description".into(), json!(d));
            }
            if let Some(st) = strict {
                s.insert("strict".into(), json!(st));
            }
            Some(json!({"type": "json_schema", "json_schema": s}))
        }
    }
}

/// The `text` the answer repeats: the client's, or the default plain-text format.
fn text_echo(req: &RequestIn) -> Value {
    let Some(t) = &req.text else {
        return Echo::default().text;
    };
    let format = match &t.format {
        None | Some(FormatIn::Text) => json!({"type": "text"}),
        Some(FormatIn::JsonObject) => json!({"type": "json_object"}),
        Some(FormatIn::JsonSchema {
            name,
            schema,
            description,
            strict,
        }) => json!({"type": "json_schema", "name": name, "schema": schema,
                     "description": description, "strict": strict}),
    };
    match &t.verbosity {
        Some(v) => json!({"format": format, "verbosity": v}),
        None => json!({ "format": format }),
    }
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
