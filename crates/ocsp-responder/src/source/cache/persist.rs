//! The response store on disk (written by `ocsp presign`, read by `serve --store`):
//! save every live entry; load with every record checked against the current setup.
//!
//! A record is loaded only if it is a successful, single-answer, nonce-free response for
//! a served issuer, signed by that issuer's responder with the same algorithm, ResponderID
//! and certificate list, with a valid signature, not past its nextUpdate, and stating what
//! the status source says now. Anything else is skipped and counted in [`LoadReport`]; a
//! store can never make the responder say something its source does not.

use super::map::Key;
use super::{CachedSource, Inner};
use crate::issuer::Issuer;
use crate::source::store::{self, StoreError};
use crate::source::Answer;
use ocsp_proto::request::RequestItem;
use ocsp_proto::response::{parse as parse_response, ParsedResponse};
use ocsp_proto::verify::{answer_status, responder_id_matches};
use ocsp_proto::{CertStatus, HashAlg, Serial, Timestamp};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// What loading a response store did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LoadReport {
    /// Records in the file.
    pub records: usize,
    /// Entries loaded.
    pub loaded: usize,
    /// Past their nextUpdate.
    pub expired: usize,
    /// Their status differs from the current one.
    pub stale: usize,
    /// For a CA not served now, or signed by another responder key or setup.
    pub foreign: usize,
    /// Not a single-answer, nonce-free successful response, or a bad signature.
    pub invalid: usize,
    /// Loaded but evicted again because the cache is smaller than the store
    /// (`max_entries`, `max_bytes`).
    pub evicted: usize,
}

impl CachedSource {
    /// Write every live entry to a response store at `path` (atomically). Returns the
    /// number of records written.
    pub fn save_store(&self, path: &Path) -> Result<usize, StoreError> {
        let now = self.inner.clock.now();
        let answers = self.inner.map.live_answers(now);
        store::write(path, answers.iter().map(|a| a.der.as_ref()))
    }

    /// Load a response store: every record is checked against the current setup (a
    /// served issuer, the same responder key, certificate list and algorithm, a valid
    /// signature), its validity (not past nextUpdate) and the current status of its
    /// serial (unchanged); records that fail a check are skipped and counted.
    pub async fn load_store(&self, path: &Path) -> Result<LoadReport, StoreError> {
        let bytes = store::read(path)?;
        let records = store::parse(&bytes, path)?;
        let inner = &self.inner;
        let now = inner.clock.now();
        let mut report = LoadReport {
            records: records.len(),
            ..LoadReport::default()
        };
        let evictions_before = inner.stats.evictions();
        // Parse and verify in parallel (CPU only), then check statuses.
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let chunk = records.len().div_ceil(threads).max(1);
        let checked: Vec<Checked> = std::thread::scope(|s| {
            let handles: Vec<_> = records
                .chunks(chunk)
                .map(|part| {
                    s.spawn(|| {
                        part.iter()
                            .map(|r| inner.check_record(r, now))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        });
        // One generation per issuer, read before any lookup: an entry can only look
        // older than it is.
        let mut generations = Vec::with_capacity(inner.issuers.len());
        for issuer in inner.issuers.iter() {
            generations.push(
                issuer
                    .status
                    .generation()
                    .await
                    .map_err(|e| StoreError::Format {
                        path: path.display().to_string(),
                        reason: format!("status source of {}: {e}", issuer.name),
                    })?,
            );
        }
        for c in checked {
            let Good {
                item,
                issuer,
                stated,
                answer,
            } = match c {
                Checked::Ok(good) => *good,
                Checked::Expired => {
                    report.expired += 1;
                    continue;
                }
                Checked::Foreign => {
                    report.foreign += 1;
                    continue;
                }
                Checked::Invalid => {
                    report.invalid += 1;
                    continue;
                }
            };
            let Some(id) = inner.issuers.id_of(&issuer) else {
                report.foreign += 1;
                continue;
            };
            let Some(key) = Key::of(id, &item) else {
                report.invalid += 1;
                continue;
            };
            let generation = generations[id.index()];
            let lookup =
                issuer
                    .status
                    .status(&item.serial)
                    .await
                    .map_err(|e| StoreError::Format {
                        path: path.display().to_string(),
                        reason: format!("status source of {}: {e}", issuer.name),
                    })?;
            if issuer.stated_status(lookup.status.as_ref()).0 != stated {
                report.stale += 1;
                continue;
            }
            inner.insert_answer(key, Arc::new(answer), lookup.status, generation);
            report.loaded += 1;
        }
        report.evicted = (inner.stats.evictions() - evictions_before) as usize;
        inner
            .stats
            .loaded
            .fetch_add(report.loaded as u64, Ordering::Relaxed);
        Ok(report)
    }
}

struct Good {
    item: RequestItem,
    issuer: Arc<Issuer>,
    stated: CertStatus,
    answer: Answer,
}

enum Checked {
    Ok(Box<Good>),
    Expired,
    Foreign,
    Invalid,
}

impl Inner {
    /// Parse and verify one store record (no I/O).
    fn check_record(&self, der: &[u8], now: Timestamp) -> Checked {
        let Ok(ParsedResponse::Basic { basic, tbs_der }) = parse_response(der) else {
            return Checked::Invalid;
        };
        let tbs = &basic.tbs_response_data;
        let [single] = tbs.responses.as_slice() else {
            return Checked::Invalid;
        };
        let has_nonce = tbs
            .response_extensions
            .iter()
            .flatten()
            .any(|e| e.extn_id == const_oid::db::rfc6960::ID_PKIX_OCSP_NONCE);
        if has_nonce {
            return Checked::Invalid;
        }
        let Some(next) = single.next_update.as_ref().map(Timestamp::from_ocsp) else {
            return Checked::Invalid;
        };
        if next <= now {
            return Checked::Expired;
        }
        let this = Timestamp::from_ocsp(&single.this_update);
        let produced = Timestamp::from_ocsp(&tbs.produced_at);
        let item = RequestItem {
            alg: HashAlg::from_oid(&single.cert_id.hash_algorithm.oid),
            serial: Serial::of_cert_id(&single.cert_id),
            cert_id: single.cert_id.clone(),
        };
        let Some(issuer) = self
            .issuers
            .find(&item)
            .and_then(|id| self.issuers.get(id))
            .cloned()
        else {
            return Checked::Foreign;
        };
        let stamped = issuer.responder.stamped();
        let responder = &stamped.responder;
        if basic.signature_algorithm != responder.signer.algorithm()
            || !responder_id_matches(&tbs.responder_id, &responder.cert)
            || basic.certs.as_deref().unwrap_or(&[]) != responder.certs.as_slice()
        {
            return Checked::Foreign;
        }
        if ocsp_proto::sigalg::verify(
            &basic.signature_algorithm,
            &responder.cert.tbs_certificate.subject_public_key_info,
            &tbs_der,
            basic.signature.raw_bytes(),
        )
        .is_err()
        {
            return Checked::Invalid;
        }
        let stated = answer_status(single);
        let mut answer = Answer::new(der.to_vec(), this, next, produced, vec![stated.name()]);
        // Verified against the responder in force: as good as signed by it.
        answer.signed_by = stamped.epoch;
        Checked::Ok(Box::new(Good {
            item,
            issuer,
            stated,
            answer,
        }))
    }
}
