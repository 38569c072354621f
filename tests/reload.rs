//! Reload and process control: `-s reload` (SIGHUP) hands the listeners to a new process
//! running the new configuration while requests keep flowing and a stream started before the
//! reload finishes on the old one; a bad configuration changes nothing; `-s quit` stops the
//! new process and removes its pid file; nginx's `-s` messages.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{client, run_cli, sse_data, standard_config, start_gateway, start_mock_with, KEY_ALL};
use futures_util::StreamExt;
use serde_json::json;
use tokio::time::Instant;

/// Kills whatever process the pid file names when dropped: a reload's successor is not a
/// child of the test, so the harness's own cleanup does not reach it.
struct KillByPidFile(PathBuf);

impl Drop for KillByPidFile {
    fn drop(&mut self) {
        if let Some(pid) = read_pid(&self.0) {
            let _ = std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status();
        }
    }
}

fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn alive(pid: u32) -> bool {
    // A zombie (exited, not reaped yet) counts as gone.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(false)
}

async fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    done()
}

async fn models(url: &str) -> Option<String> {
    let r = client()
        .get(url)
        .header("authorization", format!("Bearer {KEY_ALL}"))
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .ok()?;
    r.text().await.ok()
}

/// pingora drops a connection still waiting for its first request when the old process stops
/// (pingora-proxy's `handle_new_request` races the read with the shutdown notice): a client
/// that connected in the last instant before the old process stopped accepting, and whose
/// request bytes had not arrived yet, sees a reset or an empty answer. The request was never
/// read, so it is safe to retry, and the load loops do, once. Measured here: 0 to 2 in about
/// 8,000 fresh connections per reload. The tests allow at most 1 in 500 and no other failure.
fn allowed_drops(total: usize) -> usize {
    (total / 500).max(3)
}

