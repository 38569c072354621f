//! One request through the LLM pipeline, from route to metrics.
//!
//! Owns: the order of the steps (route → auth → body → parse → model group → authorize →
//! attempt loop) and turning any `GatewayError` into an OpenAI-shaped response (Anthropic-shaped
//! on `/v1/messages` and `/v1/messages/count_tokens`). Must not:
//! know provider wire details (providers/) or socket details (upstream/, proxy/).

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::time::Instant;

use http::{HeaderName, HeaderValue};

use super::downstream::{Downstream, ResponseHead};
use super::request::{BodyKind, RequestHead};
use super::route::{self, Route, UNMATCHED_LABEL};
use super::{attempt, auth, count_tokens, front_anthropic, models, request, Gateway};
use crate::config::{Target, VirtualKey};
use crate::error::GatewayError;
use crate::observe::metrics::{RequestRecord, TokenRecord, NONE_LABEL};
use crate::quota::{Estimate, Facts, Ticket};
use crate::usage::{self, meter::Meter};

/// What a request did, for metrics (labels borrow from the config: bounded by construction).
pub(crate) struct RequestLog<'a> {
    pub route: &'static str,
    pub model: &'a str,
    pub provider: &'a str,
    pub status: u16,
    pub upstream_wait: Duration,
    pub ttfb: Option<Duration>,
    /// A response head went out: errors can no longer be sent as a response.
    pub head_sent: bool,
    /// `x-ratelimit-*` headers of the quota check, sent on every response.
    pub quota_headers: Vec<(HeaderName, HeaderValue)>,
    /// Usage of the response being relayed (fed by `relay`), when the request is metered.
    pub meter: Option<Meter>,
}

impl RequestLog<'_> {
    /// Adds the quota headers to `head`; they replace the provider's rate-limit headers of
    /// either convention (`x-ratelimit-*`, `anthropic-ratelimit-*`: they describe the
    /// gateway's provider account, not the client's quota). Retry headers stay.
    pub(crate) fn quota_headers_into(&self, head: &mut ResponseHead) {
        if self.quota_headers.is_empty() {
            return;
        }
        head.headers.retain(|(k, _)| {
            let n = k.as_str();
            !n.starts_with("x-ratelimit-") && !n.starts_with("anthropic-ratelimit-")
        });
        head.headers.extend(self.quota_headers.iter().cloned());
    }
}

/// Serves one request completely (response written, metrics recorded).
pub async fn serve(gw: &Gateway, ds: &mut dyn Downstream) {
    let started = Instant::now();
    gw.metrics.request_started();
    let mut log = RequestLog {
        route: UNMATCHED_LABEL,
        model: NONE_LABEL,
        provider: NONE_LABEL,
        status: 200,
        upstream_wait: Duration::ZERO,
        ttfb: None,
        head_sent: false,
        quota_headers: Vec::new(),
        meter: None,
    };
    if let Err(e) = dispatch(gw, ds, &mut log).await {
        log.status = e.status();
        if !log.head_sent && e != GatewayError::ClientClosed {
            let _ = write_error(ds, &e, &log).await;
            if matches!(e, GatewayError::BodyTooLarge { .. }) {
                linger(ds).await;
            }
        }
    }
    gw.metrics.request_finished(&RequestRecord {
        route: log.route,
        model: log.model,
        provider: log.provider,
        status: log.status,
        total: started.elapsed(),
        upstream_wait: log.upstream_wait,
        ttfb: log.ttfb,
    });
}

async fn dispatch<'a>(
    gw: &'a Gateway,
    ds: &mut dyn Downstream,
    log: &mut RequestLog<'a>,
) -> Result<(), GatewayError> {
    let route = match route::resolve(ds.method(), ds.path()) {
        Ok(r) => r,
        Err(e) => {
            ds.close_after_response();
            return Err(e);
        }
    };
    log.route = route.label();
    let key = match gw.keys.authenticate(ds.headers()) {
        Ok(k) => k,
        Err(e) => {
            ds.close_after_response();
            return Err(e);
        }
    };
    match route {
        Route::ListModels if anthropic_client(ds.headers()) => {
            let query = ds.path().split_once('?').map_or("", |(_, q)| q);
            let page = models::Page::from_query(query)?;
            let body = models::list_anthropic(&gw.config, &key, &page);
            write_json(ds, log, 200, body).await
        }
        Route::ListModels => write_json(ds, log, 200, models::list(&gw.config, &key)).await,
        Route::GetModel(id) => {
            let body = if anthropic_client(ds.headers()) {
                models::get_anthropic(&gw.config, &key, &id)?
            } else {
                models::get(&gw.config, &key, &id)?
            };
            write_json(ds, log, 200, body).await
        }
        Route::ChatCompletions | Route::Completions | Route::Embeddings | Route::Responses => {
            let body = read_body(ds, gw.config.server.max_body_size).await?;
            serve_body(gw, ds, log, &key, &route, body).await
        }
        Route::Messages => {
            let body = read_body(ds, gw.config.server.max_body_size).await?;
            serve_body(gw, ds, log, &key, &route, body).await
        }
        Route::CountTokens => {
            let body = read_body(ds, gw.config.server.max_body_size).await?;
            count_tokens::serve(gw, ds, log, &key, body).await
        }
    }
}

