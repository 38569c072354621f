//! Parser cases: nginx's diagnostics (texts and lines verified against nginx 1.22.1 `-t`) on
//! in-memory files.

use super::*;
use crate::nginx::fs::MemFs;

const EV: &str = "events {}\n";

fn check(files: &[(&str, &str)]) -> Result<Config, String> {
    let mut fs = MemFs::new();
    for (p, c) in files {
        fs.add(p, *c);
    }
    let opts = Options::new("/etc/ng/nginx.conf", "/", None);
    parse(&fs, &opts).map_err(|d| d.to_string())
}

fn err(conf: &str) -> String {
    check(&[("/etc/ng/nginx.conf", conf)]).unwrap_err()
}

fn ok(conf: &str) -> Config {
    check(&[("/etc/ng/nginx.conf", conf)]).unwrap()
}

const F: &str = "/etc/ng/nginx.conf";

#[test]
fn accepts_a_reverse_proxy() {
    let c = ok("events { worker_connections 64; }\nhttp {\n upstream b { server 127.0.0.1:1 weight=2; keepalive 8; }\n server {\n  listen 8080;\n  location / { proxy_pass http://b; proxy_buffering off; }\n }\n}\n");
    assert_eq!(c.root.len(), 2);
    let http = c.root[1].block.as_ref().unwrap();
    assert_eq!(http[1].name, "server");
    assert_eq!(http[1].line, 4);
}

#[test]
fn dispatch_diagnostics() {
    assert_eq!(
        err("events {}\nhttp { proxy_passs x; }"),
        format!("unknown directive \"proxy_passs\" in {F}:2")
    );
    assert_eq!(
        err("events {}\nhttp { server { upstream u {} } }"),
        format!("\"upstream\" directive is not allowed here in {F}:2")
    );
    assert_eq!(
        err("events {}\nhttp { gzip; }"),
        format!("invalid number of arguments in \"gzip\" directive in {F}:2")
    );
    assert_eq!(
        err("events {}\nhttp { gzip on {} }"),
        format!("directive \"gzip\" is not terminated by \";\" in {F}:2")
    );
    assert_eq!(
        err("events {}\nhttp;"),
        format!("directive \"http\" has no opening \"{{\" in {F}:2")
    );
}

#[test]
fn structure_diagnostics() {
    assert_eq!(err("events {}\n}"), format!("unexpected \"}}\" in {F}:2"));
    assert_eq!(
        err("events {}\nhttp {\n"),
        format!("unexpected end of file, expecting \"}}\" in {F}:3")
    );
    assert_eq!(err("http {}"), "no \"events\" section in configuration");
    assert_eq!(
        err("events {}\nevents {}"),
        format!("\"events\" directive is duplicate in {F}:2")
    );
}

#[test]
fn value_and_duplicate_diagnostics() {
    let h = |body: &str| err(&format!("{EV}http {{\n{body}\n}}"));
    assert_eq!(
        h("proxy_read_timeout 1s;\nproxy_read_timeout 2s;"),
        format!("\"proxy_read_timeout\" directive is duplicate in {F}:4")
    );
    assert_eq!(
        h("proxy_read_timeout 10x;"),
        format!("\"proxy_read_timeout\" directive invalid value in {F}:3")
    );
    assert_eq!(
        h("client_max_body_size 10mb;"),
        format!("\"client_max_body_size\" directive invalid value in {F}:3")
    );
    assert_eq!(
        h("proxy_buffering maybe;"),
        format!("invalid value \"maybe\" in \"proxy_buffering\" directive, it must be \"on\" or \"off\" in {F}:3")
    );
    assert_eq!(
        h("server { location / { root /a; alias /b; } }"),
        format!(
            "\"alias\" directive is duplicate, \"root\" directive was specified earlier in {F}:3"
        )
    );
    assert_eq!(
        h("server { return 1000; }"),
        format!("invalid return code \"1000\" in {F}:3")
    );
    assert_eq!(
        h("server { rewrite ^ / forever; }"),
        format!("invalid parameter \"forever\" in {F}:3")
    );
    assert_eq!(
        h("upstream a { server x; }\nupstream A { server y; }"),
        format!("duplicate upstream \"A\" in {F}:4")
    );
    assert_eq!(
        h("upstream a {\n}"),
        format!("no servers are inside upstream in {F}:4")
    );
    // Lists accumulate; the same scalar at another level is inheritance, not a duplicate.
    ok(&format!("{EV}http {{ proxy_read_timeout 1s; add_header a b; add_header c d; server {{ proxy_read_timeout 2s; }} }}"));
}

#[test]
fn location_diagnostics() {
    let s = |body: &str| err(&format!("{EV}http {{ server {{\n{body}\n}} }}"));
    assert_eq!(
        s("location ~~ /a {}"),
        format!("invalid location modifier \"~~\" in {F}:3")
    );
    assert_eq!(
        s("location /a/ { location /b/ {} }"),
        format!("location \"/b/\" is outside location \"/a/\" in {F}:3")
    );
    assert_eq!(
        s("location = /a { location /a/b {} }"),
        format!("location \"/a/b\" cannot be inside the exact location \"/a\" in {F}:3")
    );
    assert_eq!(
        s("location /a { location @n {} }"),
        format!("named location \"@n\" can be on the server level only in {F}:3")
    );
    assert_eq!(
        s("location /a {}\nlocation = /a {}\nlocation ^~ /a {}"),
        format!("duplicate location \"/a\" in {F}:5")
    );
    // Nested regexes need not start with the parent's prefix.
    ok(&format!(
        "{EV}http {{ server {{ location /a/ {{ location ~ \\.json$ {{}} }} }} }}"
    ));
}

