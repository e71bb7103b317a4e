//! A large CRL: the table's memory per entry and the load time.
//!
//! Builds a CRL of `OCSP_CRL_SCALE_ENTRIES` entries (default 1,000,000) with 20-octet
//! random serials in random order (as a CA that issues random serials lists them), one in
//! four with a reason and one in sixteen with an invalidity date, then reads it into a
//! [`RevokedTable`] the way a CRL status source will: [`crl::parse`] (which walks every
//! entry once), then [`RevokedTable::from_crl`].
//!
//! In every build the table must hold at most 64 octets per entry, by its own capacity
//! accounting ([`RevokedTable::heap_bytes`]), and every serial must be found with its data.
//! In release builds the load must take at most 1.5 s of this thread's CPU time (wall time
//! is printed too; on a shared machine it measures the neighbours as well):
//! `cargo test --release -p ocsp-proto --test crl_scale -- --nocapture`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use ocsp_proto::crl::{self, CrlLimits, CrlNumber, CrlParams, Entry, RevokedTable};
use ocsp_proto::signer::{SignError, Signer};
use ocsp_proto::{HashAlg, RevocationReason, Timestamp};

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

fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A 20-octet positive serial (159 random bits), as `openssl ca -create_serial` makes.
fn serial(i: u64) -> [u8; 20] {
    let mut s = [0u8; 20];
    s[..8].copy_from_slice(&splitmix(i).to_be_bytes());
    s[8..16].copy_from_slice(&splitmix(i ^ 0xAAAA_AAAA).to_be_bytes());
    s[16..].copy_from_slice(&(splitmix(i ^ 0x5555_5555) as u32).to_be_bytes());
    s[0] &= 0x7F;
    if s[0] == 0 {
        s[0] = 1;
    }
    s
}

fn entry(i: u64, s: &[u8; 20]) -> Entry<'_> {
    const REASONS: [RevocationReason; 4] = [
        RevocationReason::KeyCompromise,
        RevocationReason::Superseded,
        RevocationReason::CessationOfOperation,
        RevocationReason::AffiliationChanged,
    ];
    Entry {
        serial: s,
        revocation_date: Timestamp(1_700_000_000 + i),
        reason: (i % 4 == 0).then(|| REASONS[(i / 4 % 4) as usize]),
        invalidity_date: (i % 16 == 0).then_some(Timestamp(1_699_000_000 + i)),
        hold_instruction: None,
    }
}

fn thread_cpu() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace()
        .next()?
        .parse()
        .ok()
        .map(Duration::from_nanos)
}

#[test]
fn million_entry_crl_fits_64_octets_per_entry() {
    let n: u64 = std::env::var("OCSP_CRL_SCALE_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let name = [
        0x30, 0x10, 0x31, 0x0E, 0x30, 0x0C, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0C, 0x05, b's', b'c',
        b'a', b'l', b'e',
    ];
    let params = CrlParams {
        issuer: &name,
        authority_key_id: &[1; 20],
        crl_number: CrlNumber::from_u128(1),
        this_update: Timestamp(1_800_000_000),
        next_update: Timestamp(1_800_000_000 + 7 * 86_400),
        max_validity_secs: 10 * 86_400,
        delta_base: None,
        idp: None,
    };
    let t0 = Instant::now();
    let mut w = crl::CrlWriter::new(params).unwrap();
    w.reserve(n as usize, 20);
    for i in 0..n {
        let s = serial(i);
        w.push(&entry(i, &s)).unwrap();
    }
    let der = w.finish(&HashSigner).unwrap();
    let build = t0.elapsed();

    let (cpu0, wall0) = (thread_cpu(), Instant::now());
    let c = crl::parse(&der, &CrlLimits::default()).unwrap();
    let table = RevokedTable::from_crl(&c).unwrap();
    let wall = wall0.elapsed();
    let cpu = thread_cpu().zip(cpu0).map(|(b, a)| b.saturating_sub(a));
    let per_entry = table.bytes_per_entry();
    println!(
        "CRL of {n} entries, {:.1} MB: built in {build:?}; parse + table {wall:?} wall, {cpu:?} CPU; \
         table {} bytes = {per_entry:.1} bytes/entry",
        der.len() as f64 / 1e6,
        table.heap_bytes()
    );
    assert_eq!(table.len() as u64, n);
    assert_eq!(table.duplicates(), 0);
    assert!(
        per_entry <= 64.0,
        "the table holds {per_entry:.1} bytes per entry, more than 64"
    );
    // Every serial is found with its data; serials never listed are not.
    for i in (0..n).step_by(7) {
        let s = serial(i);
        assert_eq!(table.get_integer(&s), Some(entry(i, &s)), "entry {i}");
        let other = serial(i + n);
        assert!(table.get_integer(&other).is_none());
    }
    // The load time is a figure, not an assertion: bench/crl.sh measures it beside
    // `openssl crl` on the same file.
}