/// Runs a read body through parse → model group → authorize → quota → attempt loop → settle.
async fn serve_body<'a>(
    gw: &'a Gateway,
    ds: &mut dyn Downstream,
    log: &mut RequestLog<'a>,
    key: &VirtualKey,
    route: &Route,
    body: Bytes,
) -> Result<(), GatewayError> {
    let kind = route.body_kind().ok_or(GatewayError::Internal)?;
    let head = request::parse(&body, kind)?;
    if kind == BodyKind::Messages {
        front_anthropic::check(&body)?;
    }
    let (name, group) = gw
        .config
        .models
        .get_key_value(head.model.as_str())
        .ok_or_else(|| GatewayError::ModelNotFound(head.model.clone()))?;
    log.model = name;
    auth::authorize(key, name)?;
    // The estimate uses the preferred target's tokenizer; the attempt loop may end on
    // another target, and settlement corrects with the real usage.
    let preferred = group.targets.first();
    let who = (ds.client_ip(), ds.headers());
    // The Messages front door's chat translation, made once, only for groups that need it;
    // without an Anthropic target to pass through to, a body it cannot read ends here.
    let chat = (kind == BodyKind::Messages)
        .then(|| front_anthropic::chat_for(group, &body, name))
        .flatten();
    if let Some(Err(e)) = &chat {
        if !front_anthropic::has_anthropic_target(group) {
            return Err(e.clone());
        }
    }
    let ticket = meter_and_reserve(gw, who, log, key, &body, &head, kind, preferred).await?;
    let native = attempt::Body {
        route,
        head: &head,
        body: &body,
        keep_usage: false,
    };
    let front = match &chat {
        None if kind != BodyKind::Messages => attempt::Front::OpenAi(native),
        None => attempt::Front::Messages { native, chat: None },
        Some(c) => attempt::Front::Messages {
            native,
            chat: Some(c.as_ref().map(|t| t.body()).map_err(Clone::clone)),
        },
    };
    let req = attempt::Request {
        model: name,
        group,
        front,
    };
    let result = attempt::serve(gw, ds, log, req).await;
    settle(gw, log, key, ticket).await;
    result
}

/// Estimates the prompt, sets up the usage meter and reserves the estimate against the
/// quotas (429 when it does not fit).
#[allow(clippy::too_many_arguments)]
async fn meter_and_reserve(
    gw: &Gateway,
    (client_ip, headers): (Option<std::net::IpAddr>, &http::HeaderMap),
    log: &mut RequestLog<'_>,
    key: &VirtualKey,
    body: &Bytes,
    head: &RequestHead,
    kind: BodyKind,
    target: &Target,
) -> Result<Ticket, GatewayError> {
    let enc = usage::tokens::for_model(&target.model);
    let prompt = usage::prompt::Prompt::estimate(body.clone(), kind, enc).await;
    // Streams are asked for usage (see call_target); hide it when the client did not.
    // Responses streams end with their usage unasked.
    let injected = head.stream
        && !head.include_usage
        && matches!(kind, BodyKind::Chat | BodyKind::Completion)
        && attempt::asks_stream_usage(target);
    let meter = log.meter.insert(Meter::new(enc, prompt, injected));
    let Some(q) = &gw.quotas else {
        return Ok(Ticket::default());
    };
    let prompt = meter.prompt_estimate();
    let facts = Facts {
        key,
        model: log.model,
        client_ip,
        headers,
    };
    let output = match kind {
        // Embeddings generate no tokens.
        BodyKind::Embedding => 0,
        BodyKind::Chat | BodyKind::Completion | BodyKind::Messages | BodyKind::Responses => {
            q.output_reserve(head.max_tokens)
        }
    };
    let est = Estimate { prompt, output };
    match q.reserve(&facts, est).await {
        Ok((ticket, headers)) => {
            log.quota_headers = headers;
            Ok(ticket)
        }
        Err((e, headers)) => {
            log.quota_headers = headers;
            Err(e)
        }
    }
}

