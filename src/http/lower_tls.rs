//! Lowering of TLS (part of `lower`): the configuration's directory for relative file
//! names, the listener protocol settings pingora's rustls listener can honour, and the
//! upstream TLS settings of `proxy_pass https://` locations.

use super::super::conf::{ProxyPass, Settings};
use super::{Lower, LowerError};
use crate::nginx::Directive;

impl Lower<'_> {
    /// nginx's configuration prefix: the main file's directory.
    pub(super) fn conf_dir(&self) -> String {
        let main = self.config.files.first().map_or("", |f| f.path.as_str());
        main.rsplit_once('/').map_or("", |(d, _)| d).to_owned()
    }

    /// Gives an `https://` proxy_pass of location `d` (settings merged) its TLS settings,
    /// shared with every location that has the same ones.
    pub(super) fn upstream_tls(
        &mut self,
        d: &Directive,
        s: &Settings,
        proxy: &mut ProxyPass,
    ) -> Result<(), LowerError> {
        if !proxy.url.starts_with("https://") {
            return Ok(());
        }
        let tls = s
            .proxy_ssl
            .finish(&proxy.proxy_host)
            .map_err(|m| self.err(d, m))?;
        let i = match self.upstream_tls.iter().position(|t| *t == tls) {
            Some(i) => i,
            None => {
                self.upstream_tls.push(tls);
                self.upstream_tls.len() - 1
            }
        };
        proxy.tls = Some(i);
        Ok(())
    }

    /// `ssl_protocols` / `ssl_prefer_server_ciphers`: the rustls listener offers TLSv1.2 and
    /// TLSv1.3 and follows the client's cipher order, so only lists allowing both (older
    /// versions in them are never offered) and `off` keep nginx's behaviour.
    pub(super) fn listener_tls_setting(&self, d: &Directive) -> Result<(), LowerError> {
        let has = |v: &str| d.args.iter().any(|w| w.text == v);
        let ok = match d.name.as_str() {
            "ssl_protocols" => has("TLSv1.2") && has("TLSv1.3"),
            _ => has("off"),
        };
        if ok {
            return Ok(());
        }
        let what = match d.name.as_str() {
            "ssl_protocols" => "\"ssl_protocols\" without both TLSv1.2 and TLSv1.3 is not implemented yet (rustls offers exactly those)",
            _ => "\"ssl_prefer_server_ciphers on\" is not implemented yet (rustls follows the client's order)",
        };
        Err(self.err(d, what.into()))
    }
}
