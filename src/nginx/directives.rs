//! The table of directives nginx knows, and nginx's dispatch checks on it.
//!
//! Owns: which directives exist (every `ngx_command_t` of the modules compiled into
//! Debian's nginx 1.22.1, generated into `directives_table.rs`), in which contexts each is
//! allowed and how many arguments it takes (nginx's `NGX_CONF_*` flags), and the exact order
//! of nginx's `ngx_conf_handler` checks: unknown → not allowed here → not terminated / no
//! opening brace → argument count. It must not hold what a directive *means*: value checks
//! live in `semantics.rs`, and what tollgate implements lives in `support.rs`.

#[path = "directives_table.rs"]
mod table;

use super::diag::Diag;

/// nginx's module types; a directive only matches in contexts of its module type
/// (`NGX_CONF_MODULE` ones, i.e. `include`, match everywhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModuleType {
    Core,
    Conf,
    Event,
    Http,
}

/// How nginx stores a directive's value: the standard `ngx_conf_set_*_slot` setters (whose
/// checks tollgate reproduces), or a module's own function (`CustomDup` when that function
/// refuses a second occurrence with "is duplicate").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setter {
    Flag,
    Str,
    Num,
    Size,
    Off,
    Msec,
    Sec,
    Enum,
    Bufs,
    Bitmask,
    Path,
    Access,
    Custom,
    CustomDup,
}

/// One `ngx_command_t` row.
#[derive(Debug, Clone, Copy)]
pub struct Cmd {
    pub name: &'static str,
    pub module: ModuleType,
    /// `NGX_CONF_*` and context bits, as in nginx's source.
    pub flags: u32,
    pub setter: Setter,
    /// The values an `Enum` or `Bitmask` setter accepts (case-insensitively); empty when the
    /// table comes from another file (then any value is accepted).
    pub values: &'static [&'static str],
}

// NGX_CONF_* argument and kind bits (src/core/ngx_conf_file.h).
pub const NOARGS: u32 = 0x0000_0001;
pub const BLOCK: u32 = 0x0000_0100;
pub const FLAG: u32 = 0x0000_0200;
pub const ANY: u32 = 0x0000_0400;
pub const MORE1: u32 = 0x0000_0800;
pub const MORE2: u32 = 0x0000_1000;
const MAX_ARGS: usize = 8;
/// `argument_number[]`: the TAKEn bit for n arguments.
const ARGUMENT_NUMBER: [u32; MAX_ARGS] = [NOARGS, 0x2, 0x4, 0x8, 0x10, 0x20, 0x40, 0x80];

// Context bits (ngx_conf_file.h, ngx_http_config.h, ngx_event.h).
pub const MAIN_CONF: u32 = 0x0100_0000;
pub const EVENT_CONF: u32 = 0x0200_0000;
pub const HTTP_MAIN_CONF: u32 = 0x0200_0000;
pub const HTTP_SRV_CONF: u32 = 0x0400_0000;
pub const HTTP_LOC_CONF: u32 = 0x0800_0000;
pub const HTTP_UPS_CONF: u32 = 0x1000_0000;
pub const HTTP_SIF_CONF: u32 = 0x2000_0000;
pub const HTTP_LIF_CONF: u32 = 0x4000_0000;
pub const HTTP_LMT_CONF: u32 = 0x8000_0000;

/// A parsing context: the module type and the context bit nginx sets (`cf->module_type`,
/// `cf->cmd_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    Main,
    Events,
    Http,
    Server,
    Location,
    Upstream,
    ServerIf,
    LocationIf,
    LimitExcept,
}

impl Context {
    fn module_type(self) -> ModuleType {
        match self {
            Context::Main => ModuleType::Core,
            Context::Events => ModuleType::Event,
            _ => ModuleType::Http,
        }
    }

    fn cmd_type(self) -> u32 {
        match self {
            Context::Main => MAIN_CONF,
            Context::Events => EVENT_CONF,
            Context::Http => HTTP_MAIN_CONF,
            Context::Server => HTTP_SRV_CONF,
            Context::Location => HTTP_LOC_CONF,
            Context::Upstream => HTTP_UPS_CONF,
            Context::ServerIf => HTTP_SIF_CONF,
            Context::LocationIf => HTTP_LIF_CONF,
            Context::LimitExcept => HTTP_LMT_CONF,
        }
    }

    /// The name used in dumps and docs.
    pub fn name(self) -> &'static str {
        match self {
            Context::Main => "main",
            Context::Events => "events",
            Context::Http => "http",
            Context::Server => "server",
            Context::Location => "location",
            Context::Upstream => "upstream",
            Context::ServerIf => "if (server)",
            Context::LocationIf => "if (location)",
            Context::LimitExcept => "limit_except",
        }
    }
}

/// How a statement ended, as `ngx_conf_handler` sees it (`last`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Terminator {
    Semicolon,
    Brace,
}

/// Every row of the table (for docs, tests and `-V`).
pub fn all() -> &'static [Cmd] {
    table::COMMANDS
}

