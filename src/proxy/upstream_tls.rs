//! Peers for `proxy_pass https://…`: the TLS material of each `http::proxy_ssl::UpstreamTls`
//! loaded once at start-up (trusted CAs, client certificate), the pingora peer options that
//! give nginx's behaviour, and the nginx-like error_log line of a failed handshake.
//!
//! How nginx's settings map onto pingora 0.9's rustls connector
//! (`connectors/tls/rustls/mod.rs`): the connector sends SNI for the peer's `sni` unless it
//! is an IP address (rustls never sends one for an IP), and skips verification when
//! `verify_cert` is off. So "no SNI" is the peer's own IP address as its name, and
//! `proxy_ssl_verify on` is the name sent plus the trusted CAs as the peer's `ca`. Pooled
//! connections are reused per identical peer; `group_key` keeps locations with different
//! TLS settings apart.
//!
//! Owns: that mapping and file loading. Must not: decide nginx rules (`http::proxy_ssl`).

use std::net::SocketAddr;
use std::sync::Arc;

use pingora::upstreams::peer::HttpPeer;
use pingora::utils::tls::{parse_x509, CertKey, WrappedX509};
use pingora::{Error, ErrorType};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::http::Site;

/// One `UpstreamTls`, ready to make peers.
pub struct PeerTls {
    sni: Option<String>,
    /// `proxy_ssl_verify on`: the trusted certificates.
    ca: Option<Arc<[WrappedX509]>>,
    client: Option<Arc<CertKey>>,
    /// Pool isolation between different TLS settings (never 0, the plain-HTTP group).
    group: u64,
}

/// Loads the TLS material of every `proxy_pass https://` setting of `site`, in order.
pub fn load(site: &Site) -> Result<Arc<[PeerTls]>, String> {
    let mut out = Vec::with_capacity(site.upstream_tls.len());
    for (i, t) in site.upstream_tls.iter().enumerate() {
        out.push(PeerTls {
            sni: t.sni.clone(),
            ca: t.trusted.as_deref().map(trusted).transpose()?,
            client: t
                .client
                .as_ref()
                .map(|(c, k)| client_cert(c, k))
                .transpose()?,
            group: i as u64 + 1,
        });
    }
    Ok(out.into())
}

/// `proxy_ssl_trusted_certificate`: every certificate of the PEM file.
fn trusted(path: &str) -> Result<Arc<[WrappedX509]>, String> {
    let fail = |why: String| format!("SSL_CTX_load_verify_locations(\"{path}\") failed ({why})");
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| fail(e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| fail(e.to_string()))?;
    if certs.is_empty() {
        return Err(fail("no certificate in the file".into()));
    }
    // webpki must accept each one as a trust anchor (it is added per connection), and
    // pingora's parser would panic on what webpki cannot read.
    let mut store = rustls::RootCertStore::empty();
    for c in &certs {
        store.add(c.clone()).map_err(|e| fail(e.to_string()))?;
    }
    let wrapped: Vec<WrappedX509> = certs
        .into_iter()
        .map(|c| WrappedX509::new(c.to_vec(), parse_x509))
        .collect();
    Ok(wrapped.into())
}

/// `proxy_ssl_certificate` / `proxy_ssl_certificate_key`: the client certificate chain.
fn client_cert(cert: &str, key: &str) -> Result<Arc<CertKey>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| format!("cannot load certificate \"{cert}\": {e}"))?;
    if certs.is_empty() {
        return Err(format!(
            "cannot load certificate \"{cert}\": no certificate in the file"
        ));
    }
    let key_der = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("cannot load certificate key \"{key}\": {e}"))?;
    // The form pingora's connector gives back to rustls (it re-detects the key type).
    let raw = key_der.secret_der().to_vec();
    if PrivateKeyDer::try_from(raw.clone()).is_err() {
        return Err(format!(
            "cannot load certificate key \"{key}\": unsupported key type"
        ));
    }
    let chain = certs.iter().map(|c| c.to_vec()).collect();
    Ok(Arc::new(CertKey::new(chain, raw)))
}

impl PeerTls {
    /// A TLS peer for `addr` with these settings.
    pub fn peer(&self, addr: SocketAddr) -> HttpPeer {
        // An IP address as the name: rustls then sends no SNI (nginx's default).
        let name = self.sni.clone().unwrap_or_else(|| addr.ip().to_string());
        let mut peer = HttpPeer::new(addr, true, name);
        let verify = self.ca.is_some();
        peer.options.verify_cert = verify;
        peer.options.verify_hostname = verify;
        peer.options.ca = self.ca.clone();
        peer.client_cert_key = self.client.clone();
        peer.group_key = self.group;
        peer
    }
}

/// Whether `e` is a failed TLS handshake with the upstream.
pub fn is_tls_failure(e: &Error) -> bool {
    matches!(
        e.etype(),
        ErrorType::TLSHandshakeFailure | ErrorType::InvalidCert | ErrorType::TLSWantX509Lookup
    )
}

/// What nginx writes before " while SSL handshaking to upstream" for this failure.
pub fn failure_text(e: &Error, sni: &str) -> String {
    let why = e
        .context
        .as_ref()
        .map(|c| c.as_str().to_owned())
        .unwrap_or_default();
    if why.contains("NotValidForName") || why.contains("not valid for name") {
        format!("upstream SSL certificate does not match \"{sni}\"")
    } else if why.contains("UnknownIssuer") || why.contains("unknown issuer") {
        "upstream SSL certificate verify error: (21:unable to verify the first certificate)"
            .to_owned()
    } else if why.contains("Expired") || why.contains("expired") {
        "upstream SSL certificate verify error: (10:certificate has expired)".to_owned()
    } else {
        format!("SSL_do_handshake() failed ({why})")
    }
}
