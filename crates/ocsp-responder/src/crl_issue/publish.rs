//! Publishing CRLs from `serve`: `[[crl]]` tables, each one issuer's CRL served at a
//! path of the OCSP listeners and kept current.
//!
//! ```toml
//! [[crl]]
//! issuer = "Example CA"            # an [[issuer]]'s name (or its ca path)
//! key = "private/cakey.pem"        # the CA's key, never the OCSP responder's
//! passin = "file:/etc/ocsp/ca.pass"
//! path = "/crl/example.crl"        # where serve publishes it
//! hours = 168                      # validity (default 7 days; BR: at most 10 days)
//! # number_file = "crlnumber"      # share openssl ca's counter (optional)
//! # idp_uris = ["http://crl.example.com/example.crl"], only_user_certs = true
//! ```
//!
//! # When a CRL is made
//!
//! - at start, then again once half its validity has passed (so one is always
//!   published well before nextUpdate);
//! - after the issuer's status changes ([`StatusSource::changes`], or a new
//!   [`StatusSource::generation`] seen by a poll every 30 s for sources without change
//!   notifications), one second after the change so that bursts give one CRL;
//! - after a failure, every 30 s (the last CRL stays published; the failure is logged).
//!
//! # The same bytes on every node
//!
//! thisUpdate is the current time rounded down to the minute and the CRL number is
//! thisUpdate in seconds since 1970 (as Let's Encrypt numbers its CRLs by time): nodes
//! that see the same statuses in the same minute build the same CRL content, and the
//! number keeps increasing across restarts and nodes without shared state. With a
//! `number_file`, the number is also at least the file's and the file is advanced
//! (`openssl ca`'s format, shared with `ocsp crl`). Identical *bytes* also need a
//! deterministic signature (RSA PKCS#1 v1.5 or Ed25519 keys: ECDSA signatures are
//! randomised) and nodes regenerating in the same minute; otherwise publish from one
//! node, or put a shared cache in front. Two CRLs made within one minute on one node
//! get consecutive numbers.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use bytes::Bytes;
use ocsp_proto::crl::CrlNumber;
use ocsp_proto::profile::Profile;
use ocsp_proto::signer::Signer;
use ocsp_proto::Timestamp;
use ocsp_signer::{KeySpec, Passin, SignOptions};
use ocsp_status::SharedClock;
use serde::Deserialize;

use super::{check_ca_key, issue, max_validity_secs, number, IssueParams};
use crate::http::published::{Published, PublishedFile};
use crate::issuer::{Issuer, IssuerSet};

/// Default `hours`: 7 days.
pub const DEFAULT_HOURS: u64 = 168;
/// How long after a failure the next attempt comes, and how often sources without
/// change notifications are polled.
const RETRY: Duration = Duration::from_secs(30);

/// `[[crl]]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishConfig {
    /// The `[[issuer]]` (its name or its `ca` path) whose statuses the CRL lists.
    pub issuer: String,
    /// The CA's private key.
    pub key: PathBuf,
    /// Where the key's passphrase is (`pass:`, `env:`, `file:`, `fd:`, `stdin`).
    #[serde(default)]
    pub passin: Option<String>,
    /// The URL path `serve` publishes the CRL at (`/crl/ca.crl`).
    pub path: String,
    /// Validity (nextUpdate − thisUpdate) in hours.
    #[serde(default)]
    pub hours: Option<u64>,
    /// An `openssl ca` crlnumber file to keep in step.
    #[serde(default)]
    pub number_file: Option<PathBuf>,
    /// A partitioned CRL's distribution point URIs.
    #[serde(default)]
    pub idp_uris: Vec<String>,
    /// With `idp_uris`: onlyContainsUserCerts.
    #[serde(default)]
    pub only_user_certs: bool,
    /// With `idp_uris`: onlyContainsCACerts.
    #[serde(default)]
    pub only_ca_certs: bool,
    /// The CRL lists CA certificates (the BR's 12-month limit instead of 10 days).
    #[serde(default)]
    pub ca_certs: bool,
}

impl PublishConfig {
    /// Resolve relative paths against `base`.
    pub fn resolve_paths(&mut self, base: &std::path::Path) {
        for p in [Some(&mut self.key), self.number_file.as_mut()]
            .into_iter()
            .flatten()
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
    }
}

/// The published CRLs, by path.
pub struct CrlPublisher {
    slots: Vec<Arc<Slot>>,
}

struct Slot {
    path: String,
    current: ArcSwapOption<PublishedFile>,
}

impl Published for CrlPublisher {
    fn file(&self, path: &str) -> Option<Option<PublishedFile>> {
        let slot = self.slots.iter().find(|s| s.path == path)?;
        Some(slot.current.load_full().map(|f| (*f).clone()))
    }
}

