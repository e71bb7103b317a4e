//! OCSP requests (RFC 6960 §4.1): parse into a typed view with size caps, and build.
//!
//! Parsing is strict where strictness protects the responder: the whole input must be one
//! DER `OCSPRequest` with no trailing bytes; the request list must be non-empty and within
//! [`RequestLimits::max_cert_ids`]; a nonce must be an OCTET STRING of 1..=128 octets
//! (RFC 9654); an unknown *critical* request extension is refused. Unknown non-critical
//! extensions are ignored, as RFC 6960 §4.4 asks.

use crate::cert_id::{HashAlg, Serial};
use const_oid::db::rfc6960::{
    ID_PKIX_OCSP_NONCE, ID_PKIX_OCSP_PREF_SIG_ALGS, ID_PKIX_OCSP_RESPONSE,
};
use const_oid::ObjectIdentifier;
use der::asn1::OctetString;
use der::{Decode, Encode};
use x509_cert::ext::Extensions;
use x509_ocsp::{CertId, OcspRequest, Request, TbsRequest};

/// Largest nonce RFC 9654 allows.
pub const MAX_NONCE_LEN: usize = 128;

/// Caps applied while parsing.
#[derive(Clone, Copy, Debug)]
pub struct RequestLimits {
    /// Largest DER input accepted, in octets.
    pub max_bytes: usize,
    /// Most CertIDs in one request.
    pub max_cert_ids: usize,
}

impl Default for RequestLimits {
    fn default() -> Self {
        RequestLimits {
            max_bytes: 10 * 1024,
            max_cert_ids: 64,
        }
    }
}

/// Why a request was refused. Every variant maps to `malformedRequest` on the wire.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RequestError {
    /// Larger than [`RequestLimits::max_bytes`].
    #[error("request of {0} octets exceeds the limit of {1}")]
    TooLarge(usize, usize),
    /// Not a DER OCSPRequest (includes trailing bytes).
    #[error("not a DER OCSPRequest: {0}")]
    Der(String),
    /// The requestList is empty.
    #[error("the request names no certificate")]
    Empty,
    /// More CertIDs than [`RequestLimits::max_cert_ids`].
    #[error("request names {0} certificates, more than the limit of {1}")]
    TooManyCertIds(usize, usize),
    /// A nonce outside 1..=128 octets (RFC 9654).
    #[error("nonce of {0} octets is outside 1..=128 (RFC 9654)")]
    NonceLength(usize),
    /// A nonce extension whose value is not an OCTET STRING.
    #[error("nonce extension value is not an OCTET STRING")]
    NonceEncoding,
    /// The same extension twice.
    #[error("extension {0} appears more than once")]
    DuplicateExtension(ObjectIdentifier),
    /// A critical extension this responder does not understand.
    #[error("unsupported critical extension {0}")]
    UnsupportedCritical(ObjectIdentifier),
}

/// One requested certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestItem {
    /// The CertID as sent, echoed in the SingleResponse.
    pub cert_id: CertId,
    /// Its hash algorithm, `None` when not one of SHA-1/256/384/512 (no issuer can match).
    pub alg: Option<HashAlg>,
    /// Its serial.
    pub serial: Serial,
}

impl RequestItem {
    /// The issuer name hash octets.
    pub fn name_hash(&self) -> &[u8] {
        self.cert_id.issuer_name_hash.as_bytes()
    }

    /// The issuer key hash octets.
    pub fn key_hash(&self) -> &[u8] {
        self.cert_id.issuer_key_hash.as_bytes()
    }
}

/// A parsed request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedRequest {
    /// The requested certificates, in request order.
    pub items: Vec<RequestItem>,
    /// The nonce octets (the contents of the inner OCTET STRING), if one was sent.
    pub nonce: Option<Vec<u8>>,
    /// Whether the request carried an optionalSignature (it is not verified).
    pub signed: bool,
}

