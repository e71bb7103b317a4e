//! Certificate status as a responder knows it (RFC 6960 §2.2, RFC 5280 §5.3.1).

use crate::Timestamp;
use const_oid::db::rfc5280::{ID_CE_HOLD_INSTRUCTION_CODE, ID_CE_INVALIDITY_DATE};
use const_oid::ObjectIdentifier;
use der::asn1::GeneralizedTime;
use der::Decode;

/// CRLReason, numbered as in RFC 5280 §5.3.1 (7 is unused).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum RevocationReason {
    /// unspecified (0)
    Unspecified = 0,
    /// keyCompromise (1)
    KeyCompromise = 1,
    /// cACompromise (2)
    CaCompromise = 2,
    /// affiliationChanged (3)
    AffiliationChanged = 3,
    /// superseded (4)
    Superseded = 4,
    /// cessationOfOperation (5)
    CessationOfOperation = 5,
    /// certificateHold (6)
    CertificateHold = 6,
    /// removeFromCRL (8)
    RemoveFromCrl = 8,
    /// privilegeWithdrawn (9)
    PrivilegeWithdrawn = 9,
    /// aACompromise (10)
    AaCompromise = 10,
}

impl RevocationReason {
    /// Every reason, in RFC order.
    pub const ALL: [RevocationReason; 10] = [
        RevocationReason::Unspecified,
        RevocationReason::KeyCompromise,
        RevocationReason::CaCompromise,
        RevocationReason::AffiliationChanged,
        RevocationReason::Superseded,
        RevocationReason::CessationOfOperation,
        RevocationReason::CertificateHold,
        RevocationReason::RemoveFromCrl,
        RevocationReason::PrivilegeWithdrawn,
        RevocationReason::AaCompromise,
    ];

    /// The name openssl writes in index.txt and prints (`keyCompromise`, `CACompromise`, ...).
    pub fn openssl_name(self) -> &'static str {
        match self {
            RevocationReason::Unspecified => "unspecified",
            RevocationReason::KeyCompromise => "keyCompromise",
            RevocationReason::CaCompromise => "CACompromise",
            RevocationReason::AffiliationChanged => "affiliationChanged",
            RevocationReason::Superseded => "superseded",
            RevocationReason::CessationOfOperation => "cessationOfOperation",
            RevocationReason::CertificateHold => "certificateHold",
            RevocationReason::RemoveFromCrl => "removeFromCRL",
            RevocationReason::PrivilegeWithdrawn => "privilegeWithdrawn",
            RevocationReason::AaCompromise => "AACompromise",
        }
    }

    /// Parse a reason name in any case (`keycompromise`, `KeyCompromise`, ...).
    pub fn from_name(s: &str) -> Option<RevocationReason> {
        RevocationReason::ALL
            .into_iter()
            .find(|r| r.openssl_name().eq_ignore_ascii_case(s))
    }

    /// From the RFC 5280 code.
    pub fn from_code(code: u8) -> Option<RevocationReason> {
        RevocationReason::ALL.into_iter().find(|r| *r as u8 == code)
    }

    /// As x509-cert's `CrlReason`.
    pub fn to_crl_reason(self) -> x509_cert::ext::pkix::CrlReason {
        use x509_cert::ext::pkix::CrlReason as C;
        match self {
            RevocationReason::Unspecified => C::Unspecified,
            RevocationReason::KeyCompromise => C::KeyCompromise,
            RevocationReason::CaCompromise => C::CaCompromise,
            RevocationReason::AffiliationChanged => C::AffiliationChanged,
            RevocationReason::Superseded => C::Superseded,
            RevocationReason::CessationOfOperation => C::CessationOfOperation,
            RevocationReason::CertificateHold => C::CertificateHold,
            RevocationReason::RemoveFromCrl => C::RemoveFromCRL,
            RevocationReason::PrivilegeWithdrawn => C::PrivilegeWithdrawn,
            RevocationReason::AaCompromise => C::AaCompromise,
        }
    }

    /// From x509-cert's `CrlReason`.
    pub fn from_crl_reason(r: x509_cert::ext::pkix::CrlReason) -> RevocationReason {
        use x509_cert::ext::pkix::CrlReason as C;
        match r {
            C::Unspecified => RevocationReason::Unspecified,
            C::KeyCompromise => RevocationReason::KeyCompromise,
            C::CaCompromise => RevocationReason::CaCompromise,
            C::AffiliationChanged => RevocationReason::AffiliationChanged,
            C::Superseded => RevocationReason::Superseded,
            C::CessationOfOperation => RevocationReason::CessationOfOperation,
            C::CertificateHold => RevocationReason::CertificateHold,
            C::RemoveFromCRL => RevocationReason::RemoveFromCrl,
            C::PrivilegeWithdrawn => RevocationReason::PrivilegeWithdrawn,
            C::AaCompromise => RevocationReason::AaCompromise,
        }
    }
}

