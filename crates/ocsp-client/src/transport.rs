//! Sending a request: GET or POST over HTTP/1.1, plain or TLS (rustls, aws-lc-rs).

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, ACCEPT, CONTENT_TYPE, HOST, USER_AGENT};
use http::{Request, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, ServerName};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// Longest GET URL RFC 9919 lets a client use; longer requests are POSTed.
pub const MAX_GET_URL_LEN: usize = 255;

/// Largest response body accepted.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// HTTP method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// `GET {url}/{urlencode(base64(DER))}`.
    Get,
    /// `POST {url}` with the DER as body.
    Post,
}

impl Method {
    /// `GET` or `POST`.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// How to send.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    /// Force a method; `None` chooses by URL length.
    pub method: Option<Method>,
    /// Extra request headers.
    pub headers: Vec<(String, String)>,
    /// Time allowed for the whole exchange (connect, TLS, request, response).
    pub timeout: Duration,
    /// PEM file of roots for HTTPS instead of the system's.
    pub https_cafile: Option<PathBuf>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            method: None,
            headers: Vec::new(),
            timeout: Duration::from_secs(10),
            https_cafile: None,
        }
    }
}

/// What came back.
#[derive(Clone, Debug)]
pub struct Exchange {
    /// The method used.
    pub method: Method,
    /// The full URL requested (for GET, with the encoded request).
    pub url: String,
    /// HTTP status code.
    pub status: u16,
    /// The Content-Type header, if any.
    pub content_type: Option<String>,
    /// Every response header, as received (Cache-Control, ETag, Expires, Last-Modified,
    /// Date ...).
    pub headers: http::HeaderMap,
    /// The body.
    pub body: Vec<u8>,
    /// When the request was started (wall clock, whole seconds).
    pub started: ocsp_proto::Timestamp,
    /// From connecting to the last octet of the body.
    pub elapsed: Duration,
}

/// What came back from [`send_raw`]: any method, any path, any body.
#[derive(Clone, Debug)]
pub struct RawReply {
    /// HTTP status code.
    pub status: u16,
    /// Every response header.
    pub headers: http::HeaderMap,
    /// The body (at most [`MAX_RESPONSE_BYTES`]).
    pub body: Vec<u8>,
    /// From connecting to the last octet of the body.
    pub elapsed: Duration,
}

/// Why a request could not be sent or its answer read.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The URL is not usable.
    #[error("bad URL {url:?}: {reason}")]
    BadUrl {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// A header given is not valid.
    #[error("bad header {0:?}: {1}")]
    BadHeader(String, String),
    /// Connecting failed.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// host:port.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// TLS setup or handshake failed.
    #[error("TLS with {host}: {reason}")]
    Tls {
        /// The server name.
        host: String,
        /// Why.
        reason: String,
    },
    /// The HTTP exchange failed.
    #[error("HTTP exchange with {url} failed: {reason}")]
    Http {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// No answer within the timeout.
    #[error("no answer from {url} within {secs} s")]
    Timeout {
        /// The URL.
        url: String,
        /// The timeout.
        secs: u64,
    },
}

/// The GET URL for `der` under `base`: `{base}/{urlencode(base64(der))}` (one `/` between).
/// The codec is [`ocsp_proto::get_path`], shared with the responder's decoder.
pub fn get_url(base: &str, der: &[u8]) -> String {
    ocsp_proto::get_path::url(base, der)
}

/// GET when the whole GET URL is at most 255 bytes (RFC 9919 §2.1), else POST; `forced`
/// overrides.
pub fn choose_method(base: &str, der: &[u8], forced: Option<Method>) -> Method {
    forced.unwrap_or_else(|| {
        if get_url(base, der).len() <= MAX_GET_URL_LEN {
            Method::Get
        } else {
            Method::Post
        }
    })
}

struct Target {
    https: bool,
    host: String,
    port: u16,
    authority: String,
}

fn parse_base(url: &str) -> Result<(Target, Uri), TransportError> {
    let bad = |reason: &str| TransportError::BadUrl {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    let uri: Uri = url
        .parse()
        .map_err(|e: http::uri::InvalidUri| bad(&e.to_string()))?;
    let https = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        Some(other) => return Err(bad(&format!("scheme {other} is not http or https"))),
        None => return Err(bad("no scheme: write http://host[:port]/path")),
    };
    let authority = uri.authority().ok_or_else(|| bad("no host"))?;
    if authority.as_str().contains('@') {
        return Err(bad("user information in the URL is not supported"));
    }
    let host = authority.host();
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
    Ok((
        Target {
            https,
            host: host.to_string(),
            port,
            authority: authority.as_str().to_string(),
        },
        uri,
    ))
}

fn tls_config(cafile: Option<&PathBuf>) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    match cafile {
        Some(path) => {
            let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut pem.as_slice())
                .collect::<Result<_, _>>()
                .map_err(|e| format!("{}: {e}", path.display()))?;
            if certs.is_empty() {
                return Err(format!("{}: no PEM certificate", path.display()));
            }
            for c in certs {
                roots
                    .add(c)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for c in found.certs {
                // A system store may hold certificates rustls cannot use; skip those.
                let _ = roots.add(c);
            }
            if roots.is_empty() {
                return Err("no system root certificates found; use --https-cafile".into());
            }
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(cfg)
}

async fn exchange<S>(
    stream: S,
    req: Request<Full<Bytes>>,
    url: &str,
) -> Result<(u16, http::HeaderMap, Vec<u8>), TransportError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let http_err = |e: &dyn std::fmt::Display| TransportError::Http {
        url: url.to_string(),
        reason: e.to_string(),
    };
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| http_err(&e))?;
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    let resp = sender.send_request(req).await.map_err(|e| http_err(&e))?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = Limited::new(resp.into_body(), MAX_RESPONSE_BYTES)
        .collect()
        .await
        .map_err(|e| {
            http_err(&format!(
                "reading the body: {e} (the limit is {MAX_RESPONSE_BYTES} octets)"
            ))
        })?
        .to_bytes()
        .to_vec();
    driver.abort();
    Ok((status, headers, body))
}

