//! The demo PKI, built in memory: keys, certificates and the OpenSSL CA files around them.
//!
//! Nothing here touches the disk; [`build`] returns the files and `demo.rs` writes them.
//! The CA and the responder get RSA-2048 keys (as the seed's `openssl genpkey -algorithm RSA`),
//! the leaves ECDSA P-256 (quick to make; they never sign anything).

use super::{asn1_time, hex_serial, oneline, IndexEntry, IndexState};
use anyhow::{anyhow, Context, Result};
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, RsaKeySize, SanType,
    SerialNumber, PKCS_ECDSA_P256_SHA256, PKCS_RSA_SHA256,
};
use std::fmt::Write as _;
use std::path::Path;
use time::{Duration, OffsetDateTime};
use x509_cert::der::asn1::{Ia5String, Null, ObjectIdentifier};
use x509_cert::der::Encode;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{AccessDescription, AuthorityInfoAccessSyntax};

/// countryName of every demo certificate (ISO 3166 user-assigned code).
const COUNTRY: &str = "XX";
/// organizationName of every demo certificate.
const ORG: &str = "OCSP Demo";
/// commonName of the CA.
pub(super) const CA_CN: &str = "OCSP Demo CA";
/// commonName of the delegated responder.
const RESPONDER_CN: &str = "OCSP Demo Responder";
/// DNS suffix of the leaves' names (`.test` is reserved, RFC 2606).
const LEAF_DOMAIN: &str = "ocsp-demo.test";
/// Serial of the first certificate the CA issues (the responder); the leaves follow.
pub(super) const FIRST_SERIAL: u64 = 0x1000;
/// PBKDF2 iterations of the responder key, as `openssl genpkey -aes256` (OpenSSL 3) uses.
const PBKDF2_ITERATIONS: u32 = 2048;

const OID_AIA: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 1, 1];
const OID_OCSP_NOCHECK: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 1, 5];
const ID_AD_OCSP: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1");

/// File names of the layout (relative to the demo directory).
pub(super) mod names {
    pub const CACERT: &str = "cacert.pem";
    pub const CAKEY: &str = "private/cakey.pem";
    pub const INDEX: &str = "index.txt";
    pub const INDEX_ATTR: &str = "index.txt.attr";
    pub const SERIAL: &str = "serial";
    pub const CRLNUMBER: &str = "crlnumber";
    pub const OPENSSL_CNF: &str = "openssl.cnf";
    pub const RESPONDER_CRT: &str = "ocsp_responder.crt";
    pub const RESPONDER_KEY: &str = "ocsp_responder.key";
    pub const RESPONDER_PASS: &str = "ocsp_responder.pass";
    /// The `ocsp serve --config` file; written last, it also marks a complete demo PKI.
    pub const OCSP_TOML: &str = "ocsp.toml";
    pub const PRIVATE_DIR: &str = "private";
    pub const NEWCERTS_DIR: &str = "newcerts";
}

/// First line of `ocsp.toml`: how a later `ocsp demo` recognises its own directory.
pub(super) const MARKER: &str = "# ocsp demo PKI";

/// What a leaf is made to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LeafKind {
    /// Valid now, `V` in index.txt.
    Good,
    /// Revoked with keyCompromise, `R` in index.txt.
    Revoked,
    /// Expired a month ago, `E` in index.txt.
    Expired,
}

impl LeafKind {
    /// Every leaf, in issuing order.
    pub(super) const ALL: [LeafKind; 3] = [LeafKind::Good, LeafKind::Revoked, LeafKind::Expired];

    /// The file stem: `good` → `good.pem`, `good.key`.
    pub(super) fn stem(self) -> &'static str {
        match self {
            LeafKind::Good => "good",
            LeafKind::Revoked => "revoked",
            LeafKind::Expired => "expired",
        }
    }

    /// Its certificate file.
    pub(super) fn cert_file(self) -> String {
        format!("{}.pem", self.stem())
    }

    /// Its key file.
    pub(super) fn key_file(self) -> String {
        format!("{}.key", self.stem())
    }

    /// What the responder answers for it, in words.
    pub(super) fn describe(self) -> &'static str {
        match self {
            LeafKind::Good => "good",
            LeafKind::Revoked => "revoked (keyCompromise)",
            LeafKind::Expired => "expired a month ago (E in index.txt; answered good)",
        }
    }
}

