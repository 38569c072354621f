//! The gateway's client-facing error type and its one mapping to HTTP status, OpenAI error
//! `type`/`code`/`param` and metric label.
//!
//! Owns: `GatewayError` and the exhaustive, wildcard-free mappings. Must not: do I/O, log, or
//! carry upstream addresses or secrets in messages (messages reach clients).

use bytes::Bytes;
use serde_json::json;
use thiserror::Error;

/// Every way a request can fail before or while talking to a provider.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum GatewayError {
    #[error("You didn't provide an API key. Send it as 'Authorization: Bearer KEY', 'x-api-key' or 'api-key'.")]
    MissingApiKey,
    #[error("Incorrect API key provided.")]
    InvalidApiKey,
    #[error("The key '{key}' is not allowed to use the model '{model}'.")]
    ModelNotAllowed { key: String, model: String },
    #[error("The model '{0}' does not exist or you do not have access to it.")]
    ModelNotFound(String),
    #[error("We could not parse the JSON body of your request: {0}")]
    InvalidJson(String),
    #[error("Missing required parameter: '{0}'.")]
    MissingParameter(&'static str),
    #[error("Invalid value for '{param}': {message}")]
    InvalidParameter {
        param: &'static str,
        message: String,
    },
    /// The request cannot be expressed for the target's provider (e.g. Anthropic).
    #[error("{0}")]
    Untranslatable(String),
    /// A parameter the target's provider cannot honour (e.g. a Responses built-in tool on a
    /// translated target); the message says why.
    #[error("{message}")]
    UnsupportedParameter {
        param: &'static str,
        message: String,
    },
    #[error("The request body is larger than the limit of {limit} bytes.")]
    BodyTooLarge { limit: u64 },
    #[error("Method {method} is not allowed on {path}; allowed: {allow}.")]
    MethodNotAllowed {
        method: String,
        path: String,
        allow: &'static str,
    },
    #[error("Unknown request URL: {method} {path}.")]
    NotFound { method: String, path: String },
    #[error("The upstream provider '{provider}' could not be reached.")]
    UpstreamUnreachable { provider: String },
    #[error("The upstream provider '{provider}' did not answer in time ({phase}).")]
    UpstreamTimeout {
        provider: String,
        phase: &'static str,
    },
    #[error("The upstream provider '{provider}' sent an invalid response.")]
    UpstreamProtocol { provider: String },
    #[error("No target of the model '{model}' is available right now (all are cooling down after failures or failing health checks).")]
    NoTargetAvailable {
        model: String,
        /// Seconds until the first target may be tried again, for `Retry-After`.
        retry_after: Option<u64>,
    },
    #[error("Rate limit reached for {limit} on {measure} per {window}: limit {amount}, used {used}, requested {requested}. Please try again in {retry_after}s.")]
    QuotaExceeded {
        /// The limit's configured name.
        limit: String,
        measure: &'static str,
        window: &'static str,
        amount: u64,
        used: u64,
        requested: u64,
        /// Seconds, also sent as `Retry-After`.
        retry_after: u64,
    },
    #[error("The quota service is unavailable; please retry.")]
    QuotaUnavailable,
    #[error("The client closed the connection.")]
    ClientClosed,
    #[error("Internal gateway error.")]
    Internal,
}

impl GatewayError {
    /// The HTTP status sent to the client.
    pub fn status(&self) -> u16 {
        match self {
            GatewayError::MissingApiKey | GatewayError::InvalidApiKey => 401,
            GatewayError::ModelNotAllowed { .. } => 403,
            GatewayError::ModelNotFound(_) | GatewayError::NotFound { .. } => 404,
            GatewayError::InvalidJson(_)
            | GatewayError::MissingParameter(_)
            | GatewayError::InvalidParameter { .. }
            | GatewayError::Untranslatable(_)
            | GatewayError::UnsupportedParameter { .. } => 400,
            GatewayError::BodyTooLarge { .. } => 413,
            GatewayError::MethodNotAllowed { .. } => 405,
            GatewayError::UpstreamUnreachable { .. } | GatewayError::UpstreamProtocol { .. } => 502,
            GatewayError::UpstreamTimeout { .. } => 504,
            GatewayError::NoTargetAvailable { .. } => 503,
            GatewayError::QuotaExceeded { .. } => 429,
            GatewayError::QuotaUnavailable => 503,
            // nginx's 499: never actually sent, but recorded in metrics and logs.
            GatewayError::ClientClosed => 499,
            GatewayError::Internal => 500,
        }
    }

