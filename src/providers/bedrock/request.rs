//! OpenAI chat request → Bedrock `ConverseRequest` (providers.md §5.7, request table).
//!
//! Owns: the field mapping and Bedrock's turn rules (system/developer hoisted to `system`
//! blocks, consecutive same-role turns merged, tool results as `toolResult` blocks of one user
//! turn ahead of its other blocks, no empty text blocks), and the `tool_choice` emulation
//! (Converse has no `none`: tools are left out, unless the history holds tool blocks, which
//! Bedrock only accepts with a `toolConfig`; then the tools stay, without a choice).
//! Must not: do I/O, pick the model (it is in the URL, the caller's business), sign, or build
//! HTTP headers.
//!
//! Refused with a 400 (silently dropping them would change the answer): `n` > 1, image URLs
//! that are not base64 `data:` URLs (the gateway does not fetch images), `response_format`
//! `json_schema` (Converse has no equivalent we can rely on), custom tools, the `function`
//! role. Dropped on purpose, as for Anthropic: `seed`, `logprobs`, penalties, `user`,
//! `stream_options` (ConverseStream always reports usage), `parallel_tool_calls` (no Converse
//! switch), `response_format` `json_object`/`text`, `image_url.detail`, message `name`.

use serde_json::{Map, Value};

use super::wire as b;
use crate::providers::openai_wire as o;
use crate::providers::translate::TranslateError;

/// Parses an OpenAI chat body and translates it.
pub fn encode_request(body: &[u8]) -> Result<Vec<u8>, TranslateError> {
    let req: o::ChatRequest =
        serde_json::from_slice(body).map_err(|e| TranslateError::InvalidJson(e.to_string()))?;
    let out = to_converse_request(&req)?;
    serde_json::to_vec(&out).map_err(|e| TranslateError::InvalidJson(e.to_string()))
}

/// Translates a parsed OpenAI chat request.
pub fn to_converse_request(req: &o::ChatRequest) -> Result<b::ConverseRequest, TranslateError> {
    if req.n.is_some_and(|n| n > 1) {
        return Err(TranslateError::Unsupported("'n' greater than 1"));
    }
    if matches!(
        req.response_format,
        Some(o::ResponseFormat::JsonSchema { .. })
    ) {
        return Err(TranslateError::Unsupported(
            "'response_format' of type 'json_schema'",
        ));
    }
    let (system, messages) = conversation(&req.messages)?;
    let history_has_tools = messages.iter().any(|m| {
        m.content
            .iter()
            .any(|b| matches!(b, b::Block::ToolUse(_) | b::Block::ToolResult(_)))
    });
    let inference = b::InferenceConfig {
        max_tokens: req.max_completion_tokens.or(req.max_tokens),
        // Converse's InferenceConfiguration allows 0..=1 for both (OpenAI's temperature goes
        // to 2): clamped rather than refused, as for Anthropic targets.
        temperature: req.temperature.map(|t| t.clamp(0.0, 1.0)),
        top_p: req.top_p.map(|t| t.clamp(0.0, 1.0)),
        stop_sequences: req
            .stop
            .as_ref()
            .map(|s| match s {
                o::Stop::One(s) => vec![s.clone()],
                o::Stop::Many(v) => v.clone(),
            })
            .filter(|v| !v.is_empty()),
    };
    Ok(b::ConverseRequest {
        messages,
        system,
        inference_config: (inference != b::InferenceConfig::default()).then_some(inference),
        tool_config: tool_config(req, history_has_tools)?,
    })
}

/// Splits system text from the turns and applies the alternation rules.
fn conversation(
    msgs: &[o::Message],
) -> Result<(Vec<b::SystemBlock>, Vec<b::Message>), TranslateError> {
    let mut system = Vec::new();
    let mut turns: Vec<b::Message> = Vec::new();
    for m in msgs {
        match m {
            o::Message::System { content } | o::Message::Developer { content } => {
                let text = system_text(content)?;
                if !text.is_empty() {
                    system.push(b::SystemBlock { text });
                }
            }
            o::Message::User { content } => {
                push(&mut turns, b::Role::User, user_blocks(content, "user")?)
            }
            o::Message::Assistant {
                content,
                tool_calls,
            } => push(
                &mut turns,
                b::Role::Assistant,
                assistant_blocks(content.as_ref(), tool_calls.as_deref())?,
            ),
            o::Message::Tool {
                tool_call_id,
                content,
            } => push_tool_result(&mut turns, tool_call_id, content)?,
            o::Message::Function {} => {
                return Err(TranslateError::Unsupported(
                    "the deprecated 'function' role",
                ))
            }
        }
    }
    if turns.is_empty() {
        return Err(TranslateError::Invalid(
            "'messages' must contain at least one user or assistant message".into(),
        ));
    }
    Ok((system, turns))
}

