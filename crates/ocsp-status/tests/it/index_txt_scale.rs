//! A large index: load and reload time, resident memory, and lookups that stay right
//! (never stale, never failing) while the file is reloaded under load.
//!
//! `OCSP_INDEX_SCALE_ENTRIES` sets the size (default 50,000, so the test stays quick in
//! debug builds). Issue 4's target is measured with
//! `OCSP_INDEX_SCALE_ENTRIES=1000000 cargo test --release -p ocsp-responder --test it
//! index_txt_scale -- --nocapture`. In release builds the test asserts the 1 s budget for
//! the load and each reload, on the CPU time of the loading thread (wall time is printed
//! too, but on a shared 2-core machine it measures the neighbours as much as the code); in
//! every build it asserts the 200 MB resident-memory budget.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use ocsp_proto::{CertStatus, Serial};
use ocsp_status::index_txt::IndexTxtSource;
use ocsp_status::StatusSource;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const RSS_BUDGET_KB: u64 = 200 * 1024;

fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A 20-octet serial as `openssl ca -create_serial` makes them (159 random bits).
fn serial_hex(i: u64) -> String {
    let (a, b, c) = (splitmix(i), splitmix(i ^ 0xAAAA), splitmix(i ^ 0x5555));
    format!(
        "{:016X}{:016X}{:08X}",
        a & 0x7FFF_FFFF_FFFF_FFFF,
        b,
        c as u32
    )
}

/// One in ten revoked. `marker` is the revocation time (seconds) of serial `FFFF`, which
/// tells a reader which version of the file it saw.
fn write_index(path: &Path, n: u64, marker: u64) {
    let tmp = path.with_extension("new");
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp).unwrap());
    for i in 0..n {
        let serial = serial_hex(i);
        if i % 10 == 3 {
            writeln!(
                w,
                "R\t300101000000Z\t240101000000Z,keyCompromise\t{serial}\tunknown\t\
                 /C=US/O=Example Corp/CN=host{i}.example.com"
            )
            .unwrap();
        } else {
            writeln!(
                w,
                "V\t300101000000Z\t\t{serial}\tunknown\t/C=US/O=Example Corp/CN=host{i}.example.com"
            )
            .unwrap();
        }
    }
    let when = format!("2401010000{:02}Z", marker);
    writeln!(w, "R\t300101000000Z\t{when}\tFFFF\tunknown\t/CN=marker").unwrap();
    w.into_inner().unwrap().sync_all().unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// CPU time this thread has run, when /proc says.
fn thread_cpu() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace()
        .next()?
        .parse()
        .ok()
        .map(Duration::from_nanos)
}

/// Wall and CPU time of `f` on this thread.
fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration, Option<Duration>) {
    let (cpu, wall) = (thread_cpu(), Instant::now());
    let out = f();
    let cpu = thread_cpu().zip(cpu).map(|(b, a)| b.saturating_sub(a));
    (out, wall.elapsed(), cpu)
}

/// (VmRSS, VmHWM) in kB, when /proc says.
fn rss_kb() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))?
            .split_whitespace()
            .nth(1)?
            .parse::<u64>()
            .ok()
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

