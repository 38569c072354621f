//! The CLI on nginx configurations: format detection, `-t`/`-T` output, `-p`/`-g`, and the
//! refusal to serve a configuration using a directive that is not implemented. `-g` is also compared with the
//! real nginx (Debian's 1.22.1 at /usr/sbin/nginx).

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use common::TOLLGATE;

const NGINX: &str = "/usr/sbin/nginx";

const PROXY: &str = "events {}\nhttp {\n    server {\n        listen 8080;\n        location / { proxy_pass http://127.0.0.1:9000; }\n    }\n}\n";

fn tollgate(args: &[&str]) -> Output {
    Command::new(TOLLGATE)
        .args(args)
        .output()
        .expect("run tollgate")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn write(dir: &Path, name: &str, content: &str) -> String {
    let path = dir.join(name);
    fs::write(&path, content).unwrap();
    path.display().to_string()
}

#[test]
fn test_flag_prints_nginx_shaped_success() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "nginx.conf", PROXY);
    let out = tollgate(&["-t", "-c", &file]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        format!(
            "tollgate: the configuration file {file} syntax is ok\n\
             tollgate: configuration file {file} test is successful\n"
        )
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn test_flag_prints_the_first_emerg_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "site.conf",
        "events {}\nhttp {\n  proxy_passs x;\n}\n",
    );
    let out = tollgate(&["-t", "-c", &file]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!(
            "tollgate: [emerg] unknown directive \"proxy_passs\" in {file}:3\n\
             tollgate: configuration file {file} test failed\n"
        )
    );
}

#[test]
fn dump_flag_prints_every_file_like_nginx() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("conf.d")).unwrap();
    let main = write(
        dir.path(),
        "nginx.conf",
        "events {}\nhttp { include conf.d/*.conf; }",
    );
    let part = write(dir.path(), "conf.d/a.conf", "server { listen 8080; }\n");
    let out = tollgate(&["-T", "-c", &main]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!(
            "# configuration file {main}:\nevents {{}}\nhttp {{ include conf.d/*.conf; }}\n\
             # configuration file {part}:\nserver {{ listen 8080; }}\n\n"
        )
    );
}

#[test]
fn relative_conf_is_taken_from_the_prefix() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "nginx.conf", PROXY);
    let prefix = dir.path().display().to_string();
    let out = tollgate(&["-t", "-p", &prefix, "-c", "nginx.conf"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!("{prefix}/nginx.conf syntax is ok")));
}

