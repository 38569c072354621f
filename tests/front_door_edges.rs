//! Edge cases of the front door that need raw sockets or special upstream timing: a streamed
//! upstream going silent mid-stream, chunked request bodies over the limit, `Expect:
//! 100-continue`, and startup with an unreadable TLS trust store.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{
    client, run_cli_with_env, sse_data, standard_config, start_gateway, start_mock, stream_text,
    KEY_ALL, MOCK_TEXT,
};
use futures_util::StreamExt;
use serde_json::{json, Value};
use tollgate_mock_provider::Fault;

fn chat(stream: bool) -> Value {
    json!({"model": "gpt-4o", "stream": stream, "messages": [{"role": "user", "content": "hi"}]})
}

#[tokio::test(flavor = "multi_thread")]
async fn upstream_silent_mid_stream_ends_with_a_timeout_error_event() {
    let mock = start_mock().await;
    let gw = start_gateway(standard_config(&mock.base_url())).await;
    // idle timeout is 2 s in the standard config; the upstream pauses 4 s between events.
    mock.push_fault(Fault::SlowDrip {
        interval: Duration::from_secs(4),
    });
    let t = Instant::now();
    let resp = client()
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(KEY_ALL)
        .json(&chat(true))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut body = Vec::new();
    let mut s = resp.bytes_stream();
    let deadline = tokio::time::sleep(Duration::from_secs(15));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            c = s.next() => match c {
                Some(Ok(c)) => body.extend_from_slice(&c),
                _ => break,
            },
            _ = &mut deadline => panic!("stream did not end: {}", String::from_utf8_lossy(&body)),
        }
    }
    let text = String::from_utf8_lossy(&body).into_owned();
    let events = sse_data(&text);
    let err: Value = events
        .iter()
        .filter_map(|e| serde_json::from_str::<Value>(e).ok())
        .find(|v| v["error"].is_object())
        .unwrap_or_else(|| panic!("no error event in {text}"));
    assert_eq!(err["error"]["code"], "upstream_timeout");
    assert!(!events.iter().any(|e| e == "[DONE]"), "{text}");
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_secs(8),
        "{took:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn chunked_body_over_the_limit_is_413_without_reaching_the_upstream() {
    let mock = start_mock().await;
    let gw = start_gateway(standard_config(&mock.base_url())).await;
    // No content-length: the limit (1 MiB) must hold while reading. The body is valid JSON
    // (padded with whitespace), so without the limit it would reach the upstream.
    let mut chunks: Vec<Result<Vec<u8>, std::io::Error>> = vec![Ok(
        br#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]"#.to_vec(),
    )];
    chunks.extend((0..20).map(|_| Ok(vec![b' '; 64 * 1024])));
    chunks.push(Ok(b"}".to_vec()));
    let resp = client()
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(KEY_ALL)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await;
    // The gateway may close the connection while the client is still sending; when a response
    // arrives it must be the 413.
    if let Ok(resp) = resp {
        assert_eq!(resp.status(), 413);
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["code"], "request_too_large");
    }
    assert!(mock.requests().is_empty());

    // A chunked body under the limit is accepted.
    let body = serde_json::to_vec(&chat(false)).unwrap();
    let parts: Vec<Result<Vec<u8>, std::io::Error>> =
        body.chunks(7).map(|c| Ok(c.to_vec())).collect();
    let resp = client()
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(KEY_ALL)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            parts,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(mock.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn expect_100_continue_is_answered() {
    let mock = start_mock().await;
    let gw = start_gateway(standard_config(&mock.base_url())).await;
    let body = serde_json::to_vec(&chat(false)).unwrap();
    let addr = gw.listen_addr();
    let res = tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let head = format!(
            "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY_ALL}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).unwrap();
        // The interim response must come before we send the body (curl would wait 1 s).
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).unwrap();
        let interim = String::from_utf8_lossy(&buf[..n]).into_owned();
        s.write_all(&body).unwrap();
        let mut rest = Vec::new();
        let mut tmp = [0u8; 4096];
        while !String::from_utf8_lossy(&rest).contains(MOCK_TEXT) {
            let n = s.read(&mut tmp).unwrap();
            if n == 0 {
                break;
            }
            rest.extend_from_slice(&tmp[..n]);
        }
        (interim, String::from_utf8_lossy(&rest).into_owned())
    })
    .await
    .unwrap();
    assert!(res.0.starts_with("HTTP/1.1 100"), "interim: {:?}", res.0);
    assert!(
        res.1.contains("200 OK") && res.1.contains(MOCK_TEXT),
        "{}",
        res.1
    );
}

#[test]
fn unreadable_trust_store_is_a_clean_startup_error() {
    let out = run_cli_with_env(
        &["-c", "conf/tollgate.yaml"],
        &[("SSL_CERT_FILE", "/nonexistent/ca.pem")],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("[emerg] SSL_CERT_FILE=/nonexistent/ca.pem"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn stream_text_helper_sanity() {
    // Guards the helper used above: text deltas concatenate, errors are not text.
    let events = vec![
        r#"{"choices":[{"delta":{"content":"a"}}]}"#.to_owned(),
        r#"{"choices":[{"delta":{"content":" b"}}]}"#.to_owned(),
    ];
    assert_eq!(stream_text(&events), "a b");
}
