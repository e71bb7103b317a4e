#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use crate::source::filter::Filter;
use crate::source::testkit::{self, Kit, T0, VALIDITY};
use crate::source::ResponseSource;
use ocsp_proto::der::asn1::OctetString;
use ocsp_proto::der::{Decode, Encode};
use ocsp_proto::response::{parse as parse_response, ParsedResponse};
use ocsp_proto::Timestamp;

/// The cache behind a filter stage, as `setup` builds it; derefs to the cache.
struct Cache {
    cache: Arc<CachedSource>,
    filter: Filter,
}

impl std::ops::Deref for Cache {
    type Target = CachedSource;
    fn deref(&self) -> &CachedSource {
        &self.cache
    }
}

impl Cache {
    async fn response(&self, req: &ParsedRequest) -> Result<Arc<Answer>, SourceError> {
        self.filter.response(req).await
    }
}

fn cache(kit: &Kit, opts: CacheOptions) -> Cache {
    let cache = Arc::new(CachedSource::new(
        kit.issuers.clone(),
        Arc::new(kit.live()),
        kit.clock(),
        opts,
    ));
    Cache {
        filter: Filter::new(kit.issuers.clone(), cache.clone()),
        cache,
    }
}

fn signs(kit: &Kit) -> u64 {
    kit.signer.signs.load(Ordering::SeqCst)
}

#[tokio::test]
async fn hit_serves_the_same_bytes_without_signing() {
    let kit = Kit::new(&[("01", Some(CertStatus::Good))]);
    let c = cache(&kit, CacheOptions::default());
    let req = kit.request(&[("01", HashAlg::Sha256)], None);
    let a = c.response(&req).await.unwrap();
    let b = c.response(&req).await.unwrap();
    assert!(Arc::ptr_eq(&a, &b));
    assert_eq!(signs(&kit), 1);
    assert_eq!((c.stats().hits(), c.stats().misses()), (1, 1));
    assert_eq!(c.stats().entries(), 1);
    assert!(c.stats().bytes() > a.der.len());
    // The CertID echoed is the requester's, byte for byte.
    let ParsedResponse::Basic { basic, tbs_der } = parse_response(&a.der).unwrap() else {
        panic!()
    };
    kit.verify_signature(&basic, &tbs_der);
    assert_eq!(
        basic.tbs_response_data.responses[0]
            .cert_id
            .to_der()
            .unwrap(),
        req.items[0].cert_id.to_der().unwrap()
    );
}

#[tokio::test]
async fn key_separates_alg_params_and_serial_bytes() {
    let kit = Kit::new(&[("01", Some(CertStatus::Good))]);
    let c = cache(&kit, CacheOptions::default());
    let sha1 = kit.request(&[("01", HashAlg::Sha1)], None);
    let sha256 = kit.request(&[("01", HashAlg::Sha256)], None);
    let mut absent = sha256.clone();
    absent.items[0].cert_id.hash_algorithm.parameters = None;
    let a1 = c.response(&sha1).await.unwrap();
    let a2 = c.response(&sha256).await.unwrap();
    let a3 = c.response(&absent).await.unwrap();
    assert_eq!(
        signs(&kit),
        3,
        "three distinct CertID encodings, three answers"
    );
    for (a, r) in [(&a1, &sha1), (&a2, &sha256), (&a3, &absent)] {
        let ParsedResponse::Basic { basic, .. } = parse_response(&a.der).unwrap() else {
            panic!()
        };
        assert_eq!(
            basic.tbs_response_data.responses[0]
                .cert_id
                .to_der()
                .unwrap(),
            r.items[0].cert_id.to_der().unwrap()
        );
    }
    let _ = c.response(&absent).await.unwrap();
    assert_eq!(signs(&kit), 3);
    // Unusual parameters are not cached (answered live each time).
    let mut odd = sha256.clone();
    odd.items[0].cert_id.hash_algorithm.parameters =
        Some(der::Any::from_der(&OctetString::new(vec![1]).unwrap().to_der().unwrap()).unwrap());
    c.response(&odd).await.unwrap();
    c.response(&odd).await.unwrap();
    assert_eq!(signs(&kit), 5);
    assert_eq!(c.stats().bypass(), 2);
}

#[tokio::test]
async fn nonce_and_multi_cert_requests_go_live() {
    let kit = Kit::new(&[
        ("01", Some(CertStatus::Good)),
        ("02", Some(CertStatus::Good)),
    ]);
    let c = cache(&kit, CacheOptions::default());
    let n = kit.request(&[("01", HashAlg::Sha1)], Some(&[1; 32]));
    c.response(&n).await.unwrap();
    c.response(&n).await.unwrap();
    let multi = kit.request(&[("01", HashAlg::Sha1), ("02", HashAlg::Sha1)], None);
    c.response(&multi).await.unwrap();
    assert_eq!(signs(&kit), 3);
    assert_eq!(c.stats().bypass(), 3);
    assert_eq!(c.stats().entries(), 0);
}

