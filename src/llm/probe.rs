//! Active health checks: one loop per provider with a `health_check`, probing
//! `GET {base_url}{path}` every `interval` and publishing the verdict to the balancer, metrics
//! and `/readyz`.
//!
//! Owns: the probe request and its schedule. Must not: pick targets or hold breaker state; the
//! verdict's thresholds live in `balance::health::Tracker`. Runs inside pingora's runtime (a
//! background service started by `server`), never before `server.run`, with its own upstream
//! connection pool so probes never hold a worker runtime's pooled connections.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::Gateway;
use crate::balance::health::Tracker;
use crate::config::{BaseUrl, HealthCheck, ProviderKind, Timeouts};
use crate::providers::anthropic_target;
use crate::upstream::{UpstreamClient, UpstreamRequest};

/// A probe reads at most this much of the answer (a model list is small).
const MAX_PROBE_BODY: usize = 1 << 20;

/// Probes every checked provider until `shutdown` flips.
pub async fn run(gw: Arc<Gateway>, mut shutdown: watch::Receiver<bool>) {
    let client = match UpstreamClient::new(16) {
        Ok(c) => Arc::new(c),
        Err(e) => {
            log::error!("health checks disabled: {e}");
            return;
        }
    };
    let mut loops = JoinSet::new();
    for p in gw.config.providers.values() {
        let Some(hc) = p.kind.health_check() else {
            continue;
        };
        let Some(target) = ProbeTarget::of(&p.kind) else {
            continue;
        };
        gw.metrics.provider_health(&p.name, true);
        loops.spawn(probe_loop(
            Arc::clone(&gw),
            Arc::clone(&client),
            p.name.clone(),
            target,
            hc.clone(),
        ));
    }
    let _ = shutdown.changed().await;
    loops.abort_all();
}

async fn probe_loop(
    gw: Arc<Gateway>,
    client: Arc<UpstreamClient>,
    name: String,
    p: ProbeTarget,
    hc: HealthCheck,
) {
    let mut tracker = Tracker::new(&hc);
    let mut tick = tokio::time::interval(hc.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let ok = probe(&client, &p, &hc).await;
        if let Some(healthy) = tracker.record(ok) {
            gw.balancer.health.set(&name, healthy);
            gw.metrics.provider_health(&name, healthy);
            let verdict = if healthy { "healthy" } else { "unhealthy" };
            log::warn!("provider {name}: health check says {verdict}");
        }
    }
}

/// Where a probe goes and the provider's credentials for it.
struct ProbeTarget {
    base_url: BaseUrl,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl ProbeTarget {
    fn of(kind: &ProviderKind) -> Option<ProbeTarget> {
        match kind {
            ProviderKind::OpenAi(o) => {
                let mut headers: Vec<(HeaderName, HeaderValue)> = Vec::new();
                if let Some(key) = &o.api_key {
                    if let Ok(mut v) = HeaderValue::from_str(&format!("Bearer {}", key.expose())) {
                        v.set_sensitive(true);
                        headers.push((http::header::AUTHORIZATION, v));
                    }
                }
                headers.extend(o.headers.iter().cloned());
                Some(ProbeTarget {
                    base_url: o.base_url.clone(),
                    headers,
                })
            }
            ProviderKind::Anthropic(a) => Some(ProbeTarget {
                base_url: a.base_url.clone(),
                headers: anthropic_target::auth_headers(a),
            }),
            ProviderKind::AzureOpenAi(a) => Some(ProbeTarget {
                base_url: a.base_url.clone(),
                headers: crate::providers::azure::auth_headers(a),
            }),
            ProviderKind::Gemini(g) => Some(ProbeTarget {
                base_url: g.base_url.clone(),
                headers: crate::providers::gemini_target::auth_headers(g),
            }),
            ProviderKind::Mock(_) | ProviderKind::Bedrock(_) => None,
        }
    }
}

/// One probe: a 2xx answer read to the end within `timeout`.
async fn probe(client: &Arc<UpstreamClient>, p: &ProbeTarget, hc: &HealthCheck) -> bool {
    let timeouts = Timeouts {
        connect: hc.timeout,
        first_byte: hc.timeout,
        idle: hc.timeout,
        total: hc.timeout,
    };
    let req = UpstreamRequest {
        method: "GET",
        path: format!("{}{}", p.base_url.path, hc.path),
        headers: p.headers.clone(),
        body: Bytes::new(),
    };
    match client.send(&p.base_url, &timeouts, req).await {
        Ok(mut ex) => {
            let status_ok = (200..300).contains(&ex.status());
            let read = ex.read_all(MAX_PROBE_BODY).await;
            status_ok && read.is_ok()
        }
        Err(_) => false,
    }
}
