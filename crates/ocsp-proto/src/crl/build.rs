//! Building and signing a CRL (RFC 5280 §5, CA/Browser Forum BR §7.2).
//!
//! The profile is fixed: version 2; the issuer Name exactly as given (the CA certificate's
//! subject octets, which BR §7.2.2 requires byte for byte); thisUpdate and nextUpdate both
//! present, nextUpdate after thisUpdate and at most `max_validity_secs` later (the caller's
//! profile: 10 days for a subscriber CA under the BR, 12 months for a root's CRL of CA
//! certificates); revokedCertificates omitted when empty; the CRL extensions
//! authorityKeyIdentifier (keyIdentifier only, non-critical) and cRLNumber (non-critical),
//! then for a delta CRL deltaCRLIndicator (critical) and for a partitioned CRL
//! issuingDistributionPoint (critical, `fullName` URIs and at most one of the only-user /
//! only-CA flags; never indirectCRL or onlyContainsAttributeCerts; encoded here by hand).
//!
//! Entries come one at a time ([`CrlWriter::push`], or [`build`] over an iterator) and are
//! written in the order given; each carries its serial (a positive DER INTEGER's content
//! octets), revocationDate, and as entry extensions the reasonCode — omitted for
//! `unspecified` (BR §7.2.2) and `removeFromCRL` refused outside delta CRLs —, the
//! invalidityDate and the holdInstructionCode. Times are UTCTime through 2049 and
//! GeneralizedTime after (§5.1.2.4); invalidityDate is always GeneralizedTime.
//!
//! Output is deterministic DER for a deterministic signer: the same parameters and
//! entries give the same octets. The TBS octets are signed as built and placed in the
//! CertificateList without re-encoding.

use der::Encode;
use x509_cert::Certificate;

use super::number::CrlNumber;
use super::parse::Entry;
use super::tlv;
use crate::signer::{SignError, Signer};
use crate::time::TimeOutOfRange;
use crate::{RevocationReason, Timestamp};

/// The scope of a partitioned CRL: its issuingDistributionPoint.
#[derive(Clone, Debug, Default)]
pub struct IdpParams<'a> {
    /// The distributionPoint `fullName` URIs, byte-identical to the certificates'
    /// cRLDistributionPoints (at least one).
    pub full_name_uris: &'a [&'a str],
    /// onlyContainsUserCerts.
    pub only_user_certs: bool,
    /// onlyContainsCACerts.
    pub only_ca_certs: bool,
}

/// What a CRL says besides its entries.
#[derive(Clone, Debug)]
pub struct CrlParams<'a> {
    /// The DER of the issuer Name (the CA certificate's subject).
    pub issuer: &'a [u8],
    /// The authorityKeyIdentifier keyIdentifier (see [`authority_key_id`]).
    pub authority_key_id: &'a [u8],
    /// cRLNumber; the caller keeps it strictly increasing.
    pub crl_number: CrlNumber,
    /// thisUpdate.
    pub this_update: Timestamp,
    /// nextUpdate.
    pub next_update: Timestamp,
    /// The longest nextUpdate − thisUpdate the profile allows, in seconds.
    pub max_validity_secs: u64,
    /// `Some(base)` builds a delta CRL with deltaCRLIndicator `base`.
    pub delta_base: Option<CrlNumber>,
    /// `Some` builds a partitioned CRL with this issuingDistributionPoint.
    pub idp: Option<IdpParams<'a>>,
}

/// Why a CRL was not built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The parameters break the profile.
    #[error("CRL parameters: {0}")]
    Params(String),
    /// An entry that cannot be written.
    #[error("CRL entry {index}: {what}")]
    Entry {
        /// Its position in the input.
        index: usize,
        /// What is wrong.
        what: String,
    },
    /// A time past year 9999.
    #[error(transparent)]
    Time(#[from] TimeOutOfRange),
    /// The signer failed.
    #[error(transparent)]
    Sign(#[from] SignError),
    /// The signature AlgorithmIdentifier did not encode.
    #[error("signature algorithm: {0}")]
    Encode(String),
}

/// The keyIdentifier for a CRL of `issuer`: its subjectKeyIdentifier, else the SHA-1 of its
/// subjectPublicKey (RFC 5280 §4.2.1.2 method 1, what openssl computes).
pub fn authority_key_id(issuer: &Certificate) -> Vec<u8> {
    super::verify::subject_key_id(issuer).unwrap_or_else(|| {
        crate::HashAlg::Sha1.digest(
            issuer
                .tbs_certificate
                .subject_public_key_info
                .subject_public_key
                .raw_bytes(),
        )
    })
}

const EXT_SEQ: u8 = tlv::SEQUENCE;

/// A CRL being written: parameters checked, entries appended as they come.
pub struct CrlWriter<'a> {
    params: CrlParams<'a>,
    entries: Vec<u8>,
    count: usize,
    scratch: Vec<u8>,
    ext: Vec<u8>,
}

impl std::fmt::Debug for CrlWriter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrlWriter")
            .field("params", &self.params)
            .field("entries", &self.count)
            .field("entry_bytes", &self.entries.len())
            .finish()
    }
}

