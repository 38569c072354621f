//! The attempt loop of the owned exchange: pick a target, send, and on a retryable failure
//! pick the next one, until one answers, the tries or the deadline run out, or no target is
//! left.
//!
//! Owns: what counts as retryable (connect error, timeout or broken connection before the
//! response head, a status in `resilience.retry_on`), rebuilding the request per attempt from
//! the client's original body (so any body size replays intact, and each target gets its own
//! model name), feeding outcomes and retry hints to the breakers, and answering with the LAST
//! failure (its status, body and retry headers) when every attempt failed. Nothing is retried
//! once a response head went to the client. Anthropic targets: the request is encoded from the
//! client's original body (a request Anthropic cannot express ends the request with a 400, no
//! fallback: every target of a model group should serve the same requests), 529 is retryable
//! too, and their failures are translated to the OpenAI shape when read. Gemini targets likewise
//! (chat and embeddings; Gemini's `RetryInfo` becomes `Retry-After` in the translation, so the
//! breaker reads it like any header). OpenAI-format targets (`openai`, `azure_openai`) get the
//! client's bytes with the target's model, plus their vendor preset's quirks when one applies
//! (`providers::compat`). Messages clients (`Front::Messages`): `kind: anthropic` targets get
//! the client's own body (`passthrough`, whose failures stay Anthropic-shaped, 529 included),
//! every other target the chat translation through `AnthropicClient`; the last failure is
//! answered in the shape of the target that gave it, both Anthropic's. Responses requests
//! (`/v1/responses`): targets that serve the Responses API get the client's bytes with the
//! target's model (no vendor quirks: those are chat rules); every other target gets the
//! request's chat translation (made once, see `front_responses::Plan`) and its answer goes
//! back through `front_responses::ResponsesClient`. Must not: know provider wire details
//! beyond "build a request" (providers/), or parse retry hints itself (balance::retry_after).
//!
//! Token capacity (`capacity_tpm`): each pick is charged the request's estimate (the prompt
//! estimate plus `max_tokens`, when given; without it the output is unknown and counts only
//! once known), and the lease is settled with the meter's real usage once the relay ends.
//!
//! Shared breaker (`resilience.breaker.shared`): a retry hint is published for the other
//! instances, and targets another instance saw open count as unhealthy for this request (one
//! cached lookup per request, before the first pick).

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use tokio::time::Instant;

use super::downstream::Downstream;
use super::front_anthropic::AnthropicClient;
use super::front_responses::{self, Plan, ResponsesClient};
use super::handler::RequestLog;
use super::request::{self, RequestHead};
use super::route::Route;
use super::{passthrough, relay, relay_translated, Gateway};
use crate::balance::breaker::{Outcome, State, Transition};
use crate::balance::retry_after;
use crate::balance::{Lease, Pick};
use crate::config::{
    AnthropicProvider, BaseUrl, BedrockProvider, GeminiProvider, ModelGroup, ProviderKind, Target,
    Timeouts,
};
use crate::error::GatewayError;
use crate::providers;
use crate::upstream::{Exchange, UpstreamError, UpstreamRequest};
use crate::usage;
use crate::usage::meter::Wire;

/// Largest error body we keep to relay if this failure turns out to be the last one.
const MAX_ERROR_BODY: usize = 1 << 20;

/// The last failure, relayed to the client when no attempt succeeds.
pub(crate) enum Failure {
    /// The provider answered with a retryable status.
    Response(relay::FailedResponse),
    /// No response head came back.
    Transport {
        provider: String,
        error: UpstreamError,
    },
}

impl Failure {
    /// The metric label of the failure that triggers a retry.
    fn reason(&self) -> String {
        match self {
            Failure::Response(r) => r.status.to_string(),
            Failure::Transport { error, .. } => match error {
                UpstreamError::Connect(_) => "connect".to_owned(),
                UpstreamError::Timeout(_) => "timeout".to_owned(),
                UpstreamError::Broken => "broken".to_owned(),
            },
        }
    }
}

/// Everything one request needs across attempts.
/// `'r` borrows from the request, `'a` from the gateway's config.
pub(crate) struct Request<'r, 'a> {
    pub model: &'a str,
    pub group: &'a ModelGroup,
    /// What the client sent, in the shapes the targets need.
    pub front: Front<'r>,
}

