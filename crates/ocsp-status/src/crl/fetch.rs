//! Getting one CRL location's bytes: `file:` and `http(s)://`, conditionally.
//!
//! - A file (`file:///path`, `file:/path` or a plain path) is read when its length or
//!   modification time differs from the last read; otherwise [`Fetched::Unchanged`].
//! - An `http://` or `https://` URL is fetched with `GET`, sending `If-None-Match` and
//!   `If-Modified-Since` from the last `200` response; `304 Not Modified` is
//!   [`Fetched::Unchanged`]. One connection per fetch (CRLs change rarely), HTTP/1.1,
//!   TLS with the system roots or a configured PEM file. Redirects are not followed (the
//!   error names the target to configure instead).
//! - Limits: the connect timeout (TCP and TLS), the read timeout (the whole response),
//!   and the size cap (a `Content-Length` over it fails before the body is read; a body
//!   that grows past it fails as soon as it does). A file over the cap is refused by its
//!   length.
//!
//! The conditional state ([`Validators`]) is only advanced by the caller once the bytes
//! were accepted, so a CRL that was fetched but refused is fetched again next time.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// One configured location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A file.
    File(PathBuf),
    /// An HTTP or HTTPS URL.
    Http(String),
}

impl Location {
    /// Parse a configured location; the error says what is accepted.
    pub fn parse(s: &str) -> Result<Location, String> {
        if let Some(rest) = s.strip_prefix("file://") {
            // file:///abs/path (empty authority) or file://localhost/abs/path.
            let path = rest.strip_prefix("localhost").unwrap_or(rest);
            if !path.starts_with('/') {
                return Err(format!(
                    "CRL location {s:?}: a file URL needs an absolute path (file:///path/ca.crl)"
                ));
            }
            return Ok(Location::File(PathBuf::from(path)));
        }
        if let Some(path) = s.strip_prefix("file:") {
            return Ok(Location::File(PathBuf::from(path)));
        }
        let lower = s.to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            let uri: http::Uri = s.parse().map_err(|e| {
                format!(
                    "CRL location {s:?} is not a valid URL ({e}): percent-encode spaces and \
                     other special characters (%20), as the certificates' CRL distribution \
                     points do"
                )
            })?;
            if uri.host().is_none() {
                return Err(format!("CRL location {s:?} has no host"));
            }
            return Ok(Location::Http(s.to_string()));
        }
        if s.contains("://") {
            return Err(format!(
                "CRL location {s:?}: only file:, http:// and https:// are supported (for LDAP, \
                 publish the CRL to a file or an HTTP server)"
            ));
        }
        if s.is_empty() {
            return Err("an empty CRL location".into());
        }
        Ok(Location::File(PathBuf::from(s)))
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::File(p) => write!(f, "{}", p.display()),
            Location::Http(u) => f.write_str(u),
        }
    }
}

/// What the last accepted fetch of a location left for the next conditional one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    /// The `ETag` of the last accepted HTTP response.
    pub etag: Option<String>,
    /// The `Last-Modified` of the last accepted HTTP response.
    pub last_modified: Option<String>,
    /// A file's length and modification time when it was last read.
    pub file: Option<(u64, SystemTime)>,
}

/// The result of one fetch.
#[derive(Debug)]
pub enum Fetched {
    /// Nothing new since the validators' fetch.
    Unchanged,
    /// New bytes, and the validators to keep if they are accepted.
    Body(Vec<u8>, Validators),
}

/// Limits and trust of fetches.
#[derive(Clone)]
pub struct FetchOptions {
    /// The largest body accepted.
    pub max_bytes: u64,
    /// TCP and TLS connect timeout.
    pub connect_timeout: Duration,
    /// Timeout for the whole response.
    pub read_timeout: Duration,
    /// TLS configuration for `https://` locations (built lazily: `None` until needed).
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

impl std::fmt::Debug for FetchOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FetchOptions")
            .field("max_bytes", &self.max_bytes)
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .finish()
    }
}

