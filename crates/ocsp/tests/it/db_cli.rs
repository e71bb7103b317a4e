//! `ocsp db`, `import`, `revoke`, `unrevoke`, `status` against a real PostgreSQL (the
//! test binary's throwaway cluster) and a CA run by the real `openssl ca`.
//!
//! The database URL is handed over the way the docs say: in `OCSP_DATABASE_URL`, never
//! in argv (except where a test checks what `--db` does with a password).

use crate::OCSP;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use test_support::pki::Pki;
use test_support::postgres::{random_hex, PgCluster, TestDb};
use test_support::process::{run_input, strip_ansi, CMD_TIMEOUT};
use test_support::responder::Run;

/// Run `ocsp ARGS` with `OCSP_DATABASE_URL=url`.
fn ocsp_db(url: &str, args: &[&str]) -> Run {
    let out = run_input(
        Command::new(OCSP)
            .args(args)
            .env("OCSP_DATABASE_URL", url)
            .env("NO_COLOR", "1"),
        None,
        CMD_TIMEOUT,
    );
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: strip_ansi(&String::from_utf8_lossy(&out.stderr)),
    }
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// A migrated database with the roles in place.
fn migrated() -> (&'static PgCluster, TestDb) {
    let pg = PgCluster::shared();
    let db = pg.fresh_db();
    let r = ocsp_db(&db.url, &["db", "migrate", "--create-roles"]);
    r.expect_code(0);
    assert!(r.stdout.contains("applied 0001_initial"), "{}", r.stdout);
    (pg, db)
}

fn sql(pg: &PgCluster, db: &TestDb, q: &str) -> String {
    pg.exec_in(&db.name, q)
}

/// `ocsp_cert.serial` as a bytea literal: the DER INTEGER content octets of an
/// openssl-printed hex serial (a 00 octet before a set top bit).
fn db_serial(hex: &str) -> String {
    let high = u8::from_str_radix(&hex[..1], 16).unwrap() >= 8;
    format!("'\\x{}{hex}'::bytea", if high { "00" } else { "" })
}

fn index_counts(pki: &Pki) -> (usize, usize) {
    let text = std::fs::read_to_string(&pki.index).unwrap();
    let lines = text.lines().filter(|l| !l.is_empty()).count();
    let revoked = text.lines().filter(|l| l.starts_with('R')).count();
    (lines, revoked)
}

#[test]
fn db_migrate_is_idempotent_and_check_reports() {
    let (_pg, db) = migrated();
    let again = ocsp_db(&db.url, &["db", "migrate"]);
    again.expect_code(0);
    assert!(
        again.stdout.contains("schema is current (version 1)"),
        "{}",
        again.stdout
    );
    let check = ocsp_db(&db.url, &["db", "check", "--role", "writer"]);
    check.expect_code(0);
    assert!(
        check.stdout.contains("schema: version 1 (current)"),
        "{}",
        check.stdout
    );
    // The password never shows: not in output, not in errors.
    assert!(!check
        .stdout
        .contains(db.url.split(':').nth(2).unwrap().split('@').next().unwrap()));
    let roles = ocsp_db(&db.url, &["db", "migrate", "--print-roles-sql"]);
    assert!(roles
        .stdout
        .contains("GRANT EXECUTE ON FUNCTION ocsp_node_report"));
}

#[test]
fn db_two_migrations_at_once() {
    let pg = PgCluster::shared();
    let db = pg.fresh_db();
    let spawn = || {
        Command::new(OCSP)
            .args(["db", "migrate", "--create-roles"])
            .env("OCSP_DATABASE_URL", &db.url)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    for o in [&a, &b] {
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&a.stdout),
        String::from_utf8_lossy(&b.stdout)
    );
    assert_eq!(said.matches("applied 0001_initial").count(), 1, "{said}");
    assert_eq!(said.matches("schema is current").count(), 1, "{said}");
    assert_eq!(sql(pg, &db, "SELECT count(*) FROM ocsp_schema"), "1");
}

