#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use ocsp_proto::{CertStatus, Revocation, RevocationReason};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

const BASE: u64 = 1_700_000_000;

fn serial(hex: &str) -> Serial {
    Serial::from_hex(hex).unwrap()
}

fn good(hex: &str) -> String {
    format!("V\t351231235959Z\t\t{hex}\tunknown\t/CN={hex}\n")
}

fn revoked_at(hex: &str, t: u64) -> String {
    let when = Timestamp(t).to_asn1_text();
    format!("R\t351231235959Z\t{when},keyCompromise\t{hex}\tunknown\t/CN={hex}\n")
}

/// Write next to `path` and rename into place, as openssl ca does.
fn replace(path: &Path, content: &str) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, content).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn setup(content: &str) -> (tempfile::TempDir, PathBuf, Arc<IndexTxtSource>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index.txt");
    std::fs::write(&path, content).unwrap();
    let src = IndexTxtSource::open(&path).unwrap();
    (dir, path, src)
}

async fn status(src: &IndexTxtSource, hex: &str) -> Option<CertStatus> {
    src.status(&serial(hex)).await.unwrap().status
}

fn is_revoked(s: Option<CertStatus>) -> bool {
    matches!(s, Some(CertStatus::Revoked(_)))
}

#[tokio::test]
async fn lookups_and_description() {
    let text = format!(
        "{}{}E\t200101000000Z\t\t0C\tunknown\t/CN=c\n\
         E\t200101000000Z\t190101000000Z,superseded\t0D\tunknown\t/CN=d\n",
        good("0A"),
        revoked_at("0B", BASE)
    );
    let (_d, path, src) = setup(&text);
    assert_eq!(status(&src, "0A").await, Some(CertStatus::Good));
    assert_eq!(status(&src, "000a").await, Some(CertStatus::Good));
    assert_eq!(
        status(&src, "0B").await,
        Some(CertStatus::Revoked(Revocation {
            time: Timestamp(BASE),
            reason: Some(RevocationReason::KeyCompromise),
            invalidity_date: None,
            hold_instruction: None,
        }))
    );
    assert_eq!(status(&src, "0C").await, Some(CertStatus::Good));
    assert!(is_revoked(status(&src, "0D").await));
    assert_eq!(status(&src, "0E").await, None);
    let l = src.status(&serial("0A")).await.unwrap();
    assert_eq!(l.generation, 1);
    assert_eq!(src.generation().await.unwrap(), 1);
    assert_eq!(src.path(), path);
    assert!(src.describe().contains("(4 entries"), "{}", src.describe());
    let r = src.last_reload();
    assert!(r.ok());
    assert_eq!(
        (r.entries, r.revoked, r.generation, r.reloads),
        (4, 2, 1, 1)
    );
    let snap = src.snapshot();
    assert_eq!(snap.len(), 4);
    assert_eq!(snap.get(&serial("0B")), status(&src, "0B").await);
}

#[test]
fn open_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("index.txt");
    let e = IndexTxtSource::open(&missing).err().unwrap();
    assert_eq!(e.line, None);
    assert!(e.reason.contains("no such file"), "{e}");
    let e = IndexTxtSource::open(dir.path()).err().unwrap();
    assert!(e.reason.contains("is a directory"), "{e}");
    std::fs::write(
        &missing,
        format!("{}{}{}", good("01"), good("02"), good("01")),
    )
    .unwrap();
    let e = IndexTxtSource::open(&missing).err().unwrap();
    assert_eq!(e.line, Some(3));
    assert!(e
        .to_string()
        .contains("index.txt:3: serial 01 appears twice, on lines 1 and 3"));
    std::fs::write(&missing, "").unwrap();
    assert_eq!(IndexTxtSource::open(&missing).unwrap().snapshot().len(), 0);
}

/// Every lookup made after a rename returns sees the renamed file.
#[tokio::test]
async fn rename_is_seen_by_the_next_lookup() {
    let (_d, path, src) = setup(&good("0A"));
    for i in 0..200u64 {
        let revoke = i % 2 == 0;
        let body = if revoke {
            revoked_at("0A", BASE + i)
        } else {
            good("0A")
        };
        replace(&path, &format!("{body}{}", good("0B")));
        let st = status(&src, "0A").await;
        assert_eq!(is_revoked(st.clone()), revoke, "round {i}: {st:?}");
        if let Some(CertStatus::Revoked(r)) = st {
            assert_eq!(r.time, Timestamp(BASE + i));
        }
    }
    // Every rename changed the table, so each made a new generation.
    assert_eq!(src.generation().await.unwrap(), 201);
}

