//! Micro-benchmarks of the request path (divan): request parsing, status lookup, a cache
//! hit, building and signing a response per key algorithm, and index.txt parsing per MB.
//!
//! `cargo bench -p ocsp-responder --bench micro` (release); under `cargo test` each runs once.
//! Keys are generated at start, never stored.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use der::Decode;
use divan::{black_box, Bencher};
use ocsp_proto::request::{self, ParsedRequest, RequestLimits};
use ocsp_proto::response::{build_signed, ResponderIdKind, ResponseParams, SingleAnswer};
use ocsp_proto::signer::Signer;
use ocsp_proto::{cert_id, CertStatus, HashAlg, Serial, Timestamp};
use ocsp_responder::config::UnknownSerial;
use ocsp_responder::issuer::IssuerSet;
use ocsp_responder::source::cache::{CacheOptions, CachedSource};
use ocsp_responder::source::live::LiveSource;
use ocsp_responder::source::signing::SigningPool;
use ocsp_responder::source::{Answer, ResponseSource, SourceError};
use ocsp_signer::{SignOptions, SoftwareSigner};
use ocsp_status::index_txt::{self, IndexTxtSource};
use ocsp_status::StatusSource;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use test_support::inproc;
use test_support::status::MemSource;
use x509_cert::Certificate;

fn main() {
    divan::main();
}

/// A CA whose own key (of `alg`) signs.
struct Ca {
    cert: Certificate,
    signer: Arc<dyn Signer>,
}

fn ca(alg: &'static rcgen::SignatureAlgorithm) -> Ca {
    let kp = rcgen::KeyPair::generate_for(alg).unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Bench CA");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let cert = params.self_signed(&kp).unwrap();
    let signer = SoftwareSigner::from_bytes(
        Path::new("bench.key"),
        kp.serialize_pem().as_bytes(),
        None,
        SignOptions::default(),
    )
    .unwrap();
    Ca {
        cert: Certificate::from_der(cert.der()).unwrap(),
        signer: Arc::new(signer),
    }
}

fn rsa_ca() -> &'static Ca {
    static CA: OnceLock<Ca> = OnceLock::new();
    CA.get_or_init(|| ca(&rcgen::PKCS_RSA_SHA256))
}

fn request_der(ca: &Certificate, serial: &str, nonce: bool) -> Vec<u8> {
    let id = cert_id::cert_id(ca, &Serial::from_hex(serial).unwrap(), HashAlg::Sha1).unwrap();
    request::build(&[id], nonce.then_some(&[7u8; 32][..])).unwrap()
}

// ------------------------------------------------------------ request parsing

#[divan::bench(args = [false, true])]
fn parse_request(b: Bencher<'_, '_>, nonce: bool) {
    let der = request_der(&rsa_ca().cert, "0123456789ABCDEF0123456789ABCDEF", nonce);
    let lim = RequestLimits::default();
    b.bench(|| request::parse(black_box(&der), &lim).unwrap());
}

// ------------------------------------------------------------ build and sign

#[divan::bench(args = ["rsa2048", "p256", "p384", "ed25519"])]
fn build_and_sign(b: Bencher<'_, '_>, alg: &str) {
    let ca = match alg {
        "rsa2048" => ca(&rcgen::PKCS_RSA_SHA256),
        "p256" => ca(&rcgen::PKCS_ECDSA_P256_SHA256),
        "p384" => ca(&rcgen::PKCS_ECDSA_P384_SHA384),
        _ => ca(&rcgen::PKCS_ED25519),
    };
    let id = cert_id::cert_id(&ca.cert, &Serial::from_hex("1000").unwrap(), HashAlg::Sha1).unwrap();
    let rid = ResponderIdKind::by_key(&ca.cert).unwrap();
    let answers = [SingleAnswer {
        cert_id: id,
        status: CertStatus::Good,
        this_update: Timestamp(1_800_000_000),
        next_update: Some(Timestamp(1_800_086_400)),
    }];
    b.bench(|| {
        let p = ResponseParams {
            responder_id: &rid,
            produced_at: Timestamp(1_800_000_000),
            answers: &answers,
            nonce: Some(&[1u8; 32]),
            extended_revoke: false,
            certs: &[],
        };
        build_signed(&p, ca.signer.as_ref()).unwrap()
    });
}

// ------------------------------------------------------------ index.txt

fn index_text(entries: usize) -> Vec<u8> {
    let mut s = String::with_capacity(entries * 80);
    for i in 0..entries {
        if i % 10 == 0 {
            s.push_str(&format!(
                "R\t301231235959Z\t250101000000Z,keyCompromise\t01{i:030X}\tunknown\t/CN=bench-{i}\n"
            ));
        } else {
            s.push_str(&format!(
                "V\t301231235959Z\t\t01{i:030X}\tunknown\t/CN=bench-{i}\n"
            ));
        }
    }
    s.into_bytes()
}

/// Parsing throughput: divan reports bytes/s (one iteration = one ~1 MB file).
#[divan::bench]
fn index_parse_1mb(b: Bencher<'_, '_>) {
    let text = index_text(13_000);
    b.counter(divan::counter::BytesCount::new(text.len()))
        .bench(|| index_txt::parse(black_box(&text), Path::new("index.txt")).unwrap());
}