/// The client's request as the targets see it.
pub(crate) enum Front<'r> {
    /// An OpenAI-compatible route: every target gets (a translation of) this body.
    OpenAi(Body<'r>),
    /// The Messages front door: `kind: anthropic` targets get the client's own body (see
    /// `passthrough`); the others its chat translation, answered through `AnthropicClient`.
    /// `chat` is `None` when the group has no such target, an error when the body has no
    /// chat translation (it ends the request when such a target's turn comes).
    Messages {
        native: Body<'r>,
        chat: Option<Result<Body<'r>, GatewayError>>,
    },
}

/// One shape of the client's body.
pub(crate) struct Body<'r> {
    pub route: &'r Route,
    pub head: &'r RequestHead,
    /// The body (the model is rewritten per target).
    pub body: &'r Bytes,
    /// The client's answer is translated from the stream's usage chunk (the Messages front
    /// door): never strip it.
    pub keep_usage: bool,
}

impl<'r> Front<'r> {
    /// The body whose `max_tokens` the capacity estimate uses.
    fn head(&self) -> &'r RequestHead {
        match self {
            Front::OpenAi(b) | Front::Messages { native: b, .. } => b.head,
        }
    }
}

/// Serves `req` from the group's targets, retrying and falling back as configured.
pub(crate) async fn serve<'a>(
    gw: &'a Gateway,
    ds: &mut dyn Downstream,
    log: &mut RequestLog<'a>,
    req: Request<'_, 'a>,
) -> Result<(), GatewayError> {
    let res = &gw.config.resilience;
    let pool = gw.balancer.pool(req.model).ok_or(GatewayError::Internal)?;
    let targets = req.group.targets.as_slice();
    let deadline = Instant::now() + res.deadline;
    let mut tried = vec![false; targets.len()];
    let mut last: Option<(Failure, &Target)> = None;
    let tokens = token_estimate(log, req.front.head(), targets);
    let plan = match &req.front {
        Front::OpenAi(b) if matches!(b.route, Route::Responses) => {
            Some(Plan::new(b.body, req.model))
        }
        _ => None,
    };
    let shared_open = shared_openings(gw, req.model, targets).await;
    for attempt in 0..=res.retries {
        let now = Instant::now();
        if attempt > 0 && now >= deadline {
            break;
        }
        // A target another instance saw open counts as unhealthy for this request.
        let healthy = |i: usize| {
            !shared_open.get(i).copied().unwrap_or(false)
                && targets
                    .get(i)
                    .is_some_and(|t| gw.balancer.health.is_healthy(&t.provider.name))
        };
        let lease = match pool.pick(now, &tried, &healthy, tokens) {
            Pick::Target(lease, tr) => {
                note(gw, req.model, &targets[lease.index], tr);
                lease
            }
            Pick::Exhausted { retry_in } if last.is_none() => {
                return Err(GatewayError::NoTargetAvailable {
                    model: req.model.to_owned(),
                    retry_after: retry_in.map(|d| d.as_secs() + u64::from(d.subsec_nanos() > 0)),
                });
            }
            Pick::Exhausted { .. } => break,
        };
        let target = &targets[lease.index];
        tried[lease.index] = true;
        gw.metrics.target_selected(req.model, &target.label());
        if let Some((failure, prev)) = &last {
            let fallback = (prev.provider.name != target.provider.name)
                .then(|| (prev.provider.name.as_str(), target.provider.name.as_str()));
            gw.metrics.retried(req.model, &failure.reason(), fallback);
        }
        match attempt_for(gw, ds, log, &req, plan.as_ref(), target, lease, deadline).await {
            Step::Done(out) => return out,
            Step::Failed(failed) => {
                log::warn!(
                    "model {}: target {} failed ({}), attempt {} of {}",
                    req.model,
                    target.label(),
                    failed.reason(),
                    attempt + 1,
                    res.retries + 1
                );
                last = Some((failed, target));
            }
        }
    }
    match last {
        // A failure translated for OpenAI clients goes back through the Messages adapter.
        Some((Failure::Response(r), t)) if translated_for_messages(&req.front, t) => {
            let mut client = AnthropicClient::new(ds, req.model.to_owned());
            relay::write_failure(r, &mut client, log).await
        }
        Some((Failure::Response(r), _)) => relay::write_failure(r, ds, log).await,
        Some((Failure::Transport { provider, error }, _)) => {
            Err(relay::upstream_error(&provider, &error, true))
        }
        None => Err(GatewayError::Internal),
    }
}

