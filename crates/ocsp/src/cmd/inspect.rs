//! `ocsp inspect` (being written).

use std::process::ExitCode;

/// Flags of `ocsp inspect`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Run `ocsp inspect`.
pub fn run(args: Args) -> ExitCode {
    let _ = args;
    eprintln!("ocsp inspect: not built yet");
    ExitCode::from(2)
}
