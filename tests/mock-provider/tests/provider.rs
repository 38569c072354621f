//! End-to-end tests of the mock provider over real loopback sockets, with a deliberately dumb
//! HTTP/1.1 client (plain `TcpStream`) so that framing is observed exactly as sent.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tollgate_mock_provider::{Fault, MockProvider, Options};

/// Upper bound for any single response in these tests.
const TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_REPLY: &str = "This is a mock response from the tollgate test provider.";

// ---------------------------------------------------------------------------------------------
// A minimal HTTP/1.1 client

#[derive(Debug)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    /// The body (de-chunked).
    body: Vec<u8>,
    /// Each HTTP chunk of a chunked body, with the time it was fully received.
    chunks: Vec<(Vec<u8>, Instant)>,
    /// The body ended as its framing says (terminating chunk / full content-length).
    complete: bool,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// The `data:` payloads of an SSE body, in order.
    fn events(&self) -> Vec<String> {
        let text = std::str::from_utf8(&self.body).expect("utf-8 SSE body");
        assert!(
            text.is_empty() || text.ends_with("\n\n"),
            "SSE body does not end with a blank line: {text:?}"
        );
        text.split_terminator("\n\n")
            .map(|event| {
                event
                    .strip_prefix("data: ")
                    .unwrap_or_else(|| panic!("not a data event: {event:?}"))
                    .to_owned()
            })
            .collect()
    }
}

struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Client {
        Client {
            stream: TcpStream::connect(addr).await.expect("connect to mock"),
            buf: Vec::new(),
        }
    }

    async fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("send");
    }

    /// Sends a request with `host` and `content-length` (when there is a body).
    async fn send(&mut self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) {
        let mut req = format!("{method} {path} HTTP/1.1\r\nhost: mock\r\n");
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        if !body.is_empty() {
            req.push_str(&format!("content-length: {}\r\n", body.len()));
        }
        req.push_str("\r\n");
        let mut bytes = req.into_bytes();
        bytes.extend_from_slice(body);
        self.send_raw(&bytes).await;
    }

    async fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        self.send(method, path, headers, body).await;
        self.response().await
    }

    async fn post_json(&mut self, path: &str, body: &Value) -> Response {
        let body = serde_json::to_vec(body).unwrap();
        self.request("POST", path, &[("content-type", "application/json")], &body)
            .await
    }

    /// More bytes into the buffer; false at EOF.
    async fn more(&mut self) -> bool {
        let mut tmp = [0u8; 16 * 1024];
        match self.stream.read(&mut tmp).await {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&tmp[..n]);
                true
            }
        }
    }

    /// Ensures `n` bytes are buffered; false at EOF.
    async fn fill(&mut self, n: usize) -> bool {
        while self.buf.len() < n {
            if !self.more().await {
                return false;
            }
        }
        true
    }

    /// Takes one CRLF-terminated line; None at EOF.
    async fn line(&mut self) -> Option<String> {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8(self.buf[..i].to_vec()).unwrap();
                self.buf.drain(..i + 2);
                return Some(line);
            }
            if !self.more().await {
                return None;
            }
        }
    }

    /// Reads one response (panics if none arrives within [`TIMEOUT`]).
    async fn response(&mut self) -> Response {
        timeout(TIMEOUT, self.read_response())
            .await
            .expect("response within the timeout")
    }

    async fn read_response(&mut self) -> Response {
        let status_line = self.line().await.expect("status line before EOF");
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
        let mut headers = Vec::new();
        loop {
            let line = self.line().await.expect("header line before EOF");
            if line.is_empty() {
                break;
            }
            let (k, v) = line.split_once(':').expect("header line with a colon");
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
        let mut resp = Response {
            status,
            headers,
            body: Vec::new(),
            chunks: Vec::new(),
            complete: false,
        };
        if resp.header("transfer-encoding") == Some("chunked") {
            loop {
                let Some(size_line) = self.line().await else {
                    return resp;
                };
                let size = usize::from_str_radix(size_line.trim(), 16).expect("chunk size");
                if size == 0 {
                    resp.complete = self.line().await == Some(String::new());
                    return resp;
                }
                if !self.fill(size + 2).await {
                    resp.body.extend_from_slice(&self.buf);
                    return resp;
                }
                let chunk: Vec<u8> = self.buf.drain(..size + 2).take(size).collect();
                resp.body.extend_from_slice(&chunk);
                resp.chunks.push((chunk, Instant::now()));
            }
        } else if let Some(len) = resp.header("content-length") {
            let len: usize = len.parse().unwrap();
            resp.complete = self.fill(len).await;
            let n = len.min(self.buf.len());
            resp.body = self.buf.drain(..n).collect();
        } else {
            while self.more().await {}
            resp.body = std::mem::take(&mut self.buf);
            resp.complete = true;
        }
        resp
    }

    /// True if the server closes the connection within `wait` (no bytes arrive first).
    async fn closed_within(&mut self, wait: Duration) -> bool {
        matches!(timeout(wait, self.more()).await, Ok(false))
    }
}

