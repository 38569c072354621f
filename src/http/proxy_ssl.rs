//! `proxy_pass https://…` and the `proxy_ssl_*` directives: what a location asks of the TLS
//! connection to its upstream (the ssl part of `ngx_http_proxy_module`, nginx 1.22 defaults:
//! no SNI, no verification, verify depth 1, sessions reused).
//!
//! Owns: reading those directives for one level, their inheritance, nginx's defaults, the
//! name sent and verified, and refusing the forms tollgate cannot honour (pingora's rustls
//! connector only verifies the name it also sends as SNI, offers TLS 1.2 and 1.3, and uses
//! rustls' cipher suites). It must not read files or name pingora types:
//! `proxy::upstream_tls` turns an [`UpstreamTls`] into peers.

use crate::nginx::Directive;

/// A reason, located by the caller.
pub type Reason = String;

/// The `proxy_ssl_*` values one level sets; `None` = inherit.
#[derive(Debug, Clone, Default)]
pub struct ProxySsl {
    server_name: Option<bool>,
    name: Option<String>,
    verify: Option<bool>,
    trusted: Option<String>,
    depth: Option<u32>,
    certificate: Option<String>,
    certificate_key: Option<String>,
}

/// What the TLS connection to a location's upstream must do.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UpstreamTls {
    /// The SNI sent (`proxy_ssl_server_name on` and a name that is not an IP address).
    pub sni: Option<String>,
    /// `proxy_ssl_verify on`: the trusted CA file (absolute path); the name verified is
    /// [`UpstreamTls::sni`].
    pub trusted: Option<String>,
    /// `proxy_ssl_verify_depth` (nginx's default 1).
    pub depth: u32,
    /// `proxy_ssl_certificate` and `proxy_ssl_certificate_key` (absolute paths).
    pub client: Option<(String, String)>,
}

fn arg(d: &Directive, i: usize) -> &str {
    d.args.get(i).map_or("", |w| w.text.as_str())
}

/// A file name as nginx takes it: relative names from the configuration's directory.
fn full_path(name: &str, conf_dir: &str) -> String {
    if name.starts_with('/') {
        name.to_owned()
    } else {
        format!("{conf_dir}/{name}")
    }
}

