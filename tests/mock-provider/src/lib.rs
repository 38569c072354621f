//! A mock OpenAI-compatible LLM provider for tollgate's tests and benchmarks.
//!
//! It speaks the OpenAI wire formats (the project research notes, providers.md §1), checks every
//! request it gets, records every request, and can be told to misbehave (fault injection).
//! Everything it answers is deterministic.
//!
//! # How to use
//!
//! ```no_run
//! use tollgate_mock_provider::{Fault, MockProvider, Options};
//!
//! # async fn demo() {
//! let mock = MockProvider::start(Options {
//!     api_key: Some("sk-upstream-test".into()),
//!     ..Options::default()
//! })
//! .await;
//! let upstream = mock.base_url(); // "http://127.0.0.1:PORT/v1"
//!
//! // The next request gets a 429 with `retry-after: 2` and an OpenAI rate-limit error body;
//! // the one after that is answered normally.
//! mock.push_fault(Fault::Status {
//!     status: 429,
//!     headers: vec![("retry-after".into(), "2".into())],
//!     body: None,
//! });
//!
//! // ... send traffic through the gateway ...
//!
//! let reqs = mock.requests();
//! assert!(reqs.iter().all(|r| r.problems.is_empty()), "{:?}", reqs);
//! assert_eq!(reqs[0].header("authorization"), Some("Bearer sk-upstream-test"));
//! # }
//! ```
//!
//! [`MockProvider::start`] binds `127.0.0.1:0` and serves from a task on the calling tokio
//! runtime; dropping the [`MockProvider`] closes the listener and every open connection.
//! [`MockProvider::bind`] listens on a chosen address.
//!
//! Every accepted TCP connection gets a number (1, 2, ... in accept order), recorded as
//! [`RecordedRequest::connection`]: two requests with the same number came over one connection,
//! so a test can tell whether a client reuses (pools) its connections.
//!
//! # TLS
//!
//! With [`Options::tls`] the mock serves HTTPS (TLS 1.2 and 1.3, ALPN `http/1.1`). At start it
//! makes a fresh CA and a server certificate for `localhost` and `127.0.0.1` signed by it;
//! [`MockProvider::ca_pem`] is that CA certificate (PEM) for the client's trust store, and
//! [`MockProvider::base_url`] is `https://localhost:PORT/v1`. The server name the client sent
//! (SNI) is recorded as [`RecordedRequest::sni`]. A connection whose handshake fails (or does
//! not finish within 10 s) is closed without recording anything.
//!
//! ```no_run
//! # use tollgate_mock_provider::{MockProvider, Options};
//! # async fn demo() {
//! let mock = MockProvider::start(Options { tls: true, ..Options::default() }).await;
//! let ca = mock.ca_pem().expect("a TLS mock has a CA"); // e.g. for SSL_CERT_FILE
//! let upstream = mock.base_url(); // "https://localhost:PORT/v1"
//! # }
//! ```
//! The `tollgate-mock-provider` binary
//! (`--listen ADDR [--api-key K] [--reply TEXT] [--token-interval-ms N] [--no-validate]`) is the
//! same server for load tests; it prints `listening on ADDR` once bound and records nothing.
//!
//! # Endpoints
//!
//! | Request | Answer |
//! |---|---|
//! | `POST /v1/chat/completions` | `chat.completion`, or a `chat.completion.chunk` SSE stream when `"stream": true` |
//! | `POST /v1/completions` | legacy `text_completion`, streamed when `"stream": true` |
//! | `POST /v1/embeddings` | a list of `embedding` objects |
//! | `POST /v1/responses` | OpenAI Responses: a `response` object, or its event stream when `"stream": true` (rules in `responses.rs`) |
//! | `POST /v1/messages` | Anthropic Messages: a `message`, or its SSE event stream when `"stream": true` (see "Anthropic") |
//! | `POST /v1/messages/count_tokens` | Anthropic token counting: `{"input_tokens": N}` |
//! | `GET /v1/models` | `{"object":"list","data":[{"id":"mock-1","object":"model","created":1700000000,"owned_by":"tollgate-mock"}]}` |
//! | `GET /v1/models/{id}` | that model object with the requested `id` (everything after `/v1/models/`) |
//! | any other path | 404 `{"error":{"message":"Invalid URL (METHOD /path)","type":"invalid_request_error","param":null,"code":null}}` |
//! | a known path, wrong method | 405 with an `allow` header and an OpenAI-shaped error |
//!
//! Every response carries `x-request-id: req_<n>`, where `n` counts the requests this server has
//! received (from 1, rejected ones included); completion ids are `chatcmpl-mock<n>` (chat) and
//! `cmpl-mock<n>` (legacy), and `created` is always `1700000000`. The response `model` echoes
//! the request's `model`.
//!
//! # Replies
//!
//! The completion text is, in order of preference: [`Options::reply`]; else, if the text of the
//! last `user` message (string content, or its `text` parts joined with `\n`; for legacy
//! completions the prompt, or its last element) starts with `echo:` (after leading whitespace),
//! the rest of it, trimmed; else `This is a mock response from the tollgate test provider.`
//!
//! The reply is split into **tokens = whitespace-separated words**; every word after the first is
//! emitted with one leading space, so the full text is the words joined by single spaces.
//! `max_completion_tokens`, else `max_tokens` (the smaller when both are set) keeps only the first
//! that many words and makes `finish_reason` `"length"`; otherwise it is `"stop"`.
//!
//! # Usage numbers
//!
//! * `completion_tokens` = the number of words emitted.
//! * chat `prompt_tokens` = for every message, **3 + the number of whitespace-separated words in
//!   its text** (a string `content`, plus the `text` of every content part that has one; images,
//!   audio, tool calls and names count 0).
//! * legacy completions `prompt_tokens` = the words of the prompt (every string of a prompt
//!   array; a token array counts one per integer); embeddings likewise over `input`.
//! * `total_tokens` = `prompt_tokens + completion_tokens`.
//!
//! Example: `[{"role":"system","content":"Be brief."},{"role":"user","content":"Say hi"}]` has
//! `prompt_tokens` = (3 + 2) + (3 + 2) = 10; the default reply has 10 words, so
//! `completion_tokens` = 10 and `total_tokens` = 20.
//!
//! Chat responses carry `prompt_tokens_details` / `completion_tokens_details` (all zero),
//! `service_tier: "default"` and `system_fingerprint: "fp_tollgate_mock"`, like OpenAI's.
//!
//! # Streaming
//!
//! Exactly as providers.md §1.3: `content-type: text/event-stream`, `transfer-encoding: chunked`,
//! one `data: {chunk}\n\n` event per HTTP chunk, each sent with its own write (so a client sees
//! them as separate reads when an interval is set):
//!
//! 1. `"delta":{"role":"assistant","content":""}`;
//! 2. one chunk per word, `"delta":{"content":" word"}`;
//! 3. `"delta":{}` with the `finish_reason`;
//! 4. only if `stream_options.include_usage` is true: a chunk with `"choices":[]` and the usage
//!    (and then every earlier chunk has `"usage":null`);
//! 5. `data: [DONE]`.
//!
//! Legacy completions stream `text_completion` chunks (`"choices":[{"text":" word","index":0,
//! "logprobs":null,"finish_reason":null}]`, then `"text":""` with the `finish_reason`), then the
//! same optional usage chunk and `[DONE]`. [`Options::token_interval`] is slept between events.
//!
//! There is always exactly one choice (`n` and batched prompts are not expanded), and no tool
//! calls are ever generated.
//!
//! # Embeddings
//!
//! One entry per input (a string, an array of strings, an array of token integers, or an array
//! of token arrays). Each vector has 8 floats (or `dimensions` when the request sets it),
//! derived from a hash of the input and scaled to unit length; `"encoding_format":"base64"`
//! returns the same floats as base64 of little-endian `f32`s.
//!
//! # Validation
//!
//! With [`Options::validate`] (the default) a request is rejected with a 400 OpenAI error whose
//! message lists every problem, and the problems are stored in [`RecordedRequest::problems`]:
//!
//! * HTTP framing: a `content-length` that does not match the body received (the body stops
//!   short — the connection ends, or nothing more arrives for 2 s — or bytes that don't start a
//!   new request follow it at once), `transfer-encoding` together with
//!   `content-length`, a `transfer-encoding` that is not `chunked`, a malformed chunked body, a
//!   malformed request head, an HTTP/1.1 request without `host`. A request whose framing is
//!   broken is answered and the connection closed.
//! * POST bodies: `content-type: application/json`; a JSON object.
//! * chat: `model` a non-empty string; `messages` a non-empty array of objects with `role` in
//!   {system, developer, user, assistant, tool}; `content` a string or an array of objects with
//!   a string `type` (null/absent only for an assistant message with `tool_calls`); tool messages
//!   need `tool_call_id`.
//! * chat and legacy completions: `stream` a bool (or null); `stream_options` only with
//!   `"stream": true`; `max_tokens` / `max_completion_tokens` non-negative integers (or null).
//! * legacy completions: `model`, `prompt` (string, string array, token array, token arrays).
//! * embeddings: `model`, `input` (same forms, non-empty), `encoding_format` `float`/`base64`,
//!   `dimensions` a positive integer.
//!
//! Unknown routes and wrong methods are recorded with a problem too, so a test can assert that
//! every recorded request has none. Bodies of any size up to 256 MiB are accepted.
//!
//! Authentication is separate from `validate`: when [`Options::api_key`] is set, a request whose
//! `authorization` header is not exactly `Bearer <key>` gets a 401 `invalid_api_key` error (and a
//! recorded problem).
//!
//! # Anthropic
//!
//! `POST /v1/messages` speaks Anthropic's Messages API (providers.md §3): with
//! [`Options::api_key`] it requires `x-api-key: <key>` (401 `authentication_error`); when
//! validating it requires `anthropic-version`, `model`, `max_tokens` >= 1, a non-empty
//! `messages` array alternating user/assistant from `user`, well-formed content blocks, a
//! `system` string or text blocks, and no fields the API does not know (e.g. `stream_options`).
//! Errors are Anthropic-shaped (`{"type":"error","error":{"type":..,"message":..}}`), also for
//! [`Fault::Status`] without a body (529 → `overloaded_error`). Replies follow the rules above;
//! `usage` has `input_tokens` (3 + words for the system prompt and each message) and
//! `output_tokens`; `stop_reason` is `end_turn` or `max_tokens`. Streams send `message_start`,
//! `content_block_start`, `ping`, one `content_block_delta` (`text_delta`) per word,
//! `content_block_stop`, `message_delta` (stop reason and usage) and `message_stop`.
//! `GET /v1/models` with an `anthropic-version` header answers Anthropic's model list
//! (`claude-mock`) behind the same `x-api-key` check. Extended thinking (a signed `thinking`
//! block first), prompt caching (`cache_read_input_tokens` for text blocks with
//! `cache_control`) and `POST /v1/messages/count_tokens` follow the `anthropic` module's rules;
//! the body of every request is recorded byte for byte ([`RecordedRequest::body`]).
//!
//! # Bedrock
//!
//! `POST /model/{modelId}/converse` and `/converse-stream` speak Bedrock Runtime's Converse API
//! (providers.md §5): SigV4 verification with [`Options::bedrock`], validation
//! (`ValidationException`), and answers as JSON or real `application/vnd.amazon.eventstream`
//! frames cut across writes. See the `bedrock` module for the rules.
//! # Gemini
//!
//! `POST /{version}/models/{model}:generateContent`, `:streamGenerateContent?alt=sse` and
//! `:batchEmbedContents`, and `GET /{version}/models` (any version but `v1`'s bare `/v1/models`,
//! which stays OpenAI's) speak Google's Gemini API (providers.md §4): `x-goog-api-key` auth,
//! Google-shaped errors (a 429 [`Fault::Status`] without a body carries `RetryInfo` with
//! `retryDelay: "3s"`), validation and the rules in the `gemini` module docs.
//!
//! # Faults
//!
//! Each request takes the next [`Fault`] from the queue filled by [`MockProvider::push_fault`]
//! (any endpoint, rejected requests included); when the queue is empty, the fault set with
//! [`MockProvider::set_fault_always`] (if any) applies. The request is recorded before the
//! fault acts. See [`Fault`] for what each one does.

