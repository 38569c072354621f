//! `models:` - public model names and their targets.
//!
//! Owns: model groups, their targets' defaults (model = group name, priority 0, weight 1) and
//! the check that every target names a configured provider.
//! Must not: check providers themselves (their errors are reported once, in `providers`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_yaml::Value;

use super::error::Diagnostics;
use super::model::{ModelGroup, NonEmpty, Strategy, Target};
use super::path::YamlPath;
use super::providers::Providers;
use super::raw::{RawModelGroup, RawTarget};
use super::validate::{entries, one_of, Host};

const DEFAULT_OWNED_BY: &str = "tollgate";

/// The models section: names as written, and the groups that validated.
#[derive(Debug, Default)]
pub(crate) struct Models {
    /// Every name under `models:`, valid or not (keys may name an invalid model without a
    /// second error).
    pub declared: BTreeSet<String>,
    pub valid: BTreeMap<String, Arc<ModelGroup>>,
}

pub(crate) fn models(
    v: Option<&Value>,
    path: &YamlPath,
    providers: &Providers,
    host: Host,
    d: &mut Diagnostics<'_>,
) -> Models {
    let mut out = Models::default();
    for (name, p, v) in entries(v, path, "model", d) {
        out.declared.insert(name.clone());
        if name.is_empty() {
            d.at_key(&p, "a model name must not be empty");
            continue;
        }
        let Some(raw) = d.deserialize::<RawModelGroup>(v, &p) else {
            continue;
        };
        let targets_path = p.key("targets");
        let mut targets = Vec::new();
        let mut ok = true;
        for (i, t) in raw.targets.iter().enumerate() {
            match target(t, &targets_path.index(i), &name, providers, d) {
                Some(t) => targets.push(t),
                None => ok = false,
            }
        }
        let targets = NonEmpty::new(targets);
        if targets.is_none() && ok {
            d.at(&targets_path, "at least one target is required");
        }
        let strategy = strategy(raw.strategy.as_deref(), &p.key("strategy"), d);
        if targets
            .as_ref()
            .is_some_and(|t| t.iter().all(|t| t.weight == 0))
        {
            d.at(
                &targets_path,
                "every target has weight 0, so none could ever be picked",
            );
            ok = false;
        }
        if let (Some(targets), true, Some(strategy)) = (targets, ok, strategy) {
            let group = ModelGroup {
                name: name.clone(),
                targets,
                owned_by: raw.owned_by.unwrap_or_else(|| DEFAULT_OWNED_BY.to_string()),
                created: host.now_unix,
                strategy,
            };
            out.valid.insert(name, Arc::new(group));
        }
    }
    out
}

fn target(
    v: &Value,
    path: &YamlPath,
    group: &str,
    providers: &Providers,
    d: &mut Diagnostics<'_>,
) -> Option<Target> {
    let raw: RawTarget = d.deserialize(v, path)?;
    let provider = match providers.valid.get(&raw.provider) {
        Some(p) => Some(Arc::clone(p)),
        // Declared but invalid: its own errors already explain it.
        None if providers.declared.contains(&raw.provider) => None,
        None => {
            d.at(
                &path.key("provider"),
                unknown("provider", &raw.provider, &providers.declared),
            );
            None
        }
    };
    let model = match raw.model {
        Some(m) if m.is_empty() => {
            d.at(
                &path.key("model"),
                "model must not be empty (omit it to use the group name)",
            );
            None
        }
        m => Some(m.unwrap_or_else(|| group.to_string())),
    };
    let capacity = positive(raw.capacity_rpm, path, "capacity_rpm", d);
    let capacity_tpm = positive(raw.capacity_tpm, path, "capacity_tpm", d);
    Some(Target {
        provider: provider?,
        model: model?,
        priority: raw.priority.unwrap_or(0),
        weight: raw.weight.unwrap_or(1),
        capacity_rpm: capacity?,
        capacity_tpm: capacity_tpm?,
    })
}

/// An optional capacity: absent is unlimited, 0 is refused (it would never take a request).
fn positive(
    v: Option<u32>,
    path: &YamlPath,
    name: &str,
    d: &mut Diagnostics<'_>,
) -> Option<Option<u32>> {
    if v == Some(0) {
        d.at(
            &path.key(name),
            format!("{name} must be at least 1 (omit it for no limit)"),
        );
        return None;
    }
    Some(v)
}

fn strategy(v: Option<&str>, path: &YamlPath, d: &mut Diagnostics<'_>) -> Option<Strategy> {
    let Some(name) = v else {
        return Some(Strategy::default());
    };
    let found = Strategy::ALL.into_iter().find(|s| s.name() == name);
    if found.is_none() {
        let names: Vec<&str> = Strategy::ALL.iter().map(|s| s.name()).collect();
        d.at(
            path,
            format!(
                "unknown strategy `{name}`, expected one of {}",
                one_of(&names)
            ),
        );
    }
    found
}

/// "unknown provider `x`; known providers: `a`, `b`".
pub(crate) fn unknown(what: &str, name: &str, known: &BTreeSet<String>) -> String {
    if known.is_empty() {
        return format!("unknown {what} `{name}`; no {what}s are configured");
    }
    let list: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
    format!(
        "unknown {what} `{name}`; known {what}s: {}",
        list.join(", ")
    )
}
