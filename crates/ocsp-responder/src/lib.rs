//! The OCSP responder: the served issuers ([`issuer`]), the chain of stages that
//! answers a request ([`source`]: filter → cache → live signing on a pool), the HTTP
//! edge ([`http`], [`h1`], [`server`], [`tls`]), health and metrics. [`setup`] is the one
//! wiring from a [`config::Config`] to the running parts; the `ocsp` binary calls it and
//! serves. Statuses come from `ocsp-status`, keys from `ocsp-signer`.

pub mod clock;
pub mod config;
#[doc(hidden)]
pub mod differential;
pub mod h1;
pub mod health;
pub mod http;
pub mod issuer;
pub mod log_sample;
pub mod metrics;
pub mod parse_cache;
pub mod server;
pub mod setup;
pub mod source;
pub mod status_page;
pub mod tls;
mod watchdog;
