//! Finding things in a module: the token's slot by the URI's token and slot attributes, and
//! the signing key by its label (`object`) and `id`.
//!
//! - The slot: every slot with a token whose label, manufacturer, serial, model, slot id,
//!   slot description and slot manufacturer match those the URI gives (the module's padding
//!   trimmed). None → an error listing the tokens there are; several → an error asking for
//!   `token=` or `serial=`.
//! - The key: a private key (`CKO_PRIVATE_KEY`) with the URI's `object` as CKA_LABEL and
//!   `id` as CKA_ID, whichever are given (at least one must be). None → an error naming
//!   both; several → an error asking for `id=`. Found again in every new session: object
//!   handles may be per session on some modules.
//! - Its public half, for the SubjectPublicKeyInfo: the public key object with the same
//!   CKA_ID (else the same label), else a certificate object with that CKA_ID, else the
//!   private key's own CKA_PUBLIC_KEY_INFO; an RSA private key carries its modulus and
//!   exponent itself.

use cryptoki::context::Pkcs11;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use cryptoki::slot::Slot;

use super::fault::describe;
use super::public_key::KeyKind;
use super::uri::Pkcs11Uri;

/// The slot of the token the URI names.
pub fn find_slot(ctx: &Pkcs11, uri: &Pkcs11Uri) -> Result<Slot, cryptoki::error::Error> {
    find_slot_described(ctx, uri).map_err(|e| match e {
        SlotError::Token(e) => e,
        SlotError::Choice(_) => cryptoki::error::Error::Pkcs11(
            cryptoki::error::RvError::TokenNotPresent,
            cryptoki::context::Function::GetSlotList,
        ),
    })
}

/// Why no single slot was found.
pub enum SlotError {
    /// The module failed.
    Token(cryptoki::error::Error),
    /// No token, or several, match: what to do.
    Choice(String),
}

impl SlotError {
    /// A message for the operator.
    pub fn message(&self) -> String {
        match self {
            SlotError::Token(e) => format!("listing the tokens: {}", describe(e)),
            SlotError::Choice(m) => m.clone(),
        }
    }
}

/// As [`find_slot`], with a message that lists what there is when nothing or too much
/// matches.
pub fn find_slot_described(ctx: &Pkcs11, uri: &Pkcs11Uri) -> Result<Slot, SlotError> {
    let slots = ctx.get_slots_with_token().map_err(SlotError::Token)?;
    let mut seen = Vec::new();
    let mut found = Vec::new();
    for slot in slots {
        let Ok(info) = ctx.get_token_info(slot) else {
            continue;
        };
        let label = info.label().trim_end().to_string();
        seen.push(format!(
            "`{label}` (serial {})",
            info.serial_number().trim_end()
        ));
        let eq = |want: &Option<String>, have: &str| {
            want.as_deref()
                .is_none_or(|w| w.trim_end() == have.trim_end())
        };
        let mut ok = eq(&uri.token, info.label())
            && eq(&uri.manufacturer, info.manufacturer_id())
            && eq(&uri.serial, info.serial_number())
            && eq(&uri.model, info.model())
            && uri.slot_id.is_none_or(|n| n == slot.id());
        if ok && (uri.slot_description.is_some() || uri.slot_manufacturer.is_some()) {
            ok = match ctx.get_slot_info(slot) {
                Ok(si) => {
                    eq(&uri.slot_description, si.slot_description())
                        && eq(&uri.slot_manufacturer, si.manufacturer_id())
                }
                Err(_) => false,
            };
        }
        if ok {
            found.push(slot);
        }
    }
    match found.as_slice() {
        [one] => Ok(*one),
        [] if seen.is_empty() => Err(SlotError::Choice(
            "the module has no token (is it initialised? for SoftHSM2: softhsm2-util \
             --init-token --free --label LABEL, and check SOFTHSM2_CONF)"
                .into(),
        )),
        [] => Err(SlotError::Choice(format!(
            "no token matches the URI; the module has {}: fix token=/serial= in the URI",
            seen.join(", ")
        ))),
        _ => Err(SlotError::Choice(format!(
            "{} tokens match the URI ({}): add token= or serial= to tell them apart",
            found.len(),
            seen.join(", ")
        ))),
    }
}

