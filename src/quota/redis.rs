//! The Redis quota store (fred): shared by every gateway instance, survives their restarts.
//!
//! Owns: the Lua scripts (`lua/reserve_batch_v1.lua`, `lua/settle_v1.lua`; loaded once, then
//! called by SHA, reloaded when Redis answers NOSCRIPT after a restart), their argument and
//! reply layout, coalescing concurrent calls into batches (`coalesce`), and the connection (fred reconnects by itself; calls fail fast while it is down so
//! the engine's policy applies at once).
//!
//! Key format, version 1 - persistent, do not change without a new version:
//! `<prefix>:v1:{q}:<limit name>:<measure>:<window>:<subject digest>:<bucket id>`, an integer
//! counter with a TTL of about two windows (rolling) or the period end plus one hour
//! (calendar). The subject digest is the first 16 hex digits of sha256("key:<name>",
//! "tier:<name>", "team:<name>", "model:<name>", "ip:<addr>", "header:<name>:<value>" or
//! "*"). Bucket ids: Unix ms / window length (rolling), days since 1970-01-01 (day), Monday
//! weeks since 1969-12-29 (week), year*12+month-1 (month), the year (year). Every key carries
//! the hash tag `{q}`: one reservation touches several counters atomically, which Redis
//! Cluster allows only within one slot (the price: quota keys do not spread over shards).
//! Must not: decide policy (the engine does) or block longer than the engine's timeout.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use fred::prelude::*;
use fred::types::config::Options;
use fred::types::Value as RedisValue;

use tokio::runtime::Handle;

use super::coalesce::Coalescer;
use super::store::{Adjust, Charge, Outcome, QuotaStore, StoreError};
use super::window::Check;
use crate::config::Window;

const RESERVE: &str = include_str!("lua/reserve_batch_v1.lua");
const SETTLE: &str = include_str!("lua/settle_v1.lua");

/// Most counters one coalesced call touches (a few hundred keep a call well under a
/// millisecond of Redis time while amortising the round trip over many requests).
const MAX_KEYS_PER_CALL: usize = 256;

/// The Redis store. Reservations and settlements of concurrent requests are coalesced
/// (`coalesce`): one EVALSHA per batch instead of one per request, which is what keeps Redis
/// quotas close to in-memory throughput under load.
pub struct RedisStore {
    reserves: Coalescer<Vec<Charge>, Result<Outcome, StoreError>>,
    settles: Coalescer<Vec<Adjust>, Result<(), StoreError>>,
}

/// The client and the scripts' hashes, shared by the two serving tasks.
struct Scripts {
    client: Client,
    options: Options,
    reserve_sha: String,
    settle_sha: String,
}

impl RedisStore {
    /// Starts connecting in the background (a Redis that is down at startup is retried like
    /// any later outage). Fails only on an invalid URL.
    pub fn connect(url: &str, timeout: Duration) -> Result<Self, String> {
        let (client, options, handle) = connect_on_runtime(url, timeout)?;
        let scripts = Arc::new(Scripts {
            client,
            options,
            reserve_sha: fred::util::sha1_hash(RESERVE),
            settle_sha: fred::util::sha1_hash(SETTLE),
        });
        let s = Arc::clone(&scripts);
        let reserves = Coalescer::start(&handle, MAX_KEYS_PER_CALL, Vec::len, move |batch| {
            let s = Arc::clone(&s);
            async move { s.reserve(batch).await }
        });
        let settles = Coalescer::start(&handle, MAX_KEYS_PER_CALL, Vec::len, move |batch| {
            let s = Arc::clone(&scripts);
            async move { s.settle(batch).await }
        });
        Ok(RedisStore { reserves, settles })
    }
}

impl Scripts {
    /// EVALSHA, loading the script first when the server does not have it (first use, or
    /// after a Redis restart emptied the script cache).
    async fn call(
        &self,
        sha: &str,
        script: &str,
        keys: Vec<String>,
        args: Vec<String>,
    ) -> Result<RedisValue, StoreError> {
        let c = self.client.with_options(&self.options);
        match c
            .evalsha::<RedisValue, _, _, _>(sha, keys.clone(), args.clone())
            .await
        {
            Err(e) if e.details().contains("NOSCRIPT") => {
                let _: String = c.script_load(script).await.map_err(unavailable)?;
                c.evalsha(sha, keys, args).await.map_err(unavailable)
            }
            other => other.map_err(unavailable),
        }
    }

    /// One call for a batch of reservations; one outcome per reservation, in order.
    async fn reserve(&self, batch: Vec<Vec<Charge>>) -> Vec<Result<Outcome, StoreError>> {
        let sizes: Vec<usize> = batch.iter().map(Vec::len).collect();
        let (keys, args) = reserve_call(batch);
        match self.call(&self.reserve_sha, RESERVE, keys, args).await {
            Ok(reply) => parse_batch(reply, &sizes),
            Err(e) => vec![Err(e); sizes.len()],
        }
    }

    /// One call for a batch of settlements (corrections of one bucket summed).
    async fn settle(&self, batch: Vec<Vec<Adjust>>) -> Vec<Result<(), StoreError>> {
        let n = batch.len();
        let (keys, args) = settle_call(batch);
        let r = self.call(&self.settle_sha, SETTLE, keys, args).await;
        vec![r.map(|_| ()); n]
    }
}

/// Keys and arguments of `reserve_batch_v1.lua` for `batch`.
fn reserve_call(batch: Vec<Vec<Charge>>) -> (Vec<String>, Vec<String>) {
    let total: usize = batch.iter().map(Vec::len).sum();
    let mut keys = Vec::with_capacity(total);
    let mut args = Vec::with_capacity(1 + batch.len() + 3 * total);
    args.push(batch.len().to_string());
    args.extend(batch.iter().map(|r| r.len().to_string()));
    for c in batch.into_iter().flatten() {
        args.push(code(c.window).to_string());
        args.push(c.limit.to_string());
        args.push(c.amount.to_string());
        keys.push(c.counter);
    }
    (keys, args)
}