/// Whether an attempt on `target` answered a Messages client through the chat translation.
fn translated_for_messages(front: &Front<'_>, target: &Target) -> bool {
    matches!(front, Front::Messages { .. }) && !is_anthropic(target)
}

fn is_anthropic(target: &Target) -> bool {
    matches!(target.provider.kind, ProviderKind::Anthropic(_))
}

/// One attempt in the shape the client and the target need.
#[allow(clippy::too_many_arguments)]
async fn attempt_for<'a>(
    gw: &'a Gateway,
    ds: &mut dyn Downstream,
    log: &mut RequestLog<'a>,
    req: &Request<'_, 'a>,
    plan: Option<&Plan<'_>>,
    target: &'a Target,
    lease: Lease<'_>,
    deadline: Instant,
) -> Step {
    match (&req.front, &target.provider.kind) {
        (Front::OpenAi(body), _) => match plan.filter(|_| !front_responses::passthrough(target)) {
            Some(plan) => {
                attempt_responses_as_chat(gw, ds, log, req.model, plan, target, lease, deadline)
                    .await
            }
            None => attempt_once(gw, ds, log, req.model, body, target, lease, deadline).await,
        },
        (Front::Messages { native, .. }, ProviderKind::Anthropic(p)) => {
            let to = passthrough::Target {
                provider: p,
                target,
            };
            passthrough::attempt(gw, ds, log, req.model, native, to, lease, deadline).await
        }
        (Front::Messages { chat, .. }, _) => match chat {
            Some(Ok(body)) => {
                let mut client = AnthropicClient::new(ds, req.model.to_owned());
                if let Some(m) = &log.meter {
                    client.prompt_estimate(m.prompt_estimate());
                }
                attempt_once(
                    gw,
                    &mut client,
                    log,
                    req.model,
                    body,
                    target,
                    lease,
                    deadline,
                )
                .await
            }
            Some(Err(e)) => Step::Done(Err(e.clone())),
            None => Step::Done(Err(GatewayError::Internal)),
        },
    }
}

/// How one attempt ended.
/// A Responses request on a target without the Responses API: its chat translation, answered
/// through the Responses adapter.
#[allow(clippy::too_many_arguments)]
async fn attempt_responses_as_chat<'a>(
    gw: &'a Gateway,
    ds: &mut dyn Downstream,
    log: &mut RequestLog<'a>,
    model: &'a str,
    plan: &Plan<'_>,
    target: &'a Target,
    lease: Lease<'_>,
    deadline: Instant,
) -> Step {
    let chat = match plan.chat() {
        Ok(c) => c,
        Err(e) => return Step::Done(Err(e)),
    };
    let body = Body {
        route: &Route::ChatCompletions,
        head: &chat.head,
        body: &chat.body,
        // The adapter builds the Responses usage from the chat usage chunk.
        keep_usage: true,
    };
    let mut client = ResponsesClient::new(ds, chat.answer.clone());
    attempt_once(gw, &mut client, log, model, &body, target, lease, deadline).await
}

pub(crate) enum Step {
    /// A response went (or failed to go) to the client: the request is over.
    Done(Result<(), GatewayError>),
    /// Retryable: nothing was sent to the client.
    Failed(Failure),
}