fn key_template(uri: &Pkcs11Uri, class: ObjectClass) -> Vec<Attribute> {
    let mut t = vec![Attribute::Class(class)];
    if let Some(l) = &uri.object {
        t.push(Attribute::Label(l.as_bytes().to_vec()));
    }
    if let Some(id) = &uri.id {
        t.push(Attribute::Id(id.clone()));
    }
    t
}

/// What is wrong when the key cannot be found.
pub enum KeyLookup {
    /// The module failed.
    Token(cryptoki::error::Error),
    /// Nothing or too much matched.
    Choice(String),
}

/// The handle of the URI's private key in `session`.
pub fn find_key(session: &Session, uri: &Pkcs11Uri) -> Result<ObjectHandle, KeyLookup> {
    if uri.object.is_none() && uri.id.is_none() {
        return Err(KeyLookup::Choice(
            "the URI names no key: add object=LABEL and/or id=%XX".into(),
        ));
    }
    if let Some(t) = &uri.object_type {
        if t != "private" {
            return Err(KeyLookup::Choice(format!(
                "type={t}: the signing key is a private key (type=private, or leave type out)"
            )));
        }
    }
    let found = session
        .find_objects(&key_template(uri, ObjectClass::PRIVATE_KEY))
        .map_err(KeyLookup::Token)?;
    let what = || {
        let mut w = Vec::new();
        if let Some(l) = &uri.object {
            w.push(format!("object={l}"));
        }
        if let Some(id) = &uri.id {
            w.push(format!("id={}", hex::encode(id)));
        }
        w.join(" ")
    };
    match found.as_slice() {
        [one] => Ok(*one),
        [] => Err(KeyLookup::Choice(format!(
            "no private key with {} in the token (is the user logged in? list them with \
             `pkcs11-tool --module MODULE --login --list-objects --type privkey`)",
            what()
        ))),
        many => Err(KeyLookup::Choice(format!(
            "{} private keys match {}: add id= to the URI to pick one",
            many.len(),
            what()
        ))),
    }
}

/// What the signer needs to know about the key, read once at start.
#[derive(Debug)]
pub struct KeyFacts {
    /// Its type.
    pub kind: KeyKind,
    /// The DER SubjectPublicKeyInfo of its public half.
    pub spki_der: Vec<u8>,
}

