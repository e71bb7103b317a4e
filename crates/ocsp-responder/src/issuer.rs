//! One served CA: its certificate and hashes, its responder (signer, certificate,
//! ResponderID), its status source and its policy. Everything here is checked once, at
//! load, so the request path only compares and signs.

use crate::clock;
use crate::config::{IssuerConfig, ResponderIdConfig, UnknownSerial};
use crate::source::StatusSource;
use const_oid::db::rfc5280::ID_KP_OCSP_SIGNING;
use const_oid::db::rfc6960::ID_PKIX_OCSP_NOCHECK;
use der::{Decode, Encode};
use ocsp_proto::response::ResponderIdKind;
use ocsp_proto::signer::Signer;
use ocsp_proto::{sigalg, HashAlg, IssuerIdentity, Timestamp};
use ocsp_signer::{KeySpec, Passin, PromptError, Secret, SignOptions};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use x509_cert::ext::pkix::{ExtendedKeyUsage, KeyUsage, KeyUsages};
use x509_cert::Certificate;

/// A CA that could not be served, with the file and the fix.
#[derive(Debug, thiserror::Error)]
pub enum IssuerError {
    /// A file problem (certificate, key, passphrase).
    #[error("{}: {reason}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// A configuration problem not tied to one file.
    #[error("{0}")]
    Config(String),
}

fn file_err(path: &Path, reason: impl Into<String>) -> IssuerError {
    IssuerError::File {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Read the certificates of a PEM (or DER) file, in order.
pub fn read_certs(path: &Path) -> Result<Vec<Certificate>, IssuerError> {
    let bytes = std::fs::read(path).map_err(|e| file_err(path, format!("cannot read: {e}")))?;
    if bytes.starts_with(b"-----") || bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        // Keep only CERTIFICATE blocks: a file may hold a key too (openssl's -rkey default).
        let text = String::from_utf8_lossy(&bytes);
        let mut certs = Vec::new();
        let mut rest = text.as_ref();
        while let Some(start) = rest.find("-----BEGIN CERTIFICATE-----") {
            let block = &rest[start..];
            let end_marker = "-----END CERTIFICATE-----";
            let Some(end) = block.find(end_marker) else {
                return Err(file_err(path, "unterminated CERTIFICATE block"));
            };
            let pem = &block[..end + end_marker.len()];
            let cert = <Certificate as der::DecodePem>::from_pem(pem.as_bytes())
                .map_err(|e| file_err(path, format!("bad certificate: {e}")))?;
            certs.push(cert);
            rest = &block[end + end_marker.len()..];
        }
        if certs.is_empty() {
            return Err(file_err(path, "no CERTIFICATE in this PEM file"));
        }
        Ok(certs)
    } else {
        Certificate::from_der(&bytes)
            .map(|c| vec![c])
            .map_err(|e| file_err(path, format!("neither PEM nor a DER certificate: {e}")))
    }
}

fn read_one_cert(path: &Path) -> Result<Certificate, IssuerError> {
    read_certs(path)?
        .into_iter()
        .next()
        .ok_or_else(|| file_err(path, "no certificate"))
}

/// A signing identity: key, certificate, how it names itself, what it includes. Several
/// issuers may share one (same certificate and key files).
pub struct Responder {
    /// The key.
    pub signer: Arc<dyn Signer>,
    /// The responder certificate (the CA's own when the CA signs).
    pub cert: Certificate,
    /// How responses name the responder.
    pub responder_id: ResponderIdKind,
    /// Certificates placed in responses' `certs`.
    pub certs: Vec<Certificate>,
    /// The responder certificate's notAfter: no nextUpdate is later.
    pub not_after: Timestamp,
    /// Whether this is a delegated responder (not the CA itself).
    pub delegated: bool,
}

impl std::fmt::Debug for Responder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Responder")
            .field("signer", &self.signer.describe())
            .field("delegated", &self.delegated)
            .field("not_after", &self.not_after)
            .finish()
    }
}

/// One served CA.
pub struct Issuer {
    /// Name for logs and metrics.
    pub name: String,
    /// The CA certificate.
    pub cert: Certificate,
    /// Its CertID hashes under every algorithm.
    pub identity: IssuerIdentity,
    /// Who signs its answers.
    pub responder: Arc<Responder>,
    /// Where its statuses come from.
    pub status: Arc<dyn StatusSource>,
    /// nextUpdate − thisUpdate.
    pub validity_secs: u64,
    /// The answer for serials the source holds no record of.
    pub unknown_serial: UnknownSerial,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issuer")
            .field("name", &self.name)
            .field("responder", &self.responder)
            .field("status", &self.status.describe())
            .field("validity_secs", &self.validity_secs)
            .finish()
    }
}

/// Asks for a key's passphrase when no `passin` is configured (a terminal prompt in the
/// binary; [`ocsp_signer::no_prompt`] elsewhere).
pub type PassphrasePrompt<'a> = &'a dyn Fn(&Path) -> Result<Secret, PromptError>;

/// What makes two issuers share one [`Responder`]: the same files and signing options.
type ResponderKey = (
    PathBuf,
    PathBuf,
    String,
    Vec<String>,
    ResponderIdConfig,
    bool,
    Vec<PathBuf>,
);

