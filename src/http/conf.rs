//! The effective configuration of one location, and the inheritable settings it is merged
//! from (`ngx_http_proxy_merge_loc_conf`, `ngx_http_headers_merge_conf`, core's merge).
//!
//! Owns: nginx's defaults and inheritance rules: scalars inherit unless set; list directives
//! (`proxy_set_header`, `add_header`, `proxy_hide_header`, `proxy_pass_header`) are inherited
//! only by a level that sets none of them; the default upstream headers (`Host $proxy_host`,
//! `Connection close`, and the dropped hop-by-hop ones) go after the configured ones. It must
//! not read directives (see `lower`) or requests.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderName;

use super::access::{Access, Rule};
use super::auth_basic::AuthBasic;
use super::error_page::ErrorPage;
use super::log_format::AccessLog;
use super::script::Op;
use super::static_files::{Files, StaticSettings};
use super::vars::Template;
use super::{limit_conn, limit_req};

/// A header sent upstream: `value` evaluated; an empty result drops the header.
#[derive(Debug, Clone)]
pub struct SetHeader {
    pub name: HeaderName,
    pub value: Template,
}

/// An `add_header`.
#[derive(Debug, Clone)]
pub struct AddHeader {
    pub name: HeaderName,
    pub value: Template,
    pub always: bool,
}

/// `proxy_next_upstream` and its companions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextUpstream {
    pub error: bool,
    pub timeout: bool,
    pub non_idempotent: bool,
    /// 0 = unlimited.
    pub tries: u32,
    /// `None` = unlimited.
    pub time_limit: Option<Duration>,
}

/// Where a proxied request goes and how its URI is built.
#[derive(Debug, Clone)]
pub struct ProxyPass {
    /// Index into the site's upstream groups.
    pub upstream: usize,
    /// The URI part when written without variables (`None`: no URI part).
    pub uri: Option<String>,
    /// The URI part with variables (taken as is at run time).
    pub uri_vars: Option<Template>,
    /// `$proxy_host` and `$proxy_port`.
    pub proxy_host: String,
    pub proxy_port: u16,
    /// The URL as written (for `proxy_redirect default`).
    pub url: String,
    /// `https://`: index into `Site::upstream_tls`.
    pub tls: Option<usize>,
}

/// Settings one level sets; `None` = inherit.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub set_headers: Option<Vec<(String, Template)>>,
    pub http10: Option<bool>,
    pub hide: Option<Vec<String>>,
    pub pass: Option<Vec<String>>,
    pub connect: Option<Duration>,
    pub read: Option<Duration>,
    pub send: Option<Duration>,
    pub next: Option<(bool, bool, bool)>,
    pub tries: Option<u32>,
    pub next_time: Option<Duration>,
    pub buffering: Option<bool>,
    pub request_buffering: Option<bool>,
    pub redirect_default: Option<bool>,
    pub intercept_errors: Option<bool>,
    pub max_body: Option<u64>,
    pub add_headers: Option<Vec<AddHeader>>,
    pub default_type: Option<String>,
    /// `types { mime ext...; }`: extension → MIME type.
    pub types: Option<Arc<HashMap<String, String>>>,
    /// `access_log`s of the level (empty: `off`); a level with any replaces its parent's.
    pub access_logs: Option<Vec<AccessLog>>,
    pub access_rules: Option<Vec<Rule>>,
    pub satisfy_any: Option<bool>,
    pub limit_req: Option<Vec<limit_req::Limit>>,
    pub limit_req_status: Option<u16>,
    pub limit_req_log_level: Option<log::Level>,
    pub limit_req_dry_run: Option<bool>,
    pub limit_conn: Option<Vec<limit_conn::Limit>>,
    pub limit_conn_status: Option<u16>,
    pub limit_conn_log_level: Option<log::Level>,
    pub limit_conn_dry_run: Option<bool>,
    /// `auth_basic`: `Some(None)` is `off`.
    pub auth_realm: Option<Option<Template>>,
    pub auth_file: Option<String>,
    /// `error_page`s: a level with any replaces its parent's.
    pub error_pages: Option<Vec<ErrorPage>>,
    /// `ssl_certificate` / `ssl_certificate_key` (absolute paths).
    pub ssl_cert: Option<String>,
    pub ssl_key: Option<String>,
    /// `proxy_ssl_*`.
    pub proxy_ssl: super::proxy_ssl::ProxySsl,
    /// `root`, `alias`, `index`, `try_files`, ... (`static_files` owns their inheritance).
    pub statics: StaticSettings,
}

