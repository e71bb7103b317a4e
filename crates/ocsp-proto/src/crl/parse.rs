//! Reading a CRL (RFC 5280 §5): a hand walk of the DER, borrowing the input.
//!
//! [`parse`] takes one DER `CertificateList` (use [`decode`] first for PEM) and returns a
//! [`Crl`] that borrows it: the issuer Name, the TBS octets, the signature and the
//! revokedCertificates are slices of the input; the CRL-level fields are decoded. Nothing
//! per entry is allocated: [`Crl::entries`] walks the entries again each time it is called
//! and yields [`Entry`] values that borrow the input, so a caller builds its own compact
//! table (see [`super::table::RevokedTable`]) without the parsed structure ever existing.
//!
//! What is accepted:
//! - v1 CRLs (no version field; what `openssl ca -gencrl` writes without a `crlnumber` file
//!   or `crl_extensions`) and v2 CRLs (version 1); any other version is refused;
//! - DER only: shortest lengths, minimal INTEGERs, BOOLEANs 0x00/0xFF, times
//!   `YYMMDDHHMMSSZ` / `YYYYMMDDHHMMSSZ`, no trailing octets after the CertificateList or
//!   inside any walked element;
//! - the TBS `signature` identical to the outer `signatureAlgorithm` (§5.1.1.2), a signature
//!   BIT STRING with no unused bits;
//! - CRL extensions: authorityKeyIdentifier, cRLNumber (≤ 20 octets, non-negative),
//!   deltaCRLIndicator, issuingDistributionPoint; other non-critical extensions are ignored,
//!   an unknown critical one refuses the CRL, and so does a repeated one;
//! - entry extensions: reasonCode, invalidityDate, holdInstructionCode; other non-critical
//!   ones are ignored, unknown critical ones refuse the CRL. certificateIssuer, and an
//!   issuingDistributionPoint with indirectCRL, refuse the CRL: indirect CRLs are not
//!   supported.
//!
//! Limits ([`CrlLimits`]): the input size, the number of entries and the serial length are
//! capped before anything is built from them. Parsing is linear in the input and never
//! recurses beyond the fixed depth of the CRL structure.

use std::borrow::Cow;

use const_oid::ObjectIdentifier;
use der::Decode;
use spki::AlgorithmIdentifierOwned;

use super::number::CrlNumber;
use super::tlv::{self, Reader, TlvError};
use crate::{RevocationReason, Serial, Timestamp};

/// Caps applied while reading.
#[derive(Clone, Debug)]
pub struct CrlLimits {
    /// Largest accepted input (DER, or PEM before decoding). Default 256 MiB (a 1,000,000-entry
    /// CRL with 20-octet serials is about 39 MB in DER).
    pub max_bytes: usize,
    /// Most entries. Default 10,000,000.
    pub max_entries: usize,
    /// Longest serial number, in INTEGER content octets. Default 32 (RFC 5280 allows 20 and
    /// asks readers to cope gracefully with more).
    pub max_serial_octets: usize,
}

impl Default for CrlLimits {
    fn default() -> CrlLimits {
        CrlLimits {
            max_bytes: 256 << 20,
            max_entries: 10_000_000,
            max_serial_octets: 32,
        }
    }
}

/// Why a CRL was not accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CrlError {
    /// The input is bigger than [`CrlLimits::max_bytes`].
    #[error("CRL of {size} octets is larger than the limit of {max} (raise the size limit if the CRL is genuine)")]
    TooLarge {
        /// Input size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// Not PEM of an `X509 CRL`, or bad base64.
    #[error("not a PEM CRL: {0}")]
    Pem(String),
    /// Not a DER CertificateList.
    #[error("malformed CRL at octet {at}: {what}")]
    Malformed {
        /// Offset in the DER.
        at: usize,
        /// What was wrong.
        what: &'static str,
    },
    /// Well-formed, but something this reader does not support.
    #[error("unsupported CRL: {0}")]
    Unsupported(String),
    /// A critical extension this reader does not understand (`entry` is the index of the
    /// revoked entry carrying it, `None` for a CRL extension).
    #[error("unknown critical extension {oid}{}", entry.map(|i| format!(" in entry {i}")).unwrap_or_default())]
    UnknownCriticalExtension {
        /// The extension's OID.
        oid: String,
        /// The entry index, if an entry extension.
        entry: Option<usize>,
    },
    /// An extension present twice in one list (RFC 5280 §4.2).
    #[error("extension {0} appears twice")]
    DuplicateExtension(String),
    /// More entries than [`CrlLimits::max_entries`].
    #[error("more than {max} entries (raise the entry limit if the CRL is genuine)")]
    TooManyEntries {
        /// The limit.
        max: usize,
    },
    /// A serial longer than [`CrlLimits::max_serial_octets`].
    #[error("entry {entry} has a serial of {len} octets, more than the limit of {max}")]
    SerialTooLong {
        /// Entry index.
        entry: usize,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The signature does not verify, or its algorithm is unsupported.
    #[error("CRL signature: {0}")]
    Signature(#[from] crate::sigalg::SigError),
    /// The CRL does not belong to the issuer it was checked against.
    #[error("CRL not issued by this CA: {0}")]
    WrongIssuer(String),
    /// A delta CRL that cannot be applied to the given base, or a CRL used as the wrong kind.
    #[error("delta CRL: {0}")]
    Delta(String),
}

impl From<TlvError> for CrlError {
    fn from(e: TlvError) -> CrlError {
        CrlError::Malformed {
            at: e.at,
            what: e.what,
        }
    }
}

/// The CRL's version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrlVersion {
    /// No version field.
    V1,
    /// `version` is 1 (v2).
    V2,
}

/// RFC 5280 §5.3.2 hold instructions (the `id-holdinstruction` arc, 1.2.840.10040.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum HoldInstruction {
    /// id-holdinstruction-none (.1)
    None = 1,
    /// id-holdinstruction-callissuer (.2)
    CallIssuer = 2,
    /// id-holdinstruction-reject (.3)
    Reject = 3,
}

