//! OCSP responses (RFC 6960 §4.2): build and sign a BasicOCSPResponse, encode error
//! responses, and parse responses into their parts.

use crate::cert_id::IssuerIdentity;
use crate::signer::{SignError, Signer};
use crate::status::{CertStatus, Revocation};
use crate::time::TimeOutOfRange;
use crate::Timestamp;
use const_oid::db::rfc5280::{ID_CE_HOLD_INSTRUCTION_CODE, ID_CE_INVALIDITY_DATE};
use const_oid::db::rfc6960::{
    ID_PKIX_OCSP_BASIC, ID_PKIX_OCSP_EXTENDED_REVOKE, ID_PKIX_OCSP_NONCE,
};
use der::asn1::{BitString, Null, OctetString};
use der::{Decode, Encode};
use x509_cert::ext::Extension;
use x509_cert::name::Name;
use x509_cert::Certificate;
use x509_ocsp::{
    BasicOcspResponse, CertId, OcspResponse, OcspResponseStatus, ResponderId, ResponseBytes,
    ResponseData, RevokedInfo, SingleResponse,
};

/// Why a response could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// DER encoding failed.
    #[error("encoding the response: {0}")]
    Der(#[from] der::Error),
    /// A time beyond GeneralizedTime's range.
    #[error(transparent)]
    Time(#[from] TimeOutOfRange),
    /// The signer failed.
    #[error(transparent)]
    Sign(#[from] SignError),
    /// Nothing to answer.
    #[error("a response needs at least one SingleResponse")]
    Empty,
}

/// How the responder names itself (RFC 6960 §4.2.2.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResponderIdKind {
    /// SHA-1 of the signer's subjectPublicKey BIT STRING contents (RFC 9919's default).
    ByKey(Vec<u8>),
    /// The signer certificate's subject.
    ByName(Name),
}

/// Whether `cert` is the one a ResponderID names.
pub fn responder_id_matches(rid: &x509_ocsp::ResponderId, cert: &Certificate) -> bool {
    match rid {
        x509_ocsp::ResponderId::ByName(n) => cert.tbs_certificate.subject == *n,
        x509_ocsp::ResponderId::ByKey(h) => {
            let key = cert
                .tbs_certificate
                .subject_public_key_info
                .subject_public_key
                .raw_bytes();
            crate::HashAlg::Sha1.digest(key) == h.as_bytes()
        }
    }
}

impl ResponderIdKind {
    /// byKey for the key of `signer_cert`.
    pub fn by_key(signer_cert: &Certificate) -> Result<ResponderIdKind, der::Error> {
        Ok(ResponderIdKind::ByKey(
            IssuerIdentity::of(signer_cert)?.key_sha1,
        ))
    }

    /// byName for the subject of `signer_cert`.
    pub fn by_name(signer_cert: &Certificate) -> ResponderIdKind {
        ResponderIdKind::ByName(signer_cert.tbs_certificate.subject.clone())
    }

    fn to_asn1(&self) -> Result<ResponderId, der::Error> {
        Ok(match self {
            ResponderIdKind::ByKey(h) => ResponderId::ByKey(OctetString::new(h.clone())?),
            ResponderIdKind::ByName(n) => ResponderId::ByName(n.clone()),
        })
    }
}

/// One answer, for one CertID.
#[derive(Clone, Debug)]
pub struct SingleAnswer {
    /// The CertID exactly as requested.
    pub cert_id: CertId,
    /// The status to state.
    pub status: CertStatus,
    /// thisUpdate.
    pub this_update: Timestamp,
    /// nextUpdate.
    pub next_update: Option<Timestamp>,
}

/// Everything that goes into a signed response apart from the key.
#[derive(Clone, Debug)]
pub struct ResponseParams<'a> {
    /// The ResponderID.
    pub responder_id: &'a ResponderIdKind,
    /// producedAt.
    pub produced_at: Timestamp,
    /// One answer per requested CertID, in request order.
    pub answers: &'a [SingleAnswer],
    /// The request's nonce, echoed in responseExtensions.
    pub nonce: Option<&'a [u8]>,
    /// Include the extended-revoke extension (RFC 6960 §4.4.8): required when any answer
    /// is `revoked` for a serial that was never issued.
    pub extended_revoke: bool,
    /// Certificates for the `certs` field (the delegated responder certificate and any
    /// extra ones); empty for none.
    pub certs: &'a [Certificate],
}

fn single_extensions(rev: &Revocation) -> Result<Option<Vec<Extension>>, BuildError> {
    let mut exts = Vec::new();
    if let Some(t) = rev.invalidity_date {
        exts.push(Extension {
            extn_id: ID_CE_INVALIDITY_DATE,
            critical: false,
            extn_value: OctetString::new(t.to_generalized()?.to_der()?)?,
        });
    }
    if let Some(oid) = rev.hold_instruction {
        exts.push(Extension {
            extn_id: ID_CE_HOLD_INSTRUCTION_CODE,
            critical: false,
            extn_value: OctetString::new(oid.to_der()?)?,
        });
    }
    Ok(if exts.is_empty() { None } else { Some(exts) })
}