/// Sends the request to `target` and relays the answer unless it is retryable. The lease is
/// held until the relay ends, so the target counts as in flight while it streams.
#[allow(clippy::too_many_arguments)]
async fn attempt_once<'a>(
    gw: &'a Gateway,
    ds: &mut dyn Downstream,
    log: &mut RequestLog<'a>,
    model: &'a str,
    req: &Body<'_>,
    target: &'a Target,
    mut lease: Lease<'_>,
    deadline: Instant,
) -> Step {
    log.provider = &target.provider.name;
    // OpenAI sends no usage in streams unless asked; quotas and token metrics need the
    // provider's numbers, so every stream asks (per target: some servers reject
    // stream_options). Clients that did not ask get the extra chunk and `"usage":null` fields
    // stripped by the meter.
    let streams = matches!(req.route, Route::ChatCompletions | Route::Completions);
    let injected = if streams && asks_stream_usage(target) {
        usage::inject::include_usage(req.body, req.head)
    } else {
        None
    };
    let codec = providers::codec(&target.provider.kind);
    if let Some(m) = log.meter.as_mut() {
        // Translated streams always carry usage; the translated usage chunk is hidden from a
        // client that did not ask for it.
        let translated = codec.is_some() && req.head.stream && !req.head.include_usage;
        m.set_strip((injected.is_some() || translated) && !req.keep_usage);
        m.set_wire(Wire::OpenAi);
    }
    let (body, head) = match &injected {
        Some((b, h)) => (b, h),
        None => (req.body, req.head),
    };
    let sent = match &target.provider.kind {
        ProviderKind::OpenAi(p) => {
            let body = openai_body(req.route, body, head, &target.model, p.preset);
            let upstream_req = providers::openai::build_request(p, req.route, head, body);
            send(gw, &p.base_url, &p.timeouts, upstream_req, deadline).await
        }
        ProviderKind::AzureOpenAi(p) => {
            let preset = &providers::compat::AZURE;
            let body = openai_body(req.route, body, head, &target.model, preset);
            let upstream_req =
                providers::azure::build_request(p, req.route, &target.model, head.stream, body);
            send(gw, &p.base_url, &p.timeouts, upstream_req, deadline).await
        }
        ProviderKind::Anthropic(p) => match anthropic_request(p, req, target, log.provider) {
            Ok(upstream_req) => send(gw, &p.base_url, &p.timeouts, upstream_req, deadline).await,
            Err(e) => return Step::Done(Err(e)),
        },
        ProviderKind::Bedrock(p) => match bedrock_request(p, req, target, log.provider) {
            Ok(upstream_req) => send(gw, &p.base_url, &p.timeouts, upstream_req, deadline).await,
            Err(e) => return Step::Done(Err(e)),
        },
        ProviderKind::Gemini(p) => match gemini_request(p, req, target, log.provider) {
            Ok(upstream_req) => send(gw, &p.base_url, &p.timeouts, upstream_req, deadline).await,
            Err(e) => return Step::Done(Err(e)),
        },
        ProviderKind::Mock(m) => {
            let body = request::with_model(body, head, &target.model);
            let reply = match providers::mock::reply(m, req.route, head, &body, &target.model) {
                Ok(r) => r,
                Err(e) => return Step::Done(Err(e)),
            };
            record(gw, model, target, &mut lease, Outcome::Success, None);
            let out = relay::play_mock(reply, ds, log).await;
            settle_tokens(&mut lease, log);
            return Step::Done(out);
        }
    };
    let ex = match sent {
        Ok(ex) => ex,
        Err(error) => return failed_transport(gw, model, target, &mut lease, error),
    };
    // e.g. Anthropic's 529 "overloaded": always worth another target.
    let overloaded = codec.is_some_and(|c| c.always_retry(ex.status()));
    if retryable(gw, ex.status(), overloaded) {
        // Translated now: if this is the last failure it reaches an OpenAI client as is.
        let translate = |r| match codec {
            Some(c) => relay_translated::translate_failure(c, r),
            None => r,
        };
        return failed_response(gw, model, target, &mut lease, ex, translate).await;
    }
    let ttfb = Some(ex.ttfb);
    record(gw, model, target, &mut lease, Outcome::Success, ttfb);
    let out = match codec {
        Some(c) => {
            let answer = relay_translated::answer_kind(req.route, req.body, log);
            relay_translated::relay(c, answer, ex, ds, log).await
        }
        None => relay::relay(ex, ds, log, req.route).await,
    };
    settle_tokens(&mut lease, log);
    drop(lease);
    Step::Done(out)
}

/// Whether a response with `status` goes to another attempt (`always`: the provider's own
/// always-retryable status, e.g. Anthropic's 529).
pub(super) fn retryable(gw: &Gateway, status: u16, always: bool) -> bool {
    always || gw.config.resilience.retry_on.contains(&status)
}

/// An attempt that got no response head: recorded for the breaker, retryable.
pub(super) fn failed_transport(
    gw: &Gateway,
    model: &str,
    target: &Target,
    lease: &mut Lease<'_>,
    error: UpstreamError,
) -> Step {
    let outcome = Outcome::Failure { retry_after: None };
    record(gw, model, target, lease, outcome, None);
    let provider = target.provider.name.clone();
    Step::Failed(Failure::Transport { provider, error })
}

