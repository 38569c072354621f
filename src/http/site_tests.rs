use super::*;
use crate::http::forward::upstream_target;
use crate::nginx::{MemFs, Options};

fn site(http: &str) -> Site {
    let mut fs = MemFs::new();
    fs.add(
        "/t/nginx.conf",
        format!("events {{}}\nhttp {{\n{http}\n}}\n"),
    );
    let opts = Options::new("/t/nginx.conf", "/", None);
    let config = crate::nginx::parse(&fs, &opts).unwrap();
    crate::http::lower(&config).unwrap()
}

fn route(site: &Site, target: &str, host: Option<&str>) -> (Decision, Request) {
    let (path, args) = crate::http::uri::split_target(target);
    let mut req = Request {
        method: "GET".into(),
        request_uri: target.into(),
        uri: crate::http::uri::normalize(path).unwrap(),
        args: args.unwrap_or("").into(),
        local: Some("127.0.0.1:8080".parse().unwrap()),
        remote: Some("127.0.0.1:40000".parse().unwrap()),
        ..Request::default()
    };
    let headers = HeaderMap::new();
    let d = site.route(&mut req, &headers, host);
    (d, req)
}

fn answer(site: &Site, target: &str) -> String {
    match route(site, target, Some("x")).0.action {
        Action::Reply(r) => format!("{} {}", r.status, r.body.or(r.location).unwrap_or_default()),
        Action::Proxy(_) => "proxy".into(),
        Action::Static => "static".into(),
    }
}

const LOCATIONS: &str = r#"server {
    listen 8080;
    location = / { return 200 "exact"; }
    location / { return 200 "root"; }
    location /documents/ { return 200 "documents"; }
    location ^~ /images/ { return 200 "images"; }
    location ~* \.(gif|jpg|jpeg)$ { return 200 "ext"; }
    location ~ ^/documents/special { return 200 "special"; }
    location /api/ {
        return 200 "api";
        location ~ \.json$ { return 200 "api-json"; }
        location /api/v1/ { return 200 "api-v1"; }
    }
    location ~ \.json$ { return 200 "json"; }
    location ^~ /static/ { location ~ \.css$ { return 200 "static-css"; } return 200 "static"; }
    location /Case/ { return 200 "Case"; }
    location /h/ { proxy_pass http://127.0.0.1:9/; }
}"#;

#[test]
fn location_search_matches_nginx() {
    let s = site(LOCATIONS);
    let table = [
        ("/", "200 exact"),
        ("/index.html", "200 root"),
        ("/documents/1.jpg", "200 ext"),
        ("/documents/x", "200 documents"),
        ("/documents/special/x", "200 special"),
        ("/images/1.gif", "200 images"),
        ("/x/1.GIF", "200 ext"),
        ("/api/x.json", "200 api-json"),
        ("/api/v1/x.json", "200 api-json"),
        ("/api/v1/x", "200 api-v1"),
        ("/other/x.json", "200 json"),
        ("/static/a.css", "200 static-css"),
        ("/static/a.js", "200 static"),
        ("/Case/x", "200 Case"),
        ("/case/x", "200 root"),
        ("//documents//doc.html", "200 documents"),
        ("/a/%2e%2e/documents/x", "200 documents"),
        ("/h", "301 /h/"),
        ("/h?a=1", "301 /h/?a=1"),
        ("/h/x", "proxy"),
    ];
    for (target, want) in table {
        assert_eq!(answer(&s, target), want, "{target}");
    }
}

