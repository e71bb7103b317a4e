//! Readable forms of requests and responses, as openssl's `-req_text` / `-resp_text` print
//! them, and the same content as serialisable views for JSON.
//!
//! The views ([`RequestView`], [`ResponseView`]) are the stable structure: text is rendered
//! from them, and `serde` serialises them for `ocsp inspect --json`. Times are RFC 3339
//! (`2026-11-24T05:33:47Z`); hashes, serials, nonces and signatures are upper-case hex.
//!
//! Entry points: [`request_text`] / [`parsed_request_text`] / [`request_der_text`] for
//! requests and [`response_text`] / [`response_der_text`] for responses.

use crate::cert_id::{HashAlg, Serial};
use crate::request::ParsedRequest;
use crate::response::{ParseError, ParsedResponse};
use crate::sigalg;
use crate::status::CertStatus;
use crate::verify::{answer_status, responder_id_text};
use crate::Timestamp;
use const_oid::db::rfc5280::ID_KP_OCSP_SIGNING;
use const_oid::db::rfc6960::{
    ID_PKIX_OCSP_EXTENDED_REVOKE, ID_PKIX_OCSP_NOCHECK, ID_PKIX_OCSP_NONCE,
};
use const_oid::ObjectIdentifier;
use der::asn1::OctetString;
use der::Decode;
use serde::Serialize;
use std::fmt::Write as _;
use x509_cert::ext::pkix::ExtendedKeyUsage;
use x509_cert::ext::Extension;
use x509_cert::Certificate;
use x509_ocsp::{BasicOcspResponse, CertId, OcspRequest, OcspResponseStatus, ResponderId};

/// A CertID.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CertIdView {
    /// `sha1`, `sha256`, `sha384`, `sha512`, or the OID in dotted form.
    pub hash_algorithm: String,
    /// Hex.
    pub issuer_name_hash: String,
    /// Hex.
    pub issuer_key_hash: String,
    /// The serial in hex, without leading zero octets.
    pub serial: String,
}

impl CertIdView {
    /// The view of `id`.
    pub fn of(id: &CertId) -> CertIdView {
        CertIdView {
            hash_algorithm: hash_name(&id.hash_algorithm.oid),
            issuer_name_hash: hex::encode_upper(id.issuer_name_hash.as_bytes()),
            issuer_key_hash: hex::encode_upper(id.issuer_key_hash.as_bytes()),
            serial: Serial::of_cert_id(id).to_hex(),
        }
    }
}

/// An extension.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExtensionView {
    /// Dotted OID.
    pub oid: String,
    /// A readable name when known (`nonce`, `extendedRevoke`, ...).
    pub name: Option<String>,
    /// The critical flag.
    pub critical: bool,
    /// The extnValue contents, hex.
    pub value: String,
}

impl ExtensionView {
    fn of(e: &Extension) -> ExtensionView {
        ExtensionView {
            oid: e.extn_id.to_string(),
            name: extension_name(&e.extn_id).map(str::to_string),
            critical: e.critical,
            value: hex::encode_upper(e.extn_value.as_bytes()),
        }
    }
}

/// A request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RequestView {
    /// Always `request`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The version number as written (1 for v1).
    pub version: u8,
    /// requestorName, when present, as text.
    pub requestor_name: Option<String>,
    /// The requested CertIDs.
    pub cert_ids: Vec<CertIdView>,
    /// The nonce octets (inside the OCTET STRING), hex.
    pub nonce: Option<String>,
    /// All request extensions, the nonce included.
    pub extensions: Vec<ExtensionView>,
    /// Whether the request is signed (openssl `-signer`).
    pub signed: bool,
}

/// The view of a request.
pub fn request_view(req: &OcspRequest) -> RequestView {
    let tbs = &req.tbs_request;
    let exts = tbs.request_extensions.as_deref().unwrap_or(&[]);
    RequestView {
        kind: "request",
        version: tbs.version as u8 + 1,
        requestor_name: tbs.requestor_name.as_ref().map(|n| format!("{n:?}")),
        cert_ids: tbs
            .request_list
            .iter()
            .map(|r| CertIdView::of(&r.req_cert))
            .collect(),
        nonce: nonce_hex(exts),
        extensions: exts.iter().map(ExtensionView::of).collect(),
        signed: req.optional_signature.is_some(),
    }
}

