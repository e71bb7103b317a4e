//! The OCSP responder: the served issuers ([`issuer`]), the chain of stages that
//! answers a request ([`source`]: filter → cache → live signing on a pool), the HTTP
//! edge ([`http`]: the edge itself, the HTTP/1.1 fast path, hyper, TLS, connection
//! deadlines), health, metrics and the status page. [`setup`] is the one wiring from a
//! [`config::Config`] to the running parts; the `ocsp` binary calls it and serves.
//! Statuses come from `ocsp-status`, keys from `ocsp-signer`.

pub mod access_log;
pub mod clock;
pub mod config;
pub mod crl_issue;
pub mod health;
pub mod http;
pub mod issuer;
pub mod log_sample;
pub mod log_writer;
pub mod metrics;
pub mod rollover;
pub mod setup;
pub mod setup_db;
pub mod source;
pub mod status_page;
