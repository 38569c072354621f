//! Shared harness for the integration tests: starts the real `tollgate` binary on free loopback
//! ports, runs its CLI, and runs the Python SDK scripts in `tests/python/`.
//!
//! Every wait here is bounded; a gateway that does not become ready, a CLI run that does not
//! finish and a Python script that hangs all fail the test with what they printed.
#![allow(dead_code)]

pub mod redis;

use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The gateway binary built by cargo for this test run.
pub const TOLLGATE: &str = env!("CARGO_BIN_EXE_tollgate");

/// How long a gateway may take to answer `/readyz` with 200.
const READY_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a CLI run (`-t`, `-T`, `-v`) may take.
const CLI_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one Python SDK script may take.
const PYTHON_TIMEOUT: Duration = Duration::from_secs(120);

/// A free TCP port on 127.0.0.1 for a process the test starts (gateway, redis-server).
///
/// Taken from 20000-31999, below Linux's ephemeral range (32768-60999): a port found with
/// `bind(0)` and released could be handed by the kernel to another test's `bind(0)` (the
/// in-process mock providers) before our process binds it, and the test would then talk to
/// the wrong server. A per-process counter keeps parallel tests apart; the start is spread by
/// pid so test binaries run one after another do not reuse each other's recent ports.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    const LOW: u32 = 20000;
    const SPAN: u32 = 12000;
    let start = std::process::id().wrapping_mul(7919) % SPAN;
    for _ in 0..SPAN {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let port = (LOW + (start + n) % SPAN) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {LOW}..{}", LOW + SPAN)
}

/// The repository root (where `conf/`, `tests/` live).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The usual test configuration: `{upstream}` is replaced with `upstream` (the mock provider's
/// `base_url()`); `{listen}` and `{admin}` are left for [`Gateway::start`].
pub fn standard_config(upstream: &str) -> String {
    STANDARD_CONFIG.replace("{upstream}", upstream)
}

/// See [`standard_config`].
pub const STANDARD_CONFIG: &str = r#"listen: ["{listen}"]
admin: { listen: "{admin}" }
server: { threads: 2, grace_period: 10s, max_body_size: 1MiB }
timeouts: { connect: 1s, first_byte: 2s, idle: 2s, total: 20s }
providers:
  up:   { kind: openai, base_url: "{upstream}", api_key: "sk-upstream-test" }
  demo: { kind: mock }
  dead: { kind: openai, base_url: "http://127.0.0.1:1/v1" }
models:
  gpt-4o: { targets: [ { provider: up, model: gpt-4o-2024-08-06 } ] }
  demo:   { targets: [ { provider: demo } ] }
  dead:   { targets: [ { provider: dead } ] }
  text-embedding-3-small: { targets: [ { provider: up, model: text-embedding-3-small } ] }
keys:
  - { name: all, key: sk-test-all }
  - { name: limited, key: sk-test-demo-only, models: [demo] }
"#;

/// A running gateway process. Dropping it kills (SIGKILL) and reaps the process.
pub struct Gateway {
    child: Mutex<Child>,
    exited: Mutex<Option<ExitStatus>>,
    pid: u32,
    /// `127.0.0.1:PORT` of the data listener (`{listen}`).
    pub listen: String,
    /// `127.0.0.1:PORT` of the admin listener (`{admin}`).
    pub admin: String,
    /// The config file the gateway was started with.
    pub config_path: PathBuf,
    stdout_path: PathBuf,
    stderr_path: PathBuf,
    // Last field: removed after the process is gone.
    dir: tempfile::TempDir,
}

impl Gateway {
    /// Starts `tollgate -c <yaml>` with `{listen}`/`{admin}` filled in and waits until
    /// `/readyz` answers 200 (panics with the gateway's stderr otherwise).
    pub fn start(yaml: &str) -> Gateway {
        Gateway::start_with_env(yaml, &[])
    }

    /// Like [`Gateway::start`], with extra environment variables for the process.
    pub fn start_with_env(yaml: &str, env: &[(&str, &str)]) -> Gateway {
        let listen = format!("127.0.0.1:{}", free_port());
        let admin = format!("127.0.0.1:{}", free_port());
        let yaml = yaml.replace("{listen}", &listen).replace("{admin}", &admin);

        let dir = tempfile::tempdir().expect("temp dir");
        let config_path = dir.path().join("tollgate.yaml");
        fs::write(&config_path, &yaml).expect("write config");
        let stdout_path = dir.path().join("stdout.log");
        let stderr_path = dir.path().join("stderr.log");

        let mut cmd = Command::new(TOLLGATE);
        cmd.arg("-c")
            .arg(&config_path)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(File::create(&stdout_path).expect("stdout file"))
            .stderr(File::create(&stderr_path).expect("stderr file"))
            .env("RUST_BACKTRACE", "1");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("spawn tollgate");
        let gw = Gateway {
            pid: child.id(),
            child: Mutex::new(child),
            exited: Mutex::new(None),
            listen,
            admin,
            config_path,
            stdout_path,
            stderr_path,
            dir,
        };
        gw.wait_ready(&yaml);
        gw
    }

