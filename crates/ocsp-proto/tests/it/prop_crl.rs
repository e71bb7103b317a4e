//! Property tests for the CRL reader, table and builder.
//!
//! - build → parse gives back the entries as given, in order (an `unspecified` reason comes
//!   back absent: the builder omits it, BR §7.2.2), and the CRL fields as given;
//! - the table built from the parsed CRL finds every serial with its data, finds no other,
//!   and lists serials in order without duplicates;
//! - a strict prefix of a CRL, a CRL with a trailing octet, and a CRL with any octet
//!   changed never panic the reader; prefixes and trailing octets are always refused.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use ocsp_proto::crl::{
    self, CrlLimits, CrlNumber, CrlParams, Entry, HoldInstruction, IdpParams, RevokedTable,
};
use ocsp_proto::signer::{SignError, Signer};
use ocsp_proto::{HashAlg, RevocationReason, Timestamp};
use proptest::prelude::*;

/// Signs with a hash: enough for the reader, which checks structure, not the signature.
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
        Ok(HashAlg::Sha512.digest(tbs))
    }
    fn describe(&self) -> String {
        "hash".into()
    }
}

/// CN=CRL prop test, DER.
fn issuer() -> Vec<u8> {
    let cn = b"CRL prop test";
    let mut atv = vec![0x06, 0x03, 0x55, 0x04, 0x03, 0x0C, cn.len() as u8];
    atv.extend_from_slice(cn);
    let mut seq = vec![0x30, atv.len() as u8];
    seq.extend(atv);
    let mut set = vec![0x31, seq.len() as u8];
    set.extend(seq);
    let mut name = vec![0x30, set.len() as u8];
    name.extend(set);
    name
}

#[derive(Clone, Debug)]
struct Owned {
    serial: Vec<u8>,
    time: u64,
    reason: Option<RevocationReason>,
    invalidity: Option<u64>,
    hold: Option<HoldInstruction>,
}

impl Owned {
    fn entry(&self) -> Entry<'_> {
        Entry {
            serial: &self.serial,
            revocation_date: Timestamp(self.time),
            reason: self.reason,
            invalidity_date: self.invalidity.map(Timestamp),
            hold_instruction: self.hold,
        }
    }
}

/// A positive, minimal INTEGER's content octets, 1 to 21 octets.
fn serial() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 1..=20).prop_map(|mut v| {
        while v.len() > 1 && v[0] == 0 && v[1] & 0x80 == 0 {
            v.remove(0);
        }
        if v[0] & 0x80 != 0 {
            v.insert(0, 0);
        }
        v
    })
}

/// Times from 1970 to 2200 (both UTCTime and GeneralizedTime ranges).
fn time() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..2_524_608_000, 2_524_608_000u64..7_258_118_400]
}

fn reason(delta: bool) -> impl Strategy<Value = Option<RevocationReason>> {
    let all: Vec<RevocationReason> = RevocationReason::ALL
        .into_iter()
        .filter(|r| delta || *r != RevocationReason::RemoveFromCrl)
        .collect();
    prop::option::of(prop::sample::select(all))
}

fn entries(delta: bool) -> impl Strategy<Value = Vec<Owned>> {
    prop::collection::vec(
        (
            serial(),
            time(),
            reason(delta),
            prop::option::of(time()),
            prop::option::of(prop::sample::select(vec![
                HoldInstruction::None,
                HoldInstruction::CallIssuer,
                HoldInstruction::Reject,
            ])),
        )
            .prop_map(|(serial, time, reason, invalidity, hold)| Owned {
                serial,
                time,
                reason,
                invalidity,
                hold,
            }),
        0..40,
    )
}

