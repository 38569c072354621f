//! OpenAI `POST /v1/embeddings` ⇄ Gemini `:batchEmbedContents` (providers.md §1.5, §4.1).
//!
//! Owns: one `EmbedContentRequest` per input string (`dimensions` → `outputDimensionality`),
//! and the answer as OpenAI's `list` (floats, or base64 of little-endian f32s when the client
//! asked), with usage: Gemini's count when it sends one, else the gateway's estimate. Must not:
//! do I/O; token-array inputs are refused (Gemini takes text only).

use serde::Serialize;
use serde_json::Value;

use super::wire as g;
use crate::providers::translate::{EmbeddingsOptions, TranslateError};

/// The Gemini request for the client's OpenAI embeddings body; `model` is the target's.
pub fn encode_embeddings(body: &[u8], model: &str) -> Result<Vec<u8>, TranslateError> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| TranslateError::InvalidJson(e.to_string()))?;
    let texts: Vec<&str> = match v.get("input") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) if !items.is_empty() && items.iter().all(Value::is_string) => {
            items.iter().filter_map(Value::as_str).collect()
        }
        Some(Value::Array(items)) if !items.is_empty() => {
            return Err(TranslateError::Unsupported(
                "token-array embedding inputs (send text)",
            ))
        }
        _ => {
            return Err(TranslateError::Invalid(
                "'input' must be a string or a non-empty array of strings.".into(),
            ))
        }
    };
    let dims = match v.get("dimensions") {
        None | Some(Value::Null) => None,
        Some(d) => Some(
            d.as_u64()
                .and_then(|d| u32::try_from(d).ok())
                .filter(|d| *d > 0)
                .ok_or_else(|| {
                    TranslateError::Invalid("'dimensions' must be a positive integer.".into())
                })?,
        ),
    };
    let name = format!("models/{model}");
    let req = g::BatchEmbedRequest {
        requests: texts
            .into_iter()
            .map(|t| g::EmbedRequest {
                model: name.clone(),
                content: g::Content {
                    role: None,
                    parts: vec![g::Part {
                        text: Some(t.to_owned()),
                        ..g::Part::default()
                    }],
                },
                output_dimensionality: dims,
            })
            .collect(),
    };
    serde_json::to_vec(&req).map_err(|e| TranslateError::InvalidJson(e.to_string()))
}

#[derive(Serialize)]
struct List<'a> {
    object: &'static str,
    data: Vec<Item>,
    model: &'a str,
    usage: Usage,
}

#[derive(Serialize)]
struct Item {
    object: &'static str,
    index: usize,
    embedding: Vector,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Vector {
    Floats(Vec<f64>),
    Base64(String),
}

#[derive(Serialize)]
struct Usage {
    prompt_tokens: u64,
    total_tokens: u64,
}

/// Translates a 2xx `batchEmbedContents` answer.
pub fn decode_embeddings(body: &[u8], opts: &EmbeddingsOptions) -> Result<Vec<u8>, TranslateError> {
    let resp: g::BatchEmbedResponse =
        serde_json::from_slice(body).map_err(|e| TranslateError::InvalidResponse(e.to_string()))?;
    let prompt = resp
        .usage_metadata
        .and_then(|u| u.prompt_token_count)
        .unwrap_or(opts.prompt_estimate);
    let data = resp
        .embeddings
        .into_iter()
        .enumerate()
        .map(|(index, e)| Item {
            object: "embedding",
            index,
            embedding: if opts.base64 {
                Vector::Base64(f32_base64(&e.values))
            } else {
                Vector::Floats(e.values)
            },
        })
        .collect();
    let out = List {
        object: "list",
        data,
        model: &opts.model,
        usage: Usage {
            prompt_tokens: prompt,
            total_tokens: prompt,
        },
    };
    serde_json::to_vec(&out).map_err(|e| TranslateError::InvalidResponse(e.to_string()))
}

/// Standard padded base64 of the values as little-endian f32s (what OpenAI SDKs decode).
fn f32_base64(values: &[f64]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    #[allow(clippy::cast_possible_truncation)]
    let bytes: Vec<u8> = values
        .iter()
        .flat_map(|v| (*v as f32).to_le_bytes())
        .collect();
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    #[test]
    fn inputs_and_dimensions_become_batch_requests() {
        let body = br#"{"model":"alias","input":["a b","c"],"dimensions":64}"#;
        let v: Value =
            serde_json::from_slice(&encode_embeddings(body, "text-embedding-004").unwrap())
                .unwrap();
        assert_eq!(
            v,
            json!({"requests": [
                {"model": "models/text-embedding-004", "content": {"parts": [{"text": "a b"}]}, "outputDimensionality": 64},
                {"model": "models/text-embedding-004", "content": {"parts": [{"text": "c"}]}, "outputDimensionality": 64}
            ]})
        );
        let one = encode_embeddings(br#"{"input":"x"}"#, "m").unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&one).unwrap()["requests"][0]["content"]["parts"][0]
                ["text"],
            "x"
        );
    }

    #[test]
    fn token_inputs_and_bad_dimensions_are_400s() {
        for body in [
            &br#"{"input":[1,2,3]}"#[..],
            br#"{"input":[[1,2]]}"#,
            br#"{"input":[]}"#,
            br#"{"input":"x","dimensions":0}"#,
            br#"{"input":"x","dimensions":"8"}"#,
            b"{",
        ] {
            let e = encode_embeddings(body, "m").unwrap_err();
            assert_eq!(e.status(), 400, "{e}");
        }
    }

    #[test]
    fn answer_is_an_openai_list_with_usage() {
        let opts = EmbeddingsOptions {
            model: "emb".into(),
            base64: false,
            prompt_estimate: 7,
        };
        let body = br#"{"embeddings":[{"values":[0.5,-0.25]},{"values":[1.0]}]}"#;
        let v: Value = serde_json::from_slice(&decode_embeddings(body, &opts).unwrap()).unwrap();
        assert_eq!(
            v,
            json!({"object": "list", "model": "emb",
                   "data": [{"object": "embedding", "index": 0, "embedding": [0.5, -0.25]},
                            {"object": "embedding", "index": 1, "embedding": [1.0]}],
                   "usage": {"prompt_tokens": 7, "total_tokens": 7}})
        );
        let counted = br#"{"embeddings":[],"usageMetadata":{"promptTokenCount":3}}"#;
        let v: Value = serde_json::from_slice(&decode_embeddings(counted, &opts).unwrap()).unwrap();
        assert_eq!(v["usage"]["prompt_tokens"], 3);
        assert!(decode_embeddings(b"nope", &opts).is_err());
    }

    #[test]
    fn base64_is_little_endian_f32() {
        // 1.0f32 = 00 00 80 3f; -2.0f32 = 00 00 00 c0.
        assert_eq!(f32_base64(&[1.0]), "AACAPw==");
        assert_eq!(f32_base64(&[1.0, -2.0]), "AACAPwAAAMA=");
        assert_eq!(f32_base64(&[]), "");
        let opts = EmbeddingsOptions {
            model: "m".into(),
            base64: true,
            prompt_estimate: 0,
        };
        let v: Value = serde_json::from_slice(
            &decode_embeddings(br#"{"embeddings":[{"values":[1.0]}]}"#, &opts).unwrap(),
        )
        .unwrap();
        assert_eq!(v["data"][0]["embedding"], "AACAPw==");
    }
}