/// Fetch `loc`, conditionally on `prev`.
pub async fn fetch(
    loc: &Location,
    prev: &Validators,
    opts: &FetchOptions,
) -> Result<Fetched, String> {
    match loc {
        Location::File(p) => {
            let p = p.clone();
            let prev = prev.clone();
            let max = opts.max_bytes;
            tokio::task::spawn_blocking(move || fetch_file(&p, &prev, max))
                .await
                .map_err(|e| format!("reading the CRL file failed: {e}"))?
        }
        Location::Http(url) => fetch_http(url, prev, opts).await,
    }
}

fn fetch_file(path: &std::path::Path, prev: &Validators, max: u64) -> Result<Fetched, String> {
    let name = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("{name}: {e}"))?;
    let key = (
        meta.len(),
        meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
    );
    if prev.file == Some(key) {
        return Ok(Fetched::Unchanged);
    }
    if meta.len() > max {
        return Err(format!(
            "{name}: {} bytes, over the limit of {max}: raise max_bytes if this CRL is genuine",
            meta.len()
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("{name}: {e}"))?;
    if bytes.len() as u64 > max {
        return Err(format!(
            "{name}: grew past the limit of {max} bytes while read"
        ));
    }
    Ok(Fetched::Body(
        bytes,
        Validators {
            file: Some(key),
            ..Validators::default()
        },
    ))
}

async fn fetch_http(url: &str, prev: &Validators, opts: &FetchOptions) -> Result<Fetched, String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("{url}: {e}"))?;
    let https = uri.scheme_str() == Some("https");
    let host = uri
        .host()
        .ok_or_else(|| format!("{url}: no host"))?
        .to_string();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let authority = uri
        .authority()
        .map(|a| a.as_str().to_string())
        .unwrap_or_else(|| host.clone());
    let path = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let mut req = http::Request::get(path)
        .header(http::header::HOST, authority)
        .header(
            http::header::USER_AGENT,
            concat!("ocsp/", env!("CARGO_PKG_VERSION")),
        )
        .header(
            http::header::ACCEPT,
            "application/pkix-crl, application/x-pkcs7-crl, */*",
        );
    if let Some(e) = &prev.etag {
        req = req.header(http::header::IF_NONE_MATCH, e.as_str());
    }
    if let Some(m) = &prev.last_modified {
        req = req.header(http::header::IF_MODIFIED_SINCE, m.as_str());
    }
    let req = req
        .body(Empty::<bytes::Bytes>::new())
        .map_err(|e| format!("{url}: {e}"))?;
    let connect = async {
        let tcp = TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| format!("{url}: cannot connect to {host}:{port}: {e}"))?;
        let _ = tcp.set_nodelay(true);
        if !https {
            return Ok(Conn::Plain(tcp));
        }
        let cfg = opts
            .tls
            .clone()
            .ok_or_else(|| format!("{url}: no TLS configuration (no root certificates)"))?;
        let name = rustls::pki_types::ServerName::try_from(host.clone())
            .map_err(|e| format!("{url}: {e}"))?;
        let tls = tokio_rustls::TlsConnector::from(cfg)
            .connect(name, tcp)
            .await
            .map_err(|e| format!("{url}: TLS handshake with {host}:{port} failed: {e}"))?;
        Ok::<_, String>(Conn::Tls(Box::new(tls)))
    };
    let conn = tokio::time::timeout(opts.connect_timeout, connect)
        .await
        .map_err(|_| {
            format!(
                "{url}: no connection within {} ms (connect_timeout_ms)",
                opts.connect_timeout.as_millis()
            )
        })??;
    let response = async {
        match conn {
            Conn::Plain(s) => exchange(s, req, url, opts.max_bytes, prev).await,
            Conn::Tls(s) => exchange(*s, req, url, opts.max_bytes, prev).await,
        }
    };
    tokio::time::timeout(opts.read_timeout, response)
        .await
        .map_err(|_| {
            format!(
                "{url}: no complete response within {} ms (read_timeout_ms)",
                opts.read_timeout.as_millis()
            )
        })?
}