impl<'a> CrlWriter<'a> {
    /// Check `params` against the profile.
    pub fn new(params: CrlParams<'a>) -> Result<CrlWriter<'a>, BuildError> {
        let p = &params;
        let mut r = tlv::Reader::new(p.issuer);
        if r.expect(tlv::SEQUENCE, "").is_err() || !r.is_empty() {
            return Err(BuildError::Params("issuer is not one DER Name".into()));
        }
        if p.authority_key_id.is_empty() {
            return Err(BuildError::Params(
                "empty authorityKeyIdentifier (the BR require one)".into(),
            ));
        }
        if p.next_update <= p.this_update {
            return Err(BuildError::Params(format!(
                "nextUpdate {} is not after thisUpdate {}",
                p.next_update, p.this_update
            )));
        }
        let validity = p.next_update.0 - p.this_update.0;
        if validity > p.max_validity_secs {
            return Err(BuildError::Params(format!(
                "nextUpdate − thisUpdate is {validity} s, more than the profile's {} s",
                p.max_validity_secs
            )));
        }
        p.this_update.to_generalized()?;
        p.next_update.to_generalized()?;
        if let Some(idp) = &p.idp {
            if idp.full_name_uris.is_empty() {
                return Err(BuildError::Params(
                    "issuingDistributionPoint without a URI".into(),
                ));
            }
            if let Some(u) = idp
                .full_name_uris
                .iter()
                .find(|u| u.is_empty() || !u.is_ascii())
            {
                return Err(BuildError::Params(format!(
                    "issuingDistributionPoint URI {u:?} is not a non-empty IA5String"
                )));
            }
            if idp.only_user_certs && idp.only_ca_certs {
                return Err(BuildError::Params(
                    "issuingDistributionPoint with both onlyContainsUserCerts and onlyContainsCACerts"
                        .into(),
                ));
            }
        }
        if let Some(base) = p.delta_base {
            if base >= p.crl_number {
                return Err(BuildError::Params(format!(
                    "delta CRL number {} must be above its base {base}",
                    p.crl_number
                )));
            }
        }
        Ok(CrlWriter {
            params,
            entries: Vec::new(),
            count: 0,
            scratch: Vec::with_capacity(128),
            ext: Vec::with_capacity(64),
        })
    }

    /// Reserve room for about `n` more entries of `serial_len` octets.
    pub fn reserve(&mut self, n: usize, serial_len: usize) {
        self.entries.reserve(n.saturating_mul(serial_len + 20));
    }

    /// Entries written so far.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether no entry was written.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Append one entry.
    pub fn push(&mut self, e: &Entry<'_>) -> Result<(), BuildError> {
        let index = self.count;
        let bad = |what: String| BuildError::Entry { index, what };
        tlv::check_integer(e.serial).map_err(|w| bad(w.into()))?;
        if e.serial[0] & 0x80 != 0 {
            return Err(bad("negative serial".into()));
        }
        if e.reason == Some(RevocationReason::RemoveFromCrl) && self.params.delta_base.is_none() {
            return Err(bad("removeFromCRL outside a delta CRL".into()));
        }
        let s = &mut self.scratch;
        s.clear();
        tlv::tlv(s, tlv::INTEGER, e.serial);
        tlv::write_time(s, e.revocation_date)?;
        let ext = &mut self.ext;
        ext.clear();
        if let Some(r) = e.reason.filter(|r| *r != RevocationReason::Unspecified) {
            // Extension { reasonCode, OCTET STRING { ENUMERATED r } }
            ext.extend_from_slice(&[
                EXT_SEQ, 0x0A, 0x06, 0x03, 0x55, 0x1D, 0x15, 0x04, 0x03, 0x0A, 0x01, r as u8,
            ]);
        }
        if let Some(t) = e.invalidity_date {
            let g = t.to_generalized()?;
            let mut v = Vec::with_capacity(17);
            g.encode_to_vec(&mut v)
                .map_err(|e| bad(format!("invalidityDate: {e}")))?;
            let mut inner = vec![0x06, 0x03, 0x55, 0x1D, 0x18];
            tlv::tlv(&mut inner, tlv::OCTET_STRING, &v);
            tlv::tlv(ext, EXT_SEQ, &inner);
        }
        if let Some(h) = e.hold_instruction {
            ext.extend_from_slice(&[
                EXT_SEQ, 0x10, 0x06, 0x03, 0x55, 0x1D, 0x17, 0x04, 0x09, 0x06, 0x07, 0x2A, 0x86,
                0x48, 0xCE, 0x38, 0x02, h as u8,
            ]);
        }
        if !ext.is_empty() {
            tlv::tlv(s, tlv::SEQUENCE, ext);
        }
        tlv::tlv(&mut self.entries, tlv::SEQUENCE, s);
        self.count += 1;
        Ok(())
    }

    /// The signed CRL's DER.
    pub fn finish(self, signer: &dyn Signer) -> Result<Vec<u8>, BuildError> {
        let p = &self.params;
        let alg = signer
            .algorithm()
            .to_der()
            .map_err(|e| BuildError::Encode(e.to_string()))?;

        let mut head = Vec::with_capacity(256 + p.issuer.len());
        tlv::tlv(&mut head, tlv::INTEGER, &[1]);
        head.extend_from_slice(&alg);
        head.extend_from_slice(p.issuer);
        tlv::write_time(&mut head, p.this_update)?;
        tlv::write_time(&mut head, p.next_update)?;
        let mut entries_header = Vec::with_capacity(6);
        if self.count > 0 {
            tlv::header(&mut entries_header, tlv::SEQUENCE, self.entries.len());
        }

        let mut exts = Vec::with_capacity(128);
        // authorityKeyIdentifier: SEQUENCE { [0] keyIdentifier }
        let mut aki = Vec::new();
        tlv::tlv(&mut aki, 0x80, p.authority_key_id);
        let mut aki_seq = Vec::new();
        tlv::tlv(&mut aki_seq, tlv::SEQUENCE, &aki);
        extension(&mut exts, &[0x55, 0x1D, 0x23], false, &aki_seq);
        let mut num = Vec::new();
        tlv::tlv(&mut num, tlv::INTEGER, &p.crl_number.integer_content());
        extension(&mut exts, &[0x55, 0x1D, 0x14], false, &num);
        if let Some(base) = p.delta_base {
            let mut b = Vec::new();
            tlv::tlv(&mut b, tlv::INTEGER, &base.integer_content());
            extension(&mut exts, &[0x55, 0x1D, 0x1B], true, &b);
        }
        if let Some(idp) = &p.idp {
            extension(&mut exts, &[0x55, 0x1D, 0x1C], true, &idp_der(idp));
        }
        let mut tail = Vec::with_capacity(exts.len() + 8);
        let mut ext_seq = Vec::with_capacity(exts.len() + 4);
        tlv::tlv(&mut ext_seq, tlv::SEQUENCE, &exts);
        tlv::tlv(&mut tail, 0xA0, &ext_seq);

        let tbs_len = head.len() + entries_header.len() + self.entries.len() + tail.len();
        let mut tbs = Vec::with_capacity(tbs_len + 6);
        tlv::header(&mut tbs, tlv::SEQUENCE, tbs_len);
        tbs.extend_from_slice(&head);
        tbs.extend_from_slice(&entries_header);
        tbs.extend_from_slice(&self.entries);
        drop(self.entries);
        tbs.extend_from_slice(&tail);

        let sig = signer.sign(&tbs)?;
        let bits_len = sig.len() + 1;
        let mut bits_header = Vec::with_capacity(6);
        tlv::header(&mut bits_header, tlv::BIT_STRING, bits_len);
        let body = tbs.len() + alg.len() + bits_header.len() + bits_len;
        let mut out = Vec::with_capacity(body + 6);
        tlv::header(&mut out, tlv::SEQUENCE, body);
        out.extend_from_slice(&tbs);
        drop(tbs);
        out.extend_from_slice(&alg);
        out.extend_from_slice(&bits_header);
        out.push(0);
        out.extend_from_slice(&sig);
        Ok(out)
    }
}

fn extension(out: &mut Vec<u8>, oid: &[u8], critical: bool, value: &[u8]) {
    let mut e = Vec::with_capacity(value.len() + 16);
    tlv::tlv(&mut e, tlv::OID, oid);
    if critical {
        e.extend_from_slice(&[tlv::BOOLEAN, 0x01, 0xFF]);
    }
    tlv::tlv(&mut e, tlv::OCTET_STRING, value);
    tlv::tlv(out, tlv::SEQUENCE, &e);
}

/// IssuingDistributionPoint ::= SEQUENCE { distributionPoint [0] { fullName [0] {
/// uniformResourceIdentifier [6] … } }, onlyContainsUserCerts [1], onlyContainsCACerts [2] }
/// (implicit tags, RFC 5280 §5.2.5; BOOLEANs DEFAULT FALSE written only when true).
fn idp_der(idp: &IdpParams<'_>) -> Vec<u8> {
    let mut names = Vec::new();
    for u in idp.full_name_uris {
        tlv::tlv(&mut names, 0x86, u.as_bytes());
    }
    let mut full = Vec::new();
    tlv::tlv(&mut full, 0xA0, &names);
    let mut body = Vec::new();
    tlv::tlv(&mut body, 0xA0, &full);
    if idp.only_user_certs {
        body.extend_from_slice(&[0x81, 0x01, 0xFF]);
    }
    if idp.only_ca_certs {
        body.extend_from_slice(&[0x82, 0x01, 0xFF]);
    }
    let mut out = Vec::new();
    tlv::tlv(&mut out, tlv::SEQUENCE, &body);
    out
}

/// Build and sign a CRL from `entries`, in the order given.
pub fn build<'e>(
    params: CrlParams<'_>,
    entries: impl IntoIterator<Item = Entry<'e>>,
    signer: &dyn Signer,
) -> Result<Vec<u8>, BuildError> {
    let mut w = CrlWriter::new(params)?;
    for e in entries {
        w.push(&e)?;
    }
    w.finish(signer)
}