fn marker_of(status: Option<CertStatus>) -> u64 {
    match status {
        Some(CertStatus::Revoked(r)) => r.time.0 % 60,
        other => panic!("marker serial not revoked: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_index_loads_reloads_and_answers_under_load() {
    // The resident-memory budget is judged on this process's peak (VmHWM): the other tests
    // of the binary must not share it.
    if !test_support::process::run_alone(
        module_path!(),
        "large_index_loads_reloads_and_answers_under_load",
        Duration::from_secs(600),
    ) {
        return;
    }
    let n: u64 = std::env::var("OCSP_INDEX_SCALE_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    let release = !cfg!(debug_assertions);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index.txt");
    write_index(&path, n, 1);
    let file_mb = std::fs::metadata(&path).unwrap().len() as f64 / 1e6;
    let rss_before = rss_kb();

    let (src, load, load_cpu) = timed(|| IndexTxtSource::open(&path).unwrap());
    let snap = src.snapshot();
    assert_eq!(snap.len() as u64, n + 1);
    let rss_loaded = rss_kb();
    println!(
        "index of {n} entries ({file_mb:.1} MB): load {load:?} wall, {load_cpu:?} CPU; table \
         {:.1} MB on the heap, RSS before/after load {:?}/{:?} kB",
        snap.heap_bytes() as f64 / 1e6,
        rss_before.map(|r| r.0),
        rss_loaded.map(|r| r.0),
    );
    drop(snap);

    // Spot checks.
    for i in [0, 1, 3, n / 2, n - 1] {
        let s = Serial::from_hex(&serial_hex(i)).unwrap();
        let st = src.status(&s).await.unwrap().status;
        if i % 10 == 3 {
            assert!(matches!(st, Some(CertStatus::Revoked(_))), "{i}: {st:?}");
        } else {
            assert_eq!(st, Some(CertStatus::Good), "{i}");
        }
    }
    assert_eq!(
        src.status(&Serial::from_hex("0123").unwrap())
            .await
            .unwrap()
            .status,
        None
    );

    // Reload while readers hammer the source: no failed and no stale answer.
    let published = Arc::new(AtomicU64::new(1));
    let done = Arc::new(AtomicBool::new(false));
    let lookups = Arc::new(AtomicU64::new(0));
    let mut readers = Vec::new();
    for r in 0..4u64 {
        let (src, published, done, lookups) = (
            src.clone(),
            published.clone(),
            done.clone(),
            lookups.clone(),
        );
        readers.push(tokio::spawn(async move {
            let marker = Serial::from_hex("FFFF").unwrap();
            let mut i = r;
            while !done.load(Ordering::SeqCst) {
                let before = published.load(Ordering::SeqCst);
                let seen = marker_of(src.status(&marker).await.unwrap().status);
                assert!(seen >= before, "stale: version {seen} after {before}");
                let s = Serial::from_hex(&serial_hex(i % n)).unwrap();
                let st = src.status(&s).await.unwrap().status;
                assert_eq!(
                    matches!(st, Some(CertStatus::Revoked(_))),
                    i % n % 10 == 3,
                    "{i}"
                );
                assert!(st.is_some());
                i += 7;
                lookups.fetch_add(2, Ordering::Relaxed);
                tokio::task::yield_now().await;
            }
        }));
    }
    let mut reloads = Vec::new();
    for v in 2..=4u64 {
        let (p, pub2) = (path.clone(), published.clone());
        tokio::task::spawn_blocking(move || {
            write_index(&p, n, v);
            pub2.store(v, Ordering::SeqCst);
        })
        .await
        .unwrap();
        // From the rename to a lookup that sees it: this task or a reader pays the reload.
        let t = Instant::now();
        assert_eq!(src.generation().await.unwrap(), v);
        let wall = t.elapsed();
        // The CPU a reload costs, measured on its own thread (SIGHUP: a forced reload that
        // finds the same table and keeps the generation).
        let src2 = src.clone();
        let (gen, _, cpu) =
            tokio::task::spawn_blocking(move || timed(|| src2.reload_blocking().unwrap()))
                .await
                .unwrap();
        assert_eq!(gen, v);
        reloads.push((wall, cpu));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    done.store(true, Ordering::SeqCst);
    for r in readers {
        r.await.unwrap();
    }
    let rss_end = rss_kb();
    println!(
        "reloads under load (rename to fresh answer, CPU of a reload): {reloads:?}, {} lookups, RSS now/peak {:?} kB \
         (budget {RSS_BUDGET_KB})",
        lookups.load(Ordering::Relaxed),
        rss_end,
    );
    let report = src.last_reload();
    assert!(report.ok());
    assert_eq!(report.generation, 4);

    if let Some((_, peak)) = rss_end {
        assert!(
            peak <= RSS_BUDGET_KB,
            "peak RSS {peak} kB over the {RSS_BUDGET_KB} kB budget"
        );
    }
    if release {
        // 1 s per million entries, and never less than 1 s for smaller files.
        let budget = Duration::from_secs_f64((n as f64 / 1e6).max(1.0));
        for cpu in std::iter::once(load_cpu).chain(reloads.iter().map(|r| r.1)) {
            let cpu = cpu.unwrap_or(load);
            assert!(
                cpu <= budget,
                "a load took {cpu:?} of CPU (budget {budget:?})"
            );
        }
    }
}
