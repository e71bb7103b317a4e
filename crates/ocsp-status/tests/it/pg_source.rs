//! The PostgreSQL source against a real server: memory per entry, strict freshness with
//! coalesced checks, per-serial changes, a bounded window, a missing issuer.

use ocsp_proto::der::Encode;
use ocsp_proto::{CertStatus, Serial};
use ocsp_status::config::{DatabaseOptions, OpenOptions, PostgresConfig};
use ocsp_status::postgres::source::{issuer_lookup_key, PgSource};
use ocsp_status::postgres::{connect, schema, DatabaseUrl};
use ocsp_status::{Change, StatusSource};
use std::sync::Arc;
use std::time::{Duration, Instant};
use test_support::judge::read_cert;
use test_support::pki::Pki;
use test_support::postgres::PgCluster;

const ROWS: i64 = 100_000;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn serial(i: i64) -> Serial {
    let mut b = vec![1u8];
    b.extend_from_slice(&(i as i32).to_be_bytes());
    Serial::from_integer_content(&b)
}

/// A database with one issuer and `ROWS` statuses (every tenth revoked); the issuer's
/// certificate (DER) and the superuser URL.
fn database(name: &str) -> (Vec<u8>, String) {
    let pki = Pki::new(name);
    let der = read_cert(&pki.cacert).to_der().unwrap();
    let db = PgCluster::shared().fresh_db();
    let (spki, subject) = issuer_lookup_key(&der).unwrap();
    rt().block_on(async {
        let mut c = connect(&DatabaseUrl::parse(&db.url).unwrap()).await.unwrap();
        schema::migrate(&mut c).await.unwrap();
        c.execute(
            "INSERT INTO ocsp_issuer (name, spki_sha256, subject_der, cert_der) VALUES ($1, $2, $3, $4)",
            &[&name, &spki, &subject, &der],
        )
        .await
        .unwrap();
        c.batch_execute(&format!(
            "INSERT INTO ocsp_cert (issuer_id, serial, status, not_after, revoked_at, reason)
             SELECT 1, '\\x01'::bytea || int4send(i::int),
                    CASE WHEN i % 10 = 0 THEN 'R' ELSE 'V' END, now() + interval '1 year',
                    CASE WHEN i % 10 = 0 THEN now() END, CASE WHEN i % 10 = 0 THEN 1 END
             FROM generate_series(0, {}) i",
            ROWS - 1
        ))
        .await
        .unwrap();
    });
    (der, db.url)
}

fn open(der: &[u8], url: &str, cfg: PostgresConfig) -> Arc<PgSource> {
    let opts = OpenOptions {
        database: Some(DatabaseOptions {
            url: url.into(),
            node_id: "test".into(),
        }),
        issuer_cert: Some(der.into()),
        ..OpenOptions::default()
    };
    PgSource::open_blocking(&cfg, &opts).unwrap()
}

async fn exec(url: &str, sql: &str) {
    let c = connect(&DatabaseUrl::parse(url).unwrap()).await.unwrap();
    c.batch_execute(sql).await.unwrap();
}

