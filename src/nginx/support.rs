//! What tollgate can do with each nginx directive today.
//!
//! Owns: the decision, per directive, between "accepted, no effect on a proxy" ([`NoOp`])
//! and "would change behaviour, not implemented yet" ([`NotImplemented`]). Since serving
//! nginx configurations is not built yet, every config is refused at run time; this table
//! says *which* directive a refusal names, so the message points at real work rather than
//! at a tuning knob. It must not affect `-t`: nginx's verdict is reproduced as is.
//!
//! [`NoOp`]: Support::NoOp
//! [`NotImplemented`]: Support::NotImplemented

use super::parser::Directive;

/// What tollgate does with a directive when serving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    /// Accepted and ignored: it tunes nginx's own machinery (workers, buffers, sendfile,
    /// compression of responses, mime tables) and cannot change what a proxy forwards.
    NoOp,
    /// Changes behaviour; refused until implemented.
    NotImplemented,
}

/// Directives accepted as no-ops. Structure-only blocks (`events`, `http`) are here too:
/// they mean nothing by themselves, their contents are classified one by one.
const NO_OPS: &[&str] = &[
    "events",
    "http",
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
    "types",
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
    "default_type",
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

/// How tollgate treats `d` when serving.
pub fn support(d: &Directive) -> Support {
    if NO_OPS.contains(&d.name.as_str()) {
        Support::NoOp
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
    fn no_ops_are_known_directives() {
        for name in NO_OPS {
            assert!(super::super::directives::is_known(name), "{name}");
        }
    }
}