/// The view of a request already parsed by [`crate::request::parse`] (which keeps only
/// the CertIDs and the nonce).
pub fn parsed_request_view(req: &ParsedRequest) -> RequestView {
    RequestView {
        kind: "request",
        version: 1,
        requestor_name: None,
        cert_ids: req
            .items
            .iter()
            .map(|i| CertIdView::of(&i.cert_id))
            .collect(),
        nonce: req.nonce.as_ref().map(hex::encode_upper),
        extensions: Vec::new(),
        signed: req.signed,
    }
}

/// One SingleResponse.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SingleView {
    /// The CertID answered.
    pub cert_id: CertIdView,
    /// `good`, `revoked` or `unknown`.
    pub status: &'static str,
    /// revocationTime, when revoked.
    pub revocation_time: Option<String>,
    /// revocationReason name (`keyCompromise`, ...), when given.
    pub revocation_reason: Option<String>,
    /// invalidityDate, when given.
    pub invalidity_date: Option<String>,
    /// thisUpdate.
    pub this_update: String,
    /// nextUpdate, when given.
    pub next_update: Option<String>,
    /// singleExtensions.
    pub extensions: Vec<ExtensionView>,
}

/// The ResponderID.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ResponderIdView {
    /// `by_name` or `by_key`.
    pub kind: &'static str,
    /// The name (RFC 4514) or the key hash (hex).
    pub value: String,
}

/// A certificate carried in a response, summarised.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CertView {
    /// Subject (RFC 4514).
    pub subject: String,
    /// Issuer (RFC 4514).
    pub issuer: String,
    /// Serial, hex.
    pub serial: String,
    /// notBefore.
    pub not_before: String,
    /// notAfter.
    pub not_after: String,
    /// Subject public key algorithm (`rsaEncryption`, `id-ecPublicKey`, `Ed25519` or OID).
    pub key_algorithm: String,
    /// Whether it carries id-kp-OCSPSigning.
    pub ocsp_signing: bool,
    /// Whether it carries id-pkix-ocsp-nocheck.
    pub ocsp_nocheck: bool,
}

impl CertView {
    /// The summary of `c`.
    pub fn of(c: &Certificate) -> CertView {
        let tbs = &c.tbs_certificate;
        let eku: Option<ExtendedKeyUsage> =
            tbs.get::<ExtendedKeyUsage>().ok().flatten().map(|(_, e)| e);
        CertView {
            subject: tbs.subject.to_string(),
            issuer: tbs.issuer.to_string(),
            serial: Serial::of_cert(c).to_hex(),
            not_before: Timestamp::from_x509(&tbs.validity.not_before).rfc3339(),
            not_after: Timestamp::from_x509(&tbs.validity.not_after).rfc3339(),
            key_algorithm: key_algorithm_name(&tbs.subject_public_key_info.algorithm.oid),
            ocsp_signing: eku.is_some_and(|e| e.0.contains(&ID_KP_OCSP_SIGNING)),
            ocsp_nocheck: tbs
                .extensions
                .iter()
                .flatten()
                .any(|e| e.extn_id == ID_PKIX_OCSP_NOCHECK),
        }
    }
}

/// A BasicOCSPResponse.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BasicView {
    /// The version number as written (1 for v1).
    pub version: u8,
    /// The ResponderID.
    pub responder_id: ResponderIdView,
    /// producedAt.
    pub produced_at: String,
    /// The answers, in response order.
    pub responses: Vec<SingleView>,
    /// The nonce octets, hex.
    pub nonce: Option<String>,
    /// All responseExtensions, the nonce included.
    pub extensions: Vec<ExtensionView>,
    /// The signature algorithm's name.
    pub signature_algorithm: String,
    /// The signature, hex.
    pub signature: String,
    /// The certificates carried.
    pub certs: Vec<CertView>,
}

/// A response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ResponseView {
    /// Always `response`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// responseStatus name (`successful`, `malformedRequest`, `internalError`, `tryLater`,
    /// `sigRequired`, `unauthorized`).
    pub response_status: &'static str,
    /// responseStatus number.
    pub response_status_code: u8,
    /// The BasicOCSPResponse of a successful response.
    pub basic: Option<BasicView>,
}