fn chat_body(messages: Value) -> Value {
    json!({"model": "gpt-4o-2024-08-06", "messages": messages})
}

fn words(s: &str) -> usize {
    s.split_whitespace().count()
}

// ---------------------------------------------------------------------------------------------
// Chat completions

#[tokio::test]
async fn chat_non_stream_answer_and_usage() {
    let mock = MockProvider::start(Options {
        api_key: Some("sk-up".into()),
        ..Options::default()
    })
    .await;
    assert_eq!(mock.base_url(), format!("http://{}/v1", mock.addr()));
    let mut c = Client::connect(mock.addr()).await;
    let body = serde_json::to_vec(&chat_body(json!([
        {"role": "system", "content": "You are a terse assistant."},
        {"role": "user", "content": [{"type": "text", "text": "Hello there"},
                                     {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]},
    ])))
    .unwrap();
    let r = c
        .request(
            "POST",
            "/v1/chat/completions?trace=1",
            &[
                ("content-type", "application/json"),
                ("authorization", "Bearer sk-up"),
            ],
            &body,
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert!(r.complete);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("x-request-id"), Some("req_1"));
    let v = r.json();
    assert_eq!(v["id"], "chatcmpl-mock1");
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["created"], 1_700_000_000);
    assert_eq!(v["model"], "gpt-4o-2024-08-06");
    let choice = &v["choices"][0];
    assert_eq!(choice["index"], 0);
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["message"]["content"], DEFAULT_REPLY);
    assert_eq!(choice["finish_reason"], "stop");
    // (3 + 5) + (3 + 2): 3 per message plus the words of string content and text parts.
    assert_eq!(v["usage"]["prompt_tokens"], 13);
    assert_eq!(v["usage"]["completion_tokens"], words(DEFAULT_REPLY));
    assert_eq!(v["usage"]["total_tokens"], 13 + words(DEFAULT_REPLY));

    let reqs = mock.requests();
    assert_eq!(reqs.len(), 1);
    let req = &reqs[0];
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, "/v1/chat/completions?trace=1");
    assert_eq!(req.header("Authorization"), Some("Bearer sk-up"));
    assert_eq!(req.header("host"), Some("mock"));
    assert_eq!(&req.body[..], &body[..]);
    assert_eq!(req.json()["model"], "gpt-4o-2024-08-06");
    assert!(req.problems.is_empty(), "{:?}", req.problems);

    mock.clear_requests();
    assert!(mock.requests().is_empty());
}

