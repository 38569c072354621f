//! Observability: Prometheus metrics (one place, bounded labels).
//!
//! Owns: every metric the gateway exports. Must not: decide anything about requests.

pub mod metrics;

pub use metrics::Metrics;
