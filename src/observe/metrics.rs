//! Every metric tollgate exports, in one registry that is injected (tests scrape their own).
//!
//! Owns: metric names, help texts, label sets and buckets. Label values must come from bounded
//! sets (route labels, configured model/provider names, status codes) — never from raw client
//! input. Must not: format responses or hold request state.

use std::time::Duration;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

/// Label used when a request never resolved to a configured model or provider.
pub const NONE_LABEL: &str = "none";

/// The gateway's metrics.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    duration: HistogramVec,
    ttfb: HistogramVec,
    overhead: HistogramVec,
    in_flight: IntGauge,
    resilience: ResilienceMetrics,
    tokens: IntCounterVec,
    quota_reservations: IntCounterVec,
    quota_rejections: IntCounterVec,
    quota_settlements: IntCounterVec,
    quota_store_latency: HistogramVec,
    quota_store_errors: IntCounterVec,
}

/// Balancing and resilience metrics. Labels: `model` = configured group name, `target` =
/// configured `provider/model`, `provider` = configured provider name, `reason` and `state`
/// from fixed sets (or a status code from `resilience.retry_on`).
struct ResilienceMetrics {
    selections: IntCounterVec,
    retries: IntCounterVec,
    fallbacks: IntCounterVec,
    breaker_state: IntGaugeVec,
    breaker_transitions: IntCounterVec,
    healthy: IntGaugeVec,
    shared_breaker: IntCounterVec,
    shared_skips: IntCounterVec,
}

impl ResilienceMetrics {
    fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels)?;
            registry.register(Box::new(c.clone()))?;
            Ok::<_, prometheus::Error>(c)
        };
        let gauge = |name: &str, help: &str, labels: &[&str]| {
            let g = IntGaugeVec::new(Opts::new(name, help), labels)?;
            registry.register(Box::new(g.clone()))?;
            Ok::<_, prometheus::Error>(g)
        };
        Ok(ResilienceMetrics {
            selections: counter(
                "tollgate_target_selections_total",
                "Upstream attempts sent to each target.",
                &["model", "target"],
            )?,
            retries: counter(
                "tollgate_retries_total",
                "Attempts after the first, by the failure that caused them.",
                &["model", "reason"],
            )?,
            fallbacks: counter(
                "tollgate_fallbacks_total",
                "Retries that went to a different provider than the failed attempt.",
                &["model", "from", "to"],
            )?,
            breaker_state: gauge(
                "tollgate_breaker_state",
                "Circuit breaker state per target: 0 closed, 1 open, 2 half-open.",
                &["model", "target"],
            )?,
            breaker_transitions: counter(
                "tollgate_breaker_transitions_total",
                "Circuit breaker state changes per target, by new state and trip reason.",
                &["model", "target", "to", "reason"],
            )?,
            healthy: gauge(
                "tollgate_provider_healthy",
                "Active health check verdict per provider (1 healthy, 0 unhealthy).",
                &["provider"],
            )?,
            shared_breaker: counter(
                "tollgate_shared_breaker_ops_total",
                "Shared breaker Redis calls: op publish or lookup, result ok or error.",
                &["op", "result"],
            )?,
            shared_skips: counter(
                "tollgate_shared_breaker_skips_total",
                "Requests that skipped a target because another instance shared its opening.",
                &["model", "target"],
            )?,
        })
    }
}

/// Token counts of one finished request.
pub struct TokenRecord<'a> {
    pub model: &'a str,
    pub provider: &'a str,
    /// The virtual key's configured name.
    pub key: &'a str,
    pub input: u64,
    pub output: u64,
    /// "provider" (reported usage) or "counted" (our tokenizer).
    pub source: &'static str,
}

/// Buckets for whole-request and TTFB durations (LLM calls run from ms to minutes).
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    120.0, 300.0,
];
/// Buckets for the gateway's own overhead (microseconds to milliseconds).
const OVERHEAD_BUCKETS: &[f64] = &[
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1,
];

/// What one finished request reports.
pub struct RequestRecord<'a> {
    pub route: &'a str,
    pub model: &'a str,
    pub provider: &'a str,
    pub status: u16,
    pub total: Duration,
    /// Time spent waiting on the upstream (connect, send, first byte, body reads).
    pub upstream_wait: Duration,
    pub ttfb: Option<Duration>,
}