/// Readers on several threads while the file is replaced again and again: a lookup that
/// starts after a rename never sees an older file.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_stale_answers_under_concurrent_renames() {
    let marker = |v: u64| format!("{}{}", revoked_at("FFFF", BASE + v), good("01"));
    let (_d, path, src) = setup(&marker(1));
    let published = Arc::new(AtomicU64::new(1));
    let done = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for _ in 0..6 {
        let (src, published, done) = (src.clone(), published.clone(), done.clone());
        readers.push(tokio::spawn(async move {
            let mut n = 0u64;
            while !done.load(Ordering::SeqCst) {
                let before = published.load(Ordering::SeqCst);
                let l = src.status(&serial("FFFF")).await.unwrap();
                let Some(CertStatus::Revoked(r)) = l.status else {
                    panic!("marker missing: {l:?}");
                };
                let seen = r.time.0 - BASE;
                assert!(seen >= before, "stale: saw version {seen} after {before}");
                n += 1;
            }
            n
        }));
    }
    let writer = {
        let (path, published) = (path.clone(), published.clone());
        std::thread::spawn(move || {
            for v in 2..=300u64 {
                replace(&path, &marker(v));
                published.store(v, Ordering::SeqCst);
                std::thread::sleep(Duration::from_micros(300));
            }
        })
    };
    tokio::task::spawn_blocking(move || writer.join().unwrap())
        .await
        .unwrap();
    done.store(true, Ordering::SeqCst);
    let mut total = 0;
    for r in readers {
        total += r.await.unwrap();
    }
    assert!(total > 300, "readers made only {total} lookups");
    let Some(CertStatus::Revoked(r)) = status(&src, "FFFF").await else {
        panic!()
    };
    assert_eq!(r.time, Timestamp(BASE + 300));
}

/// Concurrent callers that find the file changed share one reload.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_callers_coalesce() {
    let mut big = String::new();
    for i in 0..20_000u32 {
        big.push_str(&good(&format!("{i:08X}")));
    }
    let (_d, path, src) = setup(&big);
    big.push_str(&revoked_at("FFFFFFFF", BASE));
    replace(&path, &big);
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let src = src.clone();
        tasks.push(tokio::spawn(async move { status(&src, "FFFFFFFF").await }));
    }
    for t in tasks {
        assert!(is_revoked(t.await.unwrap()));
    }
    let r = src.last_reload();
    assert_eq!((r.reloads, r.generation, r.entries), (2, 2, 20_001));
}