/// Parse a DER OCSPRequest.
pub fn parse(der: &[u8], limits: &RequestLimits) -> Result<ParsedRequest, RequestError> {
    if der.len() > limits.max_bytes {
        return Err(RequestError::TooLarge(der.len(), limits.max_bytes));
    }
    let req = OcspRequest::from_der(der).map_err(|e| RequestError::Der(e.to_string()))?;
    // der 0.7 skips a stray context-specific field whose tag number is lower than the one
    // it looks for, so a TBSRequest with, say, its extensions under [0] decodes without
    // them. DER has one encoding per value: a value that encodes shorter than its input
    // lost something on the way.
    if req.encoded_len().and_then(usize::try_from).ok() != Some(der.len()) {
        return Err(RequestError::Der(
            "not DER: fields the structure does not have, or in the wrong place".into(),
        ));
    }
    let tbs = req.tbs_request;
    if tbs.request_list.is_empty() {
        return Err(RequestError::Empty);
    }
    if tbs.request_list.len() > limits.max_cert_ids {
        return Err(RequestError::TooManyCertIds(
            tbs.request_list.len(),
            limits.max_cert_ids,
        ));
    }
    let nonce = match &tbs.request_extensions {
        Some(exts) => check_extensions(exts)?,
        None => None,
    };
    let items = tbs
        .request_list
        .into_iter()
        .map(|r| {
            if let Some(exts) = &r.single_request_extensions {
                // No single-request extension is acted on; a critical one cannot be honoured.
                if let Some(e) = exts.iter().find(|e| e.critical) {
                    return Err(RequestError::UnsupportedCritical(e.extn_id));
                }
            }
            let alg = HashAlg::from_oid(&r.req_cert.hash_algorithm.oid);
            let serial = Serial::of_cert_id(&r.req_cert);
            Ok(RequestItem {
                cert_id: r.req_cert,
                alg,
                serial,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ParsedRequest {
        items,
        nonce,
        signed: req.optional_signature.is_some(),
    })
}

fn check_extensions(exts: &Extensions) -> Result<Option<Vec<u8>>, RequestError> {
    let mut nonce = None;
    for (i, e) in exts.iter().enumerate() {
        if exts[..i].iter().any(|p| p.extn_id == e.extn_id) {
            return Err(RequestError::DuplicateExtension(e.extn_id));
        }
        if e.extn_id == ID_PKIX_OCSP_NONCE {
            let inner = OctetString::from_der(e.extn_value.as_bytes())
                .map_err(|_| RequestError::NonceEncoding)?;
            let n = inner.as_bytes();
            if n.is_empty() || n.len() > MAX_NONCE_LEN {
                return Err(RequestError::NonceLength(n.len()));
            }
            nonce = Some(n.to_vec());
        } else if e.critical
            && e.extn_id != ID_PKIX_OCSP_RESPONSE
            && e.extn_id != ID_PKIX_OCSP_PREF_SIG_ALGS
        {
            return Err(RequestError::UnsupportedCritical(e.extn_id));
        }
    }
    Ok(nonce)
}

/// Build a DER OCSPRequest for `cert_ids`, with `nonce` when given (the octets go inside
/// an OCTET STRING, as RFC 9654 specifies).
pub fn build(cert_ids: &[CertId], nonce: Option<&[u8]>) -> Result<Vec<u8>, der::Error> {
    let request_extensions = match nonce {
        Some(n) => {
            let value = OctetString::new(n)?.to_der()?;
            Some(vec![x509_cert::ext::Extension {
                extn_id: ID_PKIX_OCSP_NONCE,
                critical: false,
                extn_value: OctetString::new(value)?,
            }])
        }
        None => None,
    };
    let req = OcspRequest {
        tbs_request: TbsRequest {
            version: Default::default(),
            requestor_name: None,
            request_list: cert_ids
                .iter()
                .map(|id| Request {
                    req_cert: id.clone(),
                    single_request_extensions: None,
                })
                .collect(),
            request_extensions,
        },
        optional_signature: None,
    };
    req.to_der()
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::asn1::OctetString;

    fn id(alg: HashAlg, serial: &str) -> CertId {
        CertId {
            hash_algorithm: alg.algorithm_identifier(),
            issuer_name_hash: OctetString::new(vec![1u8; alg.output_len()]).unwrap(),
            issuer_key_hash: OctetString::new(vec![2u8; alg.output_len()]).unwrap(),
            serial_number: Serial::from_hex(serial)
                .unwrap()
                .to_serial_number()
                .unwrap(),
        }
    }

    #[test]
    fn round_trip_with_nonce() {
        let der = build(
            &[id(HashAlg::Sha256, "0A"), id(HashAlg::Sha1, "FF")],
            Some(&[7; 32]),
        )
        .unwrap();
        let p = parse(&der, &RequestLimits::default()).unwrap();
        assert_eq!(p.items.len(), 2);
        assert_eq!(p.items[0].alg, Some(HashAlg::Sha256));
        assert_eq!(p.items[1].serial, Serial::from_hex("FF").unwrap());
        assert_eq!(p.nonce.as_deref(), Some(&[7u8; 32][..]));
        assert!(!p.signed);
    }

    #[test]
    fn nonce_lengths() {
        let lim = RequestLimits::default();
        let ok1 = build(&[id(HashAlg::Sha1, "01")], Some(&[1])).unwrap();
        assert!(parse(&ok1, &lim).is_ok());
        let ok128 = build(&[id(HashAlg::Sha1, "01")], Some(&[1; 128])).unwrap();
        assert!(parse(&ok128, &lim).is_ok());
        let bad0 = build(&[id(HashAlg::Sha1, "01")], Some(&[])).unwrap();
        assert_eq!(parse(&bad0, &lim), Err(RequestError::NonceLength(0)));
        let bad129 = build(&[id(HashAlg::Sha1, "01")], Some(&[1; 129])).unwrap();
        assert_eq!(parse(&bad129, &lim), Err(RequestError::NonceLength(129)));
    }

    #[test]
    fn rejects_trailing_bytes_and_garbage() {
        let lim = RequestLimits::default();
        let mut der = build(&[id(HashAlg::Sha1, "01")], None).unwrap();
        der.push(0);
        assert!(matches!(parse(&der, &lim), Err(RequestError::Der(_))));
        assert!(matches!(parse(b"", &lim), Err(RequestError::Der(_))));
        assert!(matches!(
            parse(b"\x30\x80", &lim),
            Err(RequestError::Der(_))
        ));
    }

    #[test]
    fn limits() {
        let lim = RequestLimits {
            max_bytes: 10_000,
            max_cert_ids: 2,
        };
        let ids: Vec<_> = (1..=3)
            .map(|i| id(HashAlg::Sha1, &format!("{i:02X}")))
            .collect();
        let der = build(&ids, None).unwrap();
        assert_eq!(parse(&der, &lim), Err(RequestError::TooManyCertIds(3, 2)));
        let lim = RequestLimits {
            max_bytes: 10,
            max_cert_ids: 2,
        };
        assert!(matches!(
            parse(&der, &lim),
            Err(RequestError::TooLarge(_, 10))
        ));
        let empty = build(&[], None).unwrap();
        assert_eq!(
            parse(&empty, &RequestLimits::default()),
            Err(RequestError::Empty)
        );
    }

    #[test]
    fn unknown_hash_is_kept_without_alg() {
        let mut c = id(HashAlg::Sha1, "01");
        c.hash_algorithm.oid = ObjectIdentifier::new_unwrap("1.2.840.113549.2.5"); // md5
        let der = build(&[c], None).unwrap();
        let p = parse(&der, &RequestLimits::default()).unwrap();
        assert_eq!(p.items[0].alg, None);
    }
}
