//! `ocsp demo` (being written).

use std::process::ExitCode;

/// Flags of `ocsp demo`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Run `ocsp demo`.
pub fn run(args: Args) -> ExitCode {
    let _ = args;
    eprintln!("ocsp demo: not built yet");
    ExitCode::from(2)
}
