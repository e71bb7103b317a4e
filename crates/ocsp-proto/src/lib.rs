//! The OCSP protocol, with no I/O.
//!
//! This crate parses OCSP requests into typed views ([`request`]), builds and signs
//! responses ([`response`]) through a narrow [`signer::Signer`] trait, matches CertIDs
//! against issuers ([`cert_id`]) and verifies responses ([`verify`]). It never reads the
//! clock, the environment, files or sockets: times and keys are arguments.
//!
//! Times are [`Timestamp`]s: whole seconds since the Unix epoch, which is all the
//! precision RFC 9919 allows on the wire.

pub mod cert_id;
pub mod chain;
pub mod crl;
pub mod facts;
pub mod get_path;
pub mod profile;
pub mod request;
pub mod response;
pub mod sigalg;
pub mod signer;
pub mod status;
pub mod text;
pub mod time;
pub mod verify;

pub use cert_id::{HashAlg, IssuerHashes, IssuerIdentity, Serial};
pub use status::{CertStatus, Revocation, RevocationReason};
pub use time::Timestamp;

/// Re-exports of the ASN.1 crates this crate's API speaks in.
pub use {const_oid, der, spki, x509_cert, x509_ocsp};
