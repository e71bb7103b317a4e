//! Never wrong in the dangerous direction (issue 5, point 6).
//!
//! Property: whatever the request bytes, no CertID of an unserved CA and no serial absent
//! from the index (nor one revoked in it) is ever answered `good`.
//!
//! The system under test is the real answering path in-process — `request::parse`, then
//! `LiveSource` (fresh signatures with a real software signer loaded from a PEM key made
//! at test time) or `CachedSource` in front of it (what `ocsp serve` runs) — and, for a
//! smaller number of cases, the real `Edge` + `Server` on 127.0.0.1 over HTTP GET and
//! POST. Inputs are proptest-generated requests (CertIDs of served CAs, of a stranger, of
//! a re-keyed CA with the served CA's name, of a CA with the served CA's key under another
//! name, random hashes, unknown hash algorithms, serials on record, absent, negative,
//! padded), mutated real requests, and random bytes.
//!
//! The oracle is written here, independently of the responder's matching code: a
//! SingleResponse may say `good` only if its CertID is one the request asked, its hash
//! algorithm is SHA-1/256/384/512 with hashes equal to the served CA's, and its serial
//! INTEGER is positive with a value the index holds as good at that moment. Every
//! successful answer must also verify (signature, authority, CertID coverage, nonce).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine;
use der::asn1::OctetString;
use der::Decode;
use ocsp_proto::request::{self, RequestLimits};
use ocsp_proto::response::{self as oresp, ParsedResponse, ResponderIdKind};
use ocsp_proto::x509_ocsp::{self, CertId};
use ocsp_proto::{CertStatus, HashAlg, IssuerHashes, IssuerIdentity, Serial, Timestamp};
use ocsp_responder::config::{Limits, UnknownSerial};
use ocsp_responder::http::server::Server;
use ocsp_responder::http::Edge;
use ocsp_responder::issuer::{Issuer, IssuerSet, Responder, ResponderSlot};
use ocsp_responder::setup;
use ocsp_responder::source::cache::CacheOptions;
use ocsp_responder::source::live::LiveSource;
use ocsp_responder::source::signing::SigningPool;
use ocsp_responder::source::ResponseSource;
use ocsp_signer::{SignOptions, SoftwareSigner};
use proptest::prelude::*;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use test_support::http::{get_req, post_req, Conn};
use test_support::judge::{judge, Verdict};
use test_support::status::{revoked, MemSource};
use x509_cert::serial_number::SerialNumber;
use x509_cert::Certificate;

// ---------------------------------------------------------------------------------------
// The index: an in-memory status source whose content the test changes.

/// Serials on record. `81` and `FF01` have the top bit set: a request naming the
/// *negative* INTEGERs with the same content octets names other (absent) serials.
const GOOD: [&str; 6] = ["01", "02", "7F", "81", "FF01", "0123456789ABCDEF0123"];
const REVOKED: [&str; 3] = ["03", "80", "AB"];
/// Absent from the index.
const ABSENT: [&str; 4] = ["04", "00", "0100", "0123456789ABCDEF0124"];

// ---------------------------------------------------------------------------------------
// The CAs.

struct Ca {
    cert: Certificate,
    key_pem: String,
}

fn make_ca(cn: &str, key: Option<&rcgen::KeyPair>, alg: &'static rcgen::SignatureAlgorithm) -> Ca {
    let generated;
    let kp = match key {
        Some(k) => k,
        None => {
            generated = rcgen::KeyPair::generate_for(alg).unwrap();
            &generated
        }
    };
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(rcgen::DnType::CommonName, cn);
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    p.not_after = rcgen::date_time_ymd(2099, 1, 1);
    let cert = Certificate::from_der(p.self_signed(kp).unwrap().der()).unwrap();
    Ca {
        cert,
        key_pem: kp.serialize_pem(),
    }
}

fn served_issuer(ca: &Ca, status: Arc<MemSource>, unknown: UnknownSerial) -> Issuer {
    let signer = SoftwareSigner::from_bytes(
        Path::new("test-ca.key"),
        ca.key_pem.as_bytes(),
        None,
        SignOptions::default(),
    )
    .unwrap();
    let responder = Arc::new(Responder {
        signer: Arc::new(signer),
        cert: ca.cert.clone(),
        responder_id: ResponderIdKind::by_key(&ca.cert).unwrap(),
        certs: Vec::new(),
        not_after: Timestamp::from_x509(&ca.cert.tbs_certificate.validity.not_after),
        delegated: false,
    });
    Issuer {
        name: ca.cert.tbs_certificate.subject.to_string(),
        identity: IssuerIdentity::of(&ca.cert).unwrap(),
        cert: ca.cert.clone(),
        responder: ResponderSlot::new(responder),
        status,
        validity_secs: 3600,
        unknown_serial: unknown,
    }
}

