//! One test per preset row, and the rewrite's byte-identity guarantees.

use super::*;

fn apply(preset: &Preset, model: &str, body: &str) -> Option<String> {
    rewrite(body.as_bytes(), preset, model).map(|b| String::from_utf8(b.to_vec()).unwrap())
}

fn mistral() -> &'static Preset {
    find("mistral").unwrap()
}
