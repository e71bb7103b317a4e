//! Building requests.

use ocsp_proto::cert_id::cert_id;
use ocsp_proto::x509_ocsp::CertId;
use ocsp_proto::{HashAlg, Serial};
use x509_cert::Certificate;

/// One certificate to ask about.
#[derive(Clone, Debug)]
pub struct Target {
    /// What to call it in output: the file name, or the serial as the user wrote it.
    pub label: String,
    /// Its issuer.
    pub issuer: Certificate,
    /// Its serial.
    pub serial: Serial,
}

/// A DER request and what went into it.
#[derive(Clone, Debug)]
pub struct BuiltRequest {
    /// The DER OCSPRequest.
    pub der: Vec<u8>,
    /// The CertIDs, in the order of the targets.
    pub cert_ids: Vec<CertId>,
    /// The nonce octets, when one was included.
    pub nonce: Option<Vec<u8>>,
}

/// 32 random octets, as RFC 9654 recommends for clients.
pub fn random_nonce() -> Result<Vec<u8>, String> {
    let mut n = vec![0u8; 32];
    aws_lc_rs::rand::fill(&mut n).map_err(|_| "the system random generator failed".to_string())?;
    Ok(n)
}

/// Build one request for all `targets`, hashing with `alg`, with `nonce` when given.
pub fn build_request(
    targets: &[Target],
    alg: HashAlg,
    nonce: Option<Vec<u8>>,
) -> Result<BuiltRequest, ocsp_proto::der::Error> {
    let cert_ids = targets
        .iter()
        .map(|t| cert_id(&t.issuer, &t.serial, alg))
        .collect::<Result<Vec<_>, _>>()?;
    let der = ocsp_proto::request::build(&cert_ids, nonce.as_deref())?;
    Ok(BuiltRequest {
        der,
        cert_ids,
        nonce,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use der::Decode;

    #[test]
    fn builds_a_parseable_request() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let p = rcgen::CertificateParams::new(vec![]).unwrap();
        let ca = Certificate::from_der(p.self_signed(&key).unwrap().der()).unwrap();
        let targets: Vec<Target> = ["01", "02"]
            .iter()
            .map(|s| Target {
                label: s.to_string(),
                issuer: ca.clone(),
                serial: Serial::from_hex(s).unwrap(),
            })
            .collect();
        let n = random_nonce().unwrap();
        assert_eq!(n.len(), 32);
        let r = build_request(&targets, HashAlg::Sha256, Some(n.clone())).unwrap();
        let parsed = ocsp_proto::request::parse(&r.der, &Default::default()).unwrap();
        assert_eq!(parsed.items.len(), 2);
        assert_eq!(parsed.items[0].alg, Some(HashAlg::Sha256));
        assert_eq!(parsed.nonce, Some(n));
        assert_ne!(random_nonce().unwrap(), random_nonce().unwrap());
    }
}
