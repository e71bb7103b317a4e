//! A minimal DER reader for the CRL walk: tag, definite minimal length, content.
//!
//! Only what a CertificateList uses: single-octet tags (tag numbers ≤ 30), definite
//! lengths in their shortest form (DER, X.690 §10.1), at most four length octets. Every
//! read is bounds-checked against the slice it walks, so a length can never point past
//! the input; nothing is allocated. Times are decoded here too: `UTCTime` (two-digit years
//! 1950–2049) and `GeneralizedTime`, both `Z`-terminated with seconds and no fractions, as
//! RFC 5280 §4.1.2.5 requires of DER certificates and CRLs.

use crate::Timestamp;

/// Universal tags the walk meets.
pub(crate) const BOOLEAN: u8 = 0x01;
pub(crate) const INTEGER: u8 = 0x02;
pub(crate) const BIT_STRING: u8 = 0x03;
pub(crate) const OCTET_STRING: u8 = 0x04;
pub(crate) const OID: u8 = 0x06;
pub(crate) const ENUMERATED: u8 = 0x0A;
pub(crate) const UTC_TIME: u8 = 0x17;
pub(crate) const GENERALIZED_TIME: u8 = 0x18;
pub(crate) const SEQUENCE: u8 = 0x30;

/// What is wrong with an encoding, with the offset (from the start of the walked slice
/// given to [`Reader::new`]) where it was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TlvError {
    pub(crate) at: usize,
    pub(crate) what: &'static str,
}

/// A cursor over DER octets.
#[derive(Clone, Debug)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Offset of `buf[0]` in the outermost input, for error messages.
    base: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader {
            buf,
            pos: 0,
            base: 0,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// Offset of the cursor in the outermost input.
    pub(crate) fn offset(&self) -> usize {
        self.base + self.pos
    }

    pub(crate) fn err(&self, what: &'static str) -> TlvError {
        TlvError {
            at: self.offset(),
            what,
        }
    }

    /// The next tag octet, without consuming it.
    pub(crate) fn peek_tag(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    /// Read one TLV: (tag, content, whole TLV octets).
    pub(crate) fn any(&mut self) -> Result<(u8, Reader<'a>, &'a [u8]), TlvError> {
        let start = self.pos;
        let tag = *self
            .buf
            .get(self.pos)
            .ok_or_else(|| self.err("truncated: tag expected"))?;
        if tag & 0x1F == 0x1F {
            return Err(self.err("multi-octet tag"));
        }
        self.pos += 1;
        let first = *self
            .buf
            .get(self.pos)
            .ok_or_else(|| self.err("truncated: length expected"))?;
        self.pos += 1;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7F);
            if n == 0 {
                return Err(self.err("indefinite length (BER, not DER)"));
            }
            if n > 4 {
                return Err(self.err("length of more than four octets"));
            }
            let octets = self
                .buf
                .get(self.pos..self.pos + n)
                .ok_or_else(|| self.err("truncated length"))?;
            if octets[0] == 0 {
                return Err(self.err("length not in its shortest form"));
            }
            let len = octets
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            if len < 0x80 {
                return Err(self.err("length not in its shortest form"));
            }
            self.pos += n;
            len
        };
        let content_start = self.pos;
        let end = content_start
            .checked_add(len)
            .filter(|e| *e <= self.buf.len())
            .ok_or_else(|| self.err("length runs past the end of its container"))?;
        self.pos = end;
        Ok((
            tag,
            Reader {
                buf: &self.buf[content_start..end],
                pos: 0,
                base: self.base + content_start,
            },
            &self.buf[start..end],
        ))
    }

    /// Read one TLV that must carry `tag`.
    pub(crate) fn expect(&mut self, tag: u8, what: &'static str) -> Result<Reader<'a>, TlvError> {
        let at = self.offset();
        let (t, content, _) = self.any()?;
        if t != tag {
            return Err(TlvError { at, what });
        }
        Ok(content)
    }

    /// Like [`Reader::expect`], returning the whole TLV octets as well.
    pub(crate) fn expect_tlv(
        &mut self,
        tag: u8,
        what: &'static str,
    ) -> Result<(Reader<'a>, &'a [u8]), TlvError> {
        let at = self.offset();
        let (t, content, tlv) = self.any()?;
        if t != tag {
            return Err(TlvError { at, what });
        }
        Ok((content, tlv))
    }

    /// Read an optional TLV carrying `tag`.
    pub(crate) fn optional(&mut self, tag: u8) -> Result<Option<Reader<'a>>, TlvError> {
        if self.peek_tag() == Some(tag) {
            self.any().map(|(_, c, _)| Some(c))
        } else {
            Ok(None)
        }
    }

    /// The remaining octets (the content of a TLV read by [`Reader::any`]).
    pub(crate) fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos.min(self.buf.len())..]
    }

    /// Fail unless everything was read.
    pub(crate) fn finish(&self, what: &'static str) -> Result<(), TlvError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self.err(what))
        }
    }

    /// The content of an INTEGER: non-empty and minimal (X.690 §8.3.2).
    pub(crate) fn integer(&mut self, what: &'static str) -> Result<&'a [u8], TlvError> {
        let c = self.expect(INTEGER, what)?;
        let v = c.rest();
        check_integer(v).map_err(|w| c.err(w))?;
        Ok(v)
    }

    /// A DER BOOLEAN (0x00 or 0xFF) under `tag`.
    pub(crate) fn boolean_tagged(&mut self, tag: u8) -> Result<bool, TlvError> {
        let c = self.expect(tag, "BOOLEAN expected")?;
        match c.rest() {
            [0x00] => Ok(false),
            [0xFF] => Ok(true),
            _ => Err(c.err("BOOLEAN that is not 0x00 or 0xFF")),
        }
    }

    /// A UTCTime or GeneralizedTime.
    pub(crate) fn time(&mut self) -> Result<Timestamp, TlvError> {
        let at = self.offset();
        let (tag, c, _) = self.any()?;
        let v = c.rest();
        let r = match tag {
            UTC_TIME => parse_utc_time(v),
            GENERALIZED_TIME => parse_generalized_time(v),
            _ => Err("UTCTime or GeneralizedTime expected"),
        };
        r.map_err(|what| TlvError { at, what })
    }

    /// An optional time (`nextUpdate`, present when the next tag is a time tag).
    pub(crate) fn optional_time(&mut self) -> Result<Option<Timestamp>, TlvError> {
        match self.peek_tag() {
            Some(UTC_TIME | GENERALIZED_TIME) => self.time().map(Some),
            _ => Ok(None),
        }
    }
}