#[test]
fn db_import_index_is_idempotent_and_never_unrevokes() {
    let (pg, db) = migrated();
    let pki = Pki::standard("dbimport");
    let (lines, revoked) = index_counts(&pki);
    let args = ["import", "--ca", p(&pki.cacert), "--index", p(&pki.index)];
    let first = ocsp_db(&db.url, &args);
    first.expect_code(0);
    assert!(first.stdout.contains("registered CA"), "{}", first.stdout);
    assert!(
        first.stdout.contains(&format!(
            "{lines} entries: {lines} new, 0 changed, 0 unchanged"
        )),
        "{}",
        first.stdout
    );
    assert!(
        first.stdout.contains("generation 0 -> 1"),
        "{}",
        first.stdout
    );
    assert_eq!(
        sql(pg, &db, "SELECT count(*) FROM ocsp_cert"),
        lines.to_string()
    );
    assert_eq!(
        sql(pg, &db, "SELECT count(*) FROM ocsp_cert WHERE status = 'R'"),
        revoked.to_string()
    );
    // The hold and the compromise time came through.
    let held = pki.serial(&pki.cert("held"));
    assert_eq!(
        sql(
            pg,
            &db,
            &format!(
                "SELECT reason FROM ocsp_cert WHERE serial = {}",
                db_serial(&held)
            )
        ),
        "6"
    );
    // A second run changes nothing and bumps nothing.
    let second = ocsp_db(&db.url, &args);
    second.expect_code(0);
    assert!(
        !second.stdout.contains("registered CA"),
        "{}",
        second.stdout
    );
    assert!(
        second
            .stdout
            .contains(&format!("0 new, 0 changed, {lines} unchanged")),
        "{}",
        second.stdout
    );
    assert!(
        second.stdout.contains("generation 1 -> 1"),
        "{}",
        second.stdout
    );
    // openssl ca -revoke: one changed, one step.
    pki.revoke(&pki.cert("good"), &["-crl_reason", "superseded"]);
    let third = ocsp_db(&db.url, &args);
    third.expect_code(0);
    assert!(
        third.stdout.contains("0 new, 1 changed"),
        "{}",
        third.stdout
    );
    assert!(
        third.stdout.contains("generation 1 -> 2"),
        "{}",
        third.stdout
    );
    // Revoked in the database, valid in the index: stays revoked unless told.
    let far = pki.serial(&pki.cert("far_future"));
    ocsp_db(
        &db.url,
        &[
            "revoke",
            "--ca",
            p(&pki.cacert),
            "--serial",
            &far,
            "--reason",
            "keyCompromise",
        ],
    )
    .expect_code(0);
    let kept = ocsp_db(&db.url, &args);
    kept.expect_code(0);
    assert!(kept.stdout.contains("1 kept revoked"), "{}", kept.stdout);
    assert!(kept.stdout.contains("--allow-unrevoke"), "{}", kept.stdout);
    let status_of = |serial: &str| {
        sql(
            pg,
            &db,
            &format!(
                "SELECT status FROM ocsp_cert WHERE serial = {}",
                db_serial(serial)
            ),
        )
    };
    assert_eq!(status_of(&far), "R");
    let mut unrevoke = args.to_vec();
    unrevoke.push("--allow-unrevoke");
    let applied = ocsp_db(&db.url, &unrevoke);
    applied.expect_code(0);
    assert!(applied.stdout.contains("1 changed"), "{}", applied.stdout);
    assert_eq!(status_of(&far), "V");
}

