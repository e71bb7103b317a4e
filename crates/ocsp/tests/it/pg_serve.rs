//! Serving from PostgreSQL: several `ocsp serve` nodes on one database, each answering
//! every commit that finished before the request (strict), as the SELECT-only reader
//! role; one revocation re-signs only its serial's answers; a generation that goes back
//! (a restore) reloads everything.

use crate::pg_support::{metric, PgCa};
use std::time::{Duration, Instant};
use test_support::responder::Responder;

#[test]
fn three_nodes_answer_a_revocation_on_the_very_next_request() {
    let ca = PgCa::new("pg3", &["a", "b", "c"]);
    // Two nodes from --config, as the reader role; one from flags (--db).
    let n1 = ca.serve(
        &ca.reader_url,
        "node-1",
        "",
        &["--metrics-listen", "127.0.0.1:0"],
    );
    let n2 = ca.serve(&ca.reader_url, "node-2", "consistency = \"strict\"", &[]);
    let n3 = Responder::start(
        crate::OCSP,
        [
            "--listen",
            "127.0.0.1:0",
            "--db",
            ca.reader_url.as_str(),
            "--ca",
            &ca.pki.cacert.display().to_string(),
            "--rsigner",
            &ca.pki.responder.cert.display().to_string(),
            "--rkey",
            &ca.pki.responder.key.display().to_string(),
            "--passin",
            &ca.pki.passin(),
        ],
    );
    let nodes = [&n1, &n2, &n3];
    for n in nodes {
        for cn in ["a", "b", "c"] {
            assert_eq!(ca.status(n.addr(), cn), "good", "{cn}");
        }
    }
    // Cached on node 1: asking again signs nothing.
    let signed = metric(&n1, "ocsp_signatures_total");
    assert_eq!(ca.status(n1.addr(), "b"), "good");
    assert_eq!(metric(&n1, "ocsp_signatures_total"), signed);

    // Revoked through the CLI, as the writer role.
    let revoke = |cn: &str, wait: bool| {
        let cert = ca.pki.pem(cn);
        let mut args = vec![
            "revoke",
            "--db",
            ca.writer_url.as_str(),
            "--ca",
            ca.pki.cacert.to_str().unwrap(),
            "--cert",
            cert.as_str(),
            "--reason",
            "keyCompromise",
        ];
        if wait {
            args.push("--wait=10");
        }
        let (code, out, err) = crate::ocsp(&args).parts();
        assert_eq!(code, Some(0), "ocsp revoke {cn}: {out}\n{err}");
        format!("{out}{err}")
    };
    revoke("a", false);
    // `ocsp revoke` has returned: every node, on its very next request, says revoked
    // (openssl ocsp as the client).
    for n in nodes {
        let q = ca.pki.query(
            &n.url(),
            &["-cert", &ca.pki.pem("a"), "-no_nonce", "-resp_text"],
        );
        assert!(q.verified(), "{}", q.all());
        assert!(
            q.stdout.contains(": revoked"),
            "node {} after the commit:\n{}",
            n.url(),
            q.all()
        );
    }
    // One revocation re-signs that serial only: b and c still come from the cache.
    let signed = metric(&n1, "ocsp_signatures_total");
    let hits = metric(&n1, "ocsp_cache_hits_total");
    assert_eq!(ca.status(n1.addr(), "b"), "good");
    assert_eq!(ca.status(n1.addr(), "c"), "good");
    assert_eq!(metric(&n1, "ocsp_signatures_total"), signed);
    assert_eq!(metric(&n1, "ocsp_cache_hits_total"), hits + 2.0);
    assert_eq!(metric(&n1, "ocsp_db_up"), 1.0);

    // Every node reports having seen the revocation's generation (`revoke --wait`).
    let generation = ca.admin("SELECT generation FROM ocsp_issuer");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let seen = ca.admin(&format!(
            "SELECT count(*) FROM ocsp_node WHERE seen_gen >= {generation}"
        ));
        if seen == "3" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "nodes that reported generation {generation}: {seen} of 3\n{}",
            ca.admin("SELECT node_id, seen_gen FROM ocsp_node")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(ca
        .admin("SELECT string_agg(node_id, ',') FROM ocsp_node")
        .contains("node-2"));
    // `revoke --wait` returns once all three have it.
    let out = revoke("c", true);
    for n in nodes {
        assert_eq!(ca.status(n.addr(), "c"), "revoked", "{out}");
    }
}

#[test]
fn new_certificates_and_tombstones_are_answered_at_once() {
    let ca = PgCa::new("pgnew", &["a", "late"]);
    ca.write(&format!(
        "UPDATE ocsp_cert SET status = 'D' WHERE serial = decode('{}', 'hex')",
        ca.db_serial("late")
    ));
    let n = ca.serve(&ca.reader_url, "node", "", &[]);
    assert_eq!(ca.status(n.addr(), "late"), "unknown");
    ca.write(&format!(
        "UPDATE ocsp_cert SET status = 'V' WHERE serial = decode('{}', 'hex')",
        ca.db_serial("late")
    ));
    assert_eq!(ca.status(n.addr(), "late"), "good");
    ca.write(&format!(
        "UPDATE ocsp_cert SET status = 'D' WHERE serial = decode('{}', 'hex')",
        ca.db_serial("a")
    ));
    assert_eq!(ca.status(n.addr(), "a"), "unknown");
}

