//! HTTPS: rustls with the aws-lc-rs provider, HTTP/2 and HTTP/1.1 chosen by ALPN.
//!
//! The certificate chain and key are PEM files (`--tls-cert`, `--tls-key`; the key may
//! be in the certificate file). [`Tls::reload`] re-reads them (on SIGHUP): new handshakes
//! get the new certificate, open connections keep theirs, and a pair that does not load
//! leaves the old one in place.

use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use tokio_rustls::TlsAcceptor;

/// A TLS certificate or key that could not be used, with the file and the fix.
#[derive(Debug, thiserror::Error)]
#[error("{}: {reason}", path.display())]
pub struct TlsError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong.
    pub reason: String,
}

fn err(path: &Path, reason: impl Into<String>) -> TlsError {
    TlsError {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// The crypto provider: aws-lc-rs, as everywhere in this project.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Read a certificate chain (leaf first) and its key; check that they match.
pub fn load_certified_key(
    cert: &Path,
    key: &Path,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let cert_pem = std::fs::read(cert)
        .map_err(|e| err(cert, format!("cannot read the TLS certificate: {e}")))?;
    let chain: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut cert_pem.as_slice())
        .collect::<Result<_, _>>()
        .map_err(|e| err(cert, format!("bad PEM: {e}")))?;
    if chain.is_empty() {
        return Err(err(
            cert,
            "no CERTIFICATE in this file: give the server certificate (PEM), leaf first, then its intermediates",
        ));
    }
    let key_pem = if key == cert {
        cert_pem
    } else {
        std::fs::read(key).map_err(|e| err(key, format!("cannot read the TLS key: {e}")))?
    };
    if key_pem
        .windows(30)
        .any(|w| w == b"-----BEGIN ENCRYPTED PRIVATE")
        || key_pem.windows(9).any(|w| w == b"Proc-Type")
    {
        return Err(err(
            key,
            "the TLS key is encrypted; give it unencrypted (openssl pkey -in KEY -out KEY.plain) and protect it with file permissions",
        ));
    }
    let der: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut key_pem.as_slice())
        .map_err(|e| err(key, format!("bad PEM: {e}")))?
        .ok_or_else(|| {
            err(
                key,
                "no private key (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY) in this file",
            )
        })?;
    CertifiedKey::from_der(chain, der, provider).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => err(
            key,
            format!("this key does not match the certificate {}", cert.display()),
        ),
        other => err(key, format!("unusable TLS key: {other}")),
    })
}

/// Hands out the current certificate; replaced whole on reload.
#[derive(Debug)]
struct Resolver {
    current: RwLock<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        )
    }
}

/// The TLS side of the HTTPS listeners.
pub struct Tls {
    cert: PathBuf,
    key: PathBuf,
    provider: Arc<CryptoProvider>,
    resolver: Arc<Resolver>,
    acceptor: TlsAcceptor,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("cert", &self.cert)
            .field("key", &self.key)
            .finish()
    }
}

impl Tls {
    /// Load `cert` and `key` (default: the `cert` file) and build the server
    /// configuration: TLS 1.2 and 1.3, ALPN `h2` then `http/1.1`.
    pub fn load(cert: &Path, key: Option<&Path>) -> Result<Tls, TlsError> {
        let key = key.unwrap_or(cert).to_path_buf();
        let provider = provider();
        let ck = load_certified_key(cert, &key, &provider)?;
        let resolver = Arc::new(Resolver {
            current: RwLock::new(Arc::new(ck)),
        });
        let mut config = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| err(cert, format!("TLS configuration: {e}")))?
            .with_no_client_auth()
            .with_cert_resolver(resolver.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Tls {
            cert: cert.to_path_buf(),
            key,
            provider,
            resolver,
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }

    /// Re-read the certificate and key. On failure the current pair stays in use.
    pub fn reload(&self) -> Result<(), TlsError> {
        let ck = load_certified_key(&self.cert, &self.key, &self.provider)?;
        *self
            .resolver
            .current
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Arc::new(ck);
        Ok(())
    }

    /// The acceptor for new connections.
    pub fn acceptor(&self) -> &TlsAcceptor {
        &self.acceptor
    }

    /// The DER of the leaf certificate in use.
    pub fn leaf_der(&self) -> Vec<u8> {
        let ck = self
            .resolver
            .current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        ck.cert
            .first()
            .map(|c| c.as_ref().to_vec())
            .unwrap_or_default()
    }

    /// The certificate file.
    pub fn cert_path(&self) -> &Path {
        &self.cert
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        let cert = params.self_signed(&key).unwrap();
        let c = dir.join(format!("{name}.crt"));
        let k = dir.join(format!("{name}.key"));
        std::fs::write(&c, cert.pem()).unwrap();
        std::fs::write(&k, key.serialize_pem()).unwrap();
        (c, k)
    }

    #[test]
    fn loads_reloads_and_refuses_mismatch() {
        let dir = tempfile::tempdir().unwrap();
        let (c1, k1) = pair(dir.path(), "a");
        let (c2, k2) = pair(dir.path(), "b");
        let tls = Tls::load(&c1, Some(&k1)).unwrap();
        let first = tls.leaf_der();
        assert!(!first.is_empty());
        let e = Tls::load(&c1, Some(&k2)).unwrap_err();
        assert!(e.to_string().contains("does not match"), "{e}");
        // A reload that fails keeps the old pair.
        std::fs::write(&k1, "garbage").unwrap();
        assert!(tls.reload().is_err());
        assert_eq!(tls.leaf_der(), first);
        // A good one replaces it.
        std::fs::copy(&c2, &c1).unwrap();
        std::fs::copy(&k2, &k1).unwrap();
        tls.reload().unwrap();
        assert_ne!(tls.leaf_der(), first);
        // Key and certificate in one file.
        let both = dir.path().join("both.pem");
        let text = std::fs::read_to_string(&c2).unwrap() + &std::fs::read_to_string(&k2).unwrap();
        std::fs::write(&both, text).unwrap();
        Tls::load(&both, None).unwrap();
        let e = Tls::load(&dir.path().join("missing.pem"), None).unwrap_err();
        assert!(e.to_string().contains("missing.pem"), "{e}");
    }
}
