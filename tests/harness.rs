//! Self-tests of the integration harness in `tests/common` (so a broken harness cannot make
//! the other suites pass vacuously).

mod common;

use std::process::Command;
use std::time::Duration;

use common::{metric_sum, sse_data, stream_text, Gateway};

const DEMO_ONLY: &str = r#"listen: ["{listen}"]
admin: { listen: "{admin}" }
providers:
  demo: { kind: mock }
models:
  demo: { targets: [ { provider: demo } ] }
keys:
  - { name: all, key: sk-test-all }
"#;

#[test]
#[should_panic(expected = "exited before becoming ready")]
fn start_panics_with_the_gateway_output_when_it_cannot_start() {
    let _gw = Gateway::start(&DEMO_ONLY.replace("kind: mock", "kind: no-such-kind"));
}

#[test]
fn drop_kills_and_reaps_the_gateway() {
    let gw = Gateway::start(DEMO_ONLY);
    let pid = gw.pid().to_string();
    assert!(gw.listen.starts_with("127.0.0.1:") && gw.admin.starts_with("127.0.0.1:"));
    assert_ne!(gw.listen, gw.admin);
    assert!(gw.try_wait().is_none());
    drop(gw);
    let alive = Command::new("kill")
        .args(["-0", &pid])
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap()
        .success();
    assert!(!alive, "gateway {pid} still alive after drop");
}

#[test]
fn wait_exit_is_bounded() {
    let gw = Gateway::start(DEMO_ONLY);
    let t = std::time::Instant::now();
    assert!(gw.wait_exit(Duration::from_millis(100)).is_none());
    assert!(t.elapsed() < Duration::from_secs(2));
}

#[test]
fn sse_parsing() {
    let body = "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\r\n\r\n: comment\n\n\
                event: x\ndata: {\"choices\":[{\"delta\":{\"content\":\" b\"}}]}\n\ndata: [DONE]\n\n";
    let events = sse_data(body);
    assert_eq!(events.len(), 3, "{events:?}");
    assert_eq!(events[2], "[DONE]");
    assert_eq!(stream_text(&events), "a b");
}

#[test]
fn metric_sum_matches_whole_labels() {
    let text = "# HELP x\n# TYPE x counter\n\
                x{model=\"gpt-4o\",status=\"200\"} 2\n\
                x{model=\"gpt-4o\",status=\"500\"} 1\n\
                x{xmodel=\"gpt-4o\",status=\"200\"} 7\n\
                x_count 5\n";
    assert_eq!(metric_sum(text, "x", &[("model", "gpt-4o")]), 3.0);
    assert_eq!(
        metric_sum(text, "x", &[("model", "gpt-4o"), ("status", "200")]),
        2.0
    );
    assert_eq!(metric_sum(text, "x_count", &[]), 5.0);
    assert_eq!(metric_sum(text, "y", &[]), 0.0);
}
