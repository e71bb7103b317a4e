//! CRL build and load figures, for `bench/crl.sh`.
//!
//! ```text
//! crl_bench build KEY.pem CA.pem ENTRIES OUT.der   build and sign a CRL (P-256 PKCS#8 key)
//! crl_bench load CRL [CA.pem]                       read, (verify,) parse, table
//! ```
//!
//! `build` makes ENTRIES entries with 20-octet random serials in random order (one in four
//! with a reason, one in sixteen with an invalidity date), then times the writer and the
//! signature: what `ocsp crl` will spend once it has its entries. `load` times reading the
//! file, decoding PEM if needed, parsing (every entry walked once), verifying the signature
//! when a CA certificate is given, and building the [`RevokedTable`]; it prints the table's
//! bytes per entry and the process's resident memory. Output is `key=value` lines.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use ocsp_proto::crl::{self, CrlLimits, CrlNumber, CrlParams, Entry, RevokedTable};
use ocsp_proto::der::{Decode, Encode};
use ocsp_proto::signer::{SignError, Signer};
use ocsp_proto::x509_cert::Certificate;
use ocsp_proto::{RevocationReason, Timestamp};

struct P256(aws_lc_rs::signature::EcdsaKeyPair);

impl Signer for P256 {
    fn algorithm(&self) -> ocsp_proto::spki::AlgorithmIdentifierOwned {
        ocsp_proto::spki::AlgorithmIdentifierOwned {
            oid: ocsp_proto::const_oid::db::rfc5912::ECDSA_WITH_SHA_256,
            parameters: None,
        }
    }
    fn public_key_der(&self) -> &[u8] {
        &[]
    }
    fn sign(&self, tbs: &[u8]) -> Result<Vec<u8>, SignError> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        self.0
            .sign(&rng, tbs)
            .map(|s| s.as_ref().to_vec())
            .map_err(|e| SignError(e.to_string()))
    }
    fn describe(&self) -> String {
        "P-256".into()
    }
}

fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

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

fn rss() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or("?")
            .to_string()
    };
    format!("rss_kb={} peak_rss_kb={}", field("VmRSS:"), field("VmHWM:"))
}

fn pem_der(path: &str) -> Vec<u8> {
    let text = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    ocsp_proto::der::pem::decode_vec(&text)
        .unwrap_or_else(|e| panic!("{path}: not PEM: {e}"))
        .1
}

fn now() -> Timestamp {
    Timestamp(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
}

fn build(key: &str, ca: &str, n: u64, out: &str) {
    let signer = P256(
        aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            &pem_der(key),
        )
        .expect("a P-256 PKCS#8 key"),
    );
    let ca = Certificate::from_der(&pem_der(ca)).expect("a CA certificate");
    let issuer = ca.tbs_certificate.subject.to_der().unwrap();
    let aki = crl::authority_key_id(&ca);
    let serials: Vec<[u8; 20]> = (0..n).map(serial).collect();
    const REASONS: [RevocationReason; 4] = [
        RevocationReason::KeyCompromise,
        RevocationReason::Superseded,
        RevocationReason::CessationOfOperation,
        RevocationReason::AffiliationChanged,
    ];
    let this = now();
    let t0 = Instant::now();
    let params = CrlParams {
        issuer: &issuer,
        authority_key_id: &aki,
        crl_number: CrlNumber::from_u128(u128::from(this.0) * 1_000_000_000),
        this_update: this,
        next_update: this.plus(7 * 86_400),
        max_validity_secs: 10 * 86_400,
        delta_base: None,
        idp: None,
    };
    let mut w = crl::CrlWriter::new(params).unwrap();
    w.reserve(serials.len(), 20);
    for (i, s) in serials.iter().enumerate() {
        let i = i as u64;
        w.push(&Entry {
            serial: s,
            revocation_date: Timestamp(this.0 - 86_400 - i % 1_000_000),
            reason: (i % 4 == 0).then(|| REASONS[(i / 4 % 4) as usize]),
            invalidity_date: (i % 16 == 0).then_some(Timestamp(this.0 - 2 * 86_400)),
            hold_instruction: None,
        })
        .unwrap();
    }
    let der = w.finish(&signer).unwrap();
    let took = t0.elapsed();
    std::fs::write(out, &der).unwrap();
    println!(
        "build entries={n} bytes={} seconds={:.3} {}",
        der.len(),
        took.as_secs_f64(),
        rss()
    );
}

fn load(path: &str, ca: Option<&str>) {
    let before = rss();
    let t0 = Instant::now();
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let read = t0.elapsed();
    let limits = CrlLimits::default();
    let t1 = Instant::now();
    let der = crl::decode(&bytes, &limits).unwrap();
    let c = crl::parse(&der, &limits).unwrap();
    let parse = t1.elapsed();
    let t2 = Instant::now();
    if let Some(ca) = ca {
        let ca = Certificate::from_der(&pem_der(ca)).expect("a CA certificate");
        crl::verify_issued_by(&c, &ca).unwrap();
    }
    let verify = t2.elapsed();
    let t3 = Instant::now();
    let table = RevokedTable::from_crl(&c).unwrap();
    let tab = t3.elapsed();
    let total = t0.elapsed();
    println!(
        "load entries={} bytes={} read_s={:.3} parse_s={:.3} verify_s={:.3} table_s={:.3} total_s={:.3} \
         table_bytes={} bytes_per_entry={:.1} {} before_{}",
        table.len(),
        bytes.len(),
        read.as_secs_f64(),
        parse.as_secs_f64(),
        verify.as_secs_f64(),
        tab.as_secs_f64(),
        total.as_secs_f64(),
        table.heap_bytes(),
        table.bytes_per_entry(),
        rss(),
        before.replace(' ', " before_"),
    );
    drop(c);
    drop(der);
    drop(bytes);
    println!("table_only {}", rss());
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["build", key, ca, n, out] => build(key, ca, n.parse().expect("ENTRIES"), out),
        ["load", path] => load(path, None),
        ["load", path, ca] => load(path, Some(ca)),
        _ => {
            eprintln!(
                "usage: crl_bench build KEY.pem CA.pem ENTRIES OUT.der | crl_bench load CRL [CA.pem]"
            );
            std::process::exit(2);
        }
    }
}
