//! [`DbError`]: every way talking to the status database fails, each message naming the
//! fix.
//!
//! | variant | when | the fix named |
//! |---|---|---|
//! | `BadUrl` | the URL does not parse, an unknown `sslmode` | the URL form |
//! | `Unreachable` | no TCP/socket connection, a timeout | check host, port, that the server runs |
//! | `Auth` | wrong password, unknown role | check the credentials in the URL (file) |
//! | `DatabaseMissing` | the database does not exist | `createdb`, then `ocsp db migrate` |
//! | `Tls` | the server has no TLS, the certificate does not verify | `sslrootcert`, `sslmode` |
//! | `SchemaMissing` | no `ocsp_schema` table | `ocsp db migrate` |
//! | `SchemaOld` | an older schema than this binary knows | `ocsp db migrate` |
//! | `SchemaNewer` | a newer schema than this binary knows | upgrade this binary |
//! | `Privilege` | the role lacks a privilege | the `GRANT` statement |
//! | `Query` | anything else the server reported | the server's message |
//!
//! Messages never carry a password: URLs appear in their redacted form only.

use tokio_postgres::error::SqlState;

/// An error talking to the status database.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    /// The database URL is malformed.
    #[error("bad database URL: {0} (the form is postgres://USER@HOST:PORT/DATABASE?sslmode=verify-full&sslrootcert=/path/ca.pem; put the password in a url_file or OCSP_DATABASE_URL, never on the command line)")]
    BadUrl(String),
    /// No connection could be made.
    #[error("cannot reach the database at {url}: {detail} (check the host and port, and that PostgreSQL is running and accepts TCP connections there)")]
    Unreachable {
        /// The redacted URL.
        url: String,
        /// What failed.
        detail: String,
    },
    /// Authentication failed.
    #[error("the database at {url} refused the login: {detail} (check the user and password in the URL, and pg_hba.conf)")]
    Auth {
        /// The redacted URL.
        url: String,
        /// The server's message.
        detail: String,
    },
    /// The database named in the URL does not exist.
    #[error("database {name:?} does not exist at {url} (create it: createdb {name}, then run `ocsp db migrate`)")]
    DatabaseMissing {
        /// The redacted URL.
        url: String,
        /// The database name.
        name: String,
    },
    /// TLS to the server failed.
    #[error("TLS to the database at {url} failed: {detail} (check sslmode and that sslrootcert names the CA that issued the server's certificate)")]
    Tls {
        /// The redacted URL.
        url: String,
        /// What failed.
        detail: String,
    },
    /// The schema is not there.
    #[error(
        "the database has no ocsp schema (run `ocsp db migrate --db URL` as the database owner)"
    )]
    SchemaMissing,
    /// The schema is older than this binary.
    #[error("the database schema is version {found}, this binary needs version {want} (run `ocsp db migrate --db URL` as the database owner)")]
    SchemaOld {
        /// The version in the database.
        found: i32,
        /// The version this binary needs.
        want: i32,
    },
    /// The schema is newer than this binary.
    #[error("the database schema is version {found}, newer than version {known} this binary knows (upgrade ocsp on this machine)")]
    SchemaNewer {
        /// The version in the database.
        found: i32,
        /// The newest version this binary knows.
        known: i32,
    },
    /// The connected role lacks privileges.
    #[error("role {role:?} lacks {missing} (as the database owner: {grant})")]
    Privilege {
        /// The connected role.
        role: String,
        /// What is missing (`INSERT on ocsp_cert`).
        missing: String,
        /// The statement that grants it.
        grant: String,
    },
    /// A CA or serial the command named is not in the database.
    #[error("{0}")]
    NotFound(String),
    /// A change the command refuses (un-revoking without `--force`, ...).
    #[error("{0}")]
    Refused(String),
    /// Anything else.
    #[error("database error: {0}")]
    Query(String),
}

impl DbError {
    /// Classify an error of a query (not of connecting: see [`DbError::connecting`]).
    pub fn query(e: tokio_postgres::Error) -> DbError {
        if let Some(db) = e.as_db_error() {
            let code = db.code();
            if *code == SqlState::UNDEFINED_TABLE || *code == SqlState::UNDEFINED_FUNCTION {
                if db.message().contains("ocsp_") {
                    return DbError::SchemaMissing;
                }
            } else if *code == SqlState::INSUFFICIENT_PRIVILEGE {
                return DbError::Privilege {
                    role: "the connected role".into(),
                    missing: format!("a privilege ({})", db.message()),
                    grant: "GRANT ocsp_writer TO <role> for writes, GRANT ocsp_reader TO <role> for responders (see docs/postgres.md)".into(),
                };
            }
            return DbError::Query(db.message().to_string());
        }
        if e.is_closed() {
            return DbError::Query("the connection to the database closed".into());
        }
        DbError::Query(error_chain(&e))
    }

    /// Classify an error of connecting to `url` (redacted) naming database `db`.
    pub fn connecting(e: tokio_postgres::Error, url: &str, db: &str) -> DbError {
        let url = url.to_string();
        if let Some(d) = e.as_db_error() {
            let code = d.code();
            if *code == SqlState::INVALID_PASSWORD
                || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
            {
                return DbError::Auth {
                    url,
                    detail: d.message().to_string(),
                };
            }
            if *code == SqlState::INVALID_CATALOG_NAME {
                return DbError::DatabaseMissing {
                    url,
                    name: db.to_string(),
                };
            }
            return DbError::Query(d.message().to_string());
        }
        let detail = error_chain(&e);
        let lower = detail.to_ascii_lowercase();
        if lower.contains("tls")
            || lower.contains("certificate")
            || lower.contains("ssl")
            || lower.contains("handshake")
        {
            return DbError::Tls { url, detail };
        }
        if lower.contains("password") || lower.contains("authentication") {
            return DbError::Auth { url, detail };
        }
        DbError::Unreachable { url, detail }
    }
}

/// An error and its sources, joined with `: `.
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}
