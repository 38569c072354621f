//! What tollgate can do with each nginx directive today.
//!
//! Owns: the decision, per directive, between "accepted, no effect on a proxy" ([`NoOp`]),
//! "served with nginx's semantics" ([`Implemented`], lowered by `crate::http`) and "would
//! change behaviour, not implemented yet" ([`NotImplemented`]): a configuration using one is
//! refused at start-up, naming it with file:line. Lowering has the last word: an implemented
//! directive in a form or context it does not handle is refused there, never ignored. It
//! must not affect `-t`: nginx's verdict is reproduced as is.
//!
//! [`NoOp`]: Support::NoOp
//! [`Implemented`]: Support::Implemented
//! [`NotImplemented`]: Support::NotImplemented

use super::parser::Directive;

/// What tollgate does with a directive when serving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    /// Accepted and ignored: it tunes nginx's own machinery (workers, buffers, sendfile,
    /// compression of responses, mime tables) and cannot change what a proxy forwards.
    NoOp,
    /// Served by the generic path (`crate::http`).
    Implemented,
    /// Changes behaviour; refused until implemented.
    NotImplemented,
}

/// Directives accepted as no-ops. The structure-only `events` block is here too: it means
/// nothing by itself, its contents are classified one by one.
const NO_OPS: &[&str] = &[
    "events",
    "include",
    "worker_processes",
    "worker_connections",
    "worker_rlimit_nofile",
    "worker_cpu_affinity",
    "worker_priority",
    "worker_shutdown_timeout",
    "multi_accept",
    "accept_mutex",
    "accept_mutex_delay",
    "use",
    "pid",
    "user",
    "daemon",
    "master_process",
    "lock_file",
    "pcre_jit",
    "thread_pool",
    "timer_resolution",
    "sendfile",
    "sendfile_max_chunk",
    "tcp_nopush",
    "tcp_nodelay",
    "types_hash_max_size",
    "types_hash_bucket_size",
    "server_names_hash_max_size",
    "server_names_hash_bucket_size",
    "variables_hash_max_size",
    "variables_hash_bucket_size",
    "map_hash_max_size",
    "map_hash_bucket_size",
    "proxy_headers_hash_max_size",
    "proxy_headers_hash_bucket_size",
    "charset",
    "server_tokens",
    "gzip",
    "gzip_types",
    "gzip_comp_level",
    "gzip_min_length",
    "gzip_proxied",
    "gzip_vary",
    "gzip_disable",
    "gzip_buffers",
    "gzip_http_version",
    "gzip_static",
    "open_file_cache",
    "open_file_cache_valid",
    "open_file_cache_min_uses",
    "open_file_cache_errors",
    "client_body_buffer_size",
    "client_header_buffer_size",
    "large_client_header_buffers",
    "proxy_buffer_size",
    "proxy_buffers",
    "proxy_busy_buffers_size",
    "proxy_max_temp_file_size",
    "proxy_temp_file_write_size",
    "output_buffers",
    "postpone_output",
    "reset_timedout_connection",
    "ssl_session_cache",
    "ssl_session_timeout",
    "ssl_session_tickets",
    "ssl_buffer_size",
];

/// Directives the generic path implements (see `crate::http::lower` for their forms).
const IMPLEMENTED: &[&str] = &[
    "http",
    "llm_gateway",
    "server",
    "listen",
    "server_name",
    "location",
    "upstream",
    "keepalive",
    "least_conn",
    "ip_hash",
    "hash",
    "zone",
    "proxy_pass",
    "proxy_set_header",
    "proxy_http_version",
    "proxy_hide_header",
    "proxy_pass_header",
    "proxy_connect_timeout",
    "proxy_read_timeout",
    "proxy_send_timeout",
    "proxy_next_upstream",
    "proxy_next_upstream_tries",
    "proxy_next_upstream_timeout",
    "proxy_buffering",
    "proxy_request_buffering",
    "proxy_redirect",
    "client_max_body_size",
    "add_header",
    "default_type",
    "types",
    "return",
    "rewrite",
    "set",
    "map",
    "if",
    "break",
    "access_log",
    "log_format",
    "error_log",
    "allow",
    "deny",
    "satisfy",
    "limit_req_zone",
    "limit_req",
    "limit_req_status",
    "limit_req_log_level",
    "limit_req_dry_run",
    "limit_conn_zone",
    "limit_conn",
    "limit_conn_status",
    "limit_conn_log_level",
    "limit_conn_dry_run",
    "auth_basic",
    "auth_basic_user_file",
    "error_page",
    "ssl_certificate",
    "ssl_certificate_key",
    "ssl_protocols",
    "ssl_prefer_server_ciphers",
    "proxy_ssl_server_name",
    "proxy_ssl_name",
    "proxy_ssl_verify",
    "proxy_ssl_verify_depth",
    "proxy_ssl_trusted_certificate",
    "proxy_ssl_certificate",
    "proxy_ssl_certificate_key",
    "proxy_ssl_session_reuse",
    "proxy_ssl_protocols",
    "proxy_ssl_ciphers",
    "root",
    "alias",
    "index",
    "try_files",
    "etag",
    "if_modified_since",
    "max_ranges",
    "log_not_found",
    "autoindex",
    "disable_symlinks",
    "proxy_intercept_errors",
];

/// How tollgate treats `d` when serving.
pub fn support(d: &Directive) -> Support {
    let name = d.name.as_str();
    if NO_OPS.contains(&name) {
        Support::NoOp
    } else if IMPLEMENTED.contains(&name) {
        Support::Implemented
    } else {
        Support::NotImplemented
    }
}

/// The first directive (depth first, in file order) that tollgate cannot serve yet.
pub fn first_not_implemented(directives: &[Directive]) -> Option<&Directive> {
    for d in directives {
        if support(d) == Support::NotImplemented {
            return Some(d);
        }
        // The bodies of `map` and `types` are data (keys and values), not directives.
        if matches!(d.name.as_str(), "map" | "types") {
            continue;
        }
        if let Some(found) = d.block.as_deref().and_then(first_not_implemented) {
            return Some(found);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_ops_and_implemented_are_known_directives() {
        for name in NO_OPS.iter().chain(IMPLEMENTED) {
            assert!(super::super::directives::is_known(name), "{name}");
        }
        assert!(!NO_OPS.iter().any(|n| IMPLEMENTED.contains(n)));
    }
}