impl Settings {
    /// Fills what this level did not set from its parent.
    pub fn inherit(&mut self, parent: &Settings) {
        fn take<T: Clone>(mine: &mut Option<T>, theirs: &Option<T>) {
            if mine.is_none() {
                mine.clone_from(theirs);
            }
        }
        take(&mut self.set_headers, &parent.set_headers);
        take(&mut self.http10, &parent.http10);
        take(&mut self.hide, &parent.hide);
        take(&mut self.pass, &parent.pass);
        take(&mut self.connect, &parent.connect);
        take(&mut self.read, &parent.read);
        take(&mut self.send, &parent.send);
        take(&mut self.next, &parent.next);
        take(&mut self.tries, &parent.tries);
        take(&mut self.next_time, &parent.next_time);
        take(&mut self.buffering, &parent.buffering);
        take(&mut self.request_buffering, &parent.request_buffering);
        take(&mut self.redirect_default, &parent.redirect_default);
        take(&mut self.intercept_errors, &parent.intercept_errors);
        take(&mut self.max_body, &parent.max_body);
        take(&mut self.add_headers, &parent.add_headers);
        take(&mut self.default_type, &parent.default_type);
        take(&mut self.types, &parent.types);
        take(&mut self.access_logs, &parent.access_logs);
        take(&mut self.access_rules, &parent.access_rules);
        take(&mut self.satisfy_any, &parent.satisfy_any);
        take(&mut self.limit_req, &parent.limit_req);
        take(&mut self.limit_req_status, &parent.limit_req_status);
        take(&mut self.limit_req_log_level, &parent.limit_req_log_level);
        take(&mut self.limit_req_dry_run, &parent.limit_req_dry_run);
        take(&mut self.limit_conn, &parent.limit_conn);
        take(&mut self.limit_conn_status, &parent.limit_conn_status);
        take(&mut self.limit_conn_log_level, &parent.limit_conn_log_level);
        take(&mut self.limit_conn_dry_run, &parent.limit_conn_dry_run);
        take(&mut self.auth_realm, &parent.auth_realm);
        take(&mut self.auth_file, &parent.auth_file);
        take(&mut self.error_pages, &parent.error_pages);
        take(&mut self.ssl_cert, &parent.ssl_cert);
        take(&mut self.ssl_key, &parent.ssl_key);
        self.proxy_ssl.inherit(&parent.proxy_ssl);
        self.statics.inherit(&parent.statics);
    }
}

/// Response headers nginx hides unless `proxy_pass_header` names them.
const HIDDEN: &[&str] = &[
    "date",
    "server",
    "x-pad",
    "x-accel-expires",
    "x-accel-redirect",
    "x-accel-limit-rate",
    "x-accel-buffering",
    "x-accel-charset",
];

/// nginx 1.22's `ngx_http_proxy_headers`: appended after the configured headers unless one
/// of those has the same name. Empty values drop the client's header.
const DEFAULT_HEADERS: &[(&str, &str)] = &[
    ("host", "$proxy_host"),
    ("connection", "close"),
    ("te", ""),
    ("keep-alive", ""),
    ("expect", ""),
    ("upgrade", ""),
];

