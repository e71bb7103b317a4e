//! A real SoftHSM2 token misbehaving: a wrong PIN, at start or when logging in again after
//! the token came back (reported once, never retried), a PIN in the
//! URI (refused unless allowed), more signing threads than sessions allowed (they queue), and
//! the token pulled out and put back while signing (failures name the `CKR_…`, then the signer
//! recovers by itself).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ocsp_proto::signer::Signer;
use ocsp_signer::{no_prompt, KeySpec, Pkcs11Settings, SignOptions};
use test_support::softhsm::PIN;

use super::pkcs11_support::{hsm, settings, spec_with};

#[test]
fn a_wrong_pin_is_reported_and_not_retried() {
    hsm();
    let e = ocsp_signer::load(
        &spec_with("pin", "pin-key", "0000", &settings()),
        SignOptions::default(),
        &mut no_prompt,
    )
    .err()
    .expect("refused")
    .to_string();
    assert!(e.contains("CKR_PIN_INCORRECT"), "{e}");
    assert!(e.contains("not tried again"), "{e}");
    assert!(!e.contains("0000"), "the PIN shows: {e}");
}

#[test]
fn a_pin_in_the_uri_needs_permission() {
    let h = hsm();
    let uri = format!("{}?pin-value={PIN}", h.uri("ocsp", "p256-gen"));
    let spec = |s: &Pkcs11Settings| KeySpec::for_rkey(Path::new(&uri), None, s).unwrap();
    let e = ocsp_signer::load(&spec(&settings()), SignOptions::default(), &mut no_prompt)
        .err()
        .expect("refused")
        .to_string();
    assert!(e.contains("allow_pin_in_uri"), "{e}");
    assert!(
        !e.contains(PIN) && !format!("{:?}", spec(&settings())).contains(PIN),
        "{e}"
    );
    let allowed = Pkcs11Settings {
        allow_pin_in_uri: true,
        ..settings()
    };
    ocsp_signer::load(&spec(&allowed), SignOptions::default(), &mut no_prompt).unwrap();
    // pin-source is fine.
    let pin_file = h.dir.join("pin.txt");
    std::fs::write(&pin_file, format!("{PIN}\n")).unwrap();
    let uri = format!(
        "{}?pin-source=file:{}",
        h.uri("ocsp", "p256-gen"),
        pin_file.display()
    );
    let spec = KeySpec::for_rkey(Path::new(&uri), None, &settings()).unwrap();
    ocsp_signer::load(&spec, SignOptions::default(), &mut no_prompt).unwrap();
}

#[test]
fn more_signing_threads_than_sessions_queue_for_them() {
    hsm();
    let one = Pkcs11Settings {
        max_sessions: Some(1),
        ..settings()
    };
    let signer: Arc<dyn Signer> = ocsp_signer::load(
        &spec_with("ocsp", "p384-gen", PIN, &one),
        SignOptions::default(),
        &mut no_prompt,
    )
    .unwrap();
    assert!(
        signer.describe().contains("at most 1 sessions"),
        "{}",
        signer.describe()
    );
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let s = signer.clone();
            std::thread::spawn(move || {
                for j in 0..10 {
                    s.sign(format!("{i}/{j}").as_bytes())
                        .unwrap_or_else(|e| panic!("thread {i}: {e}"));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn a_pulled_token_fails_with_its_code_then_recovers_by_itself() {
    let h = hsm();
    let signer = ocsp_signer::load(
        &spec_with("drill", "drill", PIN, &settings()),
        SignOptions::default(),
        &mut no_prompt,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    signer.sign(b"before").unwrap();
    h.pull("drill");
    let deadline = Instant::now() + Duration::from_secs(10);
    let err = loop {
        match signer.sign(b"pulled") {
            Err(e) => break e.to_string(),
            Ok(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Ok(_) => panic!("the token was pulled 10 s ago and the signer still signs"),
        }
    };
    eprintln!("first: {err}");
    assert!(err.contains("CKR_"), "{err}");
    // Failing fast meanwhile: the same reason, without waiting on the token.
    let started = Instant::now();
    let again = signer.sign(b"pulled").unwrap_err().to_string();
    assert!(again.contains("CKR_") || again.contains("token"), "{again}");
    assert!(started.elapsed() < Duration::from_secs(1));
    h.restore("drill");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match signer.sign(b"restored") {
            Ok(_) => break,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => panic!("the token is back and the signer did not recover: {e}"),
        }
    }
    eprintln!("pulled: {err}\nmeanwhile: {again}");
}

#[test]
fn a_pin_refused_on_logging_in_again_is_reported_once_and_never_retried() {
    let h = hsm();
    let signer = ocsp_signer::load(
        &spec_with("repin", "repin", PIN, &settings()),
        SignOptions::default(),
        &mut no_prompt,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    signer.sign(b"before").unwrap();
    // The PIN changes behind the signer's back; then the token goes and comes back, so the
    // ladder must log in again, with the PIN it has.
    h.set_pin("repin", PIN, "2468");
    h.pull("repin");
    let deadline = Instant::now() + Duration::from_secs(10);
    while signer.sign(b"pulled").is_ok() {
        assert!(
            Instant::now() < deadline,
            "still signing 10 s after the pull"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    h.restore("repin");
    let deadline = Instant::now() + Duration::from_secs(15);
    let refused = loop {
        let e = signer
            .sign(b"back")
            .expect_err("the PIN is wrong now")
            .to_string();
        if e.contains("CKR_PIN_INCORRECT") {
            break e;
        }
        assert!(
            Instant::now() < deadline,
            "no PIN error 15 s after the token came back: {e}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(refused.contains("not tried again"), "{refused}");
    // From now on every request fails at once with the same reason, past many retry
    // intervals: no login is tried (a loop of them would lock the token).
    let started = Instant::now();
    for _ in 0..20 {
        let e = signer.sign(b"again").expect_err("refused").to_string();
        assert_eq!(e, refused);
        std::thread::sleep(Duration::from_millis(30));
    }
    assert!(started.elapsed() < Duration::from_secs(3));
    // And the token is not locked: the right PIN still logs in.
    h.set_pin("repin", "2468", PIN);
}