/// Send `der` to the responder at `base_url` and read the answer.
pub async fn send(
    base_url: &str,
    der: &[u8],
    opts: &HttpOptions,
) -> Result<Exchange, TransportError> {
    let (target, base_uri) = parse_base(base_url)?;
    let method = choose_method(base_url, der, opts.method);
    let (url, path, body) = match method {
        Method::Get => {
            let url = get_url(base_url, der);
            let (_, uri) = parse_base(&url)?;
            let path = uri.path().to_string();
            (url, path, Bytes::new())
        }
        Method::Post => {
            let path = base_uri
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|| "/".into());
            (base_url.to_string(), path, Bytes::copy_from_slice(der))
        }
    };
    let mut builder = Request::builder()
        .method(method.as_str())
        .uri(if path.is_empty() {
            "/".to_string()
        } else {
            path
        })
        .header(HOST, target.authority.as_str())
        .header(USER_AGENT, concat!("ocsp/", env!("CARGO_PKG_VERSION")))
        .header(ACCEPT, "application/ocsp-response");
    if method == Method::Post {
        builder = builder.header(CONTENT_TYPE, "application/ocsp-request");
    }
    let mut req = builder
        .body(Full::new(body))
        .map_err(|e| TransportError::BadUrl {
            url: url.clone(),
            reason: e.to_string(),
        })?;
    for (name, value) in &opts.headers {
        let n = HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| TransportError::BadHeader(name.clone(), e.to_string()))?;
        let v = HeaderValue::from_str(value)
            .map_err(|e| TransportError::BadHeader(name.clone(), e.to_string()))?;
        req.headers_mut().insert(n, v);
    }

    let started = crate::now();
    let (status, headers, body, elapsed) = perform(&target, req, &url, opts).await?;
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    Ok(Exchange {
        method,
        url,
        status,
        content_type,
        headers,
        body,
        started,
        elapsed,
    })
}