/// The effective configuration of a location (or of a server when no location matched).
#[derive(Debug, Clone)]
pub struct LocConf {
    /// The location's name (`clcf->name`), for the proxy_pass URI rule.
    pub name: String,
    pub proxy: Option<ProxyPass>,
    /// Headers sent upstream, in nginx's order: configured ones, then the defaults.
    pub set_headers: Arc<[SetHeader]>,
    pub http10: bool,
    pub hide: Arc<[HeaderName]>,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub send_timeout: Duration,
    pub next: NextUpstream,
    pub buffering: bool,
    /// `proxy_request_buffering`: when off, nothing is retried once the request was sent.
    pub request_buffering: bool,
    /// `proxy_redirect default`: (prefix sent by the upstream, replacement).
    pub redirect: Option<(String, String)>,
    /// `proxy_intercept_errors`: an upstream status >= 300 with an `error_page` gets the page.
    pub intercept_errors: bool,
    pub max_body: u64,
    pub add_headers: Arc<[AddHeader]>,
    pub default_type: String,
    /// Extension → MIME type for the bodies tollgate generates (`return code text`).
    pub types: Arc<HashMap<String, String>>,
    /// The location's rewrite-phase directives.
    pub script: Arc<[Op]>,
    /// `llm_gateway`: index into `Site::llm_gateways`; the location is served by the LLM
    /// pipeline instead of `proxy_pass`. Not inherited (like `proxy_pass`).
    pub llm_gateway: Option<usize>,
    /// Where a request that ends here is logged (none without an `access_log`).
    pub access_logs: Arc<[AccessLog]>,
    /// The access phase (see `Access`).
    pub access: Access,
    pub error_pages: Arc<[ErrorPage]>,
    /// How a location without `proxy_pass` serves files.
    pub files: Arc<Files>,
}

fn header_name(name: &str) -> Result<HeaderName, String> {
    HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes())
        .map_err(|_| format!("invalid header name \"{name}\""))
}

/// nginx's types when no `types` block is configured (`ngx_http_core_default_types`).
fn builtin_types() -> Arc<HashMap<String, String>> {
    let pairs = [
        ("html", "text/html"),
        ("gif", "image/gif"),
        ("jpg", "image/jpeg"),
    ];
    Arc::new(
        pairs
            .iter()
            .map(|(e, t)| ((*e).into(), (*t).into()))
            .collect(),
    )
}

impl LocConf {
    /// `ngx_http_set_content_type`: by the URI's extension (compared in lowercase), else
    /// `default_type`.
    pub fn content_type(&self, uri: &str) -> &str {
        let last = uri.rsplit('/').next().unwrap_or("");
        let ext = last.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
        ext.and_then(|e| self.types.get(&e))
            .map_or(self.default_type.as_str(), String::as_str)
    }

    /// Applies nginx's defaults to merged settings.
    pub fn finish(
        s: &Settings,
        name: &str,
        proxy: Option<ProxyPass>,
        script: Vec<Op>,
    ) -> Result<LocConf, String> {
        let mut set_headers = Vec::new();
        for (n, v) in s.set_headers.iter().flatten() {
            set_headers.push(SetHeader {
                name: header_name(n)?,
                value: v.clone(),
            });
        }
        for (n, v) in DEFAULT_HEADERS {
            if !set_headers.iter().any(|h| h.name.as_str() == *n) {
                let value = if v.starts_with('$') {
                    Template::parse(v, &Default::default())?
                } else {
                    Template::literal(v)
                };
                set_headers.push(SetHeader {
                    name: HeaderName::from_static(n),
                    value,
                });
            }
        }
        let pass: Vec<String> = s
            .pass
            .iter()
            .flatten()
            .map(|p| p.to_ascii_lowercase())
            .collect();
        let mut hide = Vec::new();
        let extra = s.hide.iter().flatten().map(|h| h.to_ascii_lowercase());
        for h in HIDDEN.iter().map(|h| (*h).to_owned()).chain(extra) {
            if !pass.contains(&h) {
                hide.push(header_name(&h)?);
            }
        }
        let sixty = Duration::from_secs(60);
        let (error, timeout, non_idempotent) = s.next.unwrap_or((true, true, false));
        let redirect = match (&proxy, s.redirect_default.unwrap_or(true)) {
            (Some(p), true) if p.uri_vars.is_none() => Some(match &p.uri {
                Some(_) => (p.url.clone(), name.to_owned()),
                None => (format!("{}/", p.url), "/".to_owned()),
            }),
            _ => None,
        };
        Ok(LocConf {
            name: name.to_owned(),
            proxy,
            set_headers: set_headers.into(),
            http10: s.http10.unwrap_or(true),
            hide: hide.into(),
            connect_timeout: s.connect.unwrap_or(sixty),
            read_timeout: s.read.unwrap_or(sixty),
            send_timeout: s.send.unwrap_or(sixty),
            next: NextUpstream {
                error,
                timeout,
                non_idempotent,
                tries: s.tries.unwrap_or(0),
                time_limit: s.next_time.filter(|d| !d.is_zero()),
            },
            buffering: s.buffering.unwrap_or(true),
            request_buffering: s.request_buffering.unwrap_or(true),
            redirect,
            intercept_errors: s.intercept_errors.unwrap_or(false),
            max_body: s.max_body.unwrap_or(1024 * 1024),
            add_headers: s.add_headers.clone().unwrap_or_default().into(),
            default_type: s
                .default_type
                .clone()
                .unwrap_or_else(|| "text/plain".into()),
            types: s.types.clone().unwrap_or_else(builtin_types),
            script: script.into(),
            llm_gateway: None,
            access_logs: s.access_logs.clone().unwrap_or_default().into(),
            access: Access {
                rules: s.access_rules.clone().unwrap_or_default().into(),
                satisfy_any: s.satisfy_any.unwrap_or(false),
                limit_req: s.limit_req.clone().unwrap_or_default().into(),
                limit_req_status: s.limit_req_status.unwrap_or(503),
                limit_req_log_level: s.limit_req_log_level.unwrap_or(log::Level::Error),
                limit_req_dry_run: s.limit_req_dry_run.unwrap_or(false),
                limit_conn: s.limit_conn.clone().unwrap_or_default().into(),
                limit_conn_status: s.limit_conn_status.unwrap_or(503),
                limit_conn_log_level: s.limit_conn_log_level.unwrap_or(log::Level::Error),
                limit_conn_dry_run: s.limit_conn_dry_run.unwrap_or(false),
                auth: match (&s.auth_realm, &s.auth_file) {
                    (Some(Some(realm)), Some(file)) => Some(AuthBasic {
                        realm: realm.clone(),
                        file: file.clone(),
                    }),
                    _ => None,
                },
            },
            error_pages: s.error_pages.clone().unwrap_or_default().into(),
            files: Arc::new(s.statics.finish()),
        })
    }