#![warn(missing_docs)]

mod anthropic;
mod bedrock;
mod bedrock_frames;
mod bedrock_validate;
mod compat;
mod gemini;
mod gemini_validate;
mod http1;
mod openai;
mod responses;
mod sigv4;
mod tls;
mod tools;

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

use crate::http1::Conn;

/// A TLS handshake that takes longer than this is abandoned.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How the mock behaves. `Options::default()` validates, checks no key, uses the default reply
/// and streams without delays.
#[derive(Clone, Debug)]
pub struct Options {
    /// The expected key: requests must carry `authorization: Bearer <key>` (else 401
    /// `invalid_api_key`). `None` disables the check.
    pub api_key: Option<String>,
    /// A fixed reply text for every completion (overrides the `echo:` rule).
    pub reply: Option<String>,
    /// Delay between two SSE events of a stream. Default zero.
    pub token_interval: Duration,
    /// Check requests and reject invalid ones with 400 (see the crate docs). Default true.
    pub validate: bool,
    /// Serve HTTPS with a certificate from a CA made at start (see the crate docs, "TLS").
    /// Default false: plain HTTP.
    pub tls: bool,
    /// AWS credentials the Bedrock endpoints (`/model/{id}/converse[-stream]`) check SigV4
    /// signatures against (403 on a bad one). `None` disables the check.
    pub bedrock: Option<BedrockAuth>,
}