impl HoldInstruction {
    /// The instruction's OID.
    pub fn oid(self) -> ObjectIdentifier {
        match self {
            HoldInstruction::None => ObjectIdentifier::new_unwrap("1.2.840.10040.2.1"),
            HoldInstruction::CallIssuer => ObjectIdentifier::new_unwrap("1.2.840.10040.2.2"),
            HoldInstruction::Reject => ObjectIdentifier::new_unwrap("1.2.840.10040.2.3"),
        }
    }

    /// From the content octets of its OID; `None` for an instruction outside the RFC's three.
    pub fn from_oid_content(v: &[u8]) -> Option<HoldInstruction> {
        match v {
            [0x2A, 0x86, 0x48, 0xCE, 0x38, 0x02, n] => HoldInstruction::from_code(*n),
            _ => None,
        }
    }

    /// From its last arc (1, 2 or 3).
    pub fn from_code(n: u8) -> Option<HoldInstruction> {
        match n {
            1 => Some(HoldInstruction::None),
            2 => Some(HoldInstruction::CallIssuer),
            3 => Some(HoldInstruction::Reject),
            _ => None,
        }
    }
}

/// The issuingDistributionPoint extension (RFC 5280 §5.2.5), decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuingDistributionPoint {
    /// The DER of the IssuingDistributionPoint SEQUENCE (the extnValue contents): two CRLs
    /// have the same scope when these octets are equal.
    pub der: Vec<u8>,
    /// The `fullName` URIs of the distributionPoint.
    pub full_name_uris: Vec<String>,
    /// Whether the distributionPoint holds names other than URIs, or a
    /// nameRelativeToCRLIssuer.
    pub other_names: bool,
    /// onlyContainsUserCerts.
    pub only_user_certs: bool,
    /// onlyContainsCACerts.
    pub only_ca_certs: bool,
    /// onlySomeReasons, as the ReasonFlags bits (bit `n` set ↔ reason code `n`).
    pub only_some_reasons: Option<u16>,
    /// onlyContainsAttributeCerts.
    pub only_attribute_certs: bool,
}

/// One revoked certificate, borrowing the CRL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    /// The serial number's INTEGER content octets (two's complement, as in the CRL).
    pub serial: &'a [u8],
    /// revocationDate.
    pub revocation_date: Timestamp,
    /// reasonCode, when present (an explicit `unspecified` is kept).
    pub reason: Option<RevocationReason>,
    /// invalidityDate, when present.
    pub invalidity_date: Option<Timestamp>,
    /// holdInstructionCode, when present and one of the RFC's three.
    pub hold_instruction: Option<HoldInstruction>,
}

impl Entry<'_> {
    /// The serial in the form OCSP lookups use.
    pub fn serial(&self) -> Serial {
        Serial::from_integer_content(self.serial)
    }
}

/// A parsed CRL borrowing its DER. (`Debug` prints the fields, not the octets.)
#[derive(Clone)]
pub struct Crl<'a> {
    /// The whole DER CertificateList.
    pub der: &'a [u8],
    /// The DER of tbsCertList: the signed octets.
    pub tbs: &'a [u8],
    /// v1 or v2.
    pub version: CrlVersion,
    /// signatureAlgorithm.
    pub signature_algorithm: AlgorithmIdentifierOwned,
    /// The signature (the BIT STRING's octets).
    pub signature: &'a [u8],
    /// The DER of the issuer Name.
    pub issuer: &'a [u8],
    /// thisUpdate.
    pub this_update: Timestamp,
    /// nextUpdate (optional in RFC 5280, required by the BR).
    pub next_update: Option<Timestamp>,
    /// cRLNumber.
    pub crl_number: Option<CrlNumber>,
    /// deltaCRLIndicator's BaseCRLNumber: `Some` makes this a delta CRL.
    pub base_crl_number: Option<CrlNumber>,
    /// issuingDistributionPoint.
    pub issuing_distribution_point: Option<IssuingDistributionPoint>,
    /// authorityKeyIdentifier's keyIdentifier.
    pub authority_key_id: Option<&'a [u8]>,
    /// Number of revoked entries.
    pub entry_count: usize,
    /// The content of revokedCertificates (empty when absent).
    entries: &'a [u8],
    /// Offset of `entries` in `der`, for error offsets.
    entries_offset: usize,
    /// Sum of the serials' lengths (sizes a table exactly).
    serial_octets: usize,
}

