//! Request validation of the Bedrock mock: what Bedrock's Converse API answers with a 400
//! `ValidationException` (unknown members, role alternation from `user`, one member per content
//! block, blank text, tool blocks without `toolConfig`, `toolResult`s that answer no `toolUse`
//! of the previous turn, out-of-range inference settings).

use serde_json::{Map, Value};

/// Top-level members of `ConverseRequest` besides `modelId` (botocore 2023-09-30).
const FIELDS: &[&str] = &[
    "messages",
    "system",
    "inferenceConfig",
    "toolConfig",
    "guardrailConfig",
    "additionalModelRequestFields",
    "promptVariables",
    "additionalModelResponseFieldPaths",
    "requestMetadata",
    "performanceConfig",
    "serviceTier",
    "outputConfig",
];

pub(crate) fn validate(obj: &Map<String, Value>, p: &mut Vec<String>) {
    for k in obj.keys().filter(|k| !FIELDS.contains(&k.as_str())) {
        p.push(format!("extraneous key [{k}] is not permitted"));
    }
    if let Some(sys) = obj.get("system") {
        let ok = sys.as_array().is_some_and(|a| {
            a.iter().all(|b| {
                b.get("text")
                    .and_then(Value::as_str)
                    .is_some_and(|t| !t.trim().is_empty())
            })
        });
        if !ok {
            p.push("system: must be an array of non-blank text blocks".into());
        }
    }
    if let Some(ic) = obj.get("inferenceConfig") {
        validate_inference(ic, p);
    }
    let has_tool_config = obj.get("toolConfig").is_some();
    if let Some(tc) = obj.get("toolConfig") {
        validate_tool_config(tc, p);
    }
    match obj.get("messages").and_then(Value::as_array) {
        Some(msgs) if !msgs.is_empty() => validate_messages(msgs, has_tool_config, p),
        _ => p.push("messages: required non-empty array".into()),
    }
}

fn validate_inference(ic: &Value, p: &mut Vec<String>) {
    let Some(ic) = ic.as_object() else {
        return p.push("inferenceConfig: must be an object".into());
    };
    for (k, v) in ic {
        let ok = match k.as_str() {
            "maxTokens" => v.as_u64().is_some_and(|n| n >= 1),
            "temperature" | "topP" => v.as_f64().is_some_and(|f| (0.0..=1.0).contains(&f)),
            "stopSequences" => v.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
            _ => false,
        };
        if !ok {
            p.push(format!("inferenceConfig.{k}: invalid"));
        }
    }
}

fn validate_tool_config(tc: &Value, p: &mut Vec<String>) {
    let tools = tc.get("tools").and_then(Value::as_array);
    let ok = tools.is_some_and(|t| {
        !t.is_empty()
            && t.iter().all(|t| {
                t.pointer("/toolSpec/name").is_some_and(Value::is_string)
                    && t.pointer("/toolSpec/inputSchema/json")
                        .is_some_and(Value::is_object)
            })
    });
    if !ok {
        p.push(
            "toolConfig.tools: required non-empty array of toolSpec{name, inputSchema.json}".into(),
        );
    }
    if let Some(choice) = tc.get("toolChoice") {
        let ok = match choice.as_object() {
            Some(m) if m.len() == 1 => match m.keys().next().map(String::as_str) {
                Some("auto" | "any") => true,
                Some("tool") => choice.pointer("/tool/name").is_some_and(Value::is_string),
                _ => false,
            },
            _ => false,
        };
        if !ok {
            p.push("toolConfig.toolChoice: must be one of auto, any, tool{name}".into());
        }
    }
}

