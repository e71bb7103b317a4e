//! The line format of OpenSSL's CA database, written by hand so that every error can name
//! its line.
//!
//! A line is six TAB-separated fields (OpenSSL's `TXT_DB`, a backslash before a TAB escapes
//! it): status flag `V`/`R`/`E`, expiry time, revocation field, serial in hex, file name
//! (usually `unknown`), subject DN. Lines starting with `#` are comments, as in `TXT_DB`.
//!
//! The revocation field is what `openssl ca` writes (`apps/ca.c`, `make_revocation_str`,
//! read back by `unpack_revinfo`): `TIME`, `TIME,reason`, `TIME,holdInstruction,OID`,
//! `TIME,keyTime,GENTIME` or `TIME,CAkeyTime,GENTIME`.

use super::lex::{find_byte, is_hex, serial_from_hex, ScanError};
use super::table::TableBuilder;
use super::IndexError;
use const_oid::ObjectIdentifier;
use ocsp_proto::{CertStatus, Revocation, RevocationReason, Serial, Timestamp};
use std::io::Read;
use std::path::Path;

/// The longest line accepted. Real lines are a few hundred bytes; a file without newlines
/// (not an index at all) must not grow a buffer without bound.
pub(crate) const MAX_LINE: usize = 64 * 1024;

/// How much of the file is read at a time (the file is never held whole in memory).
const CHUNK: usize = 1024 * 1024;

/// The field names, for messages.
const FIELD_NAMES: &str = "status flag, expiry time, revocation, serial, file name, subject";

/// The first field of a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IndexFlag {
    /// `V`: valid.
    Valid,
    /// `R`: revoked.
    Revoked,
    /// `E`: expired (what `openssl ca -updatedb` writes for a `V` entry past its notAfter).
    Expired,
}

impl IndexFlag {
    /// The letter in the file.
    pub fn letter(self) -> char {
        match self {
            IndexFlag::Valid => 'V',
            IndexFlag::Revoked => 'R',
            IndexFlag::Expired => 'E',
        }
    }
}

/// One line of an index file, fully parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    /// `V`, `R` or `E`.
    pub flag: IndexFlag,
    /// The certificate's notAfter.
    pub expires: Timestamp,
    /// The revocation, when the line carries one (always for `R`, never for `V`, and for
    /// an `E` line that was revoked before it expired).
    pub revocation: Option<Revocation>,
    /// The serial number.
    pub serial: Serial,
    /// The file name field (`unknown` unless `openssl ca` was told otherwise), TAB escapes
    /// removed. Bytes that are not UTF-8 are replaced by U+FFFD.
    pub filename: String,
    /// The subject DN as openssl printed it, TAB escapes removed. Bytes that are not UTF-8
    /// are replaced by U+FFFD.
    pub subject: String,
}

impl IndexEntry {
    /// The status this line states: `Revoked` when it carries a revocation, else `Good`.
    pub fn status(&self) -> CertStatus {
        match &self.revocation {
            Some(r) => CertStatus::Revoked(r.clone()),
            None => CertStatus::Good,
        }
    }

    /// The line as `openssl ca` would write it, without the trailing newline.
    ///
    /// Times are UTCTime for years 1950..=2049 and GeneralizedTime otherwise (as openssl
    /// writes them); invalidity dates are GeneralizedTime. TABs in the last two fields are
    /// escaped with a backslash, as `TXT_DB_write` does. An entry that [`parse`] produced
    /// prints to a line that parses back to the same entry. (A file name ending in a
    /// backslash, a newline in a field, or a revocation the format cannot express, such as
    /// an invalidity date without keyCompromise/CACompromise, cannot come from [`parse`]
    /// and is printed as well as the format allows.)
    pub fn to_line(&self) -> String {
        let revocation = match &self.revocation {
            Some(r) => revocation_field(r),
            None => String::new(),
        };
        format!(
            "{}\t{}\t{}\t{}\t{}\t{}",
            self.flag.letter(),
            self.expires.to_asn1_text(),
            revocation,
            self.serial.to_hex(),
            escape_field(&self.filename),
            escape_field(&self.subject),
        )
    }
}

