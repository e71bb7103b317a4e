//! `ocsp`: an OCSP responder and client. See `ocsp --help`.

mod build_info;
mod cli;
mod cmd;
mod logging;
mod passphrase;
mod runtime;

use clap::Parser;
use std::process::ExitCode;

/// The exit status of a usage error: `ocsp query` and `ocsp inspect` document 5 for
/// "usage, file or network error" (2 means "unknown" there), `ocsp lint` 3 for "could not
/// run" (2 means "failures" there); other subcommands use 2.
fn usage_exit_code() -> u8 {
    match std::env::args().nth(1).as_deref() {
        Some("query") | Some("inspect") => 5,
        Some("lint") => 3,
        _ => 2,
    }
}

fn main() -> ExitCode {
    match cli::Cli::try_parse() {
        Ok(cli) => cli.command.run(),
        Err(e) => {
            let _ = e.print();
            if e.use_stderr() {
                ExitCode::from(usage_exit_code())
            } else {
                // --help and --version
                ExitCode::SUCCESS
            }
        }
    }
}
