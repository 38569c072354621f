//! The LLM pipeline: the OpenAI-compatible front door driven as an "owned exchange".
//!
//! Owns: routing, virtual-key auth, reading and parsing the body, choosing the target,
//! sending to the provider and relaying (or generating) the answer, error responses and
//! per-request metrics. Pingora replays at most 64 KiB of a body read before the upstream is
//! chosen, and we route on `model` in bodies of any size, so this module drives the upstream
//! exchange itself (see ARCHITECTURE.md). Must not: name pingora's proxy types (`proxy/` adapts
//! the session through `Downstream`).

pub mod auth;
pub mod downstream;
mod handler;
mod models;
mod relay;
pub mod request;
pub mod route;

use std::sync::Arc;

use crate::config::Config;
use crate::observe::Metrics;
use crate::upstream::UpstreamClient;

pub use downstream::{ClientGone, Downstream, ResponseHead};
pub use handler::serve;

/// Everything a request needs, shared by all workers.
pub struct Gateway {
    pub config: Arc<Config>,
    pub keys: auth::KeyStore,
    pub metrics: Arc<Metrics>,
    pub upstream: Arc<UpstreamClient>,
}

impl Gateway {
    /// Fails when the upstream TLS trust store cannot be loaded.
    pub fn new(config: Arc<Config>, metrics: Arc<Metrics>) -> Result<Self, String> {
        Ok(Gateway {
            keys: auth::KeyStore::new(&config.keys),
            upstream: Arc::new(UpstreamClient::new(128)?),
            config,
            metrics,
        })
    }
}
