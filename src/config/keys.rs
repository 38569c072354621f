//! `keys:` - the virtual API keys clients present to the gateway.
//!
//! Owns: reading each key as a sha256 (a plain `key` is hashed at once and not kept), unique
//! names and secrets, and the check that a key's `models` exist.
//! Must not: keep or print a plain key, or look at providers.

use std::collections::BTreeSet;

use serde_yaml::Value;
use sha2::{Digest, Sha256};

use super::error::Diagnostics;
use super::model::VirtualKey;
use super::models::unknown;
use super::path::YamlPath;
use super::raw::RawKey;
use super::units::kind;

pub(crate) fn keys(
    v: Option<&Value>,
    path: &YamlPath,
    models: &BTreeSet<String>,
    tiers: &BTreeSet<String>,
    d: &mut Diagnostics<'_>,
) -> Vec<VirtualKey> {
    let items = match v {
        None => return Vec::new(),
        Some(Value::Sequence(items)) => items,
        Some(other) => {
            d.at(
                path,
                format!("expected a list of keys, found {}", kind(other)),
            );
            return Vec::new();
        }
    };
    let mut names: Vec<(String, YamlPath)> = Vec::new();
    let mut out: Vec<(YamlPath, VirtualKey)> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let p = path.index(i);
        let Some(raw) = d.deserialize::<RawKey>(item, &p) else {
            continue;
        };
        // Checked before the rest, so a duplicate name is reported even if the key is invalid.
        if let Some((_, first)) = names.iter().find(|(n, _)| *n == raw.name) {
            d.at(
                &p.key("name"),
                format!("duplicate key name `{}` (also at {first})", raw.name),
            );
            continue;
        }
        names.push((raw.name.clone(), p.clone()));
        let Some(key) = key(raw, &p, models, tiers, d) else {
            continue;
        };
        if let Some((first, other)) = out.iter().find(|(_, k)| k.sha256 == key.sha256) {
            d.at(
                &p,
                format!(
                    "same secret as {first} (`{}`); every key must be distinct",
                    other.name
                ),
            );
        } else {
            out.push((p, key));
        }
    }
    out.into_iter().map(|(_, k)| k).collect()
}

fn key(
    raw: RawKey,
    path: &YamlPath,
    models: &BTreeSet<String>,
    tiers: &BTreeSet<String>,
    d: &mut Diagnostics<'_>,
) -> Option<VirtualKey> {
    let tier_ok = match &raw.tier {
        Some(t) if !tiers.contains(t) => {
            d.at(&path.key("tier"), unknown("tier", t, tiers));
            false
        }
        _ => true,
    };
    let name = if raw.name.is_empty() {
        d.at(&path.key("name"), "a key name must not be empty");
        None
    } else {
        Some(raw.name)
    };
    let sha256 = match (raw.key, raw.key_sha256) {
        (Some(_), Some(_)) => {
            d.at(path, "set either `key` or `key_sha256`, not both");
            None
        }
        (None, None) => {
            d.at(
                path,
                "missing `key` (the secret) or `key_sha256` (its sha256 in hex)",
            );
            None
        }
        (Some(k), None) if k.is_empty() => {
            d.at(&path.key("key"), "key must not be empty");
            None
        }
        (Some(k), None) => Some(Sha256::digest(k.as_bytes()).into()),
        (None, Some(h)) => parse_sha256(&h)
            .map_err(|m| d.at(&path.key("key_sha256"), m))
            .ok(),
    };
    let allowed = match raw.models {
        None => Some(None),
        Some(list) if list.is_empty() => {
            d.at(
                &path.key("models"),
                "an empty list allows no model; remove `models` to allow every model",
            );
            None
        }
        Some(list) => {
            let mut ok = true;
            for (j, m) in list.iter().enumerate() {
                if !models.contains(m) {
                    d.at(&path.key("models").index(j), unknown("model", m, models));
                    ok = false;
                }
            }
            ok.then_some(Some(list))
        }
    };
    if !tier_ok {
        return None;
    }
    Some(VirtualKey {
        name: name?,
        sha256: sha256?,
        models: allowed?,
        tier: raw.tier,
        team: raw.team,
    })
}

fn parse_sha256(text: &str) -> Result<[u8; 32], String> {
    let mut out = [0u8; 32];
    if text.len() != 64 {
        return Err(format!(
            "key_sha256 must be 64 hex characters (the sha256 of the key), found {} characters",
            text.chars().count()
        ));
    }
    hex::decode_to_slice(text, &mut out)
        .map_err(|_| "key_sha256 must contain only hex characters (0-9, a-f)".to_string())?;
    Ok(out)
}
