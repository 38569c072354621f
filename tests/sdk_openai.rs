//! The official OpenAI Python SDK (`tests/python/openai_sdk.py`) as the client of a real gateway
//! in front of the mock provider and the built-in demo provider. Needs the venv that `make test`
//! creates (or `TOLLGATE_PYTHON`).

mod common;

use common::{
    assert_python_ok, python, standard_config, start_gateway, start_mock, KEY_ALL, KEY_LIMITED,
    MOCK_TEXT, UPSTREAM_KEY,
};

#[tokio::test(flavor = "multi_thread")]
async fn openai_python_sdk_against_the_gateway() {
    let mock = start_mock().await;
    let gw = start_gateway(standard_config(&mock.base_url())).await;
    let base_url = gw.url("/v1");
    let out = tokio::task::spawn_blocking(move || {
        python(
            "openai_sdk.py",
            &[
                ("TOLLGATE_BASE_URL", base_url.as_str()),
                ("TOLLGATE_KEY", KEY_ALL),
                ("TOLLGATE_LIMITED_KEY", KEY_LIMITED),
                ("TOLLGATE_MOCK_TEXT", MOCK_TEXT),
            ],
        )
    })
    .await
    .unwrap();
    assert_python_ok(&out);

    // Everything the SDK sent reached the upstream as a valid OpenAI request, rewritten.
    let reqs = mock.requests();
    assert!(reqs.len() >= 5, "upstream saw {} requests", reqs.len());
    for r in &reqs {
        assert!(
            r.problems.is_empty(),
            "mock rejected {} {}: {:?}",
            r.method,
            r.path,
            r.problems
        );
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {UPSTREAM_KEY}").as_str())
        );
        let model = r.json()["model"].as_str().unwrap_or_default().to_owned();
        assert!(
            model == "gpt-4o-2024-08-06" || model == "text-embedding-3-small",
            "upstream model {model:?}"
        );
    }
    assert!(
        reqs.iter()
            .any(|r| r.json()["x_tollgate_test"]["passthrough"] == true),
        "extra_body field did not pass through"
    );
}
