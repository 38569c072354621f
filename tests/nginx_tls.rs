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

/// The subject of the certificate served on `port` for `sni` (`None`: no SNI).
fn served_subject(port: u16, sni: Option<&str>) -> String {
    let mut cmd = std::process::Command::new("openssl");
    cmd.args(["s_client", "-connect", &format!("127.0.0.1:{port}")]);
    match sni {
        Some(name) => cmd.args(["-servername", name]),
        None => cmd.arg("-noservername"),
    };
    let out = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .expect("openssl s_client");
    let text = String::from_utf8_lossy(&out.stdout);
    let pem_start = text.find("-----BEGIN CERTIFICATE-----");
    let pem_end = text.find("-----END CERTIFICATE-----");
    let (Some(a), Some(b)) = (pem_start, pem_end) else {
        return format!("no certificate: {text}");
    };
    let mut x509 = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-subject"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("openssl x509");
    use std::io::Write;
    let pem = &text[a..b + "-----END CERTIFICATE-----".len()];
    x509.stdin
        .take()
        .unwrap()
        .write_all(pem.as_bytes())
        .unwrap();
    let out = x509.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// `curl` with `args` and the URL; returns the body and the HTTP version curl used.
fn curl(args: &[&str], url: &str) -> (String, String) {
    let out = std::process::Command::new("curl")
        .args(["-s", "--max-time", "10", "-w", "\n%{http_version}"])
        .args(args)
        .arg(url)
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, version) = text.rsplit_once('\n').unwrap_or((&text, ""));
    (body.to_owned(), version.to_owned())
}

/// What one server did in the SNI/h2 test, in order.
fn sni_h2_run(port: u16, port2: u16, dir: &Path) -> Vec<String> {
    let mut seen = Vec::new();
    for sni in [
        Some("a.test"),
        Some("b.test"),
        Some("c.test"),
        Some("zzz.test"),
        None,
    ] {
        seen.push(format!("{sni:?} -> {}", served_subject(port, sni)));
    }
    let ca = dir.join("ca.pem").display().to_string();
    let https = |name: &str, path: &str| format!("https://{name}:{port}{path}");
    let resolve = |name: &str| format!("{name}:{port}:127.0.0.1");
    for (name, extra) in [
        ("a.test", "--http2"),
        ("b.test", "--http2"),
        ("b.test", "--http1.1"),
    ] {
        let (body, v) = curl(
            &["--cacert", &ca, "--resolve", &resolve(name), extra],
            &https(name, "/"),
        );
        seen.push(format!("{name} {extra}: HTTP/{v} {body:?}"));
    }
    // SNI b.test, Host a.test: the certificate follows SNI, the server follows Host.
    let (body, v) = curl(
        &[
            "--cacert",
            &ca,
            "--resolve",
            &resolve("b.test"),
            "-H",
            "Host: a.test",
        ],
        &https("b.test", "/"),
    );
    seen.push(format!("sni b, host a: HTTP/{v} {body:?}"));
    let (body, v) = curl(
        &["-k", "--http2", "-H", "X-Client: h2"],
        &format!("https://127.0.0.1:{port}/p/x?q=1"),
    );
    seen.push(format!("proxied over h2: HTTP/{v} {}", normalized(&body)));
    let h2c = format!("http://127.0.0.1:{port2}");
    let (body, v) = curl(&["--http2-prior-knowledge"], &format!("{h2c}/"));
    seen.push(format!("h2c: HTTP/{v} {body:?}"));
    let (body, v) = curl(&["--http2-prior-knowledge"], &format!("{h2c}/p/y"));
    seen.push(format!("proxied over h2c: HTTP/{v} {}", normalized(&body)));
    seen
}

/// An upstream record with its headers sorted (order differs legitimately).
fn normalized(body: &str) -> String {
    let r = Resp {
        version: String::new(),
        status: 200,
        headers: Vec::new(),
        body: body.to_owned(),
    };
    format!("{:?}", observe(&r).1)
}

fn wait_listening(port: u16) {
    for _ in 0..500 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("nothing listens on {port}");
}

#[test]
fn sni_selects_certificates_and_http2_serves_like_nginx() {
    let dir = tempfile::tempdir().unwrap();
    pki::make(dir.path());
    let (port, port2, u1) = (free_port(), free_port(), free_port());
    let _echo = echo::Echo::start("u1", u1);
    let template = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/nginx/runtime/sni_h2.conf");
    let text = std::fs::read_to_string(template)
        .unwrap()
        .replace("{PORT}", &port.to_string())
        .replace("{PORT2}", &port2.to_string())
        .replace("{U1}", &u1.to_string());
    let conf = dir.path().join("nginx.conf");
    std::fs::write(&conf, text).unwrap();

    let nginx = {
        let _p = Proc::nginx(dir.path(), &conf, port);
        wait_listening(port2);
        sni_h2_run(port, port2, dir.path())
    };
    wait_port_free(port);
    wait_port_free(port2);
    let p = Proc::tollgate(dir.path(), &conf, port);
    wait_listening(port2);
    let tollgate = sni_h2_run(port, port2, dir.path());
    assert_eq!(
        nginx,
        tollgate,
        "\n--- tollgate stderr:\n{}",
        p.stderr_text()
    );
    // The oracle's answers, so the comparison is known to cover each case.
    let expect = [
        "Some(\"a.test\") -> subject=CN = a.test",
        "Some(\"b.test\") -> subject=CN = b.test",
        "Some(\"c.test\") -> subject=CN = a.test",
        "Some(\"zzz.test\") -> subject=CN = a.test",
        "None -> subject=CN = a.test",
        "a.test --http2: HTTP/2 \"a https a.test\\n\"",
        "b.test --http2: HTTP/2 \"b https b.test\\n\"",
        "b.test --http1.1: HTTP/1.1 \"b https b.test\\n\"",
        "sni b, host a: HTTP/2 \"a https a.test\\n\"",
    ];
    assert_eq!(nginx[..expect.len()], expect, "{nginx:#?}");
    assert!(
        nginx[9].contains("String(\"HTTP/1.0\")")
            && nginx[9].contains("String(\"x-client\"), String(\"h2\")"),
        "{}",
        nginx[9]
    );
    assert_eq!(nginx[10], "h2c: HTTP/2 \"h2c http 127.0.0.1\\n\"");
    assert!(
        nginx[11].starts_with("proxied over h2c: HTTP/2 Some"),
        "{}",
        nginx[11]
    );
}