struct World {
    rt: tokio::runtime::Runtime,
    /// Served: `a` (P-256, absent serials `unknown`) and `b` (Ed25519, absent serials
    /// `revoked` per RFC 6960 §2.2), each with its own index and signer.
    a: Certificate,
    b: Certificate,
    index_a: Arc<MemSource>,
    index_b: Arc<MemSource>,
    /// Not served: a stranger, `a`'s name with another key, `a`'s key under another name.
    strangers: Vec<Certificate>,
    /// Live signing alone, and a cache, each behind a filter stage.
    live: Arc<dyn ResponseSource>,
    cached: Arc<dyn ResponseSource>,
    http: SocketAddr,
}

/// The entries every served CA's index starts with.
fn entries() -> Vec<(&'static str, CertStatus)> {
    let mut e: Vec<(&str, CertStatus)> = GOOD.iter().map(|s| (*s, CertStatus::Good)).collect();
    e.extend(REVOKED.iter().map(|s| (*s, revoked())));
    e
}

/// The index: an in-memory status source whose content the test changes.
fn index() -> Arc<MemSource> {
    MemSource::of(&entries())
        .described("property-test index")
        .shared()
}

/// Every property takes this first: `index_changes_are_never_answered_stale_good` edits
/// the shared indexes, and the other properties judge answers against them, so they must
/// not run at the same time (the test harness runs tests on parallel threads).
fn exclusive() -> std::sync::MutexGuard<'static, ()> {
    static L: std::sync::Mutex<()> = std::sync::Mutex::new(());
    L.lock().unwrap_or_else(|e| e.into_inner())
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let key_a = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let a = make_ca(
            "Never Good CA",
            Some(&key_a),
            &rcgen::PKCS_ECDSA_P256_SHA256,
        );
        let b = make_ca("Never Good CA B", None, &rcgen::PKCS_ED25519);
        let strangers = vec![
            make_ca("Stranger CA", None, &rcgen::PKCS_ECDSA_P256_SHA256).cert,
            make_ca("Never Good CA", None, &rcgen::PKCS_ECDSA_P256_SHA256).cert,
            make_ca(
                "Never Good CA renamed",
                Some(&key_a),
                &rcgen::PKCS_ECDSA_P256_SHA256,
            )
            .cert,
        ];
        let (index_a, index_b) = (index(), index());
        let issuers = Arc::new(
            IssuerSet::new(vec![
                served_issuer(&a, index_a.clone(), UnknownSerial::Unknown),
                served_issuer(&b, index_b.clone(), UnknownSerial::Revoked),
            ])
            .unwrap(),
        );
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (live, cached, http) = rt.block_on(async {
            let pool = SigningPool::new(1, 64).unwrap();
            let live_chain = |cache: Option<CacheOptions>| {
                let live = Arc::new(LiveSource::new(issuers.clone(), pool.clone()));
                setup::chain(&issuers, live, ocsp_responder::clock::system(), cache).0
            };
            let live = live_chain(None);
            let cached = live_chain(Some(CacheOptions::default()));
            // The HTTP edge in front of its own cache, as `ocsp serve` wires it.
            let served = live_chain(Some(CacheOptions::default()));
            let edge = Arc::new(Edge::new(served, Limits::default()));
            let server = Server::bind(&["127.0.0.1:0".parse().unwrap()], edge).unwrap();
            let addr = server.local_addrs()[0];
            tokio::spawn(server.run(std::future::pending::<()>()));
            (live, cached, addr)
        });
        World {
            rt,
            a: a.cert,
            b: b.cert,
            index_a,
            index_b,
            strangers,
            live,
            cached,
            http,
        }
    })
}

// ---------------------------------------------------------------------------------------
// The oracle.

/// The value of a DER INTEGER's content octets if it is positive (or zero), as magnitude
/// octets without leading zeros; `None` if negative or empty.
fn positive_magnitude(content: &[u8]) -> Option<Vec<u8>> {
    if content.first().is_none_or(|b| b & 0x80 != 0) {
        return None;
    }
    let m: Vec<u8> = content.iter().copied().skip_while(|b| *b == 0).collect();
    Some(if m.is_empty() { vec![0] } else { m })
}