const PROXY_PASS: &str = r#"server {
    listen 8080;
    location /a/ { proxy_pass http://127.0.0.1:9/x/; }
    location /b { proxy_pass http://127.0.0.1:9/; }
    location /c/ { proxy_pass http://127.0.0.1:9; }
    location /d/ { rewrite ^/d/(.*)$ /rewritten/$1 break; proxy_pass http://127.0.0.1:9; }
    location /e/ { proxy_pass http://127.0.0.1:9$request_uri; }
    location ~ ^/f/(.*)$ { proxy_pass http://127.0.0.1:9/g/$1$is_args$args; }
    location = /i { proxy_pass http://127.0.0.1:9/exact; }
    location /j/ { rewrite ^/j/(.*)$ /a/$1 last; }
    location /k/ { rewrite ^/k/(.*)$ /kk/$1 break; proxy_pass http://127.0.0.1:9/base/; }
}"#;

#[test]
fn proxy_pass_uri_table_matches_nginx() {
    let s = site(PROXY_PASS);
    let table = [
        ("/a/foo?q=1", "/x/foo?q=1"),
        ("/a/foo%20bar", "/x/foo%20bar"),
        ("/a/../a/./x//y", "/x/x/y"),
        ("/b/foo", "//foo"),
        ("/bfoo", "/foo"),
        ("/c/a//b/../c", "/c/a//b/../c"),
        ("/c/%7Efoo", "/c/%7Efoo"),
        ("/d/foo?z=1", "/rewritten/foo?z=1"),
        ("/e/any?y=2", "/e/any?y=2"),
        ("/f/abc?k=v", "/g/abc?k=v"),
        ("/i", "/exact"),
        ("/j/z?w=1", "/x/z?w=1"),
        ("/k/p?q=2", "/kk/p?q=2"),
    ];
    for (target, want) in table {
        let (d, req) = route(&s, target, Some("x"));
        let Action::Proxy(state) = d.action else {
            panic!("{target}: {:?}", d.action)
        };
        let pp = d.conf.proxy.as_ref().unwrap();
        let got = upstream_target(&d.conf, pp, &req, &HeaderMap::new(), &state);
        assert_eq!(got, want, "{target}");
    }
}

#[test]
fn server_selection_uses_names_then_default_server() {
    let s = site(
        r#"server { listen 8080; server_name a.test; return 200 "a"; }
        server { listen 8080 default_server; server_name b.test; return 200 "b"; }
        server { listen 8080; server_name *.w.test; return 200 "w"; }
        server { listen 8080; server_name ~^re\d+\.test$; return 200 "re"; }"#,
    );
    let table = [
        (Some("A.TEST:8080"), "a"),
        (Some("x.w.test"), "w"),
        (Some("re7.test"), "re"),
        (Some("other.test"), "b"),
        (None, "b"),
    ];
    for (host, want) in table {
        let Action::Reply(r) = route(&s, "/", host).0.action else {
            panic!()
        };
        assert_eq!(r.body.as_deref(), Some(want), "{host:?}");
    }
    let Action::Reply(r) = route(&s, "/", Some("a..b")).0.action else {
        panic!()
    };
    assert_eq!(r.status, 400);
}

#[test]
fn rewrite_flags_and_loops() {
    let s = site(
        r#"server {
        listen 8080;
        location /p { rewrite ^ /q permanent; }
        location /r { rewrite ^/r(.*)$ http://other.test/s$1; }
        location /loop { rewrite ^ /loop last; }
        location /q { set $v "got-$arg_a"; return 200 $v; }
        location /t { rewrite ^/t(.*)$ /q$1?a=new; }
        location /big { client_max_body_size 1k; proxy_pass http://127.0.0.1:9; }
    }"#,
    );
    assert_eq!(answer(&s, "/p"), "301 /q");
    assert_eq!(answer(&s, "/r/x?k=1"), "302 http://other.test/s/x?k=1");
    assert_eq!(answer(&s, "/loop"), "500 ");
    assert_eq!(answer(&s, "/q?a=1"), "200 got-1");
    assert_eq!(answer(&s, "/t?b=2"), "200 got-new");
}

fn lower_error(http: &str) -> String {
    let mut fs = MemFs::new();
    fs.add(
        "/t/nginx.conf",
        format!("events {{}}\nhttp {{\n{http}\n}}\n"),
    );
    let opts = Options::new("/t/nginx.conf", "/", None);
    let config = crate::nginx::parse(&fs, &opts).unwrap();
    crate::http::lower(&config).unwrap_err().to_string()
}

#[test]
fn without_access_log_nginx_logs_combined_to_debians_compiled_in_path() {
    let s = site("server {\n listen 8080;\n location /off/ { access_log off; }\n}");
    assert_eq!(s.logs.access, ["/var/log/nginx/access.log"]);
    let (d, _) = route(&s, "/x", Some("x"));
    assert_eq!(d.conf.access_logs.len(), 1);
    let (d, _) = route(&s, "/off/x", Some("x"));
    assert!(d.conf.access_logs.is_empty());
    let s = site("access_log off;\nserver {\n listen 8080;\n}");
    assert!(s.logs.access.is_empty());
}

#[test]
fn access_logs_inherit_per_level_and_resolve_against_the_prefix() {
    let s = site(
        "log_format f '$status';\naccess_log a.log;\nerror_log /e.log warn;\nserver {\n listen 8080;\n location /own/ { access_log /b.log f; access_log a.log; }\n location /off/ { access_log off; }\n location /inh/ { }\n}",
    );
    assert_eq!(s.logs.access, ["/a.log", "/b.log"]);
    assert_eq!(
        s.logs.error,
        Some(("/e.log".into(), log::LevelFilter::Warn))
    );
    let files = |t: &str| -> Vec<(usize, String)> {
        let (d, _) = route(&s, t, Some("x"));
        d.conf
            .access_logs
            .iter()
            .map(|l| (l.file, l.format.name.clone()))
            .collect()
    };
    assert_eq!(
        files("/own/x"),
        [(1, "f".to_owned()), (0, "combined".to_owned())]
    );
    assert_eq!(files("/off/x"), []);
    assert_eq!(files("/inh/x"), [(0, "combined".to_owned())]);
}

#[test]
fn https_proxy_pass_defaults_to_443_and_shares_tls_settings() {
    let s = site(
        "proxy_ssl_server_name on;\nserver {\n listen 8080;\n location /a/ { proxy_pass https://a.test; }\n location /b/ { proxy_pass https://a.test:443/x/; }\n location /c/ { proxy_pass https://a.test:8443; }\n location /d/ { proxy_pass http://a.test; }\n}",
    );
    let pass = |t: &str| route(&s, t, Some("x")).0.conf.proxy.clone().unwrap();
    let (a, b, c, d) = (pass("/a/"), pass("/b/"), pass("/c/"), pass("/d/"));
    assert_eq!((a.proxy_host.as_str(), a.proxy_port), ("a.test", 443));
    assert_eq!((c.proxy_host.as_str(), c.proxy_port), ("a.test:8443", 8443));
    assert_eq!(
        (a.tls, b.tls, c.tls, d.tls),
        (Some(0), Some(0), Some(0), None)
    );
    assert_eq!(a.upstream, b.upstream);
    assert_eq!(s.upstream_tls.len(), 1);
    assert_eq!(s.upstream_tls[0].sni.as_deref(), Some("a.test"));
}

#[test]
fn lowering_refusals_name_file_and_line() {
    let table = [
        (
            "ssl_protocols TLSv1.2;\nserver {\n listen 8080;\n}",
            "\"ssl_protocols\" without both TLSv1.2 and TLSv1.3 is not implemented yet (rustls offers exactly those) in /t/nginx.conf:3",
        ),
        (
            "server {\n listen 8080;\n location / { proxy_pass https://a.test; proxy_ssl_verify on; proxy_ssl_trusted_certificate ca.pem; }\n}",
            "\"proxy_ssl_verify on\" without \"proxy_ssl_server_name on\" is not implemented yet (tollgate verifies the name it sends as SNI) in /t/nginx.conf:5",
        ),
        (
            "server {\n listen 8080;\n location / {\n proxy_ssl_ciphers HIGH;\n proxy_pass https://a.test; }\n}",
            "\"proxy_ssl_ciphers\" other than DEFAULT is not implemented yet (rustls' cipher suites are used) in /t/nginx.conf:6",
        ),

        (
            "server {\n listen 8080;\n location / {\n if (-f $uri) { return 200; }\n }\n}",
            "\"if\" condition \"-f $uri\" is not implemented yet (file tests -f/-d/-e/-x) in /t/nginx.conf:6",
        ),
        (
            "server {\n listen 8080;\n location / { proxy_redirect http://a/ /b/; proxy_pass http://127.0.0.1:9; }\n}",
            "\"proxy_redirect\" with explicit replacements is not implemented yet in /t/nginx.conf:5",
        ),
        (
            "server {\n listen 8080;\n return 200 $request_time;\n}",
            "variable \"$request_time\" is not implemented yet in /t/nginx.conf:5",
        ),
        (
            "upstream u { server 127.0.0.1:9 max_conns=3; }\nserver { listen 8080; }",
            "upstream server parameter \"max_conns=3\" is not implemented yet in /t/nginx.conf:3",
        ),
        (
            "server {\n listen 8080;\n access_log syslog:server=127.0.0.1;\n}",
            "\"access_log\" to \"syslog:server=127.0.0.1\" is not implemented yet (files and stderr only) in /t/nginx.conf:5",
        ),
        (
            "server {\n listen 8080;\n access_log /tmp/$host.log;\n}",
            "\"access_log\" with variables in the file name is not implemented yet in /t/nginx.conf:5",
        ),
        (
            "server {\n listen 8080;\n access_log /tmp/a.log combined gzip=1;\n}",
            "access_log parameter \"gzip=1\" is not implemented yet in /t/nginx.conf:5",
        ),
        (
            "server {\n listen 8080;\n location /u/ { proxy_pass http://127.0.0.1:9; }\n location /p/ {\n  error_page 502 /u/x;\n  proxy_pass http://127.0.0.1:9;\n }\n}",
            "\"error_page\" to \"/u/x\", a proxied location, for a status that arises after proxying is not implemented yet (a static file, \"return\" or a named location with \"return\" works) in /t/nginx.conf:7",
        ),
        (
            "server {\n listen 8080;\n location / { autoindex on; }\n}",
            "\"autoindex on\" is not implemented yet (directory listings) in /t/nginx.conf:5",
        ),
        (
            "server {\n listen 8080;\n error_log /tmp/e.log;\n}",
            "\"error_log\" inside \"server\" or \"location\" is not implemented yet (main and http levels only) in /t/nginx.conf:5",
        ),
    ];
    for (conf, want) in table {
        assert_eq!(lower_error(conf), want);
    }
}
