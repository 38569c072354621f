//! `kind: azure_openai` and `preset:` on `kind: openai`: what loads, what is refused, and how
//! `-T` shows it.

use super::tests::{errors, load_ok};
use super::{AzureApi, AzureAuth, ProviderKind};

fn conf(provider: &str) -> String {
    format!("listen: [\"127.0.0.1:8080\"]\nproviders:\n  p: {provider}\nmodels: {{ m: {{ targets: [ {{ provider: p }} ] }} }}\n")
}

#[test]
fn azure_defaults_to_a_dated_version_and_api_key() {
    let c = load_ok(&conf(
        "{ kind: azure_openai, base_url: \"https://res.openai.azure.com\", api_key: k1 }",
    ));
    let ProviderKind::AzureOpenAi(a) = &c.providers["p"].kind else {
        panic!("azure kind")
    };
    assert_eq!(a.api, AzureApi::Dated("2024-10-21".into()));
    assert!(matches!(&a.auth, AzureAuth::ApiKey(k) if k.expose() == "k1"));
    assert!(a.stream_usage);
    let shown = super::dump(&c);
    assert!(shown.contains("api_version: 2024-10-21"), "{shown}");
    assert!(!shown.contains("k1"), "{shown}");
}

#[test]
fn azure_v1_and_entra_tokens() {
    for spelled in ["api_version: v1", "v1: true", "api_version: v1, v1: true"] {
        let c = load_ok(&conf(&format!(
            "{{ kind: azure_openai, base_url: \"https://r.openai.azure.com\", bearer_token: t, {spelled}, health_check: {{}} }}"
        )));
        let ProviderKind::AzureOpenAi(a) = &c.providers["p"].kind else {
            panic!("azure kind")
        };
        assert_eq!(a.api, AzureApi::V1, "{spelled}");
        assert!(matches!(a.auth, AzureAuth::Bearer(_)));
        assert_eq!(a.health_check.as_ref().unwrap().path, "/openai/v1/models");
        assert!(!super::dump(&c).contains(": t\n"));
    }
    let c = load_ok(&conf(
        "{ kind: azure_openai, base_url: \"https://r.openai.azure.com\", api_key: k, api_version: 2025-04-01-preview, health_check: {} }",
    ));
    let ProviderKind::AzureOpenAi(a) = &c.providers["p"].kind else {
        panic!("azure kind")
    };
    assert_eq!(
        a.health_check.as_ref().unwrap().path,
        "/openai/models?api-version=2025-04-01-preview"
    );
}

#[test]
fn azure_mistakes_are_located() {
    let e = |p: &str| errors(&conf(p));
    assert_eq!(
        e("{ kind: azure_openai, base_url: \"https://r.openai.azure.com\" }"),
        ["conf/x.yaml:3:3: providers.p: missing credentials: set `api_key` (sent as `api-key`) or `bearer_token` (an Entra ID token)"]
    );
    assert_eq!(
        e("{ kind: azure_openai, base_url: \"https://r.openai.azure.com\", api_key: a, bearer_token: b }"),
        ["conf/x.yaml:3:3: providers.p: set either `api_key` or `bearer_token` (an Entra ID token), not both"]
    );
    let errs =
        e("{ kind: azure_openai, base_url: \"https://r.openai.azure.com/openai\", api_key: a }");
    assert!(
        errs[0].contains("providers.p.base_url: base_url is the resource endpoint"),
        "{errs:?}"
    );
    let errs = e("{ kind: azure_openai, base_url: \"https://r\", api_key: a, api_version: 2024-10-21, v1: true }");
    assert!(
        errs[0].contains("providers.p.v1: `v1` contradicts `api_version`"),
        "{errs:?}"
    );
    let errs =
        e("{ kind: azure_openai, base_url: \"https://r\", api_key: a, api_version: \"x&y=1\" }");
    assert!(
        errs[0].contains("providers.p.api_version: api_version must look like"),
        "{errs:?}"
    );
    let errs =
        e("{ kind: azure_openai, base_url: \"https://r\", api_key: a, headers: { api-key: x } }");
    assert!(
        errs[0].contains("header `api-key` is set by the gateway"),
        "{errs:?}"
    );
    let errs = e("{ kind: azure_openai, api_key: a }");
    assert!(errs[0].contains("missing field `base_url`"), "{errs:?}");
}

#[test]
fn presets_give_base_urls_and_stream_usage_defaults() {
    let c = load_ok(&conf("{ kind: openai, preset: mistral, api_key: k }"));
    let ProviderKind::OpenAi(o) = &c.providers["p"].kind else {
        panic!("openai kind")
    };
    assert_eq!(o.preset.name, "mistral");
    assert_eq!(o.base_url.to_string(), "https://api.mistral.ai/v1");
    assert!(!o.stream_usage, "mistral rejects stream_options");
    assert!(super::dump(&c).contains("preset: mistral"));
    let c = load_ok(&conf(
        "{ kind: openai, preset: vllm, base_url: \"http://10.0.0.2:9000/v1\" }",
    ));
    let ProviderKind::OpenAi(o) = &c.providers["p"].kind else {
        panic!("openai kind")
    };
    assert_eq!(o.base_url.to_string(), "http://10.0.0.2:9000/v1");
    assert!(o.stream_usage);
    // Named, the default preset brings OpenAI's public URL; unnamed, base_url stays required.
    let errs = errors(&conf("{ kind: openai, api_key: k }"));
    assert_eq!(
        errs,
        ["conf/x.yaml:3:3: providers.p: missing field `base_url`"]
    );
    let c = load_ok(&conf("{ kind: openai, preset: openai, api_key: k }"));
    let ProviderKind::OpenAi(o) = &c.providers["p"].kind else {
        panic!("openai kind")
    };
    assert_eq!(o.preset.name, "openai");
    assert_eq!(o.base_url.to_string(), "https://api.openai.com/v1");
    assert!(!super::dump(&c).contains("preset:"));
}

#[test]
fn preset_mistakes_are_located() {
    let errs = errors(&conf("{ kind: openai, preset: mistrel }"));
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].starts_with(
            "conf/x.yaml:3:30: providers.p.preset: unknown preset `mistrel`, expected one of"
        ),
        "{errs:?}"
    );
    let errs = errors(&conf(
        "{ kind: openai, preset: mistral, stream_usage: true }",
    ));
    assert!(
        errs[0].contains("providers.p.stream_usage: preset `mistral` rejects `stream_options`"),
        "{errs:?}"
    );
}
