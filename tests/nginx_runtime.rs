//! Differential tests of the generic path: the same configuration (tests/nginx/runtime/*.conf)
//! and the same request list are served by the real nginx 1.22 (/usr/sbin/nginx) and by
//! tollgate, one after the other on the same loopback port, with echo upstreams recording
//! what they receive. Compared: status, Location, Content-Type, the X-* response headers,
//! the Server header when the upstream's is passed, which upstream answered, and the
//! upstream request line and headers.

mod common;
#[path = "nginx/runtime/echo.rs"]
mod echo;
#[path = "nginx/runtime/harness.rs"]
mod harness;
#[path = "nginx/runtime/static_files.rs"]
mod static_files;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::free_port;
use echo::Echo;
use harness::{send, stream_timings, Proc, Req, Resp};

/// Echo upstreams and ports for one configuration.
struct Setup {
    dir: tempfile::TempDir,
    conf: PathBuf,
    port: u16,
    u: [u16; 3],
    dead: [u16; 2],
    _echoes: Vec<Echo>,
}

fn setup(name: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let u = [free_port(), free_port(), free_port()];
    let dead = [free_port(), free_port()];
    let echoes = vec![
        Echo::start("u1", u[0]),
        Echo::start("u2", u[1]),
        Echo::start("u3", u[2]),
    ];
    let template = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/nginx/runtime")
        .join(name);
    let text = std::fs::read_to_string(&template)
        .unwrap()
        .replace("{PORT}", &port.to_string())
        .replace("{U1}", &u[0].to_string())
        .replace("{U2}", &u[1].to_string())
        .replace("{U3}", &u[2].to_string())
        .replace("{DEAD1}", &dead[0].to_string())
        .replace("{DEAD2}", &dead[1].to_string())
        .replace("{DIR}", &dir.path().display().to_string());
    let conf = dir.path().join("nginx.conf");
    std::fs::write(&conf, text).unwrap();
    Setup {
        dir,
        conf,
        port,
        u,
        dead,
        _echoes: echoes,
    }
}

/// What is compared for one response.
#[derive(Debug, PartialEq)]
struct Observed {
    version: String,
    status: u16,
    location: Option<String>,
    content_type: Option<String>,
    x_headers: Vec<(String, String)>,
    server_header: Option<String>,
    www_authenticate: Option<String>,
    body_text: Option<String>,
    upstream: Option<serde_json::Value>,
}

fn observe(r: &Resp) -> Observed {
    let mut x_headers: Vec<(String, String)> = r
        .headers
        .iter()
        .filter(|(k, _)| k.starts_with("x-"))
        .cloned()
        .collect();
    x_headers.sort();
    let json = r.header("content-type") == Some("application/json");
    let upstream = json
        .then(|| serde_json::from_str::<serde_json::Value>(&r.body).ok())
        .flatten()
        .map(|mut v| {
            // Header order differs legitimately; names are case-insensitive.
            if let Some(hs) = v.get_mut("headers").and_then(|h| h.as_array_mut()) {
                let mut pairs: Vec<(String, String)> = hs
                    .iter()
                    .map(|p| {
                        (
                            p[0].as_str().unwrap_or("").to_ascii_lowercase(),
                            p[1].as_str().unwrap_or("").to_owned(),
                        )
                    })
                    .collect();
                pairs.sort();
                *hs = pairs
                    .into_iter()
                    .map(|(k, v)| serde_json::json!([k, v]))
                    .collect();
            }
            v
        });
    let text = r
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/plain"));
    Observed {
        version: r.version.clone(),
        status: r.status,
        location: r.header("location").map(str::to_owned),
        content_type: r.header("content-type").map(str::to_owned),
        x_headers,
        server_header: r
            .header("server")
            .filter(|s| *s == "echo")
            .map(str::to_owned),
        www_authenticate: r.header("www-authenticate").map(str::to_owned),
        body_text: text.then(|| r.body.clone()),
        upstream,
    }
}

/// Runs `reqs` against nginx, then tollgate, asserts every observation is equal, and
/// returns nginx's responses.
fn differential(s: &Setup, reqs: &[Req]) -> Vec<Resp> {
    differential_by(s, reqs, observe)
}

