//! `GET /v1/models` and `GET /v1/models/{id}` answered from the configuration.
//!
//! Owns: the OpenAI model-list shape. Must not: ask providers (the gateway's catalogue is its
//! config, filtered by what the caller's key may use).

use bytes::Bytes;
use serde_json::json;

use super::auth;
use crate::config::{Config, ModelGroup, VirtualKey};
use crate::error::GatewayError;

fn model_object(g: &ModelGroup) -> serde_json::Value {
    json!({"id": g.name, "object": "model", "created": g.created, "owned_by": g.owned_by})
}

/// The models `key` may use.
pub fn list(config: &Config, key: &VirtualKey) -> Bytes {
    let data: Vec<_> = config
        .models
        .values()
        .filter(|g| auth::may_use(key, &g.name))
        .map(|g| model_object(g))
        .collect();
    Bytes::from(json!({"object": "list", "data": data}).to_string())
}

/// One model, or 404 when it does not exist or the key may not use it.
pub fn get(config: &Config, key: &VirtualKey, id: &str) -> Result<Bytes, GatewayError> {
    config
        .models
        .get(id)
        .filter(|g| auth::may_use(key, &g.name))
        .map(|g| Bytes::from(model_object(g).to_string()))
        .ok_or_else(|| GatewayError::ModelNotFound(id.to_owned()))
}
