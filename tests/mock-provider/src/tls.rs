//! HTTPS for [`crate::Options::tls`]: a throw-away CA and a server certificate made at start,
//! and the rustls acceptor that serves it.
//!
//! The CA (`CN=tollgate mock provider CA <pid>-<n>`) is new for every server, so nothing outside
//! the test that started the mock trusts it unless given [`crate::MockProvider::ca_pem`]. Its
//! name is unique too, so a client trusting another mock's CA fails with "unknown issuer"
//! rather than finding a same-named CA whose signature does not match. The server
//! certificate is signed by that CA and valid for `localhost` and `127.0.0.1`. Keys are ECDSA
//! P-256; the crypto is rustls' `ring` provider (the one tollgate's pingora uses), chosen
//! explicitly so the process-wide default provider does not matter. ALPN offers `http/1.1` only.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

/// The names the server certificate is valid for.
const SERVER_NAMES: [&str; 2] = ["localhost", "127.0.0.1"];

/// Numbers the CAs made by this process.
static CA_COUNTER: AtomicU64 = AtomicU64::new(0);

/// What a TLS mock serves with.
pub(crate) struct TlsSetup {
    pub acceptor: TlsAcceptor,
    /// The CA certificate, PEM.
    pub ca_pem: String,
}

/// Makes a new CA and server certificate and the acceptor for them.
pub(crate) fn setup() -> io::Result<TlsSetup> {
    let ca_key = KeyPair::generate().map_err(cert_error)?;
    let ca_params = ca_params();
    let ca_cert = ca_params.self_signed(&ca_key).map_err(cert_error)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate().map_err(cert_error)?;
    let server_cert = server_params()?
        .signed_by(&server_key, &issuer)
        .map_err(cert_error)?;

    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
    let chain = vec![server_cert.der().clone(), ca_cert.der().clone()];
    Ok(TlsSetup {
        acceptor: TlsAcceptor::from(Arc::new(server_config(chain, key)?)),
        ca_pem: ca_cert.pem(),
    })
}

fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let n = CA_COUNTER.fetch_add(1, Ordering::Relaxed) + 1;
    let name = format!("tollgate mock provider CA {}-{n}", std::process::id());
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

fn server_params() -> io::Result<CertificateParams> {
    let names: Vec<String> = SERVER_NAMES.iter().map(|n| (*n).to_owned()).collect();
    let mut params = CertificateParams::new(names).map_err(cert_error)?;
    params
        .distinguished_name
        .push(DnType::CommonName, "tollgate mock provider");
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    Ok(params)
}

fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> io::Result<ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(tls_error)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(tls_error)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

fn cert_error(e: rcgen::Error) -> io::Error {
    io::Error::other(format!("mock provider: making the TLS certificates: {e}"))
}

fn tls_error(e: rustls::Error) -> io::Error {
    io::Error::other(format!("mock provider: TLS configuration: {e}"))
}