/// Keys and arguments of `settle_v1.lua`: one correction per bucket key, summed over the
/// batch, in first-seen order (clamping at zero applies to the sum).
fn settle_call(batch: Vec<Vec<Adjust>>) -> (Vec<String>, Vec<String>) {
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut keys: Vec<String> = Vec::new();
    let mut deltas: Vec<i64> = Vec::new();
    for a in batch.into_iter().flatten() {
        let key = format!("{}:{}", a.counter, a.bucket);
        match index.get(&key) {
            Some(&i) => deltas[i] += a.delta,
            None => {
                index.insert(key.clone(), keys.len());
                keys.push(key);
                deltas.push(a.delta);
            }
        }
    }
    (keys, deltas.iter().map(i64::to_string).collect())
}

/// A fred client connecting in the background (on a small runtime of its own: the request
/// runtimes belong to pingora), and per-call options that make calls fail fast while Redis is
/// down or slow. Shared by the quota store and `llm::shared_breaker`. Fails only on an invalid
/// URL.
pub(crate) fn connect(url: &str, timeout: Duration) -> Result<(Client, Options), String> {
    connect_on_runtime(url, timeout).map(|(client, options, _)| (client, options))
}

/// `connect`, also giving the client's runtime (for tasks that should run beside it).
fn connect_on_runtime(url: &str, timeout: Duration) -> Result<(Client, Options, Handle), String> {
    let config = Config::from_url(url).map_err(|e| format!("invalid redis url: {e}"))?;
    let client = Builder::from_config(config)
        .with_connection_config(|c| {
            c.connection_timeout = timeout.max(Duration::from_millis(200));
            c.internal_command_timeout = Duration::from_secs(2);
            // A reservation must run at most once: never replay it after a reconnect.
            c.max_command_attempts = 1;
        })
        .set_policy(ReconnectPolicy::new_constant(0, 100))
        .build()
        .map_err(|e| format!("redis client: {e}"))?;
    // The gateway's request runtimes belong to pingora; the client's connection task gets
    // a small runtime of its own, on a thread that lives as long as the process.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("redis runtime: {e}"))?;
    let handle = rt.handle().clone();
    std::thread::Builder::new()
        .name("tollgate-redis".into())
        .spawn(move || rt.block_on(std::future::pending::<()>()))
        .map_err(|e| format!("redis thread: {e}"))?;
    {
        let _enter = handle.enter();
        // The connection task runs detached; dropping its handle does not stop it.
        drop(client.connect());
    }
    let options = Options {
        fail_fast: true,
        max_attempts: Some(1),
        timeout: Some(timeout),
        ..Default::default()
    };
    Ok((client, options, handle))
}

fn unavailable(e: fred::error::Error) -> StoreError {
    match e.kind() {
        fred::error::ErrorKind::Timeout => StoreError::Timeout,
        _ => StoreError::Unavailable(e.to_string()),
    }
}

/// The window's code in the script.
fn code(w: Window) -> u8 {
    match w {
        Window::Second => 1,
        Window::Minute => 2,
        Window::Hour => 3,
        Window::Day => 4,
        Window::Week => 5,
        Window::Month => 6,
        Window::Year => 7,
    }
}

#[async_trait]
impl QuotaStore for RedisStore {
    async fn reserve(&self, charges: &[Charge]) -> Result<Outcome, StoreError> {
        self.reserves
            .call(charges.to_vec())
            .await
            .unwrap_or_else(|| Err(StoreError::Protocol("reservation lost".into())))
    }

    async fn settle(&self, adjusts: &[Adjust]) -> Result<(), StoreError> {
        self.settles
            .call(adjusts.to_vec())
            .await
            .unwrap_or_else(|| Err(StoreError::Protocol("settlement lost".into())))
    }

    fn kind(&self) -> &'static str {
        "redis"
    }
}

/// Splits the flat reply of a batch into one outcome per reservation of `sizes` charges.
fn parse_batch(v: RedisValue, sizes: &[usize]) -> Vec<Result<Outcome, StoreError>> {
    let bad = || StoreError::Protocol("unexpected reserve reply".into());
    let nums: Option<Vec<i64>> = match v {
        RedisValue::Array(items) => items.into_iter().map(|i| i.as_i64()).collect(),
        _ => None,
    };
    let expected: usize = sizes.iter().map(|n| 1 + 5 * n).sum();
    let Some(nums) = nums.filter(|n| n.len() == expected) else {
        return vec![Err(bad()); sizes.len()];
    };
    let mut at = 0;
    sizes
        .iter()
        .map(|&n| {
            let part = &nums[at..at + 1 + 5 * n];
            at += 1 + 5 * n;
            Ok(outcome(part))
        })
        .collect()
}

/// One reservation's part of the reply: admitted, then 5 numbers per charge.
fn outcome(nums: &[i64]) -> Outcome {
    let n = (nums.len() - 1) / 5;
    let mut checks = Vec::with_capacity(n);
    let mut buckets = Vec::with_capacity(n);
    for c in nums[1..].chunks(5) {
        buckets.push(c[0]);
        checks.push(Check {
            admitted: c[4] == 0,
            used: c[1].max(0) as u64,
            remaining: c[2].max(0) as u64,
            reset_ms: c[3],
            retry_ms: c[4],
        });
    }
    Outcome {
        admitted: nums[0] == 1,
        checks,
        buckets,
    }
}
