//! `ocsp`: an OCSP responder and client. See `ocsp --help`.

mod cli;
mod cmd;
mod logging;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    cli.command.run()
}