#[test]
fn db_import_certs_checks_the_issuer() {
    let (pg, db) = migrated();
    let pki = Pki::new("dbcerts");
    pki.issue("one");
    pki.issue("two");
    let newcerts = pki.dir.join("newcerts");
    let files = std::fs::read_dir(&newcerts).unwrap().count();
    let args = ["import", "--ca", p(&pki.cacert), "--certs", p(&newcerts)];
    let r = ocsp_db(&db.url, &args);
    r.expect_code(0);
    assert!(
        r.stdout.contains(&format!("{files} entries: {files} new")),
        "{}",
        r.stdout
    );
    assert_eq!(
        sql(pg, &db, "SELECT count(*) FROM ocsp_cert WHERE cert_sha256 IS NOT NULL AND not_before IS NOT NULL AND status = 'V'"),
        files.to_string()
    );
    // A certificate of another CA stops the run before anything is written.
    let other = Pki::new("dbforeign");
    let stranger = other.issue("stranger");
    std::fs::copy(&stranger, newcerts.join("stranger.pem")).unwrap();
    pki.issue("three");
    let r = ocsp_db(&db.url, &args);
    r.expect_code(1);
    assert!(r.stderr.contains("stranger.pem"), "{}", r.stderr);
    assert!(r.stderr.contains("not issued by the CA"), "{}", r.stderr);
    assert!(r.stderr.contains("--skip-foreign"), "{}", r.stderr);
    assert_eq!(
        sql(pg, &db, "SELECT count(*) FROM ocsp_cert"),
        files.to_string()
    );
    let mut skip = args.to_vec();
    skip.push("--skip-foreign");
    let r = ocsp_db(&db.url, &skip);
    r.expect_code(0);
    assert!(r.stdout.contains("1 new, 0 changed"), "{}", r.stdout);
}