/// Parse a whole index file held in memory. `path` is only used in errors.
///
/// Fails on the first bad line with [`IndexError`] naming the line, what is wrong and how
/// to fix it; a serial that appears twice is an error naming both lines. An empty file is
/// zero entries. Trailing blank lines and `#` comment lines are ignored.
pub fn parse(bytes: &[u8], path: &Path) -> Result<Vec<IndexEntry>, IndexError> {
    let mut entries = Vec::new();
    let mut keys = TableBuilder::default();
    scan(bytes, |line_no, line| {
        let raw = parse_line(line)?;
        keys.push(raw.serial, raw.revocation.as_ref(), raw.expires, line_no)?;
        entries.push(IndexEntry {
            flag: raw.flag,
            expires: raw.expires,
            revocation: raw.revocation,
            serial: serial_from_hex(raw.serial),
            filename: unescape_field(raw.filename),
            subject: unescape_field(raw.subject),
        });
        Ok(())
    })
    .map_err(|e| e.into_index_error(path))?;
    keys.finish()
        .map_err(|e| e.into_index_error(path))
        .map(|_| entries)
}

/// Feed every entry line of `reader` to `on_line` with its 1-based number, reading in
/// chunks. Comment lines are skipped; blank lines are accepted only at the end of the file;
/// a last line without a newline is an error (the file looks cut short).
pub(crate) fn scan<R: Read>(
    mut reader: R,
    mut on_line: impl FnMut(usize, &[u8]) -> Result<(), String>,
) -> Result<usize, ScanError> {
    let mut buf = vec![0u8; CHUNK];
    let mut filled = 0usize;
    let mut line_no = 0usize;
    let mut first_blank: Option<usize> = None;
    let mut eof = false;
    loop {
        if !eof {
            match reader.read(&mut buf[filled..]) {
                Ok(0) => eof = true,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(ScanError {
                        line: None,
                        reason: format!(
                            "read failed after line {line_no}: {e}; check the disk and the \
                             file's permissions"
                        ),
                    })
                }
            }
        }
        let mut start = 0usize;
        loop {
            let rest = &buf[start..filled];
            let (line, terminated, used) = match find_byte(rest, b'\n') {
                Some(i) => (&rest[..i], true, i + 1),
                None if eof && !rest.is_empty() => (rest, false, rest.len()),
                None => break,
            };
            line_no += 1;
            start += used;
            // Any run of CRs before the LF is part of the line end (CRLF, or a file that
            // went through more than one conversion): no field ends in a CR, so every
            // entry prints back (`to_line`) to a line that parses to the same entry.
            let cr = line.iter().rev().take_while(|b| **b == b'\r').count();
            let line = &line[..line.len() - cr];
            if line.len() > MAX_LINE {
                return Err(ScanError::at(line_no, too_long()));
            }
            if line.first() == Some(&b'#') {
                continue;
            }
            if line.iter().all(u8::is_ascii_whitespace) {
                first_blank.get_or_insert(line_no);
                continue;
            }
            if let Some(blank) = first_blank {
                return Err(ScanError::at(
                    blank,
                    "empty line between entries (openssl ca refuses such a file); delete it"
                        .to_string(),
                ));
            }
            if !terminated {
                return Err(ScanError::at(
                    line_no,
                    "the last line does not end with a newline, so the file looks cut short \
                     or still being written (openssl ca ignores such a line); if the line is \
                     complete, add a newline at the end of the file"
                        .to_string(),
                ));
            }
            on_line(line_no, line).map_err(|reason| ScanError::at(line_no, reason))?;
        }
        // Keep the unfinished line at the front of the buffer.
        buf.copy_within(start..filled, 0);
        filled -= start;
        if eof {
            return Ok(line_no);
        }
        if filled == buf.len() {
            // A whole chunk without a newline (the chunk is larger than MAX_LINE).
            return Err(ScanError::at(line_no + 1, too_long()));
        }
    }
}

fn too_long() -> String {
    format!(
        "line longer than {MAX_LINE} bytes: this is not an index file as openssl ca writes \
         it; point the responder at the CA's index.txt (`database` in openssl.cnf)"
    )
}