    fn wait_ready(&self, yaml: &str) {
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut last = String::from("no attempt");
        while Instant::now() < deadline {
            if let Some(status) = self.try_wait() {
                panic!(
                    "tollgate exited before becoming ready ({status}).\n--- config ---\n{yaml}\n\
                     --- stderr ---\n{}\n--- stdout ---\n{}",
                    self.stderr_text(),
                    self.stdout_text()
                );
            }
            match http_get_status(&self.admin, "/readyz", Duration::from_millis(500)) {
                // The admin listener can be up before the data listener is bound (pingora
                // starts each service on its own runtime): wait for both.
                Ok(200) if self.data_listener_accepts() => return,
                Ok(200) => last = "data listener not accepting yet".to_owned(),
                Ok(code) => last = format!("/readyz answered {code}"),
                Err(e) => last = format!("/readyz: {e}"),
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "tollgate not ready after {READY_TIMEOUT:?} (last: {last}).\n--- config ---\n{yaml}\n\
             --- stderr ---\n{}\n--- stdout ---\n{}",
            self.stderr_text(),
            self.stdout_text()
        );
    }

    fn data_listener_accepts(&self) -> bool {
        let addr: SocketAddr = match self.listen.parse() {
            Ok(a) => a,
            Err(_) => return false,
        };
        TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok()
    }

    /// `http://<listen><path>` on the data listener.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.listen, path)
    }

    /// `http://<admin><path>` on the admin listener.
    pub fn admin_url(&self, path: &str) -> String {
        format!("http://{}{}", self.admin, path)
    }

    /// The data listener's address.
    pub fn listen_addr(&self) -> SocketAddr {
        self.listen.parse().expect("listen addr")
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Sends a signal by name (`TERM`, `SIGTERM`, `QUIT`, `HUP`, ...) with `kill -s`.
    pub fn signal(&self, sig: &str) {
        let name = sig.strip_prefix("SIG").unwrap_or(sig);
        let status = Command::new("kill")
            .args(["-s", name, &self.pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -s {name} {} failed", self.pid);
    }

    /// The exit status if the process has exited (reaps it), without waiting.
    pub fn try_wait(&self) -> Option<ExitStatus> {
        let mut exited = self.exited.lock().unwrap();
        if let Some(s) = *exited {
            return Some(s);
        }
        let status = self.child.lock().unwrap().try_wait().expect("try_wait");
        *exited = status;
        status
    }

    /// Waits at most `timeout` for the process to exit.
    pub fn wait_exit(&self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.try_wait() {
                return Some(s);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Everything the gateway wrote to stderr so far.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&fs::read(&self.stderr_path).unwrap_or_default()).into_owned()
    }

    /// Everything the gateway wrote to stdout so far.
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&fs::read(&self.stdout_path).unwrap_or_default()).into_owned()
    }

    /// The temp dir holding the config and logs (removed on drop).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let reaped = matches!(self.exited.get_mut(), Ok(Some(_)));
        if reaped {
            return;
        }
        let child = match self.child.get_mut() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// A minimal blocking HTTP/1.1 GET (no client library, usable outside a runtime): the status code.
pub fn http_get_status(addr: &str, path: &str, timeout: Duration) -> std::io::Result<u16> {
    let (status, _) = http_get(addr, path, timeout)?;
    Ok(status)
}

/// A minimal blocking HTTP/1.1 GET with `Connection: close`: status code and raw response
/// (headers and body as received).
pub fn http_get(addr: &str, path: &str, timeout: Duration) -> std::io::Result<(u16, String)> {
    let sa: SocketAddr = addr
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let mut s = TcpStream::connect_timeout(&sa, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("not an HTTP response: {text:?}"),
            )
        })?;
    Ok((status, text))
}

/// Runs a command with stdout/stderr captured to files, killing it after `timeout`.
fn run_bounded(mut cmd: Command, timeout: Duration, what: &str) -> Output {
    let dir = tempfile::tempdir().expect("temp dir");
    let out_path = dir.path().join("stdout");
    let err_path = dir.path().join("stderr");
    cmd.stdin(Stdio::null())
        .stdout(File::create(&out_path).expect("stdout file"))
        .stderr(File::create(&err_path).expect("stderr file"));
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {what}: {e}"));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{what} did not finish within {timeout:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
                String::from_utf8_lossy(&fs::read(&out_path).unwrap_or_default()),
                String::from_utf8_lossy(&fs::read(&err_path).unwrap_or_default())
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: fs::read(&out_path).unwrap_or_default(),
        stderr: fs::read(&err_path).unwrap_or_default(),
    }
}