/// [`differential`] comparing what `observe` extracts.
fn differential_by<O: PartialEq + std::fmt::Debug>(
    s: &Setup,
    reqs: &[Req],
    observe: impl Fn(&Resp) -> O,
) -> Vec<Resp> {
    let nginx: Vec<Resp> = {
        let p = Proc::nginx(s.dir.path(), &s.conf, s.port);
        let r = reqs.iter().map(|q| send(s.port, q)).collect();
        drop(p);
        r
    };
    wait_port_free(s.port);
    let p = Proc::tollgate(s.dir.path(), &s.conf, s.port);
    let mut failures = Vec::new();
    for (q, n) in reqs.iter().zip(&nginx) {
        let t = send(s.port, q);
        let (on, ot) = (observe(n), observe(&t));
        if on != ot {
            failures.push(format!(
                "{} {} (Host {:?}):\n  nginx:    {on:?}\n  tollgate: {ot:?}",
                q.method, q.target, q.host
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} requests differ:\n{}\n--- tollgate stderr:\n{}",
        failures.len(),
        reqs.len(),
        failures.join("\n"),
        p.stderr_text()
    );
    nginx
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

fn get(t: &str) -> Req {
    Req::get(t)
}

#[test]
fn server_name_selection() {
    let s = setup("server_names.conf");
    let hosts = [
        "exact.test",
        "EXACT.TEST.",
        "exact.test:8080",
        "a.wild.test",
        "x.sub.wild.test",
        "mail.wild.test",
        "mail.foo.com",
        "api42.test",
        "dot.test",
        "x.dot.test",
        "unknown.test",
        "dflt.test",
    ];
    let mut reqs: Vec<Req> = hosts.iter().map(|h| get("/").host(Some(h))).collect();
    reqs.push(get("/").host(None));
    reqs.push(get("/").host(Some("a..b")));
    differential(&s, &reqs);
}

#[test]
fn address_specific_listen_wins_over_wildcard() {
    let s = setup("listen.conf");
    let reqs: Vec<Req> = ["a.test", "b.test", "other.test"]
        .iter()
        .map(|h| get("/").host(Some(h)))
        .collect();
    let nginx = differential(&s, &reqs);
    assert!(nginx.iter().all(|r| r.body.starts_with("a ")), "{nginx:?}");
}

#[test]
fn location_modifiers_and_nesting() {
    let s = setup("locations.conf");
    let targets = [
        "/",
        "/index.html",
        "/documents/1.jpg",
        "/documents/x",
        "/documents/special/x",
        "/images/1.gif",
        "/x/1.GIF",
        "/api/x.json",
        "/api/v1/x.json",
        "/api/v1/x",
        "/api/y",
        "/other/x.json",
        "/static/a.css",
        "/static/a.js",
        "/Case/x",
        "/case/x",
        "//documents//doc.html",
        "/a/%2e%2e/documents/x",
        "/h",
        "/h?a=1",
        "/h/x?y=1",
    ];
    let reqs: Vec<Req> = targets.iter().map(|t| get(t)).collect();
    differential(&s, &reqs);
}

#[test]
fn proxy_pass_uri_rules() {
    let s = setup("proxy_pass.conf");
    let targets = [
        "/a/foo?q=1",
        "/a/foo%20bar",
        "/a/../a/./x//y",
        "/b/foo",
        "/bfoo",
        "/c/a//b/../c",
        "/c/%7Efoo",
        "/d/foo?z=1",
        "/e/any?y=2",
        "/f/abc?k=v",
        "/f/abc",
        "/i",
        "/j/z?w=1",
        "/k/p?q=2",
    ];
    let reqs: Vec<Req> = targets.iter().map(|t| get(t)).collect();
    differential(&s, &reqs);
}

#[test]
fn headers_defaults_and_inheritance() {
    let s = setup("headers.conf");
    let up_location = format!("Location: http://127.0.0.1:{}/up/next?z=1", s.u[0]);
    let reqs = vec![
        get("/inherit/a")
            .header("X-Client", "c")
            .header("Upgrade", "websocket")
            .header("Keep-Alive", "1"),
        get("/inherit/b").header("X-Echo-Status", "404"),
        get("/own/a").header("Connection", "keep-alive"),
        get("/xff/a?q=1")
            .header("X-Forwarded-For", "9.9.9.9")
            .host(Some("Front.Test")),
        get("/xff/b"),
        get("/hide/a")
            .header("X-Echo-Header", "X-Secret: s")
            .header("X-Echo-Header", "X-Kept: k"),
        get("/redir/a")
            .header("X-Echo-Status", "302")
            .header("X-Echo-Header", &up_location),
        get("/named/a"),
        Req::get("/inherit/post").post("hello body"),
    ];
    differential(&s, &reqs);
}

#[test]
fn return_rewrite_set_if() {
    let s = setup("rewrite.conf");
    let reqs = vec![
        get("/old/a?k=1"),
        get("/perm/a?k=1"),
        get("/temp/b"),
        get("/ext?k=1"),
        get("/args?orig=2"),
        get("/noargs?orig=3"),
        get("/loop"),
        get("/ret"),
        get("/ret301"),
        get("/retbare"),
        get("/set?name=bob"),
        get("/if?x=12"),
        get("/if?x=ab"),
        Req::get("/if").post("x"),
        Req::get("/big/").post("0123456789abcdef"),
        Req::get("/big/").post_chunked("0123456789abcdef"),
        Req::get("/big/").post("small"),
        Req::get("/bigret/").post("0123456789abcdef"),
        Req::get("/bigret/").post("small"),
        Req::get("/bigrw/").post("0123456789abcdef"),
        Req::get("/bignamed/").post("0123456789abcdef"),
    ];
    let nginx = differential(&s, &reqs);
    let statuses: Vec<u16> = nginx[nginx.len() - 4..].iter().map(|r| r.status).collect();
    assert_eq!(statuses, [413, 200, 413, 413]);
}

#[test]
fn upstream_balancing_backup_and_failures() {
    let s = setup("upstreams.conf");
    let _ = s.dead;
    let mut reqs: Vec<Req> = (0..14).map(|i| get(&format!("/w/{i}"))).collect();
    reqs.extend((0..3).map(|i| get(&format!("/b/{i}"))));
    reqs.extend((0..3).map(|i| get(&format!("/d/{i}"))));
    reqs.extend((0..2).map(|i| get(&format!("/a/{i}"))));
    reqs.extend((0..3).map(|i| get(&format!("/off/{i}"))));
    reqs.extend((0..3).map(|i| get(&format!("/down/{i}"))));
    reqs.push(Req::get("/d/post").post("body"));
    differential(&s, &reqs);
}

#[test]
fn least_conn_ip_hash_and_hash_pick_like_nginx() {
    let s = setup("balancers.conf");
    let mut reqs: Vec<Req> = (0..8).map(|i| get(&format!("/lc/{i}"))).collect();
    reqs.extend((0..3).map(|i| get(&format!("/ih/{i}"))));
    reqs.extend((0..12).map(|i| get(&format!("/hs/{i}"))));
    reqs.extend((0..12).map(|i| get(&format!("/ch/x?k=key{i}"))));
    reqs.extend((0..8).map(|i| get(&format!("/hd/{i}"))));
    differential(&s, &reqs);
}

#[test]
fn timeouts_and_closed_connections_follow_proxy_next_upstream() {
    let s = setup("failures.conf");
    let reqs = vec![
        get("/slow/a").header("X-Echo-Delay", "u1=1500"),
        get("/single/a").header("X-Echo-Delay", "u1=1500"),
        get("/cg/a").header("X-Echo-Close", "u1"),
        Req::get("/cp/a").post("body").header("X-Echo-Close", "u1"),
        Req::get("/cpn/a").post("body").header("X-Echo-Close", "u1"),
    ];
    let nginx = differential(&s, &reqs);
    let seen: Vec<(u16, bool)> = nginx
        .iter()
        .map(|r| (r.status, r.body.contains("\"u2\"")))
        .collect();
    assert_eq!(
        seen,
        [
            (200, true),
            (504, false),
            (200, true),
            (502, false),
            (200, true)
        ]
    );
}

#[test]
fn map_blocks_evaluate_like_nginx() {
    let s = setup("map.conf");
    let mut reqs = vec![
        get("/a"),
        // The harness always sends `Connection: close`; the Upgrade header drives the map.
        get("/a").header("Upgrade", "websocket"),
    ];
    for tier in ["gold", "GOLD", "silver", "bRx", "sx", "none", ""] {
        reqs.push(get(&format!("/b?tier={tier}")));
        reqs.push(get(&format!("/ret?tier={tier}")));
    }
    differential(&s, &reqs);
}

#[test]
fn sse_streams_through_proxy_buffering_off() {
    let s = setup("sse.conf");
    let check = |what: &str| {
        let reads = stream_timings(s.port, &get("/sse"));
        // When each event had fully arrived (an event may be split across reads, and across
        // chunks of the chunked encoding: compare the de-chunked body).
        let arrival = |marker: &str| {
            let mut seen = String::new();
            reads
                .iter()
                .find(|(_, t)| {
                    seen.push_str(t);
                    dechunk(&seen).contains(marker)
                })
                .map(|(at, _)| *at)
                .unwrap_or_else(|| panic!("{what}: no {marker} in {reads:?}"))
        };
        let (first, last) = (arrival("u1-0"), arrival("u1-2"));
        // The upstream sends events 300 ms apart: the first must arrive well before the last.
        assert!(
            first + Duration::from_millis(400) < last,
            "{what}: {reads:?}"
        );
    };
    {
        let _p = Proc::nginx(s.dir.path(), &s.conf, s.port);
        check("nginx");
    }
    wait_port_free(s.port);
    let _p = Proc::tollgate(s.dir.path(), &s.conf, s.port);
    check("tollgate");
}

/// The body of a raw HTTP/1.1 response read so far, chunked encoding removed (complete chunks
/// only); a body without chunked encoding is returned as is.
fn dechunk(raw: &str) -> String {
    let Some((head, mut rest)) = raw.split_once("\r\n\r\n") else {
        return String::new();
    };
    if !head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return rest.to_owned();
    }
    let mut body = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || after.len() < n + 2 {
            break;
        }
        body.push_str(&after[..n]);
        rest = &after[n + 2..];
    }
    body
}

/// Serves `reqs` with one server, then returns the lines of each log file (waiting for
/// tollgate's writer thread) and removes the files for the next run.
fn logged(s: &Setup, start: impl Fn() -> Proc, reqs: &[Req], files: &[&str]) -> Vec<Vec<String>> {
    let p = start();
    for q in reqs {
        send(s.port, q);
    }
    let want = reqs.len();
    let mut out = Vec::new();
    for f in files {
        let path = s.dir.path().join(f);
        let mut lines = Vec::new();
        // Every file gets at most one line per request; wait until the main one has all.
        for _ in 0..100 {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            lines = text.lines().map(str::to_owned).collect();
            if lines.len() >= want || *f != files[0] {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        out.push(lines);
    }
    // Give the last lines of the other files time to land, then re-read them.
    std::thread::sleep(Duration::from_millis(100));
    for (i, f) in files.iter().enumerate().skip(1) {
        let text = std::fs::read_to_string(s.dir.path().join(f)).unwrap_or_default();
        out[i] = text.lines().map(str::to_owned).collect();
    }
    drop(p);
    for f in files {
        let _ = std::fs::remove_file(s.dir.path().join(f));
    }
    out
}

#[test]
fn access_log_lines_match_nginx_field_by_field() {
    let s = setup("access_log.conf");
    let basic = "Basic dXNlcjE6cHc="; // user1:pw
    let reqs = vec![
        get("/p/a?x=1").header("X-Test", "plain"),
        get("/p/q%20s").header("X-Test", "quote\"back\\slash"),
        get("/pair/1"),
        get("/pair/2"),
        get("/dead/x"),
        get("/ret"),
        get("/nowhere"),
        get("/rw/z?k=v").header("Authorization", basic),
        get("/both/1?a=%22").header("X-Test", "tab\there"),
        get("/both/2?skip=1&a=b"),
        get("/off/x"),
        Req::get("/p/post").post("body bytes"),
    ];
    let files = ["fields.log", "json.log", "combined.log"];
    let n = logged(
        &s,
        || Proc::nginx(s.dir.path(), &s.conf, s.port),
        &reqs,
        &files,
    );
    wait_port_free(s.port);
    let t = logged(
        &s,
        || Proc::tollgate(s.dir.path(), &s.conf, s.port),
        &reqs,
        &files,
    );
    // Fields 11.. are times and $bytes_sent (the Server header differs): shapes only.
    let timeish = regex::Regex::new(r"^[-0-9.:/ +,TA-Za-z\[\]]*$").unwrap();
    assert_eq!(n[0].len(), 10, "nginx fields.log: {:?}", n[0]);
    assert_eq!(
        n[0].len(),
        t[0].len(),
        "nginx {:?}\ntollgate {:?}",
        n[0],
        t[0]
    );
    for (nl, tl) in n[0].iter().zip(&t[0]) {
        let (nf, tf): (Vec<&str>, Vec<&str>) = (nl.split('|').collect(), tl.split('|').collect());
        assert_eq!(nf.len(), tf.len(), "{nl}\n{tl}");
        let generated = nf[3] != "200";
        for (i, (a, b)) in nf.iter().zip(&tf).enumerate() {
            let skip = i >= 11 || (i == 4 && generated);
            if skip {
                assert!(timeish.is_match(b), "field {i} of {tl}");
            } else {
                assert_eq!(a, b, "field {i}:\n  nginx:    {nl}\n  tollgate: {tl}");
            }
        }
    }
    assert_eq!(n[1], t[1], "json.log");
    // combined: all but the time stamp in brackets.
    let strip = |l: &String| {
        regex::Regex::new(r"\[[^\]]*\]")
            .unwrap()
            .replace(l, "[]")
            .into_owned()
    };
    let (nc, tc): (Vec<String>, Vec<String>) = (
        n[2].iter().map(strip).collect(),
        t[2].iter().map(strip).collect(),
    );
    assert_eq!(nc.len(), 2, "{nc:?}");
    assert_eq!(nc, tc, "combined.log");
}

#[test]
fn allow_deny_and_limits_answer_like_nginx() {
    let s = setup("access.conf");
    let mut reqs: Vec<Req> = [
        "/open/a",
        "/deny/a",
        "/allow/a",
        "/net/a",
        "/first/a",
        "/inherit/open/a",
        "/inherit/closed/a",
        "/inherit/x",
        "/retdeny/a",
        "/static/a",
    ]
    .iter()
    .map(|t| get(t))
    .collect();
    reqs.extend((0..6).map(|i| get(&format!("/rl/{i}"))));
    reqs.extend((0..3).map(|_| get("/rl429/same")));
    reqs.extend((0..3).map(|_| get("/rlkey/x")));
    reqs.extend((0..3).map(|_| get("/rlkey/x?k=a")));
    reqs.extend((0..3).map(|_| get("/rldry/x")));
    reqs.extend((0..4).map(|_| get("/two/a")));
    // A limit rejects before allow/deny is consulted; the second request is limited.
    reqs.extend((0..2).map(|_| get("/limdeny/a")));
    let nginx = differential(&s, &reqs);
    let statuses: Vec<u16> = nginx.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [
            200, 403, 200, 403, 403, 200, 403, 403, 200, 403, // allow/deny
            200, 200, 200, 503, 503, 503, // burst=2 nodelay
            200, 429, 429, // no burst, 429
            200, 200, 200, 200, 503, 503, // empty key not limited
            200, 200, 200, // dry run
            200, 200, 503, 503, // second zone burst=1
            403, 503,
        ]
    );
}

#[test]
fn limit_conn_counts_requests_in_flight_like_nginx() {
    let s = setup("access.conf");
    let run = |what: &str| -> Vec<u16> {
        let port = s.port;
        let slow = std::thread::spawn(move || {
            send(port, &get("/conn/slow").header("X-Echo-Delay", "u1=1000")).status
        });
        std::thread::sleep(Duration::from_millis(300));
        let during = send(s.port, &get("/conn/during")).status;
        let slow = slow
            .join()
            .unwrap_or_else(|_| panic!("{what}: slow request"));
        let after = send(s.port, &get("/conn/after")).status;
        vec![slow, during, after]
    };
    let n = {
        let _p = Proc::nginx(s.dir.path(), &s.conf, s.port);
        run("nginx")
    };
    assert_eq!(n, [200, 429, 200]);
    wait_port_free(s.port);
    let _p = Proc::tollgate(s.dir.path(), &s.conf, s.port);
    assert_eq!(run("tollgate"), n);
}

/// An htpasswd with one user per scheme nginx 1.22 accepts, hashed by openssl (crypt
/// schemes) and by hand ({SHA}, {SSHA}, {PLAIN}); every password is "pw-" + the user.
fn htpasswd(dir: &Path) {
    use base64::Engine;
    use sha1::Digest;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut lines = vec!["# users".to_owned()];
    for (user, flag) in [
        ("apr", "-apr1"),
        ("md5", "-1"),
        ("s256", "-5"),
        ("s512", "-6"),
    ] {
        let out = std::process::Command::new("openssl")
            .args(["passwd", flag, &format!("pw-{user}")])
            .output()
            .expect("openssl passwd");
        let hash = String::from_utf8(out.stdout).unwrap();
        lines.push(format!("{user}:{}", hash.trim()));
    }
    lines.push(format!(
        "sha:{{SHA}}{}",
        b64.encode(sha1::Sha1::digest(b"pw-sha"))
    ));
    let mut raw = sha1::Sha1::new()
        .chain_update(b"pw-ssha")
        .chain_update(b"salt")
        .finalize()
        .to_vec();
    raw.extend_from_slice(b"salt");
    lines.push(format!("ssha:{{SSHA}}{}", b64.encode(raw)));
    lines.push("plain:{PLAIN}pw-plain:a comment".to_owned());
    std::fs::write(dir.join("htpasswd"), lines.join("\n") + "\n").unwrap();
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    format!("Basic {}", b64.encode(format!("{user}:{password}")))
}

#[test]
fn auth_basic_and_satisfy_answer_like_nginx() {
    let s = setup("auth.conf");
    htpasswd(s.dir.path());
    let mut reqs = vec![
        get("/auth/a"),
        get("/auth/a").header("Authorization", "Bearer x"),
    ];
    for user in ["apr", "md5", "s256", "s512", "sha", "ssha", "plain"] {
        let good = basic(user, &format!("pw-{user}"));
        reqs.push(get("/auth/a").header("Authorization", &good));
        reqs.push(get("/auth/a").header("Authorization", &basic(user, "wrong")));
    }
    reqs.extend([
        get("/auth/a").header("Authorization", &basic("nobody", "pw-nobody")),
        get("/auth/a").header("Authorization", "Basic !!!"),
        get("/auth/off/a"),
        get("/any_deny/a"),
        get("/any_deny/a").header("Authorization", &basic("apr", "pw-apr")),
        get("/any_allow/a"),
        get("/all_deny/a").header("Authorization", &basic("apr", "pw-apr")),
        get("/nofile/a"),
        get("/nofile/a").header("Authorization", &basic("apr", "pw-apr")),
        get("/realm/a").host(Some("Realm.Test")),
    ]);
    let nginx = differential(&s, &reqs);
    let statuses: Vec<u16> = nginx.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [
            401, 401, 200, 401, 200, 401, 200, 401, 200, 401, 200, 401, 200, 401, 200, 401, 401,
            401, 200, 401, 200, 200, 403, 401, 403, 401
        ]
    );
    assert_eq!(
        nginx[0].header("www-authenticate"),
        Some("Basic realm=\"Restricted\"")
    );
}

/// Every byte a server sends for `GET target` before closing.
fn raw_answer(port: u16, target: &str) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let req = format!("GET {target} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    c.write_all(req.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out);
    out
}

#[test]
fn return_444_closes_without_a_response_like_nginx() {
    let s = setup("access.conf");
    let n = {
        let _p = Proc::nginx(s.dir.path(), &s.conf, s.port);
        (
            raw_answer(s.port, "/close"),
            raw_answer(s.port, "/open/a").len(),
        )
    };
    assert!(n.0.is_empty() && n.1 > 0, "nginx: {n:?}");
    wait_port_free(s.port);
    let _p = Proc::tollgate(s.dir.path(), &s.conf, s.port);
    // Keep-alive was requested: only closing ends the read before its timeout.
    let started = std::time::Instant::now();
    assert_eq!(raw_answer(s.port, "/close"), b"");
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[test]
fn error_page_redirects_like_nginx() {
    let s = setup("error_page.conf");
    let reqs: Vec<Req> = [
        "/missing/a?q=1",
        "/static/a",
        "/text/a",
        "/eq/a",
        "/code/a",
        "/named/a?z=2",
        "/keep_proxy/a",
        "/ext/a",
        "/ext301/a",
        "/limited/a",
        "/limited/a",
        "/twice/a",
        "/own/a",
        // Counted by /once/, not again by its error page's location; the second is refused.
        "/once/a",
        "/once/a",
    ]
    .iter()
    .map(|t| get(t))
    .collect();
    let nginx = differential(&s, &reqs);
    let statuses: Vec<u16> = nginx.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [404, 404, 404, 200, 410, 200, 403, 302, 301, 200, 429, 404, 404, 403, 503]
    );
    assert_eq!(nginx[0].body, "custom page /errors/404 from=/missing/a\n");
}

#[test]
fn error_page_after_proxying_like_nginx() {
    let s = setup("error_page_upstream.conf");
    std::fs::create_dir_all(s.dir.path().join("html")).unwrap();
    std::fs::write(s.dir.path().join("html/page.txt"), "static page\n").unwrap();
    let reqs = vec![
        get("/dead/a?q=1"),
        get("/deadcode/a"),
        get("/deadeq/a"),
        get("/deadfile/a"),
        get("/deadnamed/a"),
        get("/deadext/a"),
        get("/slow/a").header("X-Echo-Delay", "u1=1500"),
        get("/big/a").post("more than ten bytes"),
        get("/big/a").post_chunked("more than ten bytes"),
        get("/icpt/a").header("X-Echo-Status", "404"),
        get("/icpt/a").header("X-Echo-Status", "500"),
        get("/icpt/a").header("X-Echo-Status", "403"),
        get("/noicpt/a").header("X-Echo-Status", "404"),
        get("/icpt/a"),
    ];
    let nginx = differential(&s, &reqs);
    let statuses: Vec<u16> = nginx.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [502, 503, 200, 502, 502, 302, 200, 413, 413, 200, 500, 403, 404, 200]
    );
    assert_eq!(nginx[0].body, "page /errors/dead x=1\n");
    assert_eq!(nginx[3].body, "static page\n");
    assert_eq!(nginx[4].body, "named /deadnamed/a\n");
}

