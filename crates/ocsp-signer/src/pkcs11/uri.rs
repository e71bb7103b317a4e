//! PKCS#11 URIs (RFC 7512), the syntax `--rkey pkcs11:…` takes, as OpenSSL's pkcs11 provider
//! and step-kms-plugin do:
//!
//! ```text
//! pkcs11:token=ocsp;object=resp-ec;id=%01?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin
//! ```
//!
//! - Path attributes, separated by `;`: `token`, `manufacturer`, `serial`, `model`,
//!   `library-manufacturer`, `library-version`, `library-description`, `slot-description`,
//!   `slot-manufacturer`, `slot-id`, `object`, `id`, `type`. Query attributes, separated by
//!   `&`: `pin-source`, `pin-value`, `module-name`, `module-path`.
//! - Values are percent-decoded (`%2F`, `%3B`, …); a `%` not followed by two hex digits is an
//!   error, as is a value that is not UTF-8 (except `id`, which is octets).
//! - An attribute given twice, an unknown attribute (vendor `x-…` ones included: we would not
//!   understand them, RFC 7512 §2.3) and an unknown `type` are errors: a URI that could be read
//!   two ways is refused rather than guessed at.
//! - `Display` shows the URI with `pin-value` replaced by `<redacted>`; nothing else in it is
//!   secret.
//!
//! Hand-written (about a hundred lines): the crates that parse these depend on an
//! unmaintained binding or return still-encoded values.

use std::fmt;

/// A parsed PKCS#11 URI. Every field is `None` when the URI does not say.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Pkcs11Uri {
    /// `token`: the token's label.
    pub token: Option<String>,
    /// `manufacturer`: the token's manufacturer.
    pub manufacturer: Option<String>,
    /// `serial`: the token's serial number.
    pub serial: Option<String>,
    /// `model`: the token's model.
    pub model: Option<String>,
    /// `library-manufacturer`.
    pub library_manufacturer: Option<String>,
    /// `library-version` (`M` or `M.N`).
    pub library_version: Option<String>,
    /// `library-description`.
    pub library_description: Option<String>,
    /// `slot-description`.
    pub slot_description: Option<String>,
    /// `slot-manufacturer`.
    pub slot_manufacturer: Option<String>,
    /// `slot-id`: a decimal slot number.
    pub slot_id: Option<u64>,
    /// `object`: the key's label (CKA_LABEL).
    pub object: Option<String>,
    /// `id`: the key's CKA_ID, octets.
    pub id: Option<Vec<u8>>,
    /// `type`: `private`, `public`, `cert`, `secret-key` or `data`.
    pub object_type: Option<String>,
    /// `pin-source`: where the PIN is (`file:PATH`, or a path; `env:`, `fd:` as `--passin`).
    pub pin_source: Option<String>,
    /// `pin-value`: the PIN itself (refused unless allowed; see the module of `pkcs11`).
    pub pin_value: Option<String>,
    /// `module-name`: a module's name, looked up in the usual library directories.
    pub module_name: Option<String>,
    /// `module-path`: the module's file.
    pub module_path: Option<String>,
}

/// Why a PKCS#11 URI was refused; `Display` says what and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UriError(pub String);

impl fmt::Display for UriError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a valid PKCS#11 URI (RFC 7512): {}", self.0)
    }
}

impl std::error::Error for UriError {}

/// The scheme prefix, matched case-insensitively ([`crate::is_pkcs11_uri`]).
pub const SCHEME: &str = "pkcs11:";

