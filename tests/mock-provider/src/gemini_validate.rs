//! Checks a Gemini request the way the Generative Language API does (providers.md §4.2):
//! unknown fields, roles, parts with exactly one data field, functionResponse names that
//! answer a preceding functionCall, generationConfig types, and tool schemas free of the JSON
//! Schema keywords Gemini's `Schema` rejects. Pure; pushes one line per problem.

use serde_json::{Map, Value};

const TOP: &[&str] = &[
    "contents",
    "systemInstruction",
    "tools",
    "toolConfig",
    "generationConfig",
    "safetySettings",
    "cachedContent",
];

const PART_DATA: &[&str] = &[
    "text",
    "inlineData",
    "fileData",
    "functionCall",
    "functionResponse",
    "executableCode",
    "codeExecutionResult",
];

/// Keywords `Schema` (OpenAPI subset) rejects with 400.
const SCHEMA_REJECTED: &[&str] = &[
    "additionalProperties",
    "$schema",
    "$ref",
    "$defs",
    "definitions",
    "const",
    "oneOf",
    "allOf",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "strict",
];

pub(crate) fn validate(obj: &Map<String, Value>, p: &mut Vec<String>) {
    for k in obj.keys() {
        if !TOP.contains(&k.as_str()) {
            p.push(format!("Invalid JSON payload received. Unknown name {k:?}"));
        }
    }
    match obj.get("contents") {
        Some(Value::Array(c)) if !c.is_empty() => contents(c, p),
        _ => p.push("contents: required non-empty array".into()),
    }
    if let Some(s) = obj.get("systemInstruction") {
        let texts = s
            .get("parts")
            .and_then(Value::as_array)
            .is_some_and(|parts| {
                !parts.is_empty()
                    && parts
                        .iter()
                        .all(|x| x.get("text").is_some_and(Value::is_string))
            });
        if !texts {
            p.push("systemInstruction: parts must be non-empty text parts".into());
        }
    }
    if let Some(g) = obj.get("generationConfig") {
        generation_config(g, p);
    }
    let declared = obj.get("tools").map(|t| tools(t, p)).unwrap_or_default();
    if let Some(tc) = obj.get("toolConfig") {
        tool_config(tc, &declared, p);
    }
}

fn contents(c: &[Value], p: &mut Vec<String>) {
    let mut prev: Option<&str> = None;
    let mut calls: Vec<&str> = Vec::new();
    for (i, m) in c.iter().enumerate() {
        let role = m.get("role").and_then(Value::as_str);
        match role {
            Some(r @ ("user" | "model")) => {
                if prev == Some(r) {
                    p.push(format!(
                        "contents[{i}].role: {r:?} repeats; turns must alternate user/model"
                    ));
                }
            }
            other => p.push(format!(
                "contents[{i}].role: {other:?} is not \"user\" or \"model\""
            )),
        }
        let Some(parts) = m
            .get("parts")
            .and_then(Value::as_array)
            .filter(|x| !x.is_empty())
        else {
            p.push(format!("contents[{i}].parts: required non-empty array"));
            continue;
        };
        let mut answered: Vec<&str> = Vec::new();
        for (j, part) in parts.iter().enumerate() {
            let at = format!("contents[{i}].parts[{j}]");
            let data: Vec<&&str> = PART_DATA
                .iter()
                .filter(|k| part.get(**k).is_some())
                .collect();
            if data.len() != 1 {
                p.push(format!(
                    "{at}: exactly one data field is required, found {data:?}"
                ));
                continue;
            }
            match *data[0] {
                "text" if !part["text"].is_string() => {
                    p.push(format!("{at}.text: must be a string"))
                }
                "text" if part["text"].as_str() == Some("") => {
                    p.push(format!("{at}.text: must not be empty"))
                }
                "inlineData" => {
                    let ok = ["mimeType", "data"]
                        .iter()
                        .all(|k| part["inlineData"].get(*k).is_some_and(Value::is_string));
                    if !ok {
                        p.push(format!("{at}.inlineData: mimeType and data are required"));
                    }
                }
                "functionCall" => {
                    let f = &part["functionCall"];
                    match f.get("name").and_then(Value::as_str) {
                        Some(n) if role == Some("model") => calls.push(n),
                        Some(_) => p.push(format!("{at}: functionCall only in model turns")),
                        None => p.push(format!("{at}.functionCall.name: required")),
                    }
                    if !f.get("args").is_none_or(Value::is_object) {
                        p.push(format!("{at}.functionCall.args: must be an object"));
                    }
                }
                "functionResponse" => {
                    let f = &part["functionResponse"];
                    if !f.get("response").is_some_and(Value::is_object) {
                        p.push(format!("{at}.functionResponse.response: must be an object"));
                    }
                    match f.get("name").and_then(Value::as_str) {
                        Some(n) if calls.contains(&n) => answered.push(n),
                        other => p.push(format!(
                            "{at}.functionResponse.name: {other:?} answers no functionCall of the previous model turn"
                        )),
                    }
                }
                _ => {}
            }
        }
        if role == Some("user") {
            calls.clear();
        }
        prev = role;
    }
}

