//! `--passin` forms end to end: passphrase sources as openssl reads them, feeding the key
//! loader. `stdin` and `fd:0` are exercised in a child process (this test binary run again)
//! whose standard input is a pipe.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Command, Stdio};

use ocsp_signer::{read_passin, KeySpec, Passin, SignOptions};

const CHILD_SPEC: &str = "OCSP_TEST_PASSIN_CHILD_SPEC";

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run `openssl` ({e}): install it with `apt-get install -y openssl`")
        });
    assert!(
        out.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Run `child_reads_passin` in a child with `input` on its standard input, reading `spec`.
fn in_child(spec: &str, input: &[u8]) -> String {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args([
            "--exact",
            "signer_passin::child_reads_passin",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_SPEC, spec)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "child failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .find_map(|l| l.split_once("PASSIN:").map(|(_, rest)| rest))
        .unwrap_or_else(|| panic!("child printed no PASSIN line: {stdout}"))
        .to_string()
}

/// Does nothing unless run by [`in_child`].
#[test]
fn child_reads_passin() {
    if let Some(spec) = std::env::var_os(CHILD_SPEC) {
        let spec = spec.into_string().unwrap();
        match read_passin(&spec) {
            Ok(s) => println!("PASSIN:ok:{}", hex::encode(s.expose())),
            Err(e) => println!("PASSIN:err:{e}"),
        }
    }
}

#[test]
fn stdin_form_reads_the_first_line() {
    assert_eq!(
        in_child("stdin", b"from stdin\nsecond line\n"),
        format!("ok:{}", hex::encode("from stdin"))
    );
    assert_eq!(
        in_child("stdin", b"no newline"),
        format!("ok:{}", hex::encode("no newline"))
    );
    let e = in_child("stdin", b"");
    assert!(
        e.starts_with("err:--passin stdin: reading standard input: empty"),
        "{e}"
    );
}

#[test]
fn fd_form_reads_a_pipe() {
    assert_eq!(
        in_child("fd:0", b"from a pipe\n"),
        format!("ok:{}", hex::encode("from a pipe"))
    );
}

#[test]
fn every_form_unlocks_an_openssl_encrypted_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A passphrase file with a CRLF line ending: openssl keeps the `\r`, and so must we.
    let pw = d.join("pw.txt");
    std::fs::write(&pw, "s3cret words\r\nsecond line\n").unwrap();
    let pws = format!("file:{}", pw.display());
    let key = d.join("ocsp_responder.key");
    let keys = key.to_string_lossy().to_string();
    openssl(
        d,
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-aes256",
            "-pass",
            &pws,
            "-out",
            &keys,
        ],
    );

    // Each form read on its own, then through the key's spec (as the responder loads it).
    let load = |spec: &str| {
        read_passin(spec).unwrap_or_else(|e| panic!("{e}"));
        let key = KeySpec::file(&key, Some(Passin::new(spec)));
        ocsp_signer::load(&key, SignOptions::default(), &mut ocsp_signer::no_prompt)
    };
    load(&pws).unwrap();
    load("pass:s3cret words\r").unwrap();
    let f = std::fs::File::open(&pw).unwrap();
    load(&format!("fd:{}", f.as_raw_fd())).unwrap();
    let Err(e) = load("pass:s3cret words") else {
        panic!("loaded with a wrong passphrase")
    };
    assert_eq!(
        e.to_string(),
        format!("{}: wrong passphrase (check --passin)", key.display())
    );
    // The inline secret never reaches an error.
    let e = read_passin("pass-s3cret").unwrap_err();
    assert!(!e.to_string().contains("s3cret"), "{e}");
}