/// The name of a response status as RFC 6960 spells it.
pub fn status_name(s: OcspResponseStatus) -> &'static str {
    match s {
        OcspResponseStatus::Successful => "successful",
        OcspResponseStatus::MalformedRequest => "malformedRequest",
        OcspResponseStatus::InternalError => "internalError",
        OcspResponseStatus::TryLater => "tryLater",
        OcspResponseStatus::SigRequired => "sigRequired",
        OcspResponseStatus::Unauthorized => "unauthorized",
    }
}

/// The view of a BasicOCSPResponse.
pub fn basic_view(basic: &BasicOcspResponse) -> BasicView {
    let rd = &basic.tbs_response_data;
    let exts = rd.response_extensions.as_deref().unwrap_or(&[]);
    BasicView {
        version: rd.version as u8 + 1,
        responder_id: ResponderIdView {
            kind: match rd.responder_id {
                ResponderId::ByName(_) => "by_name",
                ResponderId::ByKey(_) => "by_key",
            },
            value: responder_id_text(&rd.responder_id),
        },
        produced_at: Timestamp::from_ocsp(&rd.produced_at).rfc3339(),
        responses: rd
            .responses
            .iter()
            .map(|s| {
                let status = answer_status(s);
                let (rt, rr, inv) = match &status {
                    CertStatus::Revoked(r) => (
                        Some(r.time.rfc3339()),
                        r.reason.map(|x| x.openssl_name().to_string()),
                        r.invalidity_date.map(|t| t.rfc3339()),
                    ),
                    _ => (None, None, None),
                };
                SingleView {
                    cert_id: CertIdView::of(&s.cert_id),
                    status: status.name(),
                    revocation_time: rt,
                    revocation_reason: rr,
                    invalidity_date: inv,
                    this_update: Timestamp::from_ocsp(&s.this_update).rfc3339(),
                    next_update: s
                        .next_update
                        .as_ref()
                        .map(|t| Timestamp::from_ocsp(t).rfc3339()),
                    extensions: s
                        .single_extensions
                        .iter()
                        .flatten()
                        .map(ExtensionView::of)
                        .collect(),
                }
            })
            .collect(),
        nonce: nonce_hex(exts),
        extensions: exts.iter().map(ExtensionView::of).collect(),
        signature_algorithm: sigalg::algorithm_name(&basic.signature_algorithm),
        signature: hex::encode_upper(basic.signature.raw_bytes()),
        certs: basic.certs.iter().flatten().map(CertView::of).collect(),
    }
}

/// The view of a parsed response.
pub fn response_view(resp: &ParsedResponse) -> ResponseView {
    match resp {
        ParsedResponse::Error(s) => ResponseView {
            kind: "response",
            response_status: status_name(*s),
            response_status_code: *s as u8,
            basic: None,
        },
        ParsedResponse::Basic { basic, .. } => ResponseView {
            kind: "response",
            response_status: "successful",
            response_status_code: 0,
            basic: Some(basic_view(basic)),
        },
    }
}

/// The text form of a request.
pub fn request_text(req: &OcspRequest) -> String {
    render_request(&request_view(req))
}

/// The text form of a request parsed by [`crate::request::parse`].
pub fn parsed_request_text(req: &ParsedRequest) -> String {
    render_request(&parsed_request_view(req))
}

/// The text form of a DER OCSPRequest.
pub fn request_der_text(der: &[u8]) -> Result<String, der::Error> {
    Ok(request_text(&OcspRequest::from_der(der)?))
}

/// The text form of a parsed response.
pub fn response_text(resp: &ParsedResponse) -> String {
    render_response(&response_view(resp))
}

/// The text form of a DER OCSPResponse.
pub fn response_der_text(der: &[u8]) -> Result<String, ParseError> {
    Ok(response_text(&crate::response::parse(der)?))
}

fn render_cert_id(out: &mut String, id: &CertIdView, indent: &str) {
    let _ = writeln!(out, "{indent}Certificate ID:");
    let _ = writeln!(out, "{indent}  Hash Algorithm: {}", id.hash_algorithm);
    let _ = writeln!(out, "{indent}  Issuer Name Hash: {}", id.issuer_name_hash);
    let _ = writeln!(out, "{indent}  Issuer Key Hash: {}", id.issuer_key_hash);
    let _ = writeln!(out, "{indent}  Serial Number: {}", id.serial);
}

