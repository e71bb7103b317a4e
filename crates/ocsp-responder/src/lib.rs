//! The OCSP responder: where statuses come from ([`source`]), who signs
//! ([`signer`], [`issuer`]) and the HTTP edge ([`http`]). The `ocsp` binary only wires
//! these together.

pub mod clock;
pub mod compliance;
pub mod config;
pub mod h1;
pub mod health;
pub mod http;
pub mod issuer;
pub mod log_sample;
pub mod metrics;
pub mod parse_cache;
pub mod passin;
pub mod server;
pub mod signer;
pub mod source;
pub mod status_page;
pub mod tls;
