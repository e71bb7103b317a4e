//! Every user-facing error of `serve`, `presign`, `check-config`, `query` and `demo`, read
//! once as a table: each names the file at fault exactly once, says what is wrong once,
//! and gives the fix.
//!
//! "Said once" is checked mechanically: the message is split at `: ` into its parts, and
//! no part may appear twice (the shape of a wrapped error that repeats its cause), nor
//! the file's path more than once in the whole output.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::{ocsp, OCSP};
use std::path::Path;
use test_support::prelude::*;

/// What one faulty invocation must say.
struct Case {
    what: &'static str,
    args: Vec<String>,
    /// The file at fault (its path must appear exactly once), if the fault is in a file.
    file: Option<String>,
    /// The problem, in the message's words.
    problem: &'static str,
    /// The fix, in the message's words.
    fix: &'static str,
    /// `check-config` prints its findings on stdout, every other command on stderr.
    stdout: bool,
}

fn check(case: &Case) {
    let args: Vec<&str> = case.args.iter().map(String::as_str).collect();
    let (code, out, err) = ocsp(&args).parts();
    let text = if case.stdout { &out } else { &err };
    assert_ne!(code, Some(0), "{}: succeeded\n{out}\n{err}", case.what);
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("error"))
        .map(|l| l.trim())
        .collect();
    assert!(!lines.is_empty(), "{}: no error line in\n{text}", case.what);
    // The whole output: a message may continue on the lines after its first (TOML's
    // excerpt of the line at fault).
    let message = text.as_str();
    assert!(
        message.contains(case.problem),
        "{}: the problem ({}) is not said:\n{message}",
        case.what,
        case.problem
    );
    assert!(
        message.contains(case.fix),
        "{}: no fix ({}):\n{message}",
        case.what,
        case.fix
    );
    if let Some(file) = &case.file {
        assert_eq!(
            text.matches(file.as_str()).count(),
            1,
            "{}: the file {file} is not named exactly once:\n{text}",
            case.what
        );
    }
    for line in &lines {
        let parts: Vec<&str> = line
            .split(": ")
            .map(str::trim)
            .filter(|p| p.len() > 3)
            .collect();
        for (i, part) in parts.iter().enumerate() {
            assert!(
                !parts[i + 1..].contains(part),
                "{}: `{part}` is said twice in\n{line}",
                case.what
            );
        }
    }
}

fn flags(pki: &Pki, rsigner: &Path, rkey: &Path, passin: Option<&str>) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "--index".into(),
        p(&pki.index).into(),
        "--ca".into(),
        p(&pki.cacert).into(),
        "--rsigner".into(),
        p(rsigner).into(),
        "--rkey".into(),
        p(rkey).into(),
    ];
    if let Some(pass) = passin {
        a.extend(["--passin".into(), pass.to_string()]);
    }
    a
}

fn serve(mut args: Vec<String>) -> Vec<String> {
    let mut a: Vec<String> = vec!["serve".into(), "--listen".into(), "127.0.0.1:0".into()];
    a.append(&mut args);
    a
}

fn presign(pki: &Pki, mut args: Vec<String>) -> Vec<String> {
    let out = pki.dir.join("never.store");
    let mut a: Vec<String> = vec![
        "presign".into(),
        "--quiet".into(),
        "--out".into(),
        p(&out).into(),
    ];
    a.append(&mut args);
    a
}

fn check_config(pki: &Pki, name: &str, issuer: &str) -> Vec<String> {
    let cfg = write(
        &pki.dir,
        name,
        &format!("[server]\nlisten = [\"127.0.0.1:0\"]\n{issuer}"),
    );
    vec!["check-config".into(), p(&cfg).into()]
}

fn issuer_table(pki: &Pki, rsigner: &Path, rkey: &Path, passin: Option<&str>) -> String {
    let mut t = format!(
        "[[issuer]]\nca = {:?}\nindex = {:?}\nrsigner = {:?}\nrkey = {:?}\n",
        p(&pki.cacert),
        p(&pki.index),
        p(rsigner),
        p(rkey)
    );
    if let Some(pass) = passin {
        t.push_str(&format!("passin = {pass:?}\n"));
    }
    t
}