fn single_response(a: &SingleAnswer) -> Result<SingleResponse, BuildError> {
    let (cert_status, single_extensions) = match &a.status {
        CertStatus::Good => (x509_ocsp::CertStatus::Good(Null), None),
        CertStatus::Unknown => (x509_ocsp::CertStatus::Unknown(Null), None),
        CertStatus::Revoked(rev) => (
            x509_ocsp::CertStatus::Revoked(RevokedInfo {
                revocation_time: rev.time.to_ocsp()?,
                revocation_reason: rev.reason.map(|r| r.to_crl_reason()),
            }),
            single_extensions(rev)?,
        ),
    };
    Ok(SingleResponse {
        cert_id: a.cert_id.clone(),
        cert_status,
        this_update: a.this_update.to_ocsp()?,
        next_update: a.next_update.map(|t| t.to_ocsp()).transpose()?,
        single_extensions,
    })
}

/// The DER of the tbsResponseData for `p`: what the signer signs.
pub fn tbs_response_data(p: &ResponseParams<'_>) -> Result<ResponseData, BuildError> {
    if p.answers.is_empty() {
        return Err(BuildError::Empty);
    }
    let mut exts = Vec::new();
    if let Some(n) = p.nonce {
        exts.push(Extension {
            extn_id: ID_PKIX_OCSP_NONCE,
            critical: false,
            extn_value: OctetString::new(OctetString::new(n)?.to_der()?)?,
        });
    }
    if p.extended_revoke {
        exts.push(Extension {
            extn_id: ID_PKIX_OCSP_EXTENDED_REVOKE,
            critical: false,
            extn_value: OctetString::new(Null.to_der()?)?,
        });
    }
    Ok(ResponseData {
        version: Default::default(),
        responder_id: p.responder_id.to_asn1()?,
        produced_at: p.produced_at.to_ocsp()?,
        responses: p
            .answers
            .iter()
            .map(single_response)
            .collect::<Result<Vec<_>, _>>()?,
        response_extensions: if exts.is_empty() { None } else { Some(exts) },
    })
}

/// Build, sign and encode a successful OCSPResponse.
pub fn build_signed(p: &ResponseParams<'_>, signer: &dyn Signer) -> Result<Vec<u8>, BuildError> {
    let tbs = tbs_response_data(p)?;
    let tbs_der = tbs.to_der()?;
    let sig = signer.sign(&tbs_der)?;
    let basic = BasicOcspResponse {
        tbs_response_data: tbs,
        signature_algorithm: signer.algorithm(),
        signature: BitString::from_bytes(&sig)?,
        certs: if p.certs.is_empty() {
            None
        } else {
            Some(p.certs.to_vec())
        },
    };
    let resp = OcspResponse {
        response_status: OcspResponseStatus::Successful,
        response_bytes: Some(ResponseBytes {
            response_type: ID_PKIX_OCSP_BASIC,
            response: OctetString::new(basic.to_der()?)?,
        }),
    };
    Ok(resp.to_der()?)
}

/// The unsigned response for an error status: `30 03 0A 01 <status>`.
pub fn error_response(status: OcspResponseStatus) -> Vec<u8> {
    vec![0x30, 0x03, 0x0A, 0x01, status as u8]
}

/// Why a response could not be parsed.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// Not a DER OCSPResponse.
    #[error("not a DER OCSPResponse: {0}")]
    Der(#[from] der::Error),
    /// Decodable, but not DER: fields the structure does not have, or in the wrong place.
    #[error(
        "not a DER BasicOCSPResponse: fields the structure does not have, or in the wrong place"
    )]
    NotDer,
    /// A successful status without responseBytes.
    #[error("successful response without responseBytes")]
    MissingBytes,
    /// responseBytes of a type other than id-pkix-ocsp-basic.
    #[error("unsupported responseType {0}")]
    UnsupportedType(const_oid::ObjectIdentifier),
}

/// A parsed OCSPResponse.
#[derive(Clone, Debug)]
pub enum ParsedResponse {
    /// An error status (no responseBytes).
    Error(OcspResponseStatus),
    /// A successful response with its BasicOCSPResponse and the exact DER of its
    /// tbsResponseData (the bytes the signature covers).
    Basic {
        /// The decoded response.
        basic: Box<BasicOcspResponse>,
        /// The DER of tbsResponseData as received.
        tbs_der: Vec<u8>,
    },
}

/// Parse a DER OCSPResponse (no trailing bytes).
pub fn parse(der: &[u8]) -> Result<ParsedResponse, ParseError> {
    let resp = OcspResponse::from_der(der)?;
    if resp.response_status != OcspResponseStatus::Successful {
        return Ok(ParsedResponse::Error(resp.response_status));
    }
    let bytes = resp.response_bytes.ok_or(ParseError::MissingBytes)?;
    if bytes.response_type != ID_PKIX_OCSP_BASIC {
        return Err(ParseError::UnsupportedType(bytes.response_type));
    }
    let raw = bytes.response.as_bytes();
    let basic = BasicOcspResponse::from_der(raw)?;
    // As in `request::parse`: a value that encodes shorter than its input dropped a field.
    if usize::try_from(basic.encoded_len()?).ok() != Some(raw.len()) {
        return Err(ParseError::NotDer);
    }
    let tbs_der = raw_tbs(raw)?;
    Ok(ParsedResponse::Basic {
        basic: Box::new(basic),
        tbs_der,
    })
}

