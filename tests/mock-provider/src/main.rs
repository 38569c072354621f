//! `tollgate-mock-provider`: the mock OpenAI provider as a standalone server, the upstream for
//! tollgate's load tests. See the library docs for what it answers.
//!
//! ```text
//! tollgate-mock-provider --listen 127.0.0.1:PORT [--api-key K] [--reply TEXT]
//!                        [--token-interval-ms N] [--no-validate]
//! ```
//!
//! Prints `listening on ADDR` once bound and serves until killed (or Ctrl-C). Requests are not
//! recorded (nothing could read them, and the record would grow without bound).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tollgate_mock_provider::{MockProvider, Options};

/// Mock OpenAI-compatible LLM provider (tests and benchmarks of tollgate).
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Require `Authorization: Bearer <KEY>` (401 otherwise).
    #[arg(long, value_name = "KEY")]
    api_key: Option<String>,
    /// Fixed reply text for every completion.
    #[arg(long, value_name = "TEXT")]
    reply: Option<String>,
    /// Delay between two SSE events of a stream, in milliseconds.
    #[arg(long, value_name = "N", default_value_t = 0)]
    token_interval_ms: u64,
    /// Don't validate requests (only the API key, if one is set, is checked).
    #[arg(long)]
    no_validate: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let opts = Options {
        api_key: args.api_key,
        reply: args.reply,
        token_interval: Duration::from_millis(args.token_interval_ms),
        validate: !args.no_validate,
        tls: false,
        bedrock: None,
    };
    let mock = match MockProvider::bind(args.listen, opts).await {
        Ok(mock) => mock,
        Err(e) => {
            eprintln!(
                "tollgate-mock-provider: cannot listen on {}: {e}",
                args.listen
            );
            return ExitCode::FAILURE;
        }
    };
    mock.set_recording(false);
    println!("listening on {}", mock.addr());
    let _ = tokio::signal::ctrl_c().await;
    ExitCode::SUCCESS
}
