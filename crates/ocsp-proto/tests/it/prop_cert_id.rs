//! Property tests for serial and CertID encoding (issue 5, point 1).
//!
//! - A serial has one normal form whatever way it arrives: DER INTEGER content octets
//!   with or without leading zeros, hex in either case, odd or even length, with `0x`.
//! - `Serial` → X.509 SerialNumber → `Serial` is the identity, and the SerialNumber is a
//!   minimal positive DER INTEGER.
//! - A CertID built for an issuer and serial under any hash is matched by that issuer's
//!   precomputed identity and by no other, survives a request build → parse round trip
//!   unchanged, and stops matching when any bit of either hash flips.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use der::asn1::OctetString;
use der::{Decode, Encode};
use ocsp_proto::cert_id::{cert_id, HashAlg, IssuerIdentity, Serial};
use ocsp_proto::request::{self, RequestError, RequestLimits, MAX_NONCE_LEN};
use ocsp_proto::x509_ocsp::CertId;
use proptest::prelude::*;
use std::sync::OnceLock;
use x509_cert::Certificate;

/// Magnitude octets in normal form: non-empty, no leading zero unless the value is zero.
fn is_normal(b: &[u8]) -> bool {
    !b.is_empty() && (b.len() == 1 || b[0] != 0)
}

fn alg() -> impl Strategy<Value = HashAlg> {
    prop::sample::select(HashAlg::ALL.to_vec())
}

/// Serial magnitudes as CAs issue them: 1..=20 octets (RFC 5280 §4.1.2.2), any value.
fn serial_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 1..=20)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn serial_normal_form(bytes in prop::collection::vec(any::<u8>(), 0..40), zeros in 0usize..4) {
        let s = Serial::from_der_content(&bytes);
        prop_assert!(is_normal(s.as_bytes()), "{:?} -> {:?}", bytes, s);
        let mut padded = vec![0u8; zeros];
        padded.extend_from_slice(&bytes);
        prop_assert_eq!(Serial::from_der_content(&padded), s.clone());
        // The magnitude is the input without its leading zeros.
        let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
        if trimmed.is_empty() {
            prop_assert_eq!(s.as_bytes(), &[0u8][..]);
        } else {
            prop_assert_eq!(s.as_bytes(), &trimmed[..]);
        }
    }

    #[test]
    fn serial_hex_forms_agree(bytes in prop::collection::vec(any::<u8>(), 0..40), zeros in 0usize..5) {
        let s = Serial::from_der_content(&bytes);
        let hex = s.to_hex();
        prop_assert!(hex.len() >= 2 && hex.len() % 2 == 0);
        prop_assert_eq!(hex.to_ascii_uppercase(), hex.clone());
        prop_assert_eq!(Serial::from_hex(&hex), Some(s.clone()));
        prop_assert_eq!(Serial::from_hex(&hex.to_ascii_lowercase()), Some(s.clone()));
        prop_assert_eq!(Serial::from_hex(&format!("0x{hex}")), Some(s.clone()));
        // Leading zero digits, odd length included, change nothing.
        let long = format!("{}{hex}", "0".repeat(zeros));
        prop_assert_eq!(Serial::from_hex(&long), Some(s.clone()));
        let short = hex.trim_start_matches('0');
        if !short.is_empty() {
            prop_assert_eq!(Serial::from_hex(short), Some(s.clone()));
        }
        prop_assert_eq!(s.to_string(), hex);
    }

    #[test]
    fn serial_hex_rejects_non_hex(prefix in "[0-9a-fA-F]{0,8}", bad in "[^0-9a-fA-F]", suffix in "[0-9a-fA-F]{0,8}") {
        let s = format!("{prefix}{bad}{suffix}");
        // "0x" itself is a prefix, not a digit: skip the one form where it is legitimately stripped.
        prop_assume!(!(prefix == "0" && (bad == "x" || bad == "X")));
        prop_assert_eq!(Serial::from_hex(&s), None);
    }

    #[test]
    fn serial_number_round_trip(bytes in serial_bytes()) {
        let s = Serial::from_der_content(&bytes);
        let sn = s.to_serial_number();
        if s.as_bytes().len() == 20 && s.as_bytes()[0] & 0x80 != 0 {
            // 21 content octets: beyond RFC 5280's 20; refusing is right, accepting too.
            if let Ok(sn) = sn { prop_assert_eq!(Serial::from_der_content(sn.as_bytes()), s); }
            return Ok(());
        }
        let sn = sn.unwrap();
        let content = sn.as_bytes();
        // A minimal positive DER INTEGER.
        prop_assert!(content[0] & 0x80 == 0, "negative: {:02X?}", content);
        prop_assert!(content.len() == 1 || content[0] != 0 || content[1] & 0x80 != 0, "not minimal: {:02X?}", content);
        prop_assert_eq!(Serial::from_der_content(content), s.clone());
        // And it survives DER encoding as a whole.
        let der = sn.to_der().unwrap();
        let back: x509_cert::serial_number::SerialNumber = x509_cert::serial_number::SerialNumber::from_der(&der).unwrap();
        prop_assert_eq!(Serial::from_der_content(back.as_bytes()), s);
    }
}