impl Pkcs11Uri {
    /// Parse `s` (see the module documentation).
    pub fn parse(s: &str) -> Result<Pkcs11Uri, UriError> {
        if !crate::is_pkcs11_uri(s) {
            return Err(UriError("it does not start with `pkcs11:`".into()));
        }
        let rest = &s[SCHEME.len()..];
        if rest.contains('#') {
            return Err(UriError("a fragment (`#…`) is not allowed".into()));
        }
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (rest, None),
        };
        let mut uri = Pkcs11Uri::default();
        for attr in path.split(';').filter(|a| !a.is_empty()) {
            uri.path_attr(attr)?;
        }
        for attr in query.into_iter().flat_map(|q| q.split('&')) {
            if !attr.is_empty() {
                uri.query_attr(attr)?;
            }
        }
        Ok(uri)
    }

    fn path_attr(&mut self, attr: &str) -> Result<(), UriError> {
        let (name, raw) = attr
            .split_once('=')
            .ok_or_else(|| UriError(format!("`{attr}` is not NAME=VALUE")))?;
        if name == "id" {
            return set(&mut self.id, name, decode(name, raw)?);
        }
        let value = text(name, raw)?;
        let slot = match name {
            "token" => &mut self.token,
            "manufacturer" => &mut self.manufacturer,
            "serial" => &mut self.serial,
            "model" => &mut self.model,
            "library-manufacturer" => &mut self.library_manufacturer,
            "library-version" => &mut self.library_version,
            "library-description" => &mut self.library_description,
            "slot-description" => &mut self.slot_description,
            "slot-manufacturer" => &mut self.slot_manufacturer,
            "object" => &mut self.object,
            "type" => {
                if !matches!(
                    value.as_str(),
                    "private" | "public" | "cert" | "secret-key" | "data"
                ) {
                    return Err(UriError(format!(
                        "type={value}: use private, public, cert, secret-key or data"
                    )));
                }
                &mut self.object_type
            }
            "slot-id" => {
                let n = value
                    .parse::<u64>()
                    .map_err(|_| UriError(format!("slot-id={value}: not a decimal number")))?;
                return set(&mut self.slot_id, name, n);
            }
            _ => return Err(unknown(name, "path")),
        };
        set(slot, name, value)
    }

    fn query_attr(&mut self, attr: &str) -> Result<(), UriError> {
        let (name, raw) = attr
            .split_once('=')
            .ok_or_else(|| UriError(format!("`{}` is not NAME=VALUE", redact_attr(attr))))?;
        let value = text(name, raw)?;
        let slot = match name {
            "pin-source" => &mut self.pin_source,
            "pin-value" => &mut self.pin_value,
            "module-name" => &mut self.module_name,
            "module-path" => &mut self.module_path,
            _ => return Err(unknown(name, "query")),
        };
        set(slot, name, value)
    }
}

fn unknown(name: &str, part: &str) -> UriError {
    UriError(format!(
        "unknown {part} attribute `{name}` (path: token, manufacturer, serial, model, \
         library-*, slot-*, object, id, type; query: pin-source, pin-value, module-name, \
         module-path)"
    ))
}

fn set<T>(slot: &mut Option<T>, name: &str, value: T) -> Result<(), UriError> {
    if slot.is_some() {
        return Err(UriError(format!("`{name}` is given twice")));
    }
    *slot = Some(value);
    Ok(())
}

fn redact_attr(attr: &str) -> &str {
    if attr.starts_with("pin-value") {
        "pin-value=<redacted>"
    } else {
        attr
    }
}

/// Percent-decode `raw`, refusing a `%` that does not start an escape.
fn decode(name: &str, raw: &str) -> Result<Vec<u8>, UriError> {
    let b = raw.as_bytes();
    for (i, _) in raw.match_indices('%') {
        let ok = b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
        if !ok {
            let shown = if name == "pin-value" {
                "<redacted>"
            } else {
                raw
            };
            return Err(UriError(format!(
                "{name}={shown}: `%` must be followed by two hex digits (write `%25` for `%`)"
            )));
        }
    }
    Ok(percent_encoding::percent_decode(b).collect())
}

fn text(name: &str, raw: &str) -> Result<String, UriError> {
    String::from_utf8(decode(name, raw)?)
        .map_err(|_| UriError(format!("{name}: the decoded value is not UTF-8")))
}

/// Octets that stay as they are in an attribute value; everything else is `%XX`.
const VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b':')
    .remove(b'/')
    .remove(b'@')
    .remove(b'!')
    .remove(b'$')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',');

/// `s` percent-encoded for an attribute value.
pub fn encode(s: &[u8]) -> String {
    percent_encoding::percent_encode(s, VALUE).to_string()
}

