//! `ocsp crl --db`: a CRL issued from a CA's statuses in PostgreSQL (the test binary's
//! throwaway cluster), fed by `ocsp import` of an `openssl ca` index and `ocsp revoke`.
//! The CRL number comes from the database's `ocsp_crl_number` row, strictly increasing
//! and never below the CRL already at `--out`; the CRL is judged by `openssl crl`.
//!
//! The URL is handed over in `OCSP_DATABASE_URL`, as the docs say, for a login role in
//! both `ocsp_reader` (the statuses, read as a node reads them) and `ocsp_writer` (the
//! CRL number row).

use crate::OCSP;
use std::path::Path;
use std::process::Command;
use test_support::pki::Pki;
use test_support::postgres::PgCluster;
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

/// `openssl ARGS`: success and stdout + stderr.
fn openssl(args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl: install it with `apt-get install -y openssl`");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// The cRLNumber of a CRL file, as `openssl crl -crlnumber` prints it.
fn crl_number(crl: &Path) -> u128 {
    let (ok, text) = openssl(&["crl", "-noout", "-crlnumber", "-in", p(crl)]);
    assert!(ok, "{text}");
    let hex = text.trim().trim_start_matches("crlNumber=0x");
    u128::from_str_radix(hex, 16).unwrap_or_else(|e| panic!("{text}: {e}"))
}

#[test]
fn crl_from_the_database_numbers_from_the_shared_row() {
    let pg = PgCluster::shared();
    let db = pg.fresh_db();
    ocsp_db(&db.url, &["db", "migrate", "--create-roles"]).expect_code(0);
    let role = format!("c_{}", db.name);
    pg.exec_in(
        &db.name,
        &format!("CREATE ROLE {role} LOGIN PASSWORD 'cpw' IN ROLE ocsp_reader, ocsp_writer"),
    );
    let url = db.url_for(&role, "cpw");

    let pki = Pki::new("crldb");
    let keep = pki.issue("keep");
    let gone = pki.issue("gone");
    ocsp_db(
        &url,
        &["import", "--ca", p(&pki.cacert), "--index", p(&pki.index)],
    )
    .expect_code(0);
    let gone_serial = pki.serial(&gone);
    ocsp_db(
        &url,
        &[
            "revoke",
            "--ca",
            p(&pki.cacert),
            "--serial",
            &gone_serial,
            "--reason",
            "keyCompromise",
        ],
    )
    .expect_code(0);
    // A revoked certificate that expired long ago (its not_after in the database): the
    // CRL drops it, as it drops index.txt entries one CRL after expiry.
    ocsp_db(
        &url,
        &[
            "revoke",
            "--ca",
            p(&pki.cacert),
            "--serial",
            "0BADBEEF",
            "--reason",
            "superseded",
        ],
    )
    .expect_code(0);
    pg.exec_in(
        &db.name,
        "UPDATE ocsp_cert SET not_after = now() - interval '60 days' WHERE serial = '\\x0badbeef'",
    );

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ca.crl");
    let passin = pki.passin();
    let issue = || {
        let r = ocsp_db(
            &url,
            &[
                "crl",
                "--ca",
                p(&pki.cacert),
                "--keyfile",
                p(&pki.cakey),
                "--passin",
                &passin,
                "--out",
                p(&out),
            ],
        );
        r.expect_code(0);
        assert!(
            r.stderr
                .contains("(1 expired certificates' entries dropped)"),
            "{}",
            r.stderr
        );
        crl_number(&out)
    };
    let row = || -> u128 {
        pg.exec_in(&db.name, "SELECT last_number FROM ocsp_crl_number")
            .trim()
            .parse()
            .unwrap()
    };

    let first = issue();
    assert_eq!(first, row(), "the number comes from the database row");
    let second = issue();
    assert!(second > first, "{second} after {first}");
    assert_eq!(second, row());

    // openssl judges it and finds the revocation with its reason; the valid one is absent.
    let (ok, text) = openssl(&[
        "crl",
        "-verify",
        "-noout",
        "-CAfile",
        p(&pki.cacert),
        "-in",
        p(&out),
    ]);
    assert!(ok && text.contains("verify OK"), "{text}");
    let (ok, text) = openssl(&["crl", "-noout", "-text", "-in", p(&out)]);
    assert!(ok, "{text}");
    assert!(
        text.contains(&format!("Serial Number: {gone_serial}")),
        "{gone_serial} not listed:\n{text}"
    );
    assert!(text.contains("Key Compromise"), "{text}");
    let keep_serial = pki.serial(&keep);
    assert!(
        !text.contains(&format!("Serial Number: {keep_serial}")),
        "{text}"
    );
    assert!(
        !text.contains("BADBEEF"),
        "an expired entry is dropped:\n{text}"
    );
    assert!(
        !dir.path().join("crlnumber").exists(),
        "no crlnumber file beside a database CRL"
    );

    // A row restored from an older backup never gives a number below the CRL at --out.
    pg.exec_in(&db.name, "UPDATE ocsp_crl_number SET last_number = 0");
    let third = issue();
    assert!(third > second, "{third} after {second}");
    assert_eq!(third, row());

    // A --config issuer whose status is in the database (the URL in [database] url_file)
    // takes its number from the same row.
    let url_file = dir.path().join("db-url");
    std::fs::write(&url_file, format!("{url}\n")).unwrap();
    let config = dir.path().join("ocsp.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl_file = {:?}\n[[issuer]]\nca = {:?}\nrsigner = {:?}\nrkey = {:?}\npassin = {:?}\n[issuer.status]\ntype = \"postgres\"\n",
            p(&url_file),
            p(&pki.cacert),
            p(&pki.responder.cert),
            p(&pki.responder.key),
            pki.passin()
        ),
    )
    .unwrap();
    let r = run_input(
        Command::new(OCSP)
            .args(["crl", "--config", p(&config), "--keyfile", p(&pki.cakey)])
            .args(["--passin", &passin, "--out", p(&out)])
            .env_remove("OCSP_DATABASE_URL"),
        None,
        CMD_TIMEOUT,
    );
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let fourth = crl_number(&out);
    assert!(fourth > third, "{fourth} after {third}");
    assert_eq!(fourth, row());
}
