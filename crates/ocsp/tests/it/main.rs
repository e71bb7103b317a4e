//! The `ocsp` binary's integration tests, in one test binary (`cargo test -p ocsp --test it`).
//!
//! Each file is one area; shared helpers live in the `test-support` crate (the PKI, the
//! spawned binary, raw HTTP, the judge). Tests that change or measure process-wide state
//! (the global tracing subscriber and metrics recorder) re-run themselves alone in a child
//! process with `test_support::process::run_alone`.
//!
//! Run one area with a filter: `cargo test -p ocsp --test it serve_http::`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli_docs;
mod cli_usage;
#[cfg(feature = "postgres")]
mod crl_db;
mod crl_issue;
mod crl_serve;
mod db_cli;
mod demo;
mod error_messages;
mod hsm_faults;
mod hsm_interop;
mod hsm_support;
mod inspect_cli;
mod lint_openssl;
mod lint_pkilint;
mod lint_serve;
mod lint_support;
mod lint_watch;
mod ops_access_log;
mod ops_check_config;
mod ops_dashboards;
mod ops_metrics;
mod ops_profile;
mod ops_readyz;
mod ops_tls;
#[cfg(feature = "postgres")]
mod pg_outage;
#[cfg(feature = "postgres")]
mod pg_serve;
#[cfg(feature = "postgres")]
mod pg_support;
mod presign_store;
mod query_openssl;
mod query_serve;
mod robust_connections;
mod robust_files;
mod robust_signals;
mod robust_soak;
mod rollover_sighup;
mod serve_http;
mod serve_interop;
mod serve_live;
mod serve_multi_ca;
mod serve_startup;
mod status_page_browser;

use test_support::responder::{self, Run};

/// The binary under test.
pub const OCSP: &str = env!("CARGO_BIN_EXE_ocsp");

/// Run `ocsp ARGS` to completion (with a deadline).
pub fn ocsp(args: &[&str]) -> Run {
    responder::run(OCSP, args)
}

/// Run `ocsp ARGS` to completion, feeding `stdin`.
pub fn ocsp_stdin(args: &[&str], stdin: Option<&[u8]>) -> Run {
    responder::run_stdin(OCSP, args, stdin)
}
