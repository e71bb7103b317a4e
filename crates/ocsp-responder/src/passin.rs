//! Passphrase sources in openssl's `-passin` forms. (Being written: API contract only.)

/// A passphrase; its `Debug` never shows it.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Wrap octets.
    pub fn new(bytes: Vec<u8>) -> Secret {
        Secret(bytes)
    }
    /// The octets.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// A `--passin` argument that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("--passin {spec}: {reason}")]
pub struct PassinError {
    /// The argument, with any inline secret redacted (`pass:<redacted>`).
    pub spec: String,
    /// What went wrong and how to fix it.
    pub reason: String,
}

/// Read a passphrase given as `pass:TEXT`, `env:VAR`, `file:PATH`, `fd:N` or `stdin`.
pub fn read_passin(spec: &str) -> Result<Secret, PassinError> {
    let _ = spec;
    todo!("passin")
}
