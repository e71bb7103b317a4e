//! One served CA: its certificate and hashes, its responder (signer, certificate,
//! ResponderID), its status source and its policy. Everything here is checked once, at
//! load, so the request path only compares and signs.

use arc_swap::ArcSwap;
use ocsp_proto::request::RequestItem;
use ocsp_proto::response::ResponderIdKind;
use ocsp_proto::signer::Signer;
use ocsp_proto::{CertStatus, IssuerIdentity, Revocation, RevocationReason, Timestamp};
use ocsp_status::StatusSource;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
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
    /// A problem not tied to one file (a setting, two issuers for one CA).
    #[error("{0}")]
    Invalid(String),
}

/// The answer for a serial the status source holds no record of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum UnknownSerial {
    /// `unknown` (RFC 6960 §2.2), as openssl answers.
    #[default]
    Unknown,
    /// `revoked`, certificateHold, 1970-01-01, with the extended-revoke extension
    /// (RFC 6960 §2.2, §4.4.8): for CAs that know every serial they issued.
    Revoked,
}

impl UnknownSerial {
    /// The status stated for a serial without a record, and whether it needs the
    /// extended-revoke extension.
    pub fn stated(self) -> (CertStatus, bool) {
        match self {
            UnknownSerial::Unknown => (CertStatus::Unknown, false),
            UnknownSerial::Revoked => (
                CertStatus::Revoked(Revocation {
                    time: Timestamp::EPOCH,
                    reason: Some(RevocationReason::CertificateHold),
                    invalidity_date: None,
                    hold_instruction: None,
                }),
                true,
            ),
        }
    }
}

/// How the responder names itself in responses (`responder_id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ResponderIdConfig {
    /// byKey: SHA-1 of the signer's public key (RFC 9919's default).
    #[default]
    Key,
    /// byName: the signer certificate's subject.
    Name,
}

pub(crate) fn file_err(path: &Path, reason: impl Into<String>) -> IssuerError {
    IssuerError::File {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
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

/// An issuer's [`Responder`], replaceable while serving (certificate and key rollover,
/// see [`crate::rollover`]).
///
/// A reader takes the responder in force with [`ResponderSlot::current`] (one atomic
/// load, no lock) and keeps it for the whole of one signature, so a response is always
/// built and signed by one certificate and key. [`ResponderSlot::replace`] puts a new
/// responder in force for every later reader; signatures already under way finish with
/// the old one. Every responder put in a slot gets an *epoch*, unique in the process
/// and never 0, that answers carry ([`crate::source::Answer::signed_by`]) so the cache
/// can tell answers signed by a responder no longer in force.
///
/// Issuers that share a responder (same certificate and key files) share one slot, so a
/// replacement reaches all of them at once.
pub struct ResponderSlot {
    current: ArcSwap<Stamped>,
    epoch: AtomicU64,
}

/// A responder and the epoch it was put in force with.
#[derive(Debug)]
pub struct Stamped {
    /// Unique in the process, never 0.
    pub epoch: u64,
    /// The responder.
    pub responder: Arc<Responder>,
}

/// The next epoch: 1, 2, … over the whole process.
fn next_epoch() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl ResponderSlot {
    /// A slot holding `responder`.
    pub fn new(responder: Arc<Responder>) -> Arc<ResponderSlot> {
        let epoch = next_epoch();
        Arc::new(ResponderSlot {
            current: ArcSwap::from_pointee(Stamped { epoch, responder }),
            epoch: AtomicU64::new(epoch),
        })
    }

    /// The responder in force.
    pub fn current(&self) -> Arc<Responder> {
        self.current.load().responder.clone()
    }

    /// The responder in force with its epoch, read together.
    pub fn stamped(&self) -> Arc<Stamped> {
        self.current.load_full()
    }

    /// The epoch of the responder in force (one relaxed atomic load: for the cache's hit
    /// path; may lag [`ResponderSlot::replace`] by an instant, which costs at most one
    /// extra re-sign).
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Put `responder` in force; returns its epoch.
    pub fn replace(&self, responder: Arc<Responder>) -> u64 {
        let epoch = next_epoch();
        self.current.store(Arc::new(Stamped { epoch, responder }));
        self.epoch.store(epoch, Ordering::Release);
        epoch
    }
}

impl std::fmt::Debug for ResponderSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.stamped();
        f.debug_struct("ResponderSlot")
            .field("epoch", &s.epoch)
            .field("responder", &s.responder)
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
    /// Who signs its answers (replaceable while serving; shared by the issuers that
    /// name the same certificate and key).
    pub responder: Arc<ResponderSlot>,
    /// Where its statuses come from.
    pub status: Arc<dyn StatusSource>,
    /// nextUpdate − thisUpdate.
    pub validity_secs: u64,
    /// The answer for serials the source holds no record of.
    pub unknown_serial: UnknownSerial,
}

impl Issuer {
    /// The status an answer states for `record` under this issuer's policy, and whether
    /// it needs the extended-revoke extension.
    pub fn stated_status(&self, record: Option<&CertStatus>) -> (CertStatus, bool) {
        match record {
            Some(s) => (s.clone(), false),
            None => self.unknown_serial.stated(),
        }
    }
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

/// An issuer's place in its [`IssuerSet`]: found once per request by the filter stage,
/// then used by the cache (its key) and live signing (the issuer itself) without a
/// second search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IssuerId(u16);

impl IssuerId {
    /// The position in the set.
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

/// The most issuers one responder serves (an [`IssuerId`] is 16 bits).
pub const MAX_ISSUERS: usize = u16::MAX as usize;

/// The served CAs, found by CertID.
#[derive(Debug, Default)]
pub struct IssuerSet {
    issuers: Vec<Arc<Issuer>>,
}

impl IssuerSet {
    /// A set of issuers; two with the same name and key hashes are refused.
    pub fn new(issuers: Vec<Issuer>) -> Result<IssuerSet, IssuerError> {
        if issuers.len() > MAX_ISSUERS {
            return Err(IssuerError::Invalid(format!(
                "{} issuers configured: one responder serves at most {MAX_ISSUERS}; split them over several",
                issuers.len()
            )));
        }
        let issuers: Vec<Arc<Issuer>> = issuers.into_iter().map(Arc::new).collect();
        for (i, a) in issuers.iter().enumerate() {
            if issuers[..i].iter().any(|b| b.identity == a.identity) {
                return Err(IssuerError::Invalid(format!(
                    "the CA {} is configured twice: give each [[issuer]] a different CA",
                    a.cert.tbs_certificate.subject
                )));
            }
        }
        Ok(IssuerSet { issuers })
    }

    /// The issuer a CertID names, if served.
    pub fn find(&self, item: &RequestItem) -> Option<IssuerId> {
        let alg = item.alg?;
        self.issuers
            .iter()
            .position(|i| i.identity.matches(alg, item.name_hash(), item.key_hash()))
            .and_then(|i| u16::try_from(i).ok())
            .map(IssuerId)
    }

    /// The issuer `id` names.
    pub fn get(&self, id: IssuerId) -> Option<&Arc<Issuer>> {
        self.issuers.get(id.index())
    }

    /// The id of `issuer`, if it is one of this set's (the same object, not an equal one).
    pub fn id_of(&self, issuer: &Arc<Issuer>) -> Option<IssuerId> {
        self.issuers
            .iter()
            .position(|i| Arc::ptr_eq(i, issuer))
            .and_then(|i| u16::try_from(i).ok())
            .map(IssuerId)
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
