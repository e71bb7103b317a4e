//! The responder's parts wired in-process, for tests that drive the library directly
//! (the edge tables, the never-good properties, readiness, benches).
//!
//! - [`ca(cn, alg)`](ca) / [`ca_with_key`]: a self-signed CA made with rcgen (valid until
//!   2099), and its key.
//! - [`issuer`]: an [`Issuer`] whose CA signs its own answers (responderID by key), with
//!   the given signer and status source.

use ocsp_proto::response::ResponderIdKind;
use ocsp_proto::signer::Signer;
use ocsp_proto::{IssuerIdentity, Timestamp};
use ocsp_responder::issuer::{Issuer, Responder, ResponderSlot, UnknownSerial};
use ocsp_status::StatusSource;
use std::sync::Arc;
use x509_cert::der::Decode;
use x509_cert::Certificate;

/// A self-signed CA `CN=cn` with a new key of `alg`.
pub fn ca(cn: &str, alg: &'static rcgen::SignatureAlgorithm) -> (Certificate, rcgen::KeyPair) {
    let kp = rcgen::KeyPair::generate_for(alg)
        .unwrap_or_else(|e| panic!("cannot generate a {alg:?} key: {e}"));
    (ca_with_key(cn, &kp), kp)
}

/// A self-signed CA `CN=cn` with the key `kp` (valid until 2099).
pub fn ca_with_key(cn: &str, kp: &rcgen::KeyPair) -> Certificate {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new())
        .unwrap_or_else(|e| panic!("rcgen parameters: {e}"));
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.not_after = rcgen::date_time_ymd(2099, 1, 1);
    let cert = params
        .self_signed(kp)
        .unwrap_or_else(|e| panic!("rcgen cannot sign {cn}: {e}"));
    Certificate::from_der(cert.der()).unwrap_or_else(|e| panic!("rcgen made bad DER: {e}"))
}

/// An issuer `name` for `ca`, signing its own answers with `signer`, statuses from
/// `status`, answers valid `validity_secs`, absent serials answered per `unknown_serial`.
pub fn issuer(
    name: &str,
    ca: &Certificate,
    signer: Arc<dyn Signer>,
    status: Arc<dyn StatusSource>,
    validity_secs: u64,
    unknown_serial: UnknownSerial,
) -> Issuer {
    let responder = Arc::new(Responder {
        signer,
        cert: ca.clone(),
        responder_id: ResponderIdKind::by_key(ca)
            .unwrap_or_else(|e| panic!("no key hash for {name}: {e}")),
        certs: Vec::new(),
        not_after: Timestamp::from_x509(&ca.tbs_certificate.validity.not_after),
        delegated: false,
    });
    Issuer {
        name: name.into(),
        identity: IssuerIdentity::of(ca).unwrap_or_else(|e| panic!("no identity for {name}: {e}")),
        cert: ca.clone(),
        responder: ResponderSlot::new(responder),
        status,
        validity_secs,
        unknown_serial,
    }
}