impl Metrics {
    /// Creates the metrics in a fresh registry.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "tollgate_requests_total",
                "Requests by route, model, provider and status.",
            ),
            &["route", "model", "provider", "status"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "tollgate_request_duration_seconds",
                "Whole request duration.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["route"],
        )?;
        let ttfb = HistogramVec::new(
            HistogramOpts::new(
                "tollgate_upstream_ttfb_seconds",
                "Upstream time to first byte (request sent to response headers).",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["provider"],
        )?;
        let overhead = HistogramVec::new(
            HistogramOpts::new(
                "tollgate_gateway_overhead_seconds",
                "Time of a request not spent waiting on the upstream.",
            )
            .buckets(OVERHEAD_BUCKETS.to_vec()),
            &["route"],
        )?;
        let in_flight = IntGauge::new(
            "tollgate_in_flight_requests",
            "Requests currently being served.",
        )?;
        let tokens = IntCounterVec::new(
            Opts::new(
                "tollgate_tokens_total",
                "Tokens by type (input/output), model, provider, key and source (provider-reported or counted).",
            ),
            &["model", "provider", "key", "type", "source"],
        )?;
        let quota_reservations = IntCounterVec::new(
            Opts::new(
                "tollgate_quota_reservations_total",
                "Quota reservations by result.",
            ),
            &["result"],
        )?;
        let quota_rejections = IntCounterVec::new(
            Opts::new(
                "tollgate_quota_rejections_total",
                "Requests rejected by quota, by the limit that rejected them.",
            ),
            &["limit"],
        )?;
        let quota_settlements = IntCounterVec::new(
            Opts::new(
                "tollgate_quota_settlements_total",
                "Quota settlements by outcome (exact, adjusted, failed).",
            ),
            &["outcome"],
        )?;
        let quota_store_latency = HistogramVec::new(
            HistogramOpts::new(
                "tollgate_quota_store_duration_seconds",
                "Quota store call duration.",
            )
            .buckets(OVERHEAD_BUCKETS.to_vec()),
            &["store", "op"],
        )?;
        let quota_store_errors = IntCounterVec::new(
            Opts::new(
                "tollgate_quota_store_errors_total",
                "Failed or timed-out quota store calls, by operation and the policy applied.",
            ),
            &["op", "policy"],
        )?;
        for c in [
            &tokens,
            &quota_reservations,
            &quota_rejections,
            &quota_settlements,
            &quota_store_errors,
        ] {
            registry.register(Box::new(c.clone()))?;
        }
        registry.register(Box::new(quota_store_latency.clone()))?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        registry.register(Box::new(ttfb.clone()))?;
        registry.register(Box::new(overhead.clone()))?;
        registry.register(Box::new(in_flight.clone()))?;
        let resilience = ResilienceMetrics::new(&registry)?;
        Ok(Metrics {
            resilience,
            registry,
            requests,
            duration,
            ttfb,
            overhead,
            in_flight,
            tokens,
            quota_reservations,
            quota_rejections,
            quota_settlements,
            quota_store_latency,
            quota_store_errors,
        })
    }

    pub fn tokens(&self, t: &TokenRecord<'_>) {
        for (kind, n) in [("input", t.input), ("output", t.output)] {
            self.tokens
                .with_label_values(&[t.model, t.provider, t.key, kind, t.source])
                .inc_by(n);
        }
    }

    pub fn quota_reservation(&self, result: &str) {
        self.quota_reservations.with_label_values(&[result]).inc();
    }

    /// `limit` is a configured limit name (bounded).
    pub fn quota_rejection(&self, limit: &str) {
        self.quota_rejections.with_label_values(&[limit]).inc();
    }

    pub fn quota_settlement(&self, outcome: &str) {
        self.quota_settlements.with_label_values(&[outcome]).inc();
    }

    pub fn quota_store_latency(&self, store: &str, op: &str, d: Duration) {
        self.quota_store_latency
            .with_label_values(&[store, op])
            .observe(d.as_secs_f64());
    }

    pub fn quota_store_error(&self, op: &str, policy: &str) {
        self.quota_store_errors
            .with_label_values(&[op, policy])
            .inc();
    }

    pub fn request_started(&self) {
        self.in_flight.inc();
    }

    /// Records a finished request (also decrements the in-flight gauge).
    pub fn request_finished(&self, r: &RequestRecord<'_>) {
        self.in_flight.dec();
        let mut status_buf = itoa_status(r.status);
        let status = status_str(&mut status_buf);
        self.requests
            .with_label_values(&[r.route, r.model, r.provider, status])
            .inc();
        self.duration
            .with_label_values(&[r.route])
            .observe(r.total.as_secs_f64());
        self.overhead
            .with_label_values(&[r.route])
            .observe(r.total.saturating_sub(r.upstream_wait).as_secs_f64());
        if let Some(t) = r.ttfb {
            self.ttfb
                .with_label_values(&[r.provider])
                .observe(t.as_secs_f64());
        }
    }

    /// An attempt went to `target`.
    pub fn target_selected(&self, model: &str, target: &str) {
        self.resilience
            .selections
            .with_label_values(&[model, target])
            .inc();
    }

    /// A retry after a failure (`reason`: a status code, `connect`, `timeout`, `broken`);
    /// `fallback` names the providers when it changed provider.
    pub fn retried(&self, model: &str, reason: &str, fallback: Option<(&str, &str)>) {
        self.resilience
            .retries
            .with_label_values(&[model, reason])
            .inc();
        if let Some((from, to)) = fallback {
            self.resilience
                .fallbacks
                .with_label_values(&[model, from, to])
                .inc();
        }
    }

    /// A breaker changed state (`state_value`: 0 closed, 1 open, 2 half-open).
    pub fn breaker_transition(
        &self,
        model: &str,
        target: &str,
        to: &str,
        state_value: i64,
        reason: &str,
    ) {
        self.resilience
            .breaker_state
            .with_label_values(&[model, target])
            .set(state_value);
        self.resilience
            .breaker_transitions
            .with_label_values(&[model, target, to, reason])
            .inc();
    }

    /// Initial breaker state gauge (closed), so every target shows up before any traffic.
    pub fn breaker_init(&self, model: &str, target: &str) {
        self.resilience
            .breaker_state
            .with_label_values(&[model, target])
            .set(0);
    }

    /// A shared breaker Redis call (`op`: publish, lookup; `result`: ok, error).
    pub fn shared_breaker_op(&self, op: &str, result: &str) {
        self.resilience
            .shared_breaker
            .with_label_values(&[op, result])
            .inc();
    }

    /// A request treated `target` as open because its shared key exists.
    pub fn shared_breaker_skip(&self, model: &str, target: &str) {
        self.resilience
            .shared_skips
            .with_label_values(&[model, target])
            .inc();
    }

    pub fn provider_health(&self, provider: &str, healthy: bool) {
        self.resilience
            .healthy
            .with_label_values(&[provider])
            .set(i64::from(healthy));
    }

    pub fn in_flight(&self) -> i64 {
        self.in_flight.get()
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4096);
        // Encoding into a Vec cannot fail on I/O; a failure would mean an invalid metric,
        // which registration already rules out.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        out
    }
}