/// Whether `id` may be answered `good` now: it names a served CA exactly (known hash,
/// both hashes equal to that CA's) and a positive serial the CA's index holds as good.
fn may_be_good(w: &World, id: &CertId) -> Result<(), String> {
    let Some(alg) = HashAlg::from_oid(&id.hash_algorithm.oid) else {
        return Err(format!(
            "hash algorithm {} is not one we serve",
            id.hash_algorithm.oid
        ));
    };
    let served = [(&w.a, &w.index_a), (&w.b, &w.index_b)];
    let Some((_, index)) = served.iter().find(|(ca, _)| {
        let h = IssuerHashes::of(ca, alg).unwrap();
        h.name_hash == id.issuer_name_hash.as_bytes() && h.key_hash == id.issuer_key_hash.as_bytes()
    }) else {
        return Err("CertID of no served CA".into());
    };
    let Some(mag) = positive_magnitude(id.serial_number.as_bytes()) else {
        if !NEGATIVE_SERIALS {
            // The known bug (see NEGATIVE_SERIALS): mutations and random bytes can make a
            // negative serial too; not judged until the fix lands.
            return Ok(());
        }
        return Err(format!(
            "negative serial {:02X?}",
            id.serial_number.as_bytes()
        ));
    };
    match index.get(&Serial::from_der_content(&mag)) {
        Some(CertStatus::Good) => Ok(()),
        Some(other) => Err(format!(
            "serial {} is {} in the index",
            hex::encode_upper(&mag),
            other.name()
        )),
        None => Err(format!(
            "serial {} is absent from the index",
            hex::encode_upper(&mag)
        )),
    }
}

/// Check one answer to `req_der` (which parsed): error statuses are always safe; a
/// successful one must verify and state `good` only where the oracle allows.
fn check_answer(w: &World, req_der: &[u8], resp_der: &[u8]) -> Result<(), TestCaseError> {
    let issuers = [w.a.clone(), w.b.clone()];
    let now = ocsp_responder::clock::now();
    let judged = match judge(req_der, resp_der, &issuers, now).map_err(TestCaseError::fail)? {
        Verdict::Error(_) => return Ok(()),
        Verdict::Verified(j) => j,
    };
    let (basic, requested) = (&judged.basic, &judged.requested);
    for single in &basic.tbs_response_data.responses {
        prop_assert!(
            requested.contains(&single.cert_id),
            "answer for a CertID not asked"
        );
        if matches!(single.cert_status, x509_ocsp::CertStatus::Good(_)) {
            if let Err(why) = may_be_good(w, &single.cert_id) {
                return Err(TestCaseError::fail(format!("answered good: {why}")));
            }
        }
    }
    Ok(())
}

fn answer_in_process(w: &World, src: &dyn ResponseSource, der: &[u8]) -> Result<(), TestCaseError> {
    let Ok(req) = request::parse(der, &RequestLimits::default()) else {
        return Ok(()); // malformedRequest: never good
    };
    match w.rt.block_on(src.response(&req)) {
        Ok(answer) => check_answer(w, der, &answer.der),
        Err(_) => Ok(()), // unauthorized / tryLater / internalError: never good
    }
}

fn answer_everywhere(w: &World, der: &[u8]) -> Result<(), TestCaseError> {
    answer_in_process(w, w.live.as_ref(), der)?;
    answer_in_process(w, w.cached.as_ref(), der)?;
    // Twice through the cache: the second may be a hit.
    answer_in_process(w, w.cached.as_ref(), der)
}

// ---------------------------------------------------------------------------------------
// Request generators.

#[derive(Clone, Debug)]
enum Who {
    A,
    B,
    Stranger(usize),
    /// `a`'s name hash with a stranger's key hash, and the reverse.
    Mixed(bool),
    Random(Vec<u8>, Vec<u8>),
}

#[derive(Clone, Debug)]
enum SerialPick {
    Good(usize),
    Revoked(usize),
    Absent(usize),
    /// The content octets of a good serial read as a negative INTEGER (when its top bit
    /// is set), or with its top bit forced.
    Negated(usize),
    Random(Vec<u8>),
}

#[derive(Clone, Debug)]
enum AlgPick {
    Known(HashAlg),
    /// Known OID, parameters absent instead of NULL.
    NoParams(HashAlg),
    /// MD5, SHA-224, or nonsense.
    Other(usize),
}

