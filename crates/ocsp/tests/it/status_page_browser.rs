//! The status page in a real browser (Debian's Chromium, headless): an in-process
//! responder (the library's Server with its operations listener, over real TCP) serving
//! two CAs, one healthy with a revoked serial and one whose signer fails as a pulled
//! PKCS#11 token does. Chromium renders `GET /` of the operations listener: the page
//! shows the healthy issuer, the broken signer as not ready, and escapes a hostile
//! issuer name; the lookup form, submitted as the browser submits it (a GET of the form's
//! action with its fields), answers `revoked` for the revoked serial. A screenshot of the
//! answer is written and its path printed. The public OCSP port has no such page.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use async_trait::async_trait;
use der::Decode;
use ocsp_proto::response::ResponderIdKind;
use ocsp_proto::signer::{SignError, Signer};
use ocsp_proto::{
    CertStatus, HashAlg, IssuerIdentity, Revocation, RevocationReason, Serial, Timestamp,
};
use ocsp_responder::config::{Limits, UnknownSerial};
use ocsp_responder::health::{Health, Ops};
use ocsp_responder::http::server::Server;
use ocsp_responder::http::Edge;
use ocsp_responder::issuer::{Issuer, IssuerSet, Responder, ResponderSlot};
use ocsp_responder::metrics::{BuildInfo, Exporter};
use ocsp_responder::source::live::LiveSource;
use ocsp_responder::source::signing::SigningPool;
use ocsp_status::{Lookup, StatusEntry, StatusError, StatusSource};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

const HEALTHY: &str = "Healthy CA";
const BROKEN: &str = "Broken <i>token</i> CA";

/// Serial 1001 good, 1002 revoked (keyCompromise), nothing else on record.
struct Records;

#[async_trait]
impl StatusSource for Records {
    async fn status(&self, serial: &Serial) -> Result<Lookup, StatusError> {
        let status = match serial.to_hex().as_str() {
            "1001" => Some(CertStatus::Good),
            "1002" => Some(CertStatus::Revoked(Revocation {
                time: Timestamp(1_790_000_000),
                reason: Some(RevocationReason::KeyCompromise),
                invalidity_date: None,
                hold_instruction: None,
            })),
            _ => None,
        };
        Ok(Lookup {
            status,
            generation: 7,
            period: None,
        })
    }
    async fn generation(&self) -> Result<u64, StatusError> {
        Ok(7)
    }
    async fn entries(
        &self,
        visit: &mut (dyn FnMut(StatusEntry) + Send),
    ) -> Result<u64, StatusError> {
        for hex in ["1001", "1002"] {
            let serial = Serial::from_hex(hex).unwrap();
            if let Some(status) = self.status(&serial).await?.status {
                visit(StatusEntry {
                    serial,
                    status,
                    expires: None,
                });
            }
        }
        Ok(7)
    }
    fn describe(&self) -> String {
        "in-memory records (2 entries)".into()
    }
}

/// An Ed25519 key; `broken` ones fail every signature.
struct Key {
    key: aws_lc_rs::signature::Ed25519KeyPair,
    spki: Vec<u8>,
    broken: bool,
}

impl Signer for Key {
    fn algorithm(&self) -> ocsp_proto::spki::AlgorithmIdentifierOwned {
        ocsp_proto::spki::AlgorithmIdentifierOwned {
            oid: ocsp_proto::const_oid::db::rfc8410::ID_ED_25519,
            parameters: None,
        }
    }
    fn public_key_der(&self) -> &[u8] {
        &self.spki
    }
    fn sign(&self, tbs: &[u8]) -> Result<Vec<u8>, SignError> {
        if self.broken {
            return Err(SignError("CKR_DEVICE_REMOVED".into()));
        }
        Ok(self.key.sign(tbs).as_ref().to_vec())
    }
    fn describe(&self) -> String {
        if self.broken {
            "PKCS#11 test token (pulled)".into()
        } else {
            "Ed25519 test key".into()
        }
    }
}

