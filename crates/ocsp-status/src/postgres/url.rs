//! [`DatabaseUrl`]: where the status database is and how to reach it, parsed once and
//! shown only redacted.
//!
//! The form is libpq's URL: `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE?PARAMS`
//! (`postgresql://` too; a `host=/run/postgresql` parameter selects a unix socket).
//! Besides the parameters tokio-postgres knows (`connect_timeout`, `application_name`,
//! `host`, `port`, ...), two are handled here:
//!
//! | parameter | values | meaning |
//! |---|---|---|
//! | `sslmode` | `disable` | plain TCP |
//! | | `prefer` (default) | TLS when the server offers it, the certificate not verified (libpq's default) |
//! | | `require` | TLS or no connection; the certificate verified against `sslrootcert` when given (else not verified, as libpq) |
//! | | `verify-full` | TLS, the certificate chain verified against `sslrootcert` (or the system's roots) and the host name checked |
//! | `sslrootcert` | a path | PEM file of the CA certificates trusted for the server |
//!
//! The URL comes from, in this order: `--db`, the environment variable
//! `OCSP_DATABASE_URL`, or a file named by `[database] url_file` holding the URL on its
//! first line ([`DatabaseUrl::resolve`]). A password belongs in the file or the
//! environment, never on a command line (where `ps` shows it).
//!
//! `Debug` and `Display` print the URL with the password replaced by `***`; the password
//! reaches only tokio-postgres' connection config.

use crate::database_url::{self, UrlOrigin};
use crate::postgres::DbError;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

pub use crate::database_url::ENV_VAR;

/// How TLS to the server is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Plain TCP.
    Disable,
    /// TLS when offered, unverified.
    Prefer,
    /// TLS required; verified against `sslrootcert` when given.
    Require,
    /// TLS required, chain and host name verified.
    VerifyFull,
}

impl SslMode {
    /// The URL spelling.
    pub fn name(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// A parsed database URL.
#[derive(Clone)]
pub struct DatabaseUrl {
    config: tokio_postgres::Config,
    ssl_mode: SslMode,
    root_cert: Option<PathBuf>,
    redacted: String,
}

impl DatabaseUrl {
    /// Parse a URL.
    pub fn parse(url: &str) -> Result<DatabaseUrl, DbError> {
        let url = url.trim();
        let rest = url
            .strip_prefix("postgres://")
            .or_else(|| url.strip_prefix("postgresql://"))
            .ok_or_else(|| {
                DbError::BadUrl(format!("{:?} does not start with postgres://", redact(url)))
            })?;
        let (base, query) = match rest.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (rest, None),
        };
        let mut ssl_mode = SslMode::Prefer;
        let mut root_cert = None;
        let mut kept: Vec<&str> = Vec::new();
        for pair in query.into_iter().flat_map(|q| q.split('&')) {
            if pair.is_empty() {
                continue;
            }
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k {
                "sslmode" => {
                    ssl_mode = match v {
                        "disable" => SslMode::Disable,
                        "prefer" | "allow" => SslMode::Prefer,
                        "require" => SslMode::Require,
                        "verify-full" => SslMode::VerifyFull,
                        "verify-ca" => {
                            return Err(DbError::BadUrl(
                                "sslmode=verify-ca is not supported: use sslmode=verify-full (the host name is checked too)".into(),
                            ))
                        }
                        other => {
                            return Err(DbError::BadUrl(format!(
                                "unknown sslmode {other:?} (disable, prefer, require or verify-full)"
                            )))
                        }
                    }
                }
                "sslrootcert" => root_cert = Some(PathBuf::from(pct_decode(v))),
                _ => kept.push(pair),
            }
        }
        let mut inner = format!("postgresql://{base}");
        if !kept.is_empty() {
            inner.push('?');
            inner.push_str(&kept.join("&"));
        }
        let redacted = redact(url);
        let mut config = tokio_postgres::Config::from_str(&inner)
            .map_err(|e| DbError::BadUrl(format!("{redacted}: {e}")))?;
        if config.get_hosts().is_empty() {
            return Err(DbError::BadUrl(format!("{redacted}: no host")));
        }
        if config.get_user().is_none() {
            return Err(DbError::BadUrl(format!(
                "{redacted}: no user (postgres://USER@HOST/DATABASE)"
            )));
        }
        if config.get_dbname().is_none() {
            return Err(DbError::BadUrl(format!(
                "{redacted}: no database name (postgres://USER@HOST/DATABASE)"
            )));
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        config.ssl_mode(match ssl_mode {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            SslMode::Require | SslMode::VerifyFull => tokio_postgres::config::SslMode::Require,
        });
        if config.get_application_name().is_none() {
            config.application_name("ocsp");
        }
        Ok(DatabaseUrl {
            config,
            ssl_mode,
            root_cert,
            redacted,
        })
    }

    /// The URL from `--db` (`flag`), else `OCSP_DATABASE_URL`, else the file `url_file`
    /// ([`crate::database_url::find`]), parsed; `Ok(None)` when none is given.
    pub fn resolve(
        flag: Option<&str>,
        url_file: Option<&Path>,
    ) -> Result<Option<DatabaseUrl>, DbError> {
        let Some((text, origin)) = database_url::find(flag, url_file).map_err(DbError::BadUrl)?
        else {
            return Ok(None);
        };
        DatabaseUrl::parse(&text)
            .map_err(|e| match (e, origin) {
                (DbError::BadUrl(m), UrlOrigin::Env) => {
                    DbError::BadUrl(format!("in ${ENV_VAR}: {m}"))
                }
                (DbError::BadUrl(m), UrlOrigin::File(path)) => {
                    DbError::BadUrl(format!("in {}: {m}", path.display()))
                }
                (other, _) => other,
            })
            .map(Some)
    }

    /// The URL on the first non-empty line of `path`.
    pub fn from_file(path: &Path) -> Result<DatabaseUrl, DbError> {
        let text = database_url::read_file(path).map_err(DbError::BadUrl)?;
        DatabaseUrl::parse(&text).map_err(|e| match e {
            DbError::BadUrl(m) => DbError::BadUrl(format!("in {}: {m}", path.display())),
            other => other,
        })
    }

    /// The tokio-postgres connection config (holds the password).
    pub fn config(&self) -> &tokio_postgres::Config {
        &self.config
    }

    /// The TLS mode.
    pub fn ssl_mode(&self) -> SslMode {
        self.ssl_mode
    }

    /// The CA file trusted for the server's certificate.
    pub fn root_cert(&self) -> Option<&Path> {
        self.root_cert.as_deref()
    }

    /// The URL with the password replaced by `***`.
    pub fn redacted(&self) -> &str {
        &self.redacted
    }

    /// The database name.
    pub fn dbname(&self) -> &str {
        self.config.get_dbname().unwrap_or("")
    }

    /// The user name.
    pub fn user(&self) -> &str {
        self.config.get_user().unwrap_or("")
    }

    /// Whether the URL carries a password.
    pub fn has_password(&self) -> bool {
        self.config.get_password().is_some()
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("DatabaseUrl").field(&self.redacted).finish()
    }
}

impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted)
    }
}

