//! CertID matching (RFC 6960 §4.1.1): which issuer a CertID names, and which serial.
//!
//! A CertID names its issuer by two hashes: of the DER of the issuer's subject name, and
//! of the issuer's public key (the BIT STRING contents of subjectPublicKey, without tag,
//! length or unused-bits octet). Requests may hash with SHA-1, SHA-256, SHA-384 or
//! SHA-512; an issuer precomputes all four so matching is a comparison.

use aws_lc_rs::digest;
use const_oid::ObjectIdentifier;
use der::Encode;
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use x509_ocsp::CertId;

/// A CertID hash algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HashAlg {
    /// SHA-1, still openssl's default.
    Sha1,
    /// SHA-256, RFC 9919's choice.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl HashAlg {
    /// Every supported algorithm.
    pub const ALL: [HashAlg; 4] = [
        HashAlg::Sha1,
        HashAlg::Sha256,
        HashAlg::Sha384,
        HashAlg::Sha512,
    ];

    /// The algorithm's OID.
    pub fn oid(self) -> ObjectIdentifier {
        use const_oid::db::rfc5912;
        match self {
            HashAlg::Sha1 => rfc5912::ID_SHA_1,
            HashAlg::Sha256 => rfc5912::ID_SHA_256,
            HashAlg::Sha384 => rfc5912::ID_SHA_384,
            HashAlg::Sha512 => rfc5912::ID_SHA_512,
        }
    }

    /// The algorithm an OID names, if supported.
    pub fn from_oid(oid: &ObjectIdentifier) -> Option<HashAlg> {
        HashAlg::ALL.into_iter().find(|a| a.oid() == *oid)
    }

    /// Short lower-case name: `sha1`, `sha256`, ...
    pub fn name(self) -> &'static str {
        match self {
            HashAlg::Sha1 => "sha1",
            HashAlg::Sha256 => "sha256",
            HashAlg::Sha384 => "sha384",
            HashAlg::Sha512 => "sha512",
        }
    }

    /// Parse a short name as [`HashAlg::name`] prints it (case-insensitive, `sha-256` too).
    pub fn from_name(s: &str) -> Option<HashAlg> {
        let s = s.to_ascii_lowercase().replace('-', "");
        HashAlg::ALL.into_iter().find(|a| a.name() == s)
    }

    /// Output length in octets.
    pub fn output_len(self) -> usize {
        match self {
            HashAlg::Sha1 => 20,
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
            HashAlg::Sha512 => 64,
        }
    }

    /// Hash `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        let alg = match self {
            HashAlg::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
            HashAlg::Sha256 => &digest::SHA256,
            HashAlg::Sha384 => &digest::SHA384,
            HashAlg::Sha512 => &digest::SHA512,
        };
        digest::digest(alg, data).as_ref().to_vec()
    }

    /// The AlgorithmIdentifier used in CertIDs this crate builds (parameters NULL, as
    /// openssl writes them).
    pub fn algorithm_identifier(self) -> AlgorithmIdentifierOwned {
        AlgorithmIdentifierOwned {
            oid: self.oid(),
            parameters: Some(der::asn1::Null.into()),
        }
    }
}

impl std::fmt::Display for HashAlg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The two issuer hashes of a CertID under one algorithm.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IssuerHashes {
    /// The algorithm.
    pub alg: HashAlg,
    /// Hash of the DER of the issuer's subject name.
    pub name_hash: Vec<u8>,
    /// Hash of the issuer's subjectPublicKey BIT STRING contents.
    pub key_hash: Vec<u8>,
}

impl IssuerHashes {
    /// Compute the hashes of `issuer` under `alg`.
    pub fn of(issuer: &Certificate, alg: HashAlg) -> Result<IssuerHashes, der::Error> {
        let name = issuer.tbs_certificate.subject.to_der()?;
        let key = issuer
            .tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .raw_bytes();
        Ok(IssuerHashes {
            alg,
            name_hash: alg.digest(&name),
            key_hash: alg.digest(key),
        })
    }
}

/// An issuer's hashes under every supported algorithm, so a CertID is matched without
/// hashing on the request path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuerIdentity {
    hashes: Vec<IssuerHashes>,
    /// SHA-1 hash of the issuer's public key: the byKey ResponderID when the issuer signs.
    pub key_sha1: Vec<u8>,
}