#[test]
fn db_revoke_unrevoke_status_and_wait() {
    let (pg, db) = migrated();
    let pki = Pki::new("dbrevoke");
    let alice = pki.issue("alice");
    let ca = p(&pki.cacert);
    // Not registered yet: named, with the fix.
    let r = ocsp_db(&db.url, &["status", "--ca", ca, "--cert", p(&alice)]);
    r.expect_code(1);
    assert!(
        r.stderr.contains("ocsp import --db URL --ca"),
        "{}",
        r.stderr
    );
    // Registering only.
    let r = ocsp_db(&db.url, &["import", "--ca", ca]);
    r.expect_code(0);
    assert!(r.stdout.contains("registered CA"), "{}", r.stdout);
    let r = ocsp_db(&db.url, &["import", "--ca", ca]);
    assert!(r.stdout.contains("already registered"), "{}", r.stdout);
    ocsp_db(&db.url, &["import", "--ca", ca, "--index", p(&pki.index)]).expect_code(0);
    let serial = pki.serial(&alice);
    // Under the cabf profile, certificateHold is refused.
    let r = ocsp_db(
        &db.url,
        &[
            "revoke",
            "--ca",
            ca,
            "--cert",
            p(&alice),
            "--reason",
            "certificateHold",
            "--profile",
            "cabf",
        ],
    );
    r.expect_code(1);
    assert!(
        r.stderr.contains("not allowed under the cabf profile"),
        "{}",
        r.stderr
    );
    // Hold, status, lift.
    let r = ocsp_db(
        &db.url,
        &[
            "revoke",
            "--ca",
            ca,
            "--cert",
            p(&alice),
            "--reason",
            "certificateHold",
        ],
    );
    r.expect_code(0);
    assert!(r.stdout.contains("revoked serial"), "{}", r.stdout);
    let again = ocsp_db(
        &db.url,
        &[
            "revoke",
            "--ca",
            ca,
            "--serial",
            &serial,
            "--reason",
            "certificateHold",
        ],
    );
    again.expect_code(0);
    assert!(again.stdout.contains("nothing changed"), "{}", again.stdout);
    let st = ocsp_db(&db.url, &["status", "--ca", ca, "--serial", &serial]);
    st.expect_code(0);
    assert!(st.stdout.contains("status: revoked at"), "{}", st.stdout);
    assert!(st.stdout.contains("certificateHold"), "{}", st.stdout);
    assert!(st.stdout.contains("certificate sha256: "), "{}", st.stdout);
    let r = ocsp_db(&db.url, &["unrevoke", "--ca", ca, "--serial", &serial]);
    r.expect_code(0);
    assert!(r.stdout.contains("un-revoked"), "{}", r.stdout);
    let st = ocsp_db(&db.url, &["status", "--ca", ca, "--serial", &serial]);
    assert!(st.stdout.contains("status: valid"), "{}", st.stdout);
    // A permanent revocation is not lifted without --force.
    ocsp_db(
        &db.url,
        &[
            "revoke",
            "--ca",
            ca,
            "--serial",
            &serial,
            "--reason",
            "keyCompromise",
            "--invalidity-date",
            "2026-01-02T03:04:05Z",
        ],
    )
    .expect_code(0);
    // The same revocation again, the time and invalidity date kept: nothing changes.
    let r = ocsp_db(
        &db.url,
        &[
            "revoke",
            "--ca",
            ca,
            "--serial",
            &serial,
            "--reason",
            "keycompromise",
        ],
    );
    r.expect_code(0);
    assert!(r.stdout.contains("nothing changed"), "{}", r.stdout);
    assert!(
        r.stdout.contains("invalidity date 2026-01-02T03:04:05Z"),
        "{}",
        r.stdout
    );
    let r = ocsp_db(&db.url, &["unrevoke", "--ca", ca, "--serial", &serial]);
    r.expect_code(1);
    assert!(r.stderr.contains("--force"), "{}", r.stderr);
    ocsp_db(
        &db.url,
        &["unrevoke", "--ca", ca, "--serial", &serial, "--force"],
    )
    .expect_code(0);
    // --wait: a live node behind the change is named, exit 3; one that has seen it is fine.
    let issuer = sql(pg, &db, "SELECT id FROM ocsp_issuer");
    sql(
        pg,
        &db,
        &format!("SELECT ocsp_node_report('node-a', {issuer}, 0)"),
    );
    let r = ocsp_db(
        &db.url,
        &[
            "revoke",
            "--ca",
            ca,
            "--serial",
            &serial,
            "--reason",
            "superseded",
            "--wait=1",
        ],
    );
    r.expect_code(3);
    assert!(r.stderr.contains("node-a (at generation 0"), "{}", r.stderr);
    sql(
        pg,
        &db,
        &format!("SELECT ocsp_node_report('node-a', {issuer}, 1000)"),
    );
    let r = ocsp_db(
        &db.url,
        &[
            "revoke",
            "--ca",
            ca,
            "--serial",
            &serial,
            "--reason",
            "keyCompromise",
            "--wait",
        ],
    );
    r.expect_code(0);
    assert!(
        r.stdout.contains("all 1 live node(s) have seen"),
        "{}",
        r.stdout
    );
    let st = ocsp_db(&db.url, &["status", "--ca", ca, "--serial", &serial]);
    assert!(
        st.stdout.contains("node node-a: generation 1000"),
        "{}",
        st.stdout
    );
    assert!(st.stdout.contains("has seen this record"), "{}", st.stdout);
}

/// A running `ocsp import --watch`, its output collected.
struct Watching {
    child: std::process::Child,
    out: std::sync::Arc<test_support::process::DrainedBuf>,
    err: std::sync::Arc<test_support::process::DrainedBuf>,
}

