//! The mock's HTTPS ([`Options::tls`]) and its connection numbers
//! ([`RecordedRequest::connection`]), over real loopback sockets with a small HTTP/1.1 client
//! that works on a plain `TcpStream` and on a tokio-rustls client stream alike.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;
use tollgate_mock_provider::{MockProvider, Options, RecordedRequest};

/// Upper bound for any connect, handshake or response in these tests.
const TIMEOUT: Duration = Duration::from_secs(10);
const KEY: &str = "sk-upstream-test";
const DEFAULT_REPLY: &str = "This is a mock response from the tollgate test provider.";

// ---------------------------------------------------------------------------------------------
// A minimal HTTP/1.1 client, generic over the stream

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Each chunk of a chunked body with the time it was received.
    chunks: Vec<Instant>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }

    fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("utf-8 body")
    }
}

struct Client<S> {
    stream: S,
    buf: Vec<u8>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    fn new(stream: S) -> Self {
        Client {
            stream,
            buf: Vec::new(),
        }
    }

    async fn post_json(&mut self, path: &str, body: &Value) -> Response {
        let body = serde_json::to_vec(body).unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer {KEY}\r\n\
             content-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(&body);
        self.stream.write_all(&bytes).await.expect("send");
        self.stream.flush().await.expect("flush");
        timeout(TIMEOUT, self.read_response())
            .await
            .expect("response within the timeout")
    }

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

    async fn fill(&mut self, n: usize) {
        while self.buf.len() < n {
            assert!(self.more().await, "connection closed mid-response");
        }
    }

    async fn line(&mut self) -> String {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8(self.buf[..i].to_vec()).unwrap();
                self.buf.drain(..i + 2);
                return line;
            }
            assert!(self.more().await, "connection closed mid-line");
        }
    }

    async fn read_response(&mut self) -> Response {
        let status_line = self.line().await;
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
        let mut headers = Vec::new();
        loop {
            let line = self.line().await;
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
        };
        if resp.header("transfer-encoding") == Some("chunked") {
            loop {
                let size = usize::from_str_radix(self.line().await.trim(), 16).expect("chunk size");
                if size == 0 {
                    assert_eq!(self.line().await, "", "end of the chunked body");
                    return resp;
                }
                self.fill(size + 2).await;
                resp.body.extend_from_slice(&self.buf[..size]);
                resp.chunks.push(Instant::now());
                self.buf.drain(..size + 2);
            }
        }
        let len: usize = resp
            .header("content-length")
            .expect("content-length")
            .parse()
            .unwrap();
        self.fill(len).await;
        resp.body = self.buf.drain(..len).collect();
        resp
    }
}

async fn tcp(mock: &MockProvider) -> TcpStream {
    timeout(TIMEOUT, TcpStream::connect(mock.addr()))
        .await
        .expect("connect within the timeout")
        .expect("connect to the mock")
}

/// A rustls client trusting exactly the CA certificates in `ca_pem`.
fn connector(ca_pem: &str) -> TlsConnector {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.expect("PEM certificate")).expect("CA added");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

/// The client configuration of [`connector`].
fn connector_config(ca_pem: &str) -> Arc<ClientConfig> {
    connector(ca_pem).config().clone()
}

/// Connects to `mock` and does the TLS handshake for `name`, trusting `ca_pem`.
async fn tls_connect(
    mock: &MockProvider,
    ca_pem: &str,
    name: &str,
) -> std::io::Result<TlsStream<TcpStream>> {
    let server_name = ServerName::try_from(name.to_owned()).expect("server name");
    let stream = tcp(mock).await;
    timeout(TIMEOUT, connector(ca_pem).connect(server_name, stream))
        .await
        .expect("handshake within the timeout")
}

async fn tls_mock(opts: Options) -> MockProvider {
    MockProvider::start(Options {
        tls: true,
        api_key: Some(KEY.into()),
        ..opts
    })
    .await
}

fn chat(stream: bool) -> Value {
    json!({
        "model": "gpt-4o-2024-08-06",
        "messages": [{"role": "user", "content": "Say hi"}],
        "stream": stream,
    })
}

fn assert_clean(reqs: &[RecordedRequest]) {
    assert!(reqs.iter().all(|r| r.problems.is_empty()), "{reqs:?}");
}

// ---------------------------------------------------------------------------------------------
// TLS

#[tokio::test]
async fn tls_serves_chat_and_records_the_sni() {
    let mock = tls_mock(Options::default()).await;
    let ca = mock.ca_pem().expect("a TLS mock has a CA");
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");
    assert_eq!(
        mock.base_url(),
        format!("https://localhost:{}/v1", mock.addr().port())
    );

    let stream = tls_connect(&mock, &ca, "localhost")
        .await
        .expect("handshake with the mock's CA trusted");
    assert_eq!(
        stream.get_ref().1.alpn_protocol(),
        None,
        "client sent no ALPN"
    );
    let mut client = Client::new(stream);

    let resp = client.post_json("/v1/chat/completions", &chat(false)).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let v = resp.json();
    assert_eq!(v["choices"][0]["message"]["content"], DEFAULT_REPLY);
    assert_eq!(v["model"], "gpt-4o-2024-08-06");

    // A stream on the same connection: chunked SSE over TLS, ending with [DONE].
    let resp = client.post_json("/v1/chat/completions", &chat(true)).await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some("text/event-stream"));
    assert!(resp.text().ends_with("data: [DONE]\n\n"), "{}", resp.text());

    let reqs = mock.requests();
    assert_eq!(reqs.len(), 2);
    assert_clean(&reqs);
    for r in &reqs {
        assert_eq!(r.sni.as_deref(), Some("localhost"));
        assert_eq!(r.connection, reqs[0].connection);
        assert_eq!(r.header("authorization"), Some("Bearer sk-upstream-test"));
    }
}

