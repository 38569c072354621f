use super::super::tests::{errors, errors_with, load_ok};
use crate::config::ProviderKind;

const OK: &str = "listen: 127.0.0.1:8080
providers:
  aws: { kind: bedrock, region: eu-west-3, access_key_id: AKIDX, secret_access_key: \"${AWS_SECRET}\" }
models: { c: { targets: [ { provider: aws, model: \"anthropic.claude-3-5-sonnet-20240620-v1:0\" } ] } }
";

fn env(name: &str) -> Option<String> {
    match name {
        "AWS_SECRET" => Some("wJalr-SECRET-KEY".into()),
        "EMPTY" => Some(String::new()),
        _ => None,
    }
}

#[test]
fn defaults_endpoint_from_region_and_redacts_credentials() {
    let text = OK.replace("${AWS_SECRET}", "wJalr-SECRET-KEY");
    let ok = load_ok(&text);
    let ProviderKind::Bedrock(b) = &ok.providers["aws"].kind else {
        panic!("bedrock kind")
    };
    assert_eq!(b.region, "eu-west-3");
    assert_eq!(
        b.base_url.to_string(),
        "https://bedrock-runtime.eu-west-3.amazonaws.com"
    );
    assert_eq!(b.access_key_id.expose(), "AKIDX");
    assert_eq!(b.secret_access_key.expose(), "wJalr-SECRET-KEY");
    assert!(b.session_token.is_none());
    assert!(ok.providers["aws"].kind.health_check().is_none());
    assert_eq!(ok.providers["aws"].kind.label(), "bedrock");
    let with_token = load_ok(&text.replace(
        "secret_access_key:",
        "session_token: TOKEN-SECRET, base_url: \"http://127.0.0.1:9000\", secret_access_key:",
    ));
    let dumped = crate::config::dump(&with_token);
    for secret in ["AKIDX", "wJalr", "TOKEN-SECRET"] {
        assert!(!dumped.contains(secret), "{dumped}");
    }
    assert!(dumped.contains("kind: bedrock"), "{dumped}");
    assert!(
        dumped.contains("base_url: http://127.0.0.1:9000"),
        "{dumped}"
    );
    assert!(dumped.contains("session_token"), "{dumped}");
}

#[test]
fn credentials_come_from_env_and_must_not_be_empty() {
    let errs = errors_with(&OK.replace("${AWS_SECRET}", "${EMPTY}"), &env);
    assert_eq!(
        errs,
        ["conf/x.yaml:3:85: providers.aws.secret_access_key: secret_access_key is empty (after env interpolation)"]
    );
    let ok = crate::config::load_with(
        OK,
        std::path::Path::new("conf/x.yaml"),
        &env,
        super::super::tests::HOST,
    );
    assert!(ok.is_ok());
}

#[test]
fn missing_and_invalid_fields_are_located() {
    let bad = "listen: 127.0.0.1:8080
providers:
  a: { kind: bedrock }
  b: { kind: bedrock, region: \"US East\", access_key_id: k, secret_access_key: s, health_check: { interval: 5s } }
  c: { kind: bedrock, region: us-east-1, access_key_id: \"\", secret_access_key: s, base_url: \"ftp://x\" }
models: { m: { targets: [ { provider: a }, { provider: b }, { provider: c } ] } }
";
    assert_eq!(errors(bad), [
        "conf/x.yaml:3:3: providers.a: missing field `region` (Bedrock requests are signed for a region)",
        "conf/x.yaml:3:3: providers.a: missing field `access_key_id` (Bedrock requires AWS credentials)",
        "conf/x.yaml:3:3: providers.a: missing field `secret_access_key` (Bedrock requires AWS credentials)",
        "conf/x.yaml:4:82: providers.b.health_check: unknown field `health_check`, expected one of `region`, `base_url`, `access_key_id`, `secret_access_key`, `session_token`, `timeouts`",
        "conf/x.yaml:5:57: providers.c.access_key_id: access_key_id is empty",
        "conf/x.yaml:5:93: providers.c.base_url: invalid base_url \"ftp://x\": unsupported scheme `ftp`; expected http://host[:port][/path] or https://host[:port][/path]",
    ]);
    let bad = bad.replace(", health_check: { interval: 5s }", "");
    let errs = errors(&bad);
    assert!(
        errs.iter().any(|e| e.starts_with("conf/x.yaml:4:")
            && e.ends_with(
                "providers.b.region: region must be an AWS region name such as `us-east-1`"
            )),
        "{errs:?}"
    );
}
