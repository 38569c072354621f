//! OpenAI chat request → Gemini `generateContent` request (providers.md §4.6, request table).
//!
//! Owns: the field mapping, Gemini's turn rules (system/developer hoisted into
//! `systemInstruction`, roles `user`/`model`, consecutive same-role turns merged so tool results
//! for one model turn share the next user turn), `functionResponse.name` resolved from the
//! assistant tool call with the same id, and the thought signature carried inside our tool-call
//! ids (see [`super::ids`]). Must not: do I/O, put the model or the key anywhere (both go in
//! the URL/headers, built by the caller), or build HTTP headers.
//!
//! Dropped on purpose (no Gemini equivalent; dropping beats failing for these hints):
//! `user`, `safety_identifier`, `parallel_tool_calls`, `logprobs`, `top_logprobs`,
//! `logit_bias`, `reasoning_effort`, `service_tier`, `store`, `metadata`, `stream_options` (Gemini
//! streams always carry usage), `image_url.detail`, message `name`, assistant `refusal`.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::ids;
use super::schema;
use super::wire as g;
use crate::providers::openai_wire as o;
use crate::providers::translate::TranslateError;

/// Parses an OpenAI chat body and translates it.
pub fn encode_request(body: &[u8]) -> Result<Vec<u8>, TranslateError> {
    let req: o::ChatRequest =
        serde_json::from_slice(body).map_err(|e| TranslateError::InvalidJson(e.to_string()))?;
    let out = to_gemini_request(&req)?;
    serde_json::to_vec(&out).map_err(|e| TranslateError::InvalidJson(e.to_string()))
}

/// Translates a parsed OpenAI chat request.
pub fn to_gemini_request(req: &o::ChatRequest) -> Result<g::Request, TranslateError> {
    let (system_instruction, contents) = conversation(&req.messages)?;
    let (tools, tool_config) = tools(req)?;
    Ok(g::Request {
        contents,
        system_instruction,
        tools,
        tool_config,
        generation_config: generation_config(req)?,
    })
}

fn generation_config(req: &o::ChatRequest) -> Result<g::GenerationConfig, TranslateError> {
    let number = |k: &str| req.rest.get(k).and_then(Value::as_f64);
    let (response_mime_type, response_schema) = match &req.response_format {
        Some(o::ResponseFormat::JsonObject) => (Some("application/json"), None),
        Some(o::ResponseFormat::JsonSchema { json_schema }) => (
            Some("application/json"),
            json_schema.schema.as_ref().map(schema::clean),
        ),
        Some(o::ResponseFormat::Text) | None => (None, None),
    };
    let seed = match req.rest.get("seed") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_i64()
                .ok_or_else(|| TranslateError::Invalid("'seed' must be an integer.".into()))?,
        ),
    };
    Ok(g::GenerationConfig {
        temperature: req.temperature,
        top_p: req.top_p,
        candidate_count: req.n,
        max_output_tokens: req.max_completion_tokens.or(req.max_tokens),
        stop_sequences: req
            .stop
            .as_ref()
            .map(|s| match s {
                o::Stop::One(s) => vec![s.clone()],
                o::Stop::Many(v) => v.clone(),
            })
            .filter(|v| !v.is_empty()),
        presence_penalty: number("presence_penalty"),
        frequency_penalty: number("frequency_penalty"),
        seed,
        response_mime_type,
        response_schema,
    })
}

type Conversation = (Option<g::Content>, Vec<g::Content>);