impl std::fmt::Debug for Crl<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Crl")
            .field("der_len", &self.der.len())
            .field("version", &self.version)
            .field("signature_algorithm", &self.signature_algorithm.oid)
            .field("issuer", &hex::encode(self.issuer))
            .field("this_update", &self.this_update)
            .field("next_update", &self.next_update)
            .field("crl_number", &self.crl_number)
            .field("base_crl_number", &self.base_crl_number)
            .field(
                "issuing_distribution_point",
                &self.issuing_distribution_point,
            )
            .field("authority_key_id", &self.authority_key_id.map(hex::encode))
            .field("entry_count", &self.entry_count)
            .finish()
    }
}

const PEM_BEGIN: &[u8] = b"-----BEGIN X509 CRL-----";

/// DER as is, or the DER inside PEM (`-----BEGIN X509 CRL-----`, text before it allowed, as
/// openssl allows). The size limit is checked before decoding.
pub fn decode<'a>(input: &'a [u8], limits: &CrlLimits) -> Result<Cow<'a, [u8]>, CrlError> {
    if input.len() > limits.max_bytes {
        return Err(CrlError::TooLarge {
            size: input.len(),
            max: limits.max_bytes,
        });
    }
    if input.first() == Some(&tlv::SEQUENCE) {
        return Ok(Cow::Borrowed(input));
    }
    let start = input
        .windows(PEM_BEGIN.len())
        .position(|w| w == PEM_BEGIN)
        .ok_or_else(|| {
            CrlError::Pem("neither DER (a SEQUENCE) nor a `-----BEGIN X509 CRL-----` block".into())
        })?;
    let (label, der) =
        der::pem::decode_vec(&input[start..]).map_err(|e| CrlError::Pem(e.to_string()))?;
    if label != "X509 CRL" {
        return Err(CrlError::Pem(format!(
            "PEM label {label}, expected X509 CRL"
        )));
    }
    Ok(Cow::Owned(der))
}

// Extension OIDs, as OID content octets.
const OID_AKI: &[u8] = &[0x55, 0x1D, 0x23];
const OID_CRL_NUMBER: &[u8] = &[0x55, 0x1D, 0x14];
const OID_DELTA: &[u8] = &[0x55, 0x1D, 0x1B];
const OID_IDP: &[u8] = &[0x55, 0x1D, 0x1C];
const OID_REASON: &[u8] = &[0x55, 0x1D, 0x15];
const OID_INVALIDITY: &[u8] = &[0x55, 0x1D, 0x18];
const OID_HOLD: &[u8] = &[0x55, 0x1D, 0x17];
const OID_CERT_ISSUER: &[u8] = &[0x55, 0x1D, 0x1D];

fn oid_text(content: &[u8]) -> String {
    let mut tlv_bytes = Vec::with_capacity(content.len() + 2);
    tlv::tlv(&mut tlv_bytes, tlv::OID, content);
    ObjectIdentifier::from_der(&tlv_bytes)
        .map(|o| o.to_string())
        .unwrap_or_else(|_| format!("(OID {})", hex::encode(content)))
}

/// One Extension: (OID content, critical, extnValue content).
fn extension<'a>(r: &mut Reader<'a>) -> Result<(&'a [u8], bool, Reader<'a>), CrlError> {
    let mut e = r.expect(tlv::SEQUENCE, "Extension SEQUENCE expected")?;
    let oid = e.expect(tlv::OID, "extnID expected")?.rest();
    if oid.is_empty() {
        return Err(e.err("empty OID").into());
    }
    let critical = if e.peek_tag() == Some(tlv::BOOLEAN) {
        e.boolean_tagged(tlv::BOOLEAN)?
    } else {
        false
    };
    let value = e.expect(tlv::OCTET_STRING, "extnValue OCTET STRING expected")?;
    e.finish("trailing octets in Extension")?;
    Ok((oid, critical, value))
}