    /// OpenAI's `error.type`.
    pub fn openai_type(&self) -> &'static str {
        match self {
            GatewayError::MissingApiKey
            | GatewayError::InvalidApiKey
            | GatewayError::ModelNotAllowed { .. }
            | GatewayError::ModelNotFound(_)
            | GatewayError::InvalidJson(_)
            | GatewayError::MissingParameter(_)
            | GatewayError::InvalidParameter { .. }
            | GatewayError::Untranslatable(_)
            | GatewayError::UnsupportedParameter { .. }
            | GatewayError::BodyTooLarge { .. }
            | GatewayError::MethodNotAllowed { .. }
            | GatewayError::NotFound { .. } => "invalid_request_error",
            GatewayError::UpstreamUnreachable { .. }
            | GatewayError::UpstreamTimeout { .. }
            | GatewayError::UpstreamProtocol { .. }
            | GatewayError::NoTargetAvailable { .. } => "upstream_error",
            // OpenAI names the exhausted measure ("tokens", "requests") as the type.
            GatewayError::QuotaExceeded { measure, .. } => measure,
            GatewayError::QuotaUnavailable
            | GatewayError::ClientClosed
            | GatewayError::Internal => "server_error",
        }
    }

    /// OpenAI's `error.code`, also the metric label of the failure.
    pub fn code(&self) -> &'static str {
        match self {
            GatewayError::MissingApiKey => "missing_api_key",
            GatewayError::InvalidApiKey => "invalid_api_key",
            GatewayError::ModelNotAllowed { .. } => "model_not_allowed",
            GatewayError::ModelNotFound(_) => "model_not_found",
            GatewayError::InvalidJson(_) => "invalid_json",
            GatewayError::MissingParameter(_) => "missing_required_parameter",
            GatewayError::InvalidParameter { .. } => "invalid_value",
            GatewayError::Untranslatable(_) => "unsupported_by_provider",
            GatewayError::UnsupportedParameter { .. } => "unsupported_parameter",
            GatewayError::BodyTooLarge { .. } => "request_too_large",
            GatewayError::MethodNotAllowed { .. } => "method_not_allowed",
            GatewayError::NotFound { .. } => "not_found",
            GatewayError::UpstreamUnreachable { .. } => "upstream_unreachable",
            GatewayError::UpstreamTimeout { .. } => "upstream_timeout",
            GatewayError::UpstreamProtocol { .. } => "upstream_protocol_error",
            GatewayError::NoTargetAvailable { .. } => "no_target_available",
            GatewayError::QuotaExceeded { .. } => "rate_limit_exceeded",
            GatewayError::QuotaUnavailable => "quota_unavailable",
            GatewayError::ClientClosed => "client_closed",
            GatewayError::Internal => "internal_error",
        }
    }

    /// OpenAI's `error.param`.
    pub fn param(&self) -> Option<&'static str> {
        match self {
            GatewayError::ModelNotFound(_) | GatewayError::ModelNotAllowed { .. } => Some("model"),
            GatewayError::MissingParameter(p) => Some(p),
            GatewayError::InvalidParameter { param, .. }
            | GatewayError::UnsupportedParameter { param, .. } => Some(param),
            GatewayError::MissingApiKey
            | GatewayError::InvalidApiKey
            | GatewayError::InvalidJson(_)
            | GatewayError::Untranslatable(_)
            | GatewayError::BodyTooLarge { .. }
            | GatewayError::MethodNotAllowed { .. }
            | GatewayError::NotFound { .. }
            | GatewayError::UpstreamUnreachable { .. }
            | GatewayError::UpstreamTimeout { .. }
            | GatewayError::UpstreamProtocol { .. }
            | GatewayError::NoTargetAvailable { .. }
            | GatewayError::QuotaExceeded { .. }
            | GatewayError::QuotaUnavailable
            | GatewayError::ClientClosed
            | GatewayError::Internal => None,
        }
    }

    /// The `{"error":{...}}` JSON object.
    pub fn to_json(&self) -> serde_json::Value {
        json!({"error": {
            "message": self.to_string(),
            "type": self.openai_type(),
            "param": self.param(),
            "code": self.code(),
        }})
    }

    /// The `Retry-After` seconds to send with this error, if any.
    pub fn retry_after(&self) -> Option<u64> {
        if let GatewayError::NoTargetAvailable { retry_after, .. } = self {
            *retry_after
        } else {
            None
        }
    }

    /// The serialized error body.
    pub fn body(&self) -> Bytes {
        Bytes::from(self.to_json().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_are_openai_like() {
        let e = GatewayError::ModelNotFound("gpt-9".into());
        let v = e.to_json();
        assert_eq!(e.status(), 404);
        assert_eq!(v["error"]["code"], "model_not_found");
        assert_eq!(v["error"]["param"], "model");
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert!(v["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("gpt-9"));
    }

    #[test]
    fn upstream_errors_name_the_provider_only() {
        let e = GatewayError::UpstreamTimeout {
            provider: "openai".into(),
            phase: "first byte",
        };
        assert_eq!(e.status(), 504);
        assert_eq!(e.code(), "upstream_timeout");
        assert!(e.to_string().contains("openai"));
        assert_eq!(
            GatewayError::UpstreamUnreachable {
                provider: "x".into()
            }
            .status(),
            502
        );
    }
}