/// The credentials a SigV4-signed Bedrock request must be signed with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BedrockAuth {
    /// Must match the `Credential=` scope.
    pub access_key_id: String,
    /// Signs the request.
    pub secret_access_key: String,
    /// When set, `x-amz-security-token` must carry it (and be signed); when not, must be absent.
    pub session_token: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            api_key: None,
            reply: None,
            token_interval: Duration::ZERO,
            validate: true,
            tls: false,
            bedrock: None,
        }
    }
}

/// A misbehaviour applied to one request (or to all, see [`MockProvider::set_fault_always`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status instead. `headers` are added as given (e.g. `retry-after`); a
    /// `body` of `None` means an OpenAI-shaped error matching the status (429
    /// `rate_limit_exceeded`, 500 `server_error`, 503 `overloaded`, ...).
    Status {
        /// HTTP status code.
        status: u16,
        /// Extra response headers, sent as given.
        headers: Vec<(String, String)>,
        /// The body, sent as given (`content-type: application/json` unless `headers` has one).
        body: Option<String>,
    },
    /// Wait this long before sending the response head, then answer normally.
    DelayHeaders(Duration),
    /// Never answer; the connection is closed when the client goes away (or the mock is
    /// dropped).
    Hang,
    /// Streams: send the head and this many SSE events (never the `[DONE]` event), then close
    /// the connection without the terminating chunk. Other responses: send the head (with the
    /// full `content-length`) and the first half of the body, then close.
    DisconnectAfter {
        /// SSE events to send before cutting the connection.
        events: usize,
    },
    /// Answer normally, but wait `interval` before each SSE event (instead of
    /// [`Options::token_interval`]); other responses are sent in 4 pieces with `interval` before
    /// each.
    SlowDrip {
        /// Delay before each event / body piece.
        interval: Duration,
    },
}

