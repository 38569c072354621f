//! `GET /v1/models` and `GET /v1/models/{id}` answered from the configuration.
//!
//! Owns: the OpenAI model-list shape, and Anthropic's for clients that send
//! `anthropic-version` (the Anthropic SDKs always do): `{"data":[ModelInfo],"has_more",
//! "first_id","last_id"}` with `limit` (1-1000, default 20), `after_id` and `before_id`
//! paging, sorted by id. Must not: ask providers (the gateway's catalogue is
//! its config, filtered by what the caller's key may use).

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

/// Anthropic's `ModelInfo` for a model group (`created_at` from the group's `created`).
fn anthropic_object(g: &ModelGroup) -> serde_json::Value {
    let created = std::time::UNIX_EPOCH + std::time::Duration::from_secs(g.created);
    json!({
        "type": "model",
        "id": g.name,
        "display_name": g.name,
        "created_at": crate::providers::ratelimit::rfc3339(created),
        "lifecycle": "active",
        "deprecated_at": null,
    })
}

/// The paging parameters of Anthropic's list.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Page {
    pub limit: usize,
    pub after_id: Option<String>,
    pub before_id: Option<String>,
}

impl Page {
    /// From the request's query string; a bad `limit` is a 400 like Anthropic's.
    pub fn from_query(query: &str) -> Result<Page, GatewayError> {
        let mut page = Page {
            limit: 20,
            ..Page::default()
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            // Used as sent: model ids are plain tokens, and one that matches nothing gives an
            // empty page, as an unknown id does.
            let v = v.to_owned();
            match k {
                "limit" => {
                    page.limit = v
                        .parse()
                        .ok()
                        .filter(|n| (1..=1000).contains(n))
                        .ok_or_else(|| GatewayError::InvalidParameter {
                            param: "limit",
                            message: "Input should be between 1 and 1000".into(),
                        })?;
                }
                "after_id" => page.after_id = Some(v),
                "before_id" => page.before_id = Some(v),
                _ => {}
            }
        }
        Ok(page)
    }
}

/// The models `key` may use, in Anthropic's paged shape.
pub fn list_anthropic(config: &Config, key: &VirtualKey, page: &Page) -> Bytes {
    let all: Vec<&ModelGroup> = config
        .models
        .values()
        .map(|g| g.as_ref())
        .filter(|g| auth::may_use(key, &g.name))
        .collect();
    let position =
        |id: &Option<String>| id.as_ref().map(|id| all.iter().position(|g| &g.name == id));
    let (items, has_more) = match (position(&page.after_id), position(&page.before_id)) {
        // `before_id`: the page just before it (what the SDK asks when paging backwards).
        (_, Some(before)) => {
            let end = before.unwrap_or(0);
            let start = end.saturating_sub(page.limit);
            (&all[start..end], start > 0)
        }
        (Some(after), None) => {
            let start = after.map_or(all.len(), |i| i + 1);
            let end = (start + page.limit).min(all.len());
            (&all[start..end], end < all.len())
        }
        (None, None) => {
            let end = page.limit.min(all.len());
            (&all[..end], end < all.len())
        }
    };
    let data: Vec<_> = items.iter().map(|g| anthropic_object(g)).collect();
    Bytes::from(
        json!({
            "data": data,
            "has_more": has_more,
            "first_id": items.first().map(|g| &g.name),
            "last_id": items.last().map(|g| &g.name),
        })
        .to_string(),
    )
}

/// One model in Anthropic's shape, or 404.
pub fn get_anthropic(config: &Config, key: &VirtualKey, id: &str) -> Result<Bytes, GatewayError> {
    config
        .models
        .get(id)
        .filter(|g| auth::may_use(key, &g.name))
        .map(|g| Bytes::from(anthropic_object(g).to_string()))
        .ok_or_else(|| GatewayError::ModelNotFound(id.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        let text = "listen: [\"127.0.0.1:1\"]\nproviders:\n  mock: { kind: mock }\nmodels:\n  a: { targets: [ { provider: mock, model: m } ] }\n  b: { targets: [ { provider: mock, model: m } ] }\n  c: { targets: [ { provider: mock, model: m } ] }\nkeys:\n  - { name: k, key: sk-test-key }\n";
        crate::config::load_str(text, std::path::Path::new("t.yaml"), &|_| None).unwrap()
    }

    fn ids(body: &Bytes) -> (Vec<String>, bool, serde_json::Value, serde_json::Value) {
        let v: serde_json::Value = serde_json::from_slice(body).unwrap();
        let ids = v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect();
        (
            ids,
            v["has_more"].as_bool().unwrap(),
            v["first_id"].clone(),
            v["last_id"].clone(),
        )
    }

    #[test]
    fn anthropic_pages_forward_and_backward() {
        let c = config();
        let key = c.keys[0].clone();
        let page = |q: &str| ids(&list_anthropic(&c, &key, &Page::from_query(q).unwrap()));
        assert_eq!(
            page("limit=2"),
            (vec!["a".into(), "b".into()], true, "a".into(), "b".into())
        );
        assert_eq!(
            page("limit=2&after_id=b"),
            (vec!["c".into()], false, "c".into(), "c".into())
        );
        assert_eq!(
            page("limit=1&before_id=c"),
            (vec!["b".into()], true, "b".into(), "b".into())
        );
        assert_eq!(page("before_id=a").0, Vec::<String>::new());
        assert_eq!(
            page("after_id=zzz"),
            (
                vec![],
                false,
                serde_json::Value::Null,
                serde_json::Value::Null
            )
        );
        assert!(Page::from_query("limit=0").is_err());
        assert!(Page::from_query("limit=1001").is_err());
        let one: serde_json::Value =
            serde_json::from_slice(&get_anthropic(&c, &key, "b").unwrap()).unwrap();
        assert_eq!(one["type"], "model");
        assert!(one["created_at"].as_str().unwrap().ends_with('Z'));
    }
}
