//! tollgate-loadgen: the load generator of tollgate's benchmarks.
//!
//! Owns: driving HTTP/1.1 keep-alive load at a fixed rate (open loop: each request has a
//! scheduled start, and its latency is measured from that schedule, so a slow server cannot hide
//! its queueing — no coordinated omission) or at saturation (closed loop over N connections),
//! and for SSE responses the time to first event and the gaps between events. Prints one JSON
//! object on stdout. Must not: depend on the gateway (it is a plain HTTP client) or run forever
//! (every run is bounded by --duration plus --timeout).

mod http1;

use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use hdrhistogram::Histogram;
use tokio::sync::{mpsc, Mutex};
use tokio::time::Instant;

use http1::{Conn, Sample, Target};

#[derive(Parser, Debug, Clone)]
#[command(name = "tollgate-loadgen")]
struct Args {
    /// http://HOST:PORT/PATH
    #[arg(long)]
    url: String,
    /// File whose content is POSTed (GET when absent).
    #[arg(long)]
    body: Option<std::path::PathBuf>,
    /// Extra request header "Name: value" (repeatable).
    #[arg(long = "header", short = 'H')]
    headers: Vec<String>,
    /// Requests per second (open loop). Without it: saturation (closed loop).
    #[arg(long)]
    rate: Option<f64>,
    /// How long to send requests, in seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Warm-up seconds excluded from the results.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Connections (open loop: the pool size; closed loop: the concurrency).
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Per-request timeout in seconds.
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
    /// Label copied into the output.
    #[arg(long, default_value = "")]
    label: String,
}

/// Merged results of all workers.
struct Stats {
    latency: Histogram<u64>,
    ttft: Histogram<u64>,
    gap: Histogram<u64>,
    ok: u64,
    errors: u64,
    events: u64,
}

impl Stats {
    fn new() -> Self {
        // 1 us .. 120 s at 3 significant digits: valid bounds, so this cannot fail.
        let h = || Histogram::new_with_bounds(1, 120_000_000, 3).expect("valid histogram bounds");
        Stats {
            latency: h(),
            ttft: h(),
            gap: h(),
            ok: 0,
            errors: 0,
            events: 0,
        }
    }

    fn record(&mut self, s: &Sample) {
        self.ok += 1;
        let _ = self.latency.record(micros(s.latency));
        if let Some(t) = s.ttft {
            let _ = self.ttft.record(micros(t));
        }
        for g in &s.gaps {
            let _ = self.gap.record(micros(*g));
        }
        self.events += s.events;
    }

    fn merge(&mut self, o: &Stats) {
        let _ = self.latency.add(&o.latency);
        let _ = self.ttft.add(&o.ttft);
        let _ = self.gap.add(&o.gap);
        self.ok += o.ok;
        self.errors += o.errors;
        self.events += o.events;
    }
}

fn micros(d: Duration) -> u64 {
    d.as_micros().clamp(1, 120_000_000) as u64
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let target = match Target::new(&args.url, args.body.as_deref(), &args.headers) {
        Ok(t) => Arc::new(t),
        Err(e) => {
            eprintln!("tollgate-loadgen: {e}");
            std::process::exit(2);
        }
    };
    let started = Instant::now();
    let measure_from = started + Duration::from_secs_f64(args.warmup);
    let stop_at = measure_from + Duration::from_secs_f64(args.duration);
    let stats = match args.rate {
        Some(rate) => open_loop(&args, target, rate, measure_from, stop_at).await,
        None => closed_loop(&args, target, measure_from, stop_at).await,
    };
    report(&args, &stats);
}