#[test]
fn includes_resolve_against_the_conf_prefix_and_glob_sorted() {
    let c = check(&[
        (
            F,
            "events {}\nhttp {\n include conf.d/*.conf;\n include mime.types;\n}",
        ),
        ("/etc/ng/conf.d/b.conf", "server { listen 2; }"),
        (
            "/etc/ng/conf.d/a.conf",
            "server { listen 1; include snippets/x; }",
        ),
        ("/etc/ng/conf.d/.hidden.conf", "bogus;"),
        ("/etc/ng/snippets/x", "location / {}"),
        ("/etc/ng/mime.types", "types { text/html html htm; }"),
    ])
    .unwrap();
    let paths: Vec<&str> = c.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            F,
            "/etc/ng/conf.d/a.conf",
            "/etc/ng/snippets/x",
            "/etc/ng/conf.d/b.conf",
            "/etc/ng/mime.types"
        ]
    );
    // A glob matching nothing is fine; a missing file is not.
    ok(&format!("{EV}include none/*.conf;"));
    assert_eq!(
        err(&format!("{EV}include missing.conf;")),
        format!("open() \"/etc/ng/missing.conf\" failed (2: No such file or directory) in {F}:2")
    );
    // Errors inside an included file name that file.
    let e = check(&[
        (F, "events {}\nhttp { include x.conf; }"),
        ("/etc/ng/x.conf", "\nbad;"),
    ])
    .unwrap_err();
    assert_eq!(e, "unknown directive \"bad\" in /etc/ng/x.conf:2");
    let e = check(&[
        (F, "events {}\nhttp { include x.conf; }"),
        ("/etc/ng/x.conf", "}"),
    ])
    .unwrap_err();
    assert_eq!(e, "unexpected \"}\" in /etc/ng/x.conf:1");
}

#[test]
fn handler_blocks_take_entries() {
    ok(&format!("{EV}http {{ map $http_upgrade $c {{ default upgrade; '' close; hostnames; }} types {{ a/b c d; }} }}"));
    assert_eq!(
        err(&format!("{EV}http {{ map $a $b {{ x {{ }} }} }}")),
        format!("unexpected \"{{\" in {F}:2")
    );
    assert_eq!(
        err(&format!("{EV}http {{ map $a $b {{ x y z; }} }}")),
        format!("invalid number of the map parameters in {F}:2")
    );
}

#[test]
fn globals_parse_first_in_the_main_context() {
    let mut fs = MemFs::new();
    fs.add(F, "events {}\npid /b;");
    let opts = Options::new(F, "/", Some("pid /a;".to_owned()));
    assert_eq!(
        parse(&fs, &opts).unwrap_err().to_string(),
        format!("\"pid\" directive is duplicate in {F}:2")
    );
    let opts = Options::new(F, "/", Some("worker_processes".to_owned()));
    assert_eq!(
        parse(&fs, &opts).unwrap_err().to_string(),
        "unexpected end of parameter, expecting \";\" in command line"
    );
    let opts = Options::new(F, "/", Some("events {}".to_owned()));
    assert_eq!(
        parse(&fs, &opts).unwrap_err().to_string(),
        "block directives are not supported in -g option in command line"
    );
}

#[test]
fn relative_conf_names_use_the_prefix() {
    let o = Options::new("nginx.conf", "/srv/x/", None);
    assert_eq!(o.conf_file, "/srv/x/nginx.conf");
    assert_eq!(o.conf_prefix, "/srv/x/");
}

#[test]
fn include_cycles_and_deep_nesting_are_errors_not_crashes() {
    let e = check(&[
        (F, "events {}\ninclude a.conf;"),
        ("/etc/ng/a.conf", "\ninclude nginx.conf;"),
    ])
    .unwrap_err();
    assert_eq!(
        e,
        format!("include cycle: \"{F}\" is already being read in /etc/ng/a.conf:2")
    );
    let deep = format!(
        "events {{}}\nhttp {{ server {{ {} }} }}",
        "location /a { ".repeat(300)
    );
    assert!(err(&deep).starts_with("blocks nested more than 200 deep"));
}

/// A cheap stand-in for fuzzing on stable: every prefix of every corpus file, and copies with
/// bytes flipped, must parse to a result (never panic).
#[test]
fn mangled_corpus_files_never_panic() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/nginx/corpus");
    let mut files = Vec::new();
    for dir in ["ok", "broken"] {
        for entry in std::fs::read_dir(format!("{root}/{dir}")).unwrap() {
            let path = entry.unwrap().path();
            let main = if path.is_dir() {
                path.join("nginx.conf")
            } else {
                path
            };
            files.push(std::fs::read(main).unwrap());
        }
    }
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    const NASTY: &[u8] = b"{};\\\"'#$ \n()*";
    for content in &files {
        for cut in (0..content.len()).step_by(7) {
            let mut fs = MemFs::new();
            fs.add(F, &content[..cut]);
            let _ = parse(&fs, &Options::new(F, "/", None));
        }
        for _ in 0..50 {
            let mut mangled = content.clone();
            for _ in 0..3 {
                if mangled.is_empty() {
                    break;
                }
                let at = (next() as usize) % mangled.len();
                mangled[at] = NASTY[(next() as usize) % NASTY.len()];
            }
            let mut fs = MemFs::new();
            fs.add(F, mangled);
            let _ = parse(&fs, &Options::new(F, "/", None));
        }
    }
}
