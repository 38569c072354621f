//! Anthropic-native clients (the `/v1/messages` front door) on `kind: anthropic` targets: one
//! attempt that forwards the client's body untouched but for `model`, and relays Anthropic's
//! answer untouched (JSON, event stream, or error, 529 included).
//!
//! Owns: that attempt (the same retry rules as every attempt: a status in
//! `resilience.retry_on` or 529 goes to the next target, whose own shape the client then
//! gets), metering the answer in Anthropic's shape without buffering it (`Wire::Anthropic`:
//! `message_start` usage overlaid by `message_delta`'s, cache reads and writes counted as
//! prompt), and ending a cut stream with an Anthropic `error` event. Must not: parse or
//! re-serialize the body (`request::with_model` splices the model), or translate anything.

use bytes::Bytes;
use tokio::time::Instant;

use super::attempt::{self, Body, Step};
use super::downstream::{Downstream, ResponseHead};
use super::handler::RequestLog;
use super::{front_anthropic, relay, request, Gateway};
use crate::balance::breaker::Outcome;
use crate::balance::Lease;
use crate::config::AnthropicProvider;
use crate::error::GatewayError;
use crate::providers::anthropic_passthrough::{build_request, Endpoint};
use crate::sse;
use crate::upstream::Exchange;
use crate::usage::meter::Wire;

/// The target of a passthrough attempt and its provider.
#[derive(Clone, Copy)]
pub(crate) struct Target<'a> {
    pub provider: &'a AnthropicProvider,
    pub target: &'a crate::config::Target,
}

/// Sends the client's Messages body to an Anthropic target and relays the answer unless it
/// is retryable (then it is kept as is, Anthropic-shaped, in case it is the last failure).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn attempt<'a>(
    gw: &'a Gateway,
    ds: &mut dyn Downstream,
    log: &mut RequestLog<'a>,
    model: &'a str,
    native: &Body<'_>,
    to: Target<'a>,
    mut lease: Lease<'_>,
    deadline: Instant,
) -> Step {
    let Target {
        provider: p,
        target,
    } = to;
    log.provider = &target.provider.name;
    if let Some(m) = log.meter.as_mut() {
        m.set_wire(Wire::Anthropic);
        m.set_strip(false);
    }
    let body = request::with_model(native.body, native.head, &target.model);
    let endpoint = Endpoint::Messages {
        stream: native.head.stream,
    };
    let upstream_req = build_request(p, endpoint, ds.headers(), body);
    let ex = match attempt::send(gw, &p.base_url, &p.timeouts, upstream_req, deadline).await {
        Ok(ex) => ex,
        Err(error) => return attempt::failed_transport(gw, model, target, &mut lease, error),
    };
    // 529 is Anthropic's "overloaded": always worth another target.
    if attempt::retryable(gw, ex.status(), ex.status() == 529) {
        return attempt::failed_response(gw, model, target, &mut lease, ex, |r| r).await;
    }
    let ttfb = Some(ex.ttfb);
    attempt::record(gw, model, target, &mut lease, Outcome::Success, ttfb);
    let out = relay_native(ex, ds, log).await;
    attempt::settle_tokens(&mut lease, log);
    Step::Done(out)
}

/// Relays an Anthropic answer as it came: a 2xx event stream event by event, anything else
/// whole (errors included: they are already in the client's shape).
pub(crate) async fn relay_native(
    mut ex: Exchange,
    ds: &mut dyn Downstream,
    log: &mut RequestLog<'_>,
) -> Result<(), GatewayError> {
    log.ttfb = Some(ex.ttfb);
    let status = ex.status();
    let result = if relay::is_event_stream(ex.headers()) && (200..300).contains(&status) {
        relay_events(&mut ex, ds, log).await
    } else {
        relay::relay_whole(&mut ex, ds, log, status).await
    };
    log.upstream_wait = ex.waited;
    result
}