#[tokio::test]
async fn per_thread_copies_follow_the_shared_cache() {
    let kit = Kit::new(&[("01", Some(CertStatus::Good))]);
    let c = cache(&kit, CacheOptions::default());
    let r1 = kit.request(&[("01", HashAlg::Sha1)], None);
    let first = c.response(&r1).await.unwrap();
    // The second answer fills this thread's copy, the third comes from it: the same
    // bytes, not the same allocation, and no signature.
    let second = c.response(&r1).await.unwrap();
    let third = c.response(&r1).await.unwrap();
    assert_eq!(first.der, third.der);
    assert_eq!(first.etag, third.etag);
    assert_eq!(third.etag_header, second.etag_header);
    assert!(!Arc::ptr_eq(&second, &third));
    assert_ne!(third.der.as_ptr(), first.der.as_ptr());
    assert_eq!(signs(&kit), 1);
    assert_eq!(c.stats().hits(), 2);
    // A revocation: never served from the copy.
    kit.source.set("01", Some(testkit::revoked()));
    assert_eq!(c.response(&r1).await.unwrap().statuses, vec!["revoked"]);
    assert_eq!(c.response(&r1).await.unwrap().statuses, vec!["revoked"]);
    assert_eq!(c.response(&r1).await.unwrap().statuses, vec!["revoked"]);
    // Another cache on the same thread does not see this one's copies.
    let other = cache(&kit, CacheOptions::default());
    other.response(&r1).await.unwrap();
    assert_eq!(other.stats().hits(), 0);
    assert_eq!(signs(&kit), 3);
}

#[tokio::test]
async fn changed_status_is_never_served_from_cache() {
    let kit = Kit::new(&[
        ("01", Some(CertStatus::Good)),
        ("02", Some(CertStatus::Good)),
    ]);
    let c = cache(&kit, CacheOptions::default());
    let r1 = kit.request(&[("01", HashAlg::Sha1)], None);
    let r2 = kit.request(&[("02", HashAlg::Sha1)], None);
    assert_eq!(c.response(&r1).await.unwrap().statuses, vec!["good"]);
    assert_eq!(c.response(&r2).await.unwrap().statuses, vec!["good"]);
    assert_eq!(signs(&kit), 2);
    // Revoke 01: a new snapshot.
    kit.source.set("01", Some(testkit::revoked()));
    assert_eq!(c.response(&r1).await.unwrap().statuses, vec!["revoked"]);
    assert_eq!(c.stats().invalidations(), 1);
    // 02 did not change: served from cache after a lookup, without signing.
    assert_eq!(c.response(&r2).await.unwrap().statuses, vec!["good"]);
    assert_eq!(c.stats().revalidations(), 1);
    assert_eq!(signs(&kit), 3);
    // A reload of identical content re-stamps, never re-signs.
    kit.source.bump();
    c.response(&r1).await.unwrap();
    c.response(&r1).await.unwrap();
    assert_eq!(signs(&kit), 3);
    // Removing the serial from the index: unknown, at once.
    kit.source.set("01", None);
    assert_eq!(c.response(&r1).await.unwrap().statuses, vec!["unknown"]);
    assert_eq!(signs(&kit), 4);
}

#[tokio::test]
async fn one_revocation_revalidates_only_its_serial() {
    // A source that names what changed (a database): the other answers are re-stamped
    // from the change log, with neither a signature nor a status lookup.
    let kit = Kit::with_changes(&[
        ("01", Some(CertStatus::Good)),
        ("02", Some(CertStatus::Good)),
        ("03", Some(CertStatus::Good)),
    ]);
    let c = cache(&kit, CacheOptions::default());
    let reqs: Vec<_> = ["01", "02", "03"]
        .iter()
        .map(|s| kit.request(&[(s, HashAlg::Sha256)], None))
        .collect();
    for r in &reqs {
        assert_eq!(c.response(r).await.unwrap().statuses, vec!["good"]);
    }
    assert_eq!(signs(&kit), 3);
    kit.source.set("01", Some(testkit::revoked()));
    let lookups = kit.source.lookups.load(Ordering::SeqCst);
    assert_eq!(
        c.response(&reqs[0]).await.unwrap().statuses,
        vec!["revoked"]
    );
    assert_eq!(signs(&kit), 4, "the revoked serial is signed afresh");
    let hits = c.stats().hits();
    for r in &reqs[1..] {
        assert_eq!(c.response(r).await.unwrap().statuses, vec!["good"]);
    }
    assert_eq!(signs(&kit), 4, "the others come from the cache");
    assert_eq!(c.stats().hits(), hits + 2);
    assert_eq!(c.stats().revalidations(), 2);
    // The revoked answer signed afresh goes through the live lookup; no entry did.
    assert_eq!(
        kit.source.lookups.load(Ordering::SeqCst),
        lookups + 1,
        "no status lookup for unchanged serials"
    );
    // Two changes later, one of which names 03: 02 still served, 03 re-signed.
    kit.source.set("04", Some(CertStatus::Good));
    kit.source.set("03", Some(testkit::revoked()));
    assert_eq!(c.response(&reqs[1]).await.unwrap().statuses, vec!["good"]);
    assert_eq!(
        c.response(&reqs[2]).await.unwrap().statuses,
        vec!["revoked"]
    );
    assert_eq!(signs(&kit), 5);
    // "Anything may have changed" (a restore): every answer of the issuer dropped.
    kit.source.restore();
    assert_eq!(c.response(&reqs[1]).await.unwrap().statuses, vec!["good"]);
    assert_eq!(signs(&kit), 6);
    assert_eq!(c.stats().entries(), 1);
}

