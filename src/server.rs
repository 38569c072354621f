//! Process assembly: builds pingora's server from the validated config, runs it, and handles
//! graceful shutdown.
//!
//! Owns: services (data listeners, admin listener, health checks), readiness, and exiting as
//! soon as a graceful shutdown has nothing left in flight. The process around it (signals,
//! reload, pid file) is lifecycle.rs. Must not: handle requests.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use async_trait::async_trait;
use pingora::listeners::{L4BufferSettings, ListenerConfig};
use pingora::server::ShutdownWatch;
use pingora::server::{ExecutionPhase, RunArgs};
use pingora::services::background::{background_service, BackgroundService};
use pingora::services::listening::Service;

use crate::admin::{AdminApp, Readiness};
use crate::balance::Balancer;
use crate::config::Config;
use crate::lifecycle::{self, new_server, Process, Reopen};
use crate::llm::Gateway;
use crate::observe::Metrics;
use crate::proxy::{Live, NginxState, Tollgate};
use crate::reload_in_process::{self as in_process, ProbeRestart};

/// Starts serving; returns only when the process is shutting down.
pub fn run(config: Config, process: &Process) -> Result<(), String> {
    let config = Arc::new(config);
    let metrics = Arc::new(Metrics::new().map_err(|e| format!("metrics: {e}"))?);
    let readiness = Arc::new(Readiness::default());

    let gateway = Gateway::new(Arc::clone(&config), Arc::clone(&metrics))?;
    let live: Live<Gateway> = Arc::new(ArcSwap::from_pointee(gateway));

    let mut server = new_server(process, config.server.threads, config.server.grace_period)?;

    let mut proxy = pingora::proxy::http_proxy_service_with_name(
        &server.configuration,
        Tollgate::new(Arc::clone(&live)),
        "tollgate",
    );
    for addr in config.server.listen.iter() {
        proxy.add_listener(data_listener(&addr.to_string()));
    }
    server.add_service(proxy);

    if let Some(admin) = &config.admin {
        let app = AdminApp {
            metrics: Arc::clone(&metrics),
            readiness: Arc::clone(&readiness),
            gateway: Arc::clone(&live),
        };
        let mut svc = Service::new("tollgate-admin".to_owned(), app);
        svc.add_tcp(&admin.listen.to_string());
        svc.threads = Some(1);
        server.add_service(svc);
    }

    let (probes, restart) = ProbeRestart::new();
    let current = Arc::clone(&live);
    server.add_service(background_service(
        "health checks",
        HealthProbes {
            gateways: Box::new(move || vec![current.load_full()]),
            restart,
        },
    ));

    spawn_drain_watch(
        server.watch_execution_phase(),
        Arc::clone(&metrics),
        Arc::clone(&readiness),
    );
    spawn_ready_when_listening(
        config.server.listen.as_slice().to_vec(),
        Arc::clone(&readiness),
    );
    log::info!(
        "tollgate listening on {:?} with {} worker threads",
        config.server.listen.as_slice(),
        config.server.threads
    );
    let reload = in_process::yaml(process.config_path.clone(), live, metrics, probes);
    let signals = lifecycle::start(process, Arc::new(|| {}), reload)?;
    server.run(RunArgs {
        shutdown_signal: Box::new(signals),
    });
    lifecycle::finish();
    Ok(())
}

