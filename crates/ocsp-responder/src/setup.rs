//! The one wiring: a [`Config`] in, the running parts out. `ocsp serve`, `presign`,
//! `check-config` and `demo` all build through here, so what one of them checks (the
//! compliance profile, the refresh window, the key matching its certificate) every one
//! checks, and the binary never names a concrete status source or signer.
//!
//! ```text
//! Config ──► open_status (one StatusSource per [[issuer]], by its [issuer.status] variant)
//!        ──► IssuerLoader (certificates, keys, ResponderID; responders shared by spec)
//!        ──► IssuerSet ──► compliance (preflight + refresh window, by profile)
//!        ──► SigningPool ──► LiveSource (Sign) ──► CachedSource (when [cache] enabled)
//!        ──► Filter (issuer resolution, once per request) = the edge's ResponseSource
//! ```
//!
//! Nothing here serves: listeners, the ops endpoint and signals belong to the binary.

use crate::config::{Config, IssuerConfig};
use crate::health::{preflight, Severity};
use crate::issuer::{
    file_err, Issuer, IssuerError, IssuerSet, Responder, ResponderIdConfig, ResponderSlot,
};
use crate::source::cache::{CacheOptions, CachedSource};
use crate::source::filter::Filter;
use crate::source::live::LiveSource;
use crate::source::signing::SigningPool;
use crate::source::{ResolvedSource, ResponseSource, Sign};
use const_oid::db::rfc5280::ID_KP_OCSP_SIGNING;
use const_oid::db::rfc6960::ID_PKIX_OCSP_NOCHECK;
use der::{Decode, Encode};
use ocsp_proto::response::ResponderIdKind;
use ocsp_proto::{sigalg, HashAlg, IssuerIdentity, Timestamp};
use ocsp_signer::{KeySpec, Passin, Pkcs11Settings, PromptError, Secret, SignOptions};
use ocsp_status::config::{OpenError, OpenOptions};
use ocsp_status::{SharedClock, StatusSource};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use x509_cert::ext::pkix::{ExtendedKeyUsage, KeyUsage, KeyUsages};
use x509_cert::Certificate;

/// Why a configuration could not be built into a responder.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// An issuer's certificate, key or settings.
    #[error(transparent)]
    Issuer(#[from] IssuerError),
    /// An issuer's status backend.
    #[error(transparent)]
    Status(#[from] OpenError),
    /// What the compliance profile refuses, every problem listed.
    #[error("the configuration cannot be served under profile {profile}:\n  - {}", problems.join("\n  - "))]
    Profile {
        /// The profile.
        profile: ocsp_proto::profile::Profile,
        /// One line per problem.
        problems: Vec<String>,
    },
    /// The signing threads could not start.
    #[error("cannot start the signing threads: {0}")]
    Signing(String),
}

/// The running parts a configuration describes.
pub struct Built {
    /// The served CAs, each with its status source and responder.
    pub issuers: Arc<IssuerSet>,
    /// The signing threads.
    pub pool: Arc<SigningPool>,
    /// Live signing (the [`Sign`] stage).
    pub live: Arc<LiveSource>,
    /// The response cache, when `[cache] enabled`.
    pub cache: Option<Arc<CachedSource>>,
    /// What the HTTP edge asks: filter → cache (if any) → live signing.
    pub source: Arc<dyn ResponseSource>,
    /// The clock every part reads.
    pub clock: SharedClock,
    /// Worth logging, not fatal (missing ocsp-nocheck, validity outside the BR range).
    pub warnings: Vec<String>,
}

/// Options of [`build`] that do not come from the configuration.
#[derive(Clone)]
pub struct BuildOptions<'a> {
    /// Asked for a key's passphrase when the issuer has no `passin`.
    pub prompt: PassphrasePrompt<'a>,
    /// The clock.
    pub clock: SharedClock,
}