fn issuer(name: &str, broken: bool) -> (Issuer, x509_cert::Certificate) {
    let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let cert = params.self_signed(&kp).unwrap();
    let cert = x509_cert::Certificate::from_der(cert.der()).unwrap();
    let key = aws_lc_rs::signature::Ed25519KeyPair::from_pkcs8(&kp.serialize_der()).unwrap();
    let spki = rcgen::PublicKeyData::subject_public_key_info(&kp);
    let responder = Arc::new(Responder {
        signer: Arc::new(Key { key, spki, broken }),
        cert: cert.clone(),
        responder_id: ResponderIdKind::by_key(&cert).unwrap(),
        certs: Vec::new(),
        not_after: Timestamp::from_x509(&cert.tbs_certificate.validity.not_after),
        delegated: false,
    });
    let issuer = Issuer {
        name: name.into(),
        identity: IssuerIdentity::of(&cert).unwrap(),
        cert: cert.clone(),
        responder: ResponderSlot::new(responder),
        status: Arc::new(Records),
        validity_secs: 86_400,
        unknown_serial: UnknownSerial::Unknown,
    };
    (issuer, cert)
}

/// One HTTP/1.1 exchange with `Connection: close`: (status, body).
fn exchange(addr: SocketAddr, head: &str, body: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    exchange(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"),
        b"",
    )
}

fn chromium() -> String {
    for c in ["chromium", "chromium-browser"] {
        if Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return c.to_string();
        }
    }
    panic!("Chromium is not installed: apt-get install chromium (scripts/test-all.sh does)");
}

