//! `resilience:` (retries, retry statuses, deadline, circuit breaker) and the per-provider
//! `health_check:` settings.
//!
//! Owns: defaults and ranges of those values. Must not: know how they are used (`balance`,
//! `llm::attempt`, `llm::probe` do).

use std::time::Duration;

use serde_yaml::Value;

use super::error::Diagnostics;
use super::model::{BreakerSettings, HealthCheck, Resilience, Secret, SharedBreaker};
use super::path::YamlPath;
use super::raw::{RawBreaker, RawHealthCheck, RawResilience, RawSharedBreaker};
use super::validate::duration;

/// More attempts than this only burn the client's deadline on a failing fleet.
const MAX_RETRIES: u32 = 10;

/// Capacities are per minute; a window far longer than that would let a target idle for an
/// hour make up for it in a burst.
const MAX_CAPACITY_WINDOW: Duration = Duration::from_secs(3600);

pub(crate) fn resilience(
    v: Option<&Value>,
    path: &YamlPath,
    d: &mut Diagnostics<'_>,
) -> Option<Resilience> {
    let raw = match v {
        Some(v) => d.deserialize::<RawResilience>(v, path)?,
        None => RawResilience::default(),
    };
    let def = Resilience::default();
    let retries = match raw.retries {
        Some(n) if n > MAX_RETRIES => {
            d.at(
                &path.key("retries"),
                format!("retries must be at most {MAX_RETRIES}, found {n}"),
            );
            None
        }
        n => Some(n.unwrap_or(def.retries)),
    };
    let retry_on = match raw.retry_on {
        None => Some(def.retry_on),
        Some(list) => {
            let p = path.key("retry_on");
            let mut ok = true;
            for (i, s) in list.iter().enumerate() {
                if !(400..=599).contains(s) {
                    d.at(
                        &p.index(i),
                        format!("retry_on lists HTTP error statuses (400-599), found {s}"),
                    );
                    ok = false;
                }
            }
            ok.then_some(list)
        }
    };
    let deadline = duration(
        raw.deadline.as_ref(),
        &path.key("deadline"),
        def.deadline,
        true,
        d,
    );
    let mut raw_breaker = raw.breaker.unwrap_or_default();
    let bpath = path.key("breaker");
    let shared = match raw_breaker.shared.take() {
        None => Some(None),
        Some(s) => shared(s, &bpath.key("shared"), d).map(Some),
    };
    let breaker = breaker(raw_breaker, &bpath, d);
    let capacity_window = capacity_window(raw.capacity_window.as_ref(), path, d);
    Some(Resilience {
        retries: retries?,
        retry_on: retry_on?,
        deadline: deadline?,
        breaker: breaker?,
        capacity_window: capacity_window?,
        shared_breaker: shared?,
    })
}

/// A lookup sits on the request path: waiting longer than this for Redis costs more than a
/// request to a provider that may still be open.
const DEFAULT_SHARED_TIMEOUT: Duration = Duration::from_millis(50);

fn shared(
    raw: RawSharedBreaker,
    path: &YamlPath,
    d: &mut Diagnostics<'_>,
) -> Option<SharedBreaker> {
    let url = if raw.url.starts_with("redis://") || raw.url.starts_with("rediss://") {
        Some(Secret::new(raw.url))
    } else {
        d.at(&path.key("url"), "expected a redis://host:port URL");
        None
    };
    let timeout = duration(
        raw.timeout.as_ref(),
        &path.key("timeout"),
        DEFAULT_SHARED_TIMEOUT,
        true,
        d,
    );
    Some(SharedBreaker {
        url: url?,
        prefix: raw.prefix.unwrap_or_else(|| "tollgate".into()),
        timeout: timeout?,
    })
}

fn capacity_window(
    v: Option<&Value>,
    path: &YamlPath,
    d: &mut Diagnostics<'_>,
) -> Option<Duration> {
    let p = path.key("capacity_window");
    let def = Resilience::default().capacity_window;
    match duration(v, &p, def, true, d)? {
        w if w > MAX_CAPACITY_WINDOW => {
            d.at(&p, "capacity_window must be at most 1h");
            None
        }
        w => Some(w),
    }
}

fn breaker(raw: RawBreaker, path: &YamlPath, d: &mut Diagnostics<'_>) -> Option<BreakerSettings> {
    let def = BreakerSettings::default();
    let error_rate = match raw.error_rate {
        Some(r) if !(r > 0.0 && r <= 1.0) => {
            d.at(
                &path.key("error_rate"),
                format!("error_rate is a ratio above 0 and at most 1 (e.g. 0.5), found {r}"),
            );
            None
        }
        r => Some(r.unwrap_or(def.error_rate)),
    };
    let mut dur = |v: &Option<Value>, name: &str, default: Duration| {
        duration(v.as_ref(), &path.key(name), default, true, d)
    };
    let window = dur(&raw.window, "window", def.window);
    let cooldown = dur(&raw.cooldown, "cooldown", def.cooldown);
    let max_retry_after = dur(&raw.max_retry_after, "max_retry_after", def.max_retry_after);
    let probes = at_least_one(
        raw.half_open_probes,
        def.half_open_probes,
        path,
        "half_open_probes",
        d,
    );
    Some(BreakerSettings {
        failures: raw.failures.unwrap_or(def.failures),
        error_rate: error_rate?,
        window: window?,
        min_requests: raw.min_requests.unwrap_or(def.min_requests),
        cooldown: cooldown?,
        max_retry_after: max_retry_after?,
        half_open_probes: probes?,
    })
}

fn at_least_one(
    v: Option<u32>,
    default: u32,
    path: &YamlPath,
    name: &str,
    d: &mut Diagnostics<'_>,
) -> Option<u32> {
    match v {
        Some(0) => {
            d.at(&path.key(name), format!("{name} must be at least 1"));
            None
        }
        v => Some(v.unwrap_or(default)),
    }
}

/// `default_path` is the probe path when none is configured (a model list: `/models` under
/// an OpenAI base URL, `/v1/models` under Anthropic's root).
pub(crate) fn health_check(
    raw: &RawHealthCheck,
    path: &YamlPath,
    default_path: &str,
    d: &mut Diagnostics<'_>,
) -> Option<HealthCheck> {
    let p = raw.path.clone().unwrap_or_else(|| default_path.to_owned());
    let path_ok = p.starts_with('/') && !p.bytes().any(|b| b.is_ascii_control() || b == b' ');
    if !path_ok {
        d.at(
            &path.key("path"),
            format!("path must start with `/` and hold no spaces, found {p:?} (it is appended to base_url)"),
        );
    }
    let interval = duration(
        raw.interval.as_ref(),
        &path.key("interval"),
        Duration::from_secs(10),
        true,
        d,
    );
    let timeout = duration(
        raw.timeout.as_ref(),
        &path.key("timeout"),
        Duration::from_secs(2),
        true,
        d,
    );
    let healthy = at_least_one(raw.healthy_threshold, 2, path, "healthy_threshold", d);
    let unhealthy = at_least_one(raw.unhealthy_threshold, 3, path, "unhealthy_threshold", d);
    if !path_ok {
        return None;
    }
    Some(HealthCheck {
        path: p,
        interval: interval?,
        timeout: timeout?,
        healthy_threshold: healthy?,
        unhealthy_threshold: unhealthy?,
    })
}
