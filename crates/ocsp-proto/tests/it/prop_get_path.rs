//! Property tests for the GET path codec (`ocsp_proto::get_path`): whatever way a client
//! writes `{url}/{urlencode(base64(DER))}` — standard or URL-safe alphabet, padded or not,
//! any subset of characters percent-encoded in either case, `+` sent as a space, line
//! breaks from a wrapping base64 tool, `//`, under any path prefix — the edge recovers the
//! exact DER; and no path, however hostile, makes it return a request that is not what
//! the returned DER parses to.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine;
use der::asn1::OctetString;
use ocsp_proto::get_path::{
    decode_component as decode_get_component, encode_component, parse_path as parse_get_path,
};
use ocsp_proto::request::{self, RequestLimits};
use ocsp_proto::x509_ocsp::CertId;
use ocsp_proto::{HashAlg, Serial};
use proptest::prelude::*;

const STD: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

fn cert_id() -> impl Strategy<Value = CertId> {
    (
        prop::sample::select(HashAlg::ALL.to_vec()),
        prop::collection::vec(any::<u8>(), 1..=20),
        any::<u8>(),
    )
        .prop_map(|(alg, serial, fill)| CertId {
            hash_algorithm: alg.algorithm_identifier(),
            issuer_name_hash: OctetString::new(vec![fill; alg.output_len()]).unwrap(),
            issuer_key_hash: OctetString::new(vec![fill ^ 0x5A; alg.output_len()]).unwrap(),
            serial_number: {
                let mut s = serial;
                s[0] &= 0x7F; // positive, ≤ 20 octets
                Serial::from_der_content(&s).to_serial_number().unwrap()
            },
        })
}

/// The DER of a request with 1..4 CertIDs and maybe a nonce.
fn request_der() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::collection::vec(cert_id(), 1..4),
        prop::option::of(prop::collection::vec(any::<u8>(), 1..=64)),
    )
        .prop_map(|(ids, nonce)| request::build(&ids, nonce.as_deref()).unwrap())
}

/// Percent-encode the characters whose mask bit is set (and always `%` itself), in
/// upper or lower case hex.
fn percent_some(s: &str, mask: &[bool], lower: bool) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if c == '%' || mask.get(i % mask.len().max(1)).copied().unwrap_or(false) {
            let e = format!("%{:02X}", c as u32);
            out.push_str(&if lower { e.to_ascii_lowercase() } else { e });
        } else {
            out.push(c);
        }
    }
    out
}

/// Path prefixes a deployment may put before the request (`/ocsp`, `/a/b`): lower-case
/// segments, which can never decode to the 0x30 that starts a DER request.
fn prefix() -> impl Strategy<Value = String> {
    prop::collection::vec("[a-z][a-z0-9.-]{0,7}", 0..3)
        .prop_map(|segs| segs.iter().map(|s| format!("/{s}")).collect::<String>())
}

fn decodes_to(path: &str, der: &[u8]) -> Result<(), TestCaseError> {
    let lim = RequestLimits::default();
    match parse_get_path(path, &lim) {
        Ok((got, parsed)) => {
            prop_assert_eq!(&got[..], der, "path {}", path);
            prop_assert_eq!(request::parse(der, &lim).unwrap(), parsed);
            Ok(())
        }
        Err(()) => Err(TestCaseError::fail(format!("path not decoded: {path}"))),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(384))]

    #[test]
    fn every_client_encoding_decodes_to_the_der(
        der in request_der(),
        pre in prefix(),
        mask in prop::collection::vec(any::<bool>(), 1..16),
        lower in any::<bool>(),
        double_slash in any::<bool>(),
    ) {
        let std = STD.encode(&der);
        let url = URL.encode(&der);
        let sep = if double_slash { "//" } else { "/" };
        let forms = [
            std.clone(),
            std.trim_end_matches('=').to_string(),
            url.clone(),
            percent_some(&std, &mask, lower),
            percent_some(&url, &mask, lower),
            std.replace('+', " "),
            percent_some(&std.replace('+', " "), &mask, lower),
            // A wrapping base64 tool's line breaks, percent-encoded.
            std.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect::<Vec<_>>().join("%0A"),
            std.as_bytes().chunks(76).map(|c| std::str::from_utf8(c).unwrap()).collect::<Vec<_>>().join("%0D%0A"),
        ];
        for f in forms {
            decodes_to(&format!("{pre}{sep}{f}"), &der)?;
        }
    }

    #[test]
    fn component_decoding_is_base64_of_any_bytes(bytes in prop::collection::vec(any::<u8>(), 1..300), mask in prop::collection::vec(any::<bool>(), 1..8), lower in any::<bool>()) {
        let std = STD.encode(&bytes);
        prop_assert_eq!(decode_get_component(&std), Some(bytes.clone()));
        prop_assert_eq!(decode_get_component(&URL.encode(&bytes)), Some(bytes.clone()));
        prop_assert_eq!(decode_get_component(&percent_some(&std, &mask, lower)), Some(bytes.clone()));
    }

    #[test]
    fn hostile_paths_never_yield_a_wrong_request(path in prop_oneof![
        any::<String>(),
        "[A-Za-z0-9+/=%_ -]{0,400}",
        "(/[A-Za-z0-9%+=]{0,40}){0,20}",
    ]) {
        let lim = RequestLimits::default();
        let _ = decode_get_component(&path);
        if let Ok((der, parsed)) = parse_get_path(&path, &lim) {
            prop_assert_eq!(request::parse(&der, &lim), Ok(parsed));
        }
    }

    #[test]
    fn damaged_encodings_never_yield_a_different_request(der in request_der(), cut in any::<prop::sample::Index>(), junk in "[!*'();:@&=$,?#\\[\\]]") {
        // Truncated or with a character that is not base64: either refused, or (for a cut
        // that only loses padding) the very same DER — never some other request.
        let std = STD.encode(&der);
        let at = cut.index(std.len());
        let lim = RequestLimits::default();
        for path in [format!("/{}", &std[..at]), format!("/{}{junk}{}", &std[..at], &std[at..])] {
            if let Ok((got, _)) = parse_get_path(&path, &lim) {
                prop_assert_eq!(got, der.clone(), "{}", path);
            }
        }
    }

    #[test]
    fn encode_then_decode_is_the_identity(bytes in prop::collection::vec(any::<u8>(), 0..400), pre in prefix()) {
        // The client's encoder and the responder's decoder are one codec.
        let enc = encode_component(&bytes);
        prop_assert!(enc.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)), "{}", enc);
        if bytes.is_empty() {
            prop_assert_eq!(decode_get_component(&enc), None);
        } else {
            prop_assert_eq!(decode_get_component(&enc), Some(bytes.clone()));
        }
        let url = ocsp_proto::get_path::url(&format!("http://h{pre}"), &bytes);
        prop_assert_eq!(url, format!("http://h{pre}/{enc}"));
    }

    #[test]
    fn encoded_requests_parse_back(der in request_der(), pre in prefix()) {
        decodes_to(&format!("{pre}/{}", encode_component(&der)), &der)?;
    }
}
