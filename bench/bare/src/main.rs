//! The smallest pingora reverse proxy, as a benchmark baseline: every request goes to one
//! upstream over pingora's pooled keep-alive connections, with no filter of any kind. Running
//! it beside tollgate and nginx in the same bench run separates what pingora itself costs per
//! request from what tollgate adds on top (bench/run.py `proxy`).
//!
//! Usage: `tollgate-bare-pingora LISTEN UPSTREAM THREADS`, e.g.
//! `tollgate-bare-pingora 127.0.0.1:8080 127.0.0.1:9000 2`.
//!
//! Owns nothing else: no config, no logging, no error pages.

use async_trait::async_trait;
use pingora::prelude::*;
use pingora::server::configuration::ServerConf;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Bare {
    upstream: String,
}

#[async_trait]
impl ProxyHttp for Bare {
    type CTX = ();

    fn new_ctx(&self) {}

    async fn upstream_peer(&self, _session: &mut Session, _ctx: &mut ()) -> Result<Box<HttpPeer>> {
        Ok(Box::new(HttpPeer::new(
            self.upstream.as_str(),
            false,
            String::new(),
        )))
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, listen, upstream, threads] = args.as_slice() else {
        eprintln!("usage: tollgate-bare-pingora LISTEN UPSTREAM THREADS");
        std::process::exit(2);
    };
    let conf = ServerConf {
        threads: threads.parse().unwrap_or(1),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let mut proxy = http_proxy_service(
        &server.configuration,
        Bare {
            upstream: upstream.clone(),
        },
    );
    proxy.add_tcp(listen);
    server.add_service(proxy);
    server.run_forever();
}
