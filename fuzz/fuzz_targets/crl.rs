//! The CRL reader, table and builder on arbitrary bytes:
//! - the input as a CRL (PEM or DER): never panics; when accepted, the TBS octets are a
//!   slice of the input, the entry walk sees exactly `entry_count` valid entries, the table
//!   built from it finds every serial and counts every entry once (listed or merged), and,
//!   when the CRL's fields fit the builder's profile, rebuilding it from what was read and
//!   reading that back gives the same fields and entries (an `unspecified` reason comes back
//!   absent), and rebuilding the rebuilt CRL gives the same octets;
//! - the input as a list of entries (fixed-size records): a CRL built from them reads back
//!   to the same entries, and the table of a delta CRL built from the second half applies
//!   on the table of the first without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ocsp_proto::crl::{
    self, Crl, CrlLimits, CrlNumber, CrlParams, Entry, HoldInstruction, IdpParams, RevokedTable,
};
use ocsp_proto::signer::{SignError, Signer};
use ocsp_proto::{HashAlg, RevocationReason, Timestamp};

struct HashSigner;
impl Signer for HashSigner {
    fn algorithm(&self) -> ocsp_proto::spki::AlgorithmIdentifierOwned {
        ocsp_proto::spki::AlgorithmIdentifierOwned {
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

fn limits() -> CrlLimits {
    CrlLimits {
        max_bytes: 1 << 20,
        max_entries: 100_000,
        max_serial_octets: 32,
    }
}

/// What a rebuilt CRL must read back as, from the original's entry.
fn expected<'a>(e: &Entry<'a>) -> Entry<'a> {
    Entry {
        reason: e.reason.filter(|r| *r != RevocationReason::Unspecified),
        ..*e
    }
}

/// Rebuild `c` with the builder, when its fields fit the builder's profile.
fn rebuild(c: &Crl<'_>) -> Option<Vec<u8>> {
    let next = c.next_update.filter(|n| *n > c.this_update)?;
    let aki = c.authority_key_id.filter(|a| !a.is_empty())?;
    let number = c.crl_number?;
    let uris: Vec<&str>;
    let idp = match &c.issuing_distribution_point {
        None => None,
        Some(i) => {
            if i.other_names
                || i.full_name_uris.is_empty()
                || i.full_name_uris.iter().any(|u| u.is_empty())
                || i.only_some_reasons.is_some()
                || i.only_attribute_certs
                || (i.only_user_certs && i.only_ca_certs)
            {
                return None;
            }
            uris = i.full_name_uris.iter().map(String::as_str).collect();
            Some(IdpParams {
                full_name_uris: &uris,
                only_user_certs: i.only_user_certs,
                only_ca_certs: i.only_ca_certs,
            })
        }
    };
    if c.base_crl_number.is_some_and(|b| b >= number) {
        return None;
    }
    let params = CrlParams {
        issuer: c.issuer,
        authority_key_id: aki,
        crl_number: number,
        this_update: c.this_update,
        next_update: next,
        max_validity_secs: u64::MAX,
        delta_base: c.base_crl_number,
        idp,
    };
    let mut w = crl::CrlWriter::new(params).ok()?;
    for e in c.entries() {
        let e = e.expect("a parsed CRL's entries walk");
        // Negative serials and removeFromCRL in a complete CRL are refused by design.
        if w.push(&e).is_err() {
            assert!(
                e.serial[0] & 0x80 != 0
                    || (e.reason == Some(RevocationReason::RemoveFromCrl) && !c.is_delta()),
                "the builder refused an entry the reader accepted: {e:?}"
            );
            return None;
        }
    }
    Some(w.finish(&HashSigner).expect("hash signer"))
}

fn check_crl(data: &[u8]) {
    let Ok(der) = crl::decode(data, &limits()) else {
        return;
    };
    let Ok(c) = crl::parse(&der, &limits()) else {
        return;
    };
    let start = c.tbs.as_ptr() as usize - der.as_ptr() as usize;
    assert_eq!(&der[start..start + c.tbs.len()], c.tbs);
    let entries: Vec<Entry<'_>> = c
        .entries()
        .collect::<Result<_, _>>()
        .expect("a parsed CRL's entries walk");
    assert_eq!(entries.len(), c.entry_count);
    let meta = c.meta();
    assert_eq!(meta.entry_count, c.entry_count);
    if let Ok(t) = RevokedTable::from_crl(&c) {
        assert_eq!(t.len() + t.duplicates(), entries.len());
        for e in &entries {
            let got = t.get_integer(e.serial).expect("every listed serial is found");
            assert!(got.revocation_date <= e.revocation_date);
        }
        let _ = t.apply_delta(&t);
    }
    let _ = crl::check_delta(&meta, &meta);

    if let Some(built) = rebuild(&c) {
        let b = crl::parse(&built, &CrlLimits::default()).expect("a rebuilt CRL parses");
        assert_eq!(b.issuer, c.issuer);
        assert_eq!(b.this_update, c.this_update);
        assert_eq!(b.next_update, c.next_update);
        assert_eq!(b.crl_number, c.crl_number);
        assert_eq!(b.base_crl_number, c.base_crl_number);
        assert_eq!(b.authority_key_id, c.authority_key_id);
        match (&b.issuing_distribution_point, &c.issuing_distribution_point) {
            (Some(x), Some(y)) => {
                assert_eq!(x.full_name_uris, y.full_name_uris);
                assert_eq!(x.only_user_certs, y.only_user_certs);
                assert_eq!(x.only_ca_certs, y.only_ca_certs);
            }
            (None, None) => {}
            (x, y) => panic!("IDP {x:?} rebuilt from {y:?}"),
        }
        let back: Vec<Entry<'_>> = b.entries().collect::<Result<_, _>>().expect("walk");
        let want: Vec<Entry<'_>> = entries.iter().map(expected).collect();
        assert_eq!(back, want);
        let again = rebuild(&b).expect("a rebuilt CRL rebuilds");
        assert_eq!(again, built, "rebuilding is deterministic");
    }
}

/// Entries from fixed 16-octet records: serial length and octets, time, reason, flags.
fn check_build(data: &[u8]) {
    let name = [0x30, 0x00];
    let mut serials: Vec<Vec<u8>> = Vec::new();
    let mut rest: Vec<(u64, Option<RevocationReason>, Option<u64>, Option<HoldInstruction>)> =
        Vec::new();
    for r in data.chunks_exact(16).take(512) {
        let len = 1 + usize::from(r[0] % 10);
        let mut s: Vec<u8> = r[1..1 + len].to_vec();
        // A positive minimal INTEGER.
        while s.len() > 1 && s[0] == 0 && s[1] & 0x80 == 0 {
            s.remove(0);
        }
        if s[0] & 0x80 != 0 {
            s.insert(0, 0);
        }
        serials.push(s);
        let time = u64::from(u32::from_be_bytes([r[11], r[12], r[13], r[14]])) * 3;
        let reason = RevocationReason::from_code(r[15] & 0x0F)
            .filter(|r| *r != RevocationReason::RemoveFromCrl);
        let invalidity = (r[15] & 0x10 != 0).then_some(time / 2);
        let hold = HoldInstruction::from_code((r[15] >> 5) & 3);
        rest.push((time, reason, invalidity, hold));
    }
    let entries: Vec<Entry<'_>> = serials
        .iter()
        .zip(&rest)
        .map(|(s, (t, reason, inv, hold))| Entry {
            serial: s,
            revocation_date: Timestamp(*t),
            reason: *reason,
            invalidity_date: inv.map(Timestamp),
            hold_instruction: *hold,
        })
        .collect();
    let params = |number: u128, delta: Option<u128>| CrlParams {
        issuer: &name,
        authority_key_id: &[1, 2, 3],
        crl_number: CrlNumber::from_u128(number),
        this_update: Timestamp(1_700_000_000),
        next_update: Timestamp(1_700_086_400),
        max_validity_secs: 86_400,
        delta_base: delta.map(CrlNumber::from_u128),
        idp: None,
    };
    let half = entries.len() / 2;
    let full = crl::build(params(5, None), entries[..half].iter().copied(), &HashSigner)
        .expect("valid entries build");
    let c = crl::parse(&full, &CrlLimits::default()).expect("a built CRL parses");
    let back: Vec<Entry<'_>> = c.entries().collect::<Result<_, _>>().expect("walk");
    let want: Vec<Entry<'_>> = entries[..half].iter().map(expected).collect();
    assert_eq!(back, want);
    let base = RevokedTable::from_crl(&c).expect("table");

    let delta = crl::build(params(6, Some(5)), entries[half..].iter().copied(), &HashSigner)
        .expect("valid entries build");
    let d = crl::parse(&delta, &CrlLimits::default()).expect("a built delta parses");
    crl::check_delta(&c.meta(), &d.meta()).expect("a delta on its base");
    let dt = RevokedTable::from_crl(&d).expect("delta table");
    let merged = base.apply_delta(&dt).expect("merge");
    for e in dt.iter() {
        assert_eq!(merged.get_integer(e.serial), Some(e));
    }
}

fuzz_target!(|data: &[u8]| {
    check_crl(data);
    check_build(data);
});
