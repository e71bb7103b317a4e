//! The terminal prompt for key passphrases, shared by `serve`, `check-config` and the other
//! subcommands that load keys.
//!
//! On a terminal it asks `Enter pass phrase for KEY: ` with echo off, as openssl does. Off a
//! terminal (a service, a pipe) it does not wait for input that will never come: it answers
//! [`PromptError::Unavailable`] with the caller's `fix`, and the key loader ends its message with
//! it (`KEY: the key is encrypted and no passphrase was given: FIX`).

use std::io::IsTerminal;
use std::path::Path;

use ocsp_signer::{PromptError, Secret};

/// Ask for the passphrase of `key` on the terminal; off a terminal, say `fix` instead.
pub fn prompt(key: &Path, fix: &str) -> Result<Secret, PromptError> {
    if !std::io::stdin().is_terminal() {
        return Err(PromptError::Unavailable { fix: fix.into() });
    }
    rpassword::prompt_password(format!("Enter pass phrase for {}: ", key.display()))
        .map(Secret::from)
        .map_err(PromptError::Failed)
}

/// [`prompt`] for keys named by flags (`serve`, `presign`): the fix is `--passin`.
pub fn prompt_passin(key: &Path) -> Result<Secret, PromptError> {
    prompt(key, ocsp_signer::PASSIN_FIX)
}