impl fmt::Display for Pkcs11Uri {
    /// The URI in canonical order, `pin-value` redacted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut path: Vec<String> = Vec::new();
        let mut push = |name: &str, v: &Option<String>| {
            if let Some(v) = v {
                path.push(format!("{name}={}", encode(v.as_bytes())));
            }
        };
        push("token", &self.token);
        push("manufacturer", &self.manufacturer);
        push("serial", &self.serial);
        push("model", &self.model);
        push("library-manufacturer", &self.library_manufacturer);
        push("library-version", &self.library_version);
        push("library-description", &self.library_description);
        push("slot-description", &self.slot_description);
        push("slot-manufacturer", &self.slot_manufacturer);
        push("object", &self.object);
        push("type", &self.object_type);
        if let Some(n) = self.slot_id {
            path.push(format!("slot-id={n}"));
        }
        if let Some(id) = &self.id {
            path.push(format!(
                "id={}",
                id.iter().map(|b| format!("%{b:02X}")).collect::<String>()
            ));
        }
        let mut query: Vec<String> = Vec::new();
        if let Some(v) = &self.pin_source {
            query.push(format!("pin-source={}", encode(v.as_bytes())));
        }
        if self.pin_value.is_some() {
            query.push("pin-value=<redacted>".into());
        }
        if let Some(v) = &self.module_name {
            query.push(format!("module-name={}", encode(v.as_bytes())));
        }
        if let Some(v) = &self.module_path {
            query.push(format!("module-path={}", encode(v.as_bytes())));
        }
        write!(f, "pkcs11:{}", path.join(";"))?;
        if !query.is_empty() {
            write!(f, "?{}", query.join("&"))?;
        }
        Ok(())
    }
}

impl fmt::Debug for Pkcs11Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pkcs11Uri({self})")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_the_usual_forms() {
        let u = Pkcs11Uri::parse(
            "pkcs11:token=My%20Token;object=resp-ec;id=%01%ff;type=private;slot-id=3\
             ?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin",
        )
        .unwrap();
        assert_eq!(u.token.as_deref(), Some("My Token"));
        assert_eq!(u.object.as_deref(), Some("resp-ec"));
        assert_eq!(u.id.as_deref(), Some(&[1u8, 0xff][..]));
        assert_eq!(u.object_type.as_deref(), Some("private"));
        assert_eq!(u.slot_id, Some(3));
        assert_eq!(
            u.module_path.as_deref(),
            Some("/usr/lib/softhsm/libsofthsm2.so")
        );
        assert_eq!(u.pin_source.as_deref(), Some("file:/run/pin"));
        assert_eq!(Pkcs11Uri::parse("PKCS11:").unwrap(), Pkcs11Uri::default());
    }

    #[test]
    fn refuses_what_could_be_read_two_ways() {
        for (bad, says) in [
            ("pkcs11:token=a;token=b", "given twice"),
            ("pkcs11:object=%zz", "two hex digits"),
            ("pkcs11:object=%4", "two hex digits"),
            ("pkcs11:x-vendor=1", "unknown path attribute"),
            ("pkcs11:?foo=1", "unknown query attribute"),
            ("pkcs11:type=key", "type=key"),
            ("pkcs11:slot-id=x", "not a decimal"),
            ("pkcs11:object", "NAME=VALUE"),
            ("pkcs11:object=%ff", "not UTF-8"),
            ("pkcs11:object=a#frag", "fragment"),
            ("file:/x", "does not start"),
        ] {
            let e = Pkcs11Uri::parse(bad).unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn the_pin_never_shows() {
        let u = Pkcs11Uri::parse("pkcs11:token=t?pin-value=1234").unwrap();
        assert_eq!(u.pin_value.as_deref(), Some("1234"));
        assert!(!u.to_string().contains("1234"));
        assert!(!format!("{u:?}").contains("1234"));
        let e = Pkcs11Uri::parse("pkcs11:?pin-value=12%3").unwrap_err();
        assert!(!e.to_string().contains("12%3"), "{e}");
        assert_eq!(
            crate::redact_key_name("pkcs11:token=t?pin-value=1234&module-path=/m"),
            "pkcs11:token=t?pin-value=<redacted>&module-path=/m"
        );
    }

    fn value() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(any::<String>())
    }

    proptest! {
        #[test]
        fn display_then_parse_is_the_identity(
            token in value(), object in value(), serial in value(),
            id in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..20)),
            slot in proptest::option::of(any::<u64>()),
            module in value(), source in value(),
        ) {
            let u = Pkcs11Uri {
                token, object, serial, id, slot_id: slot, module_path: module,
                pin_source: source, ..Pkcs11Uri::default()
            };
            prop_assert_eq!(Pkcs11Uri::parse(&u.to_string()).unwrap(), u);
        }

        #[test]
        fn never_panics(s in "pkcs11:[ -~]{0,80}") {
            let _ = Pkcs11Uri::parse(&s);
        }
    }
}
