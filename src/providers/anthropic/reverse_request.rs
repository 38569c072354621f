//! Anthropic Messages request (the `/v1/messages` front door) → OpenAI chat request for an
//! OpenAI-style upstream: the §3.7 request table read right to left.
//!
//! Owns: that mapping, and OpenAI's turn rule that `tool` messages directly follow the
//! assistant message that called them (so a user turn's `tool_result` blocks come out first,
//! each as its own `tool` message, and its other blocks after as one user message).
//! Must not: do I/O or pick the target model (the caller names it).
//!
//! Dropped on purpose: `top_k` (OpenAI has none), `thinking`/`output_config.effort` (no
//! portable equivalent), thinking and redacted_thinking blocks (only Anthropic can read
//! them), `cache_control` markers, `service_tier`, `tool_result.is_error` (OpenAI tool
//! messages have no error flag; the content still says what failed).

use serde_json::{json, Value};

use super::wire::anthropic as a;
use super::wire::openai as o;
use super::TranslateError;

/// What the target needs, decided by the caller (OpenAI-compatible presets differ here).
#[derive(Debug, Clone)]
pub struct ReverseEncodeOptions {
    /// The upstream's model name.
    pub model: String,
    /// Send `max_tokens` instead of `max_completion_tokens` (Mistral and older servers
    /// reject the newer name; OpenAI reasoning models reject the older one).
    pub legacy_max_tokens: bool,
    /// Ask for the trailing usage chunk when streaming (`stream_options.include_usage`); the
    /// Anthropic client needs usage in `message_delta`. Off for servers that reject the field.
    pub stream_usage: bool,
}

/// Parses a Messages body and translates it.
pub fn encode_openai_request(
    body: &[u8],
    opts: &ReverseEncodeOptions,
) -> Result<Vec<u8>, TranslateError> {
    let req: a::MessagesRequestIn =
        serde_json::from_slice(body).map_err(|e| TranslateError::InvalidJson(e.to_string()))?;
    let out = to_chat_request(&req, opts)?;
    serde_json::to_vec(&out).map_err(|e| TranslateError::InvalidJson(e.to_string()))
}

/// Translates a parsed Messages request.
pub fn to_chat_request(
    req: &a::MessagesRequestIn,
    opts: &ReverseEncodeOptions,
) -> Result<o::ChatRequestOut, TranslateError> {
    let mut messages = Vec::with_capacity(req.messages.len() + 1);
    if let Some(system) = req
        .system
        .as_ref()
        .map(system_text)
        .filter(|s| !s.is_empty())
    {
        messages.push(o::MessageOut::System { content: system });
    }
    for m in &req.messages {
        match m.role.as_str() {
            "user" => user_turn(&m.content, &mut messages)?,
            "assistant" => messages.push(assistant_turn(&m.content)),
            _ => {
                return Err(TranslateError::Invalid(format!(
                    "Unknown role '{}'.",
                    m.role
                )))
            }
        }
    }
    let stream = req.stream.filter(|s| *s);
    let (tool_choice, parallel_tool_calls) = tool_choice(req.tool_choice.as_ref());
    Ok(o::ChatRequestOut {
        model: opts.model.clone(),
        messages,
        max_completion_tokens: req.max_tokens.filter(|_| !opts.legacy_max_tokens),
        max_tokens: req.max_tokens.filter(|_| opts.legacy_max_tokens),
        stop: req.stop_sequences.clone().filter(|s| !s.is_empty()),
        stream,
        stream_options: (stream.is_some() && opts.stream_usage).then_some(o::StreamOptionsOut {
            include_usage: true,
        }),
        temperature: req.temperature,
        top_p: req.top_p,
        tools: tools(req.tools.as_deref())?,
        tool_choice,
        parallel_tool_calls,
        user: req.metadata.as_ref().and_then(|m| m.user_id.clone()),
        response_format: response_format(req.output_config.as_ref()),
    })
}

fn system_text(s: &a::SystemIn) -> String {
    match s {
        a::SystemIn::Text(t) => t.clone(),
        a::SystemIn::Blocks(blocks) => texts(blocks).join("\n\n"),
    }
}

