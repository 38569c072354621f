//! Environment-variable interpolation in string values: `${VAR}`, `${VAR:-default}`, `$$`.
//!
//! Owns: rewriting every string scalar of an already parsed YAML tree, and reporting unset
//! variables and malformed `${` with the YAML path of the value.
//! Must not: touch the raw text (a variable's value can never inject YAML), touch mapping keys,
//! or read the process environment itself (the lookup is passed in, so tests are hermetic).

use std::collections::HashSet;

use serde_yaml::Value;

use super::path::{key_text, YamlPath};

/// Looks a variable up; `std::env::var(..).ok()` in production.
pub(crate) type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// What interpolating a whole tree produced besides the rewritten values.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// One message per string that could not be interpolated (the string is left as written).
    pub errors: Vec<(YamlPath, String)>,
    /// Paths whose value used at least one `${...}` (likely secrets: redacted by `dump`).
    pub substituted: HashSet<YamlPath>,
}

/// Interpolates every string scalar under `value` (mapping keys are left alone).
pub(crate) fn interpolate_tree(value: &mut Value, env: EnvLookup<'_>) -> Outcome {
    let mut out = Outcome::default();
    walk(value, &YamlPath::root(), env, &mut out);
    out
}

fn walk(value: &mut Value, path: &YamlPath, env: EnvLookup<'_>, out: &mut Outcome) {
    match value {
        Value::String(s) => match interpolate(s, env) {
            Ok(Some(new)) => {
                *s = new.text;
                if new.used_env {
                    out.substituted.insert(path.clone());
                }
            }
            Ok(None) => {}
            Err(msg) => out.errors.push((path.clone(), msg)),
        },
        Value::Sequence(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                walk(item, &path.index(i), env, out);
            }
        }
        Value::Mapping(map) => {
            for (k, v) in map.iter_mut() {
                walk(v, &path.key(&key_text(k)), env, out);
            }
        }
        Value::Tagged(tagged) => walk(&mut tagged.value, path, env, out),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// A string after interpolation.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Expanded {
    pub text: String,
    /// At least one `${...}` was replaced (not just `$$`).
    pub used_env: bool,
}

/// Interpolates one string. `Ok(None)` when nothing changes.
///
/// `${VAR:-default}` uses the default when VAR is unset *or empty*, as the shell does.
/// A `$` not followed by `{` or `$` is kept as is.
pub(crate) fn interpolate(s: &str, env: EnvLookup<'_>) -> Result<Option<Expanded>, String> {
    if !s.contains('$') {
        return Ok(None);
    }
    let mut out = String::with_capacity(s.len());
    let mut unset: Vec<String> = Vec::new();
    let mut used_env = false;
    let mut rest = s;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(tail) = after.strip_prefix('{') {
            let Some(end) = tail.find('}') else {
                return Err(malformed("`${` without a closing `}`"));
            };
            let inner = &tail[..end];
            let (name, default) = match inner.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (inner, None),
            };
            check_name(name)?;
            match (
                env(name).filter(|v| !(v.is_empty() && default.is_some())),
                default,
            ) {
                (Some(v), _) => out.push_str(&v),
                (None, Some(d)) => out.push_str(d),
                (None, None) => unset.push(name.to_string()),
            }
            used_env = true;
            rest = &tail[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    match unset.as_slice() {
        [] if used_env || out != s => Ok(Some(Expanded {
            text: out,
            used_env,
        })),
        [] => Ok(None),
        [one] => Err(format!("environment variable {one} is not set")),
        many => Err(format!(
            "environment variables {} are not set",
            many.join(", ")
        )),
    }
}

fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(())
    } else if name.is_empty() {
        Err(malformed("empty variable name in `${}`"))
    } else {
        Err(malformed(&format!("invalid variable name `{name}`")))
    }
}