/// Run headless Chromium with the flags that work on a closed network, in a fresh profile.
fn browse(browser: &str, profile: &Path, extra: &[&str], url: &str) -> String {
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The value of attribute `name` in the first tag of `html` that starts with `tag_start`.
fn attr(html: &str, tag_start: &str, name: &str) -> Option<String> {
    let at = html.find(tag_start)?;
    let tag = &html[at..at + html[at..].find('>')?];
    let key = format!("{name}=\"");
    let v = &tag[tag.find(&key)? + key.len()..];
    Some(v[..v.find('"')?].to_string())
}

#[test]
fn status_page_in_headless_chromium() {
    // It installs the process's metrics recorder: alone in its own process.
    if !test_support::process::run_alone(
        module_path!(),
        "status_page_in_headless_chromium",
        Duration::from_secs(300),
    ) {
        return;
    }
    let browser = chromium();
    let (healthy, healthy_ca) = issuer(HEALTHY, false);
    let (broken, _) = issuer(BROKEN, true);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (public, ops_addr, stop) = rt.block_on(async {
        let issuers = Arc::new(IssuerSet::new(vec![healthy, broken]).unwrap());
        let pool = SigningPool::new(1, 16).unwrap();
        let live = Arc::new(LiveSource::new(issuers.clone(), pool.clone()));
        let (source, _) =
            ocsp_responder::setup::chain(&issuers, live, ocsp_responder::clock::system(), None);
        let edge = Arc::new(Edge::new(source, Limits::default()));
        let health = Arc::new(Health::new(
            issuers.clone(),
            ocsp_proto::profile::Profile::Private,
            Duration::ZERO,
        ));
        let build = BuildInfo {
            version: "0.0.0-test",
            commit: "0123456789ab",
            features: "none",
        };
        let handle = ocsp_responder::metrics::install_with(&build, "private").unwrap();
        let mut exporter = Exporter::new(handle);
        for i in issuers.iter() {
            exporter.add_issuer(&i.name, i.responder.current().not_after, None);
        }
        let stats = pool.stats().clone();
        exporter.set_signing(Box::new(move || ocsp_responder::metrics::SigningSnapshot {
            signed: stats.signed(),
            rejected: stats.rejected(),
            abandoned: stats.abandoned(),
            panicked: stats.panicked(),
            queued: stats.queued() as u64,
        }));
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
        let public = server.local_addrs()[0];
        let ops_addr = server.ops_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(server.run(async {
            let _ = rx.await;
        }));
        (public, ops_addr, tx)
    });

    // Some traffic on the public port: a signed answer, and a malformed request.
    let id = ocsp_proto::cert_id::cert_id(
        &healthy_ca,
        &Serial::from_hex("1002").unwrap(),
        HashAlg::Sha256,
    )
    .unwrap();
    let req = ocsp_proto::request::build(&[id], None).unwrap();
    let head = format!(
        "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/ocsp-request\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        req.len()
    );
    let (status, _) = exchange(public, &head, &req);
    assert_eq!(status, 200);
    let _ = exchange(
        public,
        "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\nConnection: close\r\n\r\n",
        b"bad",
    );

    // The public OCSP port has no status page and no status.json.
    for path in ["/", "/status.json", "/?issuer=Healthy+CA&serial=1002"] {
        let (_, body) = get(public, path);
        assert!(
            !body.contains("<html") && !body.contains("Look up") && !body.contains("\"issuers\""),
            "public port {path}: {body}"
        );
    }
    // The operations listener has it.
    let (status, page) = get(ops_addr, "/");
    assert_eq!(status, 200);
    assert!(page.contains("<meta name=\"viewport\""), "{page}");
    assert!(
        !page.contains("<script") && !page.contains("src=\"http"),
        "no script, no external asset"
    );

    let profile = tempfile::tempdir().unwrap();
    let base = format!("http://{ops_addr}");

    // The page as Chromium renders it.
    let dom = browse(
        &browser,
        profile.path(),
        &["--dump-dom"],
        &format!("{base}/"),
    );
    assert!(dom.contains("<h2>Healthy CA</h2>"), "{dom}");
    assert!(
        dom.contains("not ready"),
        "the broken signer makes it not ready: {dom}"
    );
    assert!(
        dom.contains("CKR_DEVICE_REMOVED"),
        "the problem is listed: {dom}"
    );
    let broken_section = dom
        .split("<section class=\"issuer\">")
        .find(|s| s.contains("token"))
        .expect("the broken issuer's section");
    assert!(
        broken_section.contains("not ready"),
        "the broken signer is shown not ready: {broken_section}"
    );
    assert!(
        broken_section.contains("Broken &lt;i&gt;token&lt;/i&gt; CA") && !dom.contains("<i>token"),
        "the hostile name is text, not markup: {broken_section}"
    );
    let healthy_section = dom
        .split("<section class=\"issuer\">")
        .find(|s| s.contains("<h2>Healthy CA</h2>"))
        .expect("the healthy issuer's section");
    assert!(healthy_section.contains(">ready<"), "{healthy_section}");
    assert!(healthy_section.contains("days"), "{healthy_section}");

    // Submit the lookup form as the browser does: GET of its action with its fields.
    let action = attr(&dom, "<form", "action").expect("a form");
    let method = attr(&dom, "<form", "method").expect("a method");
    assert_eq!(method.to_ascii_lowercase(), "get");
    let select = attr(&dom, "<select", "name").expect("an issuer field");
    let input = attr(&dom, "<input", "name").expect("a serial field");
    assert!(dom.contains("<option value=\"Healthy CA\""), "{dom}");
    let enc = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let url = format!("{base}{action}?{select}={}&{input}=1002", enc(HEALTHY));
    let answered = browse(&browser, profile.path(), &["--dump-dom"], &url);
    assert!(
        answered.contains("data-answer=\"revoked\""),
        "serial 1002 is revoked: {answered}"
    );
    assert!(answered.contains("keyCompromise"), "{answered}");
    let unknown = browse(
        &browser,
        profile.path(),
        &["--dump-dom"],
        &format!("{base}{action}?{select}={}&{input}=4242", enc(HEALTHY)),
    );
    assert!(unknown.contains("data-answer=\"unknown\""), "{unknown}");

    // A screenshot of the answer, phone-sized.
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let shot = dir.join("status-page.png");
    let _ = std::fs::remove_file(&shot);
    browse(
        &browser,
        profile.path(),
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=412,2000",
        ],
        &url,
    );
    let png = std::fs::read(&shot).expect("the screenshot was written");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{}",
        png.len()
    );
    println!("screenshot: {}", shot.display());
    eprintln!("screenshot: {}", shot.display());

    let _ = stop.send(());
}
