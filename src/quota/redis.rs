//! The Redis quota store (fred): shared by every gateway instance, survives their restarts.
//!
//! Owns: the Lua scripts (`lua/reserve_v1.lua`, `lua/settle_v1.lua`; loaded once, then called
//! by SHA, reloaded when Redis answers NOSCRIPT after a restart), their argument and reply
//! layout, and the connection (fred reconnects by itself; calls fail fast while it is down so
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

use std::time::Duration;

use async_trait::async_trait;
use fred::prelude::*;
use fred::types::config::Options;
use fred::types::Value as RedisValue;

use super::store::{Adjust, Charge, Outcome, QuotaStore, StoreError};
use super::window::Check;
use crate::config::Window;

const RESERVE: &str = include_str!("lua/reserve_v1.lua");
const SETTLE: &str = include_str!("lua/settle_v1.lua");

/// The Redis store.
pub struct RedisStore {
    client: Client,
    options: Options,
    reserve_sha: String,
    settle_sha: String,
}

impl RedisStore {
    /// Starts connecting in the background (a Redis that is down at startup is retried like
    /// any later outage). Fails only on an invalid URL.
    pub fn connect(url: &str, timeout: Duration) -> Result<Self, String> {
        let (client, options) = connect(url, timeout)?;
        Ok(RedisStore {
            client,
            options,
            reserve_sha: fred::util::sha1_hash(RESERVE),
            settle_sha: fred::util::sha1_hash(SETTLE),
        })
    }

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
}

/// A fred client connecting in the background (on a small runtime of its own: the request
/// runtimes belong to pingora), and per-call options that make calls fail fast while Redis is
/// down or slow. Shared by the quota store and `llm::shared_breaker`. Fails only on an invalid
/// URL.
pub(crate) fn connect(url: &str, timeout: Duration) -> Result<(Client, Options), String> {
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
    Ok((client, options))
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
        let keys = charges.iter().map(|c| c.counter.clone()).collect();
        let args = charges
            .iter()
            .flat_map(|c| {
                [
                    code(c.window).to_string(),
                    c.limit.to_string(),
                    c.amount.to_string(),
                ]
            })
            .collect();
        let reply = self.call(&self.reserve_sha, RESERVE, keys, args).await?;
        parse_reply(reply, charges.len())
    }

    async fn settle(&self, adjusts: &[Adjust]) -> Result<(), StoreError> {
        let keys = adjusts
            .iter()
            .map(|a| format!("{}:{}", a.counter, a.bucket))
            .collect();
        let args = adjusts.iter().map(|a| a.delta.to_string()).collect();
        self.call(&self.settle_sha, SETTLE, keys, args).await?;
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "redis"
    }
}

fn parse_reply(v: RedisValue, n: usize) -> Result<Outcome, StoreError> {
    let bad = || StoreError::Protocol("unexpected reserve reply".into());
    let RedisValue::Array(items) = v else {
        return Err(bad());
    };
    let nums: Vec<i64> = items
        .into_iter()
        .map(|i| i.as_i64().ok_or_else(bad))
        .collect::<Result<_, _>>()?;
    if nums.len() != 1 + 5 * n {
        return Err(bad());
    }
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
    Ok(Outcome {
        admitted: nums[0] == 1,
        checks,
        buckets,
    })
}
