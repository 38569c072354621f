//! criterion micro benchmarks of the hot paths named in issue #7: SSE decode, the stream
//! translators, the tokenizer on typical prompts, request parsing and the model rewrite, quota
//! math and the memory store, the target pick, and config / nginx parsing.
//! Run: `python3 bench/run.py micro` (or `cargo bench -p tollgate-micro`).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use tollgate::balance::pool::{Pick, Pool};
use tollgate::config::{self, Window};
use tollgate::llm::request::{self, BodyKind};
use tollgate::providers::anthropic::{ReverseOptions, ToAnthropicStream, ToOpenAiStream};
use tollgate::providers::translate::StreamOptions;
use tollgate::quota::store::{Charge, MemoryStore};
use tollgate::quota::window;
use tollgate::usage::{prompt, tokens};
use tollgate_micro::{anthropic_stream, chat_body, openai_stream, pieces};

fn sse(c: &mut Criterion) {
    let data = openai_stream(64);
    let mut g = c.benchmark_group("sse");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("decode_openai_64_events_1460B_pieces", |b| {
        b.iter(|| {
            let mut d = tollgate::sse::Decoder::new(1 << 20);
            let mut n = 0;
            for p in pieces(&data, 1460) {
                n += d.push(p).map_or(0, |v| v.len());
            }
            black_box(n)
        })
    });
    g.finish();
}

fn translators(c: &mut Criterion) {
    let anth = anthropic_stream(64);
    let oai = openai_stream(64);
    let mut g = c.benchmark_group("translate");
    g.throughput(Throughput::Elements(64));
    g.bench_function("anthropic_to_openai_64_events", |b| {
        b.iter(|| {
            let mut tr = ToOpenAiStream::new(StreamOptions {
                include_usage: true,
                created: 1,
                model: None,
            });
            let mut out = Vec::new();
            for p in pieces(&anth, 1460) {
                tr.push(p, &mut out);
            }
            black_box(tr.finish(&mut out));
            black_box(out.len())
        })
    });
    g.bench_function("openai_to_anthropic_64_events", |b| {
        b.iter(|| {
            let mut tr = ToAnthropicStream::new(ReverseOptions::default());
            let mut out = Vec::new();
            for p in pieces(&oai, 1460) {
                tr.push(p, &mut out);
            }
            black_box(tr.finish(&mut out));
            black_box(out.len())
        })
    });
    g.finish();
}

fn tokenizer(c: &mut Criterion) {
    tokens::warm_up();
    let enc = tokens::for_model("gpt-4o");
    let mut g = c.benchmark_group("tokenize");
    for (name, body) in [
        ("prompt_1k", chat_body(2, 60)),
        ("prompt_10k", chat_body(10, 120)),
    ] {
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| black_box(prompt::estimate(&body, BodyKind::Chat, enc)))
        });
    }
    g.finish();
}

fn requests(c: &mut Criterion) {
    let body = Bytes::from(chat_body(4, 80));
    let mut g = c.benchmark_group("request");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("parse_chat_3k", |b| {
        b.iter(|| black_box(request::parse(&body, BodyKind::Chat).ok()))
    });
    let head = request::parse(&body, BodyKind::Chat).expect("valid body");
    g.bench_function("rewrite_model_3k", |b| {
        b.iter(|| black_box(request::with_model(&body, &head, "gpt-4o-2024-08-06")))
    });
    g.finish();
}

fn quota(c: &mut Criterion) {
    let mut g = c.benchmark_group("quota");
    g.bench_function("window_check_minute", |b| {
        b.iter(|| {
            black_box(window::check(
                Window::Minute,
                black_box(1_700_000_030_000),
                400,
                300,
                1000,
                50,
            ))
        })
    });
    g.bench_function("window_check_month", |b| {
        b.iter(|| {
            black_box(window::check(
                Window::Month,
                black_box(1_700_000_030_000),
                0,
                300,
                1000,
                50,
            ))
        })
    });
    let store = MemoryStore::new(Arc::new(|| 1_700_000_030_000));
    let charges = vec![
        charge("key:team-a:req", Window::Minute, 1_000_000, 1),
        charge("key:team-a:tok", Window::Minute, 1_000_000_000, 300),
        charge("key:team-a:tok:month", Window::Month, u64::MAX / 2, 300),
    ];
    g.bench_function("memory_reserve_3_limits", |b| {
        b.iter(|| black_box(store.reserve_now(&charges).admitted))
    });
    g.finish();
}

fn charge(counter: &str, window: Window, limit: u64, amount: u64) -> Charge {
    Charge {
        counter: counter.to_owned(),
        window,
        limit,
        amount,
    }
}

const FOUR_TARGETS: &str = r#"
providers:
  a: { kind: mock }
  b: { kind: mock }
models:
  m:
    targets:
      - { provider: a, model: x, weight: 3 }
      - { provider: b, model: y, weight: 1 }
      - { provider: a, model: z, weight: 2, priority: 1 }
      - { provider: b, model: w, weight: 1, priority: 1 }
"#;

fn pick(c: &mut Criterion) {
    let cfg = config::load_str(FOUR_TARGETS, Path::new("bench.yaml"), &|_| None)
        .expect("bench config is valid");
    let group = Arc::clone(&cfg.models["m"]);
    let now = tokio::time::Instant::now();
    let pool = Pool::new(
        &group,
        &cfg.resilience.breaker,
        Duration::from_secs(60),
        7,
        now,
    );
    let tried = [false; 4];
    let mut g = c.benchmark_group("balance");
    g.bench_function("pick_weighted_4_targets", |b| {
        b.iter(|| match pool.pick(now, &tried, &|_| true, 100) {
            Pick::Target(lease, _) => black_box(lease.index),
            Pick::Exhausted { .. } => usize::MAX,
        })
    });
    g.finish();
}

fn parsing(c: &mut Criterion) {
    let yaml = include_str!("../../../conf/tollgate.yaml");
    let mut g = c.benchmark_group("config");
    g.bench_function("yaml_default_config", |b| {
        b.iter(|| black_box(config::load_str(yaml, Path::new("tollgate.yaml"), &|_| None).is_ok()))
    });
    let nginx = include_bytes!("../../../tests/nginx/corpus/ok/12-load-balancing.conf");
    g.bench_function("nginx_load_balancing_conf", |b| {
        b.iter_batched(
            || {
                let mut fs = tollgate::nginx::MemFs::new();
                fs.add("/n/nginx.conf", nginx);
                fs
            },
            |fs| {
                let opts = tollgate::nginx::Options::new("/n/nginx.conf", "/n/", None);
                black_box(tollgate::nginx::parse(&fs, &opts).is_ok())
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(
    benches,
    sse,
    translators,
    tokenizer,
    requests,
    quota,
    pick,
    parsing
);
criterion_main!(benches);
