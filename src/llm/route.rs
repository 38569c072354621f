//! Front-door routing: method + path -> the endpoint the gateway serves.
//!
//! Owns: the table of endpoints (OpenAI-compatible, plus Anthropic's `/v1/messages` and
//! `/v1/messages/count_tokens`), the 404/405 decisions, and each route's bounded metric label. Must not: look at bodies or headers.

use crate::error::GatewayError;
use crate::llm::request::BodyKind;

/// An endpoint of the OpenAI-compatible front door.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    ChatCompletions,
    Completions,
    Embeddings,
    ListModels,
    GetModel(String),
    /// Anthropic's Messages API: forwarded as is to `anthropic` targets, translated to a chat
    /// completion for the others (see `front_anthropic`).
    Messages,
    /// OpenAI's Responses API: passed through or served as a chat completion (see
    /// `front_responses`).
    Responses,
    /// Anthropic's token counting (`POST /v1/messages/count_tokens`, see `count_tokens`).
    CountTokens,
}

impl Route {
    /// Bounded label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Route::ChatCompletions => "chat_completions",
            Route::Completions => "completions",
            Route::Embeddings => "embeddings",
            Route::ListModels | Route::GetModel(_) => "models",
            Route::Messages => "messages",
            Route::Responses => "responses",
            Route::CountTokens => "count_tokens",
        }
    }

    /// The body shape of a POST route.
    pub fn body_kind(&self) -> Option<BodyKind> {
        match self {
            Route::ChatCompletions => Some(BodyKind::Chat),
            Route::Messages | Route::CountTokens => Some(BodyKind::Messages),
            Route::Completions => Some(BodyKind::Completion),
            Route::Embeddings => Some(BodyKind::Embedding),
            Route::Responses => Some(BodyKind::Responses),
            Route::ListModels | Route::GetModel(_) => None,
        }
    }

    /// The path suffix appended to a provider's base URL (which ends in `/v1` or equivalent).
    pub fn upstream_suffix(&self) -> &'static str {
        match self {
            Route::ChatCompletions => "/chat/completions",
            Route::Messages => "/messages",
            Route::CountTokens => "/messages/count_tokens",
            Route::Completions => "/completions",
            Route::Embeddings => "/embeddings",
            Route::Responses => "/responses",
            Route::ListModels | Route::GetModel(_) => "/models",
        }
    }
}

/// Label used for requests that matched no route.
pub const UNMATCHED_LABEL: &str = "unmatched";

/// Resolves a request line. The query string is ignored.
pub fn resolve(method: &str, path: &str) -> Result<Route, GatewayError> {
    let path_only = path.split('?').next().unwrap_or("");
    let trimmed = path_only.strip_suffix('/').unwrap_or(path_only);
    let (route, allow) = match trimmed {
        "/v1/chat/completions" => (Route::ChatCompletions, "POST"),
        "/v1/completions" => (Route::Completions, "POST"),
        "/v1/embeddings" => (Route::Embeddings, "POST"),
        "/v1/messages" => (Route::Messages, "POST"),
        "/v1/responses" => (Route::Responses, "POST"),
        "/v1/messages/count_tokens" => (Route::CountTokens, "POST"),
        "/v1/models" => (Route::ListModels, "GET"),
        other => match other.strip_prefix("/v1/models/") {
            Some(id) if !id.is_empty() => (Route::GetModel(percent_decode(id)), "GET"),
            _ => {
                return Err(GatewayError::NotFound {
                    method: method.to_owned(),
                    path: path_only.to_owned(),
                })
            }
        },
    };
    let method_ok = method == allow || (allow == "GET" && method == "HEAD");
    if method_ok {
        Ok(route)
    } else {
        Err(GatewayError::MethodNotAllowed {
            method: method.to_owned(),
            path: path_only.to_owned(),
            allow,
        })
    }
}

/// Model ids may contain '/' or ':' (e.g. "meta-llama/Llama-3", "llama3:8b"), which clients
/// may percent-encode.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_and_errors() {
        assert_eq!(
            resolve("POST", "/v1/chat/completions"),
            Ok(Route::ChatCompletions)
        );
        assert_eq!(
            resolve("POST", "/v1/chat/completions/?x=1"),
            Ok(Route::ChatCompletions)
        );
        assert_eq!(resolve("GET", "/v1/models"), Ok(Route::ListModels));
        assert_eq!(resolve("POST", "/v1/messages"), Ok(Route::Messages));
        assert_eq!(resolve("POST", "/v1/responses"), Ok(Route::Responses));
        assert_eq!(Route::Responses.upstream_suffix(), "/responses");
        assert!(matches!(
            resolve("GET", "/v1/responses"),
            Err(GatewayError::MethodNotAllowed { allow: "POST", .. })
        ));
        assert_eq!(
            resolve("POST", "/v1/messages/count_tokens"),
            Ok(Route::CountTokens)
        );
        assert_eq!(
            resolve("GET", "/v1/models/meta-llama%2FLlama-3"),
            Ok(Route::GetModel("meta-llama/Llama-3".into()))
        );
        assert_eq!(
            resolve("GET", "/v1/models/a/b"),
            Ok(Route::GetModel("a/b".into()))
        );
        assert!(matches!(
            resolve("GET", "/v1/chat/completions"),
            Err(GatewayError::MethodNotAllowed { allow: "POST", .. })
        ));
        assert!(matches!(
            resolve("DELETE", "/v1/models"),
            Err(GatewayError::MethodNotAllowed { .. })
        ));
        assert!(matches!(
            resolve("GET", "/v2/x"),
            Err(GatewayError::NotFound { .. })
        ));
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%41b"), "Ab");
        assert_eq!(percent_decode("%é"), "%é");
    }
}