#[tokio::test]
async fn bad_reloads_keep_the_last_good_state() {
    let v1 = format!("{}{}", good("0A"), revoked_at("0B", BASE));
    let (dir, path, src) = setup(&v1);
    let expect_old = |tag: &'static str| {
        let src = src.clone();
        async move {
            assert_eq!(status(&src, "0A").await, Some(CertStatus::Good), "{tag}");
            assert!(is_revoked(status(&src, "0B").await), "{tag}");
            assert_eq!(status(&src, "0C").await, None, "{tag}");
            assert_eq!(src.generation().await.unwrap(), 1, "{tag}");
        }
    };

    // A bad line: reported with file:line, once, however many lookups follow.
    replace(
        &path,
        &format!("{v1}V\t351231235959Z\t\tZZ\tunknown\t/CN=x\n"),
    );
    for _ in 0..50 {
        expect_old("bad line").await;
    }
    let r = src.last_reload();
    let e = r.error.clone().unwrap();
    assert_eq!((e.path.as_path(), e.line), (path.as_path(), Some(3)));
    assert!(e.reason.contains("not hexadecimal"), "{e}");
    assert_eq!(
        (r.failures, r.warnings, r.generation, r.entries),
        (1, 1, 1, 2)
    );
    // A forced reload (SIGHUP) of the same bad file fails again but is not logged again.
    assert_eq!(src.reload().await.unwrap_err().line, Some(3));
    assert_eq!(
        (src.last_reload().failures, src.last_reload().warnings),
        (2, 1)
    );

    // Cut short (last line without its newline).
    replace(&path, &format!("{v1}V\t351231235959Z\t\t0C\tunkn"));
    expect_old("cut short").await;
    let r = src.last_reload();
    assert!(r
        .error
        .unwrap()
        .reason
        .contains("does not end with a newline"));
    assert_eq!(r.warnings, 2);

    // Deleted.
    std::fs::remove_file(&path).unwrap();
    expect_old("deleted").await;
    assert!(src
        .last_reload()
        .error
        .unwrap()
        .reason
        .contains("no such file"));

    // Replaced by a directory.
    std::fs::create_dir(&path).unwrap();
    expect_old("directory").await;
    assert!(src
        .last_reload()
        .error
        .unwrap()
        .reason
        .contains("is a directory"));
    std::fs::remove_dir(&path).unwrap();

    // Unreadable (root reads anything: then this case cannot be shown).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(&path, &v1).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
        if File::open(&path).is_err() {
            expect_old("unreadable").await;
            let e = src.last_reload().error.unwrap();
            assert!(e.reason.contains("permission denied"), "{e}");
        } else {
            eprintln!("running as root: the unreadable-file case is not observable");
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    }

    // Written in place in pieces: the half-written state is refused, the whole one
    // taken.
    let v2 = format!("{}{}{}", revoked_at("0A", BASE + 1), good("0B"), good("0C"));
    let (head, _) = v2.split_at(v2.len() - 10);
    std::fs::write(&path, head).unwrap();
    expect_old("half written").await;
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(&v2.as_bytes()[head.len()..]).unwrap();
    }
    assert!(is_revoked(status(&src, "0A").await));
    assert_eq!(status(&src, "0B").await, Some(CertStatus::Good));
    assert_eq!(status(&src, "0C").await, Some(CertStatus::Good));
    let r = src.last_reload();
    assert!(r.ok());
    assert_eq!((r.generation, r.entries), (2, 3));
    drop(dir);
}

#[tokio::test]
async fn unchanged_content_keeps_the_generation() {
    let v1 = format!("{}{}", good("0A"), revoked_at("0B", BASE));
    let (_d, path, src) = setup(&v1);
    replace(&path, &v1);
    assert_eq!(src.generation().await.unwrap(), 1);
    assert_eq!(src.last_reload().reloads, 2);
    assert_eq!(src.reload().await.unwrap(), 1);
    assert_eq!(src.reload_blocking().unwrap(), 1);
    assert_eq!(src.last_reload().reloads, 4);
    replace(&path, &format!("{v1}{}", good("0C")));
    assert_eq!(src.generation().await.unwrap(), 2);
    assert_eq!(src.generation_now(), 2);
}

#[tokio::test]
async fn check_window_lets_one_stat_serve_lookups() {
    let v1 = good("0A");
    let (_d, path, src) = setup(&v1);
    // Zero (the default): every lookup checks the file.
    replace(&path, &format!("{v1}{}", good("0B")));
    assert_eq!(src.generation().await.unwrap(), 2);
    // A long window: the check just made serves the next lookups, which do not see
    // a change made within it...
    src.set_check_window(Duration::from_secs(3600));
    assert_eq!(src.generation().await.unwrap(), 2);
    replace(&path, &format!("{v1}{}", good("0C")));
    assert_eq!(src.generation().await.unwrap(), 2);
    assert_eq!(src.generation().await.unwrap(), 2);
    // ...until the window is over (here: closed) or a reload (the watcher's) runs.
    src.set_check_window(Duration::ZERO);
    assert_eq!(src.generation().await.unwrap(), 3);
    src.set_check_window(Duration::from_secs(3600));
    replace(&path, &format!("{v1}{}", good("0D")));
    assert_eq!(src.reload().await.unwrap(), 4);
    assert_eq!(src.generation().await.unwrap(), 4);
}

async fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..300 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

