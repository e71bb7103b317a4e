//! `/readyz` fails while a signer is broken: an in-process responder (the library's
//! Server with its operations listener, over real TCP) whose signer is a test double that
//! starts failing on demand, as a PKCS#11 token does when it is pulled. Requests that need
//! a signature are answered tryLater meanwhile, and the warning lines that causes are
//! sampled while they storm.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use der::Decode;
use ocsp_proto::{HashAlg, Serial};
use ocsp_responder::config::{Limits, UnknownSerial};
use ocsp_responder::health::{Health, Ops};
use ocsp_responder::http::server::Server;
use ocsp_responder::http::Edge;
use ocsp_responder::issuer::{Issuer, IssuerSet};
use ocsp_responder::metrics::Exporter;
use ocsp_responder::source::live::LiveSource;
use ocsp_responder::source::signing::SigningPool;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use test_support::prelude::*;

/// Log lines captured in memory.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;
    fn make_writer(&'a self) -> Logs {
        self.clone()
    }
}

impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
    fn count(&self, needle: &str) -> usize {
        self.text().lines().filter(|l| l.contains(needle)).count()
    }
}

fn issuer(broken: Arc<AtomicBool>) -> (Issuer, x509_cert::Certificate) {
    let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Readyz CA");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let cert = params.self_signed(&kp).unwrap();
    let cert = x509_cert::Certificate::from_der(cert.der()).unwrap();
    // An Ed25519 key that fails while `broken` is set, as a pulled PKCS#11 token does.
    let signer = TestSigner::ed25519(&kp).failing_while(broken, "CKR_DEVICE_REMOVED");
    // Every serial is good.
    let status = MemSource::new()
        .otherwise(ocsp_proto::CertStatus::Good)
        .described("all good");
    let issuer = test_support::inproc::issuer(
        "Readyz CA",
        &cert,
        Arc::new(signer),
        Arc::new(status),
        86_400,
        UnknownSerial::Unknown,
    );
    (issuer, cert)
}

#[test]
fn readyz_fails_while_the_signer_is_broken() {
    // The global tracing subscriber and metrics recorder this test installs, and the log
    // lines and counters it counts, are the whole process's: it runs in a process of its own.
    if !run_alone(
        module_path!(),
        "readyz_fails_while_the_signer_is_broken",
        Duration::from_secs(120),
    ) {
        return;
    }
    let logs = Logs::default();
    tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .init();
    let broken = Arc::new(AtomicBool::new(false));
    let (issuer, ca) = issuer(broken.clone());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (plain, ops_addr, stop) = rt.block_on(async {
        let issuers = Arc::new(IssuerSet::new(vec![issuer]).unwrap());
        let pool = SigningPool::new(1, 16).unwrap();
        let live = Arc::new(LiveSource::new(issuers.clone(), pool));
        let (source, _) =
            ocsp_responder::setup::chain(&issuers, live, ocsp_responder::clock::system(), None);
        // Errors of one kind: 3 lines per second, then counted.
        let edge = Arc::new(Edge::new(source, Limits::default()).with_log(
            true,
            3,
            Duration::from_secs(1),
        ));
        let health = Arc::new(Health::new(
            issuers.clone(),
            ocsp_proto::profile::Profile::Private,
            Duration::ZERO,
        ));
        let handle = ocsp_responder::metrics::install("test", "private").unwrap();
        let mut exporter = Exporter::new(handle);
        for i in issuers.iter() {
            exporter.add_issuer(&i.name, i.responder.current().not_after, None);
        }
        let mut server = Server::bind(&["127.0.0.1:0".parse().unwrap()], edge).unwrap();
        server
            .bind_ops(
                "127.0.0.1:0".parse().unwrap(),
                Arc::new(Ops {
                    health,
                    exporter: Some(Arc::new(exporter)),
                }),
            )
            .unwrap();
        let plain = server.local_addrs()[0];
        let ops_addr = server.ops_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(server.run(async {
            let _ = rx.await;
        }));
        (plain, ops_addr, tx)
    });

    let ocsp_request = {
        let id =
            ocsp_proto::cert_id::cert_id(&ca, &Serial::from_hex("0102").unwrap(), HashAlg::Sha256)
                .unwrap();
        ocsp_proto::request::build(&[id], None).unwrap()
    };
    let ask = || http(plain, &post_req("/", &ocsp_request, &[]));

    let (status, body) = get(ops_addr, "/readyz");
    assert_eq!((status, body.as_str()), (200, "ready\n"));
    let answer = ask();
    assert_eq!(answer.status, 200);
    assert!(
        answer.body.len() > 100,
        "a signed answer: {:?}",
        answer.body
    );

    // The token is pulled: not ready, saying why; requests that need a signature get
    // tryLater (the signer is unavailable, not broken by us).
    broken.store(true, Ordering::SeqCst);
    let (status, body) = get(ops_addr, "/readyz");
    assert_eq!(status, 503, "{body}");
    assert!(body.starts_with("not ready\n"), "{body}");
    assert!(body.contains("Readyz CA"), "{body}");
    assert!(body.contains("CKR_DEVICE_REMOVED"), "{body}");
    assert_eq!(ask().body, [0x30, 0x03, 0x0a, 0x01, 0x03], "tryLater");
    // A storm of them: 10 requests in well under a second log 3 warning lines...
    for _ in 0..9 {
        assert_eq!(ask().body, [0x30, 0x03, 0x0a, 0x01, 0x03]);
    }
    const LINE: &str = "answering tryLater";
    assert_eq!(logs.count(LINE), 3, "{}", logs.text());
    // ... every warning line is ours (the signer), never a client's mistake ...
    assert!(
        logs.text()
            .lines()
            .filter(|l| l.contains("WARN") || l.contains("ERROR"))
            .all(|l| l.contains(LINE)),
        "{}",
        logs.text()
    );
    // ... and each request still has its access line, with the client's address (asked for).
    assert_eq!(logs.count("ocsp::access"), 11, "{}", logs.text());
    assert!(logs.text().contains("client=127.0.0.1:"), "{}", logs.text());
    // The next window's first line says how many were suppressed.
    std::thread::sleep(Duration::from_millis(1100));
    ask();
    assert_eq!(logs.count(LINE), 4, "{}", logs.text());
    assert!(logs.text().contains("suppressed=7"), "{}", logs.text());
    // /healthz still answers: the process is alive, only not ready.
    assert_eq!(get(ops_addr, "/healthz").0, 200);
    let samples = scrape(ops_addr);
    assert_eq!(sum(&samples, "ocsp_ready", &[]), 0.0);
    assert_eq!(
        sum(&samples, "ocsp_signer_ready", &[("issuer", "Readyz CA")]),
        0.0
    );
    assert_eq!(
        sum(&samples, "ocsp_requests_total", &[("outcome", "tryLater")]),
        11.0
    );
    assert_eq!(
        sum(
            &samples,
            "ocsp_log_lines_suppressed_total",
            &[("kind", "try_later")]
        ),
        7.0
    );

    // Back: ready again.
    broken.store(false, Ordering::SeqCst);
    let (status, body) = get(ops_addr, "/readyz");
    assert_eq!((status, body.as_str()), (200, "ready\n"));
    assert_eq!(ask().status, 200);

    // Shutting down: not ready, so load balancers drain this instance.
    let _ = stop.send(());
    rt.shutdown_timeout(Duration::from_secs(5));
}