/// Whether `v` is the content of a DER INTEGER.
pub(crate) fn check_integer(v: &[u8]) -> Result<(), &'static str> {
    match v {
        [] => Err("empty INTEGER"),
        [0x00, b, ..] if b & 0x80 == 0 => Err("INTEGER not in its shortest form"),
        [0xFF, b, ..] if b & 0x80 != 0 => Err("INTEGER not in its shortest form"),
        _ => Ok(()),
    }
}

fn digits<const N: usize>(v: &[u8]) -> Result<u32, &'static str> {
    let mut n = 0u32;
    for b in v.iter().take(N) {
        if !b.is_ascii_digit() {
            return Err("time with a non-digit");
        }
        n = n * 10 + u32::from(b - b'0');
    }
    Ok(n)
}

/// `YYMMDDHHMMSSZ`.
pub(crate) fn parse_utc_time(v: &[u8]) -> Result<Timestamp, &'static str> {
    if v.len() != 13 || v[12] != b'Z' {
        return Err("UTCTime not of the form YYMMDDHHMMSSZ");
    }
    let yy = digits::<2>(&v[0..2])?;
    let year = if yy >= 50 { 1900 + yy } else { 2000 + yy };
    civil(year, &v[2..12])
}

/// `YYYYMMDDHHMMSSZ`.
pub(crate) fn parse_generalized_time(v: &[u8]) -> Result<Timestamp, &'static str> {
    if v.len() != 15 || v[14] != b'Z' {
        return Err("GeneralizedTime not of the form YYYYMMDDHHMMSSZ");
    }
    let year = digits::<4>(&v[0..4])?;
    civil(year, &v[4..14])
}

/// `MMDDHHMMSS` of `year` as seconds since the epoch.
fn civil(year: u32, v: &[u8]) -> Result<Timestamp, &'static str> {
    let month = digits::<2>(&v[0..2])?;
    let day = digits::<2>(&v[2..4])?;
    let hour = digits::<2>(&v[4..6])?;
    let min = digits::<2>(&v[6..8])?;
    let sec = digits::<2>(&v[8..10])?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return Err("time with an impossible date");
    }
    if hour > 23 || min > 59 || sec > 59 {
        return Err("time with an impossible time of day");
    }
    if year < 1970 {
        return Err("time before 1970");
    }
    let days = days_from_civil(year, month, day);
    Ok(Timestamp(
        days * 86_400 + u64::from(hour) * 3600 + u64::from(min) * 60 + u64::from(sec),
    ))
}