fn render_extensions(out: &mut String, title: &str, exts: &[ExtensionView], indent: &str) {
    if exts.is_empty() {
        return;
    }
    let _ = writeln!(out, "{indent}{title}:");
    for e in exts {
        let name = e.name.clone().unwrap_or_else(|| e.oid.clone());
        let crit = if e.critical { " (critical)" } else { "" };
        let _ = writeln!(out, "{indent}    {name}{crit}:");
        let _ = writeln!(out, "{indent}        {}", e.value);
    }
}

/// Render a [`RequestView`] as text.
pub fn render_request(v: &RequestView) -> String {
    let mut out = String::new();
    out.push_str("OCSP Request Data:\n");
    let _ = writeln!(
        out,
        "    Version: {} (0x{:x})",
        v.version,
        v.version.saturating_sub(1)
    );
    if let Some(n) = &v.requestor_name {
        let _ = writeln!(out, "    Requestor Name: {n}");
    }
    out.push_str("    Requestor List:\n");
    for id in &v.cert_ids {
        render_cert_id(&mut out, id, "        ");
    }
    if let Some(n) = &v.nonce {
        let _ = writeln!(out, "    Nonce: {n}");
    }
    render_extensions(&mut out, "Request Extensions", &v.extensions, "    ");
    if v.signed {
        out.push_str("    Signed: yes (the signature is not verified)\n");
    }
    out
}

/// Render a [`ResponseView`] as text.
pub fn render_response(v: &ResponseView) -> String {
    let mut out = String::new();
    out.push_str("OCSP Response Data:\n");
    let _ = writeln!(
        out,
        "    OCSP Response Status: {} (0x{:x})",
        v.response_status, v.response_status_code
    );
    let Some(b) = &v.basic else {
        return out;
    };
    out.push_str("    Response Type: Basic OCSP Response\n");
    let _ = writeln!(
        out,
        "    Version: {} (0x{:x})",
        b.version,
        b.version.saturating_sub(1)
    );
    let kind = if b.responder_id.kind == "by_key" {
        "byKey"
    } else {
        "byName"
    };
    let _ = writeln!(out, "    Responder Id: {} ({kind})", b.responder_id.value);
    let _ = writeln!(out, "    Produced At: {}", b.produced_at);
    out.push_str("    Responses:\n");
    for s in &b.responses {
        render_cert_id(&mut out, &s.cert_id, "    ");
        let _ = writeln!(out, "    Cert Status: {}", s.status);
        if let Some(t) = &s.revocation_time {
            let _ = writeln!(out, "    Revocation Time: {t}");
        }
        if let Some(r) = &s.revocation_reason {
            let _ = writeln!(out, "    Revocation Reason: {r}");
        }
        if let Some(t) = &s.invalidity_date {
            let _ = writeln!(out, "    Invalidity Date: {t}");
        }
        let _ = writeln!(out, "    This Update: {}", s.this_update);
        if let Some(t) = &s.next_update {
            let _ = writeln!(out, "    Next Update: {t}");
        }
        render_extensions(&mut out, "Single Extensions", &s.extensions, "    ");
        out.push('\n');
    }
    if let Some(n) = &b.nonce {
        let _ = writeln!(out, "    Nonce: {n}");
    }
    render_extensions(&mut out, "Response Extensions", &b.extensions, "    ");
    let _ = writeln!(out, "    Signature Algorithm: {}", b.signature_algorithm);
    out.push_str("    Signature Value:\n");
    for chunk in b.signature.as_bytes().chunks(64) {
        let _ = writeln!(out, "        {}", String::from_utf8_lossy(chunk));
    }
    for c in &b.certs {
        out.push_str("    Certificate:\n");
        let _ = writeln!(out, "        Subject: {}", c.subject);
        let _ = writeln!(out, "        Issuer: {}", c.issuer);
        let _ = writeln!(out, "        Serial Number: {}", c.serial);
        let _ = writeln!(out, "        Not Before: {}", c.not_before);
        let _ = writeln!(out, "        Not After: {}", c.not_after);
        let _ = writeln!(out, "        Public Key Algorithm: {}", c.key_algorithm);
        let _ = writeln!(
            out,
            "        OCSP Signing: {}, OCSP No Check: {}",
            if c.ocsp_signing { "yes" } else { "no" },
            if c.ocsp_nocheck { "yes" } else { "no" }
        );
    }
    out
}