/// Splits system text from the turns and applies the turn rules.
fn conversation(msgs: &[o::Message]) -> Result<Conversation, TranslateError> {
    let mut system: Vec<String> = Vec::new();
    let mut turns: Vec<g::Content> = Vec::new();
    // OpenAI tool messages carry only the call id; Gemini wants the function's name.
    let mut names: HashMap<&str, &str> = HashMap::new();
    for m in msgs {
        match m {
            o::Message::System { content } | o::Message::Developer { content } => {
                let text = plain_text(content, "system")?;
                if !text.is_empty() {
                    system.push(text);
                }
            }
            o::Message::User { content } => push(&mut turns, "user", user_parts(content)?),
            o::Message::Assistant {
                content,
                tool_calls,
            } => {
                for c in tool_calls.iter().flatten() {
                    names.insert(&c.id, &c.function.name);
                }
                let parts = model_parts(content.as_ref(), tool_calls.as_deref())?;
                push(&mut turns, "model", parts)
            }
            o::Message::Tool {
                tool_call_id,
                content,
            } => {
                let name = names.get(tool_call_id.as_str()).ok_or_else(|| {
                    TranslateError::Invalid(format!(
                        "The tool message with tool_call_id '{tool_call_id}' does not answer any tool call of an earlier assistant message."
                    ))
                })?;
                let part = g::Part {
                    function_response: Some(g::FunctionResponse {
                        name: (*name).to_owned(),
                        response: tool_response(content)?,
                    }),
                    ..g::Part::default()
                };
                push(&mut turns, "user", vec![part])
            }
            o::Message::Function {} => {
                return Err(TranslateError::Unsupported(
                    "the deprecated 'function' role",
                ))
            }
        }
    }
    if turns.is_empty() {
        return Err(TranslateError::Invalid(
            "'messages' must contain at least one user or assistant message with content".into(),
        ));
    }
    let system = (!system.is_empty()).then(|| g::Content {
        role: None,
        parts: vec![text_part(system.join("\n\n"))],
    });
    Ok((system, turns))
}

/// Appends parts as a turn, merged into the previous turn when the role repeats (Gemini wants
/// user and model turns to alternate; merging keeps every part in order).
fn push(turns: &mut Vec<g::Content>, role: &'static str, parts: Vec<g::Part>) {
    if parts.is_empty() {
        return;
    }
    match turns.last_mut() {
        Some(last) if last.role == Some(role) => last.parts.extend(parts),
        _ => turns.push(g::Content {
            role: Some(role),
            parts,
        }),
    }
}

fn text_part(text: String) -> g::Part {
    g::Part {
        text: Some(text),
        ..g::Part::default()
    }
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

/// A tool result as `functionResponse.response`, which must be an object: a JSON object
/// result is sent as is, anything else wrapped as `{"result": <text>}` (Google's convention).
fn tool_response(content: &o::Content) -> Result<Map<String, Value>, TranslateError> {
    let text = plain_text(content, "tool")?;
    if let Ok(Value::Object(m)) = serde_json::from_str::<Value>(&text) {
        return Ok(m);
    }
    let mut m = Map::new();
    m.insert("result".into(), Value::String(text));
    Ok(m)
}

fn user_parts(content: &o::Content) -> Result<Vec<g::Part>, TranslateError> {
    let parts = match content {
        o::Content::Text(s) => return Ok(non_empty_text(s).into_iter().collect()),
        o::Content::Parts(parts) => parts,
    };
    let mut out = Vec::with_capacity(parts.len());
    for p in parts {
        match p {
            o::Part::Text { text } => out.extend(non_empty_text(text)),
            o::Part::ImageUrl { image_url } => out.push(image(&image_url.url)?),
            o::Part::Refusal { .. } | o::Part::InputAudio {} | o::Part::File {} => {
                return Err(TranslateError::UnsupportedPart { role: "user" })
            }
        }
    }
    Ok(out)
}

/// Gemini rejects empty text parts, so empty strings produce none.
fn non_empty_text(s: &str) -> Option<g::Part> {
    (!s.is_empty()).then(|| text_part(s.to_owned()))
}

fn model_parts(
    content: Option<&o::Content>,
    calls: Option<&[o::ToolCall]>,
) -> Result<Vec<g::Part>, TranslateError> {
    let mut out = Vec::new();
    match content {
        None => {}
        Some(o::Content::Text(s)) => out.extend(non_empty_text(s)),
        Some(o::Content::Parts(parts)) => {
            for p in parts {
                match p {
                    o::Part::Text { text } => out.extend(non_empty_text(text)),
                    // A refusal is the model's own earlier output; nothing to send back.
                    o::Part::Refusal { .. } => {}
                    _ => return Err(TranslateError::UnsupportedPart { role: "assistant" }),
                }
            }
        }
    }
    for c in calls.unwrap_or_default() {
        out.push(g::Part {
            function_call: Some(g::FunctionCall {
                name: c.function.name.clone(),
                args: tool_args(&c.id, &c.function.arguments)?,
            }),
            thought_signature: ids::signature_of(&c.id),
            ..g::Part::default()
        });
    }
    Ok(out)
}

/// OpenAI arguments are a JSON string, Gemini's `args` an object. Invalid JSON fails the
/// request (a clear 400) rather than sending the model a history it never produced.
fn tool_args(id: &str, args: &str) -> Result<Map<String, Value>, TranslateError> {
    if args.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str::<Value>(args) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(TranslateError::InvalidToolArguments { id: id.to_owned() }),
    }
}

