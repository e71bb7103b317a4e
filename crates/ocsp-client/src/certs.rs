//! Certificates, serial numbers and AIA URLs from user input.

use der::Decode;
use ocsp_proto::const_oid::db::rfc5280::ID_AD_OCSP;
use ocsp_proto::Serial;
use std::path::{Path, PathBuf};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::AuthorityInfoAccessSyntax;
use x509_cert::Certificate;

/// A certificate file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CertsError {
    /// The file could not be read.
    #[error("{}: cannot read: {source}: check the path of the certificate file", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file holds no certificate in PEM or DER.
    #[error("{}: not a certificate in PEM or DER: {reason}: give a certificate file (PEM `CERTIFICATE` blocks or DER), as `openssl ca` or `openssl x509` writes it", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The file holds no certificate at all.
    #[error("{}: no certificate found: give a file with a PEM `CERTIFICATE` block or a DER certificate", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
}

/// Parse certificates from bytes: one or more PEM `CERTIFICATE` blocks (other blocks are
/// skipped), or one or more concatenated DER certificates.
pub fn parse_certs(bytes: &[u8]) -> Result<Vec<Certificate>, String> {
    let text_start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(0);
    if bytes[text_start..].starts_with(b"-----BEGIN")
        || find(bytes, b"-----BEGIN CERTIFICATE-----").is_some()
    {
        let mut out = Vec::new();
        let mut rest = bytes;
        while let Some(start) = find(rest, b"-----BEGIN CERTIFICATE-----") {
            let block = &rest[start..];
            let end_marker = b"-----END CERTIFICATE-----";
            let Some(end) = find(block, end_marker) else {
                return Err("a BEGIN CERTIFICATE line has no matching END line".into());
            };
            let block_end = end + end_marker.len();
            let (label, der) =
                der::pem::decode_vec(&block[..block_end]).map_err(|e| format!("bad PEM: {e}"))?;
            if label != "CERTIFICATE" {
                return Err(format!("unexpected PEM label {label}"));
            }
            out.push(Certificate::from_der(&der).map_err(|e| e.to_string())?);
            rest = &block[block_end..];
        }
        return Ok(out);
    }
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let mut reader = der::SliceReader::new(rest).map_err(|e| e.to_string())?;
        let cert: Certificate = der::Decode::decode(&mut reader).map_err(|e| e.to_string())?;
        let used = u32::from(der::Reader::position(&reader)) as usize;
        out.push(cert);
        rest = &rest[used..];
    }
    Ok(out)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Read the certificates in `path` (see [`parse_certs`]); at least one.
pub fn load_certs(path: &Path) -> Result<Vec<Certificate>, CertsError> {
    let bytes = std::fs::read(path).map_err(|source| CertsError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let certs = parse_certs(&bytes).map_err(|reason| CertsError::Parse {
        path: path.to_path_buf(),
        reason,
    })?;
    if certs.is_empty() {
        return Err(CertsError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

/// Parse a serial number: decimal (`4096`) or hexadecimal with `0x` (`0x1000`).
pub fn parse_serial(s: &str) -> Option<Serial> {
    let s = s.trim();
    if s.starts_with("0x") || s.starts_with("0X") {
        return Serial::from_hex(s);
    }
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Decimal to big-endian magnitude octets, any length.
    let mut bytes: Vec<u8> = vec![0];
    for d in s.bytes().map(|b| b - b'0') {
        let mut carry = u32::from(d);
        for b in bytes.iter_mut().rev() {
            let v = u32::from(*b) * 10 + carry;
            *b = (v & 0xFF) as u8;
            carry = v >> 8;
        }
        while carry > 0 {
            bytes.insert(0, (carry & 0xFF) as u8);
            carry >>= 8;
        }
    }
    Some(Serial::from_der_content(&bytes))
}

/// The OCSP URLs of the certificate's Authority Information Access extension, in order.
pub fn aia_ocsp_urls(cert: &Certificate) -> Vec<String> {
    let Ok(Some((_, aia))) = cert.tbs_certificate.get::<AuthorityInfoAccessSyntax>() else {
        return Vec::new();
    };
    aia.0
        .iter()
        .filter(|ad| ad.access_method == ID_AD_OCSP)
        .filter_map(|ad| match &ad.access_location {
            GeneralName::UniformResourceIdentifier(u) => Some(u.to_string()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn serials() {
        assert_eq!(parse_serial("4096").unwrap().to_hex(), "1000");
        assert_eq!(parse_serial("0x1000").unwrap().to_hex(), "1000");
        assert_eq!(parse_serial("0").unwrap().to_hex(), "00");
        assert_eq!(parse_serial("255").unwrap().to_hex(), "FF");
        assert_eq!(parse_serial("256").unwrap().to_hex(), "0100");
        assert_eq!(
            parse_serial("340282366920938463463374607431768211456")
                .unwrap()
                .to_hex(),
            "0100000000000000000000000000000000"
        );
        assert!(parse_serial("12a").is_none());
        assert!(parse_serial("").is_none());
        assert!(parse_serial("0xzz").is_none());
        assert!(parse_serial("-1").is_none());
    }

    #[test]
    fn pem_and_der_chains() {
        let mut pem = String::new();
        let mut der = Vec::new();
        for cn in ["a", "b"] {
            let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
            let mut p = rcgen::CertificateParams::new(vec![]).unwrap();
            p.distinguished_name.push(rcgen::DnType::CommonName, cn);
            let c = p.self_signed(&key).unwrap();
            pem.push_str("junk before\n");
            pem.push_str(&c.pem());
            der.extend_from_slice(c.der());
        }
        let a = parse_certs(pem.as_bytes()).unwrap();
        let b = parse_certs(&der).unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!(a, b);
        assert!(parse_certs(b"\x30\x03\x02\x01\x01").is_err());
    }
}
