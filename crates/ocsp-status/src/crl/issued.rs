//! The issued-serial list: what lets a CRL-fed responder say `unknown` for a serial the
//! CA never issued instead of `good`.
//!
//! A CRL lists revoked serials only, so "not on the CRL" means "good" only for a serial
//! the CA actually issued. [`IssuedList`] answers "did the CA issue this serial":
//!
//! | arm | configured as | a serial is issued when |
//! |---|---|---|
//! | [`IssuedList::Source`] | `issued = "index.txt"` (a file), or any `[…issued] type = …` status table | the backend holds a record of it (any status: the CRL decides revocation) |
//! | [`IssuedList::Directory`] | `issued = "/path/to/certs/"` (a directory) | a certificate file in the directory (PEM, several per file allowed, or DER) names the CA as issuer and carries that serial |
//!
//! Every status backend is an issued list through the `Source` arm, so a database
//! backend needs no code here. A directory is scanned at start and again on every CRL
//! refresh (`refresh_secs`, SIGHUP); files that do not hold certificates are skipped
//! and counted, certificates of other issuers ignored.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;
use der::{Decode, Encode};
use ocsp_proto::{Serial, Timestamp};
use x509_cert::Certificate;

use crate::{StatusError, StatusSource};

/// Where the serials a CA issued are listed.
pub enum IssuedList {
    /// A status backend (index.txt today): issued when it has a record.
    Source(Arc<dyn StatusSource>),
    /// A directory of certificates.
    Directory(CertDirectory),
}

impl std::fmt::Debug for IssuedList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl IssuedList {
    /// Whether the CA issued `serial`.
    pub async fn contains(&self, serial: &Serial) -> Result<bool, StatusError> {
        match self {
            IssuedList::Source(s) => Ok(s.status(serial).await?.status.is_some()),
            IssuedList::Directory(d) => Ok(d.contains(serial)),
        }
    }

    /// The list's generation (changes whenever the list may have changed).
    pub async fn generation(&self) -> Result<u64, StatusError> {
        match self {
            IssuedList::Source(s) => s.generation().await,
            IssuedList::Directory(d) => Ok(d.generation()),
        }
    }

    /// Re-read the list now (a directory is rescanned; a backend reloads).
    pub async fn refresh(&self) -> Result<(), StatusError> {
        match self {
            IssuedList::Source(s) => s.generation().await.map(|_| ()),
            IssuedList::Directory(d) => {
                let d = d.clone();
                tokio::task::spawn_blocking(move || d.rescan())
                    .await
                    .map_err(|e| StatusError::Internal(e.to_string()))?
                    .map_err(StatusError::Unavailable)
            }
        }
    }

    /// Every issued serial with its notAfter when known, in serial order.
    pub async fn for_each(
        &self,
        visit: &mut (dyn FnMut(Serial, Option<Timestamp>) + Send),
    ) -> Result<(), StatusError> {
        match self {
            IssuedList::Source(s) => {
                s.entries(&mut |e| visit(e.serial, e.expires)).await?;
                Ok(())
            }
            IssuedList::Directory(d) => {
                for (serial, expires) in d.state.load().serials.iter() {
                    visit(serial.clone(), Some(*expires));
                }
                Ok(())
            }
        }
    }

    /// A short description for logs.
    pub fn describe(&self) -> String {
        match self {
            IssuedList::Source(s) => s.describe(),
            IssuedList::Directory(d) => format!(
                "certificate directory {} ({} certificates)",
                d.inner.path.display(),
                d.state.load().serials.len()
            ),
        }
    }
}

/// A directory of issued certificates, rescanned on demand.
#[derive(Clone)]
pub struct CertDirectory {
    inner: Arc<DirInner>,
    state: Arc<ArcSwap<DirState>>,
}

struct DirInner {
    path: PathBuf,
    ca_subject: Vec<u8>,
    generation: AtomicU64,
}

#[derive(Default, PartialEq, Eq)]
struct DirState {
    /// Sorted by (length, octets): numeric order.
    serials: Vec<(Serial, Timestamp)>,
}

impl CertDirectory {
    /// Scan `path` for certificates issued by `ca`.
    pub fn open(path: &Path, ca: &Certificate) -> Result<CertDirectory, String> {
        let ca_subject = ca
            .tbs_certificate
            .subject
            .to_der()
            .map_err(|e| format!("the CA subject does not encode: {e}"))?;
        let d = CertDirectory {
            inner: Arc::new(DirInner {
                path: path.to_path_buf(),
                ca_subject,
                generation: AtomicU64::new(1),
            }),
            state: Arc::new(ArcSwap::from_pointee(DirState::default())),
        };
        d.rescan()?;
        Ok(d)
    }

    /// Whether a certificate with `serial` is in the directory.
    pub fn contains(&self, serial: &Serial) -> bool {
        let st = self.state.load();
        st.serials
            .binary_search_by(|(s, _)| numeric(s, serial))
            .is_ok()
    }

    /// The generation of the scanned contents.
    pub fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::Acquire)
    }

    /// Scan the directory again; the generation changes when the serials do.
    pub fn rescan(&self) -> Result<(), String> {
        let dir = &self.inner.path;
        let rd = std::fs::read_dir(dir).map_err(|e| {
            format!(
                "{}: {e}: give a directory of the CA's certificates",
                dir.display()
            )
        })?;
        let mut serials = Vec::new();
        for ent in rd.flatten() {
            let p = ent.path();
            if !p.is_file() {
                continue;
            }
            let Ok(bytes) = std::fs::read(&p) else {
                continue;
            };
            for cert in certificates(&bytes) {
                let Ok(issuer) = cert.tbs_certificate.issuer.to_der() else {
                    continue;
                };
                if issuer == self.inner.ca_subject {
                    serials.push((
                        Serial::of_cert(&cert),
                        Timestamp::from_x509(&cert.tbs_certificate.validity.not_after),
                    ));
                }
            }
        }
        serials.sort_by(|a, b| numeric(&a.0, &b.0));
        serials.dedup_by(|a, b| a.0 == b.0);
        let new = DirState { serials };
        if **self.state.load() != new {
            self.state.store(Arc::new(new));
            self.inner.generation.fetch_add(1, Ordering::AcqRel);
        }
        Ok(())
    }
}

fn numeric(a: &Serial, b: &Serial) -> std::cmp::Ordering {
    a.as_bytes()
        .len()
        .cmp(&b.as_bytes().len())
        .then_with(|| a.as_bytes().cmp(b.as_bytes()))
}

/// The certificates of one file: PEM blocks `CERTIFICATE`, or one DER certificate.
pub(crate) fn certificates(bytes: &[u8]) -> Vec<Certificate> {
    if bytes.first() == Some(&0x30) {
        return Certificate::from_der(bytes).into_iter().collect();
    }
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut rest = text;
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    while let Some(start) = rest.find(BEGIN) {
        let block = &rest[start..];
        let Some(end) = block.find("-----END CERTIFICATE-----") else {
            break;
        };
        let end = end + "-----END CERTIFICATE-----".len();
        if let Ok((_, der)) = der::pem::decode_vec(&block.as_bytes()[..end]) {
            if let Ok(c) = Certificate::from_der(&der) {
                out.push(c);
            }
        }
        rest = &block[end..];
    }
    out
}
