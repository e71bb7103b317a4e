//! Whole-second timestamps and their ASN.1 forms.

mod asn1_text;

use der::asn1::GeneralizedTime;
use der::DateTime;
use std::time::Duration;
use x509_ocsp::OcspGeneralizedTime;

/// Seconds since 1970-01-01T00:00:00Z. OCSP times carry no fractions (RFC 9919 §4.2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub u64);

/// A time that cannot be encoded as GeneralizedTime (after year 9999).
#[derive(Debug, thiserror::Error)]
#[error("time {0} s after the epoch cannot be encoded as GeneralizedTime")]
pub struct TimeOutOfRange(pub u64);

impl Timestamp {
    /// The epoch itself, used as the revocation time of non-issued serials (RFC 6960 §2.2).
    pub const EPOCH: Timestamp = Timestamp(0);

    /// 9999-12-31T23:59:59Z, the last second GeneralizedTime can hold.
    pub const LAST_GENERALIZED: Timestamp = Timestamp(253_402_300_799);

    /// This time plus `secs` seconds, saturating.
    pub fn plus(self, secs: u64) -> Timestamp {
        Timestamp(self.0.saturating_add(secs))
    }

    /// This time minus `secs` seconds, saturating at the epoch.
    pub fn minus(self, secs: u64) -> Timestamp {
        Timestamp(self.0.saturating_sub(secs))
    }

    /// As a DER `GeneralizedTime` (seconds, `Z`, no fractions).
    pub fn to_generalized(self) -> Result<GeneralizedTime, TimeOutOfRange> {
        DateTime::from_unix_duration(Duration::from_secs(self.0))
            .map(GeneralizedTime::from_date_time)
            .map_err(|_| TimeOutOfRange(self.0))
    }

    /// As the OCSP wrapper of `GeneralizedTime`.
    pub fn to_ocsp(self) -> Result<OcspGeneralizedTime, TimeOutOfRange> {
        self.to_generalized().map(OcspGeneralizedTime::from)
    }

    /// From a DER `GeneralizedTime`.
    pub fn from_generalized(t: &GeneralizedTime) -> Timestamp {
        Timestamp(t.to_unix_duration().as_secs())
    }

    /// From the OCSP wrapper of `GeneralizedTime`.
    pub fn from_ocsp(t: &OcspGeneralizedTime) -> Timestamp {
        Timestamp::from_generalized(&t.0)
    }

    /// From an X.509 `Time` (UTCTime or GeneralizedTime).
    pub fn from_x509(t: &x509_cert::time::Time) -> Timestamp {
        Timestamp(t.to_unix_duration().as_secs())
    }

    /// From `YYMMDDHHMMSSZ` (UTCTime; years 50..99 are 19xx) or `YYYYMMDDHHMMSSZ`
    /// (GeneralizedTime), on or after 1970, as OpenSSL's `index.txt` holds them.
    pub fn from_asn1_text(s: &[u8]) -> Option<Timestamp> {
        asn1_text::parse(s)
    }

    /// UTCTime text for 1950..=2049, GeneralizedTime text otherwise (RFC 5280 §4.1.2.5,
    /// what `openssl ca` writes).
    pub fn to_asn1_text(self) -> String {
        asn1_text::format(self)
    }

    /// GeneralizedTime text, `YYYYMMDDHHMMSSZ`.
    pub fn to_generalized_text(self) -> String {
        asn1_text::format_generalized(self)
    }

    /// RFC 3339 form, `2026-11-24T05:33:47Z`.
    pub fn rfc3339(self) -> String {
        match DateTime::from_unix_duration(Duration::from_secs(self.0)) {
            Ok(dt) => format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                dt.year(),
                dt.month(),
                dt.day(),
                dt.hour(),
                dt.minutes(),
                dt.seconds()
            ),
            Err(_) => format!("@{}", self.0),
        }
    }

    /// RFC 7231 HTTP-date form, `Tue, 24 Nov 2026 05:33:47 GMT`.
    pub fn http_date(self) -> String {
        const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        match DateTime::from_unix_duration(Duration::from_secs(self.0)) {
            Ok(dt) => format!(
                "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
                DAYS[((self.0 / 86_400) % 7) as usize],
                dt.day(),
                MONTHS[usize::from(dt.month().clamp(1, 12)) - 1],
                dt.year(),
                dt.hour(),
                dt.minutes(),
                dt.seconds()
            ),
            Err(_) => String::from("Fri, 31 Dec 9999 23:59:59 GMT"),
        }
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let t = Timestamp(1_795_930_427); // 2026-11-29T05:33:47Z, a Sunday
        assert_eq!(t.rfc3339(), "2026-11-29T05:33:47Z");
        assert_eq!(t.http_date(), "Sun, 29 Nov 2026 05:33:47 GMT");
        assert_eq!(
            Timestamp::EPOCH.http_date(),
            "Thu, 01 Jan 1970 00:00:00 GMT"
        );
    }

    #[test]
    fn generalized_round_trip() {
        let t = Timestamp(1_700_000_000);
        let g = t.to_generalized().unwrap();
        assert_eq!(Timestamp::from_generalized(&g), t);
    }
}
