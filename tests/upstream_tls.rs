//! The gateway's upstream TLS, end to end: a real `tollgate` process in front of the mock
//! provider serving HTTPS with a CA of its own ([`Options::tls`]).
//!
//! The gateway trusts the platform store through pingora's
//! `load_platform_certs_incl_env_into_store`, i.e. `rustls-native-certs` 0.7: when
//! `SSL_CERT_FILE` or `SSL_CERT_DIR` is set, only the certificates there are loaded (both, when
//! both are set). Each gateway here gets `SSL_CERT_FILE` pointing at a file with one CA, the
//! mock's (the upstream is trusted) or another mock's (it is not), and no `SSL_CERT_DIR` (which
//! CI images often set to the system store).
//!
//! Mostly self-contained (only `tests/common`'s port picker is shared): spawning the gateway
//! with its environment, waiting for `/readyz` and killing it on drop are the few helpers below. Every
//! wait is bounded.

mod common;

use common::free_port;

use std::fs::{self, File};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tollgate_mock_provider::{MockProvider, Options, RecordedRequest};

/// The gateway binary built by cargo for this test run.
const TOLLGATE: &str = env!("CARGO_BIN_EXE_tollgate");
/// How long the gateway may take to answer `/readyz` with 200.
const READY_TIMEOUT: Duration = Duration::from_secs(15);
/// Upper bound for one request through the gateway (its own total timeout is 20 s).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(25);
const UPSTREAM_KEY: &str = "sk-upstream-test";
const CLIENT_KEY: &str = "sk-test-all";
const TARGET_MODEL: &str = "gpt-4o-2024-08-06";
const MOCK_REPLY: &str = "This is a mock response from the tollgate test provider.";

const CONFIG: &str = r#"listen: ["{listen}"]
admin: { listen: "{admin}" }
timeouts: { connect: 2s, first_byte: 5s, idle: 5s, total: 20s }
providers:
  tls: { kind: openai, base_url: "{upstream}", api_key: "sk-upstream-test" }
models:
  gpt-4o: { targets: [ { provider: tls, model: gpt-4o-2024-08-06 } ] }
keys:
  - { name: all, key: sk-test-all }
"#;

// ---------------------------------------------------------------------------------------------
// Helpers

/// A running gateway. Dropping it kills (SIGKILL) and reaps the process.
struct Gateway {
    child: Child,
    listen: String,
    admin: String,
    stderr_path: PathBuf,
    // Last field: removed after the process is gone.
    _dir: tempfile::TempDir,
}

impl Gateway {
    /// Starts `tollgate -c FILE` for `upstream` with `SSL_CERT_FILE` holding `ca_pem` (and no
    /// `SSL_CERT_DIR`), then waits until `/readyz` answers 200.
    async fn start(upstream: &str, ca_pem: &str) -> Gateway {
        let dir = tempfile::tempdir().expect("temp dir");
        let ca_path = dir.path().join("ca.pem");
        fs::write(&ca_path, ca_pem).expect("write CA file");
        let listen = format!("127.0.0.1:{}", free_port());
        let admin = format!("127.0.0.1:{}", free_port());
        let yaml = CONFIG
            .replace("{listen}", &listen)
            .replace("{admin}", &admin)
            .replace("{upstream}", upstream);
        let config_path = dir.path().join("tollgate.yaml");
        fs::write(&config_path, &yaml).expect("write config");
        let stderr_path = dir.path().join("stderr.log");

        let child = Command::new(TOLLGATE)
            .arg("-c")
            .arg(&config_path)
            .current_dir(dir.path())
            .env("SSL_CERT_FILE", &ca_path)
            .env_remove("SSL_CERT_DIR")
            .env("RUST_BACKTRACE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&stderr_path).expect("stderr file"))
            .spawn()
            .expect("spawn tollgate");
        let mut gw = Gateway {
            child,
            listen,
            admin,
            stderr_path,
            _dir: dir,
        };
        gw.wait_ready().await;
        gw
    }

    async fn wait_ready(&mut self) {
        let url = format!("http://{}/readyz", self.admin);
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut last = String::from("no attempt");
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("gateway exited ({status}) before ready:\n{}", self.stderr());
            }
            match client()
                .get(&url)
                .timeout(Duration::from_millis(500))
                .send()
                .await
            {
                Ok(resp) if resp.status() == 200 => return,
                Ok(resp) => last = format!("/readyz answered {}", resp.status()),
                Err(e) => last = format!("/readyz: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "gateway not ready within {READY_TIMEOUT:?} ({last}):\n{}",
            self.stderr()
        );
    }

    fn stderr(&self) -> String {
        fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.listen)
    }

