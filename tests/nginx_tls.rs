//! TLS and HTTP/2 of the generic path, differential against the real nginx 1.22
//! (/usr/sbin/nginx): `proxy_pass https://` with the `proxy_ssl_*` directives against TLS echo
//! upstreams (what the upstream received, which SNI and client certificate it saw, 502 on a
//! failed verification with nginx's error_log line), certificates chosen by SNI on one
//! `listen ... ssl` address, and `listen ... http2` over TLS (ALPN) and cleartext (prior
//! knowledge). Certificates are made per test (tests/nginx/runtime/pki.rs); clients are
//! curl and `openssl s_client`.

mod common;
#[path = "nginx/runtime/echo.rs"]
#[allow(dead_code)]
mod echo;
#[path = "nginx/runtime/harness.rs"]
#[allow(dead_code)]
mod harness;
#[path = "nginx/runtime/pki.rs"]
mod pki;
#[path = "nginx/runtime/tls_echo.rs"]
mod tls_echo;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::free_port;
use harness::{send, Proc, Req, Resp};
use tls_echo::TlsEcho;

/// A rendered configuration with its certificates, ports and TLS echo upstreams.
struct Setup {
    dir: tempfile::TempDir,
    conf: PathBuf,
    port: u16,
    _echoes: Vec<TlsEcho>,
}

fn setup(name: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    pki::make(dir.path());
    let port = free_port();
    let t = [free_port(), free_port()];
    let echoes = vec![
        TlsEcho::start("t1", t[0], dir.path(), "a"),
        TlsEcho::start("t2", t[1], dir.path(), "rogue"),
    ];
    let template = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/nginx/runtime")
        .join(name);
    let text = std::fs::read_to_string(&template)
        .unwrap()
        .replace("{PORT}", &port.to_string())
        .replace("{T1}", &t[0].to_string())
        .replace("{T2}", &t[1].to_string());
    let conf = dir.path().join("nginx.conf");
    std::fs::write(&conf, text).unwrap();
    Setup {
        dir,
        conf,
        port,
        _echoes: echoes,
    }
}

fn wait_port_free(port: u16) {
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("port {port} still in use");
}

/// What is compared of one response: the status and the upstream's record (headers sorted
/// by lowercase name, without the TLS echo's connection number).
type Observed = (u16, Option<serde_json::Value>);

fn observe(r: &Resp) -> Observed {
    let upstream = serde_json::from_str::<serde_json::Value>(&r.body)
        .ok()
        .map(|mut v| {
            if let Some(o) = v.as_object_mut() {
                o.remove("conn");
            }
            if let Some(hs) = v.get_mut("headers").and_then(|h| h.as_array_mut()) {
                for h in hs.iter_mut() {
                    h[0] = h[0].as_str().unwrap_or("").to_ascii_lowercase().into();
                }
                hs.sort_by_key(|h| h.to_string());
            }
            v
        });
    (r.status, upstream)
}

/// The TLS echo's connection number in a response.
fn conn(r: &Resp) -> Option<u64> {
    let v: serde_json::Value = serde_json::from_str(&r.body).ok()?;
    v["conn"].as_u64()
}

/// What one server did with a request list: responses and its error output.
struct Run {
    resps: Vec<Resp>,
    log: String,
}

/// Runs `reqs` against nginx then tollgate; asserts equal observations; returns both runs.
fn differential(s: &Setup, reqs: &[Req]) -> (Run, Run) {
    let nginx = {
        let _p = Proc::nginx(s.dir.path(), &s.conf, s.port);
        let resps: Vec<Resp> = reqs.iter().map(|q| send(s.port, q)).collect();
        let log = std::fs::read_to_string(s.dir.path().join("error.log")).unwrap_or_default();
        Run { resps, log }
    };
    wait_port_free(s.port);
    let p = Proc::tollgate(s.dir.path(), &s.conf, s.port);
    let mut failures = Vec::new();
    let mut resps = Vec::new();
    for (q, n) in reqs.iter().zip(&nginx.resps) {
        let r = send(s.port, q);
        let (n, t) = (observe(n), observe(&r));
        resps.push(r);
        if n != t {
            failures.push(format!(
                "{}:\n  nginx:    {n:?}\n  tollgate: {t:?}",
                q.target
            ));
        }
    }
    let log = p.stderr_text();
    assert!(
        failures.is_empty(),
        "{} of {} requests differ:\n{}\n--- tollgate stderr:\n{log}",
        failures.len(),
        reqs.len(),
        failures.join("\n"),
    );
    (nginx, Run { resps, log })
}

#[test]
fn https_upstreams_sni_verification_and_client_certificates_like_nginx() {
    let s = setup("upstream_tls.conf");
    let targets = [
        "/plain/x?q=1",
        "/sni/x",
        "/group/x",
        "/nosni/x",
        "/verify/x",
        "/wrongname/x",
        "/untrusted/x",
        "/unverified/x",
        "/mtls/x",
        "/keep/1",
        "/keep/2",
    ];
    let reqs: Vec<Req> = targets.iter().map(|t| Req::get(t)).collect();
    let (nginx, tollgate) = differential(&s, &reqs);
    // What the oracle did, so the comparison is known to cover each case.
    let seen: Vec<(u16, serde_json::Value, serde_json::Value)> = nginx
        .resps
        .iter()
        .map(observe)
        .map(|(status, up)| {
            let up = up.clone().unwrap_or_default();
            (status, up["sni"].clone(), up["client_certs"].clone())
        })
        .collect();
    let null = serde_json::Value::Null;
    assert_eq!(
        seen,
        [
            (200, null.clone(), 0.into()),
            (200, "a.test".into(), 0.into()),
            (200, "secure".into(), 0.into()),
            (200, null.clone(), 0.into()),
            (200, "a.test".into(), 0.into()),
            (502, null.clone(), null.clone()),
            (502, null.clone(), null.clone()),
            (200, null.clone(), 0.into()),
            (200, null.clone(), 1.into()),
            (200, null.clone(), 0.into()),
            (200, null.clone(), 0.into()),
        ]
    );
    // `keepalive` with HTTP/1.1 upstream requests: the second request reuses the TLS
    // connection of the first (the one before had its own).
    for run in [&nginx, &tollgate] {
        let conns: Vec<Option<u64>> = run.resps.iter().map(conn).collect();
        let n = conns.len();
        assert!(conns[n - 1].is_some(), "{conns:?}");
        assert_eq!(conns[n - 1], conns[n - 2], "{conns:?}");
        assert_ne!(conns[n - 2], conns[n - 3], "{conns:?}");
    }
    for log in [&nginx.log, &tollgate.log] {
        assert!(
            log.contains("upstream SSL certificate does not match \"b.test\" while SSL handshaking to upstream"),
            "{log}"
        );
        assert!(
            log.contains("upstream SSL certificate verify error: (21:unable to verify the first certificate) while SSL handshaking to upstream"),
            "{log}"
        );
    }
}
