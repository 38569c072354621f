//! The generic (nginx-semantics) request path as a pure runtime model: a parsed nginx
//! configuration lowered into listen addresses, virtual servers, location trees, upstream
//! groups and scripts, and the request-time rules over them (server and location selection,
//! rewrites and returns, the proxy_pass URI, upstream headers, response headers, round-robin
//! balancing with passive health).
//!
//! Owns: nginx 1.22's semantics for the implemented directives. It must not do I/O or name
//! pingora types: `proxy` adapts it to sessions, `server` resolves and binds.

pub mod access;
pub mod auth_basic;
pub mod conf;
pub mod directives;
pub mod error_page;
pub mod forward;
pub mod limit_conn;
pub mod limit_req;
pub mod listen_tls;
pub mod location;
pub mod log_format;
pub mod lower;
pub mod map;
pub mod names;
pub mod proxy_ssl;
pub mod runtime;
pub mod script;
pub mod site;
pub mod static_files;
pub mod upstream;
pub mod uri;
pub mod vars;

pub use lower::{lower, LowerError};
pub use runtime::{ResolveError, Runtime};
pub use site::{Action, Decision, Site};
