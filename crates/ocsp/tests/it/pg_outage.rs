//! The database stopped under load (`pg_ctl stop -m fast`) and started again, on a
//! cluster of this test's own (the shared one serves other tests meanwhile): a strict
//! node answers only correct statuses or `tryLater` (never a 5xx, never a wrong status),
//! `tryLater` within about a second, `/readyz` 503 and `ocsp_db_up` 0 while down; a
//! bounded node keeps answering for its window, then `tryLater`; both are back within
//! 5 s of the restart, without a restart of their own.

use crate::pg_support::{metric, PgCa};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use test_support::postgres::PgCluster;

/// What a load thread saw: (when, answer) with `None` for tryLater.
type Seen = Arc<Mutex<Vec<(Instant, Option<String>)>>>;

#[test]
fn database_stopped_under_load_then_restarted() {
    let cluster: &'static PgCluster = Box::leak(Box::new(PgCluster::start_new()));
    let ca = Arc::new(PgCa::on(cluster, "pgdown", &["a", "b"]));
    ca.revoke("b");
    let strict = ca.serve(
        &ca.reader_url,
        "strict",
        "",
        &["--metrics-listen", "127.0.0.1:0"],
    );
    let bounded = ca.serve(
        &ca.reader_url,
        "bounded",
        "max_staleness_ms = 2000",
        &["--metrics-listen", "127.0.0.1:0"],
    );
    for n in [&strict, &bounded] {
        assert_eq!(ca.status(n.addr(), "a"), "good");
        assert_eq!(ca.status(n.addr(), "b"), "revoked");
    }
    // Load on both nodes: every answer judged as it comes.
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    let mut seen: Vec<Seen> = Vec::new();
    for addr in [strict.addr(), bounded.addr()] {
        let (ca, stop, log) = (ca.clone(), stop.clone(), Seen::default());
        seen.push(log.clone());
        threads.push(std::thread::spawn(move || {
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let cn = if i % 2 == 0 { "a" } else { "b" };
                i += 1;
                let answer = ca
                    .ask(addr, cn)
                    .unwrap_or_else(|e| panic!("{cn} at {addr}: {e}"));
                if let Some(s) = &answer {
                    let want = if cn == "a" { "good" } else { "revoked" };
                    assert_eq!(s, want, "{cn} at {addr}");
                }
                log.lock().unwrap().push((Instant::now(), answer));
                std::thread::sleep(Duration::from_millis(5));
            }
        }));
    }
    std::thread::sleep(Duration::from_millis(300));
    cluster.stop();
    let stopped = Instant::now();
    // /readyz 503 and ocsp_db_up 0 on the strict node within a few seconds.
    let deadline = stopped + Duration::from_secs(5);
    loop {
        let (code, _) =
            test_support::http::get(test_support::responder::metrics_addr(&strict), "/readyz");
        if code == 503 && metric(&strict, "ocsp_db_up") == 0.0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still ready while the database is down"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(2500));
    cluster.start();
    let started = Instant::now();
    // Full service again within 5 s, no restart.
    for n in [&strict, &bounded] {
        let deadline = started + Duration::from_secs(5);
        loop {
            if let Ok(Some(s)) = ca.ask(n.addr(), "a") {
                assert_eq!(s, "good");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "no answer 5 s after the database came back:\n{}",
                n.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let strict_seen = seen[0].lock().unwrap().clone();
    let bounded_seen = seen[1].lock().unwrap().clone();
    // Strict: tryLater within about a second of the stop (the probe timeout), and
    // answers again after the restart.
    let first_try_later = strict_seen
        .iter()
        .find(|(_, a)| a.is_none())
        .map(|(t, _)| t.duration_since(stopped))
        .expect("the strict node never said tryLater while the database was down");
    eprintln!(
        "strict: {} answers, {} tryLater, first tryLater {first_try_later:?} after the stop; \
         bounded: {} answers, {} tryLater",
        strict_seen.len(),
        strict_seen.iter().filter(|(_, a)| a.is_none()).count(),
        bounded_seen.len(),
        bounded_seen.iter().filter(|(_, a)| a.is_none()).count()
    );
    assert!(
        first_try_later < Duration::from_millis(1500),
        "first tryLater {first_try_later:?} after the stop"
    );
    assert!(strict_seen.iter().any(|(t, a)| *t > started && a.is_some()));
    // Bounded: answers for its window after the stop, then tryLater until the restart.
    let answered_late = bounded_seen
        .iter()
        .filter(|(t, a)| *t > stopped + Duration::from_millis(200) && a.is_some())
        .map(|(t, _)| t.duration_since(stopped))
        .filter(|d| *d < Duration::from_millis(1500))
        .count();
    assert!(
        answered_late > 0,
        "the bounded node did not serve its last state within its window"
    );
    assert!(
        bounded_seen
            .iter()
            .any(|(t, a)| a.is_none() && t.duration_since(stopped) < Duration::from_millis(3500)),
        "the bounded node never said tryLater after its window"
    );
    assert!(
        !bounded_seen.iter().any(|(t, a)| a.is_some()
            && *t > stopped + Duration::from_millis(2600)
            && *t < started),
        "the bounded node answered past its window"
    );
}