/// Requests on fresh connections (no keep-alive, so every one goes through accept) until
/// `stop`; counts successes and failures.
fn spawn_load(
    url: String,
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
    dropped: Arc<AtomicUsize>,
) -> tokio::task::JoinHandle<Vec<String>> {
    tokio::spawn(async move {
        let c = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let mut errors = Vec::new();
        let send = || {
            c.post(&url)
                .header("authorization", format!("Bearer {KEY_ALL}"))
                .json(&json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}))
                .send()
        };
        // Bounded whatever happens.
        for _ in 0..2000 {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let r = match send().await {
                // Closed before the request was read (see `allowed_drops`): retried once.
                Err(e) if e.is_request() => {
                    dropped.fetch_add(1, Ordering::Relaxed);
                    send().await
                }
                r => r,
            };
            match r {
                Ok(r) if r.status() == 200 => {
                    ok.fetch_add(1, Ordering::Relaxed);
                }
                Ok(r) => {
                    failed.fetch_add(1, Ordering::Relaxed);
                    errors.push(format!("status {}", r.status()));
                }
                Err(e) => {
                    failed.fetch_add(1, Ordering::Relaxed);
                    errors.push(e.to_string());
                }
            }
        }
        errors
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reload_under_load_loses_nothing_and_bad_config_changes_nothing() {
    let mock = start_mock_with(tollgate_mock_provider::Options {
        token_interval: Duration::from_millis(40),
        ..Default::default()
    })
    .await;
    let base = standard_config(&mock.base_url()).replace(
        "max_body_size: 1MiB }",
        "max_body_size: 1MiB, pid_file: tollgate.pid }",
    );
    let gw = start_gateway(base.clone()).await;
    let pid_file = gw.dir().join("tollgate.pid");
    let _cleanup = KillByPidFile(pid_file.clone());
    assert_eq!(
        read_pid(&pid_file),
        Some(gw.pid()),
        "pid file names the server"
    );
    let config = gw.config_path.to_str().unwrap().to_owned();

    // A stream of 60 tokens at 40 ms (about 2.4 s) that must outlive the hand-over.
    let words: Vec<String> = (0..60).map(|i| format!("w{i}")).collect();
    let stream = client()
        .post(gw.url("/v1/chat/completions"))
        .header("authorization", format!("Bearer {KEY_ALL}"))
        .json(&json!({"model": "gpt-4o", "stream": true,
            "messages": [{"role": "user", "content": format!("echo: {}", words.join(" "))}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let stream = tokio::spawn(async move {
        let mut body = Vec::new();
        let mut s = stream.bytes_stream();
        while let Ok(Some(chunk)) = tokio::time::timeout(Duration::from_secs(20), s.next()).await {
            body.extend_from_slice(&chunk.expect("stream chunk"));
        }
        String::from_utf8_lossy(&body).into_owned()
    });

    let (stop, ok, failed, dropped) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let load: Vec<_> = (0..4)
        .map(|_| {
            spawn_load(
                gw.url("/v1/chat/completions"),
                Arc::clone(&stop),
                Arc::clone(&ok),
                Arc::clone(&failed),
                Arc::clone(&dropped),
            )
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = ok.load(Ordering::Relaxed);

    // The new configuration serves one more model.
    let with_new_model = base.replace(
        "models:\n",
        "models:\n  gpt-4o-new: { targets: [ { provider: up, model: gpt-4o-2024-08-06 } ] }\n",
    );
    let with_new_model = with_new_model
        .replace("{listen}", &gw.listen)
        .replace("{admin}", &gw.admin);
    std::fs::write(&gw.config_path, &with_new_model).unwrap();
    let out = tokio::task::spawn_blocking({
        let config = config.clone();
        move || run_cli(&["-s", "reload", "-c", &config])
    })
    .await
    .unwrap();
    assert!(out.status.success(), "-s reload: {out:?}");

    let url = gw.url("/v1/models");
    let mut switched = false;
    let deadline = Instant::now() + Duration::from_secs(20);
    while !switched && Instant::now() < deadline {
        switched = models(&url).await.is_some_and(|m| m.contains("gpt-4o-new"));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(switched, "new model never served\n{}", gw.stderr_text());
    let successor = read_pid(&pid_file).expect("pid file after reload");
    assert_ne!(successor, gw.pid(), "the pid file names the new process");

    // Keep the load on until the old process has stopped accepting and exited.
    let old_exit = tokio::task::block_in_place(|| gw.wait_exit(Duration::from_secs(20)));
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let mut errors = Vec::new();
    for l in load {
        errors.extend(l.await.unwrap());
    }
    let total_ok = ok.load(Ordering::Relaxed);
    assert!(
        errors.is_empty(),
        "{} of {} requests failed across the reload: {:?}\n{}",
        errors.len(),
        total_ok + errors.len(),
        &errors[..errors.len().min(5)],
        gw.stderr_text()
    );
    assert!(
        before > 0 && total_ok > before + 10,
        "load ran: {before} then {total_ok}"
    );
    let dropped = dropped.load(Ordering::Relaxed);
    assert!(
        dropped <= allowed_drops(total_ok),
        "{dropped} connections dropped before their request was read (of {total_ok})"
    );
    let old_exit =
        old_exit.unwrap_or_else(|| panic!("old process still running\n{}", gw.stderr_text()));
    assert_eq!(
        old_exit.code(),
        Some(0),
        "old process exit\n{}",
        gw.stderr_text()
    );

    let body = stream.await.unwrap();
    let events = sse_data(&body);
    assert_eq!(
        events.last().map(String::as_str),
        Some("[DONE]"),
        "stream cut: {body}"
    );
    let text: String = events
        .iter()
        .filter_map(|e| serde_json::from_str::<serde_json::Value>(e).ok())
        .filter_map(|v| {
            v["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(
        text.split_whitespace().count(),
        60,
        "every token arrived: {text}"
    );

    // A broken configuration: the reload is refused and the new process keeps serving.
    std::fs::write(&gw.config_path, "listen: [nonsense\n").unwrap();
    let out = tokio::task::spawn_blocking({
        let config = config.clone();
        move || {
            // -s must find the pid file, so it reads the good config; signal by hand instead.
            std::process::Command::new("kill")
                .args(["-HUP", &successor.to_string()])
                .output()
                .map(|o| (o, config))
        }
    })
    .await
    .unwrap()
    .unwrap();
    assert!(out.0.status.success());
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        read_pid(&pid_file),
        Some(successor),
        "no new process for a bad config"
    );
    assert!(alive(successor));
    assert!(models(&url).await.is_some_and(|m| m.contains("gpt-4o-new")));
    assert!(
        gw.stderr_text().contains("reload refused"),
        "{}",
        gw.stderr_text()
    );

    // -s quit stops the new process, which removes its pid file.
    std::fs::write(&gw.config_path, &with_new_model).unwrap();
    let out = tokio::task::spawn_blocking(move || run_cli(&["-s", "quit", "-c", &config]))
        .await
        .unwrap();
    assert!(out.status.success(), "-s quit: {out:?}");
    assert!(
        wait_until(Duration::from_secs(15), || !alive(successor)).await,
        "new process still running after -s quit"
    );
    assert!(
        wait_until(Duration::from_secs(2), || !pid_file.exists()).await,
        "pid file left behind"
    );
}

#[test]
fn signal_errors_are_nginx_messages() {
    let out = run_cli(&["-s", "restart", "-c", "conf/tollgate.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("invalid option: \"-s restart\""),
        "{out:?}"
    );

    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("nginx.conf");
    std::fs::write(
        &conf,
        "events {}\nhttp { server { listen 127.0.0.1:1; return 200; } }\n",
    )
    .unwrap();
    let out = run_cli(&[
        "-s",
        "reload",
        "-c",
        conf.to_str().unwrap(),
        "-p",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let expected = format!(
        "[error] open() \"{}/logs/nginx.pid\" failed (2: No such file or directory)",
        dir.path().display()
    );
    assert!(err.contains(&expected), "{err}");

    // A YAML config without server.pid_file cannot be signalled.
    let out = run_cli(&["-s", "reload", "-c", "conf/tollgate.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("server.pid_file"),
        "{out:?}"
    );
}

/// The same hand-over for an nginx configuration: `-s reload` switches `return` bodies while
/// clients keep connecting, none fails, and `-s stop` ends it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nginx_config_reloads_under_load() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let conf = dir.path().join("nginx.conf");
    let pid_file = dir.path().join("nginx.pid");
    let write = |body: &str| {
        let text = format!(
            "pid {};\nevents {{}}\nhttp {{\n  access_log off;\n  server {{\n    listen 127.0.0.1:{port};\n    \
             location / {{ return 200 \"{body}\"; }}\n  }}\n}}\n",
            pid_file.display()
        );
        std::fs::write(&conf, text).unwrap();
    };
    write("v1");
    let conf_s = conf.to_str().unwrap().to_owned();
    let mut child = std::process::Command::new(common::TOLLGATE)
        .args(["-c", &conf_s, "-p", dir.path().to_str().unwrap()])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("stderr.log")).unwrap())
        .spawn()
        .unwrap();
    let _cleanup = KillByPidFile(pid_file.clone());
    let url = format!("http://127.0.0.1:{port}/");
    let get = |url: String| async move {
        let c = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        match c.get(&url).send().await {
            Ok(r) if r.status() == 200 => r.text().await.map_err(|e| e.to_string()),
            Ok(r) => Err(format!("status {}", r.status())),
            Err(e) => Err(format!("{e:?}")),
        }
    };
    let up = {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut up = false;
        while !up && Instant::now() < deadline {
            up = get(url.clone()).await.is_ok_and(|b| b == "v1");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        up
    };
    assert!(up, "tollgate never served the nginx config");
    assert_eq!(read_pid(&pid_file), Some(child.id()));

    let stop = Arc::new(AtomicBool::new(false));
    let load: Vec<_> = (0..4)
        .map(|_| {
            let (stop, url) = (Arc::clone(&stop), url.clone());
            tokio::spawn(async move {
                let (mut bodies, mut errors, mut dropped) = (Vec::new(), Vec::new(), 0);
                for _ in 0..5000 {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    // A transport error is retried once (see `allowed_drops`).
                    match get(url.clone()).await {
                        Ok(b) => bodies.push(b),
                        Err(e) if e.starts_with("status") => errors.push(e),
                        Err(_) => {
                            dropped += 1;
                            match get(url.clone()).await {
                                Ok(b) => bodies.push(b),
                                Err(e) => errors.push(e),
                            }
                        }
                    }
                }
                (bodies, errors, dropped)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    write("v2");
    let out =
        tokio::task::spawn_blocking(move || run_cli(&["-s", "reload", "-c", &conf_s, "-p", "/"]))
            .await
            .unwrap();
    assert!(out.status.success(), "-s reload: {out:?}");
    let mut switched = false;
    let deadline = Instant::now() + Duration::from_secs(20);
    while !switched && Instant::now() < deadline {
        switched = get(url.clone()).await.is_ok_and(|b| b == "v2");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(switched, "v2 never served");
    // Until the old process is gone (it drains after the hand-over).
    let old = child.id();
    assert!(
        wait_until(Duration::from_secs(20), || child
            .try_wait()
            .ok()
            .flatten()
            .is_some())
        .await
    );
    assert!(!alive(old));
    stop.store(true, Ordering::Relaxed);
    let (mut n, mut errors, mut dropped) = (0, Vec::new(), 0);
    for l in load {
        let (b, e, d) = l.await.unwrap();
        n += b.len();
        errors.extend(e);
        dropped += d;
    }
    assert!(
        dropped <= allowed_drops(n),
        "{dropped} connections dropped before their request was read (of {n})"
    );
    assert!(
        errors.is_empty(),
        "{} failed of {}: {:?}",
        errors.len(),
        n + errors.len(),
        &errors[..errors.len().min(5)]
    );
    assert!(n > 20, "load ran ({n} requests)");

    let successor = read_pid(&pid_file).expect("pid file");
    assert_ne!(successor, old);
    let conf_s = conf.to_str().unwrap().to_owned();
    let out =
        tokio::task::spawn_blocking(move || run_cli(&["-s", "stop", "-c", &conf_s, "-p", "/"]))
            .await
            .unwrap();
    assert!(out.status.success(), "-s stop: {out:?}");
    assert!(wait_until(Duration::from_secs(15), || !alive(successor)).await);
}
