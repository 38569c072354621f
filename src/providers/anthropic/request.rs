//! OpenAI chat request → Anthropic Messages request (providers.md §3.7, request table).
//!
//! Owns: the field mapping, Anthropic's turn rules (system hoisted to the top level, consecutive
//! same-role turns merged, tool results gathered into one user turn ahead of its other blocks),
//! the `max_tokens` default and the list of OpenAI-only fields dropped on purpose.
//! Must not: do I/O, pick the target model (the caller names it) or build HTTP headers.
//!
//! Dropped on purpose (no Anthropic equivalent; dropping beats failing for these hints):
//! `seed`, `logprobs`, `top_logprobs`, `logit_bias`, `presence_penalty`, `frequency_penalty`,
//! `reasoning_effort`, `verbosity`, `service_tier`, `store`, `metadata`, `modalities`, `audio`,
//! `prediction`, `web_search_options`, `prompt_cache_key`, `prompt_cache_retention`,
//! `functions`/`function_call` (deprecated; the `function` role itself is refused),
//! `stream_options` (read by the stream translator, never sent: Anthropic always streams
//! usage), `image_url.detail`, message `name`, assistant `refusal`, `response_format`
//! `json_object` (OpenAI already requires the prompt to ask for JSON, so the instruction is in
//! the conversation) and `text`, and `top_p` when `temperature` is also set (see `top_p`).
//! See [`dropped_fields`] for the names found in a request. Thinking is never enabled: its
//! signed blocks could not survive a round trip through OpenAI clients (providers.md §8 item 20).

use serde_json::{Map, Value};

use super::wire::anthropic as a;
use super::wire::openai as o;
use super::TranslateError;

/// Anthropic's limit for `temperature` (OpenAI allows up to 2).
const MAX_TEMPERATURE: f64 = 1.0;

/// What the caller decides rather than the client.
#[derive(Debug, Clone)]
pub struct EncodeOptions {
    /// The provider's model name for this target.
    pub model: String,
    /// `max_tokens` when the client set neither `max_completion_tokens` nor `max_tokens`
    /// (Anthropic requires the field).
    pub default_max_tokens: u64,
}

/// Parses an OpenAI chat body and translates it.
pub fn encode_request(body: &[u8], opts: &EncodeOptions) -> Result<Vec<u8>, TranslateError> {
    let req: o::ChatRequest =
        serde_json::from_slice(body).map_err(|e| TranslateError::InvalidJson(e.to_string()))?;
    let out = to_messages_request(&req, opts)?;
    serde_json::to_vec(&out).map_err(|e| TranslateError::InvalidJson(e.to_string()))
}

/// Translates a parsed OpenAI chat request.
pub fn to_messages_request(
    req: &o::ChatRequest,
    opts: &EncodeOptions,
) -> Result<a::MessagesRequest, TranslateError> {
    if req.n.is_some_and(|n| n > 1) {
        return Err(TranslateError::Unsupported("'n' greater than 1"));
    }
    let (system, messages) = conversation(&req.messages)?;
    let (tools, tool_choice) = tools(req)?;
    Ok(a::MessagesRequest {
        model: opts.model.clone(),
        max_tokens: req
            .max_completion_tokens
            .or(req.max_tokens)
            .unwrap_or(opts.default_max_tokens),
        messages,
        system,
        stop_sequences: req
            .stop
            .as_ref()
            .map(|s| match s {
                o::Stop::One(s) => vec![s.clone()],
                o::Stop::Many(v) => v.clone(),
            })
            .filter(|v| !v.is_empty()),
        stream: req.stream.filter(|s| *s),
        temperature: req.temperature.map(|t| t.clamp(0.0, MAX_TEMPERATURE)),
        top_p: top_p(req),
        tools,
        tool_choice,
        metadata: req
            .safety_identifier
            .clone()
            .or_else(|| req.user.clone())
            .map(|user_id| a::Metadata { user_id }),
        output_config: output_config(req.response_format.as_ref()),
    })
}

/// Recent Claude models reject `temperature` and `top_p` together (Anthropic's advice was
/// always "one or the other"), and OpenAI clients often send `top_p: 1` by default. With both
/// set, `temperature` wins and `top_p` is not sent.
fn top_p(req: &o::ChatRequest) -> Option<f64> {
    match req.temperature {
        Some(_) => None,
        None => req.top_p,
    }
}

/// Names of top-level request fields this codec ignores, for logs and debugging.
pub fn dropped_fields(req: &o::ChatRequest) -> Vec<&str> {
    req.rest.keys().map(String::as_str).collect()
}