/// Fixed rate: a scheduler hands out start times; idle connections take them.
async fn open_loop(
    args: &Args,
    target: Arc<Target>,
    rate: f64,
    from: Instant,
    stop: Instant,
) -> Stats {
    let (tx, rx) = mpsc::unbounded_channel::<Instant>();
    let rx = Arc::new(Mutex::new(rx));
    let timeout = Duration::from_secs_f64(args.timeout);
    let workers: Vec<_> = (0..args.connections)
        .map(|_| {
            let (rx, target) = (Arc::clone(&rx), Arc::clone(&target));
            tokio::spawn(async move {
                let mut stats = Stats::new();
                let mut conn: Option<Conn> = None;
                loop {
                    let Some(sched) = rx.lock().await.recv().await else {
                        break;
                    };
                    let res = run_one(&mut conn, &target, sched, timeout).await;
                    if sched >= from {
                        match res {
                            Ok(s) => stats.record(&s),
                            Err(_) => stats.errors += 1,
                        }
                    }
                }
                stats
            })
        })
        .collect();
    let interval = Duration::from_secs_f64(1.0 / rate);
    let start = Instant::now();
    let mut i: u32 = 0;
    loop {
        let at = start + interval * i;
        if at >= stop {
            break;
        }
        tokio::time::sleep_until(at).await;
        if tx.send(at).is_err() {
            break;
        }
        i += 1;
    }
    drop(tx);
    collect(workers).await
}

/// Saturation: each connection sends its next request as soon as the previous one ends.
async fn closed_loop(args: &Args, target: Arc<Target>, from: Instant, stop: Instant) -> Stats {
    let timeout = Duration::from_secs_f64(args.timeout);
    let workers: Vec<_> = (0..args.connections)
        .map(|_| {
            let target = Arc::clone(&target);
            tokio::spawn(async move {
                let mut stats = Stats::new();
                let mut conn: Option<Conn> = None;
                loop {
                    let now = Instant::now();
                    if now >= stop {
                        break;
                    }
                    let res = run_one(&mut conn, &target, now, timeout).await;
                    if now >= from {
                        match res {
                            Ok(s) => stats.record(&s),
                            Err(_) => stats.errors += 1,
                        }
                    }
                }
                stats
            })
        })
        .collect();
    collect(workers).await
}

async fn run_one(
    conn: &mut Option<Conn>,
    target: &Target,
    sched: Instant,
    timeout: Duration,
) -> Result<Sample, String> {
    if conn.is_none() {
        *conn = Some(Conn::connect(target).await?);
    }
    let c = conn.as_mut().ok_or("no connection")?;
    match tokio::time::timeout(timeout, c.request(target, sched)).await {
        Ok(Ok((sample, reusable))) => {
            if !reusable {
                *conn = None;
            }
            if (200..300).contains(&sample.status) {
                Ok(sample)
            } else {
                Err(format!("status {}", sample.status))
            }
        }
        Ok(Err(e)) => {
            *conn = None;
            Err(e)
        }
        Err(_) => {
            *conn = None;
            Err("timeout".into())
        }
    }
}

async fn collect(workers: Vec<tokio::task::JoinHandle<Stats>>) -> Stats {
    let mut all = Stats::new();
    for w in workers {
        if let Ok(s) = w.await {
            all.merge(&s);
        }
    }
    all
}

fn report(args: &Args, s: &Stats) {
    let q = |h: &Histogram<u64>, p: f64| {
        if h.is_empty() {
            0.0
        } else {
            h.value_at_quantile(p) as f64 / 1000.0
        }
    };
    let out = serde_json::json!({
        "label": args.label,
        "mode": if args.rate.is_some() { "open_loop" } else { "closed_loop" },
        "target_rate": args.rate,
        "duration_s": args.duration,
        "connections": args.connections,
        "ok": s.ok,
        "errors": s.errors,
        "rps": s.ok as f64 / args.duration,
        "latency_ms": {"p50": q(&s.latency, 0.5), "p90": q(&s.latency, 0.9), "p99": q(&s.latency, 0.99),
                        "p999": q(&s.latency, 0.999), "max": q(&s.latency, 1.0), "mean": s.latency.mean() / 1000.0},
        "ttft_ms": {"p50": q(&s.ttft, 0.5), "p99": q(&s.ttft, 0.99)},
        "gap_ms": {"p50": q(&s.gap, 0.5), "p99": q(&s.gap, 0.99)},
        "events_per_s": s.events as f64 / args.duration,
    });
    println!("{out}");
}