/// Loads issuers, sharing one [`Responder`] between issuers that name the same
/// certificate and key files.
pub struct IssuerLoader<'a> {
    prompt: PassphrasePrompt<'a>,
    responders: HashMap<ResponderKey, Arc<Responder>>,
    warnings: Vec<String>,
}

fn subject_cn(cert: &Certificate) -> String {
    let s = cert.tbs_certificate.subject.to_string();
    s.split(',')
        .find_map(|part| part.trim().strip_prefix("CN="))
        .map(str::to_string)
        .unwrap_or(s)
}

fn sign_options(cfg: &IssuerConfig) -> Result<SignOptions, IssuerError> {
    let mut opts = SignOptions::default();
    if let Some(md) = &cfg.rmd {
        opts.digest = match HashAlg::from_name(md) {
            Some(HashAlg::Sha1) | None => {
                return Err(IssuerError::Config(format!(
                    "--rmd {md}: use sha256, sha384 or sha512 (SHA-1 signatures are not made)"
                )))
            }
            Some(h) => h,
        };
    }
    for o in &cfg.rsigopt {
        match o.split_once(':') {
            Some(("rsa_padding_mode", "pss")) => opts.rsa_pss = true,
            Some(("rsa_padding_mode", "pkcs1")) => opts.rsa_pss = false,
            Some(("rsa_pss_saltlen", "digest")) | Some(("rsa_pss_saltlen", "-1")) => {}
            _ => {
                return Err(IssuerError::Config(format!(
                    "--rsigopt {o}: supported are rsa_padding_mode:pss, rsa_padding_mode:pkcs1, rsa_pss_saltlen:digest"
                )))
            }
        }
    }
    Ok(opts)
}