impl ProxySsl {
    /// Applies a `proxy_ssl_*` directive; `Ok(false)` when `d` is not one.
    pub fn directive(&mut self, d: &Directive, conf_dir: &str) -> Result<bool, Reason> {
        let on = || arg(d, 0).eq_ignore_ascii_case("on");
        let file = |what: &str| {
            let name = arg(d, 0);
            if name.contains('$') || name.starts_with("data:") {
                return Err(format!(
                    "\"{what}\" with variables or data: is not implemented yet"
                ));
            }
            Ok(full_path(name, conf_dir))
        };
        match d.name.as_str() {
            "proxy_ssl_server_name" => self.server_name = Some(on()),
            "proxy_ssl_verify" => self.verify = Some(on()),
            "proxy_ssl_name" => {
                if arg(d, 0).contains('$') {
                    return Err("\"proxy_ssl_name\" with variables is not implemented yet".into());
                }
                self.name = Some(arg(d, 0).to_owned());
            }
            "proxy_ssl_trusted_certificate" => self.trusted = Some(file(&d.name)?),
            "proxy_ssl_certificate" => self.certificate = Some(file(&d.name)?),
            "proxy_ssl_certificate_key" => self.certificate_key = Some(file(&d.name)?),
            "proxy_ssl_verify_depth" => {
                let n = arg(d, 0).parse().map_err(|_| "invalid value".to_owned())?;
                self.depth = Some(n);
            }
            // rustls resumes sessions by itself; turning that off is not offered per peer.
            "proxy_ssl_session_reuse" if on() => {}
            "proxy_ssl_session_reuse" => {
                return Err("\"proxy_ssl_session_reuse off\" is not implemented yet".into())
            }
            "proxy_ssl_protocols" => protocols(d)?,
            // nginx's default list; any other OpenSSL cipher string cannot be honoured.
            "proxy_ssl_ciphers" if arg(d, 0) == "DEFAULT" => {}
            "proxy_ssl_ciphers" => {
                return Err("\"proxy_ssl_ciphers\" other than DEFAULT is not implemented yet (rustls' cipher suites are used)".into())
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Fills what this level did not set from its parent.
    pub fn inherit(&mut self, parent: &ProxySsl) {
        fn take<T: Clone>(mine: &mut Option<T>, theirs: &Option<T>) {
            if mine.is_none() {
                mine.clone_from(theirs);
            }
        }
        take(&mut self.server_name, &parent.server_name);
        take(&mut self.name, &parent.name);
        take(&mut self.verify, &parent.verify);
        take(&mut self.trusted, &parent.trusted);
        take(&mut self.depth, &parent.depth);
        take(&mut self.certificate, &parent.certificate);
        take(&mut self.certificate_key, &parent.certificate_key);
    }

    /// The effective settings of a location proxying to `https://proxy_host` (merged).
    pub fn finish(&self, proxy_host: &str) -> Result<UpstreamTls, Reason> {
        let name = host_only(self.name.as_deref().unwrap_or(proxy_host));
        // nginx sends no SNI for IP addresses (`ngx_http_upstream_ssl_name`).
        let is_ip = name.starts_with('[') || name.parse::<std::net::IpAddr>().is_ok();
        let sni =
            (self.server_name == Some(true) && !is_ip && !name.is_empty()).then(|| name.to_owned());
        let trusted = match (self.verify == Some(true), &self.trusted) {
            (false, _) => None,
            (true, None) => {
                return Err("no proxy_ssl_trusted_certificate for proxy_ssl_verify".into())
            }
            (true, Some(_)) if is_ip => {
                return Err(format!("\"proxy_ssl_verify on\" for the IP address \"{name}\" is not implemented yet (set \"proxy_ssl_name\" to the certificate's host name)"));
            }
            (true, Some(_)) if sni.is_none() => {
                return Err("\"proxy_ssl_verify on\" without \"proxy_ssl_server_name on\" is not implemented yet (tollgate verifies the name it sends as SNI)".into());
            }
            (true, Some(t)) => Some(t.clone()),
        };
        let client = match (&self.certificate, &self.certificate_key) {
            (None, _) => None,
            (Some(c), None) => {
                return Err(format!(
                    "no \"proxy_ssl_certificate_key\" is defined for certificate \"{c}\""
                ))
            }
            (Some(c), Some(k)) => Some((c.clone(), k.clone())),
        };
        Ok(UpstreamTls {
            sni,
            trusted,
            depth: self.depth.unwrap_or(1),
            client,
        })
    }
}

/// `proxy_ssl_protocols`: rustls offers TLSv1.2 and TLSv1.3 and nothing older, so a list is
/// served only when it allows both (older versions in it are never offered).
fn protocols(d: &Directive) -> Result<(), Reason> {
    let has = |v: &str| d.args.iter().any(|w| w.text == v);
    if has("TLSv1.2") && has("TLSv1.3") {
        Ok(())
    } else {
        Err("\"proxy_ssl_protocols\" without both TLSv1.2 and TLSv1.3 is not implemented yet (rustls offers exactly those)".into())
    }
}

/// The host part of `$proxy_host` or `proxy_ssl_name` (nginx cuts the port).
fn host_only(name: &str) -> &str {
    if let Some(end) = name.find(']') {
        return &name[..=end];
    }
    name.split_once(':').map_or(name, |(h, _)| h)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(f: impl FnOnce(&mut ProxySsl)) -> ProxySsl {
        let mut s = ProxySsl::default();
        f(&mut s);
        s
    }

    #[test]
    fn defaults_send_no_sni_and_verify_nothing() {
        let t = ProxySsl::default().finish("backend.test:8443").unwrap();
        assert_eq!(t.sni, None);
        assert_eq!(t.trusted, None);
        assert_eq!(t.depth, 1);
    }

    #[test]
    fn server_name_on_sends_the_host_without_port_but_never_an_ip() {
        let s = with(|s| s.server_name = Some(true));
        assert_eq!(
            s.finish("a.test:8443").unwrap().sni.as_deref(),
            Some("a.test")
        );
        assert_eq!(s.finish("127.0.0.1:8443").unwrap().sni, None);
        assert_eq!(s.finish("[::1]:8443").unwrap().sni, None);
        let named = with(|s| {
            s.server_name = Some(true);
            s.name = Some("b.test".into());
        });
        assert_eq!(
            named.finish("127.0.0.1").unwrap().sni.as_deref(),
            Some("b.test")
        );
    }

    #[test]
    fn verify_needs_a_trusted_file_and_a_sent_name() {
        let v = with(|s| s.verify = Some(true));
        let e = v.finish("a.test").unwrap_err();
        assert_eq!(e, "no proxy_ssl_trusted_certificate for proxy_ssl_verify");
        let v = with(|s| {
            s.verify = Some(true);
            s.trusted = Some("/ca.pem".into());
        });
        assert!(v
            .finish("a.test")
            .unwrap_err()
            .contains("proxy_ssl_server_name on"));
        let mut ok = v.clone();
        ok.server_name = Some(true);
        assert_eq!(
            ok.finish("a.test").unwrap().trusted.as_deref(),
            Some("/ca.pem")
        );
        assert!(ok.finish("127.0.0.1").unwrap_err().contains("IP address"));
    }

    #[test]
    fn inheritance_fills_only_unset_values() {
        let parent = with(|s| {
            s.server_name = Some(true);
            s.name = Some("p.test".into());
        });
        let mut child = with(|s| s.name = Some("c.test".into()));
        child.inherit(&parent);
        assert_eq!(child.finish("x").unwrap().sni.as_deref(), Some("c.test"));
    }

    #[test]
    fn a_client_certificate_needs_its_key() {
        let s = with(|s| s.certificate = Some("/c.pem".into()));
        assert!(s
            .finish("a.test")
            .unwrap_err()
            .contains("proxy_ssl_certificate_key"));
    }
}
