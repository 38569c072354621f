//! Moving a response to the client: provider answers (buffered JSON or SSE re-framed one event
//! per chunk) and the built-in mock's generated answers.
//!
//! Owns: which upstream headers reach the client, SSE re-framing, and turning a mid-stream
//! upstream failure into a well-formed error event instead of a silently cut stream. Must not:
//! choose targets or parse requests.

use bytes::{Bytes, BytesMut};
use http::{HeaderName, HeaderValue};

use super::downstream::{Downstream, ResponseHead};
use super::handler::RequestLog;
use super::route::Route;
use crate::error::GatewayError;
use crate::providers::mock::{MockBody, MockReply};
use crate::providers::ratelimit;
use crate::sse;
pub(crate) use crate::sse::is_event_stream;
use crate::upstream::{Exchange, UpstreamError};

/// Largest non-streamed upstream response we buffer.
const MAX_RESPONSE: usize = 64 * 1024 * 1024;

/// Maps an upstream failure to the client-facing error (no addresses, no secrets).
pub(crate) fn upstream_error(provider: &str, e: &UpstreamError, before_head: bool) -> GatewayError {
    let provider = provider.to_owned();
    match e {
        UpstreamError::Connect(_) => GatewayError::UpstreamUnreachable { provider },
        UpstreamError::Timeout(phase) => GatewayError::UpstreamTimeout { provider, phase },
        UpstreamError::Broken if before_head => GatewayError::UpstreamUnreachable { provider },
        UpstreamError::Broken => GatewayError::UpstreamProtocol { provider },
    }
}