#[tokio::test]
async fn echo_max_tokens_and_fixed_reply() {
    let mock = MockProvider::start(Options::default()).await;
    let mut c = Client::connect(mock.addr()).await;
    let r = c
        .post_json(
            "/v1/chat/completions",
            &json!({"model": "m", "max_completion_tokens": 3, "messages": [
                {"role": "user", "content": "echo: not this"},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
                    "function": {"name": "f", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "42"},
                {"role": "user", "content": "  echo:  one two\tthree  four  "},
            ]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let v = r.json();
    assert_eq!(v["choices"][0]["message"]["content"], "one two three");
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    assert_eq!(v["usage"]["completion_tokens"], 3);
    // 4 messages * 3 + words 3 + 0 + 1 + 5
    assert_eq!(v["usage"]["prompt_tokens"], 21);
    // Keep-alive: the second request on the same connection gets the next number.
    assert_eq!(r.header("x-request-id"), Some("req_1"));

    let r = c
        .post_json(
            "/v1/chat/completions",
            &json!({"model": "m", "messages": [{"role": "user", "content": "echo: a b"}], "max_tokens": 5}),
        )
        .await;
    assert_eq!(r.header("x-request-id"), Some("req_2"));
    assert_eq!(r.json()["choices"][0]["message"]["content"], "a b");
    assert_eq!(r.json()["choices"][0]["finish_reason"], "stop");
    assert_eq!(r.json()["id"], "chatcmpl-mock2");

    let fixed = MockProvider::start(Options {
        reply: Some("fixed words".into()),
        ..Options::default()
    })
    .await;
    let mut c = Client::connect(fixed.addr()).await;
    let r = c
        .post_json(
            "/v1/chat/completions",
            &chat_body(json!([{"role": "user", "content": "echo: x"}])),
        )
        .await;
    assert_eq!(r.json()["choices"][0]["message"]["content"], "fixed words");
}

#[tokio::test]
async fn chat_stream_event_sequence_with_usage() {
    let mock = MockProvider::start(Options::default()).await;
    let mut c = Client::connect(mock.addr()).await;
    let mut body = chat_body(json!([{"role": "user", "content": "echo: Hello brave new world"}]));
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let r = c.post_json("/v1/chat/completions", &body).await;
    assert_eq!(r.status, 200);
    assert!(r.complete, "stream must end with the terminating chunk");
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));

    let events = r.events();
    // role chunk, 4 words, finish chunk, usage chunk, [DONE]
    assert_eq!(events.len(), 8, "{events:#?}");
    // One HTTP chunk per SSE event.
    assert_eq!(r.chunks.len(), events.len());
    for (chunk, _) in &r.chunks {
        assert!(chunk.starts_with(b"data: ") && chunk.ends_with(b"\n\n"));
    }
    assert_eq!(events.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = events[..7]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    for c in &chunks {
        assert_eq!(c["id"], "chatcmpl-mock1");
        assert_eq!(c["object"], "chat.completion.chunk");
        assert_eq!(c["created"], 1_700_000_000);
        assert_eq!(c["model"], "gpt-4o-2024-08-06");
    }
    assert_eq!(
        chunks[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": ""})
    );
    let text: String = chunks[1..5]
        .iter()
        .map(|c| c["choices"][0]["delta"]["content"].as_str().unwrap())
        .collect();
    assert_eq!(text, "Hello brave new world");
    assert_eq!(chunks[2]["choices"][0]["delta"]["content"], " brave");
    for c in &chunks[..5] {
        assert_eq!(c["choices"][0]["finish_reason"], Value::Null);
    }
    assert_eq!(chunks[5]["choices"][0]["delta"], json!({}));
    assert_eq!(chunks[5]["choices"][0]["finish_reason"], "stop");
    for c in &chunks[..6] {
        assert!(c.as_object().unwrap().contains_key("usage"));
        assert_eq!(c["usage"], Value::Null);
    }
    assert_eq!(chunks[6]["choices"], json!([]));
    assert_eq!(chunks[6]["usage"]["prompt_tokens"], 3 + 5);
    assert_eq!(chunks[6]["usage"]["completion_tokens"], 4);
    assert_eq!(chunks[6]["usage"]["total_tokens"], 12);

    // Without include_usage: no usage anywhere, no usage chunk.
    body.as_object_mut().unwrap().remove("stream_options");
    let r = c.post_json("/v1/chat/completions", &body).await;
    let events = r.events();
    assert_eq!(events.len(), 7);
    for e in &events[..6] {
        let v: Value = serde_json::from_str(e).unwrap();
        assert!(!v.as_object().unwrap().contains_key("usage"), "{e}");
    }
    assert_eq!(events[6], "[DONE]");
}

#[tokio::test]
async fn token_interval_spaces_events() {
    let interval = Duration::from_millis(40);
    let mock = MockProvider::start(Options {
        token_interval: interval,
        ..Options::default()
    })
    .await;
    let mut c = Client::connect(mock.addr()).await;
    let mut body = chat_body(json!([{"role": "user", "content": "echo: a b c"}]));
    body["stream"] = json!(true);
    let start = Instant::now();
    let r = c.post_json("/v1/chat/completions", &body).await;
    // role, 3 words, finish, [DONE]: 6 events, 5 intervals. (Only lower bounds on time: a busy
    // machine may delay any read.)
    assert_eq!(r.chunks.len(), 6);
    assert!(start.elapsed() >= interval * 5);
    assert!(r.chunks[5].1 - r.chunks[0].1 >= interval * 4);
}

// ---------------------------------------------------------------------------------------------
// Validation

#[tokio::test]
async fn validation_failure_is_400_and_recorded() {
    let mock = MockProvider::start(Options::default()).await;
    let mut c = Client::connect(mock.addr()).await;
    let r = c
        .post_json(
            "/v1/chat/completions",
            &json!({"model": "", "stream": "yes", "max_tokens": -1,
                    "stream_options": {"include_usage": true},
                    "messages": [{"role": "robot", "content": "hi"},
                                 {"role": "user"},
                                 {"role": "tool", "content": "x"},
                                 {"role": "user", "content": [{"text": "no type"}]}]}),
        )
        .await;
    assert_eq!(r.status, 400);
    let v = r.json();
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert!(v["error"].as_object().unwrap().contains_key("param"));
    assert!(v["error"].as_object().unwrap().contains_key("code"));
    let message = v["error"]["message"].as_str().unwrap();

    let reqs = mock.requests();
    assert_eq!(reqs.len(), 1);
    let problems = &reqs[0].problems;
    for needle in [
        "model",
        "stream: must be a boolean",
        "max_tokens",
        "stream_options",
        "messages[0].role",
        "messages[1].content",
        "messages[2].tool_call_id",
        "messages[3].content[0]",
    ] {
        assert!(
            problems.iter().any(|p| p.contains(needle)),
            "{needle} not in {problems:#?}"
        );
        assert!(message.contains(needle), "{needle} not in {message}");
    }

    // Not JSON, wrong content type, missing fields on the other endpoints.
    let r = c
        .request(
            "POST",
            "/v1/chat/completions",
            &[("content-type", "text/plain")],
            b"{nope",
        )
        .await;
    assert_eq!(r.status, 400);
    let r = c.post_json("/v1/completions", &json!({"model": "m"})).await;
    assert_eq!(r.status, 400);
    let r = c
        .post_json("/v1/embeddings", &json!({"model": "m", "input": [1, "a"]}))
        .await;
    assert_eq!(r.status, 400);
    let r = c.post_json("/v1/chat/completions", &json!([1])).await;
    assert_eq!(r.status, 400);
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 5);
    assert!(reqs[1].problems.iter().any(|p| p.contains("content-type")));
    assert!(reqs[1]
        .problems
        .iter()
        .any(|p| p.contains("not valid JSON")));
    assert!(reqs[2]
        .problems
        .iter()
        .any(|p| p.contains("prompt: required")));
    assert!(reqs[3].problems.iter().any(|p| p.starts_with("input:")));
    assert!(reqs[4].problems.iter().any(|p| p.contains("JSON object")));
}

#[tokio::test]
async fn no_validate_answers_anything_parseable() {
    let mock = MockProvider::start(Options {
        validate: false,
        ..Options::default()
    })
    .await;
    let mut c = Client::connect(mock.addr()).await;
    let r = c
        .request(
            "POST",
            "/v1/chat/completions",
            &[],
            br#"{"messages":[{"role":"robot"}]}"#,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["model"], "mock-1");
    assert!(mock.requests()[0].problems.is_empty());
}

#[tokio::test]
async fn auth_routing_and_methods() {
    let mock = MockProvider::start(Options {
        api_key: Some("sk-right".into()),
        ..Options::default()
    })
    .await;
    let mut c = Client::connect(mock.addr()).await;
    let r = c.request("GET", "/v1/models", &[], b"").await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"]["code"], "invalid_api_key");
    let r = c
        .request(
            "GET",
            "/v1/models",
            &[("authorization", "Bearer sk-wrong")],
            b"",
        )
        .await;
    assert_eq!(r.status, 401);
    let r = c
        .request(
            "GET",
            "/v1/models",
            &[("authorization", "Bearer sk-right")],
            b"",
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json(),
        json!({"object": "list", "data": [{"id": "mock-1", "object": "model",
                "created": 1_700_000_000, "owned_by": "tollgate-mock"}]})
    );
    let r = c
        .request(
            "GET",
            "/v1/models/gpt-4o",
            &[("authorization", "Bearer sk-right")],
            b"",
        )
        .await;
    assert_eq!(r.json()["id"], "gpt-4o");
    assert_eq!(r.json()["object"], "model");

    let r = c.request("GET", "/v2/nothing?x=1", &[], b"").await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json(),
        json!({"error": {"message": "Invalid URL (GET /v2/nothing)", "type": "invalid_request_error",
                         "param": null, "code": null}})
    );
    let r = c.request("GET", "/v1/chat/completions", &[], b"").await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("POST"));
    assert!(r.json()["error"]["message"].is_string());

    let reqs = mock.requests();
    assert_eq!(reqs.len(), 6);
    assert!(!reqs[0].problems.is_empty() && !reqs[1].problems.is_empty());
    assert!(reqs[2].problems.is_empty() && reqs[3].problems.is_empty());
    assert!(!reqs[4].problems.is_empty() && !reqs[5].problems.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Framing

#[tokio::test]
async fn large_body_arrives_whole() {
    let mock = MockProvider::start(Options::default()).await;
    let filler = "lorem ".repeat(300 * 1024 / 6);
    let body =
        serde_json::to_vec(&chat_body(json!([{"role": "user", "content": filler}]))).unwrap();
    assert!(body.len() > 300 * 1024);
    let mut c = Client::connect(mock.addr()).await;
    let r = c
        .request(
            "POST",
            "/v1/chat/completions",
            &[("content-type", "application/json")],
            &body,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["usage"]["prompt_tokens"], 3 + 300 * 1024 / 6);
    let reqs = mock.requests();
    assert_eq!(reqs[0].body.len(), body.len());
    assert_eq!(&reqs[0].body[..], &body[..]);
}

#[tokio::test]
async fn chunked_request_body_and_te_with_cl() {
    let mock = MockProvider::start(Options::default()).await;
    let json = br#"{"model":"m","messages":[{"role":"user","content":"echo: ok"}]}"#;
    let (a, b) = json.split_at(20);
    let mut raw = b"POST /v1/chat/completions HTTP/1.1\r\nhost: mock\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
    raw.extend_from_slice(format!("{:x};ext=1\r\n", a.len()).as_bytes());
    raw.extend_from_slice(a);
    raw.extend_from_slice(format!("\r\n{:X}\r\n", b.len()).as_bytes());
    raw.extend_from_slice(b);
    raw.extend_from_slice(b"\r\n0\r\nx-trailer: 1\r\n\r\n");
    let mut c = Client::connect(mock.addr()).await;
    c.send_raw(&raw).await;
    let r = c.response().await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["choices"][0]["message"]["content"], "ok");
    assert_eq!(&mock.requests()[0].body[..], &json[..]);

    // transfer-encoding and content-length together: flagged, 400, connection closed.
    let mut raw = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: mock\r\ncontent-type: application/json\r\ncontent-length: {}\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n",
        json.len(),
        json.len()
    )
    .into_bytes();
    raw.extend_from_slice(json);
    raw.extend_from_slice(b"\r\n0\r\n\r\n");
    c.send_raw(&raw).await;
    let r = c.response().await;
    assert_eq!(r.status, 400);
    assert_eq!(r.header("connection"), Some("close"));
    let req = &mock.requests()[1];
    assert_eq!(&req.body[..], &json[..]);
    assert!(req.header("content-length").is_some());
    assert!(
        req.problems
            .iter()
            .any(|p| p.contains("transfer-encoding") && p.contains("content-length")),
        "{:?}",
        req.problems
    );
    assert!(c.closed_within(Duration::from_secs(2)).await);
}

#[tokio::test]
async fn content_length_mismatches_are_flagged() {
    let mock = MockProvider::start(Options::default()).await;
    let json = br#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#;

    // Too small: the rest of the body follows where the next request should start.
    let mut raw = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: mock\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        json.len() - 10
    )
    .into_bytes();
    raw.extend_from_slice(json);
    let mut c = Client::connect(mock.addr()).await;
    c.send_raw(&raw).await;
    let r = c.response().await;
    assert_eq!(r.status, 400);
    let req = &mock.requests()[0];
    assert_eq!(req.body.len(), json.len() - 10);
    assert!(
        req.problems
            .iter()
            .any(|p| p.contains("content-length") && p.contains("10 more bytes")),
        "{:?}",
        req.problems
    );

    // Too large: the body never completes; reported after the stall timeout.
    let mut raw = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: mock\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        json.len() + 10
    )
    .into_bytes();
    raw.extend_from_slice(json);
    let mut c = Client::connect(mock.addr()).await;
    c.send_raw(&raw).await;
    let r = c.response().await;
    assert_eq!(r.status, 400);
    let req = &mock.requests()[1];
    assert_eq!(&req.body[..], &json[..]);
    assert!(
        req.problems
            .iter()
            .any(|p| p.contains(&format!("only {} body bytes", json.len()))),
        "{:?}",
        req.problems
    );
}