fn build(
    list: &[Owned],
    number: u128,
    delta: Option<u128>,
    idp: Option<(bool, bool)>,
    this: u64,
) -> Vec<u8> {
    let name = issuer();
    let uris = ["http://crl.example.test/1.crl", "ldap://x.test/cn=crl"];
    let params = CrlParams {
        issuer: &name,
        authority_key_id: &[7; 20],
        crl_number: CrlNumber::from_u128(number),
        this_update: Timestamp(this),
        next_update: Timestamp(this + 86_400),
        max_validity_secs: 86_400,
        delta_base: delta.map(CrlNumber::from_u128),
        idp: idp.map(|(user, ca)| IdpParams {
            full_name_uris: &uris,
            only_user_certs: user,
            only_ca_certs: ca && !user,
        }),
    };
    crl::build(params, list.iter().map(Owned::entry), &HashSigner).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn build_then_parse_gives_back_the_entries(
        delta in any::<bool>(),
        list in entries(true),
        number in 1u128..u128::MAX,
        idp in prop::option::of((any::<bool>(), any::<bool>())),
        this in 0u64..4_000_000_000,
    ) {
        let list: Vec<Owned> = if delta {
            list
        } else {
            list.into_iter()
                .filter(|e| e.reason != Some(RevocationReason::RemoveFromCrl))
                .collect()
        };
        let base = delta.then(|| number - 1);
        let der = build(&list, number, base, idp, this);
        let c = crl::parse(&der, &CrlLimits::default()).unwrap();
        let name = issuer();
        prop_assert_eq!(c.issuer, name.as_slice());
        prop_assert_eq!(c.crl_number, Some(CrlNumber::from_u128(number)));
        prop_assert_eq!(c.base_crl_number, base.map(CrlNumber::from_u128));
        prop_assert_eq!(c.this_update, Timestamp(this));
        prop_assert_eq!(c.next_update, Some(Timestamp(this + 86_400)));
        prop_assert_eq!(c.authority_key_id, Some(&[7u8; 20][..]));
        match (&c.issuing_distribution_point, idp) {
            (None, None) => {}
            (Some(i), Some((user, ca))) => {
                prop_assert_eq!(i.full_name_uris.len(), 2);
                prop_assert_eq!(i.only_user_certs, user);
                prop_assert_eq!(i.only_ca_certs, ca && !user);
            }
            (got, want) => prop_assert!(false, "IDP {:?} vs {:?}", got, want),
        }
        prop_assert_eq!(c.entry_count, list.len());
        let back: Vec<Entry<'_>> = c.entries().collect::<Result<_, _>>().unwrap();
        let want: Vec<Entry<'_>> = list
            .iter()
            .map(|o| Entry {
                reason: o.reason.filter(|r| *r != RevocationReason::Unspecified),
                ..o.entry()
            })
            .collect();
        prop_assert_eq!(&back, &want);

        let table = RevokedTable::from_crl(&c).unwrap();
        for w in &want {
            let got = table.get_integer(w.serial).unwrap();
            // A serial listed twice keeps its earliest revocation.
            let earliest = want
                .iter()
                .filter(|o| o.serial == w.serial)
                .map(|o| o.revocation_date)
                .min()
                .unwrap();
            prop_assert_eq!(got.revocation_date, earliest);
            if want.iter().filter(|o| o.serial == w.serial).count() == 1 {
                prop_assert_eq!(got, *w);
            }
        }
        let listed: Vec<&[u8]> = table.iter().map(|e| e.serial).collect();
        for pair in listed.windows(2) {
            prop_assert!((pair[0].len(), pair[0]) < (pair[1].len(), pair[1]));
        }
        prop_assert_eq!(table.len() + table.duplicates(), list.len());
        // Generated serials are at most 21 octets: a 22-octet one is never listed.
        prop_assert!(table.get_integer(&[0x01; 22]).is_none());
    }

    #[test]
    fn damaged_crls_never_panic(
        list in entries(false),
        cut in any::<prop::sample::Index>(),
        flip in any::<prop::sample::Index>(),
        xor in 1u8..=255,
    ) {
        let der = build(&list, 5, None, Some((true, false)), 1_700_000_000);
        let limits = CrlLimits::default();
        let n = cut.index(der.len());
        prop_assert!(crl::parse(&der[..n], &limits).is_err());
        let mut longer = der.clone();
        longer.push(0);
        prop_assert!(crl::parse(&longer, &limits).is_err());
        let mut bad = der.clone();
        bad[flip.index(der.len())] ^= xor;
        if let Ok(c) = crl::parse(&bad, &limits) {
            let walked = c.entries().count();
            prop_assert_eq!(walked, c.entry_count);
            let _ = RevokedTable::from_crl(&c);
            let _ = c.meta();
        }
    }
}

#[test]
fn limits_are_enforced() {
    let list: Vec<Owned> = (0u8..10)
        .map(|i| Owned {
            serial: vec![i + 1; 3],
            time: 1_700_000_000,
            reason: None,
            invalidity: None,
            hold: None,
        })
        .collect();
    let der = build(&list, 1, None, None, 1_700_000_000);
    let ok = crl::parse(&der, &CrlLimits::default()).unwrap();
    assert_eq!(ok.entry_count, 10);
    let small = CrlLimits {
        max_entries: 9,
        ..CrlLimits::default()
    };
    assert!(matches!(
        crl::parse(&der, &small),
        Err(crl::CrlError::TooManyEntries { max: 9 })
    ));
    let short = CrlLimits {
        max_serial_octets: 2,
        ..CrlLimits::default()
    };
    assert!(matches!(
        crl::parse(&der, &short),
        Err(crl::CrlError::SerialTooLong { .. })
    ));
    let tiny = CrlLimits {
        max_bytes: der.len() - 1,
        ..CrlLimits::default()
    };
    assert!(matches!(
        crl::parse(&der, &tiny),
        Err(crl::CrlError::TooLarge { .. })
    ));
    assert!(matches!(
        crl::decode(&der, &tiny),
        Err(crl::CrlError::TooLarge { .. })
    ));
}
