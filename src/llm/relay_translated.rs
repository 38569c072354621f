//! Relaying a translated provider's answer (Anthropic, and every other non-OpenAI kind) to an
//! OpenAI client: a message becomes a `chat.completion`, an error an OpenAI-shaped error with
//! a client status (e.g. Anthropic's 529 → 503), and a provider stream
//! `chat.completion.chunk` events, one per HTTP chunk.
//!
//! Owns: driving a pure codec ([`ResponseCodec`]) with the upstream bytes (a chat answer or,
//! for `/v1/embeddings`, an embeddings list: [`AnswerKind`]), turning a retry delay the codec
//! found in an error body into `Retry-After`, and feeding the usage meter the TRANSLATED
//! output, so quotas and token metrics see the provider's numbers.
//! Must not: choose targets, retry, or parse any provider's JSON itself.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::HeaderValue;

use super::downstream::{Downstream, ResponseHead};
use super::handler::RequestLog;
use super::relay::{self, FailedResponse};
use super::route::Route;
use crate::error::GatewayError;
use crate::providers::translate::{
    AnswerKind, DecodeOptions, EmbeddingsOptions, ResponseCodec, StreamOptions, StreamOutcome,
    TranslateError,
};
use crate::upstream::Exchange;

/// Largest non-streamed upstream response we buffer.
const MAX_RESPONSE: usize = 64 * 1024 * 1024;

/// What the client's route makes of a 2xx answer: embeddings need the client's encoding and
/// the prompt estimate (some providers report no usage for them).
pub(crate) fn answer_kind(route: &Route, client_body: &[u8], log: &RequestLog<'_>) -> AnswerKind {
    match route {
        Route::Embeddings => {
            let estimate = log.meter.as_ref().map_or(0, |m| m.prompt_estimate());
            AnswerKind::Embeddings(EmbeddingsOptions::from_request(
                client_body,
                log.model,
                estimate,
            ))
        }
        _ => AnswerKind::Chat,
    }
}

/// Relays a translated provider's response whose head has arrived.
pub(crate) async fn relay(
    codec: &dyn ResponseCodec,
    answer: AnswerKind,
    mut ex: Exchange,
    ds: &mut dyn Downstream,
    log: &mut RequestLog<'_>,
) -> Result<(), GatewayError> {
    log.ttfb = Some(ex.ttfb);
    let status = ex.status();
    let result = if !(200..300).contains(&status) {
        relay_error(codec, &mut ex, ds, log).await
    } else if codec.is_stream(ex.headers()) {
        relay_stream(codec, &mut ex, ds, log).await
    } else {
        relay_message(codec, &answer, &mut ex, ds, log).await
    };
    log.upstream_wait = ex.waited;
    result
}

/// The `model` to report instead of the provider's: the client's name for it when the
/// provider names none (`None` keeps the provider's resolved name, as OpenAI reports).
fn reported_model(codec: &dyn ResponseCodec, log: &RequestLog<'_>) -> Option<String> {
    (!codec.reports_model()).then(|| log.model.to_owned())
}

/// Unix seconds for `created` (Anthropic sends none).
fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A codec failure as the client-facing error.
pub(crate) fn translate_error(provider: &str, e: TranslateError) -> GatewayError {
    match e {
        TranslateError::InvalidResponse(detail) => {
            log::warn!("provider {provider}: unreadable answer: {detail}");
            GatewayError::UpstreamProtocol {
                provider: provider.to_owned(),
            }
        }
        other => GatewayError::Untranslatable(other.to_string()),
    }
}

/// A provider error answer rewritten for an OpenAI client: mapped status, OpenAI-shaped
/// JSON body; the retry and rate-limit headers stay, so clients back off as asked.
pub(crate) fn translate_failure(codec: &dyn ResponseCodec, r: FailedResponse) -> FailedResponse {
    let e = codec.decode_error(r.status, &r.headers, &r.body);
    let delay = codec.retry_after(r.status, &r.body);
    let body =
        serde_json::to_vec(&e.body).map_or_else(|_| GatewayError::Internal.body(), Bytes::from);
    let mut headers = r.headers;
    // A delay only the body carried (the translated body drops it): whole seconds, rounded up.
    if let Some(d) = delay.filter(|_| !headers.contains_key(http::header::RETRY_AFTER)) {
        let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
        headers.insert(http::header::RETRY_AFTER, HeaderValue::from(secs));
    }
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    FailedResponse {
        status: e.status,
        headers,
        body,
    }
}

