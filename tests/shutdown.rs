//! Graceful shutdown: SIGTERM/SIGQUIT stop accepting, let in-flight streams finish, then exit 0
//! as soon as nothing is in flight (not at the end of the grace period).

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{
    client, sse_data, standard_config, start_gateway, start_mock, stream_text, Gateway, KEY_ALL,
    MOCK_TEXT,
};
use futures_util::StreamExt;
use serde_json::json;
use tokio::time::Instant;
use tollgate_mock_provider::Fault;

/// Polls (bounded) until connecting to `addr` is refused; returns when that was seen.
async fn wait_refused(addr: SocketAddr, limit: Duration) -> Option<Instant> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        match tokio::time::timeout(
            Duration::from_millis(200),
            tokio::net::TcpStream::connect(addr),
        )
        .await
        {
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                return Some(Instant::now())
            }
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    None
}

/// Starts a stream request and returns the response once its first chunk arrived, plus that
/// chunk.
async fn start_stream(gw: &Gateway, model: &str) -> (reqwest::Response, Vec<u8>) {
    let mut resp = client()
        .post(gw.url("/v1/chat/completions"))
        .header("authorization", format!("Bearer {KEY_ALL}"))
        .json(&json!({
            "model": model,
            "stream": true,
            "messages": [{"role": "user", "content": "Tell me a story"}],
        }))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 200);
    let first = tokio::time::timeout(Duration::from_secs(5), resp.chunk())
        .await
        .expect("first chunk within 5s")
        .expect("read first chunk")
        .expect("stream ended before its first chunk");
    (resp, first.to_vec())
}

/// Reads the rest of a stream (bounded); returns the whole body and when it ended.
async fn finish_stream(
    resp: reqwest::Response,
    mut body: Vec<u8>,
    limit: Duration,
) -> (String, Option<String>, Instant) {
    let mut stream = resp.bytes_stream();
    let deadline = Instant::now() + limit;
    let err = loop {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Err(_) => panic!(
                "stream not finished within {limit:?}: {:?}",
                String::from_utf8_lossy(&body)
            ),
            Ok(None) => break None,
            Ok(Some(Ok(b))) => body.extend_from_slice(&b),
            Ok(Some(Err(e))) => break Some(e.to_string()),
        }
    };
    (
        String::from_utf8_lossy(&body).into_owned(),
        err,
        Instant::now(),
    )
}

fn wait_exit(gw: &Gateway, limit: Duration) -> Option<std::process::ExitStatus> {
    tokio::task::block_in_place(|| gw.wait_exit(limit))
}

