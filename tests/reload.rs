//! Reload and process control. `-s reload` (SIGHUP) applies a configuration whose listening
//! sockets are unchanged in the running process: under load on fresh and keep-alive
//! connections not one request fails, a stream started before the reload finishes on the old
//! configuration while requests after it see the new one, nginx `limit_req` zones keep their
//! state (as real nginx does), and access logs move to the new files. A listener change hands
//! the sockets to a new process instead. A bad configuration changes nothing; `-s quit`
//! stops the new process and removes its pid file; nginx's `-s` messages.

mod common;
#[path = "nginx/runtime/harness.rs"]
#[allow(dead_code)]
mod harness;

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

/// Starts an echo stream of `tokens` words on `model` and reads it to its end in the
/// background (each read bounded by 20 s); the task returns the whole body.
async fn start_stream(url: &str, model: &str, tokens: usize) -> tokio::task::JoinHandle<String> {
    let words: Vec<String> = (0..tokens).map(|i| format!("w{i}")).collect();
    let stream = client()
        .post(url)
        .header("authorization", format!("Bearer {KEY_ALL}"))
        .json(&json!({"model": model, "stream": true,
            "messages": [{"role": "user", "content": format!("echo: {}", words.join(" "))}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    tokio::spawn(async move {
        let mut body = Vec::new();
        let mut s = stream.bytes_stream();
        while let Ok(Some(chunk)) = tokio::time::timeout(Duration::from_secs(20), s.next()).await {
            body.extend_from_slice(&chunk.expect("stream chunk"));
        }
        String::from_utf8_lossy(&body).into_owned()
    })
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

/// Counters shared by the load tasks of a test.
#[derive(Default, Clone)]
struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
    /// Connections closed before their request was read (see `allowed_drops`).
    dropped: Arc<AtomicUsize>,
}

/// How a load task connects and what it tolerates.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Conn {
    /// Every request on a new connection (through accept); a drop is retried once.
    FreshRetryingDrops,
    /// Every request on a new connection; a drop is a failure.
    Fresh,
    /// Requests reuse pooled connections; a drop is a failure.
    KeepAlive,
}

/// Requests until `load.stop`; counts successes and failures, returns the failures.
fn spawn_load(url: String, load: Load, conn: Conn) -> tokio::task::JoinHandle<Vec<String>> {
    let Load {
        stop,
        ok,
        failed,
        dropped,
    } = load;
    tokio::spawn(async move {
        let mut c = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10));
        if conn != Conn::KeepAlive {
            c = c.pool_max_idle_per_host(0);
        }
        let c = c.build().unwrap();
        let mut errors = Vec::new();
        // The gateway's chat completions, or an nginx configuration's GET.
        let chat = url.ends_with("/chat/completions");
        let send = || {
            if chat {
                c.post(&url)
                    .header("authorization", format!("Bearer {KEY_ALL}"))
                    .json(&json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}))
                    .send()
            } else {
                c.get(&url).send()
            }
        };
        // Bounded whatever happens.
        for _ in 0..10_000 {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let r = match send().await {
                // Closed before the request was read (see `allowed_drops`): retried once.
                Err(e) if e.is_request() && conn == Conn::FreshRetryingDrops => {
                    dropped.fetch_add(1, Ordering::Relaxed);
                    send().await
                }
                r => r,
            };
            match r {
                // The whole body: a keep-alive connection is reused only after it.
                Ok(r) if r.status() == 200 => match r.bytes().await {
                    Ok(_) => {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        errors.push(format!("body: {e}"));
                    }
                },
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

/// A reload that adds a listener cannot be applied in-process: the sockets go to a new
/// process, which serves the new configuration on both addresses, while the old process
/// finishes its stream and drains.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn listener_change_hands_over_under_load_and_bad_config_changes_nothing() {
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
    let stream = start_stream(&gw.url("/v1/chat/completions"), "gpt-4o", 60).await;

    let counters = Load::default();
    let Load {
        stop, ok, dropped, ..
    } = counters.clone();
    let load: Vec<_> = (0..4)
        .map(|_| {
            let url = gw.url("/v1/chat/completions");
            spawn_load(url, counters.clone(), Conn::FreshRetryingDrops)
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = ok.load(Ordering::Relaxed);

    // The new configuration serves one more model, on one more address.
    let second = format!("127.0.0.1:{}", common::free_port());
    let with_new_model = base
        .replace(
            "models:\n",
            "models:\n  gpt-4o-new: { targets: [ { provider: up, model: gpt-4o-2024-08-06 } ] }\n",
        )
        .replace(
            "listen: [\"{listen}\"]",
            &format!("listen: [\"{{listen}}\", \"{second}\"]"),
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
    assert!(
        models(&format!("http://{second}/v1/models"))
            .await
            .is_some_and(|m| m.contains("gpt-4o-new")),
        "the new listener serves"
    );
    assert!(
        gw.stderr_text().contains("handing the listeners over"),
        "{}",
        gw.stderr_text()
    );

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

/// The same hand-over for an nginx configuration that adds a listener: `-s reload` switches
/// `return` bodies while clients keep connecting, none fails, and `-s stop` ends it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nginx_listener_change_hands_over_under_load() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let port2 = common::free_port();
    let conf = dir.path().join("nginx.conf");
    let pid_file = dir.path().join("nginx.pid");
    let write = |body: &str| {
        let extra = if body == "v1" {
            String::new()
        } else {
            format!("listen 127.0.0.1:{port2};")
        };
        let text = format!(
            "pid {};\nevents {{}}\nhttp {{\n  access_log off;\n  server {{\n    listen 127.0.0.1:{port};\n    {extra}\n    \
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
    assert!(get(format!("http://127.0.0.1:{port2}/"))
        .await
        .is_ok_and(|b| b == "v2"));
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

/// Stops the load tasks and returns their failures.
async fn stop_load(
    load: Vec<tokio::task::JoinHandle<Vec<String>>>,
    counters: &Load,
) -> Vec<String> {
    counters.stop.store(true, Ordering::Relaxed);
    let mut errors = Vec::new();
    for l in load {
        errors.extend(l.await.unwrap());
    }
    errors
}

/// Fresh-connection and keep-alive load on `url`, with no tolerance for drops.
fn strict_load(url: &str, counters: &Load) -> Vec<tokio::task::JoinHandle<Vec<String>>> {
    let conns = [
        Conn::Fresh,
        Conn::Fresh,
        Conn::Fresh,
        Conn::KeepAlive,
        Conn::KeepAlive,
    ];
    conns
        .into_iter()
        .map(|conn| spawn_load(url.to_owned(), counters.clone(), conn))
        .collect()
}

async fn send_hup(pid: u32) {
    let status = tokio::task::spawn_blocking(move || {
        std::process::Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status()
    })
    .await
    .unwrap()
    .unwrap();
    assert!(status.success());
}

fn count(text: &str, needle: &str) -> usize {
    text.matches(needle).count()
}

/// Reloads that keep the listeners are applied in the running process: several of them under
/// load on fresh and keep-alive connections lose not one request (no drop is tolerated); a
/// stream started before the first finishes on the old configuration (its model is gone in
/// the new one) while requests after it see the new models; a bad configuration changes
/// nothing; the pid file and /readyz stay right.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reloads_in_process_lose_no_request() {
    let mock = start_mock_with(tollgate_mock_provider::Options {
        token_interval: Duration::from_millis(40),
        ..Default::default()
    })
    .await;
    let model_line = |name: &str| {
        format!(
            "models:\n  {name}: {{ targets: [ {{ provider: up, model: gpt-4o-2024-08-06 }} ] }}\n"
        )
    };
    let base = standard_config(&mock.base_url()).replace(
        "max_body_size: 1MiB }",
        "max_body_size: 1MiB, pid_file: tollgate.pid }",
    );
    let gw = start_gateway(base.replace("models:\n", &model_line("streamer"))).await;
    let pid_file = gw.dir().join("tollgate.pid");
    let _cleanup = KillByPidFile(pid_file.clone());
    let config = gw.config_path.to_str().unwrap().to_owned();
    let write = |model: &str| {
        let text = base
            .replace("models:\n", &model_line(model))
            .replace("{listen}", &gw.listen)
            .replace("{admin}", &gw.admin);
        std::fs::write(&gw.config_path, text).unwrap();
    };

    // 100 tokens at 40 ms (about 4 s) from the model only the first configuration has.
    let stream = start_stream(&gw.url("/v1/chat/completions"), "streamer", 100).await;

    let counters = Load::default();
    let load = strict_load(&gw.url("/v1/chat/completions"), &counters);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = counters.ok.load(Ordering::Relaxed);

    let url = gw.url("/v1/models");
    let new_models = ["new-1", "new-2", "new-3", "new-4", "new-5"];
    for (i, model) in new_models.into_iter().enumerate() {
        write(model);
        let out = tokio::task::spawn_blocking({
            let config = config.clone();
            move || run_cli(&["-s", "reload", "-c", &config])
        })
        .await
        .unwrap();
        assert!(out.status.success(), "-s reload: {out:?}");
        let mut switched = false;
        let deadline = Instant::now() + Duration::from_secs(10);
        while !switched && Instant::now() < deadline {
            switched = models(&url).await.is_some_and(|m| m.contains(model));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(switched, "{model} never served\n{}", gw.stderr_text());
        if i == 0 {
            assert!(!stream.is_finished(), "the stream spans the first reload");
            // A request after the reload sees the new configuration: `streamer` is gone.
            let r = client()
                .post(gw.url("/v1/chat/completions"))
                .header("authorization", format!("Bearer {KEY_ALL}"))
                .json(
                    &json!({"model": "streamer", "messages": [{"role": "user", "content": "hi"}]}),
                )
                .send()
                .await
                .unwrap();
            assert_ne!(
                r.status(),
                200,
                "a request after the reload uses the new config"
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let errors = stop_load(load, &counters).await;
    let total_ok = counters.ok.load(Ordering::Relaxed);
    assert!(
        errors.is_empty(),
        "{} of {} requests failed across in-process reloads: {:?}\n{}",
        errors.len(),
        total_ok + errors.len(),
        &errors[..errors.len().min(5)],
        gw.stderr_text()
    );
    assert!(
        before > 0 && total_ok > before + 50,
        "load ran: {before} then {total_ok}"
    );
    eprintln!("YAML: {total_ok} requests across 5 in-process reloads, none failed");

    let body = stream.await.unwrap();
    let events = sse_data(&body);
    assert_eq!(
        events.last().map(String::as_str),
        Some("[DONE]"),
        "stream cut: {body}"
    );
    let text = common::stream_text(&events);
    assert_eq!(text.split_whitespace().count(), 100, "every token: {text}");

    // One process all along, named by the pid file, ready.
    assert_eq!(read_pid(&pid_file), Some(gw.pid()));
    assert!(gw.try_wait().is_none(), "still running");
    let log = gw.stderr_text();
    assert_eq!(count(&log, "configuration applied in-process"), 5, "{log}");
    assert_eq!(count(&log, "handing the listeners over"), 0, "{log}");
    let ready = client().get(gw.admin_url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);

    // A broken configuration: refused, the running one keeps serving.
    std::fs::write(&gw.config_path, "listen: [nonsense\n").unwrap();
    send_hup(gw.pid()).await;
    let refused = wait_until(Duration::from_secs(10), || {
        gw.stderr_text().contains("reload refused")
    })
    .await;
    assert!(refused, "{}", gw.stderr_text());
    assert!(models(&url).await.is_some_and(|m| m.contains("new-5")));
    assert_eq!(read_pid(&pid_file), Some(gw.pid()));
}

/// The nginx configuration of the in-process tests: `return 200 {body}` at `/`, a static
/// file under `limit_req` at `/limited/` (zone `one` of `zone_size`, one request a minute),
/// access lines to `access-{body}.log`, the error log at `error.log` (info).
fn nginx_conf(dir: &Path, port: u16, body: &str, zone_size: &str, extra: &str) -> String {
    let d = dir.display();
    format!(
        "{extra}\nevents {{}}\nhttp {{\n  error_log {d}/error.log info;\n  access_log {d}/access-{body}.log;\n  \
         limit_req_zone $binary_remote_addr zone=one:{zone_size} rate=1r/m;\n  server {{\n    \
         listen 127.0.0.1:{port};\n    location / {{ return 200 \"{body}\"; }}\n    \
         location /limited/ {{ limit_req zone=one; root {d}/www; }}\n  }}\n}}\n"
    )
}

/// nginx configurations too: `return` bodies and access log files change over six
/// in-process reloads under fresh and keep-alive load, with no failure and no drop; a bad
/// configuration is refused with nginx's message and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nginx_reloads_in_process_lose_no_request_and_move_access_logs() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let conf = dir.path().join("nginx.conf");
    let pid_file = dir.path().join("nginx.pid");
    std::fs::create_dir_all(dir.path().join("www/limited")).unwrap();
    let pid_line = format!("pid {};", pid_file.display());
    let write = |body: &str| {
        std::fs::write(&conf, nginx_conf(dir.path(), port, body, "1m", &pid_line)).unwrap();
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
    let body_now = || async {
        let c = reqwest::Client::builder().no_proxy().build().unwrap();
        let r = c
            .get(&url)
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .ok()?;
        r.text().await.ok()
    };
    let mut up = false;
    let deadline = Instant::now() + Duration::from_secs(20);
    while !up && Instant::now() < deadline {
        up = body_now().await.is_some_and(|b| b == "v1");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "tollgate never served the nginx config");
    assert_eq!(read_pid(&pid_file), Some(child.id()));

    let counters = Load::default();
    let load = strict_load(&url, &counters);
    tokio::time::sleep(Duration::from_millis(300)).await;
    for body in ["v2", "v3", "v4", "v5", "v6", "v7"] {
        write(body);
        let args = ["-s", "reload", "-c", &conf_s, "-p", "/"].map(str::to_owned);
        let out = tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run_cli(&args)
        })
        .await
        .unwrap();
        assert!(out.status.success(), "-s reload: {out:?}");
        let mut switched = false;
        let deadline = Instant::now() + Duration::from_secs(10);
        while !switched && Instant::now() < deadline {
            switched = body_now().await.is_some_and(|b| b == body);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(switched, "{body} never served");
        // Access lines of the new configuration go to its file.
        let log = dir.path().join(format!("access-{body}.log"));
        let logged = wait_until(Duration::from_secs(5), || {
            std::fs::read_to_string(&log).is_ok_and(|t| t.contains("GET / "))
        })
        .await;
        assert!(logged, "nothing logged to {}", log.display());
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let errors = stop_load(load, &counters).await;
    let n = counters.ok.load(Ordering::Relaxed);
    assert!(
        errors.is_empty(),
        "{} failed of {}: {:?}",
        errors.len(),
        n + errors.len(),
        &errors[..errors.len().min(5)]
    );
    assert!(n > 100, "load ran ({n} requests)");
    eprintln!("nginx: {n} requests across 6 in-process reloads, none failed");
    assert_eq!(
        read_pid(&pid_file),
        Some(child.id()),
        "one process all along"
    );
    let error_log = || std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default();
    assert_eq!(
        count(&error_log(), "configuration applied in-process"),
        6,
        "{}",
        error_log()
    );
    // The old files are no longer written to: v1's log ends before v2 began.
    let v1 = std::fs::read_to_string(dir.path().join("access-v1.log")).unwrap();
    let v1_lines = v1.lines().count();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        std::fs::read_to_string(dir.path().join("access-v1.log"))
            .unwrap()
            .lines()
            .count(),
        v1_lines
    );

    // A bad configuration: nginx's message, nothing changes.
    std::fs::write(
        &conf,
        format!("{pid_line}\nevents {{}}\nhttp {{ bogus_directive; }}\n"),
    )
    .unwrap();
    send_hup(child.id()).await;
    let refused = wait_until(Duration::from_secs(10), || {
        error_log().contains("unknown directive \"bogus_directive\"")
    })
    .await;
    assert!(refused, "{}", error_log());
    assert_eq!(body_now().await.as_deref(), Some("v7"));
    assert!(child.try_wait().unwrap().is_none());
    let _ = child.kill();
    let _ = child.wait();
}

/// A `limit_req` zone whose name and size a reload leaves unchanged keeps its state (the
/// client stays limited), one whose size changes starts afresh: what real nginx does.
#[test]
fn limit_req_zone_survives_reload_like_nginx() {
    let statuses = |nginx: bool| -> Vec<u16> {
        let dir = tempfile::tempdir().unwrap();
        let port = common::free_port();
        let conf = dir.path().join("nginx.conf");
        std::fs::create_dir_all(dir.path().join("www/limited")).unwrap();
        std::fs::create_dir_all(dir.path().join("logs")).unwrap();
        std::fs::write(dir.path().join("www/limited/a.txt"), "a").unwrap();
        let write = |body: &str, size: &str| {
            std::fs::write(&conf, nginx_conf(dir.path(), port, body, size, "")).unwrap();
        };
        write("v1", "1m");
        // Real nginx with its master process (a single-process nginx does not reload
        // reliably), stopped by SIGTERM so its workers go too.
        let proc = if nginx {
            let d = dir.path().display();
            let globals = format!(
                "daemon off; user root; pid {d}/nginx.pid; error_log {d}/nginx-error.log notice;"
            );
            let child = std::process::Command::new(harness::NGINX)
                .args([
                    "-p",
                    &format!("{d}/"),
                    "-c",
                    conf.to_str().unwrap(),
                    "-g",
                    &globals,
                ])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("start nginx");
            Server {
                nginx: Some(child),
                _tollgate: None,
            }
        } else {
            Server {
                nginx: None,
                _tollgate: Some(harness::Proc::tollgate(dir.path(), &conf, port)),
            }
        };
        // nginx's pid from -g; tollgate's default logs/nginx.pid under the prefix.
        let pid_file = if nginx {
            dir.path().join("nginx.pid")
        } else {
            dir.path().join("logs/nginx.pid")
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let pid = loop {
            let up = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
            match read_pid(&pid_file) {
                Some(pid) if up => break pid,
                _ => {
                    assert!(std::time::Instant::now() < deadline, "server did not start");
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        };
        let limited = || harness::send(port, &harness::Req::get("/limited/a.txt")).status;
        // nginx's old worker may still accept a connection or two after the new one
        // answers: wait until it has exited (one more "exited" line in the log per reload).
        let old_workers_gone = |reloads: usize| {
            let log = dir.path().join("nginx-error.log");
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while nginx
                && std::fs::read_to_string(&log)
                    .unwrap_or_default()
                    .matches("exited with code")
                    .count()
                    < reloads
            {
                assert!(
                    std::time::Instant::now() < deadline,
                    "old nginx worker stays"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        };
        let reload = |body: &str, size: &str, reloads: usize| {
            write(body, size);
            let status = std::process::Command::new("kill")
                .args(["-HUP", &pid.to_string()])
                .status()
                .unwrap();
            assert!(status.success());
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while harness::send(port, &harness::Req::get("/")).body != body {
                assert!(std::time::Instant::now() < deadline, "{body} never served");
                std::thread::sleep(Duration::from_millis(20));
            }
            old_workers_gone(reloads);
        };
        let mut out = vec![limited(), limited()];
        reload("v2", "1m", 1);
        out.push(limited());
        reload("v3", "2m", 2);
        out.push(limited());
        out.push(limited());
        drop(proc);
        out
    };
    let nginx = statuses(true);
    assert_eq!(nginx, [200, 503, 503, 200, 503], "nginx");
    assert_eq!(statuses(false), nginx, "tollgate");
}

/// A server of the differential test, stopped when dropped.
struct Server {
    nginx: Option<std::process::Child>,
    _tollgate: Option<harness::Proc>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = &mut self.nginx {
            // SIGTERM: the master stops its workers before exiting.
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while child.try_wait().ok().flatten().is_none() && std::time::Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The in-memory quota counters carry over an in-process reload whose quota store settings
/// are unchanged, even when the limits change (the new limits count what was used).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_counters_survive_an_in_process_reload() {
    let yaml = |limit: u32, extra_model: &str| {
        format!(
            "listen: [\"{{listen}}\"]\nadmin: {{ listen: \"{{admin}}\" }}\nserver: {{ threads: 2 }}\n\
             providers:\n  demo: {{ kind: mock }}\nmodels:\n  demo: {{ targets: [ {{ provider: demo }} ] }}\n\
             {extra_model}keys:\n  - {{ name: all, key: {KEY_ALL} }}\n\
             quota:\n  store: memory\n  limits:\n    - {{ requests: {limit}, per: hour }}\n"
        )
    };
    let gw = start_gateway(yaml(2, "")).await;
    let chat = || async {
        client()
            .post(gw.url("/v1/chat/completions"))
            .header("authorization", format!("Bearer {KEY_ALL}"))
            .json(&json!({"model": "demo", "messages": [{"role": "user", "content": "hi"}]}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    let reload = |text: String, n: usize| {
        let text = text
            .replace("{listen}", &gw.listen)
            .replace("{admin}", &gw.admin);
        std::fs::write(&gw.config_path, text).unwrap();
        let gw = &gw;
        async move {
            send_hup(gw.pid()).await;
            let applied = wait_until(Duration::from_secs(10), || {
                count(&gw.stderr_text(), "configuration applied in-process") == n
            })
            .await;
            assert!(applied, "{}", gw.stderr_text());
        }
    };
    assert_eq!([chat().await, chat().await, chat().await], [200, 200, 429]);
    // An unrelated change: still over the limit.
    let other = "  other: { targets: [ { provider: demo } ] }\n";
    reload(yaml(2, other), 1).await;
    assert_eq!(chat().await, 429);
    // A higher limit counts the two requests already made.
    reload(yaml(3, other), 2).await;
    assert_eq!([chat().await, chat().await], [200, 429]);
}

/// The health probes and /readyz follow an in-process reload: a health check added to a
/// provider that does not answer takes its model out of /readyz, and pointing the provider
/// at a live server brings it back (the probes run on the new gateway each time).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_probes_and_readyz_follow_an_in_process_reload() {
    let mock = common::start_mock().await;
    let yaml = |base_url: &str, checked: bool| {
        let check = if checked {
            ", health_check: { path: /models, interval: 100ms, timeout: 1s, healthy_threshold: 1, unhealthy_threshold: 1 }"
        } else {
            ""
        };
        format!(
            "listen: [\"{{listen}}\"]\nadmin: {{ listen: \"{{admin}}\" }}\n\
             providers:\n  up: {{ kind: openai, base_url: \"{base_url}\", api_key: sk-upstream-test{check} }}\n\
             models:\n  x: {{ targets: [ {{ provider: up }} ] }}\nkeys:\n  - {{ name: all, key: {KEY_ALL} }}\n"
        )
    };
    let dead = "http://127.0.0.1:1/v1";
    let gw = start_gateway(yaml(dead, false)).await;
    let readyz = || {
        let admin = gw.admin.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                common::http_get(&admin, "/readyz", Duration::from_secs(5)).map(|r| r.0)
            })
            .await
            .unwrap()
            .ok()
        }
    };
    assert_eq!(readyz().await, Some(200));
    let live = mock.base_url();
    let steps = [(dead, 503), (live.as_str(), 200)];
    for (i, (url, ready)) in steps.into_iter().enumerate() {
        let text = yaml(url, true)
            .replace("{listen}", &gw.listen)
            .replace("{admin}", &gw.admin);
        std::fs::write(&gw.config_path, text).unwrap();
        send_hup(gw.pid()).await;
        let applied = i + 1;
        let seen = wait_until(Duration::from_secs(10), || {
            count(&gw.stderr_text(), "configuration applied in-process") == applied
        })
        .await;
        assert!(seen, "{}", gw.stderr_text());
        let deadline = Instant::now() + Duration::from_secs(10);
        while readyz().await != Some(ready) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(readyz().await, Some(ready), "{url}");
    }
}