fn validate_messages(msgs: &[Value], has_tool_config: bool, p: &mut Vec<String>) {
    let mut expected = "user";
    let mut previous_tool_ids: Vec<&str> = Vec::new();
    for (i, m) in msgs.iter().enumerate() {
        let role = m.get("role").and_then(Value::as_str).unwrap_or("");
        if role != expected {
            p.push(format!("messages[{i}].role: expected {expected:?}, got {role:?} (conversations must alternate from user)"));
        }
        expected = if role == "user" { "assistant" } else { "user" };
        let Some(blocks) = m
            .get("content")
            .and_then(Value::as_array)
            .filter(|b| !b.is_empty())
        else {
            p.push(format!("messages[{i}].content: required non-empty array"));
            continue;
        };
        let mut tool_ids = Vec::new();
        for (j, b) in blocks.iter().enumerate() {
            let at = format!("messages[{i}].content[{j}]");
            let Some(obj) = b.as_object().filter(|o| o.len() == 1) else {
                p.push(format!(
                    "{at}: a content block must have exactly one member"
                ));
                continue;
            };
            let (kind, v) = obj.iter().next().expect("one member");
            let ok = match kind.as_str() {
                "text" => v.as_str().is_some_and(|t| !t.trim().is_empty()),
                "image" => {
                    matches!(
                        v.get("format").and_then(Value::as_str),
                        Some("png" | "jpeg" | "gif" | "webp")
                    ) && v.pointer("/source/bytes").is_some_and(Value::is_string)
                }
                "toolUse" => {
                    if let Some(id) = v.get("toolUseId").and_then(Value::as_str) {
                        tool_ids.push(id);
                    }
                    role == "assistant"
                        && v.get("toolUseId").is_some_and(Value::is_string)
                        && v.get("name").is_some_and(Value::is_string)
                        && v.get("input").is_some_and(Value::is_object)
                }
                "toolResult" => {
                    let id = v.get("toolUseId").and_then(Value::as_str);
                    if !id.is_some_and(|id| previous_tool_ids.contains(&id)) {
                        p.push(format!(
                            "{at}: toolResult {id:?} answers no toolUse of the previous turn"
                        ));
                    }
                    role == "user"
                        && v.get("content")
                            .and_then(Value::as_array)
                            .is_some_and(|c| !c.is_empty())
                }
                _ => false,
            };
            if !ok {
                p.push(format!("{at}: invalid {kind} block"));
            }
            if (kind == "toolUse" || kind == "toolResult") && !has_tool_config {
                p.push(format!(
                    "{at}: toolConfig is required when the conversation has tool blocks"
                ));
            }
        }
        previous_tool_ids = tool_ids;
    }
    if expected != "assistant" {
        p.push("messages: the last message must be from the user".into());
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn problems(v: Value) -> Vec<String> {
        let mut p = Vec::new();
        validate(v.as_object().unwrap(), &mut p);
        p
    }

    #[test]
    fn a_good_tool_round_trip_passes() {
        let v = json!({
            "messages": [
                {"role": "user", "content": [{"text": "go"}]},
                {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t1", "name": "f", "input": {}}}]},
                {"role": "user", "content": [{"toolResult": {"toolUseId": "t1", "content": [{"text": "ok"}]}}]}
            ],
            "toolConfig": {"tools": [{"toolSpec": {"name": "f", "inputSchema": {"json": {}}}}], "toolChoice": {"auto": {}}},
            "inferenceConfig": {"maxTokens": 5, "temperature": 0.5}
        });
        assert_eq!(problems(v), Vec::<String>::new());
    }

    #[test]
    fn what_bedrock_refuses_is_refused() {
        let p = problems(json!({
            "model": "leaked",
            "messages": [
                {"role": "assistant", "content": [{"text": "first"}]},
                {"role": "user", "content": [{"text": " "}, {"text": "a", "image": {}}]},
                {"role": "user", "content": [{"toolResult": {"toolUseId": "nope", "content": [{"text": "x"}]}}]}
            ],
            "inferenceConfig": {"temperature": 1.5, "topK": 3}
        }));
        for want in [
            "extraneous key [model]",
            "messages[0].role: expected \"user\"",
            "messages[1].content[0]: invalid text block",
            "messages[1].content[1]: a content block must have exactly one member",
            "answers no toolUse",
            "toolConfig is required",
            "inferenceConfig.temperature: invalid",
            "inferenceConfig.topK: invalid",
        ] {
            assert!(p.iter().any(|x| x.contains(want)), "{want} not in {p:?}");
        }
    }
}