impl<'a> BuildOptions<'a> {
    /// The wall clock, and `prompt` for passphrases.
    pub fn new(prompt: PassphrasePrompt<'a>) -> BuildOptions<'a> {
        BuildOptions {
            prompt,
            clock: ocsp_status::clock::system(),
        }
    }
}

/// Open the status backend of one issuer.
pub fn open_status(
    cfg: &Config,
    issuer: &IssuerConfig,
    clock: &SharedClock,
) -> Result<Arc<dyn StatusSource>, SetupError> {
    let status = issuer.status_config()?;
    let mut opts = open_options(cfg, clock);
    if let ocsp_status::StatusConfig::Postgres(_) = status {
        let ca = first_cert(&issuer.ca)?;
        crate::setup_db::database_options(cfg, issuer, &ca, &mut opts)?;
    }
    Ok(status.open(&opts)?)
}

/// The first certificate of `path`, or an error naming the file.
pub fn first_cert(path: &Path) -> Result<Certificate, SetupError> {
    read_certs(path)?.into_iter().next().ok_or_else(|| {
        SetupError::Status(ocsp_status::config::OpenError::Database(format!(
            "{}: no certificate",
            path.display()
        )))
    })
}

fn open_options(cfg: &Config, clock: &SharedClock) -> OpenOptions {
    OpenOptions {
        default_index_check_ms: cfg.server.index_check_ms,
        clock: clock.clone(),
        ..OpenOptions::default()
    }
}

/// Open every issuer's status source and load every issuer; returns the set and the
/// loader's warnings.
pub fn load_issuers(
    cfg: &Config,
    opts: &BuildOptions<'_>,
) -> Result<(Arc<IssuerSet>, Vec<String>), SetupError> {
    let mut loader =
        IssuerLoader::with_clock(opts.prompt, opts.clock.clone()).pkcs11(cfg.pkcs11.settings());
    let mut issuers = Vec::with_capacity(cfg.issuers.len());
    for ic in &cfg.issuers {
        let status = open_status(cfg, ic, &opts.clock)?;
        issuers.push(loader.load(ic, status)?);
    }
    Ok((
        Arc::new(IssuerSet::new(issuers)?),
        loader.warnings().to_vec(),
    ))
}

/// What the configuration's profile says of `issuers` at `now`, from one preflight.
#[derive(Debug, Default)]
pub struct Compliance {
    /// What it refuses: preflight errors (responder certificate not valid, a rule the
    /// setup breaks) and, with the cache on, a refresh window the profile does not allow.
    /// Empty when it can be served.
    pub problems: Vec<String>,
    /// Worth knowing, not refused (a certificate expiring soon).
    pub warnings: Vec<String>,
}

/// Judge `issuers` under the configuration's profile at `now`.
pub fn compliance(cfg: &Config, issuers: &IssuerSet, now: Timestamp) -> Compliance {
    let mut out = Compliance::default();
    for f in preflight(issuers, cfg.profile, now) {
        match f.severity {
            Severity::Error => out.problems.push(f.to_string()),
            Severity::Warning => out.warnings.push(f.to_string()),
        }
    }
    if cfg.cache.enabled {
        for i in issuers.iter() {
            out.problems.extend(refresh_problem(cfg, i));
        }
    }
    for ic in &cfg.issuers {
        let (problems, warnings) = good_without_record(cfg, ic);
        out.problems.extend(problems);
        out.warnings.extend(warnings);
    }
    out
}

/// A status source that says `good` for serials it has no record of (a CRL without an
/// issued list) cannot tell a serial the CA never issued from a good one: only the
/// `private` profile allows it, and then it is said loudly.
fn good_without_record(cfg: &Config, ic: &IssuerConfig) -> (Option<String>, Option<String>) {
    let Ok(status) = ic.status_config() else {
        return (None, None);
    };
    if !status.good_without_record() {
        return (None, None);
    }
    let who = ic
        .name
        .clone()
        .unwrap_or_else(|| ic.ca.display().to_string());
    if cfg.profile == ocsp_proto::profile::Profile::Private {
        (
            None,
            Some(format!(
                "issuer {who}: {} has no issued-serial list: every serial not on the CRL,                  including serials the CA never issued, is answered GOOD; set issued =                  \"index.txt\" or a certificate directory (--issued) to answer unknown for them",
                status.describe()
            )),
        )
    } else {
        (
            Some(format!(
                "issuer {who}: {} has no issued-serial list, so serials the CA never issued                  would be answered good, which profile {} forbids (unassigned-never-good):                  set issued = \"index.txt\" or a certificate directory (--issued)",
                status.describe(),
                cfg.profile
            )),
            None,
        )
    }
}

/// The refresh-window rule for one issuer: answers are re-signed after
/// `refresh_fraction` of their validity, which the profile may not allow.
pub fn refresh_problem(cfg: &Config, issuer: &Issuer) -> Option<String> {
    let before = (issuer.validity_secs as f64 * (1.0 - cfg.cache.refresh_fraction)) as u64;
    cfg.profile
        .check_refresh(issuer.validity_secs, before)
        .err()
        .map(|v| {
            format!(
                "issuer {}: {v}; lower [cache] refresh_fraction (--refresh-fraction) or the validity",
                issuer.name
            )
        })
}

/// The stages in front of live signing: the filter, then the cache when `cache` gives
/// its options. Returns what the edge asks and the cache, if any.
pub fn chain(
    issuers: &Arc<IssuerSet>,
    live: Arc<LiveSource>,
    clock: SharedClock,
    cache: Option<CacheOptions>,
) -> (Arc<dyn ResponseSource>, Option<Arc<CachedSource>>) {
    let (answers, cache): (Arc<dyn ResolvedSource>, _) = match cache {
        Some(opts) => {
            let signer: Arc<dyn Sign> = live;
            let c = Arc::new(CachedSource::new(issuers.clone(), signer, clock, opts));
            (c.clone(), Some(c))
        }
        None => (live, None),
    };
    (Arc::new(Filter::new(issuers.clone(), answers)), cache)
}

/// Build everything `cfg` describes: issuers, their checks, the signing pool, live
/// signing, the cache and the filter in front of them.
pub fn build(cfg: &Config, opts: &BuildOptions<'_>) -> Result<Built, SetupError> {
    let (issuers, mut warnings) = load_issuers(cfg, opts)?;
    let problems = compliance(cfg, &issuers, opts.clock.now()).problems;
    // Said at every start, not only by check-config.
    warnings.extend(
        cfg.issuers
            .iter()
            .filter_map(|ic| good_without_record(cfg, ic).1),
    );
    if !problems.is_empty() {
        return Err(SetupError::Profile {
            profile: cfg.profile,
            problems,
        });
    }
    let pool = SigningPool::with_nice(
        cfg.signing.threads,
        cfg.signing.queue_depth,
        cfg.signing.nice,
    )
    .map_err(|e| SetupError::Signing(e.to_string()))?;
    pool.set_hand_back_batch(cfg.signing.batch);
    let live = Arc::new(
        LiveSource::new(issuers.clone(), pool.clone())
            .with_profile(cfg.profile)
            .with_clock(opts.clock.clone()),
    );
    let cache_opts = cfg.cache.enabled.then(|| cfg.cache.options());
    let (source, cache) = chain(&issuers, live.clone(), opts.clock.clone(), cache_opts);
    Ok(Built {
        issuers,
        pool,
        live,
        cache,
        source,
        clock: opts.clock.clone(),
        warnings,
    })
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

pub fn read_one_cert(path: &Path) -> Result<Certificate, IssuerError> {
    read_certs(path)?
        .into_iter()
        .next()
        .ok_or_else(|| file_err(path, "no certificate"))
}

/// The [`KeySpec`] of responder key `rkey` of issuer `cfg` (unlocked with its `passin`):
/// the one place a configured key becomes a spec, at start and when
/// [`crate::rollover`] loads a replacement or the next key (`rkey_next`).
pub fn responder_key_spec(
    cfg: &IssuerConfig,
    rkey: &Path,
    pkcs11: &Pkcs11Settings,
) -> Result<KeySpec, IssuerError> {
    KeySpec::for_rkey(rkey, cfg.passin.clone().map(Passin::new), pkcs11).map_err(|e| {
        let (path, kind) = e.into_parts();
        file_err(&path, kind.to_string())
    })
}

/// Asks for a key's passphrase when no `passin` is configured (a terminal prompt in the
/// binary; an error elsewhere).
pub type PassphrasePrompt<'a> = &'a dyn Fn(&Path) -> Result<Secret, PromptError>;

/// What makes two issuers share one [`Responder`]: the same certificate and key, the
/// same signing options and the same response contents.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ResponderSpec {
    rsigner: PathBuf,
    key: KeySpec,
    options: SignOptions,
    rsigopt: Vec<String>,
    responder_id: ResponderIdConfig,
    resp_no_certs: bool,
    rother: Vec<PathBuf>,
    /// The next pair (`rsigner_next`, `rkey_next`): issuers share a responder only if they
    /// roll over together.
    next: (Option<PathBuf>, Option<PathBuf>),
}

/// Loads issuers, sharing one [`Responder`] between issuers that name the same
/// certificate and key files.
pub struct IssuerLoader<'a> {
    prompt: PassphrasePrompt<'a>,
    responders: HashMap<ResponderSpec, Arc<ResponderSlot>>,
    clock: SharedClock,
    warnings: Vec<String>,
    pkcs11: Pkcs11Settings,
}