#[tokio::test]
async fn every_hit_asks_the_generation() {
    let kit = Kit::new(&[("01", Some(CertStatus::Good))]);
    let c = cache(&kit, CacheOptions::default());
    let r = kit.request(&[("01", HashAlg::Sha1)], None);
    c.response(&r).await.unwrap();
    let before = kit.source.generations.load(Ordering::SeqCst);
    let lookups = kit.source.lookups.load(Ordering::SeqCst);
    for _ in 0..10 {
        c.response(&r).await.unwrap();
    }
    assert_eq!(kit.source.generations.load(Ordering::SeqCst), before + 10);
    assert_eq!(
        kit.source.lookups.load(Ordering::SeqCst),
        lookups,
        "a hit does no status lookup"
    );
}

#[tokio::test]
async fn refreshes_in_background_after_the_fraction_and_never_serves_expired() {
    let kit = Kit::new(&[("01", Some(CertStatus::Good))]);
    let c = cache(&kit, CacheOptions::default());
    let r = kit.request(&[("01", HashAlg::Sha1)], None);
    let first = c.response(&r).await.unwrap();
    assert_eq!(first.this_update, Timestamp(T0));
    kit.advance(VALIDITY / 2 - 1);
    assert!(Arc::ptr_eq(&c.response(&r).await.unwrap(), &first));
    assert_eq!(signs(&kit), 1);
    kit.advance(1);
    // Past half its validity: the old answer is served while one re-sign runs.
    let during = c.response(&r).await.unwrap();
    assert!(Arc::ptr_eq(&during, &first));
    for _ in 0..100 {
        if c.stats().resigns() == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(c.stats().resigns(), 1);
    assert_eq!(signs(&kit), 2);
    let after = c.response(&r).await.unwrap();
    assert_eq!(after.this_update, Timestamp(T0 + VALIDITY / 2));
    // Past nextUpdate, an entry is never served.
    kit.advance(VALIDITY);
    let late = c.response(&r).await.unwrap();
    assert!(late.next_update > Timestamp(T0 + VALIDITY + VALIDITY / 2));
    assert_eq!(c.stats().expired(), 1);
}

#[tokio::test]
async fn bounded_with_clock_eviction() {
    let entries: Vec<(String, Option<CertStatus>)> = (1..=20)
        .map(|i| (format!("{i:02X}"), Some(CertStatus::Good)))
        .collect();
    let refs: Vec<(&str, Option<CertStatus>)> = entries
        .iter()
        .map(|(s, st)| (s.as_str(), st.clone()))
        .collect();
    let kit = Kit::new(&refs);
    let c = cache(
        &kit,
        CacheOptions {
            max_entries: 4,
            ..CacheOptions::default()
        },
    );
    let hot = kit.request(&[("01", HashAlg::Sha1)], None);
    c.response(&hot).await.unwrap();
    for i in 2..=20 {
        c.response(&kit.request(&[(&format!("{i:02X}"), HashAlg::Sha1)], None))
            .await
            .unwrap();
        // Keep 01 hot.
        c.response(&hot).await.unwrap();
    }
    assert_eq!(c.stats().entries(), 4);
    assert_eq!(c.stats().evictions(), 16);
    let s = signs(&kit);
    c.response(&hot).await.unwrap();
    assert_eq!(signs(&kit), s, "the hot entry survived eviction");
    // Byte bound.
    let c2 = cache(
        &kit,
        CacheOptions {
            max_bytes: 1,
            ..CacheOptions::default()
        },
    );
    c2.response(&hot).await.unwrap();
    c2.response(&kit.request(&[("02", HashAlg::Sha1)], None))
        .await
        .unwrap();
    assert_eq!(c2.stats().entries(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_share_one_signature() {
    let kit = Kit::new(&[("01", Some(CertStatus::Good))]);
    kit.signer.delay_ms.store(100, Ordering::SeqCst);
    let c = Arc::new(cache(&kit, CacheOptions::default()));
    let r = kit.request(&[("01", HashAlg::Sha1)], None);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let c = c.clone();
        let r = r.clone();
        tasks.push(tokio::spawn(async move { c.response(&r).await.unwrap() }));
    }
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    assert_eq!(signs(&kit), 1);
    assert!(answers.iter().all(|a| Arc::ptr_eq(a, &answers[0])));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nonce_flood_gets_try_later_while_hits_flow() {
    let kit = Kit::new(&[("01", Some(CertStatus::Good))]);
    let c = Arc::new(cache(&kit, CacheOptions::default()));
    let hot = kit.request(&[("01", HashAlg::Sha1)], None);
    c.response(&hot).await.unwrap();
    kit.signer.delay_ms.store(200, Ordering::SeqCst);
    // The kit's pool: 2 threads, queues of 16.
    let mut flood = Vec::new();
    for i in 0..40u8 {
        let c = c.clone();
        let r = kit.request(&[("01", HashAlg::Sha1)], Some(&[i + 1; 16]));
        flood.push(tokio::spawn(async move { c.response(&r).await }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let started = std::time::Instant::now();
    for _ in 0..1000 {
        c.response(&hot).await.unwrap();
    }
    assert!(
        started.elapsed() < std::time::Duration::from_millis(500),
        "hits were starved"
    );
    let mut overloaded = 0;
    for t in flood {
        if matches!(t.await.unwrap(), Err(SourceError::Overloaded)) {
            overloaded += 1;
        }
    }
    assert!(overloaded >= 40 - 2 - 16, "only {overloaded} refused");
    assert_eq!(kit.pool.stats().rejected(), overloaded);
}

#[tokio::test]
async fn store_round_trip_checks_every_record() {
    let kit = Kit::new(&[
        ("01", Some(CertStatus::Good)),
        ("02", Some(CertStatus::Good)),
        ("03", Some(testkit::revoked())),
    ]);
    let c = cache(&kit, CacheOptions::default());
    let issuer = kit.issuers.iter().next().unwrap().clone();
    for s in ["01", "02", "03", "04"] {
        assert!(c
            .warm(&issuer, &Serial::from_hex(s).unwrap(), HashAlg::Sha256)
            .await
            .unwrap());
    }
    // Fresh entries are not signed again.
    assert!(!c
        .warm(&issuer, &Serial::from_hex("01").unwrap(), HashAlg::Sha256)
        .await
        .unwrap());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("responses.store");
    assert_eq!(c.save_store(&path).unwrap(), 4);

    // Revoke 02 before the restart: its stored answer is stale.
    kit.source.set("02", Some(testkit::revoked()));
    let c2 = cache(&kit, CacheOptions::default());
    let report = c2.load_store(&path).await.unwrap();
    assert_eq!(
        report,
        LoadReport {
            records: 4,
            loaded: 3,
            stale: 1,
            ..LoadReport::default()
        }
    );
    let s = signs(&kit);
    let a = c2
        .response(&kit.request(&[("03", HashAlg::Sha256)], None))
        .await
        .unwrap();
    assert_eq!(a.statuses, vec!["revoked"]);
    assert_eq!(
        c2.response(&kit.request(&[("02", HashAlg::Sha256)], None))
            .await
            .unwrap()
            .statuses,
        vec!["revoked"]
    );
    assert_eq!(signs(&kit), s + 1, "only the stale one was signed");

    // A cache smaller than the store says how many it could not keep.
    let small = cache(
        &kit,
        CacheOptions {
            max_entries: 2,
            ..CacheOptions::default()
        },
    );
    let r = small.load_store(&path).await.unwrap();
    assert_eq!((r.loaded, r.evicted), (3, 1));
    assert_eq!(small.stats().entries(), 2);

    // Another responder key: every record is foreign.
    let other = Kit::new(&[("01", Some(CertStatus::Good))]);
    let c3 = cache(&other, CacheOptions::default());
    let r = c3.load_store(&path).await.unwrap();
    assert_eq!((r.loaded, r.foreign), (0, 4));

    // Expired by the time of loading.
    kit.advance(VALIDITY + 1);
    let c4 = cache(&kit, CacheOptions::default());
    assert_eq!(c4.load_store(&path).await.unwrap().expired, 4);

    // A tampered record fails its signature check.
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n - 5] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    kit.now.store(T0 + 10, Ordering::SeqCst);
    let c5 = cache(&kit, CacheOptions::default());
    let r = c5.load_store(&path).await.unwrap();
    assert_eq!(r.invalid + r.stale + r.loaded, 4);
    assert!(r.invalid >= 1);
}
