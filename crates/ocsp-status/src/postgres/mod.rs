//! PostgreSQL: many stateless responder nodes over one database (cargo feature
//! `postgres`).
//!
//! The database holds, per issuer, the status of every certificate and a commit-ordered
//! *generation*: one step per writing transaction, taken by a trigger while the issuer
//! row stays locked until commit. A node that has read generation G has seen every row
//! with `updated_gen <= G`, so one statement
//!
//! ```sql
//! SELECT i.generation, c.serial, c.status, c.revoked_at, c.reason, c.invalidity_date,
//!        c.not_after, c.updated_gen
//!   FROM ocsp_issuer i LEFT JOIN ocsp_cert c ON c.issuer_id = i.id AND c.updated_gen > $2
//!  WHERE i.id = $1
//! ```
//!
//! brings a node from any generation to the current one. Rows are never deleted
//! (tombstones, status `D`), so deltas see deletions too.
//!
//! | module | one idea |
//! |---|---|
//! | [`url`] | [`DatabaseUrl`]: parse, from `--db` / `OCSP_DATABASE_URL` / `url_file`, redacted `Debug`/`Display`, `sslmode` + `sslrootcert` |
//! | [`connect`] | one client or a pool, over rustls (aws-lc-rs) as `sslmode` says |
//! | [`schema`] | embedded migrations, `migrate` under an advisory lock, schema and privilege checks, the roles |
//! | [`write`] | the write side: register an issuer, import a batch, revoke, unrevoke, one serial's status, node reports, CRL numbers |
//! | [`source`] | the read side: a responder node's in-memory copy of one issuer, kept fresh by generation (strict or bounded), the listener and the node heartbeat |
//! | [`error`] | [`DbError`], each message naming the fix |
//!
//! Serials are stored as the content octets of their DER INTEGER
//! ([`serial_to_db`]/[`serial_from_db`]); issuers are identified by the SHA-256 of their
//! SubjectPublicKeyInfo AND their subject name, never by one alone.

pub mod connect;
pub mod error;
pub mod schema;
pub mod source;
pub mod url;
pub mod write;

pub use connect::{connect, pool};
pub use error::DbError;
pub use schema::{
    check_privileges, check_schema, migrate, Role, SchemaState, MIGRATIONS, SCHEMA_VERSION,
};
pub use url::{DatabaseUrl, SslMode};

use ocsp_proto::Serial;

/// A serial as stored in `ocsp_cert.serial`: the content octets of its DER INTEGER.
pub fn serial_to_db(serial: &Serial) -> Vec<u8> {
    serial.to_integer_content()
}

/// A serial read from `ocsp_cert.serial`.
pub fn serial_from_db(bytes: &[u8]) -> Serial {
    Serial::from_integer_content(bytes)
}
