//! Certificates for the TLS tests, made with rcgen (ECDSA P-256, ring) and written as PEM
//! files: a CA, server certificates signed by it for given names (CN and DNS SAN), a client
//! certificate, and a second CA that nobody trusts (for verification failures).

use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// A CA that signs; its certificate is written as `NAME.pem`.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    pub fn new(dir: &Path, name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::default();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, format!("tollgate test {name}"));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).unwrap();
        std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
        Ca {
            issuer: Issuer::new(params, key),
        }
    }

    /// Writes `FILE.pem` and `FILE.key`: a certificate for `cn` (also its DNS name), for a
    /// server or (with `client`) a client.
    pub fn issue(&self, dir: &Path, file: &str, cn: &str, client: bool) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec![cn.to_owned()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![if client {
            ExtendedKeyUsagePurpose::ClientAuth
        } else {
            ExtendedKeyUsagePurpose::ServerAuth
        }];
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        std::fs::write(dir.join(format!("{file}.pem")), cert.pem()).unwrap();
        std::fs::write(dir.join(format!("{file}.key")), key.serialize_pem()).unwrap();
    }
}

/// `ca.pem` with `a.pem`/`a.key` (a.test), `b.pem`/`b.key` (b.test), `client.pem`/
/// `client.key` (CN client); `other.pem` is an unrelated CA and `rogue.pem`/`rogue.key` a
/// certificate for a.test signed by it.
pub fn make(dir: &Path) {
    let ca = Ca::new(dir, "ca");
    ca.issue(dir, "a", "a.test", false);
    ca.issue(dir, "b", "b.test", false);
    ca.issue(dir, "client", "client", true);
    let other = Ca::new(dir, "other");
    other.issue(dir, "rogue", "a.test", false);
}
