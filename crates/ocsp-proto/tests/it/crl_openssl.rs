//! CRLs against real peers: `openssl ca -gencrl` writes CRLs (v1 and v2, reasons, hold
//! instructions, invalidity dates) that `ocsp_proto::crl` must read and verify; CRLs that
//! `ocsp_proto::crl::build` writes must pass `openssl crl -verify`, make `openssl verify
//! -crl_check` reject a revoked leaf and accept a good one, and lint clean under pkilint's
//! BR profile (`lint_crl`); a delta CRL made by Python `cryptography` (and one made by our
//! builder) applies on its base.
//!
//! Keys and certificates are generated at test time in a temporary directory. A missing
//! peer fails the test with the command that installs it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use der::{Decode, Encode};
use ocsp_proto::crl::{
    self, CrlLimits, CrlNumber, CrlParams, CrlVersion, Entry, HoldInstruction, IdpParams,
    RevokedTable,
};
use ocsp_proto::signer::{SignError, Signer};
use ocsp_proto::x509_cert::Certificate;
use ocsp_proto::{RevocationReason, Serial, Timestamp};

fn run(dir: &Path, program: &str, args: &[&str], hint: &str) -> Output {
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{program}` ({e}): {hint}"))
}

const OPENSSL_HINT: &str = "install it with `apt-get install -y openssl`";

fn openssl(dir: &Path, args: &[&str]) -> Output {
    let out = run(dir, "openssl", args, OPENSSL_HINT);
    assert!(
        out.status.success(),
        "openssl {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// openssl, returning (success, stdout + stderr).
fn openssl_status(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = run(dir, "openssl", args, OPENSSL_HINT);
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn now() -> Timestamp {
    Timestamp(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
}

enum Key {
    Ec(aws_lc_rs::signature::EcdsaKeyPair),
    Rsa(aws_lc_rs::signature::RsaKeyPair),
}

/// A CA key from a PKCS#8 PEM file, signing ecdsa-with-SHA256 or sha256WithRSAEncryption.
struct FileSigner {
    key: Key,
    spki: Vec<u8>,
}

impl FileSigner {
    fn load(key: &Path, cert: &Certificate) -> FileSigner {
        let pem = std::fs::read_to_string(key).unwrap();
        let (label, der) = der::pem::decode_vec(pem.as_bytes()).unwrap();
        assert_eq!(label, "PRIVATE KEY");
        let key = match aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            &der,
        ) {
            Ok(k) => Key::Ec(k),
            Err(_) => Key::Rsa(aws_lc_rs::signature::RsaKeyPair::from_pkcs8(&der).unwrap()),
        };
        let spki = cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .unwrap();
        FileSigner { key, spki }
    }
}

impl Signer for FileSigner {
    fn algorithm(&self) -> spki::AlgorithmIdentifierOwned {
        use ocsp_proto::const_oid::db::rfc5912;
        match self.key {
            Key::Ec(_) => spki::AlgorithmIdentifierOwned {
                oid: rfc5912::ECDSA_WITH_SHA_256,
                parameters: None,
            },
            Key::Rsa(_) => spki::AlgorithmIdentifierOwned {
                oid: rfc5912::SHA_256_WITH_RSA_ENCRYPTION,
                parameters: Some(der::asn1::Null.into()),
            },
        }
    }
    fn public_key_der(&self) -> &[u8] {
        &self.spki
    }
    fn sign(&self, tbs: &[u8]) -> Result<Vec<u8>, SignError> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        match &self.key {
            Key::Ec(k) => k
                .sign(&rng, tbs)
                .map(|s| s.as_ref().to_vec())
                .map_err(|e| SignError(e.to_string())),
            Key::Rsa(k) => {
                let mut sig = vec![0; k.public_modulus_len()];
                k.sign(&aws_lc_rs::signature::RSA_PKCS1_SHA256, &rng, tbs, &mut sig)
                    .map_err(|e| SignError(e.to_string()))?;
                Ok(sig)
            }
        }
    }
    fn describe(&self) -> String {
        "test CA key".into()
    }
}

/// A CA in a temporary directory, with an `openssl ca` configuration.
struct Pki {
    dir: tempfile::TempDir,
    ca: Certificate,
    signer: FileSigner,
    /// The CA's subject Name, DER.
    subject: Vec<u8>,
    /// The CA's subjectKeyIdentifier.
    aki: Vec<u8>,
}

const CRL_URI: &str = "http://crl.example.test/shard-7.crl";

impl Pki {
    fn new(kind: &str) -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        let key_opts: &[&str] = if kind == "rsa" {
            &["-newkey", "rsa:2048"]
        } else {
            &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
        };
        let mut args = vec!["req", "-x509"];
        args.extend_from_slice(key_opts);
        args.extend_from_slice(&[
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "30",
            "-subj",
            "/C=XX/O=Example CRL Test/CN=CRL Test CA",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
        ]);
        openssl(p, &args);
        std::fs::write(
            p.join("ca.cnf"),
            "[ ca ]\ndefault_ca = CA_default\n[ CA_default ]\ndatabase = index.txt\n\
             certificate = ca.pem\nprivate_key = ca.key\ndefault_md = sha256\n\
             default_crl_days = 7\n\
             [ CA_v2 ]\ndatabase = index.txt\ncertificate = ca.pem\nprivate_key = ca.key\n\
             default_md = sha256\ndefault_crl_days = 7\ncrlnumber = crlnumber\n\
             crl_extensions = crl_ext\n[ crl_ext ]\nauthorityKeyIdentifier = keyid:always\n\
             [ leaf ]\nbasicConstraints = critical,CA:FALSE\n\
             keyUsage = critical,digitalSignature\n\
             crlDistributionPoints = URI:http://crl.example.test/shard-7.crl\n",
        )
        .unwrap();
        let ca = pem_cert(&p.join("ca.pem"));
        let signer = FileSigner::load(&p.join("ca.key"), &ca);
        let subject = ca.tbs_certificate.subject.to_der().unwrap();
        let aki = crl::authority_key_id(&ca);
        Pki {
            dir,
            ca,
            signer,
            subject,
            aki,
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A leaf certificate with serial `serial_hex`, signed by the CA.
    fn leaf(&self, name: &str, serial_hex: &str) -> Certificate {
        let p = self.path();
        openssl(
            p,
            &[
                "req",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.csr"),
                "-subj",
                &format!("/CN={name}.example.test"),
            ],
        );
        openssl(
            p,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-set_serial",
                &format!("0x{serial_hex}"),
                "-days",
                "5",
                "-extfile",
                "ca.cnf",
                "-extensions",
                "leaf",
                "-out",
                &format!("{name}.pem"),
            ],
        );
        pem_cert(&p.join(format!("{name}.pem")))
    }

    /// Parameters for a CRL of this CA, valid seven days from `this`.
    fn params(&self, number: u128, this: Timestamp) -> CrlParams<'_> {
        CrlParams {
            issuer: &self.subject,
            authority_key_id: &self.aki,
            crl_number: CrlNumber::from_u128(number),
            this_update: this,
            next_update: this.plus(7 * 86_400),
            max_validity_secs: 10 * 86_400,
            delta_base: None,
            idp: None,
        }
    }
}

fn pem_cert(path: &Path) -> Certificate {
    let pem = std::fs::read_to_string(path).unwrap();
    Certificate::from_der(&der::pem::decode_vec(pem.as_bytes()).unwrap().1).unwrap()
}

fn read_crl(path: &Path) -> Vec<u8> {
    let bytes = std::fs::read(path).unwrap();
    crl::decode(&bytes, &CrlLimits::default())
        .unwrap()
        .into_owned()
}

const T_0101: u64 = 1_704_067_200; // 2024-01-01T00:00:00Z
const DAY: u64 = 86_400;

#[test]
fn reads_openssl_v1_crl() {
    let pki = Pki::new("ec");
    std::fs::write(
        pki.file("index.txt"),
        "R\t491231235959Z\t240101000000Z\t0A\tunknown\t/CN=a\n\
         V\t491231235959Z\t\t0C\tunknown\t/CN=c\n\
         R\t491231235959Z\t240102000000Z\t00C0FFEE\tunknown\t/CN=b\n",
    )
    .unwrap();
    openssl(
        pki.path(),
        &["ca", "-config", "ca.cnf", "-gencrl", "-out", "v1.pem"],
    );
    // PEM as openssl wrote it, and DER.
    let pem = std::fs::read(pki.file("v1.pem")).unwrap();
    openssl(
        pki.path(),
        &["crl", "-in", "v1.pem", "-outform", "DER", "-out", "v1.der"],
    );
    let der_bytes = std::fs::read(pki.file("v1.der")).unwrap();
    assert_eq!(
        crl::decode(&pem, &CrlLimits::default()).unwrap().as_ref(),
        der_bytes.as_slice()
    );
    let c = crl::parse(&der_bytes, &CrlLimits::default()).unwrap();
    assert_eq!(
        c.version,
        CrlVersion::V1,
        "openssl writes v1 without extensions"
    );
    assert_eq!(c.crl_number, None);
    assert_eq!(c.authority_key_id, None);
    assert_eq!(c.issuer, pki.ca.tbs_certificate.subject.to_der().unwrap());
    let next = c.next_update.unwrap();
    assert_eq!(next.0 - c.this_update.0, 7 * DAY);
    crl::verify_issued_by(&c, &pki.ca).unwrap();
    let entries: Vec<(Serial, u64)> = c
        .entries()
        .map(|e| e.map(|e| (e.serial(), e.revocation_date.0)))
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(entries.len(), 2);
    assert!(entries.contains(&(Serial::from_hex("0A").unwrap(), T_0101)));
    assert!(entries.contains(&(Serial::from_hex("C0FFEE").unwrap(), T_0101 + DAY)));
    let t = RevokedTable::from_crl(&c).unwrap();
    assert_eq!(t.len(), 2);
    assert!(t.get(&Serial::from_hex("0C").unwrap()).is_none());
    let r = t.revocation(&Serial::from_hex("C0FFEE").unwrap()).unwrap();
    assert_eq!((r.time, r.reason), (Timestamp(T_0101 + DAY), None));

    // One flipped signature octet, and another CA.
    let mut bad = der_bytes.clone();
    let last = bad.len() - 3;
    bad[last] ^= 0x01;
    let b = crl::parse(&bad, &CrlLimits::default()).unwrap();
    assert!(crl::verify_issued_by(&b, &pki.ca).is_err());
    let other = Pki::new("ec");
    assert!(matches!(
        crl::verify_issued_by(&c, &other.ca),
        Err(crl::CrlError::Signature(_))
    ));
}

/// index.txt for the v2 CRL: every reason form openssl writes.
const INDEX_V2: &str = "R\t491231235959Z\t240101000000Z\t0A\tunknown\t/CN=a\n\
R\t491231235959Z\t240102000000Z,keyCompromise\t0B\tunknown\t/CN=b\n\
V\t491231235959Z\t\t0C\tunknown\t/CN=c\n\
R\t491231235959Z\t240103000000Z,holdInstruction,1.2.840.10040.2.2\tFF01\tunknown\t/CN=d\n\
R\t491231235959Z\t240104000000Z,keyTime,20231231000000Z\t0E\tunknown\t/CN=e\n\
R\t491231235959Z\t240105000000Z,CAkeyTime,20231230000000Z\t0F\tunknown\t/CN=f\n\
R\t491231235959Z\t240106000000Z,superseded\t10\tunknown\t/CN=g\n\
R\t491231235959Z\t240107000000Z,unspecified\t11\tunknown\t/CN=h\n";

fn gencrl_v2(pki: &Pki, number_hex: &str, out: &str) {
    std::fs::write(pki.file("index.txt"), INDEX_V2).unwrap();
    std::fs::write(pki.file("crlnumber"), format!("{number_hex}\n")).unwrap();
    openssl(
        pki.path(),
        &[
            "ca",
            "-config",
            "ca.cnf",
            "-name",
            "CA_v2",
            "-gencrl",
            "-crlhours",
            "30",
            "-out",
            out,
        ],
    );
}

#[test]
fn reads_openssl_v2_crl_with_reasons() {
    for kind in ["ec", "rsa"] {
        let pki = Pki::new(kind);
        gencrl_v2(&pki, "1000", "v2.pem");
        let der_bytes = read_crl(&pki.file("v2.pem"));
        let c = crl::parse(&der_bytes, &CrlLimits::default()).unwrap();
        assert_eq!(c.version, CrlVersion::V2);
        assert_eq!(c.crl_number, Some(CrlNumber::from_u128(0x1000)));
        assert!(!c.is_delta());
        assert_eq!(
            c.authority_key_id.map(<[u8]>::to_vec),
            crl::subject_key_id(&pki.ca),
            "{kind}"
        );
        assert_eq!(c.next_update.unwrap().0 - c.this_update.0, 30 * 3600);
        crl::verify_issued_by(&c, &pki.ca).unwrap();
        assert_eq!(c.entry_count, 7);
        let t = RevokedTable::from_crl(&c).unwrap();
        assert_eq!(t.len(), 7);
        let get = |s: &str| t.get(&Serial::from_hex(s).unwrap()).unwrap();
        use RevocationReason as R;
        assert_eq!(get("0A").reason, None);
        assert_eq!(get("0B").reason, Some(R::KeyCompromise));
        let hold = get("FF01");
        assert_eq!(hold.reason, Some(R::CertificateHold));
        assert_eq!(hold.hold_instruction, Some(HoldInstruction::CallIssuer));
        assert_eq!(hold.revocation_date, Timestamp(T_0101 + 2 * DAY));
        let e = get("0E");
        assert_eq!(e.reason, Some(R::KeyCompromise));
        assert_eq!(e.invalidity_date, Some(Timestamp(T_0101 - DAY)));
        let f = get("0F");
        assert_eq!(f.reason, Some(R::CaCompromise));
        assert_eq!(f.invalidity_date, Some(Timestamp(T_0101 - 2 * DAY)));
        assert_eq!(get("10").reason, Some(R::Superseded));
        assert!(matches!(get("11").reason, None | Some(R::Unspecified)));
        assert!(t.get(&Serial::from_hex("0C").unwrap()).is_none());
        let r = t.revocation(&Serial::from_hex("FF01").unwrap()).unwrap();
        assert_eq!(
            r.hold_instruction.map(|o| o.to_string()).as_deref(),
            Some("1.2.840.10040.2.2")
        );
    }
}

fn build_our_crl(
    pki: &Pki,
    number: u128,
    entries: &[Entry<'_>],
    idp: Option<IdpParams<'_>>,
) -> Vec<u8> {
    let mut params = pki.params(number, now().minus(60));
    params.idp = idp;
    crl::build(params, entries.iter().copied(), &pki.signer).unwrap()
}

fn entry(serial: &[u8], t: u64, reason: Option<RevocationReason>) -> Entry<'_> {
    Entry {
        serial,
        revocation_date: Timestamp(t),
        reason,
        invalidity_date: None,
        hold_instruction: None,
    }
}

#[test]
fn openssl_verifies_our_crls_and_rejects_revoked_leaves() {
    for kind in ["ec", "rsa"] {
        let pki = Pki::new(kind);
        let good = pki.leaf("good", "1001");
        let revoked = pki.leaf("revoked", "00B00B5");
        let revoked_serial = Serial::of_cert(&revoked).to_integer_content();
        let good_serial = Serial::of_cert(&good);
        let t = now().minus(3600).0;
        let entries = [
            entry(&[0x05], t, Some(RevocationReason::Superseded)),
            Entry {
                invalidity_date: Some(Timestamp(t - DAY)),
                ..entry(&revoked_serial, t, Some(RevocationReason::KeyCompromise))
            },
            entry(&[0x00, 0x99], t, Some(RevocationReason::Unspecified)),
            Entry {
                hold_instruction: Some(HoldInstruction::CallIssuer),
                ..entry(&[0x06], t, Some(RevocationReason::CertificateHold))
            },
        ];
        for (name, idp) in [
            ("full", None),
            (
                "shard",
                Some(IdpParams {
                    full_name_uris: &[CRL_URI],
                    only_user_certs: true,
                    only_ca_certs: false,
                }),
            ),
        ] {
            let der_bytes = build_our_crl(&pki, 7, &entries, idp.clone());
            let file = format!("{name}.der");
            std::fs::write(pki.file(&file), &der_bytes).unwrap();
            let (ok, out) = openssl_status(
                pki.path(),
                &[
                    "crl", "-inform", "DER", "-in", &file, "-noout", "-CAfile", "ca.pem",
                ],
            );
            assert!(ok && out.contains("verify OK"), "{kind} {name}: {out}");
            let text = openssl(
                pki.path(),
                &["crl", "-inform", "DER", "-in", &file, "-noout", "-text"],
            );
            let text = String::from_utf8_lossy(&text.stdout).to_string();
            assert!(text.contains("Version 2"), "{text}");
            assert!(text.contains("X509v3 CRL Number"), "{text}");
            assert!(text.contains("X509v3 Authority Key Identifier"), "{text}");
            assert!(text.contains("Key Compromise"), "{text}");
            assert!(text.contains("Invalidity Date"), "{text}");
            assert!(text.contains("Hold Instruction Call Issuer"), "{text}");
            // BR §7.2.2: no reasonCode for unspecified.
            assert!(!text.contains("Unspecified"), "{text}");
            if idp.is_some() {
                assert!(
                    text.contains("Issuing Distribution Point: critical"),
                    "{text}"
                );
                assert!(text.contains("Only User Certificates"), "{text}");
                assert!(text.contains(CRL_URI), "{text}");
            }
            openssl(
                pki.path(),
                &[
                    "crl",
                    "-inform",
                    "DER",
                    "-in",
                    &file,
                    "-out",
                    &format!("{name}.pem"),
                ],
            );
            let crl_pem = format!("{name}.pem");
            let (ok, out) = openssl_status(
                pki.path(),
                &[
                    "verify",
                    "-crl_check",
                    "-CAfile",
                    "ca.pem",
                    "-CRLfile",
                    &crl_pem,
                    "revoked.pem",
                ],
            );
            assert!(
                !ok && out.contains("certificate revoked"),
                "{kind} {name}: {out}"
            );
            let (ok, out) = openssl_status(
                pki.path(),
                &[
                    "verify",
                    "-crl_check",
                    "-CAfile",
                    "ca.pem",
                    "-CRLfile",
                    &crl_pem,
                    "good.pem",
                ],
            );
            assert!(ok && out.contains("good.pem: OK"), "{kind} {name}: {out}");

            // And our reader agrees.
            let c = crl::parse(&der_bytes, &CrlLimits::default()).unwrap();
            crl::verify_issued_by(&c, &pki.ca).unwrap();
            let t = RevokedTable::from_crl(&c).unwrap();
            assert!(t.get(&good_serial).is_none());
            assert_eq!(
                t.get(&Serial::of_cert(&revoked)).unwrap().reason,
                Some(RevocationReason::KeyCompromise)
            );
            assert_eq!(t.get_integer(&[0x00, 0x99]).unwrap().reason, None);
            if let Some(i) = &c.issuing_distribution_point {
                assert_eq!(i.full_name_uris, vec![CRL_URI.to_string()]);
                assert!(i.only_user_certs && !i.only_ca_certs);
            }
        }
    }
}

#[test]
fn builder_is_deterministic_and_empty_crl_omits_the_list() {
    let pki = Pki::new("rsa"); // PKCS#1 v1.5 signatures are deterministic
    let this = now().minus(60);
    let e = [entry(&[0x01, 0x02], this.0, None)];
    let a = crl::build(pki.params(3, this), e, &pki.signer).unwrap();
    let b = crl::build(pki.params(3, this), e, &pki.signer).unwrap();
    assert_eq!(a, b);
    let empty = crl::build(pki.params(4, this), [], &pki.signer).unwrap();
    let c = crl::parse(&empty, &CrlLimits::default()).unwrap();
    assert_eq!(c.entry_count, 0);
    std::fs::write(pki.file("empty.der"), &empty).unwrap();
    let (ok, out) = openssl_status(
        pki.path(),
        &[
            "crl",
            "-inform",
            "DER",
            "-in",
            "empty.der",
            "-noout",
            "-text",
            "-CAfile",
            "ca.pem",
        ],
    );
    assert!(ok && out.contains("No Revoked Certificates"), "{out}");
    // Profile checks.
    let mut p = pki.params(5, this);
    p.next_update = this.plus(11 * 86_400);
    assert!(crl::build(p, [], &pki.signer).is_err());
    let mut p = pki.params(5, this);
    p.next_update = this;
    assert!(crl::build(p, [], &pki.signer).is_err());
    let p = pki.params(5, this);
    let remove = [entry(
        &[0x01],
        this.0,
        Some(RevocationReason::RemoveFromCrl),
    )];
    assert!(crl::build(p, remove, &pki.signer).is_err());
    let p = pki.params(5, this);
    assert!(crl::build(p, [entry(&[0x81], this.0, None)], &pki.signer).is_err());
}

const PY_DELTA: &str = r#"
import sys, datetime
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
ca = x509.load_pem_x509_certificate(open("ca.pem", "rb").read())
key = serialization.load_pem_private_key(open("ca.key", "rb").read(), None)
base, number, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
b = (x509.CertificateRevocationListBuilder()
     .issuer_name(ca.subject)
     .last_update(now)
     .next_update(now + datetime.timedelta(days=1))
     .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
     .add_extension(x509.CRLNumber(number), critical=False)
     .add_extension(x509.DeltaCRLIndicator(base), critical=True))
def revoked(serial, reason):
    return (x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now)
            .add_extension(x509.CRLReason(reason), critical=False).build())
b = b.add_revoked_certificate(revoked(0xFF01, x509.ReasonFlags.remove_from_crl))
b = b.add_revoked_certificate(revoked(0x0D, x509.ReasonFlags.key_compromise))
b = b.add_revoked_certificate(revoked(0x0B, x509.ReasonFlags.superseded))
open(out, "wb").write(b.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER))
"#;

fn check_applied(base: &RevokedTable, delta_table: &RevokedTable) {
    let merged = base.apply_delta(delta_table).unwrap();
    let has = |t: &RevokedTable, s: &str| t.get(&Serial::from_hex(s).unwrap()).map(|e| e.reason);
    use RevocationReason as R;
    assert_eq!(has(base, "FF01"), Some(Some(R::CertificateHold)));
    assert_eq!(
        has(&merged, "FF01"),
        None,
        "removeFromCRL releases the hold"
    );
    assert_eq!(has(&merged, "0D"), Some(Some(R::KeyCompromise)));
    assert_eq!(has(&merged, "0B"), Some(Some(R::Superseded)));
    assert_eq!(has(&merged, "0A"), Some(None));
    assert_eq!(merged.len(), base.len()); // −FF01 +0D
}

#[test]
fn delta_crls_apply_on_their_base() {
    let pki = Pki::new("ec");
    gencrl_v2(&pki, "20", "base.pem"); // CRL number 0x20 = 32
    let base_der = read_crl(&pki.file("base.pem"));
    let base = crl::parse(&base_der, &CrlLimits::default()).unwrap();
    crl::verify_issued_by(&base, &pki.ca).unwrap();
    let base_table = RevokedTable::from_crl(&base).unwrap();

    // Made by Python `cryptography`.
    let py = run(
        pki.path(),
        "python3",
        &["-c", PY_DELTA, "32", "33", "delta-py.der"],
        "install Python 3 with `apt-get install -y python3`",
    );
    assert!(
        py.status.success(),
        "Python `cryptography` could not build the delta CRL (install it with `pip install cryptography` or `apt-get install -y python3-cryptography`):\n{}",
        String::from_utf8_lossy(&py.stderr)
    );
    let (ok, out) = openssl_status(
        pki.path(),
        &[
            "crl",
            "-inform",
            "DER",
            "-in",
            "delta-py.der",
            "-noout",
            "-text",
            "-CAfile",
            "ca.pem",
        ],
    );
    assert!(ok && out.contains("Delta CRL Indicator"), "{out}");
    let delta_der = std::fs::read(pki.file("delta-py.der")).unwrap();
    let delta = crl::parse(&delta_der, &CrlLimits::default()).unwrap();
    crl::verify_issued_by(&delta, &pki.ca).unwrap();
    assert_eq!(delta.base_crl_number, Some(CrlNumber::from_u128(32)));
    crl::check_delta(&base.meta(), &delta.meta()).unwrap();
    check_applied(&base_table, &RevokedTable::from_crl(&delta).unwrap());
    // The wrong way round, and a delta whose base is newer than ours.
    assert!(crl::check_delta(&delta.meta(), &base.meta()).is_err());
    let mut older = base.meta();
    older.crl_number = Some(CrlNumber::from_u128(31));
    assert!(crl::check_delta(&older, &delta.meta()).is_err());
    // A complete CRL must not carry removeFromCRL.
    let mut not_delta = delta.clone();
    not_delta.base_crl_number = None;
    assert!(RevokedTable::from_crl(&not_delta).is_err());

    // Made by our builder.
    let mut params = pki.params(33, now().minus(60));
    params.delta_base = Some(CrlNumber::from_u128(32));
    let t = now().minus(120).0;
    let ours = crl::build(
        params,
        [
            entry(&[0x0B], t, Some(RevocationReason::Superseded)),
            entry(&[0x0D], t, Some(RevocationReason::KeyCompromise)),
            entry(
                &[0x00, 0xFF, 0x01],
                t,
                Some(RevocationReason::RemoveFromCrl),
            ),
        ],
        &pki.signer,
    )
    .unwrap();
    std::fs::write(pki.file("delta-ours.der"), &ours).unwrap();
    let (ok, out) = openssl_status(
        pki.path(),
        &[
            "crl",
            "-inform",
            "DER",
            "-in",
            "delta-ours.der",
            "-noout",
            "-text",
            "-CAfile",
            "ca.pem",
        ],
    );
    assert!(
        ok && out.contains("verify OK") && out.contains("Delta CRL Indicator: critical"),
        "{out}"
    );
    assert!(out.contains("Remove From CRL"), "{out}");
    let d = crl::parse(&ours, &CrlLimits::default()).unwrap();
    crl::verify_issued_by(&d, &pki.ca).unwrap();
    crl::check_delta(&base.meta(), &d.meta()).unwrap();
    check_applied(&base_table, &RevokedTable::from_crl(&d).unwrap());
}

#[test]
fn pkilint_br_profile_finds_no_error() {
    let pki = Pki::new("ec");
    let t = now().minus(3600).0;
    let serials: Vec<[u8; 20]> = (0u8..5)
        .map(|i| {
            let mut s = [0x11u8; 20];
            s[0] = 0x40 + i;
            s[19] = i;
            s
        })
        .collect();
    let entries: Vec<Entry<'_>> = serials
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let reason = [
                None,
                Some(RevocationReason::KeyCompromise),
                Some(RevocationReason::Superseded),
                Some(RevocationReason::CessationOfOperation),
                Some(RevocationReason::AffiliationChanged),
            ][i];
            entry(s, t, reason)
        })
        .collect();
    for (name, idp) in [
        ("full", None),
        (
            "shard",
            Some(IdpParams {
                full_name_uris: &[CRL_URI],
                only_user_certs: true,
                only_ca_certs: false,
            }),
        ),
    ] {
        let der_bytes = build_our_crl(&pki, 1_700_000_000_000_000_000, &entries, idp);
        let file = pki.file(format!("{name}.der").as_str());
        std::fs::write(&file, &der_bytes).unwrap();
        let out = Command::new("lint_crl")
            .args([
                "lint",
                "-t",
                "CRL",
                "-p",
                "BR",
                "-s",
                "WARNING",
                "--document-format",
                "DER",
            ])
            .arg(&file)
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run `lint_crl` ({e}): install pkilint with `pip install pkilint`")
            });
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!("lint_crl ({name}):\n{text}");
        assert!(
            out.status.success()
                && !text.contains("ERROR")
                && !text.contains("FATAL")
                && !text.contains("Traceback"),
            "pkilint found errors in the {name} CRL:\n{text}"
        );
    }
    // The linter is live: openssl's v1 CRL (no CRL number, no AKI) fails the BR profile.
    std::fs::write(pki.file("index.txt"), "").unwrap();
    openssl(
        pki.path(),
        &["ca", "-config", "ca.cnf", "-gencrl", "-out", "v1.pem"],
    );
    openssl(
        pki.path(),
        &["crl", "-in", "v1.pem", "-outform", "DER", "-out", "v1.der"],
    );
    let out = Command::new("lint_crl")
        .args([
            "lint",
            "-t",
            "CRL",
            "-p",
            "BR",
            "-s",
            "WARNING",
            "--document-format",
            "DER",
        ])
        .arg(pki.file("v1.der"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success() && text.contains("pkix.crl_number_missing"),
        "pkilint should reject a CRL without a CRL number:\n{text}"
    );
}
