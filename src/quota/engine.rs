//! Applying the configured limits to one request: which counters, how much, what to answer.
//!
//! Owns: subject resolution, the charge per measure, the store failure policy (allow, deny,
//! local counters) within the configured timeout, settlement, and the response headers.
//! Must not: do HTTP I/O or tokenize.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};
use sha2::{Digest, Sha256};

use super::headers::headers;
use super::store::{system_clock, Adjust, Charge, MemoryStore, Outcome, QuotaStore, StoreError};
use crate::config::{
    Limit, Measure, OnStoreError, Price, QuotaSettings, QuotaStoreSettings, Subject, VirtualKey,
};
use crate::error::GatewayError;
use crate::observe::Metrics;
use crate::usage::Usage;

/// Who is asking, for subject resolution.
pub struct Facts<'a> {
    pub key: &'a VirtualKey,
    /// The public model name.
    pub model: &'a str,
    pub client_ip: Option<IpAddr>,
    pub headers: &'a HeaderMap,
}

/// What a request is expected to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Estimate {
    pub prompt: u64,
    /// Output tokens to reserve (0 when `reserve_output` is off).
    pub output: u64,
}

/// What was reserved, to settle after the response.
#[derive(Debug, Default)]
pub struct Ticket {
    entries: Vec<Entry>,
    /// Which store holds the reservation (`None`: nothing was reserved).
    store: Option<Held>,
    price: Option<Price>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Held {
    Primary,
    Local,
}

#[derive(Debug)]
struct Entry {
    counter: String,
    measure: Measure,
    bucket: i64,
    reserved: u64,
}

/// The quota engine shared by all requests.
pub struct Quotas {
    settings: QuotaSettings,
    prices: std::collections::BTreeMap<String, Price>,
    store: Arc<dyn QuotaStore>,
    /// Counters used while the primary store fails and the policy is `local`.
    local: MemoryStore,
    on_error: OnStoreError,
    timeout: Duration,
    prefix: String,
    metrics: Arc<Metrics>,
}

pub(super) type Headers = Vec<(HeaderName, HeaderValue)>;

impl Quotas {
    pub fn new(
        settings: QuotaSettings,
        prices: std::collections::BTreeMap<String, Price>,
        store: Arc<dyn QuotaStore>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let (on_error, timeout, prefix) = match &settings.store {
            QuotaStoreSettings::Memory => (
                OnStoreError::Allow,
                Duration::from_secs(1),
                "tollgate".into(),
            ),
            QuotaStoreSettings::Redis(r) => (r.on_error, r.timeout, r.prefix.clone()),
        };
        Quotas {
            settings,
            prices,
            store,
            local: MemoryStore::new(system_clock()),
            on_error,
            timeout,
            prefix,
            metrics,
        }
    }

    /// Where the counters live and the settings that chose it: an in-process reload that
    /// keeps the store settings keeps the store (and its counters).
    pub fn store(&self) -> (&QuotaStoreSettings, &Arc<dyn QuotaStore>) {
        (&self.settings.store, &self.store)
    }

    pub fn settings(&self) -> &QuotaSettings {
        &self.settings
    }

    /// Output tokens to reserve for a request asking for `max_tokens`.
    pub fn output_reserve(&self, max_tokens: Option<u64>) -> u64 {
        if self.settings.reserve_output {
            max_tokens.unwrap_or(self.settings.default_max_tokens)
        } else {
            0
        }
    }

    /// Reserves `est` against every limit that applies to `facts`. On success, the ticket to
    /// settle and the headers for the response; on rejection, the error (429 or 503) and the
    /// headers.
    pub async fn reserve(
        &self,
        facts: &Facts<'_>,
        est: Estimate,
    ) -> Result<(Ticket, Headers), (GatewayError, Headers)> {
        let price = self.prices.get(facts.model).copied();
        let limits: Vec<(&Limit, String)> = self.applicable(facts);
        if limits.is_empty() {
            return Ok((Ticket::default(), Vec::new()));
        }
        let charges: Vec<Charge> = limits
            .iter()
            .map(|(l, counter)| Charge {
                counter: counter.clone(),
                window: l.window,
                limit: l.amount,
                amount: amount(l.measure, est.prompt, est.output, price),
            })
            .collect();
        let (outcome, held) = match self.call_reserve(&charges).await {
            Ok(o) => (o, Held::Primary),
            Err(e) => {
                let policy = self.on_error;
                self.metrics
                    .quota_store_error("reserve", policy_label(policy));
                log::warn!(
                    "quota store ({}) failed: {e}; policy {}",
                    self.store.kind(),
                    policy_label(policy)
                );
                match policy {
                    OnStoreError::Allow => return Ok((Ticket::default(), Vec::new())),
                    OnStoreError::Deny => return Err((GatewayError::QuotaUnavailable, Vec::new())),
                    OnStoreError::Local => (self.local.reserve_now(&charges), Held::Local),
                }
            }
        };
        let headers = headers(&limits, &outcome.checks);
        if !outcome.admitted {
            let (i, worst) = outcome
                .checks
                .iter()
                .enumerate()
                .filter(|(_, c)| !c.admitted)
                .max_by_key(|(_, c)| c.retry_ms)
                .ok_or((GatewayError::Internal, Vec::new()))?;
            let l = limits[i].0;
            self.metrics.quota_reservation("rejected");
            self.metrics.quota_rejection(&l.name);
            let e = GatewayError::QuotaExceeded {
                limit: l.name.clone(),
                measure: l.measure.header_name(),
                window: l.window.name(),
                amount: l.amount,
                used: worst.used,
                requested: charges[i].amount,
                retry_after: retry_after_secs(worst.retry_ms),
            };
            return Err((e, headers));
        }
        self.metrics.quota_reservation("admitted");
        let entries = limits
            .iter()
            .zip(&charges)
            .zip(&outcome.buckets)
            .map(|(((l, _), c), b)| Entry {
                counter: c.counter.clone(),
                measure: l.measure,
                bucket: *b,
                reserved: c.amount,
            })
            .collect();
        Ok((
            Ticket {
                entries,
                store: Some(held),
                price,
            },
            headers,
        ))
    }