/// A line split into checked fields, borrowing the line.
pub(crate) struct RawLine<'a> {
    pub flag: IndexFlag,
    pub expires: Timestamp,
    pub revocation: Option<Revocation>,
    /// Hex digits only, at least one.
    pub serial: &'a [u8],
    /// Raw (TAB escapes still in).
    pub filename: &'a [u8],
    /// Raw (TAB escapes still in).
    pub subject: &'a [u8],
}

/// Split on TABs that are not preceded by a backslash. Returns the number of fields found
/// (up to 7: a seventh means too many).
fn split_fields(line: &[u8]) -> ([&[u8]; 6], usize) {
    let mut fields: [&[u8]; 6] = [&[]; 6];
    let mut n = 0usize;
    let mut start = 0usize;
    let mut i = 0usize;
    while let Some(off) = find_byte(&line[i..], b'\t') {
        let tab = i + off;
        i = tab + 1;
        if tab > 0 && line[tab - 1] == b'\\' {
            continue;
        }
        if n == 5 {
            return (fields, 7);
        }
        fields[n] = &line[start..tab];
        n += 1;
        start = tab + 1;
    }
    fields[n] = &line[start..];
    (fields, n + 1)
}

/// Check one line. Errors say what is wrong and how to fix it.
pub(crate) fn parse_line(line: &[u8]) -> Result<RawLine<'_>, String> {
    let (f, n) = split_fields(line);
    if n != 6 {
        let found = if n > 6 {
            "more than 6".to_string()
        } else {
            n.to_string()
        };
        return Err(format!(
            "expected 6 TAB-separated fields ({FIELD_NAMES}), found {found}; the line is \
             damaged or cut short (spaces instead of TABs?): restore it from index.txt.old \
             or rewrite it as openssl ca does"
        ));
    }
    let flag = match f[0] {
        b"V" => IndexFlag::Valid,
        b"R" => IndexFlag::Revoked,
        b"E" => IndexFlag::Expired,
        other => {
            return Err(format!(
                "status flag {} is not V, R or E; use V (valid), R (revoked) or E (expired)",
                show(other)
            ))
        }
    };
    let expires = Timestamp::from_asn1_text(f[1]).ok_or_else(|| {
        format!(
            "expiry time {} is not UTCTime YYMMDDHHMMSSZ or GeneralizedTime \
             YYYYMMDDHHMMSSZ (1970..9999); write the certificate's notAfter, e.g. \
             351231235959Z",
            show(f[1])
        )
    })?;
    let revocation = if f[2].is_empty() {
        None
    } else {
        Some(parse_revocation(f[2])?)
    };
    match (flag, &revocation) {
        (IndexFlag::Revoked, None) => {
            return Err(
                "R (revoked) entry without a revocation time; put one in the third \
                 field (e.g. 240101000000Z or 240101000000Z,keyCompromise), or mark the \
                 line V if the certificate is not revoked"
                    .to_string(),
            )
        }
        (IndexFlag::Valid, Some(_)) => {
            return Err(format!(
                "V (valid) entry with a revocation field {}; mark the line R if the \
                 certificate is revoked, or empty the third field if it is not",
                show(f[2])
            ))
        }
        _ => {}
    }
    let serial = f[3];
    if serial.is_empty() {
        return Err(
            "empty serial; write the certificate's serial in hex in the fourth field \
             (openssl x509 -noout -serial prints it)"
                .to_string(),
        );
    }
    if !is_hex(serial) {
        let hint = if serial.first() == Some(&b'-') {
            "negative serial numbers are not supported (RFC 5280 requires positive ones); \
             reissue the certificate"
        } else {
            "write it in hex without prefix or separators, as openssl does (e.g. 1A2B)"
        };
        return Err(format!(
            "serial {} is not hexadecimal; {hint}",
            show(serial)
        ));
    }
    Ok(RawLine {
        flag,
        expires,
        revocation,
        serial,
        filename: f[4],
        subject: f[5],
    })
}

