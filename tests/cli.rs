//! The command line: `-t` (test the config), `-T` (test and dump), `-v`/`-V` (version).

mod common;

use common::{repo_root, run_cli, run_cli_with_env};
use std::path::Path;
use std::process::Output;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn show(out: &Output) -> String {
    format!(
        "status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    )
}

/// A valid config with fixed ports (nothing is started by `-t`).
const VALID: &str = r#"listen: ["127.0.0.1:18080"]
admin: { listen: "127.0.0.1:19090" }
server: { threads: 2, grace_period: 10s, max_body_size: 1MiB }
timeouts: { connect: 1s, first_byte: 2s, idle: 2s, total: 20s }
providers:
  up:   { kind: openai, base_url: "http://127.0.0.1:18000/v1", api_key: "sk-upstream-secret-4242" }
  demo: { kind: mock }
models:
  gpt-4o: { targets: [ { provider: up, model: gpt-4o-2024-08-06 } ] }
  demo:   { targets: [ { provider: demo } ] }
keys:
  - { name: all, key: sk-client-secret-7777 }
  - { name: limited, key: sk-client-limited-8888, models: [demo] }
"#;

fn write_config(dir: &Path, name: &str, yaml: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, yaml).expect("write config");
    path.to_str().expect("utf-8 path").to_owned()
}

fn assert_test_ok(out: &Output, file: &str) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{}", show(out));
    assert!(
        stderr.contains(&format!(
            "tollgate: the configuration file {file} syntax is ok"
        )),
        "missing 'syntax is ok' line\n{}",
        show(out)
    );
    assert!(
        stderr.contains(&format!(
            "tollgate: configuration file {file} test is successful"
        )),
        "missing 'test is successful' line\n{}",
        show(out)
    );
}

#[test]
fn test_flag_accepts_a_valid_config() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_config(dir.path(), "ok.yaml", VALID);
    let out = run_cli(&["-t", "-c", &file]);
    assert_test_ok(&out, &file);
    // -t only tests: nothing on stdout.
    assert!(out.stdout.is_empty(), "{}", show(&out));
}

#[test]
fn test_flag_accepts_the_shipped_default_config() {
    let file = "conf/tollgate.yaml";
    assert!(
        repo_root().join(file).exists(),
        "{file} is missing from the repository"
    );
    let out = run_cli(&["-t", "-c", file]);
    assert_test_ok(&out, file);
}

#[test]
fn test_flag_reports_every_error_with_its_location() {
    // Line numbers (1-based) of the three mistakes are asserted below.
    let yaml = r#"listen: ["127.0.0.1:18080"]
admin: { listen: "127.0.0.1:19090" }
server: { threads: 2, grace_period: 10s, max_body_size: 1MiB }
timeouts: { connect: 1s, first_byte: 2s, idle: 2s, total: 20s }
providers:
  up:
    kind: openai
    base_url: "http://127.0.0.1:18000/v1"
    api_key: "${NOPE_VAR}"
    bogus_field: 1
  demo: { kind: mock }
models:
  gpt-4o:
    targets:
      - { provider: nosuchprovider, model: gpt-4o }
  demo: { targets: [ { provider: demo } ] }
keys:
  - { name: all, key: sk-client-secret-7777 }
"#;
    let dir = tempfile::tempdir().unwrap();
    let file = write_config(dir.path(), "bad.yaml", yaml);
    assert!(
        std::env::var_os("NOPE_VAR").is_none(),
        "NOPE_VAR must be unset"
    );
    let out = run_cli(&["-t", "-c", &file]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        stderr.contains(&format!("tollgate: configuration file {file} test failed")),
        "missing 'test failed' line\n{}",
        show(&out)
    );
    assert!(!stderr.contains("test is successful"), "{}", show(&out));

    let emerg: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("tollgate: [emerg] "))
        .collect();
    // `tollgate: [emerg] FILE:LINE:COL: YAML.PATH: message`
    let find = |needle: &str, line: u32| {
        let prefix = format!("tollgate: [emerg] {file}:{line}:");
        let hit = emerg
            .iter()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no [emerg] line mentions {needle:?}\n{}", show(&out)));
        assert!(
            hit.starts_with(&prefix),
            "error about {needle:?} should start with {prefix:?}, got {hit:?}"
        );
        let rest = &hit[prefix.len()..];
        let (col, rest) = rest.split_once(':').expect("FILE:LINE:COL:");
        let col: u32 = col
            .parse()
            .unwrap_or_else(|_| panic!("column is not a number in {hit:?}"));
        assert!(col >= 1, "column must be 1-based in {hit:?}");
        let (path, message) = rest
            .trim_start()
            .split_once(": ")
            .unwrap_or_else(|| panic!("no 'YAML.PATH: message' in {hit:?}"));
        assert!(!path.is_empty() && !message.is_empty(), "{hit:?}");
        path.to_owned()
    };
    let p = find("bogus_field", 10);
    assert!(p.contains("providers") && p.contains("up"), "path {p:?}");
    let p = find("nosuchprovider", 15);
    assert!(p.contains("models") && p.contains("provider"), "path {p:?}");
    let p = find("NOPE_VAR", 9);
    assert!(p.contains("api_key"), "path {p:?}");
    assert_eq!(
        emerg.len(),
        3,
        "exactly three errors expected\n{}",
        show(&out)
    );
}

