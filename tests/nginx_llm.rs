//! `llm_gateway FILE;`: an nginx location handing its requests to the LLM pipeline of a YAML
//! configuration (virtual keys, model routing, OpenAI-shaped errors), next to ordinary nginx
//! locations, with nginx's rewrites applied to the URI the gateway sees.

mod common;

use std::time::{Duration, Instant};

const GATEWAY_YAML: &str = r#"listen: ["127.0.0.1:1"]
providers:
  demo: { kind: mock }
models:
  demo: { targets: [ { provider: demo } ] }
keys:
  - { name: team, key: sk-nginx-llm }
"#;

struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

#[tokio::test]
async fn llm_gateway_locations_serve_the_llm_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    std::fs::write(dir.path().join("ai.yaml"), GATEWAY_YAML).unwrap();
    let conf = dir.path().join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "pid {dir}/nginx.pid;\nevents {{}}\nhttp {{\n  access_log off;\n  server {{\n    listen 127.0.0.1:{port};\n\
             \x20   location /v1/ {{ llm_gateway ai.yaml; }}\n\
             \x20   location /ai/ {{ rewrite ^/ai(/.*)$ $1 break; llm_gateway ai.yaml; }}\n\
             \x20   location / {{ return 200 \"plain\"; }}\n  }}\n}}\n",
            dir = dir.path().display()
        ),
    )
    .unwrap();
    // -t accepts the extension directive.
    let t = common::run_cli(&["-t", "-c", conf.to_str().unwrap()]);
    assert!(t.status.success(), "{t:?}");

    let _child = Child(
        std::process::Command::new(common::TOLLGATE)
            .args(["-c", conf.to_str().unwrap()])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("stderr.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let c = client();
    let deadline = Instant::now() + Duration::from_secs(20);
    while c.get(&base).send().await.is_err() {
        assert!(Instant::now() < deadline, "never came up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        c.get(&base).send().await.unwrap().text().await.unwrap(),
        "plain"
    );

    let chat = |path: &str, key: Option<&str>| {
        let mut r = c.post(format!("{base}{path}")).json(&serde_json::json!({
            "model": "demo",
            "messages": [{"role": "user", "content": "echo: through nginx"}]
        }));
        if let Some(k) = key {
            r = r.bearer_auth(k);
        }
        async move {
            let r = r.send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<serde_json::Value>().await.unwrap())
        }
    };
    for path in ["/v1/chat/completions", "/ai/v1/chat/completions"] {
        let (status, body) = chat(path, Some("sk-nginx-llm")).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert_eq!(
            body["choices"][0]["message"]["content"], "through nginx",
            "{path}: {body}"
        );
        assert!(body["usage"]["total_tokens"].as_u64().unwrap() > 0);
        let (status, body) = chat(path, None).await;
        assert_eq!(status, 401, "{path}: {body}");
        assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
    }
    let models = c
        .get(format!("{base}/v1/models"))
        .bearer_auth("sk-nginx-llm")
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(models["data"][0]["id"], "demo");
}

#[test]
fn llm_gateway_errors_are_located() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("nginx.conf");
    // Missing YAML file: refused at start with the file named.
    std::fs::write(
        &conf,
        "events {}\nhttp {\n  server {\n    listen 127.0.0.1:1;\n    location / { llm_gateway missing.yaml; }\n  }\n}\n",
    )
    .unwrap();
    let out = common::run_cli(&["-c", conf.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("[emerg]") && err.contains("missing.yaml"),
        "{err}"
    );
    // With proxy_pass in the same location: a located error.
    std::fs::write(
        &conf,
        "events {}\nhttp {\n  server {\n    listen 127.0.0.1:1;\n    location / {\n      llm_gateway a.yaml;\n      proxy_pass http://127.0.0.1:2;\n    }\n  }\n}\n",
    )
    .unwrap();
    let out = common::run_cli(&["-c", conf.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot share a location") && err.contains("nginx.conf:5"),
        "{err}"
    );
    // Wrong context and argument count: nginx-style diagnostics from -t.
    std::fs::write(&conf, "events {}\nhttp {\n  llm_gateway a.yaml;\n}\n").unwrap();
    let out = common::run_cli(&["-t", "-c", conf.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("\"llm_gateway\" directive is not allowed here"),
        "{err}"
    );
}