/// `url` with the password of its authority part, and any `password=` parameter,
/// replaced by `***`.
pub fn redact(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(i) => (&url[..i + 3], &url[i + 3..]),
        None => ("", url),
    };
    let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (auth, tail) = rest.split_at(auth_end);
    let auth = match auth.rfind('@') {
        Some(at) => {
            let userinfo = &auth[..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{user}:***{}", &auth[at..]),
                None => auth.to_string(),
            }
        }
        None => auth.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, q)) => {
            let q: Vec<String> = q
                .split('&')
                .map(|p| match p.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => p.to_string(),
                })
                .collect();
            format!("{path}?{}", q.join("&"))
        }
        None => tail.to_string(),
    };
    format!("{scheme}{auth}{tail}")
}

fn pct_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_never_shown() {
        let u = DatabaseUrl::parse(
            "postgres://writer:s3cret-pw@db.example:5433/ocsp?sslmode=verify-full&sslrootcert=/etc/ca.pem",
        )
        .unwrap();
        for shown in [format!("{u:?}"), format!("{u}"), u.redacted().to_string()] {
            assert!(!shown.contains("s3cret-pw"), "{shown}");
            assert!(shown.contains("writer:***@db.example:5433/ocsp"), "{shown}");
        }
        assert_eq!(u.ssl_mode(), SslMode::VerifyFull);
        assert_eq!(u.root_cert(), Some(Path::new("/etc/ca.pem")));
        assert_eq!(u.dbname(), "ocsp");
        assert!(u.has_password());
        let r = redact("postgres://u@h/d?password=hunter2&sslmode=disable");
        assert!(!r.contains("hunter2"), "{r}");
    }

    #[test]
    fn bad_urls_are_named() {
        for (bad, want) in [
            ("mysql://u@h/d", "postgres://"),
            ("postgres://u:pw@h/d?sslmode=bogus", "unknown sslmode"),
            ("postgres://u:pw@h", "no database"),
            ("postgres://u:pw@h:notaport/d", "bad database URL"),
        ] {
            let e = DatabaseUrl::parse(bad).unwrap_err().to_string();
            assert!(e.contains(want), "{bad}: {e}");
            assert!(!e.contains(":pw@"), "password leaked: {e}");
        }
    }

    #[test]
    fn url_file_first_line() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("url");
        std::fs::write(&f, "# comment\n\npostgres://u:pw@127.0.0.1:5432/ocsp\n").unwrap();
        let u = DatabaseUrl::from_file(&f).unwrap();
        assert_eq!(u.redacted(), "postgres://u:***@127.0.0.1:5432/ocsp");
        let e = DatabaseUrl::from_file(&dir.path().join("missing"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing"), "{e}");
    }
}
