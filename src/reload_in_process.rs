//! In-process reload (SIGHUP, `-s reload`), as nginx keeps its shared zones: the running
//! process reads and validates the configuration again, and when the listening sockets
//! stay as they are, builds the new runtime model and swaps it in atomically (`proxy::Live`).
//! Requests in flight finish on the configuration they started with; every request that
//! starts after the swap sees the new one; no socket closes, so no connection is dropped.
//!
//! State carried over: the LLM gateway's upstream pool, balancer (breakers, health), quota
//! store and shared breakers when their settings are unchanged (`Gateway::succeeding`);
//! nginx `limit_req`/`limit_conn` zones of unchanged name, size and key
//! (`Runtime::keep_zones_of`). An nginx configuration's log files are opened anew.
//!
//! When the listening sockets, their TLS certificates or HTTP/2, the thread count, the grace
//! period or the pid file change, the swap is not possible: [`Outcome::HandOver`] tells the
//! caller to fall back to the hand-over to a new process (reload.rs).
//!
//! Owns: deciding between swap and hand-over, building the successor state, the swap, and
//! telling the health probes to look at the new gateways. Must not: touch signals or pingora's server
//! (lifecycle.rs, server.rs), or parse nginx configurations itself (the loader does).

use std::path::PathBuf;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use tokio::sync::watch;

use crate::config::Config;
use crate::http::{Runtime, Site};
use crate::llm::Gateway;
use crate::observe::Metrics;
use crate::proxy::{Live, NginxState};

/// What a reload request came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The new configuration serves every request from now on.
    Applied,
    /// Valid, but only a new process can serve it (why).
    HandOver(String),
    /// Invalid: nothing changed (the error, in the configuration format's words).
    Refused(String),
}

/// Reads the configuration again and applies it in this process if it can.
pub type Reload = Arc<dyn Fn() -> Outcome + Send + Sync>;

/// Tells the health probes that the gateways were swapped (a new value each time).
#[derive(Debug, Clone)]
pub struct ProbeRestart(Arc<watch::Sender<u64>>);

impl ProbeRestart {
    pub fn new() -> (ProbeRestart, watch::Receiver<u64>) {
        let (tx, rx) = watch::channel(0);
        (ProbeRestart(Arc::new(tx)), rx)
    }