#[test]
fn test_flag_fails_on_a_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("nope.yaml");
    let file = file.to_str().unwrap();
    let out = run_cli(&["-t", "-c", file]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let stderr = text(&out.stderr);
    assert!(stderr.contains(file), "{}", show(&out));
    assert!(
        stderr.contains(&format!("tollgate: configuration file {file} test failed")),
        "{}",
        show(&out)
    );
}

#[test]
fn dump_flag_prints_the_effective_config_without_secrets() {
    // One secret literal, one from the environment.
    let yaml = VALID.replace(
        "  demo: { kind: mock }\n",
        "  demo: { kind: mock }\n  env: { kind: openai, base_url: \"http://127.0.0.1:18001/v1\", api_key: \"${TOLLGATE_TEST_ENV_SECRET}\" }\n",
    );
    let dir = tempfile::tempdir().unwrap();
    let file = write_config(dir.path(), "dump.yaml", &yaml);
    let out = run_cli_with_env(
        &["-T", "-c", &file],
        &[("TOLLGATE_TEST_ENV_SECRET", "sk-from-env-secret-5555")],
    );
    assert_test_ok(&out, &file);
    let stdout = text(&out.stdout);
    let all = format!("{stdout}{}", text(&out.stderr));
    for secret in [
        "sk-upstream-secret-4242",
        "sk-from-env-secret-5555",
        "sk-client-secret-7777",
        "sk-client-limited-8888",
    ] {
        assert!(!all.contains(secret), "-T leaked {secret}\n{}", show(&out));
    }
    assert!(
        stdout.contains("***"),
        "secrets should show as ***\n{}",
        show(&out)
    );

    let dump: serde_yaml::Value = serde_yaml::from_str(&stdout)
        .unwrap_or_else(|e| panic!("-T output is not YAML: {e}\n{}", show(&out)));
    let providers = &dump["providers"];
    assert!(providers["up"].is_mapping(), "no providers.up\n{stdout}");
    assert!(
        providers["demo"].is_mapping(),
        "no providers.demo\n{stdout}"
    );
    assert!(providers["env"].is_mapping(), "no providers.env\n{stdout}");
    assert_eq!(
        providers["up"]["api_key"].as_str(),
        Some("***"),
        "providers.up.api_key\n{stdout}"
    );
    assert!(
        dump["models"]["gpt-4o"].is_mapping(),
        "no models.gpt-4o\n{stdout}"
    );
    assert!(
        dump["models"]["demo"].is_mapping(),
        "no models.demo\n{stdout}"
    );
    assert!(
        stdout.contains("gpt-4o-2024-08-06"),
        "target model missing\n{stdout}"
    );
}

#[test]
fn version_flags() {
    // `tollgate version X` (or nginx's `tollgate version: tollgate/X`).
    let version = env!("CARGO_PKG_VERSION");
    let check = |flag: &str| -> String {
        let out = run_cli(&[flag]);
        assert_eq!(out.status.code(), Some(0), "{flag}\n{}", show(&out));
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        let first = all.lines().next().unwrap_or_default().to_owned();
        assert!(
            first.starts_with("tollgate version") && first.contains(version),
            "{flag}: first line should be 'tollgate version {version}', got {first:?}"
        );
        all
    };
    let v = check("-v");
    let big_v = check("-V");
    assert!(
        big_v.trim().lines().count() > v.trim().lines().count(),
        "-V should add build information to -v's line\n-v: {v}\n-V: {big_v}"
    );
}

#[test]
fn test_flag_accepts_every_shipped_example_config() {
    let dir = repo_root().join("examples");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let file = format!("examples/{}", path.file_name().unwrap().to_string_lossy());
        // The examples take their secrets from the environment.
        let out = run_cli_with_env(
            &["-t", "-c", &file],
            &[
                ("OPENAI_API_KEY", "sk-x"),
                ("TEAM_A_KEY", "sk-a"),
                ("TEAM_B_KEY", "sk-b"),
            ],
        );
        assert_test_ok(&out, &file);
        checked += 1;
    }
    assert!(
        checked >= 2,
        "expected example configs in {}",
        dir.display()
    );
}