#[tokio::test]
async fn tls_certificate_covers_the_loopback_ip_without_sni() {
    let mock = tls_mock(Options::default()).await;
    let ca = mock.ca_pem().unwrap();
    let stream = tls_connect(&mock, &ca, "127.0.0.1")
        .await
        .expect("the certificate names 127.0.0.1");
    let resp = Client::new(stream)
        .post_json("/v1/chat/completions", &chat(false))
        .await;
    assert_eq!(resp.status, 200);
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 1);
    // Clients send no SNI for an IP address.
    assert_eq!(reqs[0].sni, None);
}

#[tokio::test]
async fn tls_offers_http11_alpn() {
    let mock = tls_mock(Options::default()).await;
    let ca = mock.ca_pem().unwrap();
    let mut config = (*connector_config(&ca)).clone();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let name = ServerName::try_from("localhost").unwrap();
    let stream = TlsConnector::from(Arc::new(config))
        .connect(name, tcp(&mock).await)
        .await
        .expect("handshake");
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
}

#[tokio::test]
async fn tls_rejected_by_a_client_trusting_another_ca() {
    let mock = tls_mock(Options::default()).await;
    let other = tls_mock(Options::default()).await;
    let other_ca = other.ca_pem().unwrap();
    assert_ne!(
        mock.ca_pem().unwrap(),
        other_ca,
        "every mock makes its own CA"
    );

    let err = tls_connect(&mock, &other_ca, "localhost")
        .await
        .expect_err("the mock's certificate is not signed by the other CA");
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
    // A name the certificate does not cover fails too, even with the right CA.
    let err = tls_connect(&mock, &mock.ca_pem().unwrap(), "example.com")
        .await
        .expect_err("wrong name");
    assert!(err.to_string().contains("not valid for name"), "{err}");
    assert!(mock.requests().is_empty());
}

#[tokio::test]
async fn tls_stream_events_are_flushed_one_by_one() {
    let interval = Duration::from_millis(150);
    let mock = tls_mock(Options {
        token_interval: interval,
        reply: Some("one two".into()),
        ..Options::default()
    })
    .await;
    let ca = mock.ca_pem().unwrap();
    let stream = tls_connect(&mock, &ca, "localhost").await.unwrap();
    let resp = Client::new(stream)
        .post_json("/v1/chat/completions", &chat(true))
        .await;
    assert_eq!(resp.status, 200);
    // role, "one", " two", finish, [DONE]: each arrives after its own interval, so nothing
    // is held back in a TLS buffer while the server sleeps.
    assert_eq!(resp.chunks.len(), 5, "{}", resp.text());
    for pair in resp.chunks.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap >= interval / 2,
            "events not sent separately: gap {gap:?}"
        );
    }
}

#[tokio::test]
async fn plain_mock_has_no_ca_and_an_http_url() {
    let mock = MockProvider::start(Options::default()).await;
    assert_eq!(mock.ca_pem(), None);
    assert_eq!(mock.base_url(), format!("http://{}/v1", mock.addr()));
}

// ---------------------------------------------------------------------------------------------
// Connection numbers

#[tokio::test]
async fn keep_alive_requests_share_a_connection_number() {
    let mock = MockProvider::start(Options::default()).await;
    let mut first = Client::new(tcp(&mock).await);
    for _ in 0..2 {
        let resp = first.post_json("/v1/chat/completions", &chat(false)).await;
        assert_eq!(resp.status, 200);
    }
    let mut second = Client::new(tcp(&mock).await);
    let resp = second.post_json("/v1/chat/completions", &chat(true)).await;
    assert_eq!(resp.status, 200);
    // Back on the first connection after the second one was opened.
    let resp = first.post_json("/v1/chat/completions", &chat(false)).await;
    assert_eq!(resp.status, 200);

    let reqs = mock.requests();
    assert_clean(&reqs);
    let ids: Vec<u64> = reqs.iter().map(|r| r.connection).collect();
    assert_eq!(ids, [1, 1, 2, 1]);
    assert!(reqs.iter().all(|r| r.sni.is_none()));
}

#[tokio::test]
async fn tls_connections_are_numbered_too() {
    let mock = tls_mock(Options::default()).await;
    let ca = mock.ca_pem().unwrap();
    // A failed handshake still used up a number: ids count TCP connections.
    let other = tls_mock(Options::default()).await;
    tls_connect(&mock, &other.ca_pem().unwrap(), "localhost")
        .await
        .expect_err("untrusted");
    for _ in 0..2 {
        let stream = tls_connect(&mock, &ca, "localhost").await.unwrap();
        let resp = Client::new(stream)
            .post_json("/v1/chat/completions", &chat(false))
            .await;
        assert_eq!(resp.status, 200);
    }
    let ids: Vec<u64> = mock.requests().iter().map(|r| r.connection).collect();
    assert_eq!(ids, [2, 3]);
}