async fn relay_error(
    codec: &dyn ResponseCodec,
    ex: &mut Exchange,
    ds: &mut dyn Downstream,
    log: &mut RequestLog<'_>,
) -> Result<(), GatewayError> {
    let body = ex
        .read_all(MAX_RESPONSE)
        .await
        .map_err(|e| relay::upstream_error(log.provider, &e, false))?;
    let failed = translate_failure(
        codec,
        FailedResponse {
            status: ex.status(),
            headers: ex.headers().clone(),
            body,
        },
    );
    relay::write_failure(failed, ds, log).await
}

async fn relay_message(
    codec: &dyn ResponseCodec,
    answer: &AnswerKind,
    ex: &mut Exchange,
    ds: &mut dyn Downstream,
    log: &mut RequestLog<'_>,
) -> Result<(), GatewayError> {
    let body = ex
        .read_all(MAX_RESPONSE)
        .await
        .map_err(|e| relay::upstream_error(log.provider, &e, false))?;
    let opts = DecodeOptions {
        created: now_secs(),
        model: reported_model(codec, log),
    };
    let body = match answer {
        AnswerKind::Chat => codec.decode_response(&body, &opts),
        AnswerKind::Embeddings(e) => codec.decode_embeddings(&body, e),
    }
    .map_err(|e| translate_error(log.provider, e))?;
    if let Some(m) = log.meter.as_mut() {
        m.on_body(&body);
    }
    let mut head = ResponseHead::json(200, body.len());
    head.headers
        .extend(relay::forwarded(ex.headers(), log.route));
    log.quota_headers_into(&mut head);
    log.status = 200;
    log.head_sent = true;
    ds.write_head(head)
        .await
        .map_err(|_| GatewayError::ClientClosed)?;
    ds.write_body(Bytes::from(body), true)
        .await
        .map_err(|_| GatewayError::ClientClosed)
}

async fn relay_stream(
    codec: &dyn ResponseCodec,
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
    // Always ask the translator for the usage chunk: the meter reads it and hides it from a
    // client that did not ask (its strip flag is set per attempt).
    let mut tr = codec.stream(StreamOptions {
        include_usage: true,
        created: now_secs(),
        model: reported_model(codec, log),
    });
    let mut out = Vec::new();
    loop {
        let chunk = match ex.next_chunk().await {
            Ok(Some(c)) => c,
            Ok(None) => break,
            Err(e) => {
                log::warn!("provider {}: stream failed: {e}", log.provider);
                let e = relay::upstream_error(log.provider, &e, false);
                return relay::fail_stream(ds, e).await;
            }
        };
        tr.push(&chunk, &mut out);
        if write_events(ds, log, &mut out).await.is_err() {
            // The client left: stop the generation upstream too.
            ex.abandon().await;
            return Err(GatewayError::ClientClosed);
        }
    }
    let summary = tr.finish(&mut out);
    write_events(ds, log, &mut out).await?;
    ds.write_body(Bytes::new(), true)
        .await
        .map_err(|_| GatewayError::ClientClosed)?;
    match summary.outcome {
        StreamOutcome::Completed => Ok(()),
        StreamOutcome::ProviderError(e) => {
            // Forwarded as an error event, like an OpenAI provider's mid-stream error.
            log::warn!(
                "provider {}: error mid-stream ({}): {}",
                log.provider,
                e.status,
                e.body.error.message
            );
            Ok(())
        }
        StreamOutcome::Protocol(detail) => {
            log::warn!("provider {}: unreadable stream: {detail}", log.provider);
            Err(GatewayError::UpstreamProtocol {
                provider: log.provider.to_owned(),
            })
        }
        StreamOutcome::Truncated => Err(GatewayError::UpstreamProtocol {
            provider: log.provider.to_owned(),
        }),
    }
}

/// Writes the translated events of one upstream read through the meter, as one chunk.
async fn write_events(
    ds: &mut dyn Downstream,
    log: &mut RequestLog<'_>,
    out: &mut Vec<Bytes>,
) -> Result<(), GatewayError> {
    let Some(body) = relay::metered_batch(log, out.drain(..)) else {
        return Ok(());
    };
    ds.write_body(body, false)
        .await
        .map_err(|_| GatewayError::ClientClosed)
}
