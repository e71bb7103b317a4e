//! Asking for a key's passphrase on the terminal, the one prompt every subcommand uses
//! when a key is encrypted and no `passin` names where its passphrase is.

use std::io::IsTerminal;
use std::path::Path;

/// Ask for the passphrase of the key at `path` on the terminal. Without a terminal,
/// fail with the file and the fix: `hint` says how to name the passphrase's source in
/// the caller's terms (`--passin …` for flags, `passin = …` for a configuration).
pub fn prompt(path: &Path, hint: &str) -> Result<Vec<u8>, String> {
    if !std::io::stdin().is_terminal() {
        return Err(format!(
            "{}: the key is encrypted and no passphrase was given: {hint}",
            path.display()
        ));
    }
    rpassword::prompt_password(format!("Enter pass phrase for {}: ", path.display()))
        .map(String::into_bytes)
        .map_err(|e| format!("{}: cannot read the passphrase: {e}", path.display()))
}

/// The hint for keys named by flags or by a configuration's `[[issuer]]` table.
pub const PASSIN_HINT: &str = "add --passin pass:…|env:VAR|file:PATH|fd:N|stdin (or passin = \"file:PATH\" in its [[issuer]] table), or run on a terminal to be asked";

/// [`prompt`] with [`PASSIN_HINT`].
pub fn prompt_passin(path: &Path) -> Result<Vec<u8>, String> {
    prompt(path, PASSIN_HINT)
}