/// One file of the demo PKI.
#[derive(Debug)]
pub(super) struct PkiFile {
    /// Path relative to the demo directory.
    pub path: String,
    /// Contents.
    pub contents: Vec<u8>,
    /// Private (keys, passphrase): written with mode 0600.
    pub secret: bool,
}

/// A leaf as written, for the summary.
#[derive(Debug, Clone)]
pub(super) struct LeafSummary {
    pub kind: LeafKind,
    pub serial_hex: String,
}

/// The whole demo PKI.
#[derive(Debug)]
pub(super) struct Pki {
    /// Every file, `ocsp.toml` last.
    pub files: Vec<PkiFile>,
    /// The leaves.
    pub leaves: Vec<LeafSummary>,
}

/// A name in the demo's `/C=XX/O=OCSP Demo/CN=...` shape, for rcgen and for index.txt.
struct Subject {
    cn: String,
}

impl Subject {
    fn new(cn: impl Into<String>) -> Subject {
        Subject { cn: cn.into() }
    }

    fn rcgen(&self) -> Result<DistinguishedName> {
        let mut dn = DistinguishedName::new();
        // countryName is a PrintableString (RFC 5280 appendix A), the others UTF8String,
        // as openssl's default string_mask (utf8only) writes them.
        let c = rcgen::string::PrintableString::try_from(COUNTRY)
            .map_err(|e| anyhow!("countryName {COUNTRY:?}: {e}"))?;
        dn.push(DnType::CountryName, DnValue::PrintableString(c));
        dn.push(DnType::OrganizationName, ORG);
        dn.push(DnType::CommonName, self.cn.as_str());
        Ok(dn)
    }

    /// The subject as `openssl ca` writes it in index.txt.
    fn oneline(&self) -> String {
        oneline(&[("C", COUNTRY), ("O", ORG), ("CN", &self.cn)])
    }
}

fn serial_bytes(n: u64) -> Vec<u8> {
    let b = n.to_be_bytes();
    let first = b.iter().position(|&x| x != 0).unwrap_or(b.len() - 1);
    b[first..].to_vec()
}

fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut out = [0u8; N];
    aws_lc_rs::rand::fill(&mut out).map_err(|_| anyhow!("the system random generator failed"))?;
    Ok(out)
}

/// A random positive serial for the self-signed CA (as `openssl req -x509` makes one).
fn random_serial() -> Result<Vec<u8>> {
    let mut s = random_bytes::<16>()?.to_vec();
    s[0] = (s[0] & 0x7f) | 0x40; // positive, 16 octets, never zero
    Ok(s)
}

fn aia_ocsp(url: &str) -> Result<CustomExtension> {
    let uri = Ia5String::new(url).map_err(|e| anyhow!("OCSP URL {url:?}: {e}"))?;
    let aia = AuthorityInfoAccessSyntax(vec![AccessDescription {
        access_method: ID_AD_OCSP,
        access_location: GeneralName::UniformResourceIdentifier(uri),
    }]);
    let der = aia.to_der().context("encoding authorityInfoAccess")?;
    Ok(CustomExtension::from_oid_content(OID_AIA, der))
}

fn ocsp_nocheck() -> Result<CustomExtension> {
    let der = Null.to_der().context("encoding id-pkix-ocsp-nocheck")?;
    Ok(CustomExtension::from_oid_content(OID_OCSP_NOCHECK, der))
}

/// Encrypt a PKCS#8 key as `openssl genpkey -aes256` does: PBES2, PBKDF2 with
/// HMAC-SHA256, AES-256-CBC; PEM `ENCRYPTED PRIVATE KEY`.
pub(super) fn encrypt_pkcs8(der: &[u8], passphrase: &[u8]) -> Result<String> {
    let info = pkcs8::PrivateKeyInfo::try_from(der).map_err(|e| anyhow!("PKCS#8 key: {e}"))?;
    let salt = random_bytes::<16>()?;
    let iv = random_bytes::<16>()?;
    let params =
        pkcs8::pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(PBKDF2_ITERATIONS, &salt, &iv)
            .map_err(|e| anyhow!("PBES2 parameters: {e}"))?;
    let doc = info
        .encrypt_with_params(params, passphrase)
        .map_err(|e| anyhow!("encrypting the key: {e}"))?;
    let pem = doc
        .to_pem("ENCRYPTED PRIVATE KEY", pkcs8::LineEnding::LF)
        .map_err(|e| anyhow!("encoding the encrypted key: {e}"))?;
    Ok(pem.to_string())
}