/// `data:` URLs become `inlineData`; http(s) and `gs://` URLs `fileData` (Gemini fetches
/// Files-API and Cloud Storage URIs; the MIME type is inferred from the extension when it can
/// be, as `fileData.mimeType` is optional).
fn image(url: &str) -> Result<g::Part, TranslateError> {
    if let Some(rest) = url.strip_prefix("data:") {
        let (meta, data) = rest.split_once(',').ok_or(TranslateError::InvalidImage)?;
        let mime_type = meta
            .strip_suffix(";base64")
            .ok_or(TranslateError::InvalidImage)?;
        if !mime_type.starts_with("image/") {
            return Err(TranslateError::UnsupportedImageType(mime_type.to_owned()));
        }
        return Ok(g::Part {
            inline_data: Some(g::Blob {
                mime_type: mime_type.to_owned(),
                data: data.to_owned(),
            }),
            ..g::Part::default()
        });
    }
    let remote = ["https://", "http://", "gs://"]
        .iter()
        .any(|p| url.starts_with(p));
    if !remote {
        return Err(TranslateError::InvalidImage);
    }
    Ok(g::Part {
        file_data: Some(g::FileData {
            mime_type: mime_from_extension(url),
            file_uri: url.to_owned(),
        }),
        ..g::Part::default()
    })
}

fn mime_from_extension(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let ext = path.rsplit_once('.')?.1.to_ascii_lowercase();
    let mime = match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "heic" => "image/heic",
        "heif" => "image/heif",
        "pdf" => "application/pdf",
        _ => return None,
    };
    Some(mime.to_owned())
}

type ToolsOut = (Option<Vec<g::Tool>>, Option<g::ToolConfig>);

fn tools(req: &o::ChatRequest) -> Result<ToolsOut, TranslateError> {
    let defs = match req.tools.as_deref() {
        Some(defs) if !defs.is_empty() => defs,
        // Without declarations a function-calling config means nothing.
        _ => return Ok((None, None)),
    };
    let mut decls = Vec::with_capacity(defs.len());
    for t in defs {
        match t {
            o::Tool::Function { function: f } => decls.push(g::FunctionDeclaration {
                name: f.name.clone(),
                description: f.description.clone(),
                parameters: f.parameters.as_ref().and_then(parameters),
            }),
            o::Tool::Custom {} => return Err(TranslateError::Unsupported("custom tools")),
        }
    }
    let config = tool_config(req.tool_choice.as_ref())?;
    Ok((
        Some(vec![g::Tool {
            function_declarations: decls,
        }]),
        config,
    ))
}

/// Gemini rejects an OBJECT schema with no properties ("should be non-empty for OBJECT
/// type"): a no-argument function is declared without `parameters`.
fn parameters(schema: &Value) -> Option<Value> {
    let cleaned = schema::clean(schema);
    let has_properties = cleaned
        .get("properties")
        .and_then(Value::as_object)
        .is_some_and(|p| !p.is_empty());
    let is_object = cleaned.get("type").and_then(Value::as_str) == Some("object");
    (has_properties || !is_object && cleaned.as_object().is_some_and(|m| !m.is_empty()))
        .then_some(cleaned)
}

fn tool_config(choice: Option<&o::ToolChoice>) -> Result<Option<g::ToolConfig>, TranslateError> {
    let (mode, allowed) = match choice {
        None => return Ok(None),
        Some(o::ToolChoice::Mode(m)) => match m.as_str() {
            "auto" => ("AUTO", None),
            "required" => ("ANY", None),
            "none" => ("NONE", None),
            other => return Err(TranslateError::InvalidToolChoice(other.to_owned())),
        },
        Some(o::ToolChoice::Named(n)) => match (n.kind.as_str(), &n.function) {
            ("function", Some(f)) => ("ANY", Some(vec![f.name.clone()])),
            (kind, _) => return Err(TranslateError::InvalidToolChoice(kind.to_owned())),
        },
    };
    Ok(Some(g::ToolConfig {
        function_calling_config: g::FunctionCallingConfig {
            mode,
            allowed_function_names: allowed,
        },
    }))
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