    /// Whether a client header is replaced or dropped by `set_headers`.
    pub fn overrides(&self, name: &HeaderName) -> bool {
        self.set_headers.iter().any(|h| h.name == *name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(c: &LocConf) -> Vec<&str> {
        c.set_headers.iter().map(|h| h.name.as_str()).collect()
    }

    #[test]
    fn defaults_follow_configured_headers() {
        let c = LocConf::finish(&Settings::default(), "/", None, vec![]).unwrap();
        assert_eq!(
            names(&c),
            [
                "host",
                "connection",
                "te",
                "keep-alive",
                "expect",
                "upgrade"
            ]
        );
        let s = Settings {
            set_headers: Some(vec![
                ("X-Real-IP".into(), Template::literal("1")),
                ("Connection".into(), Template::literal("")),
            ]),
            ..Settings::default()
        };
        let c = LocConf::finish(&s, "/", None, vec![]).unwrap();
        assert_eq!(
            names(&c),
            [
                "x-real-ip",
                "connection",
                "host",
                "te",
                "keep-alive",
                "expect",
                "upgrade"
            ]
        );
    }

    #[test]
    fn a_level_with_any_set_header_replaces_all_inherited_ones() {
        let server = Settings {
            set_headers: Some(vec![("X-A".into(), Template::literal("a"))]),
            ..Settings::default()
        };
        let mut loc = Settings {
            set_headers: Some(vec![("X-B".into(), Template::literal("b"))]),
            ..Settings::default()
        };
        loc.inherit(&server);
        let c = LocConf::finish(&loc, "/", None, vec![]).unwrap();
        assert!(names(&c).contains(&"x-b") && !names(&c).contains(&"x-a"));
        let mut bare = Settings::default();
        bare.inherit(&server);
        let c = LocConf::finish(&bare, "/", None, vec![]).unwrap();
        assert!(names(&c).contains(&"x-a"));
    }

    #[test]
    fn pass_header_unhides() {
        let s = Settings {
            pass: Some(vec!["Server".into()]),
            hide: Some(vec!["X-Secret".into()]),
            ..Settings::default()
        };
        let c = LocConf::finish(&s, "/", None, vec![]).unwrap();
        let hidden: Vec<&str> = c.hide.iter().map(|h| h.as_str()).collect();
        assert!(hidden.contains(&"date") && hidden.contains(&"x-secret"));
        assert!(!hidden.contains(&"server"));
    }
}
