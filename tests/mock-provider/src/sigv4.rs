//! A small, independent AWS Signature Version 4 verifier, written from the AWS spec ("Create a
//! signed AWS API request": canonical request, string to sign, derived signing key) and not
//! from the gateway's signer (which uses the `aws-sigv4` crate), so the two check each other.
//! botocore checks this one in tests/python/bedrock_sigv4.py.
//!
//! Owns: recomputing the signature of a received request and saying what is wrong. Must not:
//! know Bedrock's JSON.

use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use crate::http1::Incoming;
use crate::BedrockAuth;

/// AWS rejects requests whose `X-Amz-Date` is further than this from its clock.
const MAX_SKEW_SECS: i64 = 5 * 60;

/// Why a signature was refused: the AWS exception name and its message.
#[derive(Debug)]
pub(crate) struct Refusal {
    pub exception: &'static str,
    pub message: String,
}

fn refuse(exception: &'static str, message: impl Into<String>) -> Refusal {
    Refusal {
        exception,
        message: message.into(),
    }
}

/// Checks the request's SigV4 signature for `service` against `auth`.
pub(crate) fn verify(req: &Incoming, auth: &BedrockAuth, service: &str) -> Result<(), Refusal> {
    let header = req.header("authorization").ok_or_else(|| {
        refuse(
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
        )
    })?;
    let rest = header.strip_prefix("AWS4-HMAC-SHA256 ").ok_or_else(|| {
        refuse(
            "IncompleteSignatureException",
            "Authorization must use AWS4-HMAC-SHA256",
        )
    })?;
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=').unwrap_or(("", ""));
        match k {
            "Credential" => credential = Some(v),
            "SignedHeaders" => signed_headers = Some(v),
            "Signature" => signature = Some(v),
            _ => {}
        }
    }
    let (Some(credential), Some(signed_headers), Some(signature)) =
        (credential, signed_headers, signature)
    else {
        return Err(refuse(
            "IncompleteSignatureException",
            "Authorization header requires Credential, SignedHeaders and Signature",
        ));
    };
    let scope: Vec<&str> = credential.split('/').collect();
    let [key_id, date, region, svc, "aws4_request"] = scope[..] else {
        return Err(refuse(
            "IncompleteSignatureException",
            "Malformed credential scope",
        ));
    };
    if key_id != auth.access_key_id {
        return Err(refuse(
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ));
    }
    if svc != service {
        return Err(refuse(
            "InvalidSignatureException",
            format!("Credential should be scoped to correct service: '{service}'."),
        ));
    }
    let amz_date = req
        .header("x-amz-date")
        .ok_or_else(|| refuse("IncompleteSignatureException", "X-Amz-Date header missing"))?;
    if !amz_date.starts_with(date) || amz_date.len() != 16 {
        return Err(refuse(
            "InvalidSignatureException",
            "Credential date does not match X-Amz-Date",
        ));
    }
    check_skew(amz_date)?;
    let names: Vec<&str> = signed_headers.split(';').collect();
    for required in ["host", "x-amz-date"] {
        if !names.contains(&required) {
            return Err(refuse(
                "InvalidSignatureException",
                format!("'{required}' must be a signed header"),
            ));
        }
    }
    match (&auth.session_token, req.header("x-amz-security-token")) {
        (Some(want), Some(got)) if want == got && names.contains(&"x-amz-security-token") => {}
        (None, None) => {}
        _ => {
            return Err(refuse(
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            ))
        }
    }
    let canonical = canonical_request(req, &names, signed_headers);
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{date}/{region}/{service}/aws4_request\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let key = signing_key(&auth.secret_access_key, date, region, service);
    let expected = hex(&hmac(&key, string_to_sign.as_bytes()));
    if expected != signature {
        // AWS echoes both strings; the gateway must not pass them on.
        return Err(refuse(
            "InvalidSignatureException",
            format!(
                "The request signature we calculated does not match the signature you provided. \
                 Check your AWS Secret Access Key and signing method. Consult the service \
                 documentation for details.\n\nThe Canonical String for this request should have \
                 been\n'{canonical}'\n\nThe String-to-Sign should have been\n'{string_to_sign}'\n"
            ),
        ));
    }
    Ok(())
}

fn check_skew(amz_date: &str) -> Result<(), Refusal> {
    let signed = parse_amz_date(amz_date)
        .ok_or_else(|| refuse("IncompleteSignatureException", "Malformed X-Amz-Date"))?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    if (now - signed).abs() > MAX_SKEW_SECS {
        return Err(refuse("InvalidSignatureException", "Signature expired"));
    }
    Ok(())
}

/// `YYYYMMDDTHHMMSSZ` → Unix seconds.
fn parse_amz_date(s: &str) -> Option<i64> {
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hh, mm, ss) = (num(9..11)?, num(11..13)?, num(13..15)?);
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// The canonical request (spec: method, URI, query, headers, signed header list, payload
/// hash). Non-S3 services encode the already-encoded path a second time.
fn canonical_request(req: &Incoming, names: &[&str], signed_headers: &str) -> String {
    let target = crate::openai::path_of(&req.target);
    let query = req.target.split_once('?').map_or("", |(_, q)| q);
    let mut out = format!("{}\n{}\n", req.method, uri_encode(target, false));
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (uri_encode(k, true), uri_encode(v, true))
        })
        .collect();
    pairs.sort();
    let q: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    out.push_str(&q.join("&"));
    out.push('\n');
    for name in names {
        let values: Vec<String> = req
            .headers
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        out.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    out.push('\n');
    out.push_str(signed_headers);
    out.push('\n');
    out.push_str(&hex(&Sha256::digest(&req.body)));
    out
}

/// RFC 3986 encoding of everything but unreserved characters (and `/` in paths).
fn uri_encode(s: &str, encode_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || (b == b'/' && !encode_slash) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
    let k = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k = hmac(&k, region.as_bytes());
    let k = hmac(&k, service.as_bytes());
    hmac(&k, b"aws4_request")
}

/// HMAC-SHA256 (RFC 2104), block size 64.
fn hmac(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |x: u8| block.iter().map(|b| b ^ x).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(msg)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231 test case 2.
    #[test]
    fn hmac_matches_rfc_4231() {
        let mac = hmac(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    /// The signing key example of the AWS SigV4 documentation.
    #[test]
    fn signing_key_matches_the_aws_example() {
        let k = signing_key(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20150830",
            "us-east-1",
            "iam",
        );
        assert_eq!(
            hex(&k),
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
        );
    }

    #[test]
    fn dates_and_double_encoding() {
        assert_eq!(parse_amz_date("20240501T123456Z"), Some(1_714_566_896));
        assert_eq!(parse_amz_date("19700101T000000Z"), Some(0));
        assert_eq!(
            uri_encode("/model/a.b-v1%3A0/converse", false),
            "/model/a.b-v1%253A0/converse"
        );
    }
}