#[test]
fn strict_checks_are_coalesced_and_every_commit_before_a_lookup_is_seen() {
    let (der, url) = database("pgsrc-strict");
    let started = Instant::now();
    let src = open(&der, &url, PostgresConfig::default());
    let report = src.report().unwrap();
    assert_eq!(report.entries, ROWS as u64);
    assert_eq!(report.revoked, ROWS as u64 / 10);
    let per_entry = src.heap_bytes() as f64 / ROWS as f64;
    eprintln!(
        "{ROWS} entries loaded in {:?}: {} heap bytes, {per_entry:.1} bytes/entry",
        started.elapsed(),
        src.heap_bytes()
    );
    assert!(per_entry <= 150.0, "{per_entry} bytes per entry");
    rt().block_on(async {
        let mut changes = src.changes().unwrap();
        assert_eq!(
            src.status(&serial(5)).await.unwrap().status,
            Some(CertStatus::Good)
        );
        assert!(matches!(
            src.status(&serial(10)).await.unwrap().status,
            Some(CertStatus::Revoked(_))
        ));
        // 200 concurrent lookups share a handful of checks.
        let before = src.probes();
        let mut tasks = Vec::new();
        for _ in 0..200 {
            let s = src.clone();
            tasks.push(tokio::spawn(async move { s.generation().await.unwrap() }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let probes = src.probes() - before;
        assert!((1..=20).contains(&probes), "{probes} checks for 200 lookups");
        // A commit that returned before the lookup is seen by it, named in the changes.
        let g0 = src.generation().await.unwrap();
        exec(
            &url,
            "UPDATE ocsp_cert SET status = 'R', revoked_at = now(), reason = 4 WHERE serial = '\\x0100000005'",
        )
        .await;
        let l = src.status(&serial(5)).await.unwrap();
        assert!(matches!(l.status, Some(CertStatus::Revoked(_))), "{l:?}");
        assert_eq!(l.generation, g0 + 1);
        let change = changes.recv().await.unwrap();
        assert_eq!(
            change,
            Change::Serials {
                generation: g0 + 1,
                serials: vec![serial(5)].into()
            }
        );
        // Tombstones remove, inserts add.
        exec(&url, "UPDATE ocsp_cert SET status = 'D' WHERE serial = '\\x0100000006'; INSERT INTO ocsp_cert (issuer_id, serial, status, not_after) VALUES (1, '\\x02', 'V', now())").await;
        assert_eq!(src.status(&serial(6)).await.unwrap().status, None);
        assert_eq!(
            src.status(&Serial::from_integer_content(&[2])).await.unwrap().status,
            Some(CertStatus::Good)
        );
        // Every entry carries its row's not_after (CRLs drop entries one CRL after it).
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let (mut n, mut bad) = (0, Vec::new());
        let two = Serial::from_integer_content(&[2]);
        src.entries(&mut |e| {
            n += 1;
            let ok = match e.expires {
                Some(t) if e.serial == two => t.0.abs_diff(now) < 600,
                Some(t) => t.0 > now + 360 * 86_400 && t.0 < now + 370 * 86_400,
                None => false,
            };
            if !ok {
                bad.push((e.serial, e.expires));
            }
        })
        .await
        .unwrap();
        assert_eq!(n, ROWS);
        assert!(bad.is_empty(), "entries without their not_after: {:?}", &bad[..bad.len().min(5)]);
    });
}

#[test]
fn bounded_serves_within_its_window_and_the_listener_wakes_a_check() {
    let (der, url) = database("pgsrc-bounded");
    let src = open(
        &der,
        &url,
        PostgresConfig {
            consistency: None,
            max_staleness_ms: Some(60_000),
        },
    );
    rt().block_on(async {
        let _follow = src.clone().follow().unwrap();
        let g0 = src.generation().await.unwrap();
        let probes = src.probes();
        for _ in 0..100 {
            src.generation().await.unwrap();
        }
        assert!(src.probes() <= probes + 1, "lookups inside the window check nothing");
        exec(
            &url,
            "UPDATE ocsp_cert SET status = 'R', revoked_at = now(), reason = 1 WHERE serial = '\\x0100000007'",
        )
        .await;
        // NOTIFY wakes a check long before the 60 s window (or its 1 s poll) would.
        let t0 = Instant::now();
        while src.generation().await.unwrap() == g0 {
            assert!(t0.elapsed() < Duration::from_secs(5), "no wake-up");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        eprintln!("revocation seen {:?} after its commit", t0.elapsed());
        assert!(matches!(
            src.status(&serial(7)).await.unwrap().status,
            Some(CertStatus::Revoked(_))
        ));
    });
}

#[test]
fn an_unregistered_issuer_names_the_fix() {
    let (_, url) = database("pgsrc-missing");
    let other = Pki::new("pgsrc-other");
    let der = read_cert(&other.cacert).to_der().unwrap();
    let opts = OpenOptions {
        database: Some(DatabaseOptions {
            url,
            node_id: "test".into(),
        }),
        issuer_cert: Some(der.into()),
        ..OpenOptions::default()
    };
    let e = PgSource::open_blocking(&PostgresConfig::default(), &opts)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("not registered") && e.contains("ocsp import"),
        "{e}"
    );
}