    /// POSTs a chat completion for `gpt-4o`; returns the status and the whole body.
    async fn chat(&self, stream: bool) -> (u16, String) {
        let body = json!({
            "model": "gpt-4o",
            "messages": [{"role": "user", "content": "Say hi"}],
            "stream": stream,
        });
        let send = async {
            let resp = client()
                .post(self.url("/v1/chat/completions"))
                .header("authorization", format!("Bearer {CLIENT_KEY}"))
                .json(&body)
                .send()
                .await
                .expect("send to the gateway");
            let status = resp.status().as_u16();
            (status, resp.text().await.expect("response body"))
        };
        tokio::time::timeout(REQUEST_TIMEOUT, send)
            .await
            .unwrap_or_else(|_| panic!("no answer within {REQUEST_TIMEOUT:?}:\n{}", self.stderr()))
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("reqwest client")
}

async fn tls_mock() -> MockProvider {
    MockProvider::start(Options {
        tls: true,
        api_key: Some(UPSTREAM_KEY.into()),
        ..Options::default()
    })
    .await
}

/// The mock and a gateway that trusts the mock's CA.
async fn setup() -> (MockProvider, Gateway) {
    let mock = tls_mock().await;
    let ca = mock.ca_pem().expect("a TLS mock has a CA");
    let gw = Gateway::start(&mock.base_url(), &ca).await;
    (mock, gw)
}

fn parse(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// The `data:` payloads of an SSE body.
fn sse_data(body: &str) -> Vec<&str> {
    body.split("\n\n")
        .filter(|event| !event.trim().is_empty())
        .map(|event| {
            event
                .lines()
                .find_map(|l| l.strip_prefix("data:"))
                .unwrap_or_else(|| panic!("event without data: {event:?}"))
                .trim()
        })
        .collect()
}

fn assert_upstream_request(r: &RecordedRequest, stream: bool) {
    assert!(r.problems.is_empty(), "{r:?}");
    assert_eq!(r.sni.as_deref(), Some("localhost"), "{r:?}");
    assert_eq!(r.path, "/v1/chat/completions");
    assert_eq!(
        r.header("authorization"),
        Some(format!("Bearer {UPSTREAM_KEY}").as_str())
    );
    let body = r.json();
    assert_eq!(body["model"], TARGET_MODEL, "{body}");
    assert_eq!(body["stream"], stream, "{body}");
}

// ---------------------------------------------------------------------------------------------
// Tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_over_upstream_tls_with_the_mock_ca_trusted() {
    let (mock, gw) = setup().await;

    let (status, body) = gw.chat(false).await;
    assert_eq!(status, 200, "body: {body}\nstderr:\n{}", gw.stderr());
    let v = parse(&body);
    assert_eq!(v["choices"][0]["message"]["content"], MOCK_REPLY, "{v}");
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    assert_upstream_request(&reqs[0], false);

    let (status, body) = gw.chat(true).await;
    assert_eq!(status, 200, "body: {body}");
    let events = sse_data(&body);
    assert_eq!(events.last(), Some(&"[DONE]"), "{body}");
    let text: String = events[..events.len() - 1]
        .iter()
        .filter_map(|e| {
            parse(e)["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(text, MOCK_REPLY, "{body}");
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    assert_upstream_request(&reqs[1], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_requests_reuse_one_upstream_tls_connection() {
    let (mock, gw) = setup().await;
    for _ in 0..2 {
        let (status, body) = gw.chat(false).await;
        assert_eq!(status, 200, "body: {body}");
    }
    // A stream read to its end gives the connection back to the pool too.
    for stream in [true, false] {
        let (status, body) = gw.chat(stream).await;
        assert_eq!(status, 200, "body: {body}");
    }
    let ids: Vec<u64> = mock.requests().iter().map(|r| r.connection).collect();
    assert_eq!(ids.len(), 4, "{ids:?}");
    // Without pooling every request opens its own connection (4 ids). A pooled connection can
    // rarely be evicted between two requests (e.g. the pool's idle watcher sees the server's
    // late TLS session ticket), so allow one reconnect rather than flake.
    let mut distinct = ids.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert!(
        distinct.len() <= 2,
        "upstream connection per request: {ids:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_upstream_certificate_is_a_clean_502() {
    let mock = tls_mock().await;
    // Another mock's CA: valid PEM, but it did not sign this mock's certificate.
    let other = tls_mock().await;
    let other_ca = other.ca_pem().expect("a TLS mock has a CA");
    let gw = Gateway::start(&mock.base_url(), &other_ca).await;

    let (status, body) = gw.chat(false).await;
    assert_eq!(status, 502, "body: {body}");
    let v = parse(&body);
    let err = &v["error"];
    assert_eq!(err["code"], "upstream_unreachable", "{v}");
    assert!(err["message"].is_string(), "{v}");
    assert!(err["type"].is_string(), "{v}");
    assert!(err.get("param").is_some(), "{v}");
    let mock_addr = format!("127.0.0.1:{}", mock.addr().port());
    assert!(
        !body.contains(&mock_addr),
        "error leaks the upstream address: {body}"
    );
    assert!(
        !body.contains(UPSTREAM_KEY),
        "error leaks the upstream key: {body}"
    );
    assert!(
        mock.requests().is_empty(),
        "no request may reach an untrusted upstream"
    );
}