const REASON_NAMES: &str = "unspecified, keyCompromise, CACompromise, affiliationChanged, \
     superseded, cessationOfOperation, certificateHold, removeFromCRL, privilegeWithdrawn, \
     AACompromise";

fn parse_revocation(field: &[u8]) -> Result<Revocation, String> {
    let (time_s, rest) = split_comma(field);
    let time = Timestamp::from_asn1_text(time_s).ok_or_else(|| {
        format!(
            "revocation time {} is not UTCTime YYMMDDHHMMSSZ or GeneralizedTime \
             YYYYMMDDHHMMSSZ (1970..9999); write it as openssl ca does, e.g. \
             240101000000Z,keyCompromise",
            show(time_s)
        )
    })?;
    let Some(rest) = rest else {
        return Ok(Revocation::at(time));
    };
    let (reason_s, arg) = split_comma(rest);
    let mut rev = Revocation::at(time);
    if reason_s.eq_ignore_ascii_case(b"holdInstruction") {
        let arg = arg.ok_or_else(|| {
            "holdInstruction without an instruction; write e.g. \
             240101000000Z,holdInstruction,holdInstructionReject"
                .to_string()
        })?;
        let oid = hold_instruction(arg).ok_or_else(|| {
            format!(
                "hold instruction {} is not an OID; use holdInstructionNone, \
                 holdInstructionCallIssuer, holdInstructionReject or a dotted OID",
                show(arg)
            )
        })?;
        rev.reason = Some(RevocationReason::CertificateHold);
        rev.hold_instruction = Some(oid);
        return Ok(rev);
    }
    let compromise = if reason_s.eq_ignore_ascii_case(b"keyTime") {
        Some(RevocationReason::KeyCompromise)
    } else if reason_s.eq_ignore_ascii_case(b"CAkeyTime") {
        Some(RevocationReason::CaCompromise)
    } else {
        None
    };
    if let Some(reason) = compromise {
        let arg = arg.ok_or_else(|| {
            format!(
                "{} without a compromise time; write e.g. \
                 240101000000Z,keyTime,20231231000000Z",
                show(reason_s)
            )
        })?;
        let when = Timestamp::from_asn1_text(arg).ok_or_else(|| {
            format!(
                "compromise time {} is not GeneralizedTime YYYYMMDDHHMMSSZ (1970..9999); \
                 write it as openssl ca -crl_compromise does, e.g. 20231231000000Z",
                show(arg)
            )
        })?;
        rev.reason = Some(reason);
        rev.invalidity_date = Some(when);
        return Ok(rev);
    }
    let reason = std::str::from_utf8(reason_s)
        .ok()
        .and_then(RevocationReason::from_name)
        .ok_or_else(|| {
            format!(
                "unknown revocation reason {}; use one of {REASON_NAMES} (any case), or \
                 holdInstruction,OID / keyTime,TIME / CAkeyTime,TIME",
                show(reason_s)
            )
        })?;
    if let Some(arg) = arg {
        return Err(format!(
            "unexpected {} after reason {reason}; only holdInstruction, keyTime and \
             CAkeyTime take a third part: delete it",
            show(arg)
        ));
    }
    rev.reason = Some(reason);
    Ok(rev)
}

fn split_comma(s: &[u8]) -> (&[u8], Option<&[u8]>) {
    match s.iter().position(|&b| b == b',') {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    }
}

/// The hold instructions of RFC 5280 §5.3.2 by their OpenSSL short and long names.
const HOLD_INSTRUCTIONS: [(&str, &str, ObjectIdentifier); 3] = [
    (
        "holdInstructionNone",
        "Hold Instruction None",
        ObjectIdentifier::new_unwrap("1.2.840.10040.2.1"),
    ),
    (
        "holdInstructionCallIssuer",
        "Hold Instruction Call Issuer",
        ObjectIdentifier::new_unwrap("1.2.840.10040.2.2"),
    ),
    (
        "holdInstructionReject",
        "Hold Instruction Reject",
        ObjectIdentifier::new_unwrap("1.2.840.10040.2.3"),
    ),
];