/// Parse one DER CertificateList. The whole input must be the CRL.
pub fn parse<'a>(der: &'a [u8], limits: &CrlLimits) -> Result<Crl<'a>, CrlError> {
    if der.len() > limits.max_bytes {
        return Err(CrlError::TooLarge {
            size: der.len(),
            max: limits.max_bytes,
        });
    }
    let mut top = Reader::new(der);
    let mut cl = top.expect(tlv::SEQUENCE, "CertificateList SEQUENCE expected")?;
    top.finish("trailing octets after the CertificateList")?;

    let (mut tbs_r, tbs) = cl.expect_tlv(tlv::SEQUENCE, "tbsCertList SEQUENCE expected")?;
    let (_, outer_alg) = cl.expect_tlv(tlv::SEQUENCE, "signatureAlgorithm expected")?;
    let sig = cl.expect(tlv::BIT_STRING, "signatureValue BIT STRING expected")?;
    cl.finish("trailing octets in the CertificateList")?;
    let signature = match sig.rest() {
        [0, rest @ ..] => rest,
        _ => return Err(sig.err("signature BIT STRING with unused bits").into()),
    };

    let version = if tbs_r.peek_tag() == Some(tlv::INTEGER) {
        let v = tbs_r.integer("version expected")?;
        if v != [1] {
            return Err(CrlError::Unsupported(format!(
                "version field {} (only v2, encoded 1, may be present)",
                hex::encode(v)
            )));
        }
        CrlVersion::V2
    } else {
        CrlVersion::V1
    };
    let (_, inner_alg) =
        tbs_r.expect_tlv(tlv::SEQUENCE, "signature AlgorithmIdentifier expected")?;
    if inner_alg != outer_alg {
        return Err(CrlError::Malformed {
            at: tbs_r.offset(),
            what: "tbsCertList signature differs from signatureAlgorithm",
        });
    }
    let signature_algorithm =
        AlgorithmIdentifierOwned::from_der(outer_alg).map_err(|_| CrlError::Malformed {
            at: tbs_r.offset(),
            what: "bad AlgorithmIdentifier",
        })?;
    let (_, issuer) = tbs_r.expect_tlv(tlv::SEQUENCE, "issuer Name expected")?;
    let this_update = tbs_r.time()?;
    let next_update = tbs_r.optional_time()?;

    let (entries, entries_offset) = if tbs_r.peek_tag() == Some(tlv::SEQUENCE) {
        let r = tbs_r.expect(tlv::SEQUENCE, "revokedCertificates expected")?;
        (r.rest(), r.offset())
    } else {
        (&[][..], 0)
    };

    let mut crl = Crl {
        der,
        tbs,
        version,
        signature_algorithm,
        signature,
        issuer,
        this_update,
        next_update,
        crl_number: None,
        base_crl_number: None,
        issuing_distribution_point: None,
        authority_key_id: None,
        entry_count: 0,
        entries,
        entries_offset,
        serial_octets: 0,
    };

    if let Some(mut wrap) = tbs_r.optional(0xA0)? {
        let mut exts = wrap.expect(tlv::SEQUENCE, "crlExtensions SEQUENCE expected")?;
        wrap.finish("trailing octets after crlExtensions")?;
        crl_extensions(&mut crl, &mut exts)?;
    }
    tbs_r.finish("trailing octets in tbsCertList")?;

    // Walk every entry once: the CRL is accepted whole or not at all.
    let mut n = 0usize;
    let mut octets = 0usize;
    let mut walk = crl.entries();
    while let Some(e) = walk.next_entry()? {
        if e.serial.len() > limits.max_serial_octets {
            return Err(CrlError::SerialTooLong {
                entry: n,
                len: e.serial.len(),
                max: limits.max_serial_octets,
            });
        }
        n += 1;
        octets += e.serial.len();
        if n > limits.max_entries {
            return Err(CrlError::TooManyEntries {
                max: limits.max_entries,
            });
        }
    }
    crl.entry_count = n;
    crl.serial_octets = octets;
    Ok(crl)
}

fn crl_extensions<'a>(crl: &mut Crl<'a>, exts: &mut Reader<'a>) -> Result<(), CrlError> {
    let mut seen: Vec<&[u8]> = Vec::new();
    if exts.is_empty() {
        return Err(exts.err("empty crlExtensions").into());
    }
    while !exts.is_empty() {
        let (oid, critical, mut value) = extension(exts)?;
        if seen.contains(&oid) {
            return Err(CrlError::DuplicateExtension(oid_text(oid)));
        }
        seen.push(oid);
        match oid {
            OID_AKI => {
                let mut seq =
                    value.expect(tlv::SEQUENCE, "AuthorityKeyIdentifier SEQUENCE expected")?;
                value.finish("trailing octets after AuthorityKeyIdentifier")?;
                if let Some(kid) = seq.optional(0x80)? {
                    crl.authority_key_id = Some(kid.rest());
                }
                // authorityCertIssuer [1], authorityCertSerialNumber [2]: not used.
                seq.optional(0xA1)?;
                seq.optional(0x82)?;
                seq.finish("unexpected field in AuthorityKeyIdentifier")?;
            }
            OID_CRL_NUMBER | OID_DELTA => {
                let at = value.offset();
                let v = value.integer("INTEGER expected")?;
                value.finish("trailing octets after the CRL number")?;
                let n = CrlNumber::from_integer_content(v)
                    .map_err(|what| CrlError::Malformed { at, what })?;
                if oid == OID_CRL_NUMBER {
                    crl.crl_number = Some(n);
                } else {
                    crl.base_crl_number = Some(n);
                }
            }
            OID_IDP => {
                let (seq, der) = value
                    .expect_tlv(tlv::SEQUENCE, "IssuingDistributionPoint SEQUENCE expected")?;
                value.finish("trailing octets after IssuingDistributionPoint")?;
                crl.issuing_distribution_point = Some(issuing_distribution_point(seq, der)?);
            }
            _ if critical => {
                return Err(CrlError::UnknownCriticalExtension {
                    oid: oid_text(oid),
                    entry: None,
                })
            }
            _ => {}
        }
    }
    Ok(())
}

