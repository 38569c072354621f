//! Applying a preset's quirks to a client's chat body.
//!
//! Owns: the decision whether a body needs changing (a byte pre-check per rule: a body
//! without the trigger key is never parsed) and, when one does, the edit: the top-level
//! members are re-joined in their order with every untouched value copied byte for byte;
//! only `messages` is re-serialized, and only when tool-call ids change. Must not: change a
//! body no rule applies to (the result is `None` and the caller sends the original bytes),
//! or fail a request (a body that does not parse as an object is left to the vendor).
//!
//! Keys written with JSON escapes (`"max\u005ftokens"`) are not recognised; no client writes
//! them.

use std::borrow::Cow;
use std::fmt;

use bytes::{Bytes, BytesMut};
use memchr::memmem;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::ids::IdMap;
use super::{MaxTokens, Preset, ToolIds};

/// The body with `preset`'s quirks applied for `model` (the name sent upstream), or `None`
/// when none applies.
pub fn rewrite(body: &[u8], preset: &Preset, model: &str) -> Option<Bytes> {
    if !may_apply(body, preset, model) {
        return None;
    }
    let Members(members) = serde_json::from_slice(body).ok()?;
    let has = |k: &str| members.iter().any(|(n, _)| n == k);
    let mct_only = preset.completion_tokens_only(model);
    let mut out: Vec<(Cow<'_, str>, Cow<'_, str>)> = Vec::with_capacity(members.len());
    let mut changed = false;
    for (name, raw) in &members {
        let value = Cow::Borrowed(raw.get());
        let name = name.as_ref();
        let drop = preset.rejects.contains(&name)
            || (name == "stream_options" && !preset.stream_options)
            // The client sent both: the one the vendor takes is renamed below, this one goes.
            || (name == "max_tokens" && preset.max_tokens == MaxTokens::Legacy && has("max_completion_tokens"))
            || (name == "max_tokens" && mct_only && has("max_completion_tokens"))
            // Sent under both names: the vendor's own spelling wins.
            || preset.renames.iter().any(|(from, to)| *from == name && has(to));
        if drop {
            changed = true;
            continue;
        }
        let renamed = match name {
            "max_completion_tokens" if preset.max_tokens == MaxTokens::Legacy => Some("max_tokens"),
            "max_tokens" if mct_only => Some("max_completion_tokens"),
            n => preset
                .renames
                .iter()
                .find(|(from, _)| *from == n)
                .map(|(_, to)| *to),
        };
        let value = match (name, preset.tool_choice_required) {
            ("tool_choice", Some(to)) if raw.get() == "\"required\"" => {
                Cow::Owned(Value::from(to).to_string())
            }
            ("messages", _) if preset.tool_ids == ToolIds::Alnum9 => match rewrite_ids(raw.get()) {
                Some(m) => Cow::Owned(m),
                None => value,
            },
            _ => value,
        };
        changed |= renamed.is_some() || matches!(value, Cow::Owned(_));
        out.push((Cow::Borrowed(renamed.unwrap_or(name)), value));
    }
    changed.then(|| join(&out, body.len()))
}

/// Cheap pre-check: can any rule of `preset` apply to `body`?
fn may_apply(body: &[u8], preset: &Preset, model: &str) -> bool {
    // `"key"` anywhere (no allocation: match the bare key, then its quotes).
    let has = |key: &str| {
        let k = key.as_bytes();
        memmem::find_iter(body, k)
            .any(|i| i > 0 && body[i - 1] == b'"' && body.get(i + k.len()) == Some(&b'"'))
    };
    (!preset.stream_options && has("stream_options"))
        || (preset.max_tokens == MaxTokens::Legacy && has("max_completion_tokens"))
        || (preset.completion_tokens_only(model) && has("max_tokens"))
        || (preset.tool_ids == ToolIds::Alnum9 && (has("tool_calls") || has("tool_call_id")))
        || (preset.tool_choice_required.is_some() && has("required"))
        || preset.rejects.iter().any(|k| has(k))
        || preset.renames.iter().any(|(k, _)| has(k))
}

/// `messages` with every tool-call id the vendor refuses rewritten; `None` when all are fine.
fn rewrite_ids(raw: &str) -> Option<String> {
    let mut messages: Vec<Value> = serde_json::from_str(raw).ok()?;
    let mut ids: Vec<String> = Vec::new();
    for m in &messages {
        visit_ids(m, |id| ids.push(id.clone()));
    }
    let map = IdMap::build(ids.iter().map(String::as_str));
    if !map.rewrites() {
        return None;
    }
    for m in &mut messages {
        visit_ids_mut(m, |id| *id = map.get(id).to_owned());
    }
    serde_json::to_string(&messages).ok()
}

fn visit_ids(m: &Value, mut f: impl FnMut(&String)) {
    if let Some(Value::String(id)) = m.get("tool_call_id") {
        f(id);
    }
    if let Some(Value::Array(calls)) = m.get("tool_calls") {
        for c in calls {
            if let Some(Value::String(id)) = c.get("id") {
                f(id);
            }
        }
    }
}

fn visit_ids_mut(m: &mut Value, mut f: impl FnMut(&mut String)) {
    if let Some(Value::String(id)) = m.get_mut("tool_call_id") {
        f(id);
    }
    if let Some(Value::Array(calls)) = m.get_mut("tool_calls") {
        for c in calls {
            if let Some(Value::String(id)) = c.get_mut("id") {
                f(id);
            }
        }
    }
}

fn join(members: &[(Cow<'_, str>, Cow<'_, str>)], hint: usize) -> Bytes {
    let mut out = BytesMut::with_capacity(hint + 16);
    out.extend_from_slice(b"{");
    for (i, (name, value)) in members.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b",");
        }
        out.extend_from_slice(Value::from(name.as_ref()).to_string().as_bytes());
        out.extend_from_slice(b":");
        out.extend_from_slice(value.as_bytes());
    }
    out.extend_from_slice(b"}");
    out.freeze()
}

/// A JSON object's members in document order, values as raw text.
struct Members<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<Cow<'de, str>, &'de RawValue>()? {
                    out.push((k, v));
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(V)
    }
}