impl<'a> IssuerLoader<'a> {
    /// A loader that prompts with `prompt` for keys without `passin`.
    pub fn new(prompt: PassphrasePrompt<'a>) -> IssuerLoader<'a> {
        IssuerLoader {
            prompt,
            responders: HashMap::new(),
            warnings: Vec::new(),
        }
    }

    /// Warnings collected while loading (missing ocsp-nocheck, expiry close, ...).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Load and check one issuer; its statuses come from `status`.
    pub fn load(
        &mut self,
        cfg: &IssuerConfig,
        status: Arc<dyn StatusSource>,
    ) -> Result<Issuer, IssuerError> {
        let ca = read_one_cert(&cfg.ca)?;
        let identity = IssuerIdentity::of(&ca)
            .map_err(|e| file_err(&cfg.ca, format!("cannot encode the CA name: {e}")))?;
        let rsigner_path = cfg.rsigner.clone().unwrap_or_else(|| cfg.ca.clone());
        let rkey_path = cfg.rkey.clone().unwrap_or_else(|| rsigner_path.clone());
        let opts = sign_options(cfg)?;
        let key = (
            rsigner_path.clone(),
            rkey_path.clone(),
            format!("{opts:?}"),
            cfg.rsigopt.clone(),
            cfg.responder_id,
            cfg.resp_no_certs,
            cfg.rother.clone(),
        );
        let responder = match self.responders.get(&key) {
            Some(r) => r.clone(),
            None => {
                let r = Arc::new(self.load_responder(cfg, &ca, &rsigner_path, &rkey_path, opts)?);
                self.responders.insert(key, r.clone());
                r
            }
        };
        if responder.delegated {
            // A shared responder must also be entitled to answer for this CA.
            sigalg::cert_issued_by(&responder.cert, &ca).map_err(|_| {
                file_err(
                    &rsigner_path,
                    format!(
                        "responder certificate is not issued by the CA {} ({}): a delegated responder must be issued directly by the CA it answers for (RFC 6960 §4.2.2.2)",
                        cfg.ca.display(),
                        ca.tbs_certificate.subject
                    ),
                )
            })?;
        }
        let validity_secs = cfg.validity_secs();
        if validity_secs == 0 {
            return Err(IssuerError::Config(format!(
                "issuer {}: --ndays/--nmin give a validity of 0; responses need a nextUpdate after thisUpdate",
                cfg.ca.display()
            )));
        }
        let min = ocsp_proto::profile::MIN_VALIDITY_SECS;
        let max = ocsp_proto::profile::MAX_VALIDITY_SECS_MICROSOFT;
        if !(min..=max).contains(&validity_secs) {
            self.warnings.push(format!(
                "issuer {}: validity of {validity_secs} s is outside the Baseline Requirements' 8 hours..7 days",
                cfg.ca.display()
            ));
        }
        Ok(Issuer {
            name: cfg.name.clone().unwrap_or_else(|| subject_cn(&ca)),
            cert: ca,
            identity,
            responder,
            status,
            validity_secs,
            unknown_serial: cfg.unknown_serial,
        })
    }

    fn load_responder(
        &mut self,
        cfg: &IssuerConfig,
        ca: &Certificate,
        rsigner_path: &Path,
        rkey_path: &Path,
        opts: SignOptions,
    ) -> Result<Responder, IssuerError> {
        let rcert = read_one_cert(rsigner_path)?;
        let delegated = rcert != *ca;
        let spec = KeySpec::file(rkey_path, cfg.passin.clone().map(Passin::new));
        let prompt = self.prompt;
        let signer = ocsp_signer::load(&spec, opts, &mut |p| prompt(p)).map_err(|e| {
            let (path, kind) = e.into_parts();
            file_err(&path, kind.to_string())
        })?;
        let cert_spki = rcert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|e| file_err(rsigner_path, format!("cannot encode the public key: {e}")))?;
        if signer.public_key_der() != cert_spki.as_slice() {
            return Err(file_err(
                rkey_path,
                format!(
                    "this key does not match the certificate {}: give the key the certificate was issued for (--rkey), or the certificate of this key (--rsigner)",
                    rsigner_path.display()
                ),
            ));
        }
        let now = clock::now();
        let not_before = Timestamp::from_x509(&rcert.tbs_certificate.validity.not_before);
        let not_after = Timestamp::from_x509(&rcert.tbs_certificate.validity.not_after);
        if now < not_before || now > not_after {
            return Err(file_err(
                rsigner_path,
                format!(
                    "responder certificate is not valid now (valid {not_before} to {not_after}): renew it"
                ),
            ));
        }
        if delegated {
            sigalg::cert_issued_by(&rcert, ca).map_err(|_| {
                file_err(
                    rsigner_path,
                    format!(
                        "responder certificate is not issued by the CA {}: sign it with that CA (openssl ca -extensions v3_OCSP), or pass that CA's certificate as --ca",
                        cfg.ca.display()
                    ),
                )
            })?;
            let eku = rcert
                .tbs_certificate
                .get::<ExtendedKeyUsage>()
                .map_err(|e| file_err(rsigner_path, format!("bad extendedKeyUsage: {e}")))?;
            if !eku.is_some_and(|(_, eku)| eku.0.contains(&ID_KP_OCSP_SIGNING)) {
                return Err(file_err(
                    rsigner_path,
                    "delegated responder certificate lacks the OCSPSigning extended key usage: reissue it with extendedKeyUsage = OCSPSigning (the seed's [ v3_OCSP ] section)",
                ));
            }
            if let Ok(Some((_, ku))) = rcert.tbs_certificate.get::<KeyUsage>() {
                if !ku.0.contains(KeyUsages::DigitalSignature) {
                    return Err(file_err(
                        rsigner_path,
                        "responder certificate's keyUsage lacks digitalSignature: reissue it with keyUsage = digitalSignature",
                    ));
                }
            }
            let nocheck = rcert
                .tbs_certificate
                .extensions
                .as_deref()
                .unwrap_or(&[])
                .iter()
                .any(|e| e.extn_id == ID_PKIX_OCSP_NOCHECK);
            if !nocheck {
                self.warnings.push(format!(
                    "{}: delegated responder certificate has no id-pkix-ocsp-nocheck extension; clients may try to check its revocation (add noCheck = ignored to its extensions)",
                    rsigner_path.display()
                ));
            }
        }
        let responder_id = match cfg.responder_id {
            ResponderIdConfig::Key => ResponderIdKind::by_key(&rcert)
                .map_err(|e| file_err(rsigner_path, format!("cannot hash the public key: {e}")))?,
            ResponderIdConfig::Name => ResponderIdKind::by_name(&rcert),
        };
        let mut certs = Vec::new();
        if delegated && !cfg.resp_no_certs {
            certs.push(rcert.clone());
        }
        for p in &cfg.rother {
            certs.extend(read_certs(p)?);
        }
        Ok(Responder {
            signer,
            cert: rcert,
            responder_id,
            certs,
            not_after,
            delegated,
        })
    }
}

/// The served CAs, found by CertID.
#[derive(Debug, Default)]
pub struct IssuerSet {
    issuers: Vec<Arc<Issuer>>,
}

impl IssuerSet {
    /// A set of issuers; two with the same name and key hashes are refused.
    pub fn new(issuers: Vec<Issuer>) -> Result<IssuerSet, IssuerError> {
        let issuers: Vec<Arc<Issuer>> = issuers.into_iter().map(Arc::new).collect();
        for (i, a) in issuers.iter().enumerate() {
            if issuers[..i].iter().any(|b| b.identity == a.identity) {
                return Err(IssuerError::Config(format!(
                    "the CA {} is configured twice: give each [[issuer]] a different CA",
                    a.cert.tbs_certificate.subject
                )));
            }
        }
        Ok(IssuerSet { issuers })
    }

    /// The issuer a CertID names, if served.
    pub fn find(&self, item: &ocsp_proto::request::RequestItem) -> Option<&Arc<Issuer>> {
        let alg = item.alg?;
        self.issuers
            .iter()
            .find(|i| i.identity.matches(alg, item.name_hash(), item.key_hash()))
    }

    /// Every issuer.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Issuer>> {
        self.issuers.iter()
    }

    /// How many issuers.
    pub fn len(&self) -> usize {
        self.issuers.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.issuers.is_empty()
    }
}