/// Runs the tollgate binary with `args` (for `-t`, `-T`, `-v`, `-V`) and returns its output.
pub fn run_cli(args: &[&str]) -> Output {
    run_cli_with_env(args, &[])
}

/// Like [`run_cli`] with extra environment variables.
pub fn run_cli_with_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(TOLLGATE);
    cmd.args(args).current_dir(repo_root());
    for (k, v) in env {
        cmd.env(k, v);
    }
    run_bounded(cmd, CLI_TIMEOUT, &format!("tollgate {}", args.join(" ")))
}

/// The Python interpreter of the SDK venv: `$TOLLGATE_PYTHON`, else
/// `$HOME/.cache/tollgate/venv/bin/python` (what `make test` creates).
pub fn python_interpreter() -> PathBuf {
    if let Some(p) = std::env::var_os("TOLLGATE_PYTHON").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("HOME").unwrap_or_default();
    Path::new(&home).join(".cache/tollgate/venv/bin/python")
}

/// Runs `tests/python/<script>` with the SDK venv's interpreter and extra env vars.
pub fn python(script: &str, env: &[(&str, &str)]) -> Output {
    let interpreter = python_interpreter();
    if !interpreter.exists() {
        panic!(
            "Python interpreter {} not found: run `make test` (it creates the venv), \
             or set TOLLGATE_PYTHON",
            interpreter.display()
        );
    }
    let script_path = repo_root().join("tests/python").join(script);
    assert!(script_path.exists(), "{} missing", script_path.display());
    let mut cmd = Command::new(&interpreter);
    cmd.arg(&script_path)
        .current_dir(repo_root())
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    // The SDKs must talk to the loopback gateway only.
    for var in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "OPENAI_BASE_URL",
        "OPENAI_API_KEY",
        "OPENAI_ADMIN_KEY",
        "OPENAI_ORG_ID",
        "OPENAI_PROJECT_ID",
        "ANTHROPIC_BASE_URL",
        "ANTHROPIC_API_KEY",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    run_bounded(cmd, PYTHON_TIMEOUT, &format!("python {script}"))
}

/// Asserts the script exited 0; on failure shows what it printed.
pub fn assert_python_ok(output: &Output) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "python script failed ({})\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        output.status
    );
    // Shown with `cargo test -- --nocapture`.
    println!("{stdout}");
}

/// Splits an SSE body into the `data:` payloads of its events, in order.
pub fn sse_data(body: &str) -> Vec<String> {
    body.replace("\r\n", "\n")
        .split("\n\n")
        .filter_map(|event| {
            let data: Vec<&str> = event
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(|d| d.strip_prefix(' ').unwrap_or(d))
                .collect();
            if data.is_empty() {
                None
            } else {
                Some(data.join("\n"))
            }
        })
        .collect()
}