/// Serves a lowered nginx configuration on its `listen` addresses; returns only when the
/// process is shutting down. `reopen` is called on SIGUSR1; `load` reads the configuration
/// again on SIGHUP.
pub fn run_nginx(
    runtime: crate::http::Runtime,
    llm_configs: Vec<Config>,
    load: in_process::NginxLoader,
    process: &Process,
    reopen: Reopen,
) -> Result<(), String> {
    let addrs = runtime.site.bind_addrs();
    let sockets = nginx_sockets(&runtime.site, &addrs)?;
    let pid = process.pid_file.as_ref().map(|p| p.path.clone());
    let shape = in_process::nginx_process_shape(&runtime.site, &pid.unwrap_or_default());
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    let mut server = new_server(process, threads, Duration::from_secs(5))?;
    // The gateways of `llm_gateway` locations: one per YAML file, sharing one metrics registry
    // (there is no admin listener in nginx mode; their listen/admin sections are not used).
    let metrics = Arc::new(Metrics::new().map_err(|e| format!("metrics: {e}"))?);
    let mut gateways = Vec::with_capacity(llm_configs.len());
    for config in llm_configs {
        gateways.push(Arc::new(Gateway::new(
            Arc::new(config),
            Arc::clone(&metrics),
        )?));
    }
    let state = NginxState::new(runtime, gateways)?;
    let live: Live<NginxState> = Arc::new(ArcSwap::from_pointee(state));
    let (probes, restart) = ProbeRestart::new();
    let current = Arc::clone(&live);
    server.add_service(background_service(
        "health checks",
        HealthProbes {
            gateways: Box::new(move || current.load().llm.clone()),
            restart,
        },
    ));
    let mut proxy = pingora::proxy::http_proxy_service_with_name(
        &server.configuration,
        Tollgate::nginx(Arc::clone(&live)),
        "tollgate-nginx",
    );
    let mut h2c = Vec::new();
    for (addr, socket) in sockets {
        match socket {
            NginxSocket::Tcp => proxy.add_tcp(&addr.to_string()),
            NginxSocket::Tls(settings) => {
                proxy.add_tls_with_settings(&addr.to_string(), None, *settings)
            }
            NginxSocket::H2c => h2c.push(addr),
        }
    }
    server.add_service(proxy);
    if !h2c.is_empty() {
        // Cleartext HTTP/2 (prior knowledge) is an option of a whole pingora service: those
        // addresses get a service of their own.
        let mut svc = pingora::proxy::http_proxy_service_with_name(
            &server.configuration,
            Tollgate::nginx(Arc::clone(&live)),
            "tollgate-nginx-h2c",
        );
        let mut options = pingora::apps::HttpServerOptions::default();
        options.h2c = true;
        if let Some(app) = svc.app_logic_mut() {
            app.server_options = Some(options);
        }
        for addr in h2c {
            svc.add_tcp(&addr.to_string());
        }
        server.add_service(svc);
    }
    log::info!("tollgate serving an nginx configuration on {addrs:?}");
    let reload = in_process::nginx(load, shape, live, metrics, probes);
    let signals = lifecycle::start(process, reopen, reload)?;
    server.run(RunArgs {
        shutdown_signal: Box::new(signals),
    });
    lifecycle::finish();
    Ok(())
}

/// How one bound address of an nginx configuration is served.
enum NginxSocket {
    Tcp,
    /// `listen … ssl [http2]`.
    Tls(Box<pingora::listeners::tls::TlsSettings>),
    /// `listen … http2` without `ssl`: HTTP/2 with prior knowledge, or HTTP/1.x.
    H2c,
}

/// The sockets to bind, with their TLS settings (certificates loaded here, errors in
/// nginx's words). An address served through a wildcard socket must want the same TLS and
/// HTTP/2 as the wildcard (the socket cannot tell them apart before the handshake).
fn nginx_sockets(
    site: &crate::http::Site,
    addrs: &[std::net::SocketAddr],
) -> Result<Vec<(std::net::SocketAddr, NginxSocket)>, String> {
    for l in &site.listens {
        if addrs.contains(&l.addr) {
            continue;
        }
        let wildcard = addrs
            .iter()
            .filter_map(|a| site.listen_at(*a))
            .find(|w| w.addr.port() == l.addr.port() && w.addr.ip().is_unspecified());
        if let Some(w) = wildcard {
            if l.tls.is_some() || w.tls.is_some() || l.http2 != w.http2 {
                return Err(format!(
                    "\"listen {}\" with ssl or http2 next to \"listen {}\" is not implemented yet (give both the same address or no ssl/http2)",
                    l.addr, w.addr
                ));
            }
        }
    }
    let mut cache = crate::tls_listen::CertCache::default();
    let mut out = Vec::with_capacity(addrs.len());
    for addr in addrs {
        let Some(listen) = site.listen_at(*addr) else {
            continue;
        };
        let socket = match crate::tls_listen::settings(listen, &mut cache)? {
            Some(settings) => NginxSocket::Tls(Box::new(settings)),
            None if listen.http2 => NginxSocket::H2c,
            None => NginxSocket::Tcp,
        };
        out.push((*addr, socket));
    }
    Ok(out)
}

/// Runs the active health checks inside pingora's runtime (started by `server.run`, after any
/// daemon fork), for the gateways the server serves now. Probes belong to a balancer (where
/// their verdicts go): after an in-process reload, the probes of a balancer no gateway uses
/// any more stop, and a new balancer gets probes of its own; a kept balancer keeps its probes
/// (and their streaks).
struct HealthProbes {
    gateways: Box<dyn Fn() -> Vec<Arc<Gateway>> + Send + Sync>,
    restart: tokio::sync::watch::Receiver<u64>,
}