/// Appends blocks as a turn, merged into the previous turn when the role repeats.
fn push(turns: &mut Vec<b::Message>, role: b::Role, blocks: Vec<b::Block>) {
    if blocks.is_empty() {
        return;
    }
    match turns.last_mut() {
        Some(last) if last.role == role => last.content.extend(blocks),
        _ => turns.push(b::Message {
            role,
            content: blocks,
        }),
    }
}

/// A tool message becomes a `toolResult` block of a user turn, after that turn's earlier
/// results and before its other blocks (results answer the previous assistant turn).
fn push_tool_result(
    turns: &mut Vec<b::Message>,
    id: &str,
    content: &o::Content,
) -> Result<(), TranslateError> {
    let result = match content {
        o::Content::Text(s) => vec![tool_result_text(s)],
        o::Content::Parts(_) => {
            let mut out = Vec::new();
            for block in user_blocks(content, "tool")? {
                match block {
                    b::Block::Text(t) => out.push(b::ToolResultContent::Text(t)),
                    b::Block::Image(i) => out.push(b::ToolResultContent::Image(i)),
                    _ => return Err(TranslateError::UnsupportedPart { role: "tool" }),
                }
            }
            out
        }
    };
    let block = b::Block::ToolResult(b::ToolResult {
        tool_use_id: id.to_owned(),
        // Bedrock rejects a result without content; an empty answer is an empty text.
        content: if result.is_empty() {
            vec![b::ToolResultContent::Text(String::new())]
        } else {
            result
        },
    });
    match turns.last_mut() {
        Some(last) if last.role == b::Role::User => {
            let at = last
                .content
                .iter()
                .take_while(|b| matches!(b, b::Block::ToolResult(_)))
                .count();
            last.content.insert(at, block);
        }
        _ => turns.push(b::Message {
            role: b::Role::User,
            content: vec![block],
        }),
    }
    Ok(())
}

/// A tool's string output: a JSON object goes as `json`, anything else as `text`.
fn tool_result_text(s: &str) -> b::ToolResultContent {
    match serde_json::from_str::<Value>(s) {
        Ok(v @ Value::Object(_)) => b::ToolResultContent::Json(v),
        _ => b::ToolResultContent::Text(s.to_owned()),
    }
}

fn system_text(content: &o::Content) -> Result<String, TranslateError> {
    match content {
        o::Content::Text(s) => Ok(s.clone()),
        o::Content::Parts(parts) => {
            let mut out = Vec::new();
            for p in parts {
                match p {
                    o::Part::Text { text } => out.push(text.as_str()),
                    _ => return Err(TranslateError::UnsupportedPart { role: "system" }),
                }
            }
            Ok(out.join("\n"))
        }
    }
}

fn user_blocks(content: &o::Content, role: &'static str) -> Result<Vec<b::Block>, TranslateError> {
    let parts = match content {
        o::Content::Text(s) => return Ok(text_block(s).into_iter().collect()),
        o::Content::Parts(parts) => parts,
    };
    let mut out = Vec::with_capacity(parts.len());
    for p in parts {
        match p {
            o::Part::Text { text } => out.extend(text_block(text)),
            o::Part::ImageUrl { image_url } => out.push(b::Block::Image(image(&image_url.url)?)),
            o::Part::Refusal { .. } | o::Part::InputAudio {} | o::Part::File {} => {
                return Err(TranslateError::UnsupportedPart { role })
            }
        }
    }
    Ok(out)
}

/// Bedrock rejects blank text blocks, so empty strings produce none.
fn text_block(s: &str) -> Option<b::Block> {
    (!s.is_empty()).then(|| b::Block::Text(s.to_owned()))
}