fn malformed(what: &str) -> String {
    format!(
        "malformed environment reference: {what}; expected `${{NAME}}` or `${{NAME:-default}}` \
         (NAME: letters, digits, `_`), or `$$` for a literal `$`"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "KEY" => Some("sk-123".into()),
            "HOST" => Some("example.com".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    fn run(s: &str) -> Result<Option<String>, String> {
        interpolate(s, &env).map(|e| e.map(|e| e.text))
    }

    #[test]
    fn plain_strings_are_untouched() {
        assert_eq!(run("hello"), Ok(None));
        assert_eq!(run("price: 5$"), Ok(None));
        assert_eq!(run("$HOME"), Ok(None));
    }

    #[test]
    fn substitutes_several_vars_with_surrounding_text() {
        assert_eq!(
            run("https://${HOST}/v1?k=${KEY}!").unwrap().as_deref(),
            Some("https://example.com/v1?k=sk-123!")
        );
        assert_eq!(run("${KEY}").unwrap().as_deref(), Some("sk-123"));
        // An empty set variable without a default is used as is.
        assert_eq!(run("a${EMPTY}b").unwrap().as_deref(), Some("ab"));
    }

    #[test]
    fn defaults() {
        assert_eq!(
            run("${NOPE:-fallback}").unwrap().as_deref(),
            Some("fallback")
        );
        assert_eq!(run("${KEY:-fallback}").unwrap().as_deref(), Some("sk-123"));
        assert_eq!(run("${EMPTY:-x}").unwrap().as_deref(), Some("x"));
        assert_eq!(run("${NOPE:-}").unwrap().as_deref(), Some(""));
        assert_eq!(run("${NOPE:-a:b-c}").unwrap().as_deref(), Some("a:b-c"));
    }

    #[test]
    fn dollar_dollar_is_a_literal_dollar() {
        assert_eq!(run("a$$b").unwrap().as_deref(), Some("a$b"));
        assert_eq!(
            interpolate("$$", &env).unwrap().map(|e| e.used_env),
            Some(false)
        );
        assert_eq!(run("$${KEY}").unwrap().as_deref(), Some("${KEY}"));
        assert_eq!(run("$$$${KEY}").unwrap().as_deref(), Some("$${KEY}"));
        assert_eq!(run("$$${KEY}").unwrap().as_deref(), Some("$sk-123"));
    }

    #[test]
    fn unset_variables_are_named() {
        assert_eq!(
            run("${NOPE}"),
            Err("environment variable NOPE is not set".into())
        );
        assert_eq!(
            run("${A}-${KEY}-${B}"),
            Err("environment variables A, B are not set".into())
        );
    }

    #[test]
    fn malformed_references() {
        for bad in [
            "${KEY", "x${", "${}", "${1ABC}", "${A B}", "${A-b}", "${:-x}",
        ] {
            let err = run(bad).unwrap_err();
            assert!(
                err.starts_with("malformed environment reference"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn tree_reports_paths_and_leaves_keys_alone() {
        let mut v: Value = serde_yaml::from_str(
            "a: ${KEY}\n${KEY}: 1\nlist: [x, '${MISSING}', 3]\nn: 5\ndeep: { s: '$$' }\n",
        )
        .unwrap();
        let out = interpolate_tree(&mut v, &env);
        assert_eq!(v["a"].as_str(), Some("sk-123"));
        assert_eq!(v["${KEY}"].as_u64(), Some(1));
        assert_eq!(v["deep"]["s"].as_str(), Some("$"));
        assert_eq!(v["list"][1].as_str(), Some("${MISSING}"));
        let errors: Vec<(String, String)> = out
            .errors
            .iter()
            .map(|(p, m)| (p.to_string(), m.clone()))
            .collect();
        assert_eq!(
            errors,
            [(
                "list[1]".to_string(),
                "environment variable MISSING is not set".to_string()
            )]
        );
        assert!(out.substituted.contains(&YamlPath::root().key("a")));
        assert!(!out
            .substituted
            .contains(&YamlPath::root().key("deep").key("s")));
    }
}
