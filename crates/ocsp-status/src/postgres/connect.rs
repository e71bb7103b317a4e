//! Connections to the status database: one [`connect`]ed client for a command, a
//! [`pool`] for a server, both over the TLS [`tls`] builds for the URL's `sslmode`.
//!
//! TLS is rustls with the aws-lc-rs provider (the workspace's only crypto provider; no
//! `ring`). `verify-full` checks the chain against `sslrootcert` (or the system's roots)
//! and the host name; `require` with `sslrootcert` does the same; `require` without it
//! and `prefer` encrypt without verifying, as libpq does.
//!
//! Errors are classified by [`DbError::connecting`]: unreachable, refused login, missing
//! database, TLS failure.

use crate::postgres::{DatabaseUrl, DbError, SslMode};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::sync::Arc;
use tokio_postgres_rustls::MakeRustlsConnect;

/// The TLS connector for `url`.
pub fn tls(url: &DatabaseUrl) -> Result<MakeRustlsConnect, DbError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| DbError::Tls {
            url: url.redacted().into(),
            detail: e.to_string(),
        })?;
    let verify = matches!(
        (url.ssl_mode(), url.root_cert()),
        (SslMode::VerifyFull, _) | (SslMode::Require, Some(_))
    );
    let config = if verify {
        let mut roots = rustls::RootCertStore::empty();
        match url.root_cert() {
            Some(path) => {
                let pem = std::fs::read(path).map_err(|e| DbError::Tls {
                    url: url.redacted().into(),
                    detail: format!("cannot read sslrootcert {}: {e}", path.display()),
                })?;
                let mut n = 0;
                for c in rustls_pemfile::certs(&mut pem.as_slice()) {
                    let c = c.map_err(|e| DbError::Tls {
                        url: url.redacted().into(),
                        detail: format!("sslrootcert {}: {e}", path.display()),
                    })?;
                    if roots.add(c).is_ok() {
                        n += 1;
                    }
                }
                if n == 0 {
                    return Err(DbError::Tls {
                        url: url.redacted().into(),
                        detail: format!("sslrootcert {} holds no PEM certificate", path.display()),
                    });
                }
            }
            None => {
                let native = rustls_native_certs::load_native_certs();
                for c in native.certs {
                    let _ = roots.add(c);
                }
                if roots.is_empty() {
                    return Err(DbError::Tls {
                        url: url.redacted().into(),
                        detail: "sslmode=verify-full without sslrootcert and no system CA certificates found".into(),
                    });
                }
            }
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Unverified(provider)))
            .with_no_client_auth()
    };
    Ok(MakeRustlsConnect::new(config))
}

/// Connect one client; its connection runs on a spawned task until the client is
/// dropped. Must be called inside a tokio runtime.
pub async fn connect(url: &DatabaseUrl) -> Result<tokio_postgres::Client, DbError> {
    let tls = tls(url)?;
    let (client, conn) = url
        .config()
        .connect(tls)
        .await
        .map_err(|e| DbError::connecting(e, url.redacted(), url.dbname()))?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "database connection ended");
        }
    });
    Ok(client)
}

/// A pool of at most `max` connections to `url`. Connections are made on demand; the
/// first `get` reports a connection error as [`deadpool_postgres::PoolError`].
pub fn pool(url: &DatabaseUrl, max: usize) -> Result<deadpool_postgres::Pool, DbError> {
    let tls = tls(url)?;
    let mgr = deadpool_postgres::Manager::from_config(
        url.config().clone(),
        tls,
        deadpool_postgres::ManagerConfig {
            recycling_method: deadpool_postgres::RecyclingMethod::Fast,
        },
    );
    deadpool_postgres::Pool::builder(mgr)
        .max_size(max.max(1))
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .build()
        .map_err(|e| DbError::Query(format!("cannot build the connection pool: {e}")))
}

/// Classify a pool error as [`DbError`].
pub fn pool_error(e: deadpool_postgres::PoolError, url: &DatabaseUrl) -> DbError {
    match e {
        deadpool_postgres::PoolError::Backend(e) => {
            DbError::connecting(e, url.redacted(), url.dbname())
        }
        other => DbError::Unreachable {
            url: url.redacted().into(),
            detail: other.to_string(),
        },
    }
}

/// Encryption without authentication of the server (`sslmode=prefer`, `require`
/// without `sslrootcert`): signatures are still checked, the chain is not.
#[derive(Debug)]
struct Unverified(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