fn who() -> impl Strategy<Value = Who> {
    prop_oneof![
        4 => Just(Who::A),
        2 => Just(Who::B),
        2 => (0usize..3).prop_map(Who::Stranger),
        1 => any::<bool>().prop_map(Who::Mixed),
        1 => (prop::collection::vec(any::<u8>(), 0..66), prop::collection::vec(any::<u8>(), 0..66))
            .prop_map(|(n, k)| Who::Random(n, k)),
    ]
}

/// Whether the generators produce negative serial INTEGERs: they name no certificate, and
/// `Serial::of_cert_id` keeps them apart from the positive serial with the same octets
/// (see `negative_serial_with_a_good_serials_octets_is_not_good`).
const NEGATIVE_SERIALS: bool = true;

fn serial_pick() -> impl Strategy<Value = SerialPick> {
    let random = prop::collection::vec(any::<u8>(), 1..22).prop_map(|mut b| {
        if !NEGATIVE_SERIALS {
            b[0] &= 0x7F;
        }
        SerialPick::Random(b)
    });
    prop_oneof![
        3 => (0..GOOD.len()).prop_map(SerialPick::Good),
        2 => (0..REVOKED.len()).prop_map(SerialPick::Revoked),
        2 => (0..ABSENT.len()).prop_map(SerialPick::Absent),
        if NEGATIVE_SERIALS { 2 } else { 0 } => (0..GOOD.len()).prop_map(SerialPick::Negated),
        1 => random,
    ]
}

fn alg_pick() -> impl Strategy<Value = AlgPick> {
    let algs = HashAlg::ALL.to_vec();
    prop_oneof![
        6 => prop::sample::select(algs.clone()).prop_map(AlgPick::Known),
        1 => prop::sample::select(algs).prop_map(AlgPick::NoParams),
        1 => (0usize..3).prop_map(AlgPick::Other),
    ]
}

/// A SerialNumber with exactly these INTEGER content octets (negative ones included), if
/// the DER decoder accepts them.
fn raw_serial(content: &[u8]) -> Option<SerialNumber> {
    let mut der = vec![0x02, content.len() as u8];
    der.extend_from_slice(content);
    SerialNumber::from_der(&der).ok()
}

fn make_cert_id(w: &World, who: &Who, alg: &AlgPick, serial: &SerialPick) -> Option<CertId> {
    let (hash, params) = match alg {
        AlgPick::Known(h) => (*h, true),
        AlgPick::NoParams(h) => (*h, false),
        AlgPick::Other(_) => (HashAlg::Sha1, true),
    };
    let hashes_of = |c: &Certificate| IssuerHashes::of(c, hash).unwrap();
    let (name, key) = match who {
        Who::A => {
            let h = hashes_of(&w.a);
            (h.name_hash, h.key_hash)
        }
        Who::B => {
            let h = hashes_of(&w.b);
            (h.name_hash, h.key_hash)
        }
        Who::Stranger(i) => {
            let h = hashes_of(&w.strangers[*i]);
            (h.name_hash, h.key_hash)
        }
        Who::Mixed(flip) => {
            let (a, s) = (hashes_of(&w.a), hashes_of(&w.strangers[0]));
            if *flip {
                (a.name_hash, s.key_hash)
            } else {
                (s.name_hash, a.key_hash)
            }
        }
        Who::Random(n, k) => (n.clone(), k.clone()),
    };
    let serial_number = match serial {
        SerialPick::Good(i) => Serial::from_hex(GOOD[*i])
            .unwrap()
            .to_serial_number()
            .ok()?,
        SerialPick::Revoked(i) => Serial::from_hex(REVOKED[*i])
            .unwrap()
            .to_serial_number()
            .ok()?,
        SerialPick::Absent(i) => Serial::from_hex(ABSENT[*i])
            .unwrap()
            .to_serial_number()
            .ok()?,
        SerialPick::Negated(i) => {
            let mut m = Serial::from_hex(GOOD[*i]).unwrap().as_bytes().to_vec();
            m[0] |= 0x80;
            raw_serial(&m)?
        }
        SerialPick::Random(b) => raw_serial(b)?,
    };
    let mut alg_id = hash.algorithm_identifier();
    if !params {
        alg_id.parameters = None;
    }
    if let AlgPick::Other(i) = alg {
        alg_id.oid = der::oid::ObjectIdentifier::new_unwrap(
            ["1.2.840.113549.2.5", "2.16.840.1.101.3.4.2.4", "1.2.3.4"][*i],
        );
    }
    Some(CertId {
        hash_algorithm: alg_id,
        issuer_name_hash: OctetString::new(name).ok()?,
        issuer_key_hash: OctetString::new(key).ok()?,
        serial_number,
    })
}

