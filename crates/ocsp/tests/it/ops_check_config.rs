//! `ocsp check-config FILE` on good and broken configurations (every problem listed), and
//! the repository's commented example configuration checked and served.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::{ocsp, OCSP};
use std::path::Path;
use test_support::prelude::*;

#[test]
fn a_good_configuration_passes() {
    let pki = Pki::new("G");
    let tls = tls_cert(&pki.dir);
    let cfg = write(
        &pki.dir,
        "ocsp.toml",
        &format!(
            "profile = \"cabf\"\n[server]\nlisten = [\"127.0.0.1:0\"]\n[tls]\nlisten = [\"127.0.0.1:0\"]\ncert = {:?}\nkey = {:?}\n[metrics]\nlisten = \"127.0.0.1:0\"\n[log]\nfilter = \"info,ocsp::access=warn\"\n{}",
            p(&tls.cert),
            p(&tls.key),
            pki.issuer_toml()
        ),
    );
    let (code, out, err) = ocsp(&["check-config", p(&cfg)]).parts();
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(out.contains("configuration OK"), "{out}");
    assert!(out.contains("ok: [tls] cert"), "{out}");
    assert!(out.contains("can listen"), "{out}");
    // The seed's responder has no ocsp-nocheck: a warning, not a problem.
    assert!(
        out.contains("warning:") && out.contains("ocsp-nocheck"),
        "{out}"
    );
    assert!(!out.contains("error:"), "{out}");
    // Secrets never printed.
    assert!(!out.contains(PASSPHRASE) && !err.contains(PASSPHRASE));
}

#[test]
fn a_broken_configuration_lists_every_problem() {
    let a = Pki::new("BA");
    let b = Pki::new("BB");
    let c = Pki::new("BC");
    let bad_index = write(
        &a.dir,
        "bad-index.txt",
        "V\t301231235959Z\t\t01\tunknown\t/CN=x\nX\tnonsense\n",
    );
    // A port in use.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_addr = taken.local_addr().unwrap();
    let cfg = write(
        &a.dir,
        "broken.toml",
        &format!(
            r#"profile = "microsoft"
[server]
listen = ["{taken_addr}"]
[tls]
listen = ["127.0.0.1:0"]
[log]
filter = "ocsp=loud"
[metrics]
listen = "not-an-address"

# 1: the CA file is missing and the index has a bad line.
[[issuer]]
ca = "/nonexistent/cacert.pem"
index = {bad_index:?}

# 2: the passphrase is wrong.
[[issuer]]
ca = {b_ca:?}
index = {b_index:?}
rsigner = {b_crt:?}
rkey = {b_key:?}
passin = "pass:not the passphrase"

# 3: loads, but ten days is beyond what the microsoft profile allows.
[[issuer]]
ca = {c_ca:?}
index = {c_index:?}
rsigner = {c_crt:?}
rkey = {c_key:?}
passin = {c_pass:?}
ndays = 10
"#,
            b_ca = p(&b.cacert),
            b_index = p(&b.index),
            b_crt = p(&b.responder.cert),
            b_key = p(&b.responder.key),
            c_ca = p(&c.cacert),
            c_index = p(&c.index),
            c_crt = p(&c.responder.cert),
            c_key = p(&c.responder.key),
            c_pass = c.passin(),
        ),
    );
    let (code, out, err) = ocsp(&["check-config", p(&cfg)]).parts();
    assert_eq!(code, Some(1), "{out}\n{err}");
    let errors: Vec<&str> = out
        .lines()
        .filter(|l| l.trim_start().starts_with("error:"))
        .collect();
    let has = |needle: &str| {
        assert!(
            errors.iter().any(|e| e.contains(needle)),
            "no error mentioning {needle:?} in:\n{out}"
        )
    };
    has("/nonexistent/cacert.pem"); // issuer 1: missing CA file
    has("bad-index.txt:2"); // issuer 1: the index line
    has("[[issuer]] #2"); // issuer 2: wrong passphrase
    has(&format!("{}", b.responder.key.display()));
    has("rule validity-max"); // issuer 3 under microsoft
    has(&taken_addr.to_string()); // the port in use
    has("[tls] listen is set but [tls] cert is not");
    has("[log] filter");
    has("[metrics] listen");
    assert!(
        out.contains(&format!("{} problems found", errors.len())),
        "{out}"
    );
    assert!(errors.len() >= 9, "{out}");
    assert!(
        !out.contains("not the passphrase"),
        "a secret printed: {out}"
    );
    drop(taken);

    // --no-bind skips the bind test (the port in use is no longer a problem).
    let (code, out, _) = ocsp(&["check-config", "--no-bind", p(&cfg)]).parts();
    assert_eq!(code, Some(1));
    assert!(
        !out.contains(&format!("{taken_addr}: cannot listen")),
        "{out}"
    );
}