/// The text content of a chat completion stream: the concatenated `choices[0].delta.content`.
pub fn stream_text(events: &[String]) -> String {
    events
        .iter()
        .filter(|d| d.as_str() != "[DONE]")
        .filter_map(|d| serde_json::from_str::<serde_json::Value>(d).ok())
        .filter_map(|v| {
            v["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect()
}

/// Reads a Prometheus text exposition and sums the samples of `name` whose labels contain
/// every `(label, value)` pair in `labels`.
pub fn metric_sum(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let (metric, label_str) = match series.split_once('{') {
                Some((m, rest)) => (m, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            if metric != name {
                return None;
            }
            let padded = format!(",{label_str}");
            let ok = labels
                .iter()
                .all(|(k, v)| padded.contains(&format!(",{k}=\"{v}\"")));
            if ok {
                value.parse::<f64>().ok()
            } else {
                None
            }
        })
        .sum()
}

/// The mock provider's default reply.
pub const MOCK_TEXT: &str = "This is a mock response from the tollgate test provider.";
/// The key the upstream mock expects and the `up` provider sends.
pub const UPSTREAM_KEY: &str = "sk-upstream-test";
/// The virtual key allowed every model.
pub const KEY_ALL: &str = "sk-test-all";
/// The virtual key allowed only `demo`.
pub const KEY_LIMITED: &str = "sk-test-demo-only";

/// Starts the in-process mock provider expecting [`UPSTREAM_KEY`].
pub async fn start_mock() -> tollgate_mock_provider::MockProvider {
    start_mock_with(tollgate_mock_provider::Options::default()).await
}

/// Starts the in-process mock provider with `opts` (its `api_key` forced to [`UPSTREAM_KEY`]).
pub async fn start_mock_with(
    opts: tollgate_mock_provider::Options,
) -> tollgate_mock_provider::MockProvider {
    tollgate_mock_provider::MockProvider::start(tollgate_mock_provider::Options {
        api_key: Some(UPSTREAM_KEY.into()),
        ..opts
    })
    .await
}

/// [`Gateway::start`] off the async worker threads (it blocks while waiting for readiness).
pub async fn start_gateway(yaml: String) -> Gateway {
    tokio::task::spawn_blocking(move || Gateway::start(&yaml))
        .await
        .expect("gateway start")
}

/// An HTTP client for the tests: loopback only (no proxy from the environment), bounded.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("reqwest client")
}

/// One HTTP/1.1 response read by [`RawConn`].
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    /// Header lines as received, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body (de-chunked).
    pub body: Vec<u8>,
    /// The chunks of a chunked body, in order (empty for a content-length body).
    pub chunks: Vec<Vec<u8>>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A raw blocking HTTP/1.1 connection, to see exactly what goes over one socket (keep-alive,
/// chunk boundaries). Every read is bounded by a timeout.
pub struct RawConn {
    stream: TcpStream,
    buf: Vec<u8>,
    host: String,
}

impl RawConn {
    pub fn connect(addr: &str) -> RawConn {
        let sa: SocketAddr = addr.parse().expect("socket addr");
        let stream = TcpStream::connect_timeout(&sa, Duration::from_secs(5)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream
            .set_write_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        RawConn {
            stream,
            buf: Vec::new(),
            host: addr.to_owned(),
        }
    }

    /// Sends one request with a `content-length` body.
    pub fn send(&mut self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.host);
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        if !body.is_empty() || method == "POST" {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        self.stream.write_all(head.as_bytes()).expect("write head");
        self.stream.write_all(body).expect("write body");
    }

    fn fill(&mut self) -> usize {
        let mut tmp = [0u8; 16 * 1024];
        let n = self.stream.read(&mut tmp).unwrap_or_else(|e| {
            panic!(
                "read from {} failed: {e} (buffered: {:?})",
                self.host,
                String::from_utf8_lossy(&self.buf)
            )
        });
        self.buf.extend_from_slice(&tmp[..n]);
        n
    }

    fn read_line(&mut self) -> String {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.buf.drain(..i + 2).collect();
                return String::from_utf8_lossy(&line[..i]).into_owned();
            }
            if self.fill() == 0 {
                panic!(
                    "connection closed by the server in the middle of a line (buffered: {:?})",
                    String::from_utf8_lossy(&self.buf)
                );
            }
        }
    }

    fn read_exact_buf(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            if self.fill() == 0 {
                panic!(
                    "connection closed by the server after {} of {n} body bytes",
                    self.buf.len()
                );
            }
        }
        self.buf.drain(..n).collect()
    }

    /// Reads one whole response (head and body). Panics if the server closed the connection
    /// before a response started.
    pub fn read_response(&mut self) -> RawResponse {
        let status_line = self.read_line();
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
        let mut headers = Vec::new();
        loop {
            let line = self.read_line();
            if line.is_empty() {
                break;
            }
            let (k, v) = line.split_once(':').expect("header line");
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
        let mut resp = RawResponse {
            status,
            headers,
            body: Vec::new(),
            chunks: Vec::new(),
        };
        let chunked = resp
            .header("transfer-encoding")
            .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
        if chunked {
            loop {
                let size_line = self.read_line();
                let size_hex = size_line.split(';').next().unwrap_or("").trim();
                let size = usize::from_str_radix(size_hex, 16)
                    .unwrap_or_else(|_| panic!("bad chunk size line {size_line:?}"));
                if size == 0 {
                    // Trailers until an empty line.
                    while !self.read_line().is_empty() {}
                    break;
                }
                let chunk = self.read_exact_buf(size);
                let crlf = self.read_exact_buf(2);
                assert_eq!(crlf, b"\r\n", "chunk not followed by CRLF");
                resp.body.extend_from_slice(&chunk);
                resp.chunks.push(chunk);
            }
        } else if let Some(len) = resp.header("content-length") {
            let len: usize = len.parse().expect("content-length");
            resp.body = self.read_exact_buf(len);
        } else if status != 204 && status != 304 {
            // Close-delimited body.
            while self.fill() > 0 {}
            resp.body = std::mem::take(&mut self.buf);
        }
        resp
    }
}
