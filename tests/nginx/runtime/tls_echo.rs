//! The TLS echo upstream: the echo server ([`super::echo::serve_stream`]) behind rustls, on
//! loopback, with a certificate from [`super::pki`]. Its JSON record also says which server
//! name the client sent (`"sni"`, null without SNI) and how many client certificates it
//! presented (`"client_certs"`; clients are asked for one, signed by the given CA, but not
//! required to send one), and the number of the TLS connection (`"conn"`, 1, 2, ... in
//! accept order; a connection serves requests while they ask for keep-alive).

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, ServerConnection, StreamOwned};

/// A running TLS echo server; stops accepting when dropped.
pub struct TlsEcho {
    stop: Arc<AtomicBool>,
}

fn config(cert: &Path, key: &Path, client_ca: &Path) -> Arc<ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(key).unwrap();
    let mut roots = RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(client_ca).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()
        .unwrap();
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .unwrap();
    Arc::new(config)
}

impl TlsEcho {
    /// Serves as `name` on `port` with `dir/CERT.pem` and `dir/CERT.key`, asking for client
    /// certificates signed by `dir/ca.pem`.
    pub fn start(name: &str, port: u16, dir: &Path, cert: &str) -> TlsEcho {
        let config = config(
            &dir.join(format!("{cert}.pem")),
            &dir.join(format!("{cert}.key")),
            &dir.join("ca.pem"),
        );
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind TLS echo");
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let name = name.to_owned();
        thread::spawn(move || {
            let mut conns = 0;
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((s, _)) => {
                        let (name, config) = (name.clone(), Arc::clone(&config));
                        conns += 1;
                        let conn = conns;
                        thread::spawn(move || {
                            let _ = serve(&name, s, config, conn);
                        });
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        TlsEcho { stop }
    }
}

impl Drop for TlsEcho {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(name: &str, tcp: TcpStream, config: Arc<ServerConfig>, id: u64) -> std::io::Result<()> {
    tcp.set_nonblocking(false)?;
    tcp.set_read_timeout(Some(Duration::from_secs(5)))?;
    let conn = ServerConnection::new(config).map_err(std::io::Error::other)?;
    let mut tls = StreamOwned::new(conn, tcp);
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock)?;
    }
    let sni = tls
        .conn
        .server_name()
        .map_or("null".to_owned(), |s| format!("\"{s}\""));
    let certs = tls.conn.peer_certificates().map_or(0, <[_]>::len);
    let extra = format!(",\"sni\":{sni},\"client_certs\":{certs},\"conn\":{id}");
    while super::echo::serve_stream(name, &mut tls, &extra)? {}
    Ok(())
}
