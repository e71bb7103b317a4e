//! `ocsp query` (being written).

use std::process::ExitCode;

/// Flags of `ocsp query`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Run `ocsp query`.
pub fn run(args: Args) -> ExitCode {
    let _ = args;
    eprintln!("ocsp query: not built yet");
    ExitCode::from(2)
}
