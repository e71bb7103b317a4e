//! `[pkcs11]`: how keys given as `pkcs11:` URIs (`rkey = "pkcs11:token=…;object=…"`) are
//! reached. Every key: there is one table, not one per issuer (a process initialises a module
//! once, and keys in one token share its login).
//!
//! ```toml
//! [pkcs11]
//! module = "/usr/lib/softhsm/libsofthsm2.so"   # --pkcs11-module; a URI's module-path wins
//! pin = "file:/run/credentials/ocsp.service/pin" # when the issuer has no passin
//! reinit = "finalize"          # or "never" for modules that crash in C_Finalize
//! allow_pin_in_uri = false     # pin-value= in a URI is refused unless true
//! max_sessions = 8             # default: the token's limit
//! call_timeout_secs = 10       # a call running longer marks the signer unhealthy
//! retry_ms = 2000              # while not ready, one signature tries the token this often
//! session_wait_ms = 2000       # a signing thread waits this long for a free session
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use ocsp_signer::{Passin, Pkcs11Settings, Reinit};
use serde::Deserialize;

/// `[pkcs11]`. `Debug` redacts an inline PIN (`pin = "pass:…"`).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Pkcs11Config {
    /// The module's file.
    pub module: Option<PathBuf>,
    /// Where the PIN is (`--passin`'s forms), for issuers without `passin`.
    pub pin: Option<String>,
    /// `finalize` (default) or `never`.
    pub reinit: ReinitConfig,
    /// Accept `pin-value=` in URIs.
    pub allow_pin_in_uri: bool,
    /// The most sessions per key; default: the token's limit.
    pub max_sessions: Option<usize>,
    /// Seconds a call into the module may run before the signer counts as unhealthy.
    pub call_timeout_secs: u64,
    /// Milliseconds between tries of a token that is not ready.
    pub retry_ms: u64,
    /// Milliseconds a signing thread waits for a free session.
    pub session_wait_ms: u64,
}

/// `reinit`: what the last rung of the recovery ladder does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReinitConfig {
    /// `C_Finalize` + `C_Initialize`.
    #[default]
    Finalize,
    /// New sessions only.
    Never,
}

impl Default for Pkcs11Config {
    fn default() -> Self {
        let d = Pkcs11Settings::default();
        Pkcs11Config {
            module: None,
            pin: None,
            reinit: ReinitConfig::Finalize,
            allow_pin_in_uri: false,
            max_sessions: None,
            call_timeout_secs: d.call_timeout.as_secs(),
            retry_ms: u64::try_from(d.retry_interval.as_millis()).unwrap_or(2000),
            session_wait_ms: u64::try_from(d.session_wait.as_millis()).unwrap_or(2000),
        }
    }
}

impl std::fmt::Debug for Pkcs11Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Config")
            .field("module", &self.module)
            .field("pin", &self.pin.as_deref().map(ocsp_signer::passin::redact))
            .field("reinit", &self.reinit)
            .field("allow_pin_in_uri", &self.allow_pin_in_uri)
            .field("max_sessions", &self.max_sessions)
            .field("call_timeout_secs", &self.call_timeout_secs)
            .field("retry_ms", &self.retry_ms)
            .field("session_wait_ms", &self.session_wait_ms)
            .finish()
    }
}

impl Pkcs11Config {
    /// What the signer takes.
    pub fn settings(&self) -> Pkcs11Settings {
        Pkcs11Settings {
            module: self.module.clone(),
            pin: self.pin.clone().map(Passin::new),
            reinit: match self.reinit {
                ReinitConfig::Finalize => Reinit::Finalize,
                ReinitConfig::Never => Reinit::Never,
            },
            allow_pin_in_uri: self.allow_pin_in_uri,
            max_sessions: self.max_sessions,
            call_timeout: Duration::from_secs(self.call_timeout_secs.max(1)),
            retry_interval: Duration::from_millis(self.retry_ms.max(10)),
            session_wait: Duration::from_millis(self.session_wait_ms),
        }
    }

    /// Relative `module` and `pin = "file:…"` paths taken from `base`.
    pub(crate) fn resolve_paths(&mut self, base: &Path) {
        if let Some(m) = self.module.as_mut() {
            if m.is_relative() && m.components().count() > 1 {
                *m = base.join(&*m);
            }
        }
        if let Some(spec) = self.pin.as_mut() {
            if let Some(rest) = spec.strip_prefix("file:") {
                let p = Path::new(rest);
                if p.is_relative() {
                    *spec = format!("file:{}", base.join(p).display());
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_table_and_hides_the_pin() {
        let c: Pkcs11Config = toml::from_str(
            "module = \"/m.so\"\npin = \"pass:1234\"\nreinit = \"never\"\nmax_sessions = 4\n",
        )
        .unwrap();
        let s = c.settings();
        assert_eq!(s.reinit, Reinit::Never);
        assert_eq!(s.max_sessions, Some(4));
        assert!(!format!("{c:?}").contains("1234"));
        assert!(toml::from_str::<Pkcs11Config>("reinit = \"sometimes\"").is_err());
        assert!(toml::from_str::<Pkcs11Config>("modul = \"x\"").is_err());
    }
}