struct Fixture {
    _dir: tempfile::TempDir,
    source: Arc<IndexTxtSource>,
    rt: tokio::runtime::Runtime,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("index.txt");
        std::fs::write(&p, index_text(100_000)).unwrap();
        let source = IndexTxtSource::open(&p).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        Fixture {
            _dir: dir,
            source,
            rt,
        }
    })
}

/// A status lookup in a 100,000-entry index (includes its freshness check).
#[divan::bench]
fn index_lookup(b: Bencher<'_, '_>) {
    let f = fixture();
    let serial = Serial::from_hex(&format!("01{:030X}", 4321)).unwrap();
    b.bench(|| f.rt.block_on(f.source.status(black_box(&serial))).unwrap());
}

/// The freshness check every cache hit makes.
#[divan::bench]
fn index_generation(b: Bencher<'_, '_>) {
    let f = fixture();
    b.bench(|| f.rt.block_on(f.source.generation()).unwrap());
}

// ------------------------------------------------------------ cache hit

/// A status source that never changes (every serial good, one generation): isolates the
/// cache's own cost.
fn fixed() -> Arc<MemSource> {
    MemSource::new()
        .otherwise(CertStatus::Good)
        .described("fixed")
        .shared()
}

/// The filter → cache → live chain `setup` builds, and the cache for its counters.
struct Chain {
    source: Arc<dyn ResponseSource>,
    cache: Arc<CachedSource>,
}

impl std::ops::Deref for Chain {
    type Target = CachedSource;
    fn deref(&self) -> &CachedSource {
        &self.cache
    }
}

impl Chain {
    async fn response(&self, req: &ParsedRequest) -> Result<Arc<Answer>, SourceError> {
        self.source.response(req).await
    }
}

fn cache_with(status: Arc<dyn StatusSource>) -> (Chain, tokio::runtime::Runtime) {
    let ca = rsa_ca();
    let issuer = inproc::issuer(
        "bench",
        &ca.cert,
        ca.signer.clone(),
        status,
        86_400,
        UnknownSerial::Unknown,
    );
    let issuers = Arc::new(IssuerSet::new(vec![issuer]).unwrap());
    let live = Arc::new(LiveSource::new(
        issuers.clone(),
        SigningPool::new(1, 16).unwrap(),
    ));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (source, cache) = ocsp_responder::setup::chain(
        &issuers,
        live,
        ocsp_responder::clock::system(),
        Some(CacheOptions::default()),
    );
    let cache = cache.unwrap();
    (Chain { source, cache }, rt)
}

fn parsed(der: &[u8]) -> ParsedRequest {
    request::parse(der, &RequestLimits::default()).unwrap()
}

/// A hit: no signature; the generation check of a fixed source.
#[divan::bench]
fn cache_hit(b: Bencher<'_, '_>) {
    let (cache, rt) = cache_with(fixed());
    let req = parsed(&request_der(
        &rsa_ca().cert,
        "01000000000000000000000000000042",
        false,
    ));
    rt.block_on(cache.response(&req)).unwrap();
    b.bench(|| rt.block_on(cache.response(black_box(&req))).unwrap());
    assert_eq!(cache.stats().misses(), 1);
}

/// A hit backed by a real 100,000-entry index (its freshness check stats the file).
#[divan::bench]
fn cache_hit_index(b: Bencher<'_, '_>) {
    let f = fixture();
    let (cache, rt) = cache_with(f.source.clone());
    let req = parsed(&request_der(
        &rsa_ca().cert,
        &format!("01{:030X}", 4321),
        false,
    ));
    rt.block_on(cache.response(&req)).unwrap();
    b.bench(|| rt.block_on(cache.response(black_box(&req))).unwrap());
}

/// Parse + hit, from DER bytes to answer bytes (what a GET costs apart from HTTP).
#[divan::bench]
fn parse_and_hit(b: Bencher<'_, '_>) {
    let (cache, rt) = cache_with(fixed());
    let der = request_der(&rsa_ca().cert, "01000000000000000000000000000042", false);
    rt.block_on(cache.response(&parsed(&der))).unwrap();
    b.bench(|| {
        let req = parsed(black_box(&der));
        rt.block_on(cache.response(&req)).unwrap().der.len()
    });
}

// ------------------------------------------------------------ response store

/// Loading a response store of 1,000 RSA-2048 answers (parse, signature check, status
/// check, insert): per-record cost of `ocsp serve --store` at start.
#[divan::bench(sample_count = 10)]
fn store_load_1k(b: Bencher<'_, '_>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.store");
    let (cache, rt) = cache_with(fixed());
    let issuer = cache.issuers().iter().next().unwrap().clone();
    for i in 0..1000u32 {
        let serial = Serial::from_hex(&format!("01{i:030X}")).unwrap();
        rt.block_on(cache.warm(&issuer, &serial, HashAlg::Sha1))
            .unwrap();
    }
    assert_eq!(cache.save_store(&path).unwrap(), 1000);
    b.counter(divan::counter::ItemsCount::new(1000usize))
        .with_inputs(|| cache_with(fixed()))
        .bench_values(|(c, rt)| {
            let r = rt.block_on(c.load_store(&path)).unwrap();
            assert_eq!(r.loaded, 1000);
        });
}
