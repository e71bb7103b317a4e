//! Regressions from fuzzing (issue 5, point 1): each input the fuzzers found, as a test.
//!
//! `roundtrip` (campaign of the first run): a response whose tbsResponseData carries its
//! responseExtensions under tag [0] instead of [1] parses, but the extensions (here the
//! nonce) vanish from the typed view while staying in the signed bytes: der 0.7 skips a
//! context-specific field whose tag number is lower than the one it looks for. The same
//! happens to a request's requestExtensions. Not exploitable (only the signer makes
//! signed bytes; a lost nonce is noticed by the client), but it is input that is not DER
//! accepted as if it were, which `request::parse`'s contract ("the whole input must be
//! one DER OCSPRequest") rules out. Both parsers now refuse such input: a decoded value
//! must encode to exactly as many octets as it was read from.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use der::asn1::OctetString;
use der::Encode;
use ocsp_proto::request::{self, RequestLimits};
use ocsp_proto::response::{
    self, build_signed, ParsedResponse, ResponderIdKind, ResponseParams, SingleAnswer,
};
use ocsp_proto::signer::{SignError, Signer};
use ocsp_proto::x509_ocsp::CertId;
use ocsp_proto::{CertStatus, HashAlg, Serial, Timestamp};

struct HashSigner;
impl Signer for HashSigner {
    fn algorithm(&self) -> spki::AlgorithmIdentifierOwned {
        spki::AlgorithmIdentifierOwned {
            oid: ocsp_proto::const_oid::db::rfc8410::ID_ED_25519,
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
        "hash".into()
    }
}

fn id() -> CertId {
    CertId {
        hash_algorithm: HashAlg::Sha1.algorithm_identifier(),
        issuer_name_hash: OctetString::new(vec![1; 20]).unwrap(),
        issuer_key_hash: OctetString::new(vec![2; 20]).unwrap(),
        serial_number: Serial::from_hex("1001")
            .unwrap()
            .to_serial_number()
            .unwrap(),
    }
}

const NONCE: [u8; 16] = [0x5A; 16];

/// A response with a nonce, and the same bytes with the responseExtensions tag [1]
/// (0xA1) turned into [0] (0xA0), as the fuzzer did.
fn responses() -> (Vec<u8>, Vec<u8>) {
    let rid = ResponderIdKind::ByKey(vec![9; 20]);
    let answers = [SingleAnswer {
        cert_id: id(),
        status: CertStatus::Good,
        this_update: Timestamp(1_700_000_000),
        next_update: Some(Timestamp(1_700_086_400)),
    }];
    let der = build_signed(
        &ResponseParams {
            responder_id: &rid,
            produced_at: Timestamp(1_700_000_000),
            answers: &answers,
            nonce: Some(&NONCE),
            extended_revoke: false,
            certs: &[],
        },
        &HashSigner,
    )
    .unwrap();
    // The nonce extension's OID, then back to the [1] wrapper around the extensions.
    let oid = ocsp_proto::const_oid::db::rfc6960::ID_PKIX_OCSP_NONCE
        .to_der()
        .unwrap();
    let at = der.windows(oid.len()).position(|w| w == oid).unwrap();
    let wrapper = der[..at].iter().rposition(|b| *b == 0xA1).unwrap();
    let mut odd = der.clone();
    odd[wrapper] = 0xA0;
    (der, odd)
}

#[test]
fn the_fuzzed_response_does_not_panic_and_loses_no_more_than_its_extensions() {
    let (good, odd) = responses();
    let ParsedResponse::Basic { basic, .. } = response::parse(&good).unwrap() else {
        panic!("basic")
    };
    assert_eq!(
        basic.tbs_response_data.nonce().unwrap().0.as_bytes(),
        &NONCE
    );
    // Today: accepted, with the nonce gone from the typed view (see the module docs).
    if let Ok(ParsedResponse::Basic { basic, .. }) = response::parse(&odd) {
        assert_eq!(basic.tbs_response_data.responses.len(), 1);
        assert!(basic.tbs_response_data.nonce().is_none());
    }
}

#[test]
fn a_response_that_is_not_der_is_refused() {
    let (_, odd) = responses();
    assert!(
        response::parse(&odd).is_err(),
        "a stray [0] field after `responses` was accepted"
    );
}

#[test]
fn a_request_that_is_not_der_is_refused() {
    let der = request::build(&[id()], Some(&NONCE)).unwrap();
    let oid = ocsp_proto::const_oid::db::rfc6960::ID_PKIX_OCSP_NONCE
        .to_der()
        .unwrap();
    let at = der.windows(oid.len()).position(|w| w == oid).unwrap();
    let wrapper = der[..at].iter().rposition(|b| *b == 0xA2).unwrap();
    let mut odd = der.clone();
    odd[wrapper] = 0xA0;
    let parsed = request::parse(&odd, &RequestLimits::default());
    assert!(parsed.is_err(), "accepted as {parsed:?}");
}