impl IssuerIdentity {
    /// Precompute the hashes of `issuer`.
    pub fn of(issuer: &Certificate) -> Result<IssuerIdentity, der::Error> {
        let hashes = HashAlg::ALL
            .into_iter()
            .map(|alg| IssuerHashes::of(issuer, alg))
            .collect::<Result<Vec<_>, _>>()?;
        let key_sha1 = HashAlg::Sha1.digest(
            issuer
                .tbs_certificate
                .subject_public_key_info
                .subject_public_key
                .raw_bytes(),
        );
        Ok(IssuerIdentity { hashes, key_sha1 })
    }

    /// The hashes under `alg`.
    pub fn hashes(&self, alg: HashAlg) -> &IssuerHashes {
        // `hashes` holds HashAlg::ALL in order.
        &self.hashes[HashAlg::ALL.iter().position(|a| *a == alg).unwrap_or(0)]
    }

    /// Whether this issuer is the one named by (`alg`, `name_hash`, `key_hash`).
    /// Both hashes must match: a re-keyed CA with the same name is another issuer.
    pub fn matches(&self, alg: HashAlg, name_hash: &[u8], key_hash: &[u8]) -> bool {
        let h = self.hashes(alg);
        h.name_hash == name_hash && h.key_hash == key_hash
    }
}

/// A certificate serial number as the magnitude octets of the DER INTEGER, big-endian,
/// without leading zero octets (zero itself is one `0x00` octet). The same serial from an
/// index file (`0A`), a request (`02 01 0A`) or a certificate compares equal.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Serial(Box<[u8]>);

impl Serial {
    /// From magnitude octets, big-endian; leading zero octets are ignored. (Index files,
    /// hex strings and DER INTEGERs known to be positive.) For the content octets of a DER
    /// INTEGER that may be negative, use [`Serial::from_integer_content`].
    pub fn from_der_content(bytes: &[u8]) -> Serial {
        let start = bytes
            .iter()
            .position(|b| *b != 0)
            .unwrap_or(bytes.len().saturating_sub(1));
        let trimmed = if bytes.is_empty() {
            &[0u8][..]
        } else {
            &bytes[start..]
        };
        Serial(trimmed.into())
    }

    /// From the content octets of a DER INTEGER, two's complement. A negative value names no
    /// certificate (RFC 5280 §4.1.2.2 serials are positive), so it is kept apart from every
    /// positive serial: it is stored as a `0x00` octet followed by its content octets, a form
    /// no magnitude takes (magnitudes carry no leading zero, and zero is the lone `0x00`).
    pub fn from_integer_content(bytes: &[u8]) -> Serial {
        match bytes.first() {
            Some(b) if b & 0x80 != 0 => {
                let mut v = Vec::with_capacity(bytes.len() + 1);
                v.push(0);
                v.extend_from_slice(bytes);
                Serial(v.into())
            }
            _ => Serial::from_der_content(bytes),
        }
    }

    /// Whether this is a negative INTEGER (see [`Serial::from_integer_content`]).
    pub fn is_negative(&self) -> bool {
        self.0.len() > 1 && self.0[0] == 0
    }

    /// From a hexadecimal string (either case, optional `0x`, even or odd length), as
    /// index.txt and `openssl x509 -serial` write it. `None` if not hex or empty.
    pub fn from_hex(s: &str) -> Option<Serial> {
        let s = s
            .strip_prefix("0x")
            .or_else(|| s.strip_prefix("0X"))
            .unwrap_or(s);
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let padded;
        let s = if s.len() % 2 == 1 {
            padded = format!("0{s}");
            padded.as_str()
        } else {
            s
        };
        hex::decode(s).ok().map(|b| Serial::from_der_content(&b))
    }

    /// From a certificate's serial number.
    pub fn of_cert(cert: &Certificate) -> Serial {
        Serial::from_integer_content(cert.tbs_certificate.serial_number.as_bytes())
    }

    /// From a CertID's serial number.
    pub fn of_cert_id(id: &CertId) -> Serial {
        Serial::from_integer_content(id.serial_number.as_bytes())
    }

    /// The magnitude octets.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The content octets of its DER INTEGER (a 0x00 octet before a set top bit; a negative
    /// INTEGER's two's complement octets as they were read), as a CRL entry carries them.
    pub fn to_integer_content(&self) -> Vec<u8> {
        if self.is_negative() {
            return self.0[1..].to_vec();
        }
        let mut v = Vec::with_capacity(self.0.len() + 1);
        if self.0.first().is_some_and(|b| b & 0x80 != 0) {
            v.push(0);
        }
        v.extend_from_slice(&self.0);
        v
    }