fn subject_cn(cert: &Certificate) -> String {
    let s = cert.tbs_certificate.subject.to_string();
    s.split(',')
        .find_map(|part| part.trim().strip_prefix("CN="))
        .map(str::to_string)
        .unwrap_or(s)
}

pub(crate) fn sign_options(cfg: &IssuerConfig) -> Result<SignOptions, IssuerError> {
    let mut opts = SignOptions::default();
    if let Some(md) = &cfg.rmd {
        opts.digest = match HashAlg::from_name(md) {
            Some(HashAlg::Sha1) | None => {
                return Err(IssuerError::Invalid(format!(
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
                return Err(IssuerError::Invalid(format!(
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
        IssuerLoader::with_clock(prompt, ocsp_status::clock::system())
    }

    /// A loader that checks certificate validity against `clock`.
    pub fn with_clock(prompt: PassphrasePrompt<'a>, clock: SharedClock) -> IssuerLoader<'a> {
        IssuerLoader {
            prompt,
            clock,
            responders: HashMap::new(),
            warnings: Vec::new(),
            pkcs11: Pkcs11Settings::default(),
        }
    }

    /// Reach keys given as `pkcs11:` URIs with `settings` (`[pkcs11]`).
    pub fn pkcs11(mut self, settings: Pkcs11Settings) -> IssuerLoader<'a> {
        self.pkcs11 = settings;
        self
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
        let key = ResponderSpec {
            rsigner: rsigner_path.clone(),
            key: responder_key_spec(cfg, &rkey_path, &self.pkcs11)?,
            options: opts,
            rsigopt: cfg.rsigopt.clone(),
            responder_id: cfg.responder_id,
            resp_no_certs: cfg.resp_no_certs,
            rother: cfg.rother.clone(),
            next: (cfg.rsigner_next.clone(), cfg.rkey_next.clone()),
        };
        let responder = match self.responders.get(&key) {
            Some(r) => r.clone(),
            None => {
                let r = ResponderSlot::new(Arc::new(self.load_responder(
                    cfg,
                    &ca,
                    &rsigner_path,
                    &rkey_path,
                    &key.key,
                    opts,
                )?));
                self.responders.insert(key, r.clone());
                r
            }
        };
        let current = responder.current();
        if current.delegated {
            // A shared responder must also be entitled to answer for this CA.
            sigalg::cert_issued_by(&current.cert, &ca).map_err(|_| {
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
            return Err(IssuerError::Invalid(format!(
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

    /// Load and check one responder (certificate, key, delegation) for `cfg`'s CA `ca`:
    /// at start, and again by [`crate::rollover`] when its files change.
    pub(crate) fn load_responder(
        &mut self,
        cfg: &IssuerConfig,
        ca: &Certificate,
        rsigner_path: &Path,
        _rkey_path: &Path,
        spec: &KeySpec,
        opts: SignOptions,
    ) -> Result<Responder, IssuerError> {
        let rcert = read_one_cert(rsigner_path)?;
        let delegated = rcert != *ca;
        // The key, loaded in one place (ocsp-signer).
        let prompt = self.prompt;
        let signer = ocsp_signer::load(spec, opts, &mut |p| prompt(p)).map_err(|e| {
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
                Path::new(&spec.name()),
                format!(
                    "this key does not match the certificate {}: give the key the certificate was issued for (--rkey), or the certificate of this key (--rsigner)",
                    rsigner_path.display()
                ),
            ));
        }
        let now = self.clock.now();
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