fn texts(blocks: &[a::BlockIn]) -> Vec<&str> {
    blocks
        .iter()
        .filter_map(|b| match b {
            a::BlockIn::Text { text } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

/// Tool results first (each a `tool` message), then the rest as one user message.
fn user_turn(content: &a::ContentIn, out: &mut Vec<o::MessageOut>) -> Result<(), TranslateError> {
    let blocks = match content {
        a::ContentIn::Text(t) => {
            out.push(user_text(t.clone()));
            return Ok(());
        }
        a::ContentIn::Blocks(blocks) => blocks,
    };
    let mut parts = Vec::new();
    for b in blocks {
        match b {
            a::BlockIn::ToolResult {
                tool_use_id,
                content,
                ..
            } => out.push(o::MessageOut::Tool {
                tool_call_id: tool_use_id.clone(),
                content: tool_result_text(content.as_ref())?,
            }),
            a::BlockIn::Text { text } => parts.push(o::PartOut::Text { text: text.clone() }),
            a::BlockIn::Image { source } => parts.push(image(source)?),
            a::BlockIn::Thinking {} | a::BlockIn::RedactedThinking {} => {}
            a::BlockIn::ToolUse { .. } | a::BlockIn::Other => {
                return Err(TranslateError::UnsupportedPart { role: "user" })
            }
        }
    }
    if !parts.is_empty() {
        out.push(o::MessageOut::User { content: parts });
    }
    Ok(())
}

fn user_text(text: String) -> o::MessageOut {
    o::MessageOut::User {
        content: vec![o::PartOut::Text { text }],
    }
}

/// OpenAI tool messages hold text only.
fn tool_result_text(content: Option<&a::ContentIn>) -> Result<String, TranslateError> {
    match content {
        None => Ok(String::new()),
        Some(a::ContentIn::Text(t)) => Ok(t.clone()),
        Some(a::ContentIn::Blocks(blocks)) => {
            if blocks.iter().any(|b| !matches!(b, a::BlockIn::Text { .. })) {
                return Err(TranslateError::Unsupported(
                    "non-text content in a tool_result",
                ));
            }
            Ok(texts(blocks).join("\n"))
        }
    }
}

fn image(source: &a::SourceIn) -> Result<o::PartOut, TranslateError> {
    let url = match source {
        a::SourceIn::Base64 { media_type, data } => format!("data:{media_type};base64,{data}"),
        a::SourceIn::Url { url } => url.clone(),
        a::SourceIn::Other => return Err(TranslateError::InvalidImage),
    };
    Ok(o::PartOut::ImageUrl {
        image_url: o::ImageUrlOut { url },
    })
}

fn assistant_turn(content: &a::ContentIn) -> o::MessageOut {
    let blocks = match content {
        a::ContentIn::Text(t) => {
            return o::MessageOut::Assistant {
                content: Some(t.clone()),
                tool_calls: None,
            }
        }
        a::ContentIn::Blocks(blocks) => blocks,
    };
    let text = texts(blocks).concat();
    let calls: Vec<o::ToolCall> = blocks
        .iter()
        .filter_map(|b| match b {
            a::BlockIn::ToolUse { id, name, input } => Some(o::ToolCall {
                id: id.clone(),
                kind: "function".to_owned(),
                function: o::FunctionCall {
                    name: name.clone(),
                    arguments: if input.is_null() {
                        "{}".to_owned()
                    } else {
                        input.to_string()
                    },
                },
            }),
            _ => None,
        })
        .collect();
    o::MessageOut::Assistant {
        content: (!text.is_empty()).then_some(text),
        tool_calls: (!calls.is_empty()).then_some(calls),
    }
}

/// Custom tools only: Anthropic server tools (web search, code execution, ...) run at
/// Anthropic and have no OpenAI counterpart.
fn tools(defs: Option<&[a::ToolIn]>) -> Result<Option<Vec<o::ToolOut>>, TranslateError> {
    let Some(defs) = defs.filter(|d| !d.is_empty()) else {
        return Ok(None);
    };
    let mut out = Vec::with_capacity(defs.len());
    for t in defs {
        if t.kind.as_deref().is_some_and(|k| k != "custom") {
            return Err(TranslateError::Unsupported("Anthropic server tools"));
        }
        out.push(o::ToolOut {
            kind: "function",
            function: o::FunctionOut {
                name: t.name.clone(),
                description: t.description.clone(),
                parameters: t
                    .input_schema
                    .clone()
                    .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
            },
        });
    }
    Ok(Some(out))
}

fn tool_choice(choice: Option<&a::ToolChoiceIn>) -> (Option<o::ToolChoiceOut>, Option<bool>) {
    let serial = |d: &Option<bool>| (*d == Some(true)).then_some(false);
    match choice {
        None => (None, None),
        Some(a::ToolChoiceIn::Auto {
            disable_parallel_tool_use: d,
        }) => (Some(o::ToolChoiceOut::Mode("auto")), serial(d)),
        Some(a::ToolChoiceIn::Any {
            disable_parallel_tool_use: d,
        }) => (Some(o::ToolChoiceOut::Mode("required")), serial(d)),
        Some(a::ToolChoiceIn::Tool {
            name,
            disable_parallel_tool_use: d,
        }) => {
            let named = o::ToolChoiceOut::Named {
                kind: "function",
                function: o::NamedFunctionOut { name: name.clone() },
            };
            (Some(named), serial(d))
        }
        Some(a::ToolChoiceIn::None) => (Some(o::ToolChoiceOut::Mode("none")), None),
    }
}

fn response_format(cfg: Option<&a::OutputConfigIn>) -> Option<o::ResponseFormatOut> {
    let f = cfg?.format.as_ref()?;
    if f.kind != "json_schema" {
        return None;
    }
    Some(o::ResponseFormatOut {
        kind: "json_schema",
        json_schema: o::JsonSchemaOut {
            // OpenAI requires a name; Anthropic's format has none.
            name: "response",
            schema: f
                .schema
                .clone()
                .unwrap_or(Value::Object(Default::default())),
        },
    })
}

#[cfg(test)]
#[path = "reverse_request_tests.rs"]
mod tests;