async fn graceful_stream_then_exit(gw: Gateway, model: &str, signal: &str) {
    let (resp, first) = start_stream(&gw, model).await;
    let signalled = Instant::now();
    gw.signal(signal);

    let refused = tokio::spawn(wait_refused(gw.listen_addr(), Duration::from_secs(5)));
    let (body, err, ended) = finish_stream(resp, first, Duration::from_secs(15)).await;
    assert!(err.is_none(), "stream broken by {signal}: {err:?}\n{body}");
    let events = sse_data(&body);
    assert_eq!(
        events.last().map(String::as_str),
        Some("[DONE]"),
        "stream not completed after {signal}: {body}"
    );
    assert!(
        !events.iter().any(|e| e.contains("\"error\"")),
        "error event in the stream: {body}"
    );

    let refused = refused.await.unwrap();
    let refused = refused.unwrap_or_else(|| {
        panic!(
            "new connections still accepted 5s after {signal}\n{}",
            gw.stderr_text()
        )
    });
    assert!(
        refused <= ended,
        "the listener should close at {signal}, not after the last stream ended \
         (refused {:?} after the signal, stream ended {:?} after it)",
        refused - signalled,
        ended - signalled
    );

    let status = wait_exit(&gw, Duration::from_secs(3)).unwrap_or_else(|| {
        panic!(
            "still running 3s after its last stream ended (grace period 10s)\n{}",
            gw.stderr_text()
        )
    });
    assert_eq!(
        status.code(),
        Some(0),
        "exit status {status}\n{}",
        gw.stderr_text()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_lets_an_upstream_stream_finish_then_exits_0() {
    let mock = start_mock().await;
    // 13 events, 200 ms apart: about 2.6 s of stream.
    mock.push_fault(Fault::SlowDrip {
        interval: Duration::from_millis(200),
    });
    let gw = start_gateway(standard_config(&mock.base_url())).await;
    graceful_stream_then_exit(gw, "gpt-4o", "TERM").await;
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigquit_lets_a_builtin_mock_stream_finish_then_exits_0() {
    let mock = start_mock().await;
    // The built-in mock at 8 tokens/s: 16 tokens (its default length) take about 2 s.
    let yaml = standard_config(&mock.base_url()).replace(
        "demo: { kind: mock }",
        "demo: { kind: mock, tokens_per_second: 8 }",
    );
    let gw = start_gateway(yaml).await;
    graceful_stream_then_exit(gw, "demo", "QUIT").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_stream_text_is_intact() {
    let mock = start_mock().await;
    mock.push_fault(Fault::SlowDrip {
        interval: Duration::from_millis(100),
    });
    let gw = start_gateway(standard_config(&mock.base_url())).await;
    let (resp, first) = start_stream(&gw, "gpt-4o").await;
    gw.signal("TERM");
    let (body, err, _) = finish_stream(resp, first, Duration::from_secs(15)).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(stream_text(&sse_data(&body)), MOCK_TEXT, "{body}");
    let status = wait_exit(&gw, Duration::from_secs(5)).expect("exit");
    assert!(status.success(), "{status}");
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_gateway_exits_0_promptly_on_sigterm() {
    let mock = start_mock().await;
    let gw = start_gateway(standard_config(&mock.base_url())).await;
    // One finished request first: an idle keep-alive connection must not hold the exit.
    let c = client();
    let resp = c
        .post(gw.url("/v1/chat/completions"))
        .header("authorization", format!("Bearer {KEY_ALL}"))
        .json(&json!({"model": "demo", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.bytes().await.unwrap();

    let t = Instant::now();
    gw.signal("TERM");
    let status = wait_exit(&gw, Duration::from_secs(3)).unwrap_or_else(|| {
        panic!(
            "idle gateway still running 3s after SIGTERM (grace period 10s)\n{}",
            gw.stderr_text()
        )
    });
    assert_eq!(status.code(), Some(0), "{status}\n{}", gw.stderr_text());
    assert!(t.elapsed() < Duration::from_secs(3));
    drop(c);
}

#[tokio::test(flavor = "multi_thread")]
async fn grace_period_bounds_a_stream_that_does_not_end() {
    let mock = start_mock().await;
    // 13 events, 1 s apart: longer than the 1 s grace period.
    mock.push_fault(Fault::SlowDrip {
        interval: Duration::from_millis(1000),
    });
    let yaml = standard_config(&mock.base_url())
        .replace("grace_period: 10s", "grace_period: 1s")
        .replace("idle: 2s", "idle: 5s");
    let gw = start_gateway(yaml).await;
    let (resp, first) = start_stream(&gw, "gpt-4o").await;
    let t = Instant::now();
    gw.signal("TERM");
    let status = wait_exit(&gw, Duration::from_secs(6));
    let elapsed = t.elapsed();
    assert!(
        status.is_some(),
        "still running {elapsed:?} after SIGTERM with a 1s grace period\n{}",
        gw.stderr_text()
    );
    // The client is not left hanging: its stream ends (cut or completed) soon after.
    let (body, _err, _) = finish_stream(resp, first, Duration::from_secs(5)).await;
    assert!(
        !stream_text(&sse_data(&body)).contains("provider."),
        "the stream should have been cut by the grace period: {body}"
    );
}