fn issuing_distribution_point(
    mut seq: Reader<'_>,
    der: &[u8],
) -> Result<IssuingDistributionPoint, CrlError> {
    let mut idp = IssuingDistributionPoint {
        der: der.to_vec(),
        full_name_uris: Vec::new(),
        other_names: false,
        only_user_certs: false,
        only_ca_certs: false,
        only_some_reasons: None,
        only_attribute_certs: false,
    };
    let mut indirect = false;
    if let Some(mut dpn) = seq.optional(0xA0)? {
        let at = dpn.offset();
        let (tag, mut names, _) = dpn.any()?;
        dpn.finish("trailing octets after DistributionPointName")?;
        match tag {
            0xA0 => {
                if names.is_empty() {
                    return Err(names.err("empty fullName").into());
                }
                while !names.is_empty() {
                    let (t, c, _) = names.any()?;
                    if t == 0x86 {
                        let uri = std::str::from_utf8(c.rest())
                            .ok()
                            .filter(|s| s.is_ascii())
                            .ok_or_else(|| c.err("URI that is not IA5String"))?;
                        idp.full_name_uris.push(uri.to_owned());
                    } else {
                        idp.other_names = true;
                    }
                }
            }
            0xA1 => idp.other_names = true,
            _ => {
                return Err(CrlError::Malformed {
                    at,
                    what:
                        "DistributionPointName that is neither fullName nor nameRelativeToCRLIssuer",
                })
            }
        }
    }
    if seq.peek_tag() == Some(0x81) {
        idp.only_user_certs = seq.boolean_tagged(0x81)?;
    }
    if seq.peek_tag() == Some(0x82) {
        idp.only_ca_certs = seq.boolean_tagged(0x82)?;
    }
    if let Some(bits) = seq.optional(0x83)? {
        let v = bits.rest();
        let (unused, octets) = v
            .split_first()
            .ok_or_else(|| bits.err("empty ReasonFlags"))?;
        if *unused > 7 || octets.len() > 2 || (octets.is_empty() && *unused != 0) {
            return Err(bits.err("bad ReasonFlags BIT STRING").into());
        }
        let mut flags = 0u16;
        for (i, o) in octets.iter().enumerate() {
            for b in 0..8 {
                if o & (0x80 >> b) != 0 {
                    flags |= 1 << (i * 8 + b);
                }
            }
        }
        idp.only_some_reasons = Some(flags);
    }
    if seq.peek_tag() == Some(0x84) {
        indirect = seq.boolean_tagged(0x84)?;
    }
    if seq.peek_tag() == Some(0x85) {
        idp.only_attribute_certs = seq.boolean_tagged(0x85)?;
    }
    seq.finish("unexpected field in IssuingDistributionPoint")?;
    if indirect {
        return Err(CrlError::Unsupported(
            "indirect CRL (issuingDistributionPoint indirectCRL): entries for other issuers are not supported".into(),
        ));
    }
    Ok(idp)
}

/// A walk over a CRL's entries, in CRL order.
#[derive(Clone)]
pub struct Entries<'a> {
    r: Reader<'a>,
    base: usize,
    index: usize,
}

impl<'a> Entries<'a> {
    /// The next entry, `Ok(None)` at the end. After an error the walk is over.
    pub fn next_entry(&mut self) -> Result<Option<Entry<'a>>, CrlError> {
        let r = self.step();
        if r.is_err() {
            self.r = Reader::new(&[]);
        }
        r
    }

    fn step(&mut self) -> Result<Option<Entry<'a>>, CrlError> {
        if self.r.is_empty() {
            return Ok(None);
        }
        let index = self.index;
        self.index += 1;
        let fix = |e: TlvError, base: usize| CrlError::Malformed {
            at: e.at + base,
            what: e.what,
        };
        let base = self.base;
        let mut seq = self
            .r
            .expect(tlv::SEQUENCE, "revoked entry SEQUENCE expected")
            .map_err(|e| fix(e, base))?;
        let serial = seq
            .integer("userCertificate INTEGER expected")
            .map_err(|e| fix(e, base))?;
        let revocation_date = seq.time().map_err(|e| fix(e, base))?;
        let mut entry = Entry {
            serial,
            revocation_date,
            reason: None,
            invalidity_date: None,
            hold_instruction: None,
        };
        if !seq.is_empty() {
            let mut exts = seq
                .expect(tlv::SEQUENCE, "crlEntryExtensions SEQUENCE expected")
                .map_err(|e| fix(e, base))?;
            seq.finish("trailing octets in a revoked entry")
                .map_err(|e| fix(e, base))?;
            entry_extensions(&mut entry, &mut exts, index).map_err(|e| match e {
                CrlError::Malformed { at, what } => CrlError::Malformed {
                    at: at + base,
                    what,
                },
                other => other,
            })?;
        }
        Ok(Some(entry))
    }
}