fn is_leap(y: u32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: u32, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (year ≥ 1970).
fn days_from_civil(y: u32, m: u32, d: u32) -> u64 {
    // Howard Hinnant's algorithm, on non-negative eras only (year ≥ 1970).
    let y = u64::from(if m <= 2 { y - 1 } else { y });
    let m = u64::from(m);
    let d = u64::from(d);
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Write a DER header (tag and length) for `len` content octets.
pub(crate) fn header(out: &mut Vec<u8>, tag: u8, len: usize) {
    out.push(tag);
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = (len as u64).to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (8 - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

/// Write a whole TLV.
pub(crate) fn tlv(out: &mut Vec<u8>, tag: u8, content: &[u8]) {
    header(out, tag, content.len());
    out.extend_from_slice(content);
}

/// Write a time as RFC 5280 §5.1.2.4 asks: UTCTime through 2049, GeneralizedTime after.
pub(crate) fn write_time(
    out: &mut Vec<u8>,
    t: Timestamp,
) -> Result<(), crate::time::TimeOutOfRange> {
    let g = t.to_generalized()?;
    let dt = g.to_date_time();
    let year = dt.year();
    let mut s = [0u8; 15];
    let mut put = |at: usize, v: u32, n: usize| {
        let mut v = v;
        for i in (0..n).rev() {
            s[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, u32::from(year), 4);
    put(4, u32::from(dt.month()), 2);
    put(6, u32::from(dt.day()), 2);
    put(8, u32::from(dt.hour()), 2);
    put(10, u32::from(dt.minutes()), 2);
    put(12, u32::from(dt.seconds()), 2);
    if (1950..2050).contains(&year) {
        header(out, UTC_TIME, 13);
        out.extend_from_slice(&s[2..14]);
    } else {
        header(out, GENERALIZED_TIME, 15);
        out.extend_from_slice(&s[..14]);
    }
    out.push(b'Z');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_agree_with_der() {
        for t in [
            0u64,
            951_782_400,
            1_700_000_000,
            2_524_607_999,
            2_524_608_000,
            4_102_444_800,
            253_402_300_799,
        ] {
            let mut out = Vec::new();
            write_time(&mut out, Timestamp(t)).unwrap();
            let got = Reader::new(&out).time().unwrap();
            assert_eq!(got, Timestamp(t), "{t}");
        }
        // 2000-02-29 (leap), 2100-02-28.
        assert_eq!(parse_utc_time(b"000229000000Z"), Ok(Timestamp(951_782_400)));
        assert!(parse_utc_time(b"010229000000Z").is_err());
        assert!(parse_generalized_time(b"21000229000000Z").is_err());
        assert!(parse_utc_time(b"491231235960Z").is_err());
        assert!(parse_utc_time(b"4912312359Z").is_err());
        assert!(parse_generalized_time(b"20240101000000.5Z").is_err());
        assert!(parse_generalized_time(b"19691231235959Z").is_err());
    }

    #[test]
    fn lengths_are_der() {
        assert!(Reader::new(&[0x04, 0x81, 0x05, 1, 2, 3, 4, 5])
            .any()
            .is_err());
        assert!(Reader::new(&[0x04, 0x80]).any().is_err());
        assert!(Reader::new(&[0x04, 0x82, 0x00, 0x80]).any().is_err());
        assert!(Reader::new(&[0x04, 0x03, 1, 2]).any().is_err());
        let mut v = vec![0x04, 0x81, 0x80];
        v.extend([7u8; 0x80]);
        let (tag, c, whole) = Reader::new(&v).any().unwrap();
        assert_eq!((tag, c.rest().len(), whole.len()), (0x04, 0x80, v.len()));
        let mut out = Vec::new();
        tlv(&mut out, 0x04, &[7u8; 0x80]);
        assert_eq!(out, v);
    }

    #[test]
    fn integers_are_minimal() {
        assert!(check_integer(&[]).is_err());
        assert!(check_integer(&[0, 1]).is_err());
        assert!(check_integer(&[0xFF, 0x80]).is_err());
        assert!(check_integer(&[0, 0x80]).is_ok());
        assert!(check_integer(&[0]).is_ok());
    }
}