fn hold_instruction(s: &[u8]) -> Option<ObjectIdentifier> {
    let s = std::str::from_utf8(s).ok()?;
    HOLD_INSTRUCTIONS
        .iter()
        .find(|(short, long, _)| short.eq_ignore_ascii_case(s) || long.eq_ignore_ascii_case(s))
        .map(|(_, _, oid)| *oid)
        .or_else(|| dotted_oid(s))
}

/// A dotted OID, encoded here rather than by `ObjectIdentifier::new`, whose string parser
/// in const-oid 0.9 mis-encodes some arcs (128, 16384..32767). `None` unless the result
/// prints back exactly as given.
fn dotted_oid(s: &str) -> Option<ObjectIdentifier> {
    let arcs = s
        .split('.')
        .map(|a| {
            let canonical = !a.is_empty()
                && a.bytes().all(|b| b.is_ascii_digit())
                && (a.len() == 1 || !a.starts_with('0'));
            if canonical {
                a.parse::<u64>().ok()
            } else {
                None
            }
        })
        .collect::<Option<Vec<u64>>>()?;
    // const-oid holds arcs below 2^28 (its Display panics on larger ones it decoded).
    const MAX_ARC: u64 = (1 << 28) - 1;
    if arcs.len() < 2
        || arcs[0] > 2
        || (arcs[0] < 2 && arcs[1] > 39)
        || arcs[0] * 40 + arcs[1].min(MAX_ARC + 1) > MAX_ARC
        || arcs.iter().any(|a| *a > MAX_ARC)
    {
        return None;
    }
    let mut der = Vec::new();
    let push = |der: &mut Vec<u8>, mut v: u64| {
        let mut tmp = [0u8; 10];
        let mut i = tmp.len();
        loop {
            i -= 1;
            tmp[i] = (v & 0x7F) as u8 | if i == tmp.len() - 1 { 0 } else { 0x80 };
            v >>= 7;
            if v == 0 {
                break;
            }
        }
        der.extend_from_slice(&tmp[i..]);
    };
    push(&mut der, arcs[0].checked_mul(40)?.checked_add(arcs[1])?);
    for a in &arcs[2..] {
        push(&mut der, *a);
    }
    let exact = |o: &ObjectIdentifier| o.to_string() == s;
    // const-oid's byte decoder refuses a few legal OIDs (`0.0.0`) that its string parser
    // gets right; take either, as long as it prints back exactly.
    ObjectIdentifier::from_bytes(&der)
        .ok()
        .filter(exact)
        .or_else(|| ObjectIdentifier::new(s).ok().filter(exact))
}

fn hold_instruction_name(oid: &ObjectIdentifier) -> String {
    HOLD_INSTRUCTIONS
        .iter()
        .find(|(_, _, o)| o == oid)
        .map(|(short, _, _)| (*short).to_string())
        .unwrap_or_else(|| oid.to_string())
}

fn revocation_field(r: &Revocation) -> String {
    let t = r.time.to_asn1_text();
    match (r.reason, r.invalidity_date, &r.hold_instruction) {
        (Some(RevocationReason::KeyCompromise), Some(d), _) => {
            format!("{t},keyTime,{}", d.to_generalized_text())
        }
        (Some(RevocationReason::CaCompromise), Some(d), _) => {
            format!("{t},CAkeyTime,{}", d.to_generalized_text())
        }
        (Some(RevocationReason::CertificateHold), _, Some(oid)) => {
            format!("{t},holdInstruction,{}", hold_instruction_name(oid))
        }
        (Some(reason), _, _) => format!("{t},{}", reason.openssl_name()),
        (None, _, _) => t,
    }
}

/// A field for an error message: quoted, at most 40 characters, non-printables escaped.
fn show(s: &[u8]) -> String {
    let text = String::from_utf8_lossy(s);
    let mut out: String = text.chars().take(40).collect();
    if text.chars().count() > 40 {
        out.push('…');
    }
    format!("{out:?}")
}

fn escape_field(s: &str) -> String {
    s.replace('\t', "\\\t")
}

fn unescape_field(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    if text.contains('\t') {
        text.replace("\\\t", "\t")
    } else {
        text.into_owned()
    }
}

#[cfg(test)]
mod tests;