impl Watching {
    fn start(url: &str, pki: &Pki) -> Watching {
        let mut child = Command::new(OCSP)
            .args([
                "import",
                "--ca",
                p(&pki.cacert),
                "--index",
                p(&pki.index),
                "--watch",
                "--quiet",
            ])
            .env("OCSP_DATABASE_URL", url)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = test_support::process::drain(child.stdout.take());
        let err = test_support::process::drain(child.stderr.take());
        let w = Watching { child, out, err };
        w.wait_for(
            &|| w.stdout().contains("following"),
            "import --watch did not start following",
        );
        w
    }

    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.lock()).into_owned()
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.err.lock()).into_owned()
    }

    /// Poll `what` (a database or output check) until it holds; 20 s at most.
    fn wait_for(&self, what: &dyn Fn() -> bool, why: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !what() {
            assert!(
                Instant::now() < deadline,
                "{why}: stdout {} stderr {}",
                self.stdout(),
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM; it exits 0.
    fn stop(mut self) -> String {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let code = self.child.wait().unwrap();
        assert!(
            code.success(),
            "import --watch exits 0 on SIGTERM: {code:?}"
        );
        self.stdout()
    }
}

#[test]
fn db_import_watch_follows_openssl_ca_revoke() {
    let (pg, db) = migrated();
    let pki = Pki::new("dbwatch");
    let bob = pki.issue("bob");
    let serial = pki.serial(&bob);
    let w = Watching::start(&db.url, &pki);
    let status = || {
        sql(
            pg,
            &db,
            &format!(
                "SELECT status FROM ocsp_cert WHERE serial = {}",
                db_serial(&serial)
            ),
        )
    };
    assert_eq!(status(), "V");
    pki.revoke(&bob, &["-crl_reason", "keyCompromise"]);
    w.wait_for(
        &|| status() == "R",
        "the revocation did not reach the database",
    );
    let carol = pki.issue("carol");
    let carol_serial = pki.serial(&carol);
    w.wait_for(
        &|| {
            sql(
                pg,
                &db,
                &format!(
                    "SELECT count(*) FROM ocsp_cert WHERE serial = {}",
                    db_serial(&carol_serial)
                ),
            ) == "1"
        },
        "a new certificate did not reach the database",
    );
    assert!(w.stop().contains("applied:"));
}

#[test]
fn db_import_watch_survives_a_database_restart() {
    // A cluster of its own: stopping the shared one would disturb the other tests.
    let pg: &'static PgCluster = Box::leak(Box::new(PgCluster::start_new()));
    let db = pg.fresh_db();
    ocsp_db(&db.url, &["db", "migrate"]).expect_code(0);
    let pki = Pki::new("dbwatchdown");
    let eve = pki.issue("eve");
    let serial = pki.serial(&eve);
    let w = Watching::start(&db.url, &pki);
    pg.stop();
    pki.revoke(&eve, &["-crl_reason", "superseded"]);
    w.wait_for(
        &|| w.stderr().contains("will retry"),
        "the failed apply was not reported",
    );
    pg.start();
    w.wait_for(
        &|| {
            sql(
                pg,
                &db,
                &format!(
                    "SELECT status FROM ocsp_cert WHERE serial = {}",
                    db_serial(&serial)
                ),
            ) == "R"
        },
        "the revocation made while the database was down did not arrive after it came back",
    );
    w.stop();
}

#[test]
fn db_errors_name_the_fix() {
    let pg = PgCluster::shared();
    let empty = pg.fresh_db();
    let pki = Pki::new("dberrors");
    let ca = p(&pki.cacert);
    let import = ["import", "--ca", ca, "--index", p(&pki.index)];
    // Schema missing.
    let r = ocsp_db(&empty.url, &import);
    r.expect_code(1);
    assert!(r.stderr.contains("run `ocsp db migrate"), "{}", r.stderr);
    // Bad URL, from the environment.
    let r = ocsp_db("mysql://u:hunter2@h/d", &import);
    r.expect_code(1);
    assert!(
        r.stderr.contains("OCSP_DATABASE_URL") && r.stderr.contains("postgres://"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("hunter2"), "{}", r.stderr);
    // Wrong password, given with --db: a warning about argv, and never the password.
    let secret = format!("pw{}", random_hex(4));
    let r = test_support::responder::run(
        OCSP,
        &["db", "check", "--db", &empty.url_for("postgres", &secret)],
    );
    r.expect_code(1);
    assert!(r.stderr.contains("refused the login"), "{}", r.stderr);
    assert!(r.stderr.contains("visible to other users"), "{}", r.stderr);
    assert!(
        !r.stderr.contains(&secret) && !r.stdout.contains(&secret),
        "{}",
        r.stderr
    );
    // Database missing.
    let r = ocsp_db(
        &empty.url.replace(&empty.name, "nodb_here"),
        &["db", "check"],
    );
    r.expect_code(1);
    assert!(r.stderr.contains("createdb nodb_here"), "{}", r.stderr);
    // Unreachable.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let r = ocsp_db(
        &format!("postgres://u@127.0.0.1:{port}/x"),
        &["db", "check"],
    );
    r.expect_code(1);
    assert!(
        r.stderr.contains("cannot reach the database"),
        "{}",
        r.stderr
    );
    // The URL from a url_file of --config.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("db.url"), format!("{}\n", empty.url)).unwrap();
    std::fs::write(
        dir.path().join("ocsp.toml"),
        "[database]\nurl_file = \"db.url\"\n",
    )
    .unwrap();
    let r = test_support::responder::run(
        OCSP,
        &[
            "db",
            "migrate",
            "--config",
            p(&dir.path().join("ocsp.toml")),
        ],
    );
    r.expect_code(0);
    // A newer schema than the binary.
    sql(pg, &empty, "INSERT INTO ocsp_schema (version) VALUES (99)");
    let r = ocsp_db(&empty.url, &import);
    r.expect_code(1);
    assert!(r.stderr.contains("upgrade ocsp"), "{}", r.stderr);
}

#[test]
fn db_reader_role_reads_but_cannot_write() {
    let (pg, db) = migrated();
    let pki = Pki::new("dbreader");
    let dave = pki.issue("dave");
    let ca = p(&pki.cacert);
    ocsp_db(&db.url, &["import", "--ca", ca, "--index", p(&pki.index)]).expect_code(0);
    let login = format!("resp_{}", random_hex(3));
    let pw = random_hex(8);
    pg.exec(&format!(
        "CREATE ROLE {login} LOGIN PASSWORD '{pw}'; GRANT ocsp_reader TO {login}"
    ));
    let url = db.url_for(&login, &pw);
    ocsp_db(&url, &["db", "check", "--role", "reader"]).expect_code(0);
    let r = ocsp_db(&url, &["db", "check", "--role", "writer"]);
    r.expect_code(1);
    assert!(
        r.stdout.contains("missing INSERT on ocsp_cert"),
        "{}",
        r.stdout
    );
    let r = ocsp_db(
        &url,
        &[
            "revoke",
            "--ca",
            ca,
            "--cert",
            p(&dave),
            "--reason",
            "superseded",
        ],
    );
    r.expect_code(1);
    assert!(r.stderr.contains("GRANT ocsp_writer TO"), "{}", r.stderr);
    let r = ocsp_db(&url, &["import", "--ca", ca, "--index", p(&pki.index)]);
    r.expect_code(1);
    assert!(r.stderr.contains("GRANT ocsp_writer TO"), "{}", r.stderr);
    let r = ocsp_db(&url, &["status", "--ca", ca, "--cert", p(&dave)]);
    r.expect_code(0);
    assert!(r.stdout.contains("status: valid"), "{}", r.stdout);
    // A writer login revokes and reads.
    let wlogin = format!("ops_{}", random_hex(3));
    pg.exec(&format!(
        "CREATE ROLE {wlogin} LOGIN PASSWORD '{pw}'; GRANT ocsp_writer TO {wlogin}"
    ));
    let wurl = db.url_for(&wlogin, &pw);
    ocsp_db(&wurl, &["db", "check", "--role", "writer"]).expect_code(0);
    ocsp_db(
        &wurl,
        &[
            "revoke",
            "--ca",
            ca,
            "--cert",
            p(&dave),
            "--reason",
            "superseded",
        ],
    )
    .expect_code(0);
    let r = ocsp_db(&wurl, &["status", "--ca", ca, "--cert", p(&dave)]);
    r.expect_code(0);
    assert!(r.stdout.contains("superseded"), "{}", r.stdout);
    assert!(r.stdout.contains(&format!("by {wlogin}")), "{}", r.stdout);
}