#[tokio::test]
async fn http11_without_host_is_flagged() {
    let mock = MockProvider::start(Options::default()).await;
    let mut c = Client::connect(mock.addr()).await;
    c.send_raw(b"GET /v1/models HTTP/1.1\r\n\r\n").await;
    let r = c.response().await;
    assert_eq!(r.status, 400);
    assert!(mock.requests()[0].problems[0].contains("host"));
}

// ---------------------------------------------------------------------------------------------
// Faults

#[tokio::test]
async fn status_fault_with_retry_after_then_normal_service() {
    let mock = MockProvider::start(Options::default()).await;
    mock.push_fault(Fault::Status {
        status: 429,
        headers: vec![("retry-after".into(), "2".into())],
        body: None,
    });
    let body = chat_body(json!([{"role": "user", "content": "hi"}]));
    let mut c = Client::connect(mock.addr()).await;
    let r = c.post_json("/v1/chat/completions", &body).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("2"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    let v = r.json();
    assert_eq!(v["error"]["code"], "rate_limit_exceeded");
    assert!(v["error"]["message"].is_string());

    let r = c.post_json("/v1/chat/completions", &body).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["choices"][0]["message"]["content"], DEFAULT_REPLY);

    // Both recorded, neither with problems; the faulted one too.
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 2);
    assert!(reqs.iter().all(|r| r.problems.is_empty()));

    // Queue order, custom bodies, default 5xx bodies.
    mock.push_fault(Fault::Status {
        status: 503,
        headers: vec![],
        body: None,
    });
    mock.push_fault(Fault::Status {
        status: 500,
        headers: vec![("content-type".into(), "text/plain".into())],
        body: Some("boom".into()),
    });
    let r = c.post_json("/v1/chat/completions", &body).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.json()["error"]["code"], "overloaded");
    let r = c.post_json("/v1/chat/completions", &body).await;
    assert_eq!(r.status, 500);
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(r.body, b"boom");
    let r = c.post_json("/v1/chat/completions", &body).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn fault_always_applies_after_the_queue() {
    let mock = MockProvider::start(Options::default()).await;
    mock.set_fault_always(Some(Fault::Status {
        status: 500,
        headers: vec![],
        body: None,
    }));
    mock.push_fault(Fault::Status {
        status: 429,
        headers: vec![],
        body: None,
    });
    let mut c = Client::connect(mock.addr()).await;
    assert_eq!(c.request("GET", "/v1/models", &[], b"").await.status, 429);
    let r = c.request("GET", "/v1/models", &[], b"").await;
    assert_eq!(r.status, 500);
    assert_eq!(r.json()["error"]["type"], "server_error");
    assert_eq!(c.request("GET", "/v1/models", &[], b"").await.status, 500);
    mock.set_fault_always(None);
    assert_eq!(c.request("GET", "/v1/models", &[], b"").await.status, 200);
}

