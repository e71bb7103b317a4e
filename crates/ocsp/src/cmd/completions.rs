//! `ocsp completions SHELL`: the shell completion script for every subcommand and flag,
//! generated from the command-line definition (clap_complete), printed on stdout.
//!
//! Install it where the shell looks (the Debian package does this):
//! bash `/usr/share/bash-completion/completions/ocsp`, zsh
//! `/usr/share/zsh/vendor-completions/_ocsp`, fish
//! `/usr/share/fish/vendor_completions.d/ocsp.fish`; or for one user,
//! `source <(ocsp completions bash)`.

use crate::cli::Cli;
use clap::CommandFactory;
use clap_complete::Shell;
use std::io::Write;
use std::process::ExitCode;

/// Flags of `ocsp completions`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
source <(ocsp completions bash)\n  \
ocsp completions zsh > \"${fpath[1]}/_ocsp\"\n  \
ocsp completions fish > ~/.config/fish/completions/ocsp.fish")]
pub struct Args {
    /// The shell to write the script for.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: Shell,
}

/// The completion script for `shell`.
pub fn script(shell: Shell) -> Vec<u8> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "ocsp", &mut out);
    out
}

/// Run `ocsp completions`.
pub fn run(args: Args) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(&script(args.shell))
        .and_then(|()| stdout.flush())
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ocsp completions: error: cannot write to stdout: {e}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shell_gets_a_script_naming_the_subcommands() {
        for shell in [
            Shell::Bash,
            Shell::Zsh,
            Shell::Fish,
            Shell::Elvish,
            Shell::PowerShell,
        ] {
            let s = String::from_utf8(script(shell)).unwrap_or_default();
            for word in ["serve", "check-config", "metrics-listen", "completions"] {
                assert!(s.contains(word), "{shell}: {word} missing");
            }
        }
    }
}
