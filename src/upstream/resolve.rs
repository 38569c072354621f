//! Asynchronous DNS resolution with a small TTL cache.
//!
//! Owns: turning a provider host name into socket addresses without blocking a worker
//! (pingora's `HttpPeer::new` with a name resolves synchronously and panics on failure).
//! Must not: connect or pick targets.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// How long a successful lookup is reused.
const TTL: Duration = Duration::from_secs(30);

/// (host, port) -> (addresses, when they were looked up).
type Cache = HashMap<(String, u16), (Vec<SocketAddr>, Instant)>;

#[derive(Debug, Default)]
pub struct Resolver {
    cache: Mutex<Cache>,
}

impl Resolver {
    /// Resolves `host:port`; IP literals never touch DNS. The first address is used; the
    /// cache rotates nothing (balancing across addresses is not a goal here).
    pub async fn resolve(&self, host: &str, port: u16, timeout: Duration) -> Option<SocketAddr> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Some(SocketAddr::new(ip, port));
        }
        let key = (host.to_owned(), port);
        if let Some(addr) = self.cached(&key) {
            return Some(addr);
        }
        let found: Vec<SocketAddr> =
            match tokio::time::timeout(timeout, tokio::net::lookup_host((host, port))).await {
                Ok(Ok(iter)) => iter.collect(),
                _ => return None,
            };
        let first = *found.first()?;
        if let Ok(mut c) = self.cache.lock() {
            c.insert(key, (found, Instant::now()));
        }
        Some(first)
    }

    fn cached(&self, key: &(String, u16)) -> Option<SocketAddr> {
        let c = self.cache.lock().ok()?;
        let (addrs, at) = c.get(key)?;
        (at.elapsed() < TTL)
            .then(|| addrs.first().copied())
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn literals_and_localhost() {
        let r = Resolver::default();
        let t = Duration::from_secs(2);
        assert_eq!(
            r.resolve("127.0.0.1", 80, t).await,
            Some("127.0.0.1:80".parse().unwrap())
        );
        assert_eq!(
            r.resolve("::1", 81, t).await,
            Some("[::1]:81".parse().unwrap())
        );
        let l = r.resolve("localhost", 82, t).await.unwrap();
        assert!(l.ip().is_loopback() && l.port() == 82);
        assert!(r.resolve("no-such-host.invalid", 80, t).await.is_none());
    }
}
