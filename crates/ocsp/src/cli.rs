//! The command line: one clap struct per subcommand, no flag shared by all.

use crate::cmd;
use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// An OCSP responder and client (RFC 6960, RFC 9919, RFC 9654).
#[derive(Debug, Parser)]
#[command(
    name = "ocsp",
    version = crate::build_info::VERSION_LINE,
    about,
    propagate_version = true
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve OCSP from OpenSSL CA databases (the `openssl ocsp -index ... -port ...` responder).
    Serve(Box<cmd::serve::Args>),
    /// Ask a responder for the status of certificates and verify the answer.
    Query(cmd::query::Args),
    /// Check a live OCSP responder against the RFCs and a compliance profile.
    Lint(Box<cmd::lint::Args>),
    /// Read an OCSP request or response (DER, PEM, base64 or GET URL) and print it.
    Inspect(cmd::inspect::Args),
    /// Build a demo PKI in the OpenSSL CA layout and serve it.
    Demo(cmd::demo::Args),
    /// Sign every entry of the configured CAs ahead of time into a response store for `serve --store`.
    Presign(cmd::presign::Args),
    /// Validate a configuration file without serving: list every problem, exit 1 on any.
    CheckConfig(cmd::check_config::Args),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) on stdout.
    Completions(cmd::completions::Args),
    /// Write the manual pages (one per subcommand, and ocsp.toml(5)) into a directory.
    #[command(hide = true)]
    Man(cmd::man::Args),
    /// Create, upgrade or check the PostgreSQL status database (migrate, check).
    #[cfg(feature = "postgres")]
    Db(cmd::db::Args),
    /// Load an OpenSSL CA database or a directory of certificates into the status database.
    #[cfg(feature = "postgres")]
    Import(Box<cmd::import::Args>),
    /// Revoke one certificate in the status database.
    #[cfg(feature = "postgres")]
    Revoke(Box<cmd::revoke::RevokeArgs>),
    /// Lift a certificateHold (or, forced, any revocation) in the status database.
    #[cfg(feature = "postgres")]
    Unrevoke(Box<cmd::revoke::UnrevokeArgs>),
    /// Print what the status database says about one serial, and which nodes have seen it.
    #[cfg(feature = "postgres")]
    Status(Box<cmd::revoke::StatusArgs>),
    /// Write a CA's CRL from its status source (index.txt or any configured backend), signed by the CA's key.
    Crl(Box<cmd::crl::Args>),
    /// Measure the signing rate of a responder key, alone and through the signing pool
    /// (for bench/run.sh).
    #[command(hide = true)]
    SignBench(cmd::sign_bench::Args),
}

impl Command {
    /// Run the subcommand; its exit status is the process's.
    pub fn run(self) -> ExitCode {
        match self {
            Command::Serve(a) => cmd::serve::run(*a),
            Command::Query(a) => cmd::query::run(a),
            Command::Lint(a) => cmd::lint::run(*a),
            Command::Inspect(a) => cmd::inspect::run(a),
            Command::Demo(a) => cmd::demo::run(a),
            Command::Presign(a) => cmd::presign::run(a),
            Command::CheckConfig(a) => cmd::check_config::run(a),
            Command::Completions(a) => cmd::completions::run(a),
            Command::Man(a) => cmd::man::run(a),
            #[cfg(feature = "postgres")]
            Command::Db(a) => cmd::db::run(a),
            #[cfg(feature = "postgres")]
            Command::Import(a) => cmd::import::run(*a),
            #[cfg(feature = "postgres")]
            Command::Revoke(a) => cmd::revoke::run_revoke(*a),
            #[cfg(feature = "postgres")]
            Command::Unrevoke(a) => cmd::revoke::run_unrevoke(*a),
            #[cfg(feature = "postgres")]
            Command::Status(a) => cmd::revoke::run_status(*a),
            Command::Crl(a) => cmd::crl::run(*a),
            Command::SignBench(a) => cmd::sign_bench::run(a),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }
}