#[test]
fn toml_errors_name_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(dir.path(), "typo.toml", "[server]\nlisten = [\"127.0.0.1:0\"]\n[[issuer]]\nca = \"a\"\nindex = \"b\"\nrsinger = \"c\"\n");
    let (code, out, _) = ocsp(&["check-config", p(&cfg)]).parts();
    assert_eq!(code, Some(1));
    assert!(out.contains("rsinger") && out.contains("line 6"), "{out}");
    let (code, out, _) = ocsp(&["check-config", p(&dir.path().join("missing.toml"))]).parts();
    assert_eq!(code, Some(1));
    assert!(out.contains("cannot read"), "{out}");
}

/// The layout `examples/ocsp.toml` names: `ca/` next to it holding the seed's files.
fn example_layout(pki: &Pki) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/ocsp.toml");
    std::fs::copy(&example, dir.path().join("ocsp.toml")).unwrap();
    std::os::unix::fs::symlink(&pki.dir, dir.path().join("ca")).unwrap();
    dir
}

/// The arguments of `dist/ocsp.service`'s `KEY=/usr/local/bin/ocsp ARGS` line, with the
/// configuration path replaced by `cfg`.
fn unit_args(key: &str, cfg: &Path) -> Vec<String> {
    let unit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../dist/ocsp.service"),
    )
    .unwrap();
    let line = unit
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key}= in dist/ocsp.service"));
    let mut words = line.split_whitespace();
    assert_eq!(words.next(), Some("/usr/local/bin/ocsp"), "{line}");
    words
        .map(|w| {
            if w == "/etc/ocsp/ocsp.toml" {
                p(cfg).to_string()
            } else {
                w.to_string()
            }
        })
        .collect()
}

#[test]
fn the_example_configuration_is_checked_and_served() {
    let pki = Pki::new("E");
    let good = pki.issue("good");
    let dir = example_layout(&pki);
    let cfg = dir.path().join("ocsp.toml");
    // The systemd unit's ExecStartPre: check-config --no-bind.
    let pre = unit_args("ExecStartPre", &cfg);
    let pre: Vec<&str> = pre.iter().map(String::as_str).collect();
    assert_eq!(pre[0], "check-config");
    let (code, out, err) = ocsp(&pre).parts();
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(out.contains("Example CA"), "{out}");
    // The unit's ExecStart, with the example's listeners moved to free ports by flags.
    let mut start = unit_args("ExecStart", &cfg);
    assert_eq!(start[0], "serve");
    start.remove(0);
    start.extend(["--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"].map(String::from));
    let r = Responder::start(OCSP, &start);
    let q = pki.query(&r.url(), &["-cert", p(&good)]);
    assert!(q.verified(), "{}", q.all());
    q.assert_status(p(&good), "good");
    let samples = scrape(metrics_addr(&r));
    assert_eq!(
        sum(&samples, "ocsp_index_entries", &[("issuer", "Example CA")]),
        2.0
    );
}

/// A configuration that takes its listener from `serve`'s flags is checked with the same
/// flags; without any listener it is a warning (serve needs one), not an error.
#[test]
fn listeners_from_flags_are_checked_as_serve_takes_them() {
    let pki = Pki::new("LF");
    let cfg = write(&pki.dir, "ocsp.toml", &pki.issuer_toml());
    let (code, out, err) = ocsp(&["check-config", p(&cfg)]).parts();
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(
        out.contains("warning: no listener: `ocsp serve` needs one"),
        "{out}"
    );
    assert!(out.contains("configuration OK"), "{out}");
    // The flags serve takes, checked (and bound) here.
    let (code, out, err) = ocsp(&[
        "check-config",
        p(&cfg),
        "--listen",
        "127.0.0.1:0",
        "--port",
        "0",
    ])
    .parts();
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(
        out.contains("[server] listen 127.0.0.1:0: can listen"),
        "{out}"
    );
    assert!(!out.contains("no listener"), "{out}");
    // A flag's address that cannot be bound is an error, as in the file.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (code, out, _) = ocsp(&["check-config", p(&cfg), "--listen", &addr]).parts();
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("cannot listen"), "{out}");
    // And serve runs the same file with the same flag.
    let r = Responder::start(OCSP, ["--config", p(&cfg), "--listen", "127.0.0.1:0"]);
    assert!(!r.listening().is_empty());
}