enum Conn {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

async fn exchange<S>(
    stream: S,
    req: http::Request<Empty<bytes::Bytes>>,
    url: &str,
    max: u64,
    prev: &Validators,
) -> Result<Fetched, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    let result = async {
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        let status = resp.status();
        if status == http::StatusCode::NOT_MODIFIED && (prev.etag.is_some() || prev.last_modified.is_some()) {
            return Ok(Fetched::Unchanged);
        }
        if status != http::StatusCode::OK {
            let loc = resp
                .headers()
                .get(http::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(|l| format!(" (redirected to {l}: configure that URL instead)"))
                .unwrap_or_default();
            return Err(format!("{url}: HTTP {status}{loc}"));
        }
        let header = |name: http::header::HeaderName| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let validators = Validators {
            etag: header(http::header::ETAG),
            last_modified: header(http::header::LAST_MODIFIED),
            file: None,
        };
        let declared = header(http::header::CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok());
        if let Some(n) = declared.filter(|n| *n > max) {
            return Err(format!(
                "{url}: Content-Length {n} is over the limit of {max} bytes: raise max_bytes if this CRL is genuine"
            ));
        }
        let mut body = resp.into_body();
        let cap = usize::try_from(declared.unwrap_or(0).min(max)).unwrap_or(0);
        let mut out = Vec::with_capacity(cap);
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| format!("{url}: {e}"))?;
            if let Ok(data) = frame.into_data() {
                if (out.len() + data.len()) as u64 > max {
                    return Err(format!(
                        "{url}: the body passed the limit of {max} bytes: raise max_bytes if this CRL is genuine"
                    ));
                }
                out.extend_from_slice(&data);
            }
        }
        Ok(Fetched::Body(out, validators))
    }
    .await;
    driver.abort();
    result
}

/// The TLS configuration of `https://` locations: the PEM roots in `roots`, or the
/// system's.
pub fn tls_config(roots_file: Option<&std::path::Path>) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    match roots_file {
        Some(path) => {
            let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
            for c in rustls_pemfile::certs(&mut pem.as_slice()) {
                let c = c.map_err(|e| format!("{}: {e}", path.display()))?;
                roots
                    .add(c)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
            }
            if roots.is_empty() {
                return Err(format!("{}: no PEM certificate", path.display()));
            }
        }
        None => {
            for c in rustls_native_certs::load_native_certs().certs {
                // A system store may hold certificates rustls cannot use; skip those.
                let _ = roots.add(c);
            }
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        assert_eq!(
            Location::parse("file:///etc/ca.crl").unwrap(),
            Location::File("/etc/ca.crl".into())
        );
        assert_eq!(
            Location::parse("file:rel/ca.crl").unwrap(),
            Location::File("rel/ca.crl".into())
        );
        assert_eq!(
            Location::parse("/etc/ca.crl").unwrap(),
            Location::File("/etc/ca.crl".into())
        );
        assert_eq!(
            Location::parse("http://pki.example/ca.crl").unwrap(),
            Location::Http("http://pki.example/ca.crl".into())
        );
        assert_eq!(
            Location::parse("http://pki/CertEnroll/Issuing%20CA%2B.crl").unwrap(),
            Location::Http("http://pki/CertEnroll/Issuing%20CA%2B.crl".into())
        );
        assert!(Location::parse("http://pki/Issuing CA.crl")
            .unwrap_err()
            .contains("%20"));
        for bad in ["ldap://x/cn=ca", "file://host/x", "", "http:///nohost"] {
            assert!(Location::parse(bad).is_err(), "{bad}");
        }
    }
}