async fn relay_events(
    ex: &mut Exchange,
    ds: &mut dyn Downstream,
    log: &mut RequestLog<'_>,
) -> Result<(), GatewayError> {
    let mut head = ResponseHead::event_stream();
    head.headers
        .extend(relay::forwarded(ex.headers(), log.route));
    log.quota_headers_into(&mut head);
    log.status = 200;
    log.head_sent = true;
    ds.write_head(head)
        .await
        .map_err(|_| GatewayError::ClientClosed)?;
    let mut decoder = sse::Decoder::default();
    // `message_stop` or `error` seen: the stream ended the way Anthropic ends streams.
    let mut ended = false;
    loop {
        let chunk = match ex.next_chunk().await {
            Ok(Some(c)) => c,
            Ok(None) => break,
            Err(e) => {
                log::warn!("provider {}: stream failed: {e}", log.provider);
                return fail_stream(ds, relay::upstream_error(log.provider, &e, false)).await;
            }
        };
        let events = match decoder.push(&chunk) {
            Ok(ev) => ev,
            Err(_) => {
                ex.abandon().await;
                let e = GatewayError::UpstreamProtocol {
                    provider: log.provider.to_owned(),
                };
                return fail_stream(ds, e).await;
            }
        };
        ended |= events.iter().any(|ev| is_last_event(ev));
        let Some(body) = relay::metered_batch(log, events) else {
            continue;
        };
        if ds.write_body(body, false).await.is_err() {
            // The client left: stop the generation upstream too.
            ex.abandon().await;
            return Err(GatewayError::ClientClosed);
        }
    }
    if let Some(mut rest) = decoder.finish().map(|b| b.to_vec()) {
        // An unterminated last event: terminate it so the client's parser emits it.
        rest.extend_from_slice(b"\n\n");
        ended |= is_last_event(&rest);
        if let Some(ev) = relay::metered(log, Bytes::from(rest)) {
            ds.write_body(ev, false)
                .await
                .map_err(|_| GatewayError::ClientClosed)?;
        }
    }
    if !ended {
        log::warn!(
            "provider {}: stream ended before message_stop",
            log.provider
        );
        let e = GatewayError::UpstreamProtocol {
            provider: log.provider.to_owned(),
        };
        return fail_stream(ds, e).await;
    }
    ds.write_body(Bytes::new(), true)
        .await
        .map_err(|_| GatewayError::ClientClosed)
}

/// Whether an event is one Anthropic ends a stream with (`message_stop`, or `error`).
fn is_last_event(event: &[u8]) -> bool {
    let name = event
        .split(|b| *b == b'\n' || *b == b'\r')
        .find_map(|line| line.strip_prefix(b"event:"))
        .map(|n| n.trim_ascii());
    matches!(name, Some(b"message_stop" | b"error"))
}

/// Ends a started stream with an Anthropic `error` event (the SDKs raise on it), then closes
/// the chunked body properly. Returns the error for metrics.
async fn fail_stream(ds: &mut dyn Downstream, e: GatewayError) -> Result<(), GatewayError> {
    let body = front_anthropic::error_body(&e);
    let mut ev = Vec::with_capacity(body.len() + 24);
    ev.extend_from_slice(b"event: error\ndata: ");
    ev.extend_from_slice(&body);
    ev.extend_from_slice(b"\n\n");
    let _ = ds.write_body(Bytes::from(ev), false).await;
    let _ = ds.write_body(Bytes::new(), true).await;
    Err(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_ends_are_recognised_by_event_name() {
        assert!(is_last_event(b"event: message_stop\ndata: {}\n\n"));
        assert!(is_last_event(b"event:error\r\ndata: {}\r\n\r\n"));
        assert!(!is_last_event(b"event: message_delta\ndata: {}\n\n"));
        assert!(!is_last_event(b"data: {\"type\":\"message_stop\"}\n\n"));
    }
}