/// One request as the mock received it.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    /// `GET`, `POST`, ... (empty if the request head could not be parsed).
    pub method: String,
    /// The request target as sent, including any query string.
    pub path: String,
    /// All header lines in the order received, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body bytes exactly as received (de-chunked if chunked).
    pub body: Bytes,
    /// Why the request was rejected (validation, framing, auth, routing); empty if it was fine.
    pub problems: Vec<String>,
    /// The number of the TCP connection it came on (1, 2, ... in accept order, TLS or not).
    pub connection: u64,
    /// TLS only: the server name the client sent (SNI); `None` without TLS or without SNI
    /// (clients send none for an IP address).
    pub sni: Option<String>,
}

impl RecordedRequest {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON, `Value::Null` if it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// State shared between the handle and the connection tasks.
pub(crate) struct Shared {
    pub(crate) opts: Options,
    counter: AtomicU64,
    connections: AtomicU64,
    recording: AtomicBool,
    requests: Mutex<Vec<RecordedRequest>>,
    faults: Mutex<VecDeque<Fault>>,
    always: Mutex<Option<Fault>>,
}

impl Shared {
    /// The number of this request (1, 2, ...).
    pub(crate) fn next_request_number(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The number of a newly accepted connection (1, 2, ...).
    fn next_connection_number(&self) -> u64 {
        self.connections.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub(crate) fn recording(&self) -> bool {
        self.recording.load(Ordering::Relaxed)
    }

    pub(crate) fn record(&self, req: RecordedRequest) {
        lock(&self.requests).push(req);
    }

    /// The fault for the request being handled, if any.
    pub(crate) fn take_fault(&self) -> Option<Fault> {
        if let Some(f) = lock(&self.faults).pop_front() {
            return Some(f);
        }
        lock(&self.always).clone()
    }
}

/// Locks, ignoring poisoning (a panicking test thread must not wedge the server).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running mock provider. Dropping it stops the server and closes all its connections.
pub struct MockProvider {
    addr: SocketAddr,
    shared: Arc<Shared>,
    /// The CA certificate (PEM) when serving TLS.
    ca_pem: Option<String>,
    task: JoinHandle<()>,
}

impl MockProvider {
    /// Binds `127.0.0.1:0` and serves on the current tokio runtime.
    ///
    /// # Panics
    /// If the loopback port cannot be bound.
    pub async fn start(opts: Options) -> MockProvider {
        let addr = SocketAddr::from(([127, 0, 0, 1], 0));
        MockProvider::bind(addr, opts)
            .await
            .expect("mock provider: bind 127.0.0.1:0")
    }

    /// Binds `addr` and serves on the current tokio runtime. Fails if `addr` cannot be bound
    /// (or, with [`Options::tls`], if the certificates cannot be made).
    pub async fn bind(addr: SocketAddr, opts: Options) -> io::Result<MockProvider> {
        let tls = if opts.tls { Some(tls::setup()?) } else { None };
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (acceptor, ca_pem) = match tls {
            Some(t) => (Some(t.acceptor), Some(t.ca_pem)),
            None => (None, None),
        };
        let shared = Arc::new(Shared {
            opts,
            counter: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            recording: AtomicBool::new(true),
            requests: Mutex::new(Vec::new()),
            faults: Mutex::new(VecDeque::new()),
            always: Mutex::new(None),
        });
        let task = tokio::spawn(accept_loop(listener, shared.clone(), acceptor));
        Ok(MockProvider {
            addr,
            shared,
            ca_pem,
            task,
        })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The OpenAI base URL of this mock: `http://ADDR/v1`, or with [`Options::tls`]
    /// `https://localhost:PORT/v1` (the name the certificate is for).
    pub fn base_url(&self) -> String {
        if self.ca_pem.is_some() {
            format!("https://localhost:{}/v1", self.addr.port())
        } else {
            format!("http://{}/v1", self.addr)
        }
    }

    /// With [`Options::tls`], the PEM of the CA certificate that signed the server's: the one
    /// certificate a client must trust. `None` for a plain-HTTP mock.
    pub fn ca_pem(&self) -> Option<String> {
        self.ca_pem.clone()
    }

    /// Every request received so far, in order (including rejected ones).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        lock(&self.shared.requests).clear();
    }

    /// Turns request recording on (the default) or off (for long load tests: the record grows
    /// without bound).
    pub fn set_recording(&self, on: bool) {
        self.shared.recording.store(on, Ordering::Relaxed);
    }

    /// Queues a fault: the next request (any endpoint) consumes it. First in, first out.
    pub fn push_fault(&self, fault: Fault) {
        lock(&self.shared.faults).push_back(fault);
    }

    /// Sets (or clears) a fault applied to every request while the queue is empty.
    pub fn set_fault_always(&self, fault: Option<Fault>) {
        *lock(&self.shared.always) = fault;
    }
}

impl Drop for MockProvider {
    fn drop(&mut self) {
        // The accept task owns the listener and the JoinSet of connection tasks, so aborting it
        // closes both.
        self.task.abort();
    }
}

impl std::fmt::Debug for MockProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockProvider")
            .field("addr", &self.addr)
            .field("opts", &self.shared.opts)
            .finish_non_exhaustive()
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, tls: Option<TlsAcceptor>) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    let id = shared.next_connection_number();
                    match &tls {
                        None => {
                            let conn = Conn { id, sni: None };
                            conns.spawn(http1::serve_connection(shared.clone(), stream, conn));
                        }
                        Some(acceptor) => {
                            conns.spawn(serve_tls(shared.clone(), acceptor.clone(), stream, id));
                        }
                    }
                }
                // Out of file descriptors and the like: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

/// Completes the TLS handshake (bounded by [`HANDSHAKE_TIMEOUT`]), then serves HTTP/1.1 on it.
async fn serve_tls(shared: Arc<Shared>, acceptor: TlsAcceptor, stream: TcpStream, id: u64) {
    let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(_)) | Err(_) => return,
    };
    let sni = stream.get_ref().1.server_name().map(str::to_owned);
    http1::serve_connection(shared, stream, Conn { id, sni }).await;
}