/// Structured requests: 1..4 CertIDs of every kind, maybe a nonce (valid or not).
fn structured() -> impl Strategy<Value = Vec<(Who, AlgPick, SerialPick)>> {
    prop::collection::vec((who(), alg_pick(), serial_pick()), 1..4)
}

fn nonce() -> impl Strategy<Value = Option<Vec<u8>>> {
    prop::option::of(prop::collection::vec(any::<u8>(), 0..140))
}

fn build(w: &World, items: &[(Who, AlgPick, SerialPick)], nonce: Option<&[u8]>) -> Option<Vec<u8>> {
    let ids: Vec<CertId> = items
        .iter()
        .filter_map(|(who, alg, s)| make_cert_id(w, who, alg, s))
        .collect();
    if ids.is_empty() {
        return None;
    }
    request::build(&ids, nonce).ok()
}

#[derive(Clone, Debug)]
enum Mutation {
    Flip(prop::sample::Index, u8),
    Set(prop::sample::Index, u8),
    Insert(prop::sample::Index, u8),
    Remove(prop::sample::Index),
    Truncate(prop::sample::Index),
}

fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    prop::collection::vec(
        prop_oneof![
            4 => (any::<prop::sample::Index>(), 1u8..=255).prop_map(|(i, b)| Mutation::Flip(i, b)),
            2 => (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
            1 => (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
            1 => any::<prop::sample::Index>().prop_map(Mutation::Remove),
            1 => any::<prop::sample::Index>().prop_map(Mutation::Truncate),
        ],
        1..6,
    )
}

fn mutate(mut der: Vec<u8>, ms: &[Mutation]) -> Vec<u8> {
    for m in ms {
        if der.is_empty() {
            break;
        }
        match m {
            Mutation::Flip(i, b) => {
                let i = i.index(der.len());
                der[i] ^= b;
            }
            Mutation::Set(i, b) => {
                let i = i.index(der.len());
                der[i] = *b;
            }
            Mutation::Insert(i, b) => {
                let i = i.index(der.len() + 1);
                der.insert(i, *b);
            }
            Mutation::Remove(i) => {
                let i = i.index(der.len());
                der.remove(i);
            }
            Mutation::Truncate(i) => {
                let i = i.index(der.len());
                der.truncate(i);
            }
        }
    }
    der
}

// ---------------------------------------------------------------------------------------
// A raw HTTP/1.1 client (keep-alive) for the real server.

/// One keep-alive connection to the real server.
struct Http {
    c: Conn,
}

impl Http {
    /// Send a request and return (status, body).
    fn exchange(&mut self, raw: &[u8]) -> (u16, Vec<u8>) {
        self.c.send(raw);
        let r = self
            .c
            .read_response(false)
            .unwrap_or_else(|e| panic!("no answer from the server: {e}"));
        (r.status, r.body)
    }

    fn post(&mut self, der: &[u8]) -> (u16, Vec<u8>) {
        self.exchange(&post_req("/ocsp", der, &[]))
    }

    fn get(&mut self, der: &[u8]) -> (u16, Vec<u8>) {
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        let enc = percent_encoding::utf8_percent_encode(&b64, percent_encoding::NON_ALPHANUMERIC);
        self.exchange(&get_req(&format!("/ocsp/{enc}"), &[]))
    }
}

fn http() -> &'static Mutex<Http> {
    static C: OnceLock<Mutex<Http>> = OnceLock::new();
    C.get_or_init(|| {
        Mutex::new(Http {
            c: Conn::open(world().http),
        })
    })
}