/// Three CAs made once with rcgen: P-256, P-384 and Ed25519 keys; two of them share a
/// subject name (a re-keyed CA is another issuer).
fn cas() -> &'static [Certificate; 3] {
    static CAS: OnceLock<[Certificate; 3]> = OnceLock::new();
    CAS.get_or_init(|| {
        let make = |cn: &str, alg: &'static rcgen::SignatureAlgorithm| {
            let kp = rcgen::KeyPair::generate_for(alg).unwrap();
            let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
            p.distinguished_name.push(rcgen::DnType::CommonName, cn);
            p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            Certificate::from_der(p.self_signed(&kp).unwrap().der()).unwrap()
        };
        [
            make("Prop CA", &rcgen::PKCS_ECDSA_P256_SHA256),
            make("Prop CA", &rcgen::PKCS_ECDSA_P384_SHA384),
            make("Other Prop CA", &rcgen::PKCS_ED25519),
        ]
    })
}

fn identities() -> &'static Vec<IssuerIdentity> {
    static IDS: OnceLock<Vec<IssuerIdentity>> = OnceLock::new();
    IDS.get_or_init(|| {
        cas()
            .iter()
            .map(|c| IssuerIdentity::of(c).unwrap())
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn cert_id_matches_its_issuer_only(ca in 0usize..3, alg in alg(), bytes in serial_bytes()) {
        let serial = Serial::from_der_content(&bytes);
        prop_assume!(serial.to_serial_number().is_ok());
        let id = cert_id(&cas()[ca], &serial, alg).unwrap();
        prop_assert_eq!(HashAlg::from_oid(&id.hash_algorithm.oid), Some(alg));
        prop_assert_eq!(id.issuer_name_hash.as_bytes().len(), alg.output_len());
        prop_assert_eq!(id.issuer_key_hash.as_bytes().len(), alg.output_len());
        prop_assert_eq!(Serial::of_cert_id(&id), serial);
        for (i, ident) in identities().iter().enumerate() {
            let m = ident.matches(alg, id.issuer_name_hash.as_bytes(), id.issuer_key_hash.as_bytes());
            prop_assert_eq!(m, i == ca, "issuer {} vs CertID of {}", i, ca);
            // The hashes of one algorithm never match under another.
            for other in HashAlg::ALL.into_iter().filter(|a| *a != alg) {
                prop_assert!(!ident.matches(other, id.issuer_name_hash.as_bytes(), id.issuer_key_hash.as_bytes()));
            }
        }
    }

    #[test]
    fn flipped_hash_bit_never_matches(ca in 0usize..3, alg in alg(), which in any::<bool>(), bit in 0usize..512) {
        let id = cert_id(&cas()[ca], &Serial::from_hex("01").unwrap(), alg).unwrap();
        let mut name = id.issuer_name_hash.as_bytes().to_vec();
        let mut key = id.issuer_key_hash.as_bytes().to_vec();
        let target = if which { &mut name } else { &mut key };
        let bit = bit % (target.len() * 8);
        target[bit / 8] ^= 1 << (bit % 8);
        for ident in identities() {
            prop_assert!(!ident.matches(alg, &name, &key));
        }
    }

    #[test]
    fn request_round_trip(
        items in prop::collection::vec((0usize..3, alg(), serial_bytes()), 1..8),
        nonce in prop::option::of(prop::collection::vec(any::<u8>(), 1..=MAX_NONCE_LEN)),
    ) {
        let ids: Vec<CertId> = items
            .iter()
            .filter_map(|(ca, alg, b)| {
                let s = Serial::from_der_content(b);
                s.to_serial_number().ok().map(|_| cert_id(&cas()[*ca], &s, *alg).unwrap())
            })
            .collect();
        prop_assume!(!ids.is_empty());
        let der = request::build(&ids, nonce.as_deref()).unwrap();
        let p = request::parse(&der, &RequestLimits::default()).unwrap();
        prop_assert_eq!(p.items.len(), ids.len());
        for (item, id) in p.items.iter().zip(&ids) {
            prop_assert_eq!(&item.cert_id, id);
            prop_assert_eq!(item.serial.clone(), Serial::of_cert_id(id));
            prop_assert_eq!(item.alg, HashAlg::from_oid(&id.hash_algorithm.oid));
        }
        prop_assert_eq!(p.nonce, nonce);
        prop_assert!(!p.signed);
    }

    #[test]
    fn arbitrary_cert_ids_round_trip(
        name in prop::collection::vec(any::<u8>(), 0..70),
        key in prop::collection::vec(any::<u8>(), 0..70),
        alg in prop::option::of(alg()),
        bytes in serial_bytes(),
    ) {
        // CertIDs of no served CA, with hashes of any length and even unknown algorithms,
        // still parse (the responder answers them `unauthorized`, not malformedRequest).
        let s = Serial::from_der_content(&bytes);
        prop_assume!(s.to_serial_number().is_ok());
        let mut alg_id = HashAlg::Sha1.algorithm_identifier();
        if let Some(a) = alg { alg_id = a.algorithm_identifier(); } else {
            alg_id.oid = der::oid::ObjectIdentifier::new_unwrap("1.2.840.113549.2.5");
        }
        let id = CertId {
            hash_algorithm: alg_id,
            issuer_name_hash: OctetString::new(name.clone()).unwrap(),
            issuer_key_hash: OctetString::new(key.clone()).unwrap(),
            serial_number: s.to_serial_number().unwrap(),
        };
        let der = request::build(std::slice::from_ref(&id), None).unwrap();
        let p = request::parse(&der, &RequestLimits::default()).unwrap();
        prop_assert_eq!(&p.items[0].cert_id, &id);
        prop_assert_eq!(p.items[0].alg, alg);
        prop_assert_eq!(p.items[0].name_hash(), &name[..]);
        prop_assert_eq!(p.items[0].key_hash(), &key[..]);
        for ident in identities() {
            if let Some(a) = alg {
                // Random hashes match no CA (the chance is 2^-160 or less).
                prop_assert!(!ident.matches(a, &name, &key));
            }
        }
    }

    #[test]
    fn nonce_length_outside_rfc9654_is_refused(len in prop_oneof![Just(0usize), (MAX_NONCE_LEN + 1)..600]) {
        let id = cert_id(&cas()[0], &Serial::from_hex("01").unwrap(), HashAlg::Sha256).unwrap();
        let der = request::build(&[id], Some(&vec![0x5A; len])).unwrap();
        prop_assert_eq!(request::parse(&der, &RequestLimits::default()), Err(RequestError::NonceLength(len)));
    }
}