fn rsa_key() -> Result<KeyPair> {
    KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_2048)
        .context("generating an RSA-2048 key")
}

fn leaf_params(
    kind: LeafKind,
    serial: &[u8],
    now: OffsetDateTime,
    ocsp_url: &str,
) -> Result<(CertificateParams, Subject)> {
    let host = format!("{}.{LEAF_DOMAIN}", kind.stem());
    let subject = Subject::new(host.clone());
    let mut p = CertificateParams::default();
    p.distinguished_name = subject.rcgen()?;
    p.serial_number = Some(SerialNumber::from(serial.to_vec()));
    (p.not_before, p.not_after) = match kind {
        LeafKind::Good | LeafKind::Revoked => (now - Duration::hours(1), now + Duration::days(365)),
        LeafKind::Expired => (now - Duration::days(60), now - Duration::days(30)),
    };
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    p.subject_alt_names = vec![SanType::DnsName(
        host.try_into().map_err(|e| anyhow!("leaf DNS name: {e}"))?,
    )];
    p.use_authority_key_identifier_extension = true;
    p.custom_extensions = vec![aia_ocsp(ocsp_url)?];
    Ok((p, subject))
}

/// Build the demo PKI for directory `dir` (absolute: openssl.cnf names it), whose leaves
/// point at `ocsp_url`, as of `now`.
pub(super) fn build(dir: &Path, ocsp_url: &str, now: OffsetDateTime) -> Result<Pki> {
    let now = now.replace_nanosecond(0).context("truncating the clock")?;
    let mut files = Vec::new();
    let mut index = Vec::new();
    let mut newcerts = Vec::new();
    let mut leaves = Vec::new();

    // The CA: self-signed, as `openssl req -x509` makes the seed's cacert.pem.
    let ca_key = rsa_key()?;
    let ca_subject = Subject::new(CA_CN);
    let mut ca = CertificateParams::default();
    ca.distinguished_name = ca_subject.rcgen()?;
    ca.serial_number = Some(SerialNumber::from(random_serial()?));
    ca.not_before = now - Duration::days(90);
    ca.not_after = now + Duration::days(3650);
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
    ];
    ca.use_authority_key_identifier_extension = true;
    let ca_cert = ca
        .self_signed(&ca_key)
        .context("signing the CA certificate")?;
    let issuer = Issuer::new(ca, &ca_key);
    files.push(public(names::CACERT, ca_cert.pem()));
    files.push(secret(names::CAKEY, ca_key.serialize_pem()));

    // The delegated responder (the seed's `openssl ca -extensions v3_OCSP`), tightened to
    // what the Baseline Requirements ask: EKU OCSPSigning only, KU digitalSignature,
    // id-pkix-ocsp-nocheck.
    let mut serial = FIRST_SERIAL;
    let r_key = rsa_key()?;
    let r_subject = Subject::new(RESPONDER_CN);
    let r_serial = serial_bytes(serial);
    let mut r = CertificateParams::default();
    r.distinguished_name = r_subject.rcgen()?;
    r.serial_number = Some(SerialNumber::from(r_serial.clone()));
    r.not_before = now - Duration::hours(1);
    r.not_after = now + Duration::days(365);
    r.is_ca = IsCa::ExplicitNoCa;
    r.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    r.extended_key_usages = vec![ExtendedKeyUsagePurpose::OcspSigning];
    r.use_authority_key_identifier_extension = true;
    r.custom_extensions = vec![ocsp_nocheck()?];
    let r_cert = r
        .signed_by(&r_key, &issuer)
        .context("signing the responder certificate")?;
    let passphrase = hex::encode(random_bytes::<16>()?);
    files.push(public(names::RESPONDER_CRT, r_cert.pem()));
    files.push(secret(
        names::RESPONDER_KEY,
        encrypt_pkcs8(r_key.serialized_der(), passphrase.as_bytes())?,
    ));
    files.push(secret(names::RESPONDER_PASS, format!("{passphrase}\n")));
    index.push(IndexEntry {
        state: IndexState::Valid,
        expires: r.not_after,
        serial: r_serial.clone(),
        subject: r_subject.oneline(),
    });
    newcerts.push((r_serial, r_cert.pem()));

    for kind in LeafKind::ALL {
        serial += 1;
        let key =
            KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).context("generating a P-256 key")?;
        let s = serial_bytes(serial);
        let (p, subject) = leaf_params(kind, &s, now, ocsp_url)?;
        let cert = p
            .signed_by(&key, &issuer)
            .with_context(|| format!("signing {}", kind.cert_file()))?;
        files.push(public(&kind.cert_file(), cert.pem()));
        files.push(secret(&kind.key_file(), key.serialize_pem()));
        let state = match kind {
            LeafKind::Good => IndexState::Valid,
            LeafKind::Revoked => IndexState::Revoked {
                at: now,
                reason: "keyCompromise",
            },
            LeafKind::Expired => IndexState::Expired,
        };
        index.push(IndexEntry {
            state,
            expires: p.not_after,
            serial: s.clone(),
            subject: subject.oneline(),
        });
        leaves.push(LeafSummary {
            kind,
            serial_hex: hex_serial(&s),
        });
        newcerts.push((s, cert.pem()));
    }

    for (s, pem) in newcerts {
        files.push(public(
            &format!("{}/{}.pem", names::NEWCERTS_DIR, hex_serial(&s)),
            pem,
        ));
    }
    let index_txt: String = index.iter().map(IndexEntry::line).collect();
    files.push(public(names::INDEX, index_txt));
    // `openssl ca` writes this next to index.txt; `no` lets the user reissue a name.
    files.push(public(
        names::INDEX_ATTR,
        "unique_subject = no\n".to_string(),
    ));
    files.push(public(
        names::SERIAL,
        format!("{}\n", hex_serial(&serial_bytes(serial + 1))),
    ));
    files.push(public(names::CRLNUMBER, "1000\n".to_string()));
    files.push(public(names::OPENSSL_CNF, openssl_cnf(dir, ocsp_url, now)));
    files.push(public(names::OCSP_TOML, ocsp_toml(ocsp_url)));
    Ok(Pki { files, leaves })
}