/// The watcher reloads without any lookup: after a rename, after an in-place write,
/// and stops when its guard is dropped.
#[tokio::test]
async fn watcher_reloads_proactively() {
    let (_d, path, src) = setup(&good("0A"));
    let guard = src.watch().unwrap();
    // last_reload() never touches the file, so only the watcher can move it.
    replace(&path, &revoked_at("0A", BASE));
    wait_for("reload after rename", || src.last_reload().generation == 2).await;
    // In place, same size: only the content changes.
    let same_size = revoked_at("0A", BASE + 1);
    assert_eq!(same_size.len(), revoked_at("0A", BASE).len());
    {
        use std::io::{Seek, Write};
        let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.seek(std::io::SeekFrom::Start(0)).unwrap();
        f.write_all(same_size.as_bytes()).unwrap();
    }
    wait_for("reload after in-place write", || {
        src.last_reload().generation == 3
    })
    .await;
    let snap = src.inner.state.load().table.get(&[0x0A]);
    let Some(CertStatus::Revoked(r)) = snap else {
        panic!()
    };
    assert_eq!(r.time, Timestamp(BASE + 1));
    // A bad file seen by the watcher is reported once.
    replace(&path, "garbage\n");
    wait_for("failed reload", || src.last_reload().failures == 1).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(src.last_reload().warnings, 1);

    guard.stop();
    let before = src.last_reload();
    replace(&path, &good("0A"));
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(
        src.last_reload(),
        before,
        "the watcher still runs after stop"
    );
    // Lookups still see the change themselves.
    assert_eq!(status(&src, "0A").await, Some(CertStatus::Good));
}

#[test]
fn watcher_works_outside_a_runtime_and_ends_with_the_source() {
    let (_d, path, src) = setup(&good("0A"));
    let guard = src.watch().unwrap();
    replace(&path, &good("0B"));
    for _ in 0..300 {
        if src.last_reload().generation == 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(src.last_reload().generation, 2);
    // Dropping the source first is fine; the guard then ends the thread.
    drop(src);
    drop(guard);
}

#[tokio::test]
async fn entries_enumerate_one_state_in_serial_order() {
    let text = format!("{}{}{}", good("0C"), revoked_at("0A", BASE), good("0B"));
    let (_d, _path, src) = setup(&text);
    let mut seen = Vec::new();
    let generation = StatusSource::entries(&*src, &mut |e| seen.push(e))
        .await
        .unwrap();
    assert_eq!(generation, 1);
    let serials: Vec<Serial> = seen.iter().map(|e| e.serial.clone()).collect();
    assert_eq!(serials, vec![serial("0A"), serial("0B"), serial("0C")]);
    assert!(is_revoked(Some(seen[0].status.clone())));
    assert_eq!(seen[1].status, CertStatus::Good);
    // The certificates' notAfter (351231235959Z) reaches the entries: a CRL issued from
    // them keeps a revoked entry until one CRL after it.
    let expiry = Timestamp::from_asn1_text(b"351231235959Z");
    assert!(seen.iter().all(|e| e.expires == expiry), "{seen:?}");
}

#[tokio::test]
async fn changes_name_the_serials_of_a_reload() {
    let (_d, path, src) = setup(&format!("{}{}{}", good("0A"), good("0B"), good("0C")));
    let mut changes = StatusSource::changes(&*src).unwrap();
    // 0B revoked, 0C gone, 0D new, 0A unchanged.
    replace(
        &path,
        &format!("{}{}{}", good("0A"), revoked_at("0B", BASE), good("0D")),
    );
    assert_eq!(src.generation().await.unwrap(), 2);
    let change = changes.try_recv().unwrap();
    assert_eq!(
        change,
        crate::Change::Serials {
            generation: 2,
            serials: vec![serial("0B"), serial("0C"), serial("0D")].into(),
        }
    );
    // Touching the file without changing a status sends nothing.
    replace(
        &path,
        &format!("{}{}{}", good("0A"), revoked_at("0B", BASE), good("0D")),
    );
    assert_eq!(src.generation().await.unwrap(), 2);
    assert!(changes.try_recv().is_err());
}

#[tokio::test]
async fn report_says_what_is_served() {
    let (_d, path, src) = setup(&format!("{}{}", good("0A"), revoked_at("0B", BASE)));
    let r = StatusSource::report(&*src).unwrap();
    assert_eq!(
        (r.kind, r.entries, r.revoked, r.generation),
        ("index_txt", 2, 1, 1)
    );
    assert_eq!(r.location, path.display().to_string());
    assert!(r.ok());
    std::fs::write(&path, "garbage\n").unwrap();
    assert!(StatusSource::reload(&*src).await.is_err());
    let r = StatusSource::report(&*src).unwrap();
    assert!(!r.ok() && r.failures == 1 && r.entries == 2, "{r:?}");
}