    fn notify(&self) {
        self.0.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// What only a new process can change for a YAML configuration.
fn yaml_process_shape(c: &Config) -> String {
    format!(
        "listen {:?}, admin {:?}, threads {}, grace period {:?}, pid file {:?}",
        c.server.listen.as_slice(),
        c.admin.as_ref().map(|a| a.listen),
        c.server.threads,
        c.server.grace_period,
        c.server.pid_file,
    )
}

/// The in-process reload of a YAML configuration.
pub fn yaml(
    path: PathBuf,
    live: Live<crate::llm::Gateway>,
    metrics: Arc<Metrics>,
    probes: ProbeRestart,
) -> Reload {
    Arc::new(move || {
        let config = match crate::config::load(&path) {
            Ok(c) => c,
            Err(errors) => {
                let lines: Vec<String> = errors.0.iter().map(ToString::to_string).collect();
                return Outcome::Refused(lines.join("; "));
            }
        };
        let old = live.load_full();
        let (was, now) = (yaml_process_shape(&old.config), yaml_process_shape(&config));
        if was != now {
            return Outcome::HandOver(format!("{was} -> {now}"));
        }
        let gateway = match Gateway::succeeding(Arc::new(config), Arc::clone(&metrics), Some(&old))
        {
            Ok(g) => g,
            Err(e) => return Outcome::Refused(e),
        };
        live.store(Arc::new(gateway));
        probes.notify();
        Outcome::Applied
    })
}

/// A freshly loaded nginx configuration: its runtime (log files not attached yet), the
/// YAML configurations of its `llm_gateway`s (same index as `Site::llm_gateways`), and its
/// pid file.
pub struct NginxLoaded {
    pub runtime: Runtime,
    pub llm: Vec<Config>,
    pub pid: PathBuf,
}

/// Reads, checks, lowers and resolves the nginx configuration on disk; the error is what
/// nginx would print after `[emerg]`.
pub type NginxLoader = Arc<dyn Fn() -> Result<NginxLoaded, String> + Send + Sync>;

/// What only a new process can change for an nginx configuration: the bound addresses,
/// their HTTP/2 and TLS settings (the certificate files' content included, since the
/// listener holds the loaded certificates), and the pid file.
pub fn nginx_process_shape(site: &Site, pid: &std::path::Path) -> String {
    let mut out = format!("pid {}", pid.display());
    for addr in site.bind_addrs() {
        let Some(l) = site.listen_at(addr) else {
            continue;
        };
        out.push_str(&format!("; {addr} http2={}", l.http2));
        let Some(tls) = &l.tls else {
            continue;
        };
        // The SNI resolver of the listener maps names to servers' certificates.
        out.push_str(&format!(" names={:?} tls={tls:?}", l.names));
        let pairs = std::iter::once(&tls.default).chain(tls.by_server.iter().map(|(_, p)| p));
        for (cert, key) in pairs {
            for file in [cert, key] {
                let digest = std::fs::read(file).map(|b| hex::encode(Sha256::digest(b)));
                out.push_str(&format!(" {file}:{digest:?}"));
            }
        }
    }
    out
}

/// The in-process reload of an nginx configuration. `shape` is [`nginx_process_shape`] of
/// the configuration the process started with (it never changes in this process).
pub fn nginx(
    load: NginxLoader,
    shape: String,
    live: Live<NginxState>,
    metrics: Arc<Metrics>,
    probes: ProbeRestart,
) -> Reload {
    Arc::new(move || {
        let loaded = match load() {
            Ok(l) => l,
            Err(e) => return Outcome::Refused(e),
        };
        let now = nginx_process_shape(&loaded.runtime.site, &loaded.pid);
        if now != shape {
            return Outcome::HandOver("the listening sockets or the pid file change".to_owned());
        }
        let old = live.load_full();
        match nginx_successor(loaded, &old, &metrics) {
            Ok(state) => {
                live.store(Arc::new(state));
                probes.notify();
                Outcome::Applied
            }
            Err(e) => Outcome::Refused(e),
        }
    })
}

/// The state succeeding `old`; a gateway loaded from the same YAML file as one of `old`'s
/// succeeds that one.
fn nginx_successor(
    loaded: NginxLoaded,
    old: &NginxState,
    metrics: &Arc<Metrics>,
) -> Result<NginxState, String> {
    let NginxLoaded {
        mut runtime, llm, ..
    } = loaded;
    let mut gateways = Vec::with_capacity(llm.len());
    for (i, config) in llm.into_iter().enumerate() {
        let path = runtime.site.llm_gateways.get(i);
        // The same YAML file as before: its state carries over.
        let before = old
            .rt
            .site
            .llm_gateways
            .iter()
            .position(|p| Some(p) == path)
            .and_then(|j| old.llm.get(j));
        let gw = Gateway::succeeding(Arc::new(config), Arc::clone(metrics), before.map(|g| &**g))
            .map_err(|e| match path {
            Some(p) => format!("llm_gateway {}: {e}", p.display()),
            None => e,
        })?;
        gateways.push(Arc::new(gw));
    }
    runtime.keep_zones_of(&old.rt);
    let mut state = NginxState::new(runtime, gateways)?;
    // Last: it points the error log at the new configuration's file.
    crate::proxy::logs::attach(&mut state.rt)?;
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(conf: &str) -> Site {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nginx.conf");
        std::fs::write(&path, conf).unwrap();
        let opts = crate::nginx::Options::new(
            path.to_str().unwrap(),
            &format!("{}/", dir.path().display()),
            None,
        );
        let config = crate::nginx::parse(&crate::nginx::RealFs, &opts).unwrap();
        crate::http::lower(&config).unwrap()
    }

    #[test]
    fn nginx_shape_follows_sockets_not_locations() {
        let pid = std::path::Path::new("/run/x.pid");
        let a = site("events {}\nhttp { server { listen 127.0.0.1:8001; return 200 a; } }\n");
        let b = site("events {}\nhttp { server { listen 127.0.0.1:8001; return 200 b; } }\n");
        let c = site("events {}\nhttp { server { listen 127.0.0.1:8002; return 200 a; } }\n");
        let d = site("events {}\nhttp { server { listen 127.0.0.1:8001 http2; return 200 a; } }\n");
        let shape = |s: &Site| nginx_process_shape(s, pid);
        assert_eq!(shape(&a), shape(&b));
        assert_ne!(shape(&a), shape(&c));
        assert_ne!(shape(&a), shape(&d));
        assert_ne!(
            shape(&a),
            nginx_process_shape(&a, std::path::Path::new("/run/y.pid"))
        );
    }

    fn runtime(conf: &str) -> Runtime {
        Runtime::new(site(conf), |_, _| None).unwrap()
    }

    #[test]
    fn conn_zones_of_unchanged_name_size_and_key_keep_their_counts() {
        let conf = |size: &str, key: &str| {
            format!(
                "events {{}}\nhttp {{ limit_conn_zone {key} zone=c:{size};\n\
                 server {{ listen 127.0.0.1:8001; location / {{ limit_conn c 1; return 200; }} }} }}\n"
            )
        };
        let old = runtime(&conf("1m", "$binary_remote_addr"));
        assert!(old.conn_zones[0].acquire("k", 1));
        let mut kept = runtime(&conf("1m", "$binary_remote_addr"));
        kept.keep_zones_of(&old);
        assert!(
            !kept.conn_zones[0].acquire("k", 1),
            "the count carried over"
        );
        // A request that started before the reload releases into the shared counters.
        old.conn_zones[0].release("k");
        assert!(kept.conn_zones[0].acquire("k", 1));
        for (size, key) in [("2m", "$binary_remote_addr"), ("1m", "$host")] {
            let mut fresh = runtime(&conf(size, key));
            fresh.keep_zones_of(&old);
            assert!(
                fresh.conn_zones[0].acquire("k", 1),
                "{size} {key} starts afresh"
            );
        }
    }

    fn yaml_config(text: &str) -> Config {
        crate::config::load_str(text, std::path::Path::new("t.yaml"), &|_| None).unwrap()
    }

    const YAML: &str = "listen: [\"127.0.0.1:8001\"]\nproviders:\n  demo: { kind: mock }\n\
        models:\n  demo: { targets: [ { provider: demo } ] }\n\
        keys:\n  - { name: all, key: KEY }\nquota:\n  store: memory\n  limits:\n    - { requests: 5, per: hour }\n";

    #[test]
    fn gateway_successor_keeps_balancer_and_pools_of_unchanged_groups() {
        let metrics = Arc::new(Metrics::new().unwrap());
        let old = Gateway::new(Arc::new(yaml_config(YAML)), Arc::clone(&metrics)).unwrap();
        let new_key = YAML.replace("key: KEY", "key: OTHER");
        let same = Gateway::succeeding(
            Arc::new(yaml_config(&new_key)),
            Arc::clone(&metrics),
            Some(&old),
        )
        .unwrap();
        assert!(Arc::ptr_eq(&same.balancer, &old.balancer));
        assert!(Arc::ptr_eq(&same.upstream, &old.upstream));
        let store = |g: &Gateway| Arc::clone(g.quotas.as_ref().unwrap().store().1);
        assert!(Arc::ptr_eq(&store(&same), &store(&old)), "quota store kept");
        let more_models = YAML.replace(
            "models:\n",
            "models:\n  extra: { targets: [ { provider: demo } ] }\n",
        );
        let changed = Gateway::succeeding(
            Arc::new(yaml_config(&more_models)),
            Arc::clone(&metrics),
            Some(&old),
        )
        .unwrap();
        assert!(!Arc::ptr_eq(&changed.balancer, &old.balancer));
        assert!(Arc::ptr_eq(&store(&changed), &store(&old)));
        // The unchanged group keeps its pool (breakers, capacity windows).
        let pool = |g: &Gateway| g.balancer.pool("demo").unwrap() as *const _;
        assert_eq!(pool(&changed), pool(&old));
        let slower = YAML.replace("{ kind: mock }", "{ kind: mock, latency: 5ms }");
        let other = Gateway::succeeding(
            Arc::new(yaml_config(&slower)),
            Arc::clone(&metrics),
            Some(&old),
        )
        .unwrap();
        assert_ne!(pool(&other), pool(&old), "its provider changed");
    }

    #[test]
    fn yaml_shape_follows_sockets_threads_and_pid_file() {
        let shape = |t: &str| yaml_process_shape(&yaml_config(t));
        let base = shape(YAML);
        assert_eq!(base, shape(&YAML.replace("requests: 5", "requests: 6")));
        assert_ne!(base, shape(&YAML.replace("8001", "8002")));
        let threads = YAML.replace("providers:", "server: { threads: 3 }\nproviders:");
        assert_ne!(base, shape(&threads));
    }
}
