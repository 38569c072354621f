//! Lowering of TLS (part of `lower`): the configuration's directory for relative file
//! names, and the upstream TLS settings of `proxy_pass https://` locations.

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
}
