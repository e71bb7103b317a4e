//! `ocsp serve` (being written).

use std::process::ExitCode;

/// Flags of `ocsp serve`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Run `ocsp serve`.
pub fn run(args: Args) -> ExitCode {
    let _ = args;
    eprintln!("ocsp serve: not built yet");
    ExitCode::from(2)
}