fn public(path: &str, contents: String) -> PkiFile {
    PkiFile {
        path: path.to_string(),
        contents: contents.into_bytes(),
        secret: false,
    }
}

fn secret(path: &str, contents: String) -> PkiFile {
    PkiFile {
        path: path.to_string(),
        contents: contents.into_bytes(),
        secret: true,
    }
}

/// Quote a value for an OpenSSL config file: a backslash before each character the
/// parser would take as a variable (`$`), comment (`#`), quote or escape.
pub(super) fn cnf_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '\\' | '$' | '#' | '"' | '\'') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The CA configuration: `openssl ca -config DIR/openssl.cnf` revokes, makes CRLs and
/// issues more certificates from the demo files.
fn openssl_cnf(dir: &Path, ocsp_url: &str, now: OffsetDateTime) -> String {
    let d = cnf_escape(&dir.display().to_string());
    let mut s = String::new();
    let _ = write!(
        s,
        "\
# OpenSSL CA configuration of the demo PKI written by `ocsp demo` on {when}.
# The files follow the layout of `openssl ca`, so openssl works on them directly:
#
#   revoke:  openssl ca -config {d}/openssl.cnf -revoke {d}/good.pem -crl_reason keyCompromise
#   CRL:     openssl ca -config {d}/openssl.cnf -gencrl -out {d}/crl.pem
#   issue:   openssl req -new -newkey rsa:2048 -nodes -keyout new.key -subj /CN=new.{LEAF_DOMAIN} -out new.csr
#            openssl ca -config {d}/openssl.cnf -batch -in new.csr -out new.pem
#   a new responder certificate (the seed's [ v3_OCSP ]):
#            openssl ca -config {d}/openssl.cnf -extensions v3_OCSP -days 365 -in ocsp.csr -out ocsp.crt
#
# The responder (`ocsp demo` or `ocsp serve --config {d}/ocsp.toml`) sees each change
# to index.txt as soon as openssl has written it.

[ ca ]
default_ca        = CA_default

[ CA_default ]
dir               = {d}
certs             = $dir
crl_dir           = $dir
new_certs_dir     = $dir/newcerts
database          = $dir/index.txt
serial            = $dir/serial
crlnumber         = $dir/crlnumber
crl               = $dir/crl.pem
certificate       = $dir/cacert.pem
private_key       = $dir/private/cakey.pem
default_md        = sha256
default_days      = 365
default_crl_days  = 30
preserve          = no
unique_subject    = no
email_in_dn       = no
copy_extensions   = none
policy            = policy_loose
x509_extensions   = usr_cert
crl_extensions    = crl_ext
name_opt          = ca_default
cert_opt          = ca_default

[ policy_loose ]
countryName             = optional
stateOrProvinceName     = optional
localityName            = optional
organizationName        = optional
organizationalUnitName  = optional
commonName              = supplied
emailAddress            = optional

# Leaves, as good.pem, revoked.pem and expired.pem were made.
[ usr_cert ]
basicConstraints        = critical, CA:FALSE
keyUsage                = critical, digitalSignature, keyEncipherment
extendedKeyUsage        = serverAuth, clientAuth
subjectKeyIdentifier    = hash
authorityKeyIdentifier  = keyid
authorityInfoAccess     = OCSP;URI:{url}

# Delegated OCSP responders, as ocsp_responder.crt was made.
[ v3_OCSP ]
basicConstraints        = critical, CA:FALSE
keyUsage                = critical, digitalSignature
extendedKeyUsage        = OCSPSigning
noCheck                 = ignored
subjectKeyIdentifier    = hash
authorityKeyIdentifier  = keyid

[ crl_ext ]
authorityKeyIdentifier  = keyid
",
        when = asn1_time(now),
        url = cnf_escape(ocsp_url),
    );
    s
}