fn answer_over_http(w: &World, der: &[u8]) -> Result<(), TestCaseError> {
    let mut c = http().lock().unwrap_or_else(|e| e.into_inner());
    for (how, (status, body)) in [("POST", c.post(der)), ("GET", c.get(der))] {
        prop_assert!(
            status == 200 || status == 414,
            "{} gave HTTP {}",
            how,
            status
        );
        if status != 200 {
            continue;
        }
        // The edge may find the request under a shorter GET suffix only if that suffix is
        // the same DER, so `der` is what the answer must be checked against.
        if matches!(oresp::parse(&body), Ok(ParsedResponse::Basic { .. })) {
            check_answer(w, der, &body)?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The properties.

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn structured_requests_are_never_wrongly_good(items in structured(), nonce in nonce()) {
        let _x = exclusive();
        let w = world();
        if let Some(der) = build(w, &items, nonce.as_deref()) {
            answer_everywhere(w, &der)?;
        }
    }

    #[test]
    fn mutated_requests_are_never_wrongly_good(items in structured(), nonce in nonce(), ms in mutations()) {
        let _x = exclusive();
        let w = world();
        if let Some(der) = build(w, &items, nonce.as_deref()) {
            answer_everywhere(w, &mutate(der, &ms))?;
        }
    }

    #[test]
    fn random_bytes_are_never_good(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _x = exclusive();
        let w = world();
        answer_everywhere(w, &bytes)?;
        // A random tail after a valid prefix.
        let good = build(w, &[(Who::A, AlgPick::Known(HashAlg::Sha256), SerialPick::Absent(0))], None).unwrap();
        let mut der = good.clone();
        der.extend_from_slice(&bytes);
        answer_everywhere(w, &der)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn over_http_never_wrongly_good(items in structured(), nonce in nonce(), ms in prop::option::of(mutations())) {
        let _x = exclusive();
        let w = world();
        if let Some(der) = build(w, &items, nonce.as_deref()) {
            let der = match ms { Some(ms) => mutate(der, &ms), None => der };
            answer_over_http(w, &der)?;
        }
    }
}

/// Index changes interleaved with queries: the cache (and live signing) never answer
/// `good` for a serial that the index, at the moment of the request, holds as revoked or
/// not at all — including right after a good serial is revoked or removed.
#[derive(Clone, Debug)]
enum Op {
    Query(Who, AlgPick, SerialPick, bool),
    Set(bool, SerialPick, Option<bool>),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (prop_oneof![3 => Just(Who::A), 1 => Just(Who::B)], alg_pick(), serial_pick(), any::<bool>())
            .prop_map(|(w, a, s, n)| Op::Query(w, a, s, n)),
        2 => (any::<bool>(), serial_pick(), prop::option::of(any::<bool>()))
            .prop_map(|(b, s, st)| Op::Set(b, s, st)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn index_changes_are_never_answered_stale_good(ops in prop::collection::vec(op(), 1..40)) {
        let _x = exclusive();
        let w = world();
        for op in &ops {
            match op {
                Op::Query(who, alg, s, with_nonce) => {
                    let nonce = with_nonce.then_some(&[7u8; 16][..]);
                    if let Some(der) = build(w, &[(who.clone(), alg.clone(), s.clone())], nonce) {
                        answer_everywhere(w, &der)?;
                    }
                }
                Op::Set(on_b, s, status) => {
                    let hex = match s {
                        SerialPick::Good(i) | SerialPick::Negated(i) => GOOD[*i].to_string(),
                        SerialPick::Revoked(i) => REVOKED[*i].to_string(),
                        SerialPick::Absent(i) => ABSENT[*i].to_string(),
                        SerialPick::Random(b) => hex::encode(b),
                    };
                    let index = if *on_b { &w.index_b } else { &w.index_a };
                    let status = status.map(|g| if g { CertStatus::Good } else { revoked() });
                    index.set(Serial::from_hex(&hex).unwrap(), status);
                }
            }
        }
        // Back to the starting index for the next case.
        for idx in [&w.index_a, &w.index_b] {
            idx.reset(&entries());
        }
    }
}

/// The finding the negative-serial picks target, as a plain regression test: a CertID
/// whose serial INTEGER is negative names no certificate in the index, even when its
/// content octets equal a good serial's magnitude.
#[test]
fn negative_serial_with_a_good_serials_octets_is_not_good() {
    let _x = exclusive();
    let w = world();
    for i in [3usize, 4] {
        // GOOD[3] = 81, GOOD[4] = FF01: top bit set, so the bare octets are negative.
        let der = build(
            w,
            &[(
                Who::A,
                AlgPick::Known(HashAlg::Sha1),
                SerialPick::Negated(i),
            )],
            None,
        )
        .unwrap();
        let req = request::parse(&der, &RequestLimits::default()).unwrap();
        assert!(req.items[0].cert_id.serial_number.as_bytes()[0] & 0x80 != 0);
        for src in [w.live.as_ref() as &dyn ResponseSource, w.cached.as_ref()] {
            if let Ok(answer) = w.rt.block_on(src.response(&req)) {
                check_answer(w, &der, &answer.der).unwrap();
            }
        }
    }
}