#[test]
fn running_an_nginx_config_refuses_and_names_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let unimplemented = PROXY.replace(
        "listen 8080;",
        "listen 8080;\n        proxy_cache_valid 200 10m;",
    );
    let file = write(dir.path(), "nginx.conf", &unimplemented);
    let out = tollgate(&["-c", &file]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.starts_with("tollgate: [emerg] \"proxy_cache_valid\" directive is not implemented yet"),
        "{err}"
    );
    assert!(err.contains(&format!("in {file}:5")), "{err}");
    // An implemented directive in a form that is not: refused by lowering, with file:line.
    let https = PROXY.replace(
        "http://127.0.0.1:9000;",
        "https://127.0.0.1:9000; proxy_ssl_ciphers HIGH;",
    );
    let file = write(dir.path(), "https.conf", &https);
    let out = tollgate(&["-c", &file]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("\"proxy_ssl_ciphers\" other than DEFAULT is not implemented yet"),
        "{err}"
    );
    assert!(err.contains(&format!("in {file}:5")), "{err}");
    // Only no-op directives: still refused, never a silent success.
    let file = write(dir.path(), "tiny.conf", "worker_processes 1;\nevents {}\n");
    let out = tollgate(&["-c", &file]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("[emerg] no \"http\" block: there is nothing to serve"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn format_is_detected_or_forced() {
    let dir = tempfile::tempdir().unwrap();
    // No .conf suffix: the content decides.
    let sniffed = write(dir.path(), "nginx.cfg", PROXY);
    let out = tollgate(&["-t", "-c", &sniffed]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("syntax is ok"));
    // Forced nginx on a name that says nothing.
    let forced = write(dir.path(), "site", PROXY);
    let out = tollgate(&["-t", "--format", "nginx", "-c", &forced]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Forced YAML on a .conf file: the YAML loader answers.
    let out = tollgate(&["-t", "--format", "yaml", "-c", &forced]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!stderr(&out).contains("syntax is ok"), "{}", stderr(&out));
    // A missing .conf file gets nginx's open() message.
    let missing = dir.path().join("missing.conf").display().to_string();
    let out = tollgate(&["-t", "-c", &missing]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!(
            "[emerg] open() \"{missing}\" failed (2: No such file or directory)\n"
        )),
        "{}",
        stderr(&out)
    );
}

/// `-g` against the real nginx: same verdict and same first `[emerg]`.
#[test]
fn globals_match_nginx() {
    assert!(
        Path::new(NGINX).exists(),
        "{NGINX} is missing (`make test` installs nginx)"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "nginx.conf",
        "events {}\npid /tmp/tollgate-never-written.pid;\n",
    );
    let prefix = format!("{}/", dir.path().display());
    for globals in [
        "worker_processes 2;",
        "worker_processes 2; daemon off; master_process off;",
        "pid /tmp/other.pid;",
        "worker_processes",
        "events {}",
        "unknown_global 1;",
        "daemon maybe;",
    ] {
        let args = ["-t", "-p", &prefix, "-c", &file, "-g", globals];
        let n = Command::new(NGINX).args(args).output().unwrap();
        let t = tollgate(&args);
        assert_eq!(
            n.status.code(),
            t.status.code(),
            "-g {globals:?}\n{}\n{}",
            stderr(&n),
            stderr(&t)
        );
        let emerg = |out: &Output| {
            stderr(out)
                .lines()
                .find_map(|l| l.split_once("[emerg] ").map(|(_, m)| m.to_owned()))
                .map(|m| {
                    m.split_once(": ")
                        .filter(|(pid, _)| pid.contains('#'))
                        .map_or(m.clone(), |(_, r)| r.to_owned())
                })
        };
        assert_eq!(emerg(&n), emerg(&t), "-g {globals:?}");
    }
}

/// The shipped nginx example: accepted by nginx and by tollgate.
#[test]
fn shipped_nginx_example_is_valid_for_both() {
    assert!(
        Path::new(NGINX).exists(),
        "{NGINX} is missing (`make test` installs nginx)"
    );
    let file = common::repo_root()
        .join("conf/nginx-llm.conf")
        .display()
        .to_string();
    let n = Command::new(NGINX)
        .args(["-t", "-c", &file])
        .output()
        .unwrap();
    assert_eq!(n.status.code(), Some(0), "nginx: {}", stderr(&n));
    let t = tollgate(&["-t", "-c", &file]);
    assert_eq!(t.status.code(), Some(0), "tollgate: {}", stderr(&t));
}

/// `-q` against the real nginx: silence on success, the error and "test failed" otherwise.
#[test]
fn quiet_flag_matches_nginx() {
    assert!(
        Path::new(NGINX).exists(),
        "{NGINX} is missing (`make test` installs nginx)"
    );
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "good.conf", PROXY);
    let bad = write(dir.path(), "bad.conf", "events {}\nhttp { gzip maybe; }\n");
    for file in [&good, &bad] {
        let n = Command::new(NGINX)
            .args(["-t", "-q", "-c", file])
            .output()
            .unwrap();
        let t = tollgate(&["-t", "-q", "-c", file]);
        assert_eq!(n.status.code(), t.status.code(), "{file}");
        let lines = |out: &Output| {
            stderr(out)
                .lines()
                .map(|l| match l.split_once("[emerg] ") {
                    Some((_, m)) => format!(
                        "[emerg] {}",
                        m.split_once(": ")
                            .filter(|(p, _)| p.contains('#'))
                            .map_or(m, |(_, r)| r)
                    ),
                    None => l.replacen("nginx: ", "", 1).replacen("tollgate: ", "", 1),
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(lines(&n), lines(&t), "{file}");
    }
}