/// The `ocsp serve --config` file of the demo (paths relative to it). Its first line is
/// the marker by which `ocsp demo` recognises a directory it wrote.
fn ocsp_toml(ocsp_url: &str) -> String {
    format!(
        "\
{MARKER} — written by `ocsp demo` (responder URL in the leaves: {ocsp_url}).
# Serve it without the demo:  ocsp serve --config ocsp.toml --port 2560
# Paths are relative to this file.

[[issuer]]
ca = \"{ca}\"
index = \"{index}\"
rsigner = \"{rsigner}\"
rkey = \"{rkey}\"
passin = \"file:{pass}\"
",
        ca = names::CACERT,
        index = names::INDEX,
        rsigner = names::RESPONDER_CRT,
        rkey = names::RESPONDER_KEY,
        pass = names::RESPONDER_PASS,
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use x509_cert::der::{Decode, DecodePem};
    use x509_cert::ext::pkix::{ExtendedKeyUsage, KeyUsage, KeyUsages};
    use x509_cert::Certificate;

    fn file<'a>(pki: &'a Pki, path: &str) -> &'a PkiFile {
        pki.files
            .iter()
            .find(|f| f.path == path)
            .unwrap_or_else(|| panic!("no {path}"))
    }

    fn text<'a>(pki: &'a Pki, path: &str) -> &'a str {
        std::str::from_utf8(&file(pki, path).contents).unwrap()
    }

    fn cert(pki: &Pki, path: &str) -> Certificate {
        Certificate::from_pem(text(pki, path)).unwrap()
    }

    #[test]
    fn builds_the_layout_with_a_proper_responder() {
        let now = OffsetDateTime::now_utc();
        let pki = build(Path::new("/tmp/demo dir"), "http://127.0.0.1:2560", now).unwrap();

        // Secrets are marked, ocsp.toml comes last.
        for f in &pki.files {
            let should =
                f.path.ends_with(".key") || f.path.ends_with(".pass") || f.path == names::CAKEY;
            assert_eq!(f.secret, should, "{}", f.path);
        }
        assert_eq!(pki.files.last().unwrap().path, names::OCSP_TOML);
        assert!(text(&pki, names::OCSP_TOML).starts_with(MARKER));

        // The responder certificate.
        let r = cert(&pki, names::RESPONDER_CRT);
        let ca = cert(&pki, names::CACERT);
        assert_eq!(r.tbs_certificate.issuer, ca.tbs_certificate.subject);
        let (crit, eku) = r
            .tbs_certificate
            .get::<ExtendedKeyUsage>()
            .unwrap()
            .unwrap();
        assert!(!crit);
        assert_eq!(eku.0, vec![const_oid_ocsp_signing()]);
        let (_, ku) = r.tbs_certificate.get::<KeyUsage>().unwrap().unwrap();
        assert!(ku.0.contains(KeyUsages::DigitalSignature));
        assert_eq!(ku.0.into_iter().count(), 1);
        let exts = r.tbs_certificate.extensions.as_deref().unwrap();
        assert!(exts
            .iter()
            .any(|e| e.extn_id.to_string() == "1.3.6.1.5.5.7.48.1.5"
                && e.extn_value.as_bytes() == [5, 0]));

        // The encrypted key decrypts with the passphrase to the certificate's key.
        let pass = text(&pki, names::RESPONDER_PASS).trim_end().to_string();
        let (label, doc) =
            x509_cert::der::Document::from_pem(text(&pki, names::RESPONDER_KEY)).unwrap();
        assert_eq!(label, "ENCRYPTED PRIVATE KEY");
        let enc = pkcs8::EncryptedPrivateKeyInfo::from_der(doc.as_bytes()).unwrap();
        let pbes2 = enc.encryption_algorithm.pbes2().unwrap();
        let pbkdf2 = pbes2.kdf.pbkdf2().unwrap();
        assert_eq!(pbkdf2.iteration_count, PBKDF2_ITERATIONS);
        assert_eq!(pbkdf2.prf, pkcs8::pkcs5::pbes2::Pbkdf2Prf::HmacWithSha256);
        assert_eq!(
            pbes2.encryption.oid().to_string(),
            "2.16.840.1.101.3.4.1.42"
        ); // aes256-CBC
        let plain = enc.decrypt(pass.as_bytes()).unwrap();
        let key = KeyPair::try_from(plain.as_bytes()).unwrap();
        assert_eq!(
            rcgen::PublicKeyData::subject_public_key_info(&key),
            r.tbs_certificate.subject_public_key_info.to_der().unwrap()
        );
        assert!(enc.decrypt(b"wrong").is_err());

        // The leaves carry the responder URL; index.txt lists all four issued certificates.
        let good = cert(&pki, "good.pem");
        let aia = good
            .tbs_certificate
            .get::<AuthorityInfoAccessSyntax>()
            .unwrap()
            .unwrap()
            .1;
        assert_eq!(aia.0[0].access_method, ID_AD_OCSP);
        assert_eq!(
            aia.0[0].access_location,
            GeneralName::UniformResourceIdentifier(
                Ia5String::new("http://127.0.0.1:2560").unwrap()
            )
        );
        let idx = text(&pki, names::INDEX);
        let kinds: Vec<&str> = idx.lines().map(|l| l.split('\t').next().unwrap()).collect();
        assert_eq!(kinds, ["V", "V", "R", "E"]);
        assert!(idx.lines().all(|l| l.split('\t').count() == 6));
        assert!(idx.contains("\t1001\tunknown\t/C=XX/O=OCSP Demo/CN=good.ocsp-demo.test\n"));
        assert_eq!(text(&pki, names::SERIAL), "1004\n");
        for s in ["1000", "1001", "1002", "1003"] {
            file(&pki, &format!("newcerts/{s}.pem"));
        }
        assert_eq!(
            cert(&pki, "newcerts/1002.pem"),
            cert(&pki, "revoked.pem"),
            "newcerts holds the issued certificates"
        );
        let expired = cert(&pki, "expired.pem");
        let not_after = expired
            .tbs_certificate
            .validity
            .not_after
            .to_unix_duration();
        assert!(not_after.as_secs() < now.unix_timestamp() as u64);

        let cnf = text(&pki, names::OPENSSL_CNF);
        assert!(cnf.contains("dir               = /tmp/demo dir\n"), "{cnf}");
        assert!(cnf.contains("authorityInfoAccess     = OCSP;URI:http://127.0.0.1:2560\n"));
    }

    fn const_oid_ocsp_signing() -> ObjectIdentifier {
        ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.9")
    }

    #[test]
    fn cnf_values_are_escaped() {
        assert_eq!(cnf_escape("/a b/c"), "/a b/c");
        assert_eq!(cnf_escape("/x$y#z\\'\""), "/x\\$y\\#z\\\\\\'\\\"");
    }

    #[test]
    fn serials_are_minimal() {
        assert_eq!(serial_bytes(0x1000), vec![0x10, 0]);
        assert_eq!(serial_bytes(0xff), vec![0xff]);
        assert_eq!(serial_bytes(0), vec![0]);
    }
}
