//! `providers.<name>` with `kind: bedrock`: region, endpoint, AWS credentials, timeouts.
//!
//! Owns: those checks (a region that can sign and build the default endpoint, credentials
//! present and non-empty after `${ENV}` interpolation, usable as header values). Must not:
//! sign anything or open connections.

use http::HeaderValue;

use super::error::Diagnostics;
use super::model::{BedrockProvider, Secret, Timeouts};
use super::path::YamlPath;
use super::raw::RawBedrock;
use super::url::parse_base_url;
use super::validate::{timeouts, Context};

pub(super) fn bedrock(
    raw: RawBedrock,
    path: &YamlPath,
    defaults: &Timeouts,
    cx: &Context<'_>,
    d: &mut Diagnostics<'_>,
) -> Option<BedrockProvider> {
    let region = match raw.region {
        Some(r) if valid_region(&r) => Some(r),
        Some(_) => {
            d.at(
                &path.key("region"),
                "region must be an AWS region name such as `us-east-1`",
            );
            None
        }
        None => {
            d.at(
                path,
                "missing field `region` (Bedrock requests are signed for a region)",
            );
            None
        }
    };
    let base_url = match (&raw.base_url, &region) {
        (Some(url), _) => parse_base_url(url)
            .map_err(|m| d.at(&path.key("base_url"), m))
            .ok(),
        (None, Some(r)) => parse_base_url(&format!("https://bedrock-runtime.{r}.amazonaws.com"))
            .map_err(|m| d.at(&path.key("region"), m))
            .ok(),
        (None, None) => None,
    };
    let access_key_id = credential(raw.access_key_id, "access_key_id", true, path, cx, d);
    let secret_access_key = credential(
        raw.secret_access_key,
        "secret_access_key",
        true,
        path,
        cx,
        d,
    );
    let session_token = credential(raw.session_token, "session_token", false, path, cx, d);
    let timeouts = match &raw.timeouts {
        Some(t) => timeouts(t, *defaults, &path.key("timeouts"), d),
        None => Some(*defaults),
    };
    Some(BedrockProvider {
        region: region?,
        base_url: base_url?,
        access_key_id: access_key_id??,
        secret_access_key: secret_access_key??,
        session_token: session_token?,
        timeouts: timeouts?,
    })
}

/// Lower-case letters, digits and dashes (`us-east-1`, `us-gov-west-1`, `eu-central-2`).
fn valid_region(r: &str) -> bool {
    !r.is_empty()
        && r.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !r.starts_with('-')
        && !r.ends_with('-')
}

/// `Some(Some(secret))` when present and valid, `Some(None)` when absent and optional, `None`
/// after an error.
fn credential(
    value: Option<String>,
    field: &str,
    required: bool,
    path: &YamlPath,
    cx: &Context<'_>,
    d: &mut Diagnostics<'_>,
) -> Option<Option<Secret>> {
    let at = path.key(field);
    match value {
        Some(v) if !v.is_empty() && HeaderValue::from_str(&v).is_ok() => Some(Some(Secret::new(v))),
        Some(v) if !v.is_empty() => {
            d.at(
                &at,
                format!("{field} holds characters not allowed in a header"),
            );
            None
        }
        Some(_) => {
            let from = if cx.substituted.contains(&at) {
                " (after env interpolation)"
            } else {
                ""
            };
            d.at(&at, format!("{field} is empty{from}"));
            None
        }
        None if required => {
            d.at(
                path,
                format!("missing field `{field}` (Bedrock requires AWS credentials)"),
            );
            None
        }
        None => Some(None),
    }
}

#[cfg(test)]
#[path = "bedrock_tests.rs"]
mod tests;
