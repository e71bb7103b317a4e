//! CRLs made by real peers for tests: `openssl ca -gencrl` (v1 and v2) on a [`Pki`], and
//! delta CRLs made by Python `cryptography`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::files::p;
use crate::pki::Pki;

/// The `[ CA_v2 ]` section appended to a PKI's openssl.cnf: the same CA with a
/// `crlnumber` file, so `openssl ca -gencrl` writes v2 CRLs.
fn ensure_v2_section(pki: &Pki) {
    let cnf = std::fs::read_to_string(&pki.cnf).unwrap();
    if cnf.contains("[ CA_v2 ]") {
        return;
    }
    let dir = pki.dir.display();
    let section = format!(
        "\n[ CA_v2 ]\ndir = {dir}\ndatabase = $dir/index.txt\ncertificate = $dir/cacert.pem\n\
         private_key = $dir/private/cakey.pem\ncrlnumber = $dir/crlnumber\ndefault_md = sha256\n\
         default_crl_days = 7\n"
    );
    std::fs::write(&pki.cnf, cnf + &section).unwrap();
}

/// `openssl ca -gencrl` into `out` (PEM): v1 when `number` is `None` (no crlnumber), v2
/// with that CRL number otherwise; valid for `hours`.
pub fn gencrl(pki: &Pki, number: Option<u64>, hours: u32, out: &str) -> PathBuf {
    let path = pki.dir.join(out);
    let hours = hours.to_string();
    let mut args = vec!["-gencrl", "-crlhours", &hours, "-out", p(&path)];
    if let Some(n) = number {
        ensure_v2_section(pki);
        std::fs::write(pki.dir.join("crlnumber"), format!("{n:04X}\n")).unwrap();
        args.extend_from_slice(&["-name", "CA_v2"]);
    }
    let out = pki.ca(&args);
    assert!(
        out.status.success(),
        "openssl ca -gencrl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    path
}

/// PEM to DER with `openssl crl`.
pub fn to_der(pki: &Pki, pem: &Path) -> Vec<u8> {
    let der = pem.with_extension("der");
    let out = crate::openssl::openssl(
        &pki.dir,
        &["crl", "-in", p(pem), "-outform", "DER", "-out", p(&der)],
    );
    assert!(out.status.success());
    std::fs::read(der).unwrap()
}

const PY_DELTA: &str = r#"
import sys, datetime
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
ca = x509.load_pem_x509_certificate(open(sys.argv[1], "rb").read())
key = serialization.load_pem_private_key(open(sys.argv[2], "rb").read(), sys.argv[3].encode() or None)
base, number, hours, out = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
b = (x509.CertificateRevocationListBuilder()
     .issuer_name(ca.subject)
     .last_update(now)
     .next_update(now + datetime.timedelta(hours=hours))
     .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
     .add_extension(x509.CRLNumber(number), critical=False)
     .add_extension(x509.DeltaCRLIndicator(base), critical=True))
reasons = {"removeFromCRL": x509.ReasonFlags.remove_from_crl, "keyCompromise": x509.ReasonFlags.key_compromise,
           "superseded": x509.ReasonFlags.superseded, "certificateHold": x509.ReasonFlags.certificate_hold}
for item in sys.argv[8:]:
    serial, reason = item.split(":")
    e = (x509.RevokedCertificateBuilder().serial_number(int(serial, 16)).revocation_date(now)
         .add_extension(x509.CRLReason(reasons[reason]), critical=False).build())
    b = b.add_revoked_certificate(e)
open(out, "wb").write(b.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER))
"#;

/// A delta CRL (DER) on base CRL number `base`, numbered `number`, valid for `hours`,
/// listing `entries` (`("1000", "removeFromCRL")`: hex serial and reason name), signed
/// by the PKI's CA key with Python `cryptography`.
pub fn python_delta(
    pki: &Pki,
    base: u64,
    number: u64,
    hours: u32,
    entries: &[(&str, &str)],
    out: &str,
) -> Vec<u8> {
    let path = pki.dir.join(out);
    let pass = if std::fs::read_to_string(&pki.cakey)
        .unwrap()
        .contains("ENCRYPTED")
    {
        crate::pki::PASSPHRASE.to_string()
    } else {
        String::new()
    };
    let mut args: Vec<String> = vec![
        "-c".into(),
        PY_DELTA.into(),
        p(&pki.cacert).into(),
        p(&pki.cakey).into(),
        pass,
        base.to_string(),
        number.to_string(),
        hours.to_string(),
        p(&path).into(),
    ];
    args.extend(entries.iter().map(|(s, r)| format!("{s}:{r}")));
    let out = Command::new("python3")
        .args(&args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run python3 ({e}): install it with `apt-get install -y python3`")
        });
    assert!(
        out.status.success(),
        "Python `cryptography` could not build the delta CRL (install it with `pip install cryptography` or `apt-get install -y python3-cryptography`):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(path).unwrap()
}
