//! Downstream TLS and HTTP/2 of nginx listeners on pingora's rustls listener: each server's
//! certificate loaded once, the certificate of a handshake chosen by SNI through the
//! address's server_name index (`http::listen_tls` has nginx's rules), and ALPN `h2` for
//! `listen … ssl http2`.
//!
//! Owns: loading certificates (with nginx's error texts) and the rustls certificate
//! resolver. Must not: route requests (the Host header still selects the server, in `http`).

use std::collections::HashMap;
use std::sync::Arc;

use pingora::listeners::tls::TlsSettings;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::http::listen_tls::CertPair;
use crate::http::names::NameIndex;
use crate::http::site::Listen;

/// Picks the certificate of the server the client's SNI names.
#[derive(Debug)]
struct SniResolver {
    names: NameIndex,
    default: Arc<CertifiedKey>,
    by_server: Vec<(usize, Arc<CertifiedKey>)>,
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let server = hello.server_name().and_then(|sni| {
            let sni = sni.trim_end_matches('.').to_ascii_lowercase();
            self.names.find(&sni).map(|(s, _)| s)
        });
        let key = server
            .and_then(|s| self.by_server.iter().find(|(i, _)| *i == s))
            .map_or(&self.default, |(_, k)| k);
        Some(Arc::clone(key))
    }
}

/// Certificates already loaded, by file pair (a pair shared by servers is read once).
#[derive(Default)]
pub struct CertCache(HashMap<CertPair, Arc<CertifiedKey>>);

impl CertCache {
    fn get(&mut self, pair: &CertPair) -> Result<Arc<CertifiedKey>, String> {
        if let Some(k) = self.0.get(pair) {
            return Ok(Arc::clone(k));
        }
        let key = Arc::new(load(pair)?);
        self.0.insert(pair.clone(), Arc::clone(&key));
        Ok(key)
    }
}

/// Reads a certificate chain and its key, refusing a key that does not match.
fn load((cert, key): &CertPair) -> Result<CertifiedKey, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| format!("cannot load certificate \"{cert}\": {e}"))?;
    if chain.is_empty() {
        return Err(format!(
            "cannot load certificate \"{cert}\": no certificate in the file"
        ));
    }
    let der = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("cannot load certificate key \"{key}\": {e}"))?;
    let provider = rustls::crypto::ring::default_provider();
    CertifiedKey::from_der(chain, der, &provider)
        .map_err(|e| format!("SSL_CTX_use_PrivateKey(\"{key}\") failed ({e})"))
}

/// The TLS settings of a bound TLS address; `None` when `listen` serves plain TCP.
pub fn settings(listen: &Listen, cache: &mut CertCache) -> Result<Option<TlsSettings>, String> {
    let Some(tls) = &listen.tls else {
        return Ok(None);
    };
    let mut by_server = Vec::with_capacity(tls.by_server.len());
    for (server, pair) in &tls.by_server {
        by_server.push((*server, cache.get(pair)?));
    }
    let resolver = SniResolver {
        names: listen.names.clone(),
        default: cache.get(&tls.default)?,
        by_server,
    };
    // The paths are not read: the resolver supplies every certificate.
    let mut settings =
        TlsSettings::intermediate("", "").map_err(|e| format!("TLS settings: {e}"))?;
    settings.set_cert_resolver(Arc::new(resolver));
    if listen.http2 {
        // ALPN h2 first, http/1.1 for the others.
        settings.enable_h2();
    }
    Ok(Some(settings))
}
