//! What `nginx -t` checks about TLS certificates when the `http` block ends
//! (`ngx_http_ssl_merge_srv_conf` → `ngx_ssl_certificates`).
//!
//! Owns: inheriting `ssl_certificate`/`ssl_certificate_key` from the `http` level, the
//! missing-key check, and reporting certificate or key files that cannot be read with the
//! exact text nginx 1.22 on OpenSSL 3 prints. It must not parse PEM: a file that exists is
//! taken as loadable (nginx would also check its content and that key and certificate match).

use super::diag::{errno_text, Diag, Location};
use super::fs::ConfFs;
use super::parser::full_name;

/// The `ssl_certificate` and `ssl_certificate_key` values of one level, in order.
#[derive(Debug, Clone, Default)]
pub struct Tls {
    pub certificates: Vec<String>,
    pub keys: Vec<String>,
    /// The deprecated `ssl on|off;` and where it was written (`None` when not set).
    pub enable: Option<(bool, String, usize)>,
}

impl Tls {
    /// nginx's merge: each list is taken from the `http` level when the server sets none.
    pub fn merged(&self, http: &Tls) -> Tls {
        let pick = |own: &Vec<String>, outer: &Vec<String>| {
            if own.is_empty() {
                outer.clone()
            } else {
                own.clone()
            }
        };
        Tls {
            certificates: pick(&self.certificates, &http.certificates),
            keys: pick(&self.keys, &http.keys),
            enable: self.enable.clone().or_else(|| http.enable.clone()),
        }
    }

    /// Loads (reads) each certificate, then its key, as nginx does for a server.
    pub fn check(&self, conf_prefix: &str, fs: &dyn ConfFs) -> Result<(), Diag> {
        if let Some((true, path, line)) = &self.enable {
            let at = |what: String| {
                Err(Diag {
                    location: Location::File {
                        path: path.clone(),
                        line: *line,
                    },
                    ..Diag::nowhere(what)
                })
            };
            match self.certificates.last() {
                None => return at("no \"ssl_certificate\" is defined for the \"ssl\" directive".into()),
                Some(_) if self.keys.is_empty() => {
                    return at("no \"ssl_certificate_key\" is defined for the \"ssl\" directive".into())
                }
                Some(last) if self.keys.len() < self.certificates.len() => {
                    return at(format!(
                        "no \"ssl_certificate_key\" is defined for certificate \"{last}\" and the \"ssl\" directive"
                    ))
                }
                Some(_) => {}
            }
        }
        let Some(last) = self.certificates.last() else {
            return Ok(());
        };
        if self.keys.len() < self.certificates.len() {
            return Err(Diag::nowhere(format!(
                "no \"ssl_certificate_key\" is defined for certificate \"{last}\""
            )));
        }
        // Certificates with variables are loaded per handshake; nginx checks none of them here.
        if self
            .certificates
            .iter()
            .chain(&self.keys)
            .any(|c| c.contains('$'))
        {
            return Ok(());
        }
        for (cert, key) in self.certificates.iter().zip(&self.keys) {
            load("certificate", cert, conf_prefix, fs)?;
            load("certificate key", key, conf_prefix, fs)?;
        }
        Ok(())
    }
}

fn load(what: &str, name: &str, conf_prefix: &str, fs: &dyn ConfFs) -> Result<(), Diag> {
    if name.starts_with("data:") || name.starts_with("engine:") {
        return Ok(());
    }
    let path = full_name(conf_prefix, name);
    let Err(err) = fs.read(&path) else {
        return Ok(());
    };
    // OpenSSL 3's error queue after BIO_new_file() fails, as nginx appends it.
    let errno = errno_text(&err);
    let (code, text) = errno.split_once(": ").unwrap_or(("0", errno.as_str()));
    let reason = if code == "2" {
        "no such file"
    } else {
        "system lib"
    };
    let lib_code = 0x8000_0000u32 | code.parse::<u32>().unwrap_or(0);
    Err(Diag::nowhere(format!(
        "cannot load {what} \"{path}\": BIO_new_file() failed (SSL: error:{lib_code:08X}:system library::{text}:calling fopen({path}, r) error:10000080:BIO routines::{reason})"
    )))
}
