//! JSON Schema (as OpenAI clients write tool parameters and `response_format` schemas) → the
//! OpenAPI-3.0 subset Gemini's `Schema` accepts (providers.md §4.2: `additionalProperties`,
//! `$schema`, `$ref` and friends are rejected with 400).
//!
//! Owns: the keyword allow-list and the rewrites that keep a schema's meaning where Gemini has
//! an equivalent: local `$ref`s inlined (bounded depth), `type: [T, "null"]` → `nullable`,
//! `const` → a one-value `enum`, `oneOf` → `anyOf`, `required` limited to declared properties,
//! non-string enums dropped (Gemini enums are strings). Must not: fail; a keyword with no
//! equivalent is dropped (the model sees less constraint, never an error).

use serde_json::{Map, Value};

/// Keywords copied as they are.
const KEEP: &[&str] = &[
    "description",
    "format",
    "title",
    "maxItems",
    "minItems",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "minProperties",
    "maxProperties",
    "propertyOrdering",
    "example",
    "default",
    "nullable",
];

/// `$ref` chains deeper than this (recursive schemas) end in an unconstrained object.
const MAX_DEPTH: usize = 16;

/// The Gemini-acceptable version of `schema`.
pub fn clean(schema: &Value) -> Value {
    let defs = schema
        .get("$defs")
        .or_else(|| schema.get("definitions"))
        .and_then(Value::as_object);
    node(schema, defs, 0)
}

fn node(v: &Value, defs: Option<&Map<String, Value>>, depth: usize) -> Value {
    let Some(obj) = v.as_object() else {
        // `true`/`{}`-like schemas: anything goes.
        return Value::Object(Map::new());
    };
    if let Some(target) = obj.get("$ref").and_then(Value::as_str) {
        return match resolve(target, defs) {
            Some(t) if depth < MAX_DEPTH => node(t, defs, depth + 1),
            _ => object_schema(),
        };
    }
    let mut out = Map::new();
    for k in KEEP {
        if let Some(x) = obj.get(*k) {
            out.insert((*k).to_owned(), x.clone());
        }
    }
    match obj.get("type") {
        Some(Value::String(t)) => {
            out.insert("type".into(), Value::String(t.clone()));
        }
        Some(Value::Array(types)) => {
            let mut non_null = types
                .iter()
                .filter_map(Value::as_str)
                .filter(|t| *t != "null");
            if types.iter().any(|t| t == "null") {
                out.insert("nullable".into(), Value::Bool(true));
            }
            if let (Some(t), None) = (non_null.next(), non_null.next()) {
                out.insert("type".into(), Value::String(t.to_owned()));
            }
        }
        _ => {}
    }
    if let Some(e) = obj.get("enum").and_then(Value::as_array) {
        if e.iter().all(Value::is_string) {
            out.insert("enum".into(), Value::Array(e.clone()));
            out.entry("type").or_insert_with(|| "string".into());
        }
    } else if let Some(Value::String(c)) = obj.get("const") {
        out.insert("enum".into(), Value::Array(vec![Value::String(c.clone())]));
        out.entry("type").or_insert_with(|| "string".into());
    }
    if let Some(props) = obj.get("properties").and_then(Value::as_object) {
        let cleaned: Map<String, Value> = props
            .iter()
            .map(|(k, s)| (k.clone(), node(s, defs, depth + 1)))
            .collect();
        if let Some(req) = obj.get("required").and_then(Value::as_array) {
            let req: Vec<Value> = req
                .iter()
                .filter(|r| r.as_str().is_some_and(|r| cleaned.contains_key(r)))
                .cloned()
                .collect();
            if !req.is_empty() {
                out.insert("required".into(), Value::Array(req));
            }
        }
        // Gemini rejects an empty `properties` ("should be non-empty for OBJECT type").
        if !cleaned.is_empty() {
            out.insert("properties".into(), Value::Object(cleaned));
        }
        out.entry("type").or_insert_with(|| "object".into());
    }
    if let Some(items) = obj.get("items") {
        out.insert("items".into(), node(items, defs, depth + 1));
        out.entry("type").or_insert_with(|| "array".into());
    }
    let alternatives = obj
        .get("anyOf")
        .or_else(|| obj.get("oneOf"))
        .and_then(Value::as_array);
    if let Some(alts) = alternatives {
        let (nulls, rest): (Vec<&Value>, Vec<&Value>) = alts
            .iter()
            .partition(|a| a.get("type").and_then(Value::as_str) == Some("null"));
        if !nulls.is_empty() {
            out.insert("nullable".into(), Value::Bool(true));
        }
        match rest.as_slice() {
            // `anyOf: [X, {type: null}]` (how Pydantic writes Optional[X]): X, nullable.
            [one] => {
                if let Value::Object(inner) = node(one, defs, depth + 1) {
                    for (k, v) in inner {
                        out.entry(k).or_insert(v);
                    }
                }
            }
            [] => {}
            many => {
                let alts = many.iter().map(|a| node(a, defs, depth + 1)).collect();
                out.insert("anyOf".into(), Value::Array(alts));
            }
        }
    }
    Value::Object(out)
}

/// `#/$defs/Name` or `#/definitions/Name` in the root's definitions.
fn resolve<'d>(target: &str, defs: Option<&'d Map<String, Value>>) -> Option<&'d Value> {
    let name = target
        .strip_prefix("#/$defs/")
        .or_else(|| target.strip_prefix("#/definitions/"))?;
    defs?.get(name)
}

fn object_schema() -> Value {
    serde_json::json!({"type": "object"})
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::clean;

    #[test]
    fn openai_strict_schema_loses_only_what_gemini_rejects() {
        let s = json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City"},
                "unit": {"type": ["string", "null"], "enum": ["c", "f"]},
                "days": {"type": "integer", "minimum": 1, "exclusiveMaximum": 15},
                "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": true}
            },
            "required": ["city", "ghost"],
            "additionalProperties": false
        });
        assert_eq!(
            clean(&s),
            json!({
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "City"},
                    "unit": {"type": "string", "nullable": true, "enum": ["c", "f"]},
                    "days": {"type": "integer", "minimum": 1},
                    "tags": {"type": "array", "items": {"type": "string"}}
                },
                "required": ["city"]
            })
        );
    }

    #[test]
    fn refs_optional_unions_and_consts() {
        let s = json!({
            "type": "object",
            "$defs": {"Point": {"type": "object", "properties": {"x": {"type": "number"}}}},
            "properties": {
                "p": {"$ref": "#/$defs/Point"},
                "maybe": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
                "either": {"oneOf": [{"type": "integer"}, {"type": "string"}]},
                "kind": {"const": "fixed"},
                "n": {"enum": [1, 2]},
                "loop": {"$ref": "#/$defs/Missing"}
            }
        });
        assert_eq!(
            clean(&s),
            json!({
                "type": "object",
                "properties": {
                    "p": {"type": "object", "properties": {"x": {"type": "number"}}},
                    "maybe": {"type": "integer", "nullable": true},
                    "either": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
                    "kind": {"type": "string", "enum": ["fixed"]},
                    "n": {},
                    "loop": {"type": "object"}
                }
            })
        );
    }

    #[test]
    fn recursive_refs_terminate() {
        let s = json!({
            "$defs": {"Node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}}}},
            "$ref": "#/$defs/Node"
        });
        let out = clean(&s).to_string();
        assert!(out.len() < 10_000, "{out}");
    }
}