    /// Charges the difference between the real usage and the reservation.
    pub async fn settle(&self, ticket: Ticket, usage: Usage) {
        let Some(held) = ticket.store else {
            return;
        };
        let adjusts: Vec<Adjust> = ticket
            .entries
            .iter()
            .filter_map(|e| {
                let actual = amount(e.measure, usage.input, usage.output, ticket.price);
                let delta = actual as i64 - e.reserved as i64;
                (delta != 0).then(|| Adjust {
                    counter: e.counter.clone(),
                    bucket: e.bucket,
                    delta,
                })
            })
            .collect();
        if adjusts.is_empty() {
            self.metrics.quota_settlement("exact");
            return;
        }
        let result = match held {
            Held::Local => {
                self.local.settle_now(&adjusts);
                Ok(())
            }
            Held::Primary => self.call_settle(&adjusts).await,
        };
        match result {
            Ok(()) => self.metrics.quota_settlement("adjusted"),
            Err(e) => {
                self.metrics.quota_settlement("failed");
                self.metrics
                    .quota_store_error("settle", policy_label(self.on_error));
                log::warn!("quota settlement lost ({}): {e}", self.store.kind());
            }
        }
    }

    async fn call_reserve(&self, charges: &[Charge]) -> Result<Outcome, StoreError> {
        let started = tokio::time::Instant::now();
        let r = tokio::time::timeout(self.timeout, self.store.reserve(charges))
            .await
            .unwrap_or(Err(StoreError::Timeout));
        self.metrics
            .quota_store_latency(self.store.kind(), "reserve", started.elapsed());
        r
    }

    async fn call_settle(&self, adjusts: &[Adjust]) -> Result<(), StoreError> {
        let started = tokio::time::Instant::now();
        let r = tokio::time::timeout(self.timeout, self.store.settle(adjusts))
            .await
            .unwrap_or(Err(StoreError::Timeout));
        self.metrics
            .quota_store_latency(self.store.kind(), "settle", started.elapsed());
        r
    }

    /// Every limit that applies, with its counter key.
    fn applicable<'s>(&'s self, f: &Facts<'_>) -> Vec<(&'s Limit, String)> {
        let tier = f
            .key
            .tier
            .as_ref()
            .and_then(|t| self.settings.tiers.get(t))
            .into_iter()
            .flatten();
        self.settings
            .limits
            .iter()
            .chain(tier)
            .filter_map(|l| {
                let value = subject_value(&l.subject, f)?;
                Some((l, self.counter(l, &value)))
            })
            .collect()
    }

    /// The persistent counter key (format v1; see `redis.rs`):
    /// `<prefix>:v1:{q}:<limit name>:<measure>:<window>:<sha256(subject)[..16]>`.
    fn counter(&self, l: &Limit, subject: &str) -> String {
        let digest = Sha256::digest(subject.as_bytes());
        format!(
            "{}:v1:{{q}}:{}:{}:{}:{}",
            self.prefix,
            l.name,
            l.measure.header_name(),
            l.window.name(),
            hex::encode(&digest[..8])
        )
    }
}

fn subject_value(s: &Subject, f: &Facts<'_>) -> Option<String> {
    match s {
        Subject::Global => Some("*".into()),
        Subject::Key => Some(format!("key:{}", f.key.name)),
        Subject::Tier => f.key.tier.as_ref().map(|t| format!("tier:{t}")),
        Subject::Team => f.key.team.as_ref().map(|t| format!("team:{t}")),
        Subject::Model => Some(format!("model:{}", f.model)),
        Subject::ClientIp => f.client_ip.map(|ip| format!("ip:{ip}")),
        Subject::Header(h) => f
            .headers
            .get(h)
            .map(|v| format!("header:{h}:{}", String::from_utf8_lossy(v.as_bytes()))),
    }
}

/// The amount of `measure` for these token counts (cost in micro-dollars, rounded up).
fn amount(measure: Measure, input: u64, output: u64, price: Option<Price>) -> u64 {
    match measure {
        Measure::Requests => 1,
        Measure::InputTokens => input,
        Measure::OutputTokens => output,
        Measure::Tokens => input.saturating_add(output),
        Measure::Cost => price.map_or(0, |p| {
            // USD per million tokens = micro-USD per token.
            (input as f64 * p.input + output as f64 * p.output).ceil() as u64
        }),
    }
}

fn retry_after_secs(ms: i64) -> u64 {
    (ms.max(0) as u64).div_ceil(1000).max(1)
}

fn policy_label(p: OnStoreError) -> &'static str {
    match p {
        OnStoreError::Allow => "allow",
        OnStoreError::Deny => "deny",
        OnStoreError::Local => "local",
    }
}

#[cfg(test)]
use super::headers::{micro_usd, openai_duration};

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