#[async_trait]
impl BackgroundService for HealthProbes {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut restart = self.restart.clone();
        let mut running: Vec<(Arc<Balancer>, tokio::sync::watch::Sender<bool>)> = Vec::new();
        let mut probes = tokio::task::JoinSet::new();
        loop {
            let current = (self.gateways)();
            running.retain(|(balancer, stop)| {
                let used = current.iter().any(|g| Arc::ptr_eq(&g.balancer, balancer));
                if !used {
                    let _ = stop.send(true);
                }
                used
            });
            for gw in current {
                let known = running.iter().any(|(b, _)| Arc::ptr_eq(b, &gw.balancer));
                let checked = gw.config.providers.values();
                if known || !checked.into_iter().any(|p| p.kind.health_check().is_some()) {
                    continue;
                }
                let (stop, stopped) = tokio::sync::watch::channel(false);
                running.push((Arc::clone(&gw.balancer), stop));
                probes.spawn(crate::llm::probe::run(gw, stopped));
            }
            while probes.try_join_next().is_some() {}
            let again = tokio::select! {
                _ = shutdown.changed() => false,
                r = restart.changed() => r.is_ok(),
            };
            if !again {
                break;
            }
        }
        for (_, stop) in running {
            let _ = stop.send(true);
        }
        while probes.join_next().await.is_some() {}
    }
}

/// Pingora binds the listeners only once `run` starts the services, and the admin listener may
/// come up first: report ready only when every data listener accepts connections.
fn spawn_ready_when_listening(addrs: Vec<std::net::SocketAddr>, readiness: Arc<Readiness>) {
    std::thread::spawn(move || {
        let probe: Vec<std::net::SocketAddr> = addrs.iter().map(|a| loopback_for(*a)).collect();
        // Bounded: a listener that never comes up leaves /readyz at 503 (pingora exits on bind
        // failures anyway).
        for _ in 0..1000 {
            let all_up = probe.iter().all(|a| {
                std::net::TcpStream::connect_timeout(a, Duration::from_millis(100)).is_ok()
            });
            if all_up {
                readiness.set(true);
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        log::error!("data listeners did not start accepting; /readyz stays 503");
    });
}

/// An unspecified listen address (0.0.0.0, ::) is probed on loopback.
fn loopback_for(a: std::net::SocketAddr) -> std::net::SocketAddr {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    match a.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => (Ipv4Addr::LOCALHOST, a.port()).into(),
        IpAddr::V6(ip) if ip.is_unspecified() => (Ipv6Addr::LOCALHOST, a.port()).into(),
        _ => a,
    }
}

/// Pingora sleeps the whole grace period before exiting. Exit as soon as nothing is in flight
/// instead (listeners are already closed when the phase changes).
fn spawn_drain_watch(
    mut phases: tokio::sync::broadcast::Receiver<ExecutionPhase>,
    metrics: Arc<Metrics>,
    readiness: Arc<Readiness>,
) {
    std::thread::spawn(move || loop {
        match phases.blocking_recv() {
            Ok(ExecutionPhase::GracefulTerminate) | Ok(ExecutionPhase::ShutdownGracePeriod) => {
                readiness.set(false);
                log::info!(
                    "graceful shutdown: waiting for {} in-flight requests",
                    metrics.in_flight()
                );
                // Let connections already accepted reach request_filter and count themselves.
                std::thread::sleep(Duration::from_millis(200));
                while metrics.in_flight() > 0 {
                    std::thread::sleep(Duration::from_millis(20));
                }
                log::info!("graceful shutdown: no requests in flight, exiting");
                lifecycle::finish();
                std::process::exit(0);
            }
            Ok(_) => {}
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
            Err(_) => return,
        }
    });
}

/// Read buffer of each client connection. pingora's default is 64 KiB per connection, which
/// a gateway holding thousands of long streams pays in full; requests are small (a chat body
/// is a few KiB) and a larger one is simply read in more pieces.
const CLIENT_READ_BUFFER: usize = 16 * 1024;

/// A data listener with the gateway's client buffer sizes (pingora's write default: one MSS).
fn data_listener(addr: &str) -> ListenerConfig {
    ListenerConfig::tcp(addr).l4_buffer(L4BufferSettings::default().read(CLIENT_READ_BUFFER))
}