impl std::fmt::Debug for Entries<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entries")
            .field("index", &self.index)
            .finish()
    }
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<Entry<'a>, CrlError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_entry().transpose()
    }
}

fn entry_extensions<'a>(
    entry: &mut Entry<'a>,
    exts: &mut Reader<'a>,
    index: usize,
) -> Result<(), CrlError> {
    if exts.is_empty() {
        return Err(exts.err("empty crlEntryExtensions").into());
    }
    let mut seen = 0u8;
    while !exts.is_empty() {
        let (oid, critical, mut value) = extension(exts)?;
        let bit = match oid {
            OID_REASON => 1,
            OID_INVALIDITY => 2,
            OID_HOLD => 4,
            OID_CERT_ISSUER => {
                return Err(CrlError::Unsupported(format!(
                    "entry {index} carries certificateIssuer: indirect CRLs are not supported"
                )))
            }
            _ if critical => {
                return Err(CrlError::UnknownCriticalExtension {
                    oid: oid_text(oid),
                    entry: Some(index),
                })
            }
            _ => continue,
        };
        if seen & bit != 0 {
            return Err(CrlError::DuplicateExtension(oid_text(oid)));
        }
        seen |= bit;
        match bit {
            1 => {
                let c = value.expect(tlv::ENUMERATED, "CRLReason ENUMERATED expected")?;
                let code = match c.rest() {
                    [v] if *v < 0x80 => *v,
                    _ => return Err(c.err("CRLReason out of range").into()),
                };
                entry.reason = Some(
                    RevocationReason::from_code(code)
                        .ok_or_else(|| c.err("CRLReason value not defined by RFC 5280"))?,
                );
            }
            2 => {
                let at = value.offset();
                let c = value.expect(
                    tlv::GENERALIZED_TIME,
                    "invalidityDate GeneralizedTime expected",
                )?;
                entry.invalidity_date = Some(
                    tlv::parse_generalized_time(c.rest())
                        .map_err(|what| CrlError::Malformed { at, what })?,
                );
            }
            _ => {
                let c = value.expect(tlv::OID, "holdInstructionCode OID expected")?;
                entry.hold_instruction = HoldInstruction::from_oid_content(c.rest());
            }
        }
        value.finish("trailing octets in an entry extension")?;
    }
    Ok(())
}

impl<'a> Crl<'a> {
    /// The entries, walked from the DER (each call starts over). The walk cannot fail on a
    /// `Crl` that [`parse`] returned (every entry was checked then), but it reports errors
    /// rather than assuming so.
    pub fn entries(&self) -> Entries<'a> {
        Entries {
            r: Reader::new(self.entries),
            base: self.entries_offset,
            index: 0,
        }
    }

    /// Call `f` on every entry, in CRL order.
    pub fn for_each_entry(&self, mut f: impl FnMut(&Entry<'a>)) -> Result<(), CrlError> {
        let mut w = self.entries();
        while let Some(e) = w.next_entry()? {
            f(&e);
        }
        Ok(())
    }

    /// The sum of the entries' serial lengths, in octets.
    pub fn serial_octets(&self) -> usize {
        self.serial_octets
    }

    /// Whether this is a delta CRL (it carries a deltaCRLIndicator).
    pub fn is_delta(&self) -> bool {
        self.base_crl_number.is_some()
    }

    /// The CRL's fields without its entries, owned, to keep beside a table built from it.
    pub fn meta(&self) -> CrlMeta {
        CrlMeta {
            version: self.version,
            issuer: self.issuer.to_vec(),
            this_update: self.this_update,
            next_update: self.next_update,
            crl_number: self.crl_number,
            base_crl_number: self.base_crl_number,
            issuing_distribution_point: self.issuing_distribution_point.clone(),
            authority_key_id: self.authority_key_id.map(<[u8]>::to_vec),
            signature_algorithm: self.signature_algorithm.clone(),
            entry_count: self.entry_count,
        }
    }
}

/// A CRL's fields without its entries (see [`Crl::meta`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrlMeta {
    /// v1 or v2.
    pub version: CrlVersion,
    /// The DER of the issuer Name.
    pub issuer: Vec<u8>,
    /// thisUpdate.
    pub this_update: Timestamp,
    /// nextUpdate.
    pub next_update: Option<Timestamp>,
    /// cRLNumber.
    pub crl_number: Option<CrlNumber>,
    /// deltaCRLIndicator's BaseCRLNumber.
    pub base_crl_number: Option<CrlNumber>,
    /// issuingDistributionPoint.
    pub issuing_distribution_point: Option<IssuingDistributionPoint>,
    /// authorityKeyIdentifier's keyIdentifier.
    pub authority_key_id: Option<Vec<u8>>,
    /// signatureAlgorithm.
    pub signature_algorithm: AlgorithmIdentifierOwned,
    /// Number of entries.
    pub entry_count: usize,
}