#[tokio::test]
async fn disconnect_after_cuts_the_stream() {
    let mock = MockProvider::start(Options::default()).await;
    mock.push_fault(Fault::DisconnectAfter { events: 3 });
    let mut body = chat_body(json!([{"role": "user", "content": "hi"}]));
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let mut c = Client::connect(mock.addr()).await;
    let r = c.post_json("/v1/chat/completions", &body).await;
    assert_eq!(r.status, 200);
    assert!(!r.complete, "no terminating chunk after a cut");
    let events = r.events();
    assert_eq!(events.len(), 3);
    assert!(events.iter().all(|e| e != "[DONE]"));
    assert!(c.closed_within(Duration::from_secs(2)).await);
    assert_eq!(mock.requests().len(), 1);

    // More events asked for than exist: everything but [DONE].
    mock.push_fault(Fault::DisconnectAfter { events: 1000 });
    let mut c = Client::connect(mock.addr()).await;
    let r = c.post_json("/v1/chat/completions", &body).await;
    assert!(!r.complete);
    let events = r.events();
    assert_eq!(events.len(), words(DEFAULT_REPLY) + 3);
    assert_ne!(events.last().unwrap(), "[DONE]");

    // Service resumes on a new connection.
    let mut c = Client::connect(mock.addr()).await;
    let r = c.post_json("/v1/chat/completions", &body).await;
    assert!(r.complete);
    assert_eq!(r.events().last().unwrap(), "[DONE]");
}