fn nonce_hex(exts: &[Extension]) -> Option<String> {
    let e = exts.iter().find(|e| e.extn_id == ID_PKIX_OCSP_NONCE)?;
    Some(match OctetString::from_der(e.extn_value.as_bytes()) {
        Ok(o) => hex::encode_upper(o.as_bytes()),
        // Some old clients put the raw octets without the inner OCTET STRING.
        Err(_) => hex::encode_upper(e.extn_value.as_bytes()),
    })
}

fn hash_name(oid: &ObjectIdentifier) -> String {
    HashAlg::from_oid(oid)
        .map(|a| a.name().to_string())
        .unwrap_or_else(|| oid.to_string())
}

fn key_algorithm_name(oid: &ObjectIdentifier) -> String {
    use const_oid::db::{rfc5912, rfc8410};
    match *oid {
        rfc5912::RSA_ENCRYPTION => "rsaEncryption".into(),
        rfc5912::ID_RSASSA_PSS => "rsassaPss".into(),
        rfc5912::ID_EC_PUBLIC_KEY => "id-ecPublicKey".into(),
        rfc8410::ID_ED_25519 => "Ed25519".into(),
        rfc8410::ID_ED_448 => "Ed448".into(),
        other => other.to_string(),
    }
}

fn extension_name(oid: &ObjectIdentifier) -> Option<&'static str> {
    use const_oid::db::{rfc5280, rfc6960};
    Some(match *oid {
        ID_PKIX_OCSP_NONCE => "nonce",
        ID_PKIX_OCSP_EXTENDED_REVOKE => "extendedRevoke",
        rfc6960::ID_PKIX_OCSP_CRL => "crlID",
        rfc6960::ID_PKIX_OCSP_RESPONSE => "acceptableResponses",
        rfc6960::ID_PKIX_OCSP_ARCHIVE_CUTOFF => "archiveCutoff",
        rfc6960::ID_PKIX_OCSP_SERVICE_LOCATOR => "serviceLocator",
        rfc6960::ID_PKIX_OCSP_PREF_SIG_ALGS => "preferredSignatureAlgorithms",
        rfc5280::ID_CE_INVALIDITY_DATE => "invalidityDate",
        rfc5280::ID_CE_HOLD_INSTRUCTION_CODE => "holdInstructionCode",
        rfc5280::ID_CE_CRL_REASONS => "reasonCode",
        _ => return None,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::request::{build, parse, RequestLimits};
    use crate::response::error_response;

    fn id() -> CertId {
        CertId {
            hash_algorithm: HashAlg::Sha256.algorithm_identifier(),
            issuer_name_hash: OctetString::new(vec![0xAB; 32]).unwrap(),
            issuer_key_hash: OctetString::new(vec![0xCD; 32]).unwrap(),
            serial_number: Serial::from_hex("1001")
                .unwrap()
                .to_serial_number()
                .unwrap(),
        }
    }

    #[test]
    fn request_text_and_view() {
        let der = build(&[id()], Some(&[0x11; 4])).unwrap();
        let text = request_der_text(&der).unwrap();
        assert!(text.contains("Hash Algorithm: sha256"), "{text}");
        assert!(text.contains("Serial Number: 1001"), "{text}");
        assert!(text.contains("Nonce: 11111111"), "{text}");
        let parsed = parse(&der, &RequestLimits::default()).unwrap();
        let pt = parsed_request_text(&parsed);
        assert!(pt.contains("Serial Number: 1001"), "{pt}");
        let v = request_view(&OcspRequest::from_der(&der).unwrap());
        assert_eq!(v.extensions[0].name.as_deref(), Some("nonce"));
    }

    #[test]
    fn error_response_text() {
        let der = error_response(OcspResponseStatus::Unauthorized);
        let t = response_der_text(&der).unwrap();
        assert!(
            t.contains("OCSP Response Status: unauthorized (0x6)"),
            "{t}"
        );
        let v = response_view(&crate::response::parse(&der).unwrap());
        assert_eq!(v.response_status_code, 6);
        assert!(v.basic.is_none());
    }
}
