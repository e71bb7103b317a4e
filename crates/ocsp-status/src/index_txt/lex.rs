//! The leaf under the index parser and its table: scan errors, hex digits and serials
//! from hex. Imports nothing from its siblings, so `parse` and `table` both build on it
//! without importing each other.

use super::IndexError;
use ocsp_proto::Serial;
use std::path::Path;

/// A problem found while scanning, before the path is attached.
#[derive(Debug)]
pub(crate) struct ScanError {
    pub line: Option<usize>,
    pub reason: String,
}

impl ScanError {
    pub(crate) fn at(line: usize, reason: String) -> ScanError {
        ScanError {
            line: Some(line),
            reason,
        }
    }

    pub(crate) fn into_index_error(self, path: &Path) -> IndexError {
        IndexError {
            path: path.to_path_buf(),
            line: self.line,
            reason: self.reason,
        }
    }
}

/// The index of the first `needle` in `hay`, eight bytes at a time (the hot loop of a
/// load: every byte of the file passes through here twice).
#[inline]
pub(crate) fn find_byte(hay: &[u8], needle: u8) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let pattern = LO * u64::from(needle);
    let mut chunks = hay.chunks_exact(8);
    let mut offset = 0usize;
    for chunk in chunks.by_ref() {
        let Ok(bytes) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let x = u64::from_le_bytes(bytes) ^ pattern;
        // A zero byte in x is a match; the lowest flagged byte is the first match (false
        // positives can only appear above a true one).
        let found = x.wrapping_sub(LO) & !x & HI;
        if found != 0 {
            return Some(offset + (found.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    hay[offset..]
        .iter()
        .position(|&b| b == needle)
        .map(|p| offset + p)
}

/// A serial from hex digits already checked by `parse_line`.
pub(crate) fn serial_from_hex(hex: &[u8]) -> Serial {
    Serial::from_der_content(&hex_magnitude(strip_zero_digits(hex)))
}

/// The bytes of hex `digits` (already checked, leading zero digits stripped), an odd
/// count taking a leading half byte.
pub(crate) fn hex_magnitude(digits: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(digits.len() / 2 + 1);
    let (first, rest) = digits.split_at(digits.len() % 2);
    if let [d] = first {
        bytes.push(hex_val(*d));
    }
    for pair in rest.chunks_exact(2) {
        bytes.push(hex_val(pair[0]) << 4 | hex_val(pair[1]));
    }
    bytes
}

/// Leading `0` digits removed (all of them for zero).
pub(crate) fn strip_zero_digits(hex: &[u8]) -> &[u8] {
    let start = hex.iter().position(|&b| b != b'0').unwrap_or(hex.len());
    &hex[start..]
}

/// Hex digit values, 0xFF for bytes that are not hex digits. A table rather than
/// comparisons: serials are random, so branches on digit classes mispredict half the time.
const HEX: [u8; 256] = {
    let mut t = [0xFFu8; 256];
    let mut i = 0u8;
    while i < 16 {
        t[b"0123456789abcdef"[i as usize] as usize] = i;
        t[b"0123456789ABCDEF"[i as usize] as usize] = i;
        i += 1;
    }
    t
};

/// Whether every byte is a hex digit (no branch per byte).
pub(crate) fn is_hex(s: &[u8]) -> bool {
    s.iter().fold(0u8, |acc, &b| acc | HEX[usize::from(b)]) & 0x80 == 0
}

/// The value of a hex digit (0 for anything else; callers check digits first).
#[inline]
pub(crate) fn hex_val(d: u8) -> u8 {
    HEX[usize::from(d)] & 0x0F
}