#[test]
fn every_error_names_the_file_once_says_the_problem_once_and_gives_the_fix() {
    let pki = Pki::new("ERR");
    let other = Pki::new("ERR-OTHER");
    let pass = pki.passin();
    let rsigner = pki.responder.cert.clone();
    let rkey = pki.responder.key.clone();
    let garbage = write(&pki.dir, "garbage.key", "this is not a key\n");
    let other_key = other.responder.key.clone();
    let foreign = other.responder.cert.clone();
    let bad_index_dir = pki.dir.join("badindex");
    std::fs::create_dir_all(&bad_index_dir).unwrap();
    let bad_index = write(
        &bad_index_dir,
        "index.txt",
        "V\t301231235959Z\t\t01\tunknown\t/CN=x\nX\tnonsense\n",
    );
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = taken.local_addr().unwrap().to_string();

    let mut cases = Vec::new();
    // The key faults, under each command that loads keys.
    type Fault<'a> = (
        &'static str,
        &'a Path,
        &'a Path,
        Option<&'a str>,
        &'a Path,
        &'static str,
        &'static str,
    );
    let faults: Vec<Fault<'_>> = vec![
        (
            "bad key",
            &rsigner,
            &garbage,
            Some(pass.as_str()),
            &garbage,
            "no private key",
            "give",
        ),
        (
            "wrong passphrase",
            &rsigner,
            &rkey,
            Some("pass:not-the-passphrase"),
            &rkey,
            "wrong passphrase",
            "check",
        ),
        (
            "missing passphrase",
            &rsigner,
            &rkey,
            None,
            &rkey,
            "no passphrase was given",
            "add passin",
        ),
        (
            "key/cert mismatch",
            &rsigner,
            &other_key,
            Some(pass.as_str()),
            &other_key,
            "does not match the certificate",
            "give the key the certificate was issued for",
        ),
        (
            "foreign responder certificate",
            &foreign,
            &other_key,
            Some(pass.as_str()),
            &foreign,
            "not issued by the CA",
            "sign it with that CA",
        ),
    ];
    for (what, cert, key, passin, file, problem, fix) in faults {
        let fix_for_flags = if fix == "add passin" {
            "add --passin"
        } else {
            fix
        };
        cases.push(Case {
            what,
            args: serve(flags(&pki, cert, key, passin)),
            file: Some(p(file).to_string()),
            problem,
            fix: fix_for_flags,
            stdout: false,
        });
        cases.push(Case {
            what,
            args: presign(&pki, flags(&pki, cert, key, passin)),
            file: Some(p(file).to_string()),
            problem,
            fix: fix_for_flags,
            stdout: false,
        });
        let table = issuer_table(&pki, cert, key, passin);
        cases.push(Case {
            what,
            args: check_config(
                &pki,
                &format!("{}.toml", what.replace([' ', '/'], "-")),
                &table,
            ),
            file: Some(p(file).to_string()),
            problem,
            fix,
            stdout: true,
        });
    }
    // A bad index line: file and line named once, with the fix.
    let mut bad = flags(&pki, &rsigner, &rkey, Some(&pass));
    bad[1] = p(&bad_index).to_string();
    cases.push(Case {
        what: "bad index line",
        args: serve(bad.clone()),
        file: Some(format!("{}:2", p(&bad_index))),
        problem: "expected 6 TAB-separated fields",
        fix: "restore it from index.txt.old",
        stdout: false,
    });
    cases.push(Case {
        what: "bad index line",
        args: presign(&pki, bad),
        file: Some(format!("{}:2", p(&bad_index))),
        problem: "expected 6 TAB-separated fields",
        fix: "restore it from index.txt.old",
        stdout: false,
    });
    // A bad configuration key, with its line.
    let cfg = write(
        &pki.dir,
        "typo.toml",
        &format!("{}rsinger = \"x\"\n", pki.issuer_toml()),
    );
    for cmd in [
        vec!["serve".to_string(), "--config".into(), p(&cfg).into()],
        vec!["check-config".to_string(), p(&cfg).into()],
    ] {
        let stdout = cmd[0] == "check-config";
        cases.push(Case {
            what: "bad config key",
            args: cmd,
            file: Some(p(&cfg).to_string()),
            problem: "unknown field `rsinger`",
            fix: "expected one of",
            stdout,
        });
    }
    // A port in use.
    let mut args = flags(&pki, &rsigner, &rkey, Some(&pass));
    args.splice(
        0..0,
        ["serve".to_string(), "--listen".into(), taken.clone()],
    );
    cases.push(Case {
        what: "port in use (serve)",
        args,
        file: None,
        problem: "in use",
        fix: "stop the other process listening there",
        stdout: false,
    });
    let demo_dir = pki.dir.join("demo-errors");
    let port = taken.rsplit(':').next().unwrap().to_string();
    cases.push(Case {
        what: "port in use (demo)",
        args: vec!["demo".into(), p(&demo_dir).into(), "--port".into(), port],
        file: None,
        problem: "in use",
        fix: "give another address or port",
        stdout: false,
    });
    // The client: a certificate file that is not there.
    let missing = pki.dir.join("no-such-cert.pem");
    cases.push(Case {
        what: "query: missing certificate",
        args: vec![
            "query".into(),
            "--issuer".into(),
            p(&pki.cacert).into(),
            "--cert".into(),
            p(&missing).into(),
            "--url".into(),
            "http://127.0.0.1:9/".into(),
        ],
        file: Some(p(&missing).to_string()),
        problem: "No such file",
        fix: "check the path of the certificate file",
        stdout: false,
    });
    let _ = OCSP;
    for case in &cases {
        check(case);
    }
}