/// The exact encoded bytes of the first element (tbsResponseData) of a BasicOCSPResponse.
fn raw_tbs(basic_der: &[u8]) -> Result<Vec<u8>, der::Error> {
    use der::{Reader, SliceReader};
    let mut outer = SliceReader::new(basic_der)?;
    let header = outer.peek_header()?;
    header.tag.assert_eq(der::Tag::Sequence)?;
    outer.decode::<der::Header>()?;
    let inner: der::asn1::AnyRef<'_> = outer.decode()?;
    inner.to_der()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cert_id::{HashAlg, Serial};
    use crate::status::RevocationReason;

    struct NullSigner;
    impl Signer for NullSigner {
        fn algorithm(&self) -> spki::AlgorithmIdentifierOwned {
            spki::AlgorithmIdentifierOwned {
                oid: const_oid::db::rfc8410::ID_ED_25519,
                parameters: None,
            }
        }
        fn public_key_der(&self) -> &[u8] {
            &[]
        }
        fn sign(&self, tbs: &[u8]) -> Result<Vec<u8>, SignError> {
            Ok(HashAlg::Sha256.digest(tbs))
        }
        fn describe(&self) -> String {
            "test".into()
        }
    }

    fn id(serial: &str) -> CertId {
        CertId {
            hash_algorithm: HashAlg::Sha1.algorithm_identifier(),
            issuer_name_hash: OctetString::new(vec![1u8; 20]).unwrap(),
            issuer_key_hash: OctetString::new(vec![2u8; 20]).unwrap(),
            serial_number: Serial::from_hex(serial)
                .unwrap()
                .to_serial_number()
                .unwrap(),
        }
    }

    #[test]
    fn error_bytes_decode() {
        for s in [
            OcspResponseStatus::MalformedRequest,
            OcspResponseStatus::InternalError,
            OcspResponseStatus::TryLater,
            OcspResponseStatus::SigRequired,
            OcspResponseStatus::Unauthorized,
        ] {
            let der = error_response(s);
            assert_eq!(OcspResponse::from_der(&der).unwrap().response_status, s);
            assert!(matches!(parse(&der).unwrap(), ParsedResponse::Error(x) if x == s));
        }
    }

    #[test]
    fn build_and_parse_back() {
        let answers = vec![
            SingleAnswer {
                cert_id: id("01"),
                status: CertStatus::Good,
                this_update: Timestamp(1_700_000_000),
                next_update: Some(Timestamp(1_700_086_400)),
            },
            SingleAnswer {
                cert_id: id("02"),
                status: CertStatus::Revoked(Revocation {
                    time: Timestamp(1_690_000_000),
                    reason: Some(RevocationReason::KeyCompromise),
                    invalidity_date: Some(Timestamp(1_680_000_000)),
                    hold_instruction: None,
                }),
                this_update: Timestamp(1_700_000_000),
                next_update: Some(Timestamp(1_700_086_400)),
            },
        ];
        let rid = ResponderIdKind::ByKey(vec![9; 20]);
        let p = ResponseParams {
            responder_id: &rid,
            produced_at: Timestamp(1_700_000_001),
            answers: &answers,
            nonce: Some(&[5; 16]),
            extended_revoke: false,
            certs: &[],
        };
        let der = build_signed(&p, &NullSigner).unwrap();
        let ParsedResponse::Basic { basic, tbs_der } = parse(&der).unwrap() else {
            panic!("not basic")
        };
        assert_eq!(basic.tbs_response_data.to_der().unwrap(), tbs_der);
        assert_eq!(
            basic.signature.raw_bytes(),
            HashAlg::Sha256.digest(&tbs_der)
        );
        let rd = &basic.tbs_response_data;
        assert_eq!(rd.responses.len(), 2);
        assert_eq!(rd.nonce().unwrap().0.as_bytes(), &[5; 16]);
        let r1 = &rd.responses[1];
        assert!(matches!(r1.cert_status, x509_ocsp::CertStatus::Revoked(_)));
        assert_eq!(
            r1.single_extensions.as_ref().unwrap()[0].extn_id,
            ID_CE_INVALIDITY_DATE
        );
    }

    #[test]
    fn empty_is_refused() {
        let rid = ResponderIdKind::ByKey(vec![9; 20]);
        let p = ResponseParams {
            responder_id: &rid,
            produced_at: Timestamp(0),
            answers: &[],
            nonce: None,
            extended_revoke: false,
            certs: &[],
        };
        assert!(matches!(
            build_signed(&p, &NullSigner),
            Err(BuildError::Empty)
        ));
    }
}