fn assistant_blocks(
    content: Option<&o::Content>,
    calls: Option<&[o::ToolCall]>,
) -> Result<Vec<b::Block>, TranslateError> {
    let mut out = Vec::new();
    match content {
        None => {}
        Some(o::Content::Text(s)) => out.extend(text_block(s)),
        Some(o::Content::Parts(parts)) => {
            for p in parts {
                match p {
                    o::Part::Text { text } => out.extend(text_block(text)),
                    o::Part::Refusal { .. } => {}
                    _ => return Err(TranslateError::UnsupportedPart { role: "assistant" }),
                }
            }
        }
    }
    for c in calls.unwrap_or_default() {
        out.push(b::Block::ToolUse(b::ToolUse {
            tool_use_id: c.id.clone(),
            name: c.function.name.clone(),
            input: tool_input(&c.id, &c.function.arguments)?,
        }));
    }
    Ok(out)
}

/// OpenAI arguments are a JSON string, Bedrock's `input` an object (providers.md §8 item 8).
fn tool_input(id: &str, args: &str) -> Result<Map<String, Value>, TranslateError> {
    if args.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str::<Value>(args) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(TranslateError::InvalidToolArguments { id: id.to_owned() }),
    }
}

/// Only base64 `data:` URLs: Converse takes image bytes, and the gateway fetches nothing.
fn image(url: &str) -> Result<b::Image, TranslateError> {
    if url.starts_with("https://") || url.starts_with("http://") {
        return Err(TranslateError::Unsupported(
            "image URLs (send the image as a base64 data: URL)",
        ));
    }
    let rest = url
        .strip_prefix("data:")
        .ok_or(TranslateError::InvalidImage)?;
    let (meta, data) = rest.split_once(',').ok_or(TranslateError::InvalidImage)?;
    let media_type = meta
        .strip_suffix(";base64")
        .ok_or(TranslateError::InvalidImage)?;
    let format = match media_type {
        "image/png" => "png",
        "image/jpeg" => "jpeg",
        "image/gif" => "gif",
        "image/webp" => "webp",
        other => return Err(TranslateError::UnsupportedImageType(other.to_owned())),
    };
    Ok(b::Image {
        format,
        source: b::ImageSource {
            bytes: data.to_owned(),
        },
    })
}

fn tool_config(
    req: &o::ChatRequest,
    history_has_tools: bool,
) -> Result<Option<b::ToolConfig>, TranslateError> {
    let defs = match req.tools.as_deref() {
        Some(defs) if !defs.is_empty() => defs,
        _ => return Ok(None),
    };
    let choice = tool_choice(req.tool_choice.as_ref())?;
    let none = matches!(&req.tool_choice, Some(o::ToolChoice::Mode(m)) if m == "none");
    if none && !history_has_tools {
        return Ok(None);
    }
    let mut tools = Vec::with_capacity(defs.len());
    for t in defs {
        match t {
            o::Tool::Function { function: f } => tools.push(b::Tool {
                tool_spec: b::ToolSpec {
                    name: f.name.clone(),
                    description: f.description.clone().filter(|d| !d.is_empty()),
                    input_schema: b::InputSchema {
                        json: f.parameters.clone().unwrap_or_else(
                            || serde_json::json!({"type": "object", "properties": {}}),
                        ),
                    },
                },
            }),
            o::Tool::Custom {} => return Err(TranslateError::Unsupported("custom tools")),
        }
    }
    Ok(Some(b::ToolConfig {
        tools,
        tool_choice: choice,
    }))
}

/// `None` for "none" and for no choice (Bedrock's default is auto).
fn tool_choice(choice: Option<&o::ToolChoice>) -> Result<Option<b::ToolChoice>, TranslateError> {
    Ok(match choice {
        None => None,
        Some(o::ToolChoice::Mode(m)) => match m.as_str() {
            "auto" => Some(b::ToolChoice::Auto(b::Empty {})),
            "required" => Some(b::ToolChoice::Any(b::Empty {})),
            "none" => None,
            other => return Err(TranslateError::InvalidToolChoice(other.to_owned())),
        },
        Some(o::ToolChoice::Named(n)) => match (n.kind.as_str(), &n.function) {
            ("function", Some(f)) => Some(b::ToolChoice::Tool {
                name: f.name.clone(),
            }),
            (kind, _) => return Err(TranslateError::InvalidToolChoice(kind.to_owned())),
        },
    })
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