#[test]
fn a_generation_going_back_reloads_everything_and_drops_cached_answers() {
    let ca = PgCa::new("pgback", &["a", "b"]);
    ca.revoke("a");
    let n = ca.serve(
        &ca.reader_url,
        "node",
        "",
        &["--metrics-listen", "127.0.0.1:0"],
    );
    assert_eq!(ca.status(n.addr(), "a"), "revoked");
    assert_eq!(ca.status(n.addr(), "b"), "good");
    assert_eq!(ca.status(n.addr(), "b"), "good");
    let signed = metric(&n, "ocsp_signatures_total");
    // A restore from an older backup: the generation goes back, and rows differ without
    // any delta naming them (written here with the triggers off).
    ca.admin(&format!(
        "ALTER TABLE ocsp_cert DISABLE TRIGGER USER;
         UPDATE ocsp_cert SET status = 'V', revoked_at = NULL, reason = NULL WHERE serial = decode('{a}', 'hex');
         UPDATE ocsp_cert SET status = 'R', revoked_at = now(), reason = 1 WHERE serial = decode('{b}', 'hex');
         ALTER TABLE ocsp_cert ENABLE TRIGGER USER;
         UPDATE ocsp_issuer SET generation = 0;",
        a = ca.db_serial("a"),
        b = ca.db_serial("b")
    ));
    assert_eq!(ca.status(n.addr(), "b"), "revoked");
    assert_eq!(ca.status(n.addr(), "a"), "good");
    assert!(
        metric(&n, "ocsp_signatures_total") >= signed + 2.0,
        "the cached answers were dropped and signed afresh"
    );
    assert!(
        n.wait_stderr("went back", Duration::from_secs(5)),
        "{}",
        n.stderr()
    );
}

#[test]
fn serve_refuses_a_missing_issuer_and_names_the_fix() {
    let ca = PgCa::new("pgmissing", &["a"]);
    ca.admin("UPDATE ocsp_issuer SET subject_der = '\\x00'");
    let cfg = ca.config(&ca.reader_url, "node", "");
    let f = test_support::responder::serve_must_fail(
        crate::OCSP,
        ["--config", &cfg.display().to_string()],
    );
    assert!(
        f.stderr.contains("not registered in the database") && f.stderr.contains("ocsp import"),
        "{}",
        f.stderr
    );
    // check-config lists it too, and a bounded window without its length.
    let run = crate::ocsp(&["check-config", "--no-bind", &cfg.display().to_string()]);
    let (code, out, _) = run.parts();
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("not registered in the database"), "{out}");
    let bad = ca.config(&ca.reader_url, "node", "consistency = \"bounded\"");
    let run = crate::ocsp(&["check-config", "--no-bind", &bad.display().to_string()]);
    let (code, out, _) = run.parts();
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("max_staleness_ms"), "{out}");
}

#[test]
fn presign_signs_the_database_state_and_serve_checks_it() {
    let ca = PgCa::new("pgpresign", &["a", "b", "c"]);
    ca.revoke("a");
    let cfg = ca.config(&ca.reader_url, "presign", "");
    let store = ca.pki.dir.join("pg.store");
    let run = crate::ocsp(&[
        "presign",
        "--config",
        &cfg.display().to_string(),
        "--out",
        &store.display().to_string(),
        "--quiet",
    ]);
    let (code, out, err) = run.parts();
    assert_eq!(code, Some(0), "{out}\n{err}");
    // Three serials, SHA-1 and SHA-256 CertIDs each.
    assert!(out.contains("wrote 6 answers for 3 serials"), "{out}");
    // Revoked after presigning: those answers are stale and not served.
    ca.revoke("b");
    let n = ca.serve(
        &ca.reader_url,
        "node",
        "",
        &["--store", &store.display().to_string()],
    );
    assert!(
        n.wait_stderr("response store loaded", Duration::from_secs(10)),
        "{}",
        n.stderr()
    );
    let log = test_support::process::strip_ansi(&n.stderr());
    assert!(log.contains("loaded=4") && log.contains("stale=2"), "{log}");
    for (cn, want) in [("a", "revoked"), ("b", "revoked"), ("c", "good")] {
        assert_eq!(ca.status(n.addr(), cn), want, "{cn}");
    }
}

#[test]
fn a_role_without_the_reader_privileges_is_refused_naming_the_grant() {
    let ca = PgCa::new("pgpriv", &["a"]);
    let role = format!("n_{}", ca.db.name);
    ca.admin(&format!(
        "CREATE ROLE {role} LOGIN PASSWORD 'npw'; GRANT SELECT ON ocsp_schema, ocsp_issuer, ocsp_cert, ocsp_node TO {role};"
    ));
    let url = ca.db.url_for(&role, "npw");
    let cfg = ca.config(&url, "node", "");
    let f = test_support::responder::serve_must_fail(
        crate::OCSP,
        ["--config", &cfg.display().to_string()],
    );
    assert!(
        f.stderr.contains("ocsp_node_report") && f.stderr.contains("GRANT ocsp_reader"),
        "{}",
        f.stderr
    );
}