/// Status codes as 3 ASCII digits without allocating.
fn itoa_status(status: u16) -> [u8; 3] {
    let s = status.min(999);
    [
        b'0' + (s / 100) as u8,
        b'0' + (s / 10 % 10) as u8,
        b'0' + (s % 10) as u8,
    ]
}

fn status_str(buf: &mut [u8; 3]) -> &str {
    std::str::from_utf8(buf).unwrap_or("000")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_renders() {
        let m = Metrics::new().unwrap();
        m.request_started();
        assert_eq!(m.in_flight(), 1);
        m.request_finished(&RequestRecord {
            route: "chat_completions",
            model: "demo",
            provider: "demo",
            status: 200,
            total: Duration::from_millis(30),
            upstream_wait: Duration::from_millis(29),
            ttfb: Some(Duration::from_millis(10)),
        });
        assert_eq!(m.in_flight(), 0);
        let text = String::from_utf8(m.render()).unwrap();
        assert!(text.contains(
            r#"tollgate_requests_total{model="demo",provider="demo",route="chat_completions",status="200"} 1"#
        ), "{text}");
        assert!(text.contains("tollgate_gateway_overhead_seconds_bucket"));
        assert!(text.contains("tollgate_upstream_ttfb_seconds_count{provider=\"demo\"} 1"));
        assert!(text.contains("tollgate_in_flight_requests 0"));
    }
}
