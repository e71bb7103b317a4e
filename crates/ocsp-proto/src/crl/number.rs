//! CRL numbers (RFC 5280 §5.2.3, §5.2.4): non-negative INTEGERs of at most 20 octets.
//!
//! A [`CrlNumber`] holds the value as 20 big-endian octets, so numbers compare, hash and
//! copy as plain values and `Ord` is numeric order (what rollback protection needs). RFC
//! 5280 bounds the encoding at 20 content octets, hence values below 2¹⁵⁹; the CA/Browser
//! Forum's BR §7.2 says the same ("greater than or equal to zero and less than 2¹⁵⁹").
//! Larger, negative or non-minimal encodings are refused on both the read and the build
//! side.

use super::tlv;

/// A CRL number or a delta CRL's base CRL number.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct CrlNumber([u8; 20]);

impl CrlNumber {
    /// The largest number: 2¹⁵⁹ − 1.
    pub const MAX: CrlNumber = {
        let mut b = [0xFF; 20];
        b[0] = 0x7F;
        CrlNumber(b)
    };

    /// From an integer (every `u128` is below 2¹⁵⁹).
    pub fn from_u128(v: u128) -> CrlNumber {
        let mut b = [0u8; 20];
        b[4..].copy_from_slice(&v.to_be_bytes());
        CrlNumber(b)
    }

    /// From big-endian magnitude octets (leading zeros allowed); `None` at 2¹⁵⁹ or above.
    pub fn from_be_bytes(bytes: &[u8]) -> Option<CrlNumber> {
        let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
        let v = &bytes[start..];
        if v.len() > 20 || (v.len() == 20 && v[0] & 0x80 != 0) {
            return None;
        }
        let mut b = [0u8; 20];
        b[20 - v.len()..].copy_from_slice(v);
        Some(CrlNumber(b))
    }

    /// From the content octets of a DER INTEGER: `Err` when negative, not minimal or longer
    /// than 20 octets.
    pub fn from_integer_content(v: &[u8]) -> Result<CrlNumber, &'static str> {
        tlv::check_integer(v)?;
        if v[0] & 0x80 != 0 {
            return Err("negative CRL number");
        }
        if v.len() > 20 {
            return Err("CRL number longer than 20 octets");
        }
        CrlNumber::from_be_bytes(v).ok_or("CRL number longer than 20 octets")
    }

    /// The value as a `u128`, when it fits.
    pub fn to_u128(&self) -> Option<u128> {
        if self.0[..4].iter().any(|b| *b != 0) {
            return None;
        }
        let mut b = [0u8; 16];
        b.copy_from_slice(&self.0[4..]);
        Some(u128::from_be_bytes(b))
    }

    /// The 20 big-endian octets.
    pub fn as_be_bytes(&self) -> &[u8; 20] {
        &self.0
    }

    /// The next number; `None` past [`CrlNumber::MAX`].
    pub fn next(&self) -> Option<CrlNumber> {
        let mut b = self.0;
        for i in (0..20).rev() {
            let (v, carry) = b[i].overflowing_add(1);
            b[i] = v;
            if !carry {
                break;
            }
        }
        (b[0] & 0x80 == 0 && b != [0; 20]).then_some(CrlNumber(b))
    }

    /// The content octets of its DER INTEGER (minimal; a 0x00 octet before a set top bit).
    pub fn integer_content(&self) -> Vec<u8> {
        let start = self.0.iter().position(|b| *b != 0).unwrap_or(19);
        let mut v = Vec::with_capacity(21 - start);
        if self.0[start] & 0x80 != 0 {
            v.push(0);
        }
        v.extend_from_slice(&self.0[start..]);
        v
    }
}

impl std::fmt::Display for CrlNumber {
    /// Decimal when it fits 128 bits (every number a CA counts or takes from a clock), else
    /// `0x` and hex.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.to_u128() {
            Some(v) => write!(f, "{v}"),
            None => {
                let start = self.0.iter().position(|b| *b != 0).unwrap_or(19);
                write!(f, "0x{}", hex::encode_upper(&self.0[start..]))
            }
        }
    }
}

impl std::fmt::Debug for CrlNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CrlNumber({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_and_encoding() {
        let a = CrlNumber::from_u128(255);
        assert_eq!(a.integer_content(), vec![0x00, 0xFF]);
        assert_eq!(CrlNumber::from_integer_content(&[0x00, 0xFF]), Ok(a));
        assert!(CrlNumber::from_integer_content(&[0xFF]).is_err());
        assert!(CrlNumber::from_integer_content(&[0x00, 0x01]).is_err());
        assert!(CrlNumber::from_u128(256) > a);
        assert_eq!(CrlNumber::from_u128(0).integer_content(), vec![0]);
        assert_eq!(a.next(), Some(CrlNumber::from_u128(256)));
        assert_eq!(CrlNumber::MAX.next(), None);
        assert_eq!(CrlNumber::MAX.integer_content().len(), 20);
        assert!(CrlNumber::from_be_bytes(&[0x80; 20]).is_none());
        let mut big = vec![0x00];
        big.extend([0xFF; 20]);
        assert!(CrlNumber::from_integer_content(&big).is_err());
        assert_eq!(CrlNumber::from_u128(10).to_string(), "10");
        assert_eq!(CrlNumber::MAX.to_string().len(), 42);
    }
}