fn is_request_id(v: &str) -> bool {
    v.len() == 32
        && v.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The id a response carries in X-Id and the one its upstream received.
fn ids(r: &Resp) -> (String, String) {
    let json: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    let sent = json["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| {
            p[0].as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case("x-id"))
        })
        .map(|p| p[1].as_str().unwrap().to_owned())
        .unwrap_or_default();
    (r.header("x-id").unwrap_or("").to_owned(), sent)
}

#[test]
fn request_id_is_one_random_value_per_request_like_nginx() {
    let s = setup("request_id.conf");
    // A tag per server and run: both write their default access log to Debian's compiled-in
    // /var/log/nginx/access.log, shared with every other test.
    let tag = |who: &str| format!("{who}-{}-{}", std::process::id(), s.port);
    let check = |port: u16, tag: &str| {
        let a = send(port, &get("/a"));
        let b = send(port, &get("/b"));
        let (ha, ua) = ids(&a);
        let (hb, ub) = ids(&b);
        assert!(is_request_id(&ha), "{ha:?}");
        assert_eq!(ha, ua);
        assert_eq!(hb, ub);
        assert_ne!(ha, hb);
        let r = send(port, &get(&format!("/r?{tag}")));
        assert!(is_request_id(r.body.trim_end()), "{:?}", r.body);
    };
    {
        let _p = Proc::nginx(s.dir.path(), &s.conf, s.port);
        check(s.port, &tag("nginx"));
    }
    wait_port_free(s.port);
    let _p = Proc::tollgate(s.dir.path(), &s.conf, s.port);
    check(s.port, &tag("tollgate"));
    // No access_log anywhere: nginx's default, combined, in the same file for both.
    let line_of = |who: &str| {
        let needle = format!("\"GET /r?{} HTTP/1.1\"", tag(who));
        for _ in 0..100 {
            let text = std::fs::read_to_string("/var/log/nginx/access.log").unwrap_or_default();
            if let Some(l) = text.lines().find(|l| l.contains(&needle)) {
                return l.to_owned();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("no default access log line of {who}");
    };
    for who in ["nginx", "tollgate"] {
        let line = line_of(who);
        assert!(line.starts_with("127.0.0.1 - - ["), "{line}");
        assert!(line.ends_with("\" 200 33 \"-\" \"-\""), "{line}");
    }
}

#[test]
fn error_log_receives_the_servers_own_lines_like_nginx() {
    let s = setup("error_log.conf");
    let reqs = [get("/deny/a"), get("/ok/a")];
    let path = s.dir.path().join("err.log");
    let read_log = |what: &str| {
        // tollgate's writer flushes as soon as its queue is empty.
        for _ in 0..100 {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            if text.contains("access forbidden by rule") {
                return text;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("{what}: no access line in {path:?}");
    };
    let n = {
        let _p = Proc::nginx(s.dir.path(), &s.conf, s.port);
        let r: Vec<u16> = reqs.iter().map(|q| send(s.port, q).status).collect();
        (r, read_log("nginx"))
    };
    std::fs::remove_file(&path).unwrap();
    wait_port_free(s.port);
    let _p = Proc::tollgate(s.dir.path(), &s.conf, s.port);
    let t: Vec<u16> = reqs.iter().map(|q| send(s.port, q).status).collect();
    assert_eq!(t, n.0);
    let text = read_log("tollgate");
    // nginx's shape: "YYYY/MM/DD HH:MM:SS [error] PID#0: ...".
    let line = text
        .lines()
        .find(|l| l.contains("access forbidden by rule"))
        .unwrap();
    let shape = regex::Regex::new(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[error\] \d+#0: ").unwrap();
    assert!(shape.is_match(line), "{line}");
    assert!(!text.contains("[info]"), "{text}");
}

/// Status, Location and body of `GET https://127.0.0.1:port/target` over HTTP/1.1 (curl,
/// certificate not verified).
fn curl_tls(port: u16, target: &str) -> (u16, Option<String>, String) {
    let out = std::process::Command::new("curl")
        .args(["-sk", "--http1.1", "-D", "-", "--max-time", "10"])
        .arg(format!("https://127.0.0.1:{port}{target}"))
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let location = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("Location: ")
                .or_else(|| l.strip_prefix("location: "))
        })
        .map(str::to_owned);
    (status, location, body.to_owned())
}

#[test]
fn tls_listen_serves_like_nginx() {
    let s = setup("tls.conf");
    let made = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=localhost",
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
        ])
        .current_dir(s.dir.path())
        .output()
        .expect("openssl req");
    assert!(made.status.success(), "{made:?}");
    let targets = ["/s", "/r?a=1", "/p/x"];
    let n: Vec<_> = {
        let _p = Proc::nginx(s.dir.path(), &s.conf, s.port);
        targets.iter().map(|t| curl_tls(s.port, t)).collect()
    };
    wait_port_free(s.port);
    let _p = Proc::tollgate(s.dir.path(), &s.conf, s.port);
    let t: Vec<_> = targets.iter().map(|t| curl_tls(s.port, t)).collect();
    assert_eq!(n[0], (200, None, "scheme https\n".to_owned()));
    let port = s.port;
    assert_eq!(n[1].1, Some(format!("https://127.0.0.1:{port}/target")));
    assert!(n[2].2.contains("\"https\""), "{:?}", n[2]);
    for (a, b) in n.iter().zip(&t) {
        assert_eq!((a.0, &a.1), (b.0, &b.1));
    }
    assert_eq!(t[0].2, n[0].2);
    assert!(t[2].2.contains("\"https\""), "{:?}", t[2]);
}