impl CrlMeta {
    /// Whether this is a delta CRL.
    pub fn is_delta(&self) -> bool {
        self.base_crl_number.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crl::tlv::tlv;

    const ALG: &[u8] = &[0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70]; // Ed25519
    const NAME: &[u8] = &[0x30, 0x00];

    fn t(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        tlv(&mut v, tag, content);
        v
    }

    fn ext(oid: &[u8], critical: bool, value: &[u8]) -> Vec<u8> {
        let mut e = t(tlv::OID, oid);
        if critical {
            e.extend_from_slice(&[0x01, 0x01, 0xFF]);
        }
        e.extend(t(tlv::OCTET_STRING, value));
        t(tlv::SEQUENCE, &e)
    }

    /// A CRL from parts: version content (None = v1), entries, CRL extensions.
    fn crl(
        version: Option<&[u8]>,
        entries: &[Vec<u8>],
        exts: &[Vec<u8>],
        inner_alg: &[u8],
    ) -> Vec<u8> {
        let mut tbs = Vec::new();
        if let Some(v) = version {
            tbs.extend(t(tlv::INTEGER, v));
        }
        tbs.extend_from_slice(inner_alg);
        tbs.extend_from_slice(NAME);
        tbs.extend(t(tlv::UTC_TIME, b"240101000000Z"));
        tbs.extend(t(tlv::GENERALIZED_TIME, b"20240108000000Z"));
        if !entries.is_empty() {
            tbs.extend(t(tlv::SEQUENCE, &entries.concat()));
        }
        if !exts.is_empty() {
            tbs.extend(t(0xA0, &t(tlv::SEQUENCE, &exts.concat())));
        }
        let mut body = t(tlv::SEQUENCE, &tbs);
        body.extend_from_slice(ALG);
        body.extend(t(tlv::BIT_STRING, &[0, 1, 2, 3]));
        t(tlv::SEQUENCE, &body)
    }

    fn entry(serial: &[u8], exts: &[Vec<u8>]) -> Vec<u8> {
        let mut e = t(tlv::INTEGER, serial);
        e.extend(t(tlv::UTC_TIME, b"231231000000Z"));
        if !exts.is_empty() {
            e.extend(t(tlv::SEQUENCE, &exts.concat()));
        }
        t(tlv::SEQUENCE, &e)
    }

    fn p(der: &[u8]) -> Result<Crl<'_>, CrlError> {
        parse(der, &CrlLimits::default())
    }

    const REASON_KC: &[u8] = &[0x0A, 0x01, 0x01];

    #[test]
    fn accepts_v1_and_v2() {
        let v1 = crl(None, &[entry(&[5], &[])], &[], ALG);
        let c = p(&v1).unwrap();
        assert_eq!((c.version, c.entry_count), (CrlVersion::V1, 1));
        assert_eq!(c.this_update, Timestamp(1_704_067_200));
        assert_eq!(c.next_update, Some(Timestamp(1_704_067_200 + 7 * 86_400)));
        let v2 = crl(
            Some(&[1]),
            &[entry(&[5], &[ext(OID_REASON, false, REASON_KC)])],
            &[ext(OID_CRL_NUMBER, false, &t(tlv::INTEGER, &[0x00, 0x80]))],
            ALG,
        );
        let c = p(&v2).unwrap();
        assert_eq!(c.crl_number, Some(CrlNumber::from_u128(128)));
        let e = c.entries().next().unwrap().unwrap();
        assert_eq!(e.reason, Some(RevocationReason::KeyCompromise));
        // Unknown non-critical extensions are ignored at both levels.
        let unknown = ext(
            &[0x2B, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x15, 0x04],
            false,
            &[0x05, 0x00],
        );
        let ok = crl(
            Some(&[1]),
            &[entry(&[5], std::slice::from_ref(&unknown))],
            &[unknown],
            ALG,
        );
        assert!(p(&ok).is_ok());
    }