/// Load every `[[crl]]`'s key and start keeping its CRL current (on the running tokio
/// runtime). Fails, naming the table, when an issuer is unknown, a key does not load or
/// is not the CA's, or a validity breaks the profile.
pub fn start(
    tables: &[PublishConfig],
    issuers: &IssuerSet,
    profile: Profile,
    clock: SharedClock,
    prompt: ocsp_signer::Prompt<'_>,
) -> Result<Arc<CrlPublisher>, String> {
    let mut slots = Vec::new();
    let mut jobs = Vec::new();
    for t in tables {
        let what = format!("[[crl]] {}", t.path);
        if !t.path.starts_with('/') || slots.iter().any(|s: &Arc<Slot>| s.path == t.path) {
            return Err(format!("{what}: path must start with / and be unique"));
        }
        let issuer = issuers
            .iter()
            .find(|i| i.name == t.issuer)
            .cloned()
            .ok_or_else(|| format!("{what}: no [[issuer]] named {:?}", t.issuer))?;
        let spec = KeySpec::file(&t.key, t.passin.clone().map(Passin::new));
        let signer = ocsp_signer::load(&spec, SignOptions::default(), &mut *prompt)
            .map_err(|e| format!("{what}: {e}"))?;
        check_ca_key(&issuer.cert, signer.as_ref()).map_err(|e| format!("{what}: {e}"))?;
        let max = max_validity_secs(profile, t.ca_certs);
        let validity = t.hours.unwrap_or(DEFAULT_HOURS).saturating_mul(3_600);
        if validity == 0 || validity > max {
            return Err(format!(
                "{what}: hours = {} is outside 1 ..= {} under profile {profile}",
                validity / 3_600,
                max / 3_600
            ));
        }
        let slot = Arc::new(Slot {
            path: t.path.clone(),
            current: ArcSwapOption::empty(),
        });
        slots.push(slot.clone());
        jobs.push(Job {
            table: t.clone(),
            issuer,
            signer,
            slot,
            validity,
            max,
            clock: clock.clone(),
            last: None,
        });
    }
    for job in jobs {
        tokio::spawn(job.run());
    }
    Ok(Arc::new(CrlPublisher { slots }))
}

struct Job {
    table: PublishConfig,
    issuer: Arc<Issuer>,
    signer: Arc<dyn Signer>,
    slot: Arc<Slot>,
    validity: u64,
    max: u64,
    clock: SharedClock,
    last: Option<CrlNumber>,
}

impl Job {
    async fn run(mut self) {
        let mut changes = self.issuer.status.changes();
        loop {
            let wait = match self.once().await {
                Ok((generation, this_update)) => {
                    let half = this_update.plus(self.validity / 2);
                    let until = half.0.saturating_sub(self.clock.now().0).max(1);
                    tracing::info!(
                        path = %self.table.path,
                        issuer = %self.issuer.name,
                        generation,
                        "CRL published"
                    );
                    self.wait_for_change(&mut changes, generation, Duration::from_secs(until))
                        .await;
                    continue;
                }
                Err(e) => {
                    tracing::error!(
                        path = %self.table.path,
                        issuer = %self.issuer.name,
                        "CRL not issued, the last one stays published: {e}"
                    );
                    RETRY
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// Wait until `deadline` passes or the status changes from `generation`.
    async fn wait_for_change(
        &self,
        changes: &mut Option<ocsp_status::Changes>,
        generation: u64,
        deadline: Duration,
    ) {
        let sleep = tokio::time::sleep(deadline);
        tokio::pin!(sleep);
        loop {
            let changed = async {
                match changes {
                    Some(rx) => {
                        // A lagged receiver or a closed channel also means "look again".
                        let _ = rx.recv().await;
                    }
                    None => tokio::time::sleep(RETRY).await,
                }
            };
            tokio::select! {
                _ = &mut sleep => return,
                _ = changed => {
                    if self.issuer.status.generation().await.is_ok_and(|g| g != generation) {
                        // Let a burst of changes settle into one CRL.
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        return;
                    }
                }
            }
        }
    }

    async fn once(&mut self) -> Result<(u64, Timestamp), String> {
        let now = self.clock.now();
        let this_update = Timestamp(now.0 - now.0 % 60);
        let mut n = CrlNumber::from_u128(u128::from(this_update.0));
        if let Some(f) = &self.table.number_file {
            if let Some(file_n) = number::read(f)? {
                n = n.max(file_n);
            }
        }
        if let Some(last) = self.last {
            if n <= last {
                n = last.next().ok_or("the CRL number cannot be increased")?;
            }
        }
        let params = IssueParams {
            number: n,
            this_update,
            validity_secs: self.validity,
            max_validity_secs: self.max,
            idp_uris: self.table.idp_uris.clone(),
            only_user_certs: self.table.only_user_certs,
            only_ca_certs: self.table.only_ca_certs,
        };
        let issued = issue(
            self.issuer.status.as_ref(),
            &self.issuer.cert,
            self.signer.as_ref(),
            &params,
        )
        .await
        .map_err(|e| e.to_string())?;
        if let Some(f) = &self.table.number_file {
            number::commit(f, n)?;
        }
        self.last = Some(n);
        let etag = hex::encode(&ocsp_proto::HashAlg::Sha256.digest(&issued.der)[..16]);
        self.slot.current.store(Some(Arc::new(PublishedFile {
            body: Bytes::from(issued.der),
            content_type: "application/pkix-crl",
            etag,
            this_update: issued.this_update,
            next_update: issued.next_update,
        })));
        Ok((issued.generation, this_update))
    }
}
