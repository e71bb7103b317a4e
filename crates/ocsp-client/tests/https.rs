//! The transport over TLS (rustls, aws-lc-rs) against an in-process HTTPS server with a
//! test CA, over IPv4 and IPv6 loopback, GET and POST.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ocsp_client::{send, HttpOptions, Method, TransportError};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, PKCS_ECDSA_P256_SHA256};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Tls {
    ca_pem: String,
    server: Arc<rustls::ServerConfig>,
}

fn tls() -> Tls {
    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut ca_params = CertificateParams::new(vec![]).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Test TLS CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::from_params(&ca_params, &ca_key);
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let params =
        CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into(), "::1".into()]).unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    Tls {
        ca_pem: ca.pem(),
        server: Arc::new(server),
    }
}

/// Serve one HTTPS request: return its head and body length seen, answer `body`.
async fn serve_once(
    listener: tokio::net::TcpListener,
    cfg: Arc<rustls::ServerConfig>,
    body: Vec<u8>,
) -> String {
    let (tcp, _) = listener.accept().await.unwrap();
    let mut s = tokio_rustls::TlsAcceptor::from(cfg)
        .accept(tcp)
        .await
        .unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut chunk).await.unwrap();
        assert!(n > 0, "client closed early");
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let want: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    while buf.len() - head_end < want {
        let n = s.read(&mut chunk).await.unwrap();
        assert!(n > 0);
        buf.extend_from_slice(&chunk[..n]);
    }
    let reply = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/ocsp-response\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(reply.as_bytes()).await.unwrap();
    s.write_all(&body).await.unwrap();
    s.shutdown().await.ok();
    head
}

#[tokio::test]
async fn https_get_and_post_with_cafile_over_v4_and_v6() {
    let t = tls();
    let dir = tempfile::tempdir().unwrap();
    let cafile = dir.path().join("ca.pem");
    std::fs::write(&cafile, &t.ca_pem).unwrap();
    let der = vec![0x30, 0x03, 0x02, 0x01, 0x01];
    let answer = vec![0x30, 0x03, 0x0A, 0x01, 0x06];
    let mut hosts = vec!["127.0.0.1"];
    if std::net::TcpListener::bind("[::1]:0").is_ok() {
        hosts.push("[::1]");
    }
    for host in hosts {
        for method in [Method::Get, Method::Post] {
            let listener = tokio::net::TcpListener::bind(format!("{host}:0"))
                .await
                .unwrap();
            let port = listener.local_addr().unwrap().port();
            let server = tokio::spawn(serve_once(listener, t.server.clone(), answer.clone()));
            let opts = HttpOptions {
                method: Some(method),
                https_cafile: Some(cafile.clone()),
                ..Default::default()
            };
            let url = format!("https://{host}:{port}/ocsp");
            let ex = send(&url, &der, &opts).await.unwrap();
            assert_eq!(ex.status, 200);
            assert_eq!(ex.body, answer);
            assert_eq!(ex.method, method);
            assert_eq!(
                ex.content_type.as_deref(),
                Some("application/ocsp-response")
            );
            let head = server.await.unwrap();
            match method {
                Method::Get => assert!(head.starts_with("GET /ocsp/MAMCAQE%3D HTTP/1.1"), "{head}"),
                Method::Post => {
                    assert!(head.starts_with("POST /ocsp HTTP/1.1"), "{head}");
                    assert!(
                        head.to_ascii_lowercase()
                            .contains("content-type: application/ocsp-request"),
                        "{head}"
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn https_rejects_an_untrusted_server() {
    let t = tls();
    let other = tls();
    let dir = tempfile::tempdir().unwrap();
    let cafile = dir.path().join("other.pem");
    std::fs::write(&cafile, &other.ca_pem).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let cfg = t.server.clone();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let _ = tokio_rustls::TlsAcceptor::from(cfg).accept(tcp).await;
    });
    let opts = HttpOptions {
        https_cafile: Some(cafile),
        ..Default::default()
    };
    let err = send(&format!("https://127.0.0.1:{port}/"), &[0x30, 0x00], &opts)
        .await
        .unwrap_err();
    assert!(matches!(err, TransportError::Tls { .. }), "{err}");
    assert!(
        err.to_string().contains("invalid peer certificate"),
        "{err}"
    );
}