#[tokio::test]
async fn disconnect_after_truncates_a_plain_body() {
    let mock = MockProvider::start(Options::default()).await;
    mock.push_fault(Fault::DisconnectAfter { events: 0 });
    let mut c = Client::connect(mock.addr()).await;
    let r = c
        .post_json(
            "/v1/chat/completions",
            &chat_body(json!([{"role": "user", "content": "hi"}])),
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(!r.complete);
    let full: usize = r.header("content-length").unwrap().parse().unwrap();
    assert_eq!(r.body.len(), full / 2);
}

#[tokio::test]
async fn hang_until_the_client_leaves_then_recover() {
    let mock = MockProvider::start(Options::default()).await;
    mock.push_fault(Fault::Hang);
    let mut c = Client::connect(mock.addr()).await;
    c.send("GET", "/v1/models", &[], b"").await;
    assert!(timeout(Duration::from_millis(300), c.read_response())
        .await
        .is_err());
    drop(c);
    assert_eq!(mock.requests().len(), 1, "recorded before the fault");
    let mut c = Client::connect(mock.addr()).await;
    assert_eq!(c.request("GET", "/v1/models", &[], b"").await.status, 200);
}

#[tokio::test]
async fn delay_headers_and_slow_drip() {
    let mock = MockProvider::start(Options::default()).await;
    let delay = Duration::from_millis(150);
    mock.push_fault(Fault::DelayHeaders(delay));
    let mut c = Client::connect(mock.addr()).await;
    let start = Instant::now();
    let r = c.request("GET", "/v1/models", &[], b"").await;
    assert_eq!(r.status, 200);
    assert!(start.elapsed() >= delay);

    let interval = Duration::from_millis(30);
    mock.push_fault(Fault::SlowDrip { interval });
    let mut body = chat_body(json!([{"role": "user", "content": "echo: x y"}]));
    body["stream"] = json!(true);
    let start = Instant::now();
    let r = c.post_json("/v1/chat/completions", &body).await;
    assert!(r.complete);
    assert_eq!(r.chunks.len(), 5);
    assert!(start.elapsed() >= interval * 5);

    mock.push_fault(Fault::SlowDrip { interval });
    let start = Instant::now();
    let r = c.request("GET", "/v1/models", &[], b"").await;
    assert!(r.complete);
    assert!(start.elapsed() >= interval * 4);
    assert_eq!(r.json()["object"], "list");
}

// ---------------------------------------------------------------------------------------------
// Other endpoints, lifecycle

#[tokio::test]
async fn legacy_completions() {
    let mock = MockProvider::start(Options::default()).await;
    let mut c = Client::connect(mock.addr()).await;
    let r = c
        .post_json(
            "/v1/completions",
            &json!({"model": "davinci-002", "prompt": "echo: one two three", "max_tokens": 2}),
        )
        .await;
    let v = r.json();
    assert_eq!(v["object"], "text_completion");
    assert_eq!(v["id"], "cmpl-mock1");
    assert_eq!(v["choices"][0]["text"], "one two");
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    assert_eq!(
        v["usage"],
        json!({"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6})
    );

    let r = c
        .post_json(
            "/v1/completions",
            &json!({"model": "m", "prompt": [1, 2, 3], "stream": true, "stream_options": {"include_usage": true}}),
        )
        .await;
    let events = r.events();
    assert_eq!(events.len(), words(DEFAULT_REPLY) + 3);
    let finish: Value = serde_json::from_str(&events[events.len() - 3]).unwrap();
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
    let usage: Value = serde_json::from_str(&events[events.len() - 2]).unwrap();
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"]["prompt_tokens"], 3);
    assert_eq!(events.last().unwrap(), "[DONE]");
}

#[tokio::test]
async fn embeddings_float_and_base64_agree() {
    let mock = MockProvider::start(Options::default()).await;
    let mut c = Client::connect(mock.addr()).await;
    let floats = c
        .post_json(
            "/v1/embeddings",
            &json!({"model": "text-embedding-3-small", "input": ["a b c", "d"]}),
        )
        .await
        .json();
    assert_eq!(floats["object"], "list");
    assert_eq!(floats["model"], "text-embedding-3-small");
    assert_eq!(
        floats["usage"],
        json!({"prompt_tokens": 4, "total_tokens": 4})
    );
    let data = floats["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(data[1]["index"], 1);
    assert_eq!(data[0]["object"], "embedding");
    let v0: Vec<f32> = serde_json::from_value(data[0]["embedding"].clone()).unwrap();
    assert_eq!(v0.len(), 8);
    assert_ne!(data[0]["embedding"], data[1]["embedding"]);

    let again = c
        .post_json(
            "/v1/embeddings",
            &json!({"model": "x", "input": "a b c", "encoding_format": "base64"}),
        )
        .await
        .json();
    let b64 = again["data"][0]["embedding"].as_str().unwrap();
    let bytes = decode_base64(b64);
    let decoded: Vec<f32> = bytes
        .chunks(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(decoded, v0);

    let dims = c
        .post_json(
            "/v1/embeddings",
            &json!({"model": "x", "input": [[1, 2], [3]], "dimensions": 3}),
        )
        .await
        .json();
    assert_eq!(dims["data"][0]["embedding"].as_array().unwrap().len(), 3);
    assert_eq!(dims["usage"]["prompt_tokens"], 3);
}

fn decode_base64(s: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("bad base64 {c}"),
    };
    let mut out = Vec::new();
    for quad in s.as_bytes().chunks(4) {
        let digits: Vec<u8> = quad
            .iter()
            .filter(|&&c| c != b'=')
            .map(|&c| value(c))
            .collect();
        let n = digits
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &d)| n | (u32::from(d) << (18 - 6 * i)));
        out.extend_from_slice(&n.to_be_bytes()[1..digits.len()]);
    }
    out
}

#[tokio::test]
async fn dropping_the_mock_closes_everything() {
    let mock = MockProvider::start(Options::default()).await;
    let addr = mock.addr();
    mock.push_fault(Fault::Hang);
    let mut hung = Client::connect(addr).await;
    hung.send("GET", "/v1/models", &[], b"").await;
    // Wait until the server has the request.
    let start = Instant::now();
    while mock.requests().is_empty() {
        assert!(start.elapsed() < TIMEOUT);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    drop(mock);
    assert!(hung.closed_within(Duration::from_secs(2)).await);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn malformed_head_is_recorded() {
    let mock = MockProvider::start(Options::default()).await;
    let mut c = Client::connect(mock.addr()).await;
    c.send_raw(b"GET /v1/models HTTP/1.1\r\nbad header line\r\n\r\n")
        .await;
    let r = c.response().await;
    assert_eq!(r.status, 400);
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 1);
    assert!(
        reqs[0].problems[0].contains("malformed"),
        "{:?}",
        reqs[0].problems
    );
}