fn output_config(rf: Option<&o::ResponseFormat>) -> Option<a::OutputConfig> {
    match rf? {
        o::ResponseFormat::JsonSchema { json_schema } => Some(a::OutputConfig {
            format: a::OutputFormat::JsonSchema {
                schema: json_schema
                    .schema
                    .clone()
                    .unwrap_or_else(empty_object_schema),
            },
        }),
        o::ResponseFormat::Text | o::ResponseFormat::JsonObject => None,
    }
}

fn empty_object_schema() -> Value {
    serde_json::json!({"type": "object", "properties": {}})
}

/// Splits system text from the turns and applies the alternation rules.
fn conversation(msgs: &[o::Message]) -> Result<(Option<String>, Vec<a::Message>), TranslateError> {
    let mut system: Vec<String> = Vec::new();
    let mut turns: Vec<a::Message> = Vec::new();
    for m in msgs {
        match m {
            o::Message::System { content } | o::Message::Developer { content } => {
                let text = plain_text(content, "system")?;
                if !text.is_empty() {
                    system.push(text);
                }
            }
            o::Message::User { content } => push(&mut turns, a::Role::User, user_blocks(content)?),
            o::Message::Assistant {
                content,
                tool_calls,
            } => push(
                &mut turns,
                a::Role::Assistant,
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
    let system = (!system.is_empty()).then(|| system.join("\n\n"));
    Ok((system, turns))
}

/// Appends blocks as a turn, merged into the previous turn when the role repeats (Anthropic
/// requires alternation; merging keeps every block in order).
fn push(turns: &mut Vec<a::Message>, role: a::Role, blocks: Vec<a::Block>) {
    if blocks.is_empty() {
        return;
    }
    match turns.last_mut() {
        Some(last) if last.role == role => last.content.extend(blocks),
        _ => turns.push(a::Message {
            role,
            content: blocks,
        }),
    }
}

/// A tool message becomes a `tool_result` block of a user turn. Anthropic wants results
/// before any other block of that turn, so it goes after the turn's earlier results.
fn push_tool_result(
    turns: &mut Vec<a::Message>,
    id: &str,
    content: &o::Content,
) -> Result<(), TranslateError> {
    let block = a::Block::ToolResult {
        tool_use_id: id.to_owned(),
        content: match content {
            o::Content::Text(s) => a::ToolResultContent::Text(s.clone()),
            o::Content::Parts(_) => a::ToolResultContent::Blocks(user_blocks(content)?),
        },
    };
    match turns.last_mut() {
        Some(last) if last.role == a::Role::User => {
            let at = last
                .content
                .iter()
                .take_while(|b| matches!(b, a::Block::ToolResult { .. }))
                .count();
            last.content.insert(at, block);
        }
        _ => turns.push(a::Message {
            role: a::Role::User,
            content: vec![block],
        }),
    }
    Ok(())
}

/// Text of a system/developer message (text parts only).
fn plain_text(content: &o::Content, role: &'static str) -> Result<String, TranslateError> {
    match content {
        o::Content::Text(s) => Ok(s.clone()),
        o::Content::Parts(parts) => {
            let mut out = Vec::new();
            for p in parts {
                match p {
                    o::Part::Text { text } => out.push(text.as_str()),
                    _ => return Err(TranslateError::UnsupportedPart { role }),
                }
            }
            Ok(out.join("\n"))
        }
    }
}

fn user_blocks(content: &o::Content) -> Result<Vec<a::Block>, TranslateError> {
    let parts = match content {
        o::Content::Text(s) => return Ok(text_block(s).into_iter().collect()),
        o::Content::Parts(parts) => parts,
    };
    let mut out = Vec::with_capacity(parts.len());
    for p in parts {
        match p {
            o::Part::Text { text } => out.extend(text_block(text)),
            o::Part::ImageUrl { image_url } => out.push(image(&image_url.url)?),
            o::Part::Refusal { .. } | o::Part::InputAudio {} | o::Part::File {} => {
                return Err(TranslateError::UnsupportedPart { role: "user" })
            }
        }
    }
    Ok(out)
}

/// Anthropic rejects empty text blocks, so empty strings produce none.
fn text_block(s: &str) -> Option<a::Block> {
    (!s.is_empty()).then(|| a::Block::Text { text: s.to_owned() })
}

fn assistant_blocks(
    content: Option<&o::Content>,
    calls: Option<&[o::ToolCall]>,
) -> Result<Vec<a::Block>, TranslateError> {
    let mut out = Vec::new();
    match content {
        None => {}
        Some(o::Content::Text(s)) => out.extend(text_block(s)),
        Some(o::Content::Parts(parts)) => {
            for p in parts {
                match p {
                    o::Part::Text { text } => out.extend(text_block(text)),
                    // A refusal is the model's own earlier output; nothing to send back.
                    o::Part::Refusal { .. } => {}
                    _ => return Err(TranslateError::UnsupportedPart { role: "assistant" }),
                }
            }
        }
    }
    for c in calls.unwrap_or_default() {
        out.push(a::Block::ToolUse {
            id: c.id.clone(),
            name: c.function.name.clone(),
            input: tool_input(&c.id, &c.function.arguments)?,
        });
    }
    Ok(out)
}

/// OpenAI arguments are a JSON string, Anthropic's `input` an object. Invalid JSON fails the
/// request (a clear 400) rather than sending the model a history it never produced.
fn tool_input(id: &str, args: &str) -> Result<Map<String, Value>, TranslateError> {
    if args.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str::<Value>(args) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(TranslateError::InvalidToolArguments { id: id.to_owned() }),
    }
}

/// `data:` URLs become base64 sources, http(s) URLs url sources.
fn image(url: &str) -> Result<a::Block, TranslateError> {
    let source = if let Some(rest) = url.strip_prefix("data:") {
        let (meta, data) = rest.split_once(',').ok_or(TranslateError::InvalidImage)?;
        let media_type = meta
            .strip_suffix(";base64")
            .ok_or(TranslateError::InvalidImage)?;
        if !matches!(
            media_type,
            "image/jpeg" | "image/png" | "image/gif" | "image/webp"
        ) {
            return Err(TranslateError::UnsupportedImageType(media_type.to_owned()));
        }
        a::ImageSource::Base64 {
            media_type: media_type.to_owned(),
            data: data.to_owned(),
        }
    } else if url.starts_with("https://") || url.starts_with("http://") {
        a::ImageSource::Url {
            url: url.to_owned(),
        }
    } else {
        return Err(TranslateError::InvalidImage);
    };
    Ok(a::Block::Image { source })
}

type ToolsOut = (Option<Vec<a::Tool>>, Option<a::ToolChoice>);

fn tools(req: &o::ChatRequest) -> Result<ToolsOut, TranslateError> {
    let defs = match req.tools.as_deref() {
        Some(defs) if !defs.is_empty() => defs,
        // Anthropic rejects tool_choice without tools; OpenAI clients send "none" that way.
        _ => return Ok((None, None)),
    };
    let mut out = Vec::with_capacity(defs.len());
    for t in defs {
        match t {
            o::Tool::Function { function: f } => out.push(a::Tool {
                name: f.name.clone(),
                description: f.description.clone(),
                input_schema: f.parameters.clone().unwrap_or_else(empty_object_schema),
                strict: f.strict,
            }),
            o::Tool::Custom {} => return Err(TranslateError::Unsupported("custom tools")),
        }
    }
    let choice = tool_choice(
        req.tool_choice.as_ref(),
        req.parallel_tool_calls == Some(false),
    )?;
    Ok((Some(out), choice))
}

fn tool_choice(
    choice: Option<&o::ToolChoice>,
    serial: bool,
) -> Result<Option<a::ToolChoice>, TranslateError> {
    let disable_parallel_tool_use = serial.then_some(true);
    let mapped = match choice {
        // Anthropic's default is auto too; only spell it out to carry the parallel flag.
        None if serial => a::ToolChoice::Auto {
            disable_parallel_tool_use,
        },
        None => return Ok(None),
        Some(o::ToolChoice::Mode(m)) => match m.as_str() {
            "auto" => a::ToolChoice::Auto {
                disable_parallel_tool_use,
            },
            "required" => a::ToolChoice::Any {
                disable_parallel_tool_use,
            },
            "none" => a::ToolChoice::None,
            other => return Err(TranslateError::InvalidToolChoice(other.to_owned())),
        },
        Some(o::ToolChoice::Named(n)) => match (n.kind.as_str(), &n.function) {
            ("function", Some(f)) => a::ToolChoice::Tool {
                name: f.name.clone(),
                disable_parallel_tool_use,
            },
            (kind, _) => return Err(TranslateError::InvalidToolChoice(kind.to_owned())),
        },
    };
    Ok(Some(mapped))
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