/// A retryable response: read completely (`shape` turns it into what the client would see
/// if it is the last failure), its retry hint fed to the breaker (and shared), retryable.
pub(super) async fn failed_response(
    gw: &Gateway,
    model: &str,
    target: &Target,
    lease: &mut Lease<'_>,
    ex: Exchange,
    shape: impl FnOnce(relay::FailedResponse) -> relay::FailedResponse,
) -> Step {
    let res = &gw.config.resilience;
    let failed = match read_failure(ex, &target.provider.name).await {
        Failure::Response(r) => Failure::Response(shape(r)),
        other => other,
    };
    let hint = match &failed {
        Failure::Response(r) => retry_after::hint(
            r.status,
            &r.headers,
            &r.body,
            SystemTime::now(),
            res.breaker.max_retry_after,
        ),
        Failure::Transport { .. } => None,
    };
    if let (Some(h), Some(shared)) = (&hint, &gw.shared_breakers) {
        shared.publish(target, h.delay);
    }
    let outcome = Outcome::Failure {
        retry_after: hint.map(|h| h.delay),
    };
    record(gw, model, target, lease, outcome, None);
    Step::Failed(failed)
}

/// The body for an OpenAI-format target: the target's model, then for chat-shaped routes the
/// vendor's quirks (a passed-through Responses body is forwarded byte for byte).
fn openai_body(
    route: &Route,
    body: &Bytes,
    head: &RequestHead,
    model: &str,
    preset: &providers::compat::Preset,
) -> Bytes {
    match route {
        Route::Responses => request::with_model(body, head, model),
        _ => compat_body(body, head, model, preset),
    }
}

/// The target's model, then the vendor's quirks (only when one applies; otherwise the
/// client's bytes with the model spliced in).
fn compat_body(
    body: &Bytes,
    head: &RequestHead,
    model: &str,
    preset: &providers::compat::Preset,
) -> Bytes {
    let body = request::with_model(body, head, model);
    providers::compat::rewrite(&body, preset, model).unwrap_or(body)
}

/// Which targets are open by an opening another instance shared (all closed when sharing is
/// off or Redis fails).
async fn shared_openings(gw: &Gateway, model: &str, targets: &[Target]) -> Vec<bool> {
    let Some(shared) = &gw.shared_breakers else {
        return vec![false; targets.len()];
    };
    let open = shared.open(targets).await;
    for (t, _) in targets.iter().zip(&open).filter(|(_, o)| **o) {
        gw.metrics.shared_breaker_skip(model, &t.label());
    }
    open
}

/// What a pick charges against `capacity_tpm`: the prompt estimate plus the output the
/// request may generate (`max_tokens`; 0 when unbounded, the real usage settles it).
/// Without any `capacity_tpm` in the group nothing reads it, and the prompt is not
/// tokenized for it (the estimate is deferred, see `usage::prompt::Prompt`).
fn token_estimate(log: &RequestLog<'_>, head: &RequestHead, targets: &[Target]) -> u64 {
    if targets.iter().all(|t| t.capacity_tpm.is_none()) {
        return 0;
    }
    let prompt = log.meter.as_ref().map_or(0, |m| m.prompt_estimate());
    prompt.saturating_add(head.max_tokens.unwrap_or(0))
}

/// Replaces the lease's token estimate with the usage the meter saw (prompt + completion).
pub(super) fn settle_tokens(lease: &mut Lease<'_>, log: &RequestLog<'_>) {
    let used = log.meter.as_ref().map_or(0, |m| {
        let u = m.usage();
        u.input.saturating_add(u.output)
    });
    lease.settle_tokens(Instant::now(), used);
}

/// One upstream request, bounded by the request's deadline.
pub(super) async fn send(
    gw: &Gateway,
    base_url: &BaseUrl,
    timeouts: &Timeouts,
    upstream_req: UpstreamRequest,
    deadline: Instant,
) -> Result<Exchange, UpstreamError> {
    let left = deadline.saturating_duration_since(Instant::now());
    let timeouts = Timeouts {
        total: timeouts.total.min(left.max(Duration::from_millis(1))),
        ..*timeouts
    };
    gw.upstream.send(base_url, &timeouts, upstream_req).await
}