/// Read the key's type and public half, and refuse what cannot sign here.
pub fn key_facts(session: &Session, key: ObjectHandle) -> Result<KeyFacts, String> {
    let attrs = session
        .get_attributes(
            key,
            &[
                AttributeType::KeyType,
                AttributeType::Sign,
                AttributeType::AlwaysAuthenticate,
                AttributeType::Id,
                AttributeType::Label,
                AttributeType::Modulus,
                AttributeType::PublicExponent,
                AttributeType::EcParams,
                AttributeType::PublicKeyInfo,
            ],
        )
        .map_err(|e| format!("reading the key's attributes: {}", describe(&e)))?;
    let mut key_type = None;
    let (mut id, mut label, mut modulus, mut exponent, mut params, mut pki) =
        (None, None, None, None, None, None);
    for a in attrs {
        match a {
            Attribute::KeyType(k) => key_type = Some(k),
            Attribute::Sign(false) => {
                return Err("the key may not sign (CKA_SIGN is false): use a signing key".into())
            }
            Attribute::AlwaysAuthenticate(true) => {
                return Err("the key has CKA_ALWAYS_AUTHENTICATE (a PIN before every \
                            signature, as PIV cards' signature keys): an OCSP responder signs \
                            unattended; use a key without it (on a PIV card, slot 9a or 9e, \
                            not 9c)"
                    .into())
            }
            Attribute::Id(v) if !v.is_empty() => id = Some(v),
            Attribute::Label(v) if !v.is_empty() => label = Some(v),
            Attribute::Modulus(v) => modulus = Some(v),
            Attribute::PublicExponent(v) => exponent = Some(v),
            Attribute::EcParams(v) => params = Some(v),
            Attribute::PublicKeyInfo(v) if !v.is_empty() => pki = Some(v),
            _ => {}
        }
    }
    match key_type {
        Some(KeyType::RSA) => {
            let (Some(n), Some(e)) = (modulus, exponent) else {
                return Err("the RSA key shows no modulus or public exponent".into());
            };
            let spki_der = super::public_key::rsa_spki(&n, &e)?;
            let bits = super::public_key::bits(&n);
            if !(crate::MIN_RSA_BITS..=crate::MAX_RSA_BITS).contains(&bits) {
                return Err(format!(
                    "RSA key of {bits} bits; {} to {} bits are accepted",
                    crate::MIN_RSA_BITS,
                    crate::MAX_RSA_BITS
                ));
            }
            Ok(KeyFacts {
                kind: KeyKind::Rsa(bits),
                spki_der,
            })
        }
        Some(KeyType::EC) | Some(KeyType::EC_EDWARDS) => {
            let edwards = key_type == Some(KeyType::EC_EDWARDS);
            let params = params.ok_or("the EC key shows no CKA_EC_PARAMS")?;
            let kind = super::public_key::curve(&params, edwards)?;
            let point = public_point(session, id.as_deref(), label.as_deref())?;
            let spki_der = match (point, pki, cert_spki(session, id.as_deref())) {
                (Some(p), _, _) => super::public_key::ec_spki(kind, &params, &p)?,
                (None, Some(pki), _) => pki,
                (None, None, Some(spki)) => spki,
                (None, None, None) => {
                    return Err(
                        "no public key for it in the token: import or keep the public \
                                key object (same id) or its certificate beside the private key"
                            .into(),
                    )
                }
            };
            Ok(KeyFacts { kind, spki_der })
        }
        Some(other) => Err(format!(
            "{other} keys are not supported; use RSA (2048 to 8192 bits), ECDSA P-256/P-384 \
             or Ed25519"
        )),
        None => Err("the key shows no CKA_KEY_TYPE".into()),
    }
}

/// CKA_EC_POINT of the public key object beside the private key (by id, else by label).
fn public_point(
    session: &Session,
    id: Option<&[u8]>,
    label: Option<&[u8]>,
) -> Result<Option<Vec<u8>>, String> {
    let mut templates = Vec::new();
    if let Some(id) = id {
        templates.push(vec![
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::Id(id.to_vec()),
        ]);
    }
    if let Some(l) = label {
        templates.push(vec![
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::Label(l.to_vec()),
        ]);
    }
    for t in templates {
        let found = session
            .find_objects(&t)
            .map_err(|e| format!("looking for the public key: {}", describe(&e)))?;
        if let [one] = found.as_slice() {
            let attrs = session
                .get_attributes(*one, &[AttributeType::EcPoint])
                .map_err(|e| format!("reading the public key: {}", describe(&e)))?;
            for a in attrs {
                if let Attribute::EcPoint(p) = a {
                    return Ok(Some(p));
                }
            }
        }
    }
    Ok(None)
}

/// The SubjectPublicKeyInfo of the certificate object with CKA_ID `id`, if there is one.
fn cert_spki(session: &Session, id: Option<&[u8]>) -> Option<Vec<u8>> {
    use der::{Decode, Encode};
    let id = id?;
    let found = session
        .find_objects(&[
            Attribute::Class(ObjectClass::CERTIFICATE),
            Attribute::Id(id.to_vec()),
        ])
        .ok()?;
    let one = *found.first()?;
    let attrs = session.get_attributes(one, &[AttributeType::Value]).ok()?;
    attrs.into_iter().find_map(|a| match a {
        Attribute::Value(der) => x509_cert::Certificate::from_der(&der)
            .ok()
            .and_then(|c| c.tbs_certificate.subject_public_key_info.to_der().ok()),
        _ => None,
    })
}
