//! Where a token's PIN comes from, first match wins:
//!
//! 1. `--passin` / the issuer's `passin` (or `[pkcs11] pin` when the issuer has none): any of
//!    `--passin`'s forms (`file:`, `env:`, `fd:`, `stdin`, `pass:`);
//! 2. the URI's `pin-source`: `file:PATH`, `env:VAR`, `fd:N`, or a bare absolute path
//!    (RFC 7512's `pin-source=/path`); `pass:` there counts as a PIN in the URI;
//! 3. the URI's `pin-value`, only with `[pkcs11] allow_pin_in_uri = true`;
//! 4. the prompt (a terminal: `Enter pass phrase for pkcs11:…`), called only when the token
//!    needs a login.
//!
//! A `pin-value` (or `pin-source=pass:…`) without `allow_pin_in_uri` is refused even when a
//! PIN comes from elsewhere: the secret is in the configuration, where it must not be. The
//! PIN travels as a [`Secret`]; no message shows it.

use std::path::Path;

use super::uri::Pkcs11Uri;
use crate::passin::{Passin, Secret};
use crate::{KeyErrorKind, Prompt};

/// The refusal of a PIN inside a URI.
pub const PIN_IN_URI: &str = "the URI holds the PIN (pin-value=): a PIN in a URI ends up in \
    shell histories, process lists and logs; use pin-source=file:PATH or --passin \
    file:PATH|env:VAR|fd:N instead, or set [pkcs11] allow_pin_in_uri = true";

/// Refuse a PIN inside the URI unless allowed.
pub fn check_uri(uri: &Pkcs11Uri, allow_pin_in_uri: bool) -> Result<(), KeyErrorKind> {
    let inline = uri.pin_value.is_some()
        || uri
            .pin_source
            .as_deref()
            .is_some_and(|s| s.starts_with("pass:"));
    if inline && !allow_pin_in_uri {
        return Err(KeyErrorKind::Pkcs11(PIN_IN_URI.into()));
    }
    Ok(())
}

/// The PIN, from the first source that gives one (see the module documentation); `None`
/// when none is configured and `prompt` says there is nobody to ask.
pub fn read(
    uri: &Pkcs11Uri,
    passin: Option<&Passin>,
    name: &Path,
    prompt: Prompt<'_>,
) -> Result<Option<Secret>, KeyErrorKind> {
    if let Some(p) = passin {
        return p.read().map(Some).map_err(KeyErrorKind::Passin);
    }
    if let Some(src) = &uri.pin_source {
        let spec = if src.starts_with('/') {
            format!("file:{src}")
        } else {
            src.clone()
        };
        return Passin::new(spec)
            .read()
            .map(Some)
            .map_err(|e| KeyErrorKind::Pkcs11(format!("pin-source in the URI: {}", e.reason)));
    }
    if let Some(v) = &uri.pin_value {
        return Ok(Some(Secret::new(v.as_bytes().to_vec())));
    }
    match prompt(name) {
        Ok(pin) => Ok(Some(pin)),
        Err(crate::PromptError::Unavailable { .. }) => Ok(None),
        Err(e) => Err(KeyErrorKind::from(e)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_pin_in_the_uri_needs_permission() {
        let u = Pkcs11Uri::parse("pkcs11:object=k?pin-value=1234").unwrap();
        let e = check_uri(&u, false).unwrap_err().to_string();
        assert!(e.contains("allow_pin_in_uri") && !e.contains("1234"), "{e}");
        assert!(check_uri(&u, true).is_ok());
        let u = Pkcs11Uri::parse("pkcs11:object=k?pin-source=pass:1234").unwrap();
        assert!(check_uri(&u, false).is_err());
        let u = Pkcs11Uri::parse("pkcs11:object=k?pin-source=file:/run/pin").unwrap();
        assert!(check_uri(&u, false).is_ok());
    }

    #[test]
    fn passin_first_then_pin_source() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pin");
        std::fs::write(&f, "9999\n").unwrap();
        let u = Pkcs11Uri::parse(&format!("pkcs11:object=k?pin-source={}", f.display())).unwrap();
        let mut never = |_: &Path| -> Result<Secret, crate::PromptError> { panic!("asked") };
        let pin = read(&u, None, Path::new("k"), &mut never).unwrap().unwrap();
        assert_eq!(pin.expose(), b"9999");
        let p = Passin::new("pass:1111");
        let pin = read(&u, Some(&p), Path::new("k"), &mut never)
            .unwrap()
            .unwrap();
        assert_eq!(pin.expose(), b"1111");
    }
}
