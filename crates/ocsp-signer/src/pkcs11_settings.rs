//! `[pkcs11]`: how keys in PKCS#11 tokens are reached, for every key given as a `pkcs11:`
//! URI. Compiled with or without the `pkcs11` feature, so that a configuration reads the same
//! either way (a build without it refuses the URI when the key is loaded, saying so).

use std::path::PathBuf;
use std::time::Duration;

use crate::passin::Passin;

/// What to do when the token's faults survive a new session and a new login.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Reinit {
    /// `C_Finalize` and `C_Initialize` the module again (some modules only notice a token
    /// that came back this way).
    #[default]
    Finalize,
    /// Never finalize (for modules that crash on `C_Finalize`): new sessions only.
    Never,
}

/// The settings of `[pkcs11]` (and `--pkcs11-module`), shared by every PKCS#11 key.
///
/// `Debug` shows the PIN source redacted, as [`Passin`] does.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pkcs11Settings {
    /// The module (`--pkcs11-module`, `[pkcs11] module`), unless the URI's `module-path`
    /// names one.
    pub module: Option<PathBuf>,
    /// Where the PIN is, when neither `--passin` nor the URI's `pin-source` says.
    pub pin: Option<Passin>,
    /// What the last rung of the recovery ladder does.
    pub reinit: Reinit,
    /// Accept `pin-value=` inside the URI (off: a PIN in a URI ends up in shell histories,
    /// process lists and logs).
    pub allow_pin_in_uri: bool,
    /// The most sessions opened on the token; `None`: the token's own limit.
    pub max_sessions: Option<usize>,
    /// A call into the module that has not returned after this long marks the signer
    /// unhealthy (other signing threads stop calling into the token until it returns).
    pub call_timeout: Duration,
    /// While the token is unavailable, how often a signature request tries it again.
    pub retry_interval: Duration,
    /// How long a signing thread waits for a free session when all are in use.
    pub session_wait: Duration,
}

/// Default of [`Pkcs11Settings::call_timeout`].
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Default of [`Pkcs11Settings::retry_interval`].
pub const DEFAULT_RETRY_INTERVAL: Duration = Duration::from_secs(2);
/// Default of [`Pkcs11Settings::session_wait`].
pub const DEFAULT_SESSION_WAIT: Duration = Duration::from_secs(2);

impl Default for Pkcs11Settings {
    fn default() -> Self {
        Pkcs11Settings {
            module: None,
            pin: None,
            reinit: Reinit::Finalize,
            allow_pin_in_uri: false,
            max_sessions: None,
            call_timeout: DEFAULT_CALL_TIMEOUT,
            retry_interval: DEFAULT_RETRY_INTERVAL,
            session_wait: DEFAULT_SESSION_WAIT,
        }
    }
}
