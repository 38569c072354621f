//! Virtual-key authentication and per-key model authorization.
//!
//! Owns: extracting the client's key from `Authorization: Bearer`, `x-api-key` or `api-key`,
//! and looking it up by its sha256 (plain keys are never stored). Must not: forward or log the
//! presented key.

use std::collections::HashMap;
use std::sync::Arc;

use http::HeaderMap;
use sha2::{Digest, Sha256};

use crate::config::VirtualKey;
use crate::error::GatewayError;

/// The configured virtual keys, indexed by hash.
#[derive(Debug, Default)]
pub struct KeyStore {
    by_hash: HashMap<[u8; 32], Arc<VirtualKey>>,
}

impl KeyStore {
    pub fn new(keys: &[VirtualKey]) -> Self {
        KeyStore {
            by_hash: keys
                .iter()
                .map(|k| (k.sha256, Arc::new(k.clone())))
                .collect(),
        }
    }

    /// Authenticates the request's key.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Arc<VirtualKey>, GatewayError> {
        let presented = presented_key(headers).ok_or(GatewayError::MissingApiKey)?;
        let hash: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        self.by_hash
            .get(&hash)
            .cloned()
            .ok_or(GatewayError::InvalidApiKey)
    }
}

/// Checks that `key` may use the public model `model`.
pub fn authorize(key: &VirtualKey, model: &str) -> Result<(), GatewayError> {
    match &key.models {
        Some(allowed) if !allowed.iter().any(|m| m == model) => {
            Err(GatewayError::ModelNotAllowed {
                key: key.name.clone(),
                model: model.to_owned(),
            })
        }
        _ => Ok(()),
    }
}

/// Whether `key` may see `model` in `/v1/models`.
pub fn may_use(key: &VirtualKey, model: &str) -> bool {
    authorize(key, model).is_ok()
}

fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers.get(http::header::AUTHORIZATION) {
        let v = v.to_str().ok()?.trim();
        let (scheme, rest) = v.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| rest.trim())
            .filter(|k| !k.is_empty());
    }
    ["x-api-key", "api-key"]
        .iter()
        .find_map(|name| headers.get(*name))
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> KeyStore {
        KeyStore::new(&[VirtualKey {
            name: "a".into(),
            sha256: Sha256::digest(b"sk-a").into(),
            models: Some(vec!["demo".into()]),
            tier: None,
            team: None,
        }])
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn accepts_the_three_header_forms() {
        let s = store();
        for h in [
            headers(&[("authorization", "Bearer sk-a")]),
            headers(&[("authorization", "bearer  sk-a ")]),
            headers(&[("x-api-key", "sk-a")]),
            headers(&[("api-key", "sk-a")]),
        ] {
            assert_eq!(s.authenticate(&h).unwrap().name, "a");
        }
    }

    #[test]
    fn rejects_missing_and_wrong_keys() {
        let s = store();
        assert_eq!(
            s.authenticate(&headers(&[])).unwrap_err(),
            GatewayError::MissingApiKey
        );
        assert_eq!(
            s.authenticate(&headers(&[("authorization", "Bearer ")]))
                .unwrap_err(),
            GatewayError::MissingApiKey
        );
        assert_eq!(
            s.authenticate(&headers(&[("authorization", "Basic sk-a")]))
                .unwrap_err(),
            GatewayError::MissingApiKey
        );
        assert_eq!(
            s.authenticate(&headers(&[("x-api-key", "sk-b")]))
                .unwrap_err(),
            GatewayError::InvalidApiKey
        );
    }

    #[test]
    fn per_key_models() {
        let s = store();
        let k = s.authenticate(&headers(&[("api-key", "sk-a")])).unwrap();
        assert!(authorize(&k, "demo").is_ok());
        assert!(matches!(
            authorize(&k, "gpt-4o"),
            Err(GatewayError::ModelNotAllowed { .. })
        ));
    }
}