/// tollgate's own directives, checked like nginx's (a config using them is not nginx's any
/// more, so `-t` parity does not apply to them). `llm_gateway FILE;` in a location hands its
/// requests to the LLM pipeline of a YAML configuration.
static EXTENSIONS: &[Cmd] = &[Cmd {
    name: "llm_gateway",
    module: ModuleType::Http,
    flags: HTTP_LOC_CONF | ARGUMENT_NUMBER[1],
    setter: Setter::CustomDup,
    values: &[],
}];

fn commands() -> impl Iterator<Item = &'static Cmd> {
    table::COMMANDS.iter().chain(EXTENSIONS)
}

/// True when nginx 1.22 (Debian's build) or tollgate knows a directive by this name.
pub fn is_known(name: &str) -> bool {
    commands().any(|c| c.name == name)
}

/// `ngx_conf_handler`'s dispatch: the command that takes `name` with `nargs` arguments
/// (the name excluded) in `ctx`, or nginx's diagnostic, reported at `line`.
pub fn lookup(
    name: &str,
    nargs: usize,
    ctx: Context,
    term: Terminator,
    line: usize,
) -> Result<&'static Cmd, Diag> {
    let mut found = false;
    for cmd in commands().filter(|c| c.name == name) {
        found = true;
        if cmd.module != ModuleType::Conf && cmd.module != ctx.module_type() {
            continue;
        }
        if cmd.flags & ctx.cmd_type() == 0 {
            continue;
        }
        let block = cmd.flags & BLOCK != 0;
        if !block && term != Terminator::Semicolon {
            return Err(Diag::not_terminated(name, line));
        }
        if block && term != Terminator::Brace {
            return Err(Diag::no_opening_brace(name, line));
        }
        if !arg_count_ok(cmd.flags, nargs) {
            return Err(Diag::invalid_arg_count(name, line));
        }
        return Ok(cmd);
    }
    Err(if found {
        Diag::not_allowed_here(name, line)
    } else {
        Diag::unknown_directive(name, line)
    })
}

/// nginx's argument-count rule for `nargs` arguments (the directive name excluded).
fn arg_count_ok(flags: u32, nargs: usize) -> bool {
    if flags & ANY != 0 {
        return true;
    }
    if flags & FLAG != 0 {
        return nargs == 1;
    }
    if flags & MORE1 != 0 {
        return nargs >= 1;
    }
    if flags & MORE2 != 0 {
        return nargs >= 2;
    }
    nargs < MAX_ARGS && flags & ARGUMENT_NUMBER[nargs] != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(name: &str, nargs: usize, ctx: Context, term: Terminator) -> String {
        match lookup(name, nargs, ctx, term, 3) {
            Ok(c) => format!("ok {}", c.name),
            Err(d) => d.message,
        }
    }

    #[test]
    fn dispatch_follows_ngx_conf_handler() {
        use Context::*;
        use Terminator::*;
        assert_eq!(err("proxy_pass", 1, Location, Semicolon), "ok proxy_pass");
        assert_eq!(
            err("proxy_passs", 1, Location, Semicolon),
            "unknown directive \"proxy_passs\""
        );
        assert_eq!(
            err("upstream", 1, Server, Brace),
            "\"upstream\" directive is not allowed here"
        );
        assert_eq!(
            err("proxy_pass", 0, Location, Semicolon),
            "invalid number of arguments in \"proxy_pass\" directive"
        );
        assert_eq!(
            err("proxy_pass", 1, Location, Brace),
            "directive \"proxy_pass\" is not terminated by \";\""
        );
        assert_eq!(
            err("server", 0, Http, Semicolon),
            "directive \"server\" has no opening \"{\""
        );
        // `server` inside upstream is the upstream module's, taking 1+ arguments.
        assert_eq!(err("server", 1, Upstream, Semicolon), "ok server");
        assert_eq!(
            err("worker_connections", 1, Http, Semicolon),
            "\"worker_connections\" directive is not allowed here"
        );
        assert_eq!(err("include", 1, Upstream, Semicolon), "ok include");
        assert_eq!(
            err("gzip", 2, Http, Semicolon),
            "invalid number of arguments in \"gzip\" directive"
        );
        // nginx 1.22 has no `http2` directive (it came in 1.25.1).
        assert_eq!(
            err("http2", 1, Server, Semicolon),
            "unknown directive \"http2\""
        );
    }

    #[test]
    fn the_table_covers_the_common_directives() {
        for name in [
            "worker_processes",
            "worker_connections",
            "pid",
            "user",
            "gzip",
            "gzip_types",
            "sendfile",
            "tcp_nopush",
            "types",
            "default_type",
            "server_tokens",
            "keepalive_timeout",
            "listen",
            "server_name",
            "proxy_set_header",
            "proxy_http_version",
            "proxy_buffering",
            "proxy_request_buffering",
            "proxy_next_upstream",
            "proxy_redirect",
            "keepalive",
            "least_conn",
            "ip_hash",
            "hash",
            "return",
            "rewrite",
            "set",
            "map",
            "add_header",
            "limit_req_zone",
            "limit_req",
            "limit_conn",
            "client_max_body_size",
            "allow",
            "deny",
            "auth_basic",
            "access_log",
            "log_format",
            "error_log",
            "error_page",
            "root",
            "index",
            "try_files",
            "ssl_certificate",
            "ssl_certificate_key",
        ] {
            assert!(is_known(name), "{name} missing from the table");
        }
        assert!(all().len() > 500);
    }
}
