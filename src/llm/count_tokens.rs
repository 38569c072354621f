//! `POST /v1/messages/count_tokens` (providers.md §3.1, §7.5): the prompt tokens of a Messages
//! body, `{"input_tokens": N}`, without generating anything.
//!
//! Owns: choosing who counts and answering. The model group's first target in priority order
//! (skipping zero-weight targets, and targets whose provider fails its health check while
//! another does not) decides: a `kind: anthropic` target gets the client's body forwarded to
//! `{base_url}/v1/messages/count_tokens` (model rewritten, the provider's key; its answer,
//! error or not, goes back as is); any other kind gets the gateway's tiktoken estimate of the
//! body (`usage::prompt`), with that target's tokenizer.
//! Deliberately not: quotas (counting generates nothing and Anthropic does not bill it, so it
//! neither reserves nor consumes request or token quota; the key and its model access still
//! apply), retries and breakers (a count is not worth another target, and its failures say
//! nothing about the target's generation).
//! Must not: parse the body beyond `llm::request` (the estimate reads it in `usage::prompt`).

use bytes::Bytes;

use super::downstream::Downstream;
use super::handler::{write_json, RequestLog};
use super::request::{self, BodyKind};
use super::{auth, passthrough, relay, Gateway};
use crate::config::{ModelGroup, ProviderKind, Target, Timeouts, VirtualKey};
use crate::error::GatewayError;
use crate::observe::metrics::NONE_LABEL;
use crate::providers::anthropic_passthrough::{build_request, Endpoint};
use crate::usage;

/// Answers one count_tokens request whose body was read.
pub(crate) async fn serve<'a>(
    gw: &'a Gateway,
    ds: &mut dyn Downstream,
    log: &mut RequestLog<'a>,
    key: &VirtualKey,
    body: Bytes,
) -> Result<(), GatewayError> {
    let head = request::parse(&body, BodyKind::Messages)?;
    let (name, group) = gw
        .config
        .models
        .get_key_value(head.model.as_str())
        .ok_or_else(|| GatewayError::ModelNotFound(head.model.clone()))?;
    log.model = name;
    auth::authorize(key, name)?;
    let target = counter(gw, group);
    let ProviderKind::Anthropic(p) = &target.provider.kind else {
        log.provider = NONE_LABEL;
        let enc = usage::tokens::for_model(&target.model);
        let n = usage::prompt::estimate_async(body, BodyKind::Messages, enc).await;
        let answer = Bytes::from(format!("{{\"input_tokens\":{n}}}"));
        return write_json(ds, log, 200, answer).await;
    };
    log.provider = &target.provider.name;
    let body = request::with_model(&body, &head, &target.model);
    let upstream_req = build_request(p, Endpoint::CountTokens, ds.headers(), body);
    let timeouts = Timeouts {
        total: p.timeouts.total.min(gw.config.resilience.deadline),
        ..p.timeouts
    };
    let ex = gw
        .upstream
        .send(&p.base_url, &timeouts, upstream_req)
        .await
        .map_err(|e| relay::upstream_error(log.provider, &e, true))?;
    passthrough::relay_native(ex, ds, log).await
}

/// The target that counts: the first one in priority order that could serve the request.
fn counter<'a>(gw: &Gateway, group: &'a ModelGroup) -> &'a Target {
    let healthy = |t: &Target| gw.balancer.health.is_healthy(&t.provider.name);
    let first = group.targets.first();
    group
        .targets
        .iter()
        .filter(|t| t.weight > 0)
        .min_by_key(|t| (!healthy(t), t.priority))
        .unwrap_or(first)
}