impl std::fmt::Display for RevocationReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.openssl_name())
    }
}

/// What is known of a revocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revocation {
    /// revocationTime.
    pub time: Timestamp,
    /// revocationReason, when known.
    pub reason: Option<RevocationReason>,
    /// invalidityDate (RFC 5280 §5.3.2): when the key is known or suspected to have been
    /// compromised (openssl's `keyTime`/`CAkeyTime`).
    pub invalidity_date: Option<Timestamp>,
    /// holdInstructionCode (RFC 5280 §5.3.2, openssl's `holdInstruction`).
    pub hold_instruction: Option<ObjectIdentifier>,
}

impl Revocation {
    /// A revocation with a time only.
    pub fn at(time: Timestamp) -> Revocation {
        Revocation {
            time,
            reason: None,
            invalidity_date: None,
            hold_instruction: None,
        }
    }
}

/// The status of one certificate, as the responder will state it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CertStatus {
    /// Not revoked (and, for a responder that knows its issued serials, issued).
    Good,
    /// Revoked.
    Revoked(Revocation),
    /// The responder does not know the certificate.
    Unknown,
}

impl CertStatus {
    /// The status stated by a SingleResponse, with the invalidity date and hold instruction
    /// from its extensions when present.
    pub fn from_single(s: &x509_ocsp::SingleResponse) -> CertStatus {
        match &s.cert_status {
            x509_ocsp::CertStatus::Good(_) => CertStatus::Good,
            x509_ocsp::CertStatus::Unknown(_) => CertStatus::Unknown,
            x509_ocsp::CertStatus::Revoked(info) => {
                let mut rev = Revocation::at(Timestamp::from_ocsp(&info.revocation_time));
                rev.reason = info
                    .revocation_reason
                    .map(RevocationReason::from_crl_reason);
                for e in s.single_extensions.iter().flatten() {
                    if e.extn_id == ID_CE_INVALIDITY_DATE {
                        if let Ok(t) = GeneralizedTime::from_der(e.extn_value.as_bytes()) {
                            rev.invalidity_date = Some(Timestamp::from_generalized(&t));
                        }
                    } else if e.extn_id == ID_CE_HOLD_INSTRUCTION_CODE {
                        if let Ok(oid) = ObjectIdentifier::from_der(e.extn_value.as_bytes()) {
                            rev.hold_instruction = Some(oid);
                        }
                    }
                }
                CertStatus::Revoked(rev)
            }
        }
    }

    /// `good`, `revoked` or `unknown`.
    pub fn name(&self) -> &'static str {
        match self {
            CertStatus::Good => "good",
            CertStatus::Revoked(_) => "revoked",
            CertStatus::Unknown => "unknown",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_names_round_trip() {
        for r in RevocationReason::ALL {
            assert_eq!(RevocationReason::from_name(r.openssl_name()), Some(r));
            assert_eq!(RevocationReason::from_code(r as u8), Some(r));
            assert_eq!(RevocationReason::from_crl_reason(r.to_crl_reason()), r);
        }
        assert_eq!(
            RevocationReason::from_name("KEYCOMPROMISE"),
            Some(RevocationReason::KeyCompromise)
        );
        assert_eq!(RevocationReason::from_code(7), None);
    }
}