/// Upstream response headers worth passing on: request ids, and the rate-limit and retry
/// headers in the convention of the client of `route` (a route label; `messages` and
/// `count_tokens` clients are Anthropic's), see `providers::ratelimit`.
pub(crate) fn forwarded(headers: &http::HeaderMap, route: &str) -> Vec<(HeaderName, HeaderValue)> {
    let mut out: Vec<(HeaderName, HeaderValue)> = headers
        .iter()
        .filter(|(k, _)| {
            let n = k.as_str();
            n == "x-request-id" || n == "request-id" || n.starts_with("openai-")
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    use super::route::Route;
    let anthropic_client = [Route::Messages.label(), Route::CountTokens.label()];
    let to = if anthropic_client.contains(&route) {
        ratelimit::Convention::Anthropic
    } else {
        ratelimit::Convention::OpenAi
    };
    out.extend(ratelimit::normalize(
        headers,
        std::time::SystemTime::now(),
        to,
    ));
    out
}

/// A failed provider response, read completely (it may have to reach the client as is).
pub(crate) struct FailedResponse {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

/// Sends the last failure of an exhausted attempt loop to the client: the provider's status,
/// body, content type and retry headers, so clients and SDKs back off as the provider asked.
pub(crate) async fn write_failure(
    r: FailedResponse,
    ds: &mut dyn Downstream,
    log: &mut RequestLog<'_>,
) -> Result<(), GatewayError> {
    let content_type = r
        .headers
        .get(http::header::CONTENT_TYPE)
        .cloned()
        .unwrap_or(HeaderValue::from_static("application/json"));
    let mut head = ResponseHead {
        status: r.status,
        headers: vec![(http::header::CONTENT_TYPE, content_type)],
        body_len: Some(r.body.len()),
    };
    head.headers.extend(forwarded(&r.headers, log.route));
    log.quota_headers_into(&mut head);
    log.status = r.status;
    log.head_sent = true;
    ds.write_head(head)
        .await
        .map_err(|_| GatewayError::ClientClosed)?;
    ds.write_body(r.body, true)
        .await
        .map_err(|_| GatewayError::ClientClosed)
}

/// Relays a provider response whose head has arrived. `route` is what the provider was
/// sent (its stream errors are written in that API's shape).
pub(crate) async fn relay(
    mut ex: Exchange,
    ds: &mut dyn Downstream,
    log: &mut RequestLog<'_>,
    route: &Route,
) -> Result<(), GatewayError> {
    log.ttfb = Some(ex.ttfb);
    let status = ex.status();
    let result = if is_event_stream(ex.headers()) && (200..300).contains(&status) {
        relay_events(&mut ex, ds, log, route).await
    } else {
        relay_whole(&mut ex, ds, log, status).await
    };
    log.upstream_wait = ex.waited;
    result
}

pub(crate) async fn relay_whole(
    ex: &mut Exchange,
    ds: &mut dyn Downstream,
    log: &mut RequestLog<'_>,
    status: u16,
) -> Result<(), GatewayError> {
    let body = ex
        .read_all(MAX_RESPONSE)
        .await
        .map_err(|e| upstream_error(log.provider, &e, false))?;
    let content_type = ex
        .headers()
        .get(http::header::CONTENT_TYPE)
        .cloned()
        .unwrap_or(HeaderValue::from_static("application/json"));
    let mut head = ResponseHead {
        status,
        headers: vec![(http::header::CONTENT_TYPE, content_type)],
        body_len: Some(body.len()),
    };
    head.headers.extend(forwarded(ex.headers(), log.route));
    log.quota_headers_into(&mut head);
    if (200..300).contains(&status) {
        if let Some(m) = log.meter.as_mut() {
            m.on_body(&body);
        }
    }
    log.status = status;
    log.head_sent = true;
    ds.write_head(head)
        .await
        .map_err(|_| GatewayError::ClientClosed)?;
    ds.write_body(body, true)
        .await
        .map_err(|_| GatewayError::ClientClosed)
}

async fn relay_events(
    ex: &mut Exchange,
    ds: &mut dyn Downstream,
    log: &mut RequestLog<'_>,
    route: &Route,
) -> Result<(), GatewayError> {
    let mut head = ResponseHead::event_stream();
    head.headers.extend(forwarded(ex.headers(), log.route));
    log.quota_headers_into(&mut head);
    log.status = 200;
    log.head_sent = true;
    ds.write_head(head)
        .await
        .map_err(|_| GatewayError::ClientClosed)?;
    let mut decoder = sse::Decoder::default();
    loop {
        let chunk = match ex.next_chunk().await {
            Ok(Some(c)) => c,
            Ok(None) => break,
            Err(e) => {
                log::warn!("provider {}: stream failed: {e}", log.provider);
                let e = upstream_error(log.provider, &e, false);
                if *route == Route::Responses {
                    return fail_responses_stream(ds, e).await;
                }
                return fail_stream(ds, e).await;
            }
        };
        let events = match decoder.push(&chunk) {
            Ok(ev) => ev,
            Err(_) => {
                ex.abandon().await;
                let e = GatewayError::UpstreamProtocol {
                    provider: log.provider.to_owned(),
                };
                if *route == Route::Responses {
                    return fail_responses_stream(ds, e).await;
                }
                return fail_stream(ds, e).await;
            }
        };
        let Some(body) = metered_batch(log, events) else {
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
        if let Some(ev) = metered(log, Bytes::from(rest)) {
            ds.write_body(ev, false)
                .await
                .map_err(|_| GatewayError::ClientClosed)?;
        }
    }
    ds.write_body(Bytes::new(), true)
        .await
        .map_err(|_| GatewayError::ClientClosed)
}

/// Feeds the events one upstream read completed to the meter and joins what reaches the
/// client into one body write: one chunk and one syscall per read instead of one per event,
/// with no added delay (they were all ready together). `None` when nothing is left.
pub(crate) fn metered_batch(
    log: &mut RequestLog<'_>,
    events: impl IntoIterator<Item = Bytes>,
) -> Option<Bytes> {
    let mut first: Option<Bytes> = None;
    let mut joined: Option<BytesMut> = None;
    for ev in events {
        let Some(ev) = metered(log, ev) else {
            continue;
        };
        match (&mut joined, first.take()) {
            (Some(j), _) => j.extend_from_slice(&ev),
            (None, None) => first = Some(ev),
            (None, Some(f)) => {
                let mut j = BytesMut::with_capacity(2 * (f.len() + ev.len()));
                j.extend_from_slice(&f);
                j.extend_from_slice(&ev);
                joined = Some(j);
            }
        }
    }
    joined.map(BytesMut::freeze).or(first)
}

/// Feeds an event to the usage meter; `None` when it must not reach the client.
pub(crate) fn metered(log: &mut RequestLog<'_>, ev: Bytes) -> Option<Bytes> {
    match log.meter.as_mut() {
        Some(m) => m.on_event(ev),
        None => Some(ev),
    }
}

/// Ends a started stream with an OpenAI-style error event (the SDKs raise on it), then closes
/// the chunked body properly. Returns the error for metrics.
pub(crate) async fn fail_stream(
    ds: &mut dyn Downstream,
    e: GatewayError,
) -> Result<(), GatewayError> {
    let ev = Bytes::from(format!("data: {}\n\n", e.to_json()));
    let _ = ds.write_body(ev, false).await;
    let _ = ds.write_body(Bytes::new(), true).await;
    Err(e)
}

/// Ends a started, passed-through Responses stream with the Responses API's `error` event
/// (`{"type":"error","code","message","param"}`; no `sequence_number`: the provider's
/// numbering is not tracked), then closes the chunked body properly.
async fn fail_responses_stream(
    ds: &mut dyn Downstream,
    e: GatewayError,
) -> Result<(), GatewayError> {
    let data = serde_json::json!({
        "type": "error",
        "code": e.code(),
        "message": e.to_string(),
        "param": null,
    });
    let ev = Bytes::from(format!("event: error\ndata: {data}\n\n"));
    let _ = ds.write_body(ev, false).await;
    let _ = ds.write_body(Bytes::new(), true).await;
    Err(e)
}

/// Plays the built-in mock's answer with its pacing.
pub(crate) async fn play_mock(
    reply: MockReply,
    ds: &mut dyn Downstream,
    log: &mut RequestLog<'_>,
) -> Result<(), GatewayError> {
    if !reply.latency.is_zero() {
        tokio::time::sleep(reply.latency).await;
    }
    log.ttfb = Some(reply.latency);
    match reply.body {
        MockBody::Json(body) => {
            if let Some(m) = log.meter.as_mut() {
                m.on_body(&body);
            }
            super::handler::write_json(ds, log, 200, body).await
        }
        MockBody::Events { events, interval } => {
            log.status = 200;
            log.head_sent = true;
            let mut head = ResponseHead::event_stream();
            log.quota_headers_into(&mut head);
            ds.write_head(head)
                .await
                .map_err(|_| GatewayError::ClientClosed)?;
            for (i, ev) in events.into_iter().enumerate() {
                if i > 0 && !interval.is_zero() {
                    tokio::time::sleep(interval).await;
                }
                let Some(ev) = metered(log, ev) else {
                    continue;
                };
                ds.write_body(ev, false)
                    .await
                    .map_err(|_| GatewayError::ClientClosed)?;
            }
            ds.write_body(Bytes::new(), true)
                .await
                .map_err(|_| GatewayError::ClientClosed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_mapping_hides_details() {
        let e = upstream_error(
            "openai",
            &UpstreamError::Connect("connection refused"),
            true,
        );
        assert_eq!(e.status(), 502);
        assert!(!e.to_string().contains("refused"));
        assert_eq!(
            upstream_error("p", &UpstreamError::Timeout("first byte"), true).status(),
            504
        );
    }

    #[test]
    fn only_useful_headers_are_forwarded() {
        let mut h = http::HeaderMap::new();
        h.insert("x-request-id", HeaderValue::from_static("r1"));
        h.insert("retry-after", HeaderValue::from_static("3"));
        h.insert(
            "x-ratelimit-remaining-tokens",
            HeaderValue::from_static("9"),
        );
        h.insert("set-cookie", HeaderValue::from_static("a=b"));
        h.insert("server", HeaderValue::from_static("internal-10.0.0.1"));
        h.insert("x-ms-region", HeaderValue::from_static("East US"));
        h.insert("apim-request-id", HeaderValue::from_static("10.1.2.3"));
        let names: Vec<String> = forwarded(&h, "chat_completions")
            .into_iter()
            .map(|(k, _)| k.to_string())
            .collect();
        assert_eq!(names.len(), 3);
        assert!(!names.contains(&"set-cookie".to_string()));
    }
}