/// Records the tokens used and settles the reservation, whatever happened to the response
/// (a client that left mid-stream is billed for what was generated until then).
async fn settle(gw: &Gateway, log: &RequestLog<'_>, key: &VirtualKey, ticket: Ticket) {
    let Some(meter) = &log.meter else {
        return;
    };
    let used = meter.usage();
    gw.metrics.tokens(&TokenRecord {
        model: log.model,
        provider: log.provider,
        key: &key.name,
        input: used.input,
        output: used.output,
        source: match used.source {
            usage::Source::Provider => "provider",
            usage::Source::Counted => "counted",
        },
    });
    if let Some(q) = &gw.quotas {
        q.settle(ticket, used).await;
    }
}

/// Most bytes and time spent discarding an oversized body after answering 413.
const LINGER_BYTES: usize = 64 * 1024 * 1024;
const LINGER_TIME: Duration = Duration::from_secs(2);

/// After a 413, keep reading (and discarding) what the client is still sending before the
/// connection closes, like nginx's lingering close: closing a socket with unread data makes
/// the kernel send a reset, which can destroy the 413 before the client reads it. Bounded in
/// bytes and time. A client waiting for `100 Continue` sends nothing, so it is skipped.
async fn linger(ds: &mut dyn Downstream) {
    let expects_continue = ds
        .headers()
        .get(http::header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    if expects_continue {
        return;
    }
    let drain = async {
        let mut seen = 0usize;
        while let Ok(Some(chunk)) = ds.read_body().await {
            seen += chunk.len();
            if seen > LINGER_BYTES {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(LINGER_TIME, drain).await;
}

/// Reads the whole request body, refusing more than `limit` bytes (by Content-Length up
/// front, and while reading for chunked bodies).
async fn read_body(ds: &mut dyn Downstream, limit: u64) -> Result<Bytes, GatewayError> {
    let declared = ds
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        ds.close_after_response();
        return Err(GatewayError::BodyTooLarge { limit });
    }
    let expects_continue = ds
        .headers()
        .get(http::header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    if expects_continue {
        ds.send_continue()
            .await
            .map_err(|_| GatewayError::ClientClosed)?;
    }
    let mut buf = BytesMut::with_capacity(declared.unwrap_or(0).min(limit) as usize);
    while let Some(chunk) = ds
        .read_body()
        .await
        .map_err(|_| GatewayError::ClientClosed)?
    {
        if (buf.len() + chunk.len()) as u64 > limit {
            ds.close_after_response();
            return Err(GatewayError::BodyTooLarge { limit });
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

pub(crate) async fn write_json(
    ds: &mut dyn Downstream,
    log: &mut RequestLog<'_>,
    status: u16,
    body: Bytes,
) -> Result<(), GatewayError> {
    log.status = status;
    log.head_sent = true;
    let mut head = ResponseHead::json(status, body.len());
    log.quota_headers_into(&mut head);
    ds.write_head(head)
        .await
        .map_err(|_| GatewayError::ClientClosed)?;
    ds.write_body(body, true)
        .await
        .map_err(|_| GatewayError::ClientClosed)
}

async fn write_error(
    ds: &mut dyn Downstream,
    e: &GatewayError,
    log: &RequestLog<'_>,
) -> Result<(), ()> {
    // Anthropic clients (the SDKs map error types to exceptions) get Anthropic's shape: on
    // its own endpoints, and on the model list when an Anthropic SDK asks.
    let anthropic = [Route::Messages.label(), Route::CountTokens.label()];
    let body = if anthropic.contains(&log.route)
        || (log.route == Route::ListModels.label() && anthropic_client(ds.headers()))
    {
        front_anthropic::error_body(e)
    } else {
        e.body()
    };
    let mut head = ResponseHead::json(e.status(), body.len());
    match e {
        GatewayError::MethodNotAllowed { allow, .. } => head
            .headers
            .push((http::header::ALLOW, http::HeaderValue::from_static(allow))),
        GatewayError::QuotaExceeded { retry_after, .. } => head
            .headers
            .push((http::header::RETRY_AFTER, HeaderValue::from(*retry_after))),
        _ => {}
    }
    if let Some(secs) = e.retry_after() {
        head.headers
            .push((http::header::RETRY_AFTER, http::HeaderValue::from(secs)));
    }
    log.quota_headers_into(&mut head);
    ds.write_head(head).await.map_err(|_| ())?;
    ds.write_body(body, true).await.map_err(|_| ())
}

/// A client speaking Anthropic's API: its SDKs send `anthropic-version` on every request.
fn anthropic_client(headers: &http::HeaderMap) -> bool {
    headers.contains_key("anthropic-version")
}