/// Connect (TLS for https), send `req`, read the answer, all within `opts.timeout`.
async fn perform(
    target: &Target,
    req: Request<Full<Bytes>>,
    url: &str,
    opts: &HttpOptions,
) -> Result<(u16, http::HeaderMap, Vec<u8>, Duration), TransportError> {
    let t0 = std::time::Instant::now();
    let work = async {
        let addr = format!("{}:{}", target.host, target.port);
        let tcp = TcpStream::connect((target.host.as_str(), target.port))
            .await
            .map_err(|source| TransportError::Connect {
                addr: addr.clone(),
                source,
            })?;
        let _ = tcp.set_nodelay(true);
        if target.https {
            let tls_err = |reason: String| TransportError::Tls {
                host: target.host.clone(),
                reason,
            };
            let cfg = tls_config(opts.https_cafile.as_ref()).map_err(tls_err)?;
            let name =
                ServerName::try_from(target.host.clone()).map_err(|e| tls_err(e.to_string()))?;
            let tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
                .connect(name, tcp)
                .await
                .map_err(|e| tls_err(e.to_string()))?;
            exchange(tls, req, url).await
        } else {
            exchange(tcp, req, url).await
        }
    };
    let (status, headers, body) =
        tokio::time::timeout(opts.timeout, work)
            .await
            .map_err(|_| TransportError::Timeout {
                url: url.to_string(),
                secs: opts.timeout.as_secs(),
            })??;
    Ok((status, headers, body, t0.elapsed()))
}

/// Send any `method` to `url` exactly as given (its path is not re-encoded) with `body` and
/// `headers` (added after Host, User-Agent and Accept). For probes that a well-behaved
/// client never makes: HEAD, PUT, undecodable GET paths, oversized bodies. `opts.method` is
/// ignored.
pub async fn send_raw(
    method: &str,
    url: &str,
    body: Vec<u8>,
    headers: &[(String, String)],
    opts: &HttpOptions,
) -> Result<RawReply, TransportError> {
    let (target, uri) = parse_base(url)?;
    let path = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let bad = |reason: String| TransportError::BadUrl {
        url: url.to_string(),
        reason,
    };
    let m = http::Method::from_bytes(method.as_bytes()).map_err(|e| bad(e.to_string()))?;
    let mut req = Request::builder()
        .method(m)
        .uri(if path.is_empty() {
            "/".to_string()
        } else {
            path
        })
        .header(HOST, target.authority.as_str())
        .header(USER_AGENT, concat!("ocsp/", env!("CARGO_PKG_VERSION")))
        .header(ACCEPT, "application/ocsp-response")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| bad(e.to_string()))?;
    for (name, value) in headers {
        let n = HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| TransportError::BadHeader(name.clone(), e.to_string()))?;
        let v = HeaderValue::from_str(value)
            .map_err(|e| TransportError::BadHeader(name.clone(), e.to_string()))?;
        req.headers_mut().insert(n, v);
    }
    let (status, headers, body, elapsed) = perform(&target, req, url, opts).await?;
    Ok(RawReply {
        status,
        headers,
        body,
        elapsed,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn get_url_encoding() {
        let der = [0xFB, 0xFF, 0xFE, 0x00];
        // base64 "+//+AA==" -> every special character percent-encoded.
        assert_eq!(
            get_url("http://h/ocsp", &der),
            "http://h/ocsp/%2B%2F%2F%2BAA%3D%3D"
        );
        assert_eq!(get_url("http://h/", &der), "http://h/%2B%2F%2F%2BAA%3D%3D");
        assert_eq!(get_url("http://h", &der), "http://h/%2B%2F%2F%2BAA%3D%3D");
    }

    #[test]
    fn method_by_length() {
        let small = vec![0u8; 80];
        let big = vec![0u8; 200];
        assert_eq!(
            choose_method("http://127.0.0.1:1", &small, None),
            Method::Get
        );
        assert_eq!(
            choose_method("http://127.0.0.1:1", &big, None),
            Method::Post
        );
        assert_eq!(
            choose_method("http://127.0.0.1:1", &small, Some(Method::Post)),
            Method::Post
        );
        // Exactly at the limit.
        let base = "http://h";
        let n = (0..400)
            .find(|n| get_url(base, &vec![0u8; *n]).len() > MAX_GET_URL_LEN)
            .unwrap();
        assert_eq!(choose_method(base, &vec![0u8; n - 1], None), Method::Get);
        assert_eq!(choose_method(base, &vec![0u8; n], None), Method::Post);
    }

    #[test]
    fn urls() {
        let (t, _) = parse_base("http://[::1]:8080/ocsp").unwrap();
        assert_eq!((t.host.as_str(), t.port, t.https), ("::1", 8080, false));
        assert_eq!(t.authority, "[::1]:8080");
        let (t, _) = parse_base("https://ocsp.example").unwrap();
        assert_eq!((t.port, t.https), (443, true));
        assert!(parse_base("ftp://x/").is_err());
        assert!(parse_base("localhost:80").is_err());
    }
}