/// The Messages request for an Anthropic target, encoded from the client's ORIGINAL body
/// (never the usage-injected one) with the target's model. Only chat is translated.
fn anthropic_request(
    p: &AnthropicProvider,
    req: &Body<'_>,
    target: &Target,
    provider: &str,
) -> Result<UpstreamRequest, GatewayError> {
    if !matches!(req.route, Route::ChatCompletions) {
        return Err(GatewayError::Untranslatable(format!(
            "Not supported by this model's provider: {}.",
            req.route.label()
        )));
    }
    providers::anthropic_target::build_request(p, req.body, &target.model, req.head.stream)
        .map_err(|e| relay_translated::translate_error(provider, e))
}

/// The Converse request for a Bedrock target, from the client's ORIGINAL body, signed now
/// (each attempt signs its own body and time). Only chat is translated.
fn bedrock_request(
    p: &BedrockProvider,
    req: &Body<'_>,
    target: &Target,
    provider: &str,
) -> Result<UpstreamRequest, GatewayError> {
    use providers::bedrock_target::{build_request, BuildError};
    if !matches!(req.route, Route::ChatCompletions) {
        return Err(GatewayError::Untranslatable(format!(
            "Not supported by this model's provider: {}.",
            req.route.label()
        )));
    }
    let now = SystemTime::now();
    build_request(p, req.body, &target.model, req.head.stream, now).map_err(|e| match e {
        BuildError::Translate(e) => relay_translated::translate_error(provider, e),
        BuildError::Sign(e) => {
            log::error!("provider {provider}: {e}");
            GatewayError::Internal
        }
    })
}

/// The request for a Gemini target, encoded from the client's ORIGINAL body (never the
/// usage-injected one) with the target's model: chat, or embeddings.
fn gemini_request(
    p: &GeminiProvider,
    req: &Body<'_>,
    target: &Target,
    provider: &str,
) -> Result<UpstreamRequest, GatewayError> {
    use providers::gemini_target::{build_embeddings_request, build_request};
    let built = match req.route {
        Route::ChatCompletions => build_request(p, req.body, &target.model, req.head.stream),
        Route::Embeddings => build_embeddings_request(p, req.body, &target.model),
        other => {
            return Err(GatewayError::Untranslatable(format!(
                "Not supported by this model's provider: {}.",
                other.label()
            )))
        }
    };
    built.map_err(|e| relay_translated::translate_error(provider, e))
}

/// Reads a retryable response completely, so it can be relayed if it is the last failure.
async fn read_failure(mut ex: Exchange, provider: &str) -> Failure {
    match ex.read_all(MAX_ERROR_BODY).await {
        Ok(body) => Failure::Response(relay::FailedResponse {
            status: ex.status(),
            headers: ex.headers().clone(),
            body,
        }),
        Err(error) => Failure::Transport {
            provider: provider.to_owned(),
            error,
        },
    }
}

pub(super) fn record(
    gw: &Gateway,
    model: &str,
    target: &Target,
    lease: &mut Lease<'_>,
    outcome: Outcome,
    ttfb: Option<Duration>,
) {
    let tr = lease.record(Instant::now(), outcome, ttfb);
    note(gw, model, target, tr);
}

/// Publishes a breaker transition (metrics and a log line).
fn note(gw: &Gateway, model: &str, target: &Target, tr: Option<Transition>) {
    let Some(tr) = tr else {
        return;
    };
    let (to, value) = tr.to.label();
    let reason = match (tr.reason, tr.to) {
        (Some(r), _) => r.label(),
        (None, State::HalfOpen { .. }) => "probe",
        (None, _) => "recovered",
    };
    gw.metrics
        .breaker_transition(model, &target.label(), to, value, reason);
    log::info!(
        "model {model}: breaker of {} is now {to} ({reason})",
        target.label()
    );
}

/// Whether requests to this target get `stream_options.include_usage` added.
pub(crate) fn asks_stream_usage(target: &Target) -> bool {
    match &target.provider.kind {
        ProviderKind::OpenAi(p) => p.stream_usage,
        ProviderKind::AzureOpenAi(p) => p.stream_usage,
        // ConverseStream reports usage in its `metadata` event unasked.
        ProviderKind::Bedrock(_) => false,
        // Anthropic and Gemini streams carry usage unasked; their APIs reject `stream_options`.
        ProviderKind::Anthropic(_) | ProviderKind::Gemini(_) => false,
        ProviderKind::Mock(_) => true,
    }
}