fn generation_config(g: &Value, p: &mut Vec<String>) {
    let Some(g) = g.as_object() else {
        return p.push("generationConfig: must be an object".into());
    };
    for (k, v) in g {
        let ok = match k.as_str() {
            "temperature" | "topP" | "presencePenalty" | "frequencyPenalty" => v.is_number(),
            "topK" | "seed" => v.is_i64(),
            "candidateCount" | "maxOutputTokens" => v.as_u64().is_some_and(|n| n >= 1),
            "stopSequences" => v
                .as_array()
                .is_some_and(|s| s.len() <= 5 && s.iter().all(Value::is_string)),
            "responseMimeType" => v.is_string(),
            "responseSchema" => {
                schema(v, &format!("generationConfig.{k}"), p);
                v.is_object()
            }
            other => {
                p.push(format!("generationConfig: Unknown name {other:?}"));
                true
            }
        };
        if !ok {
            p.push(format!("generationConfig.{k}: invalid value {v}"));
        }
    }
}

/// The declared function names.
fn tools<'v>(t: &'v Value, p: &mut Vec<String>) -> Vec<&'v str> {
    let mut names = Vec::new();
    let Some(list) = t.as_array() else {
        p.push("tools: must be an array".into());
        return names;
    };
    for (i, tool) in list.iter().enumerate() {
        let Some(decls) = tool.get("functionDeclarations").and_then(Value::as_array) else {
            p.push(format!("tools[{i}]: functionDeclarations array required"));
            continue;
        };
        for (j, d) in decls.iter().enumerate() {
            let at = format!("tools[{i}].functionDeclarations[{j}]");
            match d.get("name").and_then(Value::as_str) {
                Some(n) if !n.is_empty() => names.push(n),
                _ => p.push(format!("{at}.name: required")),
            }
            if let Some(params) = d.get("parameters") {
                schema(params, &format!("{at}.parameters"), p);
            }
        }
    }
    names
}

fn schema(s: &Value, at: &str, p: &mut Vec<String>) {
    let Some(obj) = s.as_object() else {
        return p.push(format!("{at}: must be an object"));
    };
    for k in obj.keys() {
        if SCHEMA_REJECTED.contains(&k.as_str()) {
            p.push(format!("{at}: Unknown name {k:?}"));
        }
    }
    let is_object = obj
        .get("type")
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase)
        == Some("object".into());
    if let Some(props) = obj.get("properties").and_then(Value::as_object) {
        if props.is_empty() && is_object {
            p.push(format!(
                "{at}.properties: should be non-empty for OBJECT type"
            ));
        }
        for (k, v) in props {
            schema(v, &format!("{at}.properties.{k}"), p);
        }
    }
    if let Some(items) = obj.get("items") {
        schema(items, &format!("{at}.items"), p);
    }
    for alt in obj
        .get("anyOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        schema(alt, &format!("{at}.anyOf"), p);
    }
}

fn tool_config(tc: &Value, declared: &[&str], p: &mut Vec<String>) {
    let Some(f) = tc.get("functionCallingConfig") else {
        return p.push("toolConfig.functionCallingConfig: required".into());
    };
    let mode = f.get("mode").and_then(Value::as_str);
    if !matches!(mode, Some("AUTO" | "ANY" | "NONE" | "VALIDATED")) {
        p.push(format!(
            "toolConfig.functionCallingConfig.mode: invalid {mode:?}"
        ));
    }
    if let Some(names) = f.get("allowedFunctionNames") {
        if mode != Some("ANY") {
            p.push("allowedFunctionNames: only with mode ANY".into());
        }
        for n in names.as_array().into_iter().flatten() {
            if !n.as_str().is_some_and(|n| declared.contains(&n)) {
                p.push(format!("allowedFunctionNames: {n} is not declared"));
            }
        }
    }
}
