//! OCSP client: build a request, send it, check what comes back.
//!
//! * [`certs`] reads certificates (PEM or DER, chains), serial numbers (decimal or `0x` hex)
//!   and the AIA OCSP URL of a certificate.
//! * [`request`] turns (issuer, serial) pairs into CertIDs and a DER OCSPRequest with a
//!   random 32-octet nonce (RFC 9654).
//! * [`transport`] sends it over HTTP or HTTPS (rustls with the aws-lc-rs provider): GET to
//!   `{url}/{urlencode(base64(DER))}` when that URL is at most 255 bytes (RFC 9919), POST
//!   with `Content-Type: application/ocsp-request` otherwise; [`transport::Exchange`] keeps
//!   every response header and the time taken.
//! * [`query`] is the flow on top: what was asked ([`query::Asked`]), send it
//!   ([`query::ask`]), parse and verify the answer ([`query::judge`]).
//! * [`lint`] checks a live responder against the RFCs and a compliance profile
//!   (`ocsp lint`, docs/lint.md), on top of [`query`] and [`transport::send_raw`].
//!
//! Verification itself is pure and lives in [`ocsp_proto::verify`]; this crate supplies the
//! clock ([`now`]).
//!
//! This crate has no server dependencies.

pub mod certs;
pub mod lint;
pub mod query;
pub mod request;
pub mod transport;

pub use certs::{aia_ocsp_urls, load_certs, parse_serial, CertsError};
pub use request::{build_request, random_nonce, BuiltRequest, Target};
pub use transport::{
    choose_method, get_url, send, send_raw, Exchange, HttpOptions, Method, RawReply, TransportError,
};

use ocsp_proto::Timestamp;

/// The current time, whole seconds.
pub fn now() -> Timestamp {
    Timestamp(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    )
}