    #[test]
    fn refuses_what_it_cannot_vouch_for() {
        let unknown = [0x2B, 0x06, 0x01, 0x04, 0x01, 0x99, 0x01];
        let crit = ext(&unknown, true, &[0x05, 0x00]);
        assert!(matches!(
            p(&crl(Some(&[1]), &[], std::slice::from_ref(&crit), ALG)),
            Err(CrlError::UnknownCriticalExtension { entry: None, .. })
        ));
        assert!(matches!(
            p(&crl(
                Some(&[1]),
                &[entry(&[1], &[]), entry(&[2], &[crit])],
                &[],
                ALG
            )),
            Err(CrlError::UnknownCriticalExtension { entry: Some(1), .. })
        ));
        let issuer = ext(OID_CERT_ISSUER, true, &t(tlv::SEQUENCE, &t(0xA4, NAME)));
        assert!(matches!(
            p(&crl(Some(&[1]), &[entry(&[1], &[issuer])], &[], ALG)),
            Err(CrlError::Unsupported(_))
        ));
        let indirect = ext(OID_IDP, true, &t(tlv::SEQUENCE, &[0x84, 0x01, 0xFF]));
        assert!(matches!(
            p(&crl(Some(&[1]), &[], &[indirect], ALG)),
            Err(CrlError::Unsupported(_))
        ));
        let n = ext(OID_CRL_NUMBER, false, &t(tlv::INTEGER, &[1]));
        assert!(matches!(
            p(&crl(Some(&[1]), &[], &[n.clone(), n], ALG)),
            Err(CrlError::DuplicateExtension(_))
        ));
        let r = ext(OID_REASON, false, REASON_KC);
        assert!(matches!(
            p(&crl(Some(&[1]), &[entry(&[1], &[r.clone(), r])], &[], ALG)),
            Err(CrlError::DuplicateExtension(_))
        ));
        // Reason 7 is not defined; negative and over-long CRL numbers.
        let r7 = ext(OID_REASON, false, &[0x0A, 0x01, 0x07]);
        assert!(p(&crl(Some(&[1]), &[entry(&[1], &[r7])], &[], ALG)).is_err());
        let neg = ext(OID_CRL_NUMBER, false, &t(tlv::INTEGER, &[0x80]));
        assert!(p(&crl(Some(&[1]), &[], &[neg], ALG)).is_err());
        let long = ext(OID_CRL_NUMBER, false, &t(tlv::INTEGER, &[0x01; 21]));
        assert!(p(&crl(Some(&[1]), &[], &[long], ALG)).is_err());
        // Version 0 present, version 3; TBS algorithm differs from the outer one.
        assert!(p(&crl(Some(&[0]), &[], &[], ALG)).is_err());
        assert!(p(&crl(Some(&[2]), &[], &[], ALG)).is_err());
        let other_alg = [0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x71];
        assert!(p(&crl(None, &[], &[], &other_alg)).is_err());
        // A non-minimal serial, an empty extension list.
        assert!(p(&crl(None, &[entry(&[0, 1], &[])], &[], ALG)).is_err());
        assert!(p(&crl(Some(&[1]), &[], &[t(tlv::SEQUENCE, &[])], ALG)).is_err());
    }

    #[test]
    fn reads_idp_aki_and_delta() {
        let mut names = t(0x86, b"http://a.test/1.crl");
        names.extend(t(0x87, &[10, 0, 0, 1]));
        let mut idp = t(0xA0, &t(0xA0, &names));
        idp.extend_from_slice(&[0x82, 0x01, 0xFF]);
        idp.extend(t(0x83, &[0x07, 0x80]));
        let exts = [
            ext(OID_AKI, false, &t(tlv::SEQUENCE, &t(0x80, &[9; 4]))),
            ext(OID_CRL_NUMBER, false, &t(tlv::INTEGER, &[7])),
            ext(OID_DELTA, true, &t(tlv::INTEGER, &[6])),
            ext(OID_IDP, true, &t(tlv::SEQUENCE, &idp)),
        ];
        let der = crl(Some(&[1]), &[], &exts, ALG);
        let c = p(&der).unwrap();
        assert_eq!(c.authority_key_id, Some(&[9u8; 4][..]));
        assert_eq!(c.base_crl_number, Some(CrlNumber::from_u128(6)));
        let i = c.issuing_distribution_point.as_ref().unwrap();
        assert_eq!(i.full_name_uris, vec!["http://a.test/1.crl".to_string()]);
        assert!(i.other_names && i.only_ca_certs && !i.only_user_certs);
        assert_eq!(i.only_some_reasons, Some(1)); // bit 0 (unused)
        assert!(c.is_delta() && c.meta().is_delta());
    }

    #[test]
    fn pem_is_decoded() {
        let der = crl(None, &[entry(&[5], &[])], &[], ALG);
        let pem = der::pem::encode_string("X509 CRL", der::pem::LineEnding::LF, &der).unwrap();
        let text = format!("Issuer: somebody\n{pem}");
        assert_eq!(
            decode(text.as_bytes(), &CrlLimits::default())
                .unwrap()
                .as_ref(),
            der.as_slice()
        );
        let crlf = der::pem::encode_string("X509 CRL", der::pem::LineEnding::CRLF, &der).unwrap();
        assert_eq!(
            decode(crlf.as_bytes(), &CrlLimits::default())
                .unwrap()
                .as_ref(),
            der.as_slice()
        );
        let cert = der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, &der).unwrap();
        assert!(decode(cert.as_bytes(), &CrlLimits::default()).is_err());
        assert!(decode(b"garbage", &CrlLimits::default()).is_err());
    }
}