    /// Upper-case hex, as index.txt writes it (at least two digits); a negative INTEGER
    /// prints as `-` and its two's complement content octets.
    pub fn to_hex(&self) -> String {
        if self.is_negative() {
            return format!("-{}", hex::encode_upper(&self.0[1..]));
        }
        hex::encode_upper(&self.0)
    }

    /// As an X.509 serial number (a positive INTEGER: a 0x00 octet is prepended when the
    /// top bit is set).
    pub fn to_serial_number(&self) -> Result<x509_cert::serial_number::SerialNumber, der::Error> {
        if self.is_negative() {
            // `SerialNumber::new` takes unsigned octets; decode the INTEGER instead.
            let content = &self.0[1..];
            let len = u8::try_from(content.len())
                .ok()
                .filter(|l| *l < 0x80)
                .ok_or(der::ErrorKind::Overlength)?;
            let mut tlv = vec![0x02, len];
            tlv.extend_from_slice(content);
            return <x509_cert::serial_number::SerialNumber as der::Decode>::from_der(&tlv);
        }
        let mut v = Vec::with_capacity(self.0.len() + 1);
        if self.0.first().is_some_and(|b| b & 0x80 != 0) {
            v.push(0);
        }
        v.extend_from_slice(&self.0);
        x509_cert::serial_number::SerialNumber::new(&v)
    }
}

impl std::fmt::Debug for Serial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Serial({})", self.to_hex())
    }
}

impl std::fmt::Display for Serial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// Build the CertID of `serial` under `issuer` with `alg`.
pub fn cert_id(issuer: &Certificate, serial: &Serial, alg: HashAlg) -> Result<CertId, der::Error> {
    let h = IssuerHashes::of(issuer, alg)?;
    Ok(CertId {
        hash_algorithm: alg.algorithm_identifier(),
        issuer_name_hash: der::asn1::OctetString::new(h.name_hash)?,
        issuer_key_hash: der::asn1::OctetString::new(h.key_hash)?,
        serial_number: serial.to_serial_number()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_forms_agree() {
        let a = Serial::from_hex("0A").unwrap();
        let b = Serial::from_der_content(&[0x0A]);
        let c = Serial::from_hex("a").unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
        let d = Serial::from_der_content(&[0x00, 0x80, 0x01]);
        assert_eq!(d, Serial::from_hex("8001").unwrap());
        assert_eq!(d.to_hex(), "8001");
        assert_eq!(Serial::from_der_content(&[0]).to_hex(), "00");
        assert_eq!(Serial::from_hex("00").unwrap().to_hex(), "00");
        assert!(Serial::from_hex("").is_none());
        assert!(Serial::from_hex("zz").is_none());
    }

    #[test]
    fn negative_integers_name_no_positive_serial() {
        let neg = Serial::from_integer_content(&[0x81]);
        assert!(neg.is_negative());
        assert_ne!(neg, Serial::from_hex("81").unwrap());
        assert_ne!(neg, Serial::from_hex("0081").unwrap());
        assert_eq!(neg.to_hex(), "-81");
        assert_eq!(neg.to_serial_number().unwrap().as_bytes(), &[0x81]);
        let pos = Serial::from_integer_content(&[0x00, 0x81]);
        assert!(!pos.is_negative());
        assert_eq!(pos, Serial::from_hex("81").unwrap());
        assert!(!Serial::from_integer_content(&[0]).is_negative());
    }

    #[test]
    fn serial_number_round_trip() {
        let s = Serial::from_hex("80FF").unwrap();
        let sn = s.to_serial_number().unwrap();
        assert_eq!(sn.as_bytes(), &[0x00, 0x80, 0xFF]);
        assert_eq!(Serial::from_der_content(sn.as_bytes()), s);
        assert_eq!(s.to_integer_content(), sn.as_bytes());
        let neg = Serial::from_integer_content(&[0x81, 0x02]);
        assert_eq!(neg.to_integer_content(), vec![0x81, 0x02]);
        assert_eq!(
            Serial::from_hex("7F").unwrap().to_integer_content(),
            vec![0x7F]
        );
    }

    #[test]
    fn hash_names() {
        for a in HashAlg::ALL {
            assert_eq!(HashAlg::from_name(a.name()), Some(a));
            assert_eq!(HashAlg::from_oid(&a.oid()), Some(a));
            assert_eq!(a.digest(b"x").len(), a.output_len());
        }
        assert_eq!(HashAlg::from_name("SHA-256"), Some(HashAlg::Sha256));
    }
}
