//! The compact, immutable table a snapshot serves lookups from.
//!
//! One 32-byte record per entry: the serial's magnitude left-padded to 20 octets (RFC 5280
//! caps serials at 20 octets, so the padded form is unique), held as five big-endian `u32`
//! words so that it sorts numerically without `memcmp` calls, an index
//! into the revocations (none for a good entry), the line number and the certificate's
//! expiry (seconds since 1970 in a `u32`; a later notAfter, such as `99991231235959Z`,
//! is held as "no well-defined expiration", [`Timestamp::LAST_GENERALIZED`]). Revocations take 24
//! bytes each, hold-instruction OIDs are interned. Serials longer than 20 octets (which
//! openssl accepts) go to a small side list. No per-line allocation.
//!
//! The same table serves the PostgreSQL source (`crate::postgres`), built from serials
//! rather than hex digits ([`TableBuilder::push_serial`]): there a record's `line` is its
//! position in the load, and negative serials (which a database may hold, and which no
//! magnitude can name) go to a second side list, looked up by [`Table::get_serial`].

use super::lex::{hex_magnitude, hex_val, strip_zero_digits, ScanError};
use const_oid::ObjectIdentifier;
use ocsp_proto::{CertStatus, Revocation, RevocationReason, Serial, Timestamp};
use std::sync::Arc;

const KEY_LEN: usize = 20;
type Key = [u32; KEY_LEN / 4];

fn key_of(bytes: &[u8; KEY_LEN]) -> Key {
    let mut key = [0u32; KEY_LEN / 4];
    for (k, w) in key.iter_mut().zip(bytes.chunks_exact(4)) {
        *k = u32::from_be_bytes([w[0], w[1], w[2], w[3]]);
    }
    key
}

fn bytes_of(key: &Key) -> [u8; KEY_LEN] {
    let mut bytes = [0u8; KEY_LEN];
    for (w, k) in bytes.chunks_exact_mut(4).zip(key) {
        w.copy_from_slice(&k.to_be_bytes());
    }
    bytes
}

const GOOD: u32 = u32::MAX;
const NO_TIME: u64 = u64::MAX;
const NO_REASON: u8 = u8::MAX;
const NO_HOLD: u16 = u16::MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Rec {
    key: Key,
    rev: u32,
    line: u32,
    expires: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct LongRec {
    serial: Box<[u8]>,
    rev: u32,
    line: u32,
    expires: u32,
}

fn expires_of(t: Timestamp) -> u32 {
    u32::try_from(t.0).unwrap_or(u32::MAX)
}

fn expiry(e: u32) -> Timestamp {
    if e == u32::MAX {
        Timestamp::LAST_GENERALIZED
    } else {
        Timestamp(u64::from(e))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Rev {
    time: u64,
    invalidity: u64,
    hold: u16,
    reason: u8,
}

/// The statuses of one index file, sorted by serial.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Table {
    recs: Vec<Rec>,
    long: Vec<LongRec>,
    revs: Vec<Rev>,
    holds: Vec<ObjectIdentifier>,
    /// Negative serials, in their `Serial` form (`0x00` then the content octets), sorted.
    negative: Vec<LongRec>,
}

impl Table {
    pub(crate) fn len(&self) -> usize {
        self.recs.len() + self.long.len() + self.negative.len()
    }

    pub(crate) fn revoked(&self) -> usize {
        self.revs.len()
    }

    /// Bytes held on the heap.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.recs.capacity() * std::mem::size_of::<Rec>()
            + self.revs.capacity() * std::mem::size_of::<Rev>()
            + self.holds.capacity() * std::mem::size_of::<ObjectIdentifier>()
            + self
                .long
                .iter()
                .chain(&self.negative)
                .map(|l| std::mem::size_of::<LongRec>() + l.serial.len())
                .sum::<usize>()
    }

    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    /// The status of `serial`, negative serials included (they match only themselves).
    pub(crate) fn get_serial(&self, serial: &Serial) -> Option<CertStatus> {
        if serial.is_negative() {
            let bytes = serial.as_bytes();
            let i = self
                .negative
                .binary_search_by(|l| l.serial.as_ref().cmp(bytes))
                .ok()?;
            return Some(self.status_of(self.negative[i].rev));
        }
        self.get(serial.as_bytes())
    }

    /// The status of the serial with magnitude `bytes` (leading zeros allowed), or `None`.
    pub(crate) fn get(&self, bytes: &[u8]) -> Option<CertStatus> {
        let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
        let mag = &bytes[start..];
        let rev = if mag.len() > KEY_LEN {
            let i = self
                .long
                .binary_search_by(|l| cmp_magnitude(&l.serial, mag))
                .ok()?;
            self.long[i].rev
        } else {
            let mut padded = [0u8; KEY_LEN];
            padded[KEY_LEN - mag.len()..].copy_from_slice(mag);
            let key = key_of(&padded);
            let i = self.recs.binary_search_by(|r| r.key.cmp(&key)).ok()?;
            self.recs[i].rev
        };
        Some(self.status_of(rev))
    }

    fn status_of(&self, rev: u32) -> CertStatus {
        let Some(r) = usize::try_from(rev).ok().and_then(|i| self.revs.get(i)) else {
            return CertStatus::Good;
        };
        CertStatus::Revoked(Revocation {
            time: Timestamp(r.time),
            reason: RevocationReason::from_code(r.reason),
            invalidity_date: (r.invalidity != NO_TIME).then_some(Timestamp(r.invalidity)),
            hold_instruction: self.holds.get(usize::from(r.hold)).copied(),
        })
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (Serial, CertStatus, Timestamp)> + '_ {
        let short = self.recs.iter().map(|r| {
            (
                Serial::from_der_content(&bytes_of(&r.key)),
                self.status_of(r.rev),
                expiry(r.expires),
            )
        });
        let long = self.long.iter().map(|l| {
            (
                Serial::from_der_content(&l.serial),
                self.status_of(l.rev),
                expiry(l.expires),
            )
        });
        let negative = self.negative.iter().map(|l| {
            (
                negative_serial(&l.serial),
                self.status_of(l.rev),
                expiry(l.expires),
            )
        });
        short.chain(long).chain(negative)
    }
}

impl Table {
    /// The serials whose status differs between `self` and `new` (present in one only,
    /// or stated differently), in serial order; `None` when there are more than `limit`.
    /// One merge walk over both sorted tables.
    pub(crate) fn diff(&self, new: &Table, limit: usize) -> Option<Vec<Serial>> {
        use std::cmp::Ordering::{Equal, Greater, Less};
        let mut out = Vec::new();
        let mut push = |serial: Serial| {
            out.push(serial);
            out.len() <= limit
        };
        let (mut a, mut b) = (self.recs.iter().peekable(), new.recs.iter().peekable());
        loop {
            let ok = match (a.peek(), b.peek()) {
                (None, None) => break,
                (Some(x), None) => {
                    let s = Serial::from_der_content(&bytes_of(&x.key));
                    a.next();
                    push(s)
                }
                (None, Some(y)) => {
                    let s = Serial::from_der_content(&bytes_of(&y.key));
                    b.next();
                    push(s)
                }
                (Some(x), Some(y)) => match x.key.cmp(&y.key) {
                    Less => {
                        let s = Serial::from_der_content(&bytes_of(&x.key));
                        a.next();
                        push(s)
                    }
                    Greater => {
                        let s = Serial::from_der_content(&bytes_of(&y.key));
                        b.next();
                        push(s)
                    }
                    Equal => {
                        let changed = self.status_of(x.rev) != new.status_of(y.rev);
                        let s = changed.then(|| Serial::from_der_content(&bytes_of(&x.key)));
                        a.next();
                        b.next();
                        s.is_none_or(&mut push)
                    }
                },
            };
            if !ok {
                return None;
            }
        }
        // Serials longer than 20 octets: rare, compared by lookup.
        for l in &self.long {
            if new.get(&l.serial) != Some(self.status_of(l.rev))
                && !push(Serial::from_der_content(&l.serial))
            {
                return None;
            }
        }
        for l in &new.long {
            if self.get(&l.serial).is_none() && !push(Serial::from_der_content(&l.serial)) {
                return None;
            }
        }
        Some(out)
    }
}

/// The `Serial` of a negative entry (stored as `0x00` then the content octets).
fn negative_serial(stored: &[u8]) -> Serial {
    Serial::from_integer_content(stored.get(1..).unwrap_or_default())
}

fn cmp_magnitude(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Collects entries line by line, then sorts and checks for duplicates.
#[derive(Default)]
pub(crate) struct TableBuilder {
    table: Table,
}

/// The shortest line an entry can realistically have (`V\t…Z\t\t01\tunknown\t/CN=x`).
const MIN_LINE: u64 = 40;
/// The most entries reserved up front (224 MB of address space); more grow as needed.
const MAX_RESERVE: u64 = 8 << 20;

impl TableBuilder {
    /// A builder with room for every entry a file of `size` bytes can hold, so that the
    /// table never grows by doubling (which would hold the old and the new buffer at once).
    /// Reserved pages that are never written are never resident, and the final shrink
    /// gives the rest back.
    pub(crate) fn for_file_size(size: u64) -> TableBuilder {
        let entries = usize::try_from((size / MIN_LINE + 1).min(MAX_RESERVE)).unwrap_or(0);
        TableBuilder {
            table: Table {
                recs: Vec::with_capacity(entries),
                ..Table::default()
            },
        }
    }

    /// Add the entry of `line`. `hex` holds hex digits only (checked by the line parser).
    pub(crate) fn push(
        &mut self,
        hex: &[u8],
        revocation: Option<&Revocation>,
        expires: Timestamp,
        line: usize,
    ) -> Result<(), String> {
        let rev = self.revocation_index(revocation)?;
        let expires = expires_of(expires);
        let t = &mut self.table;
        let line = u32::try_from(line).unwrap_or(u32::MAX);
        let digits = strip_zero_digits(hex);
        if digits.len() > 2 * KEY_LEN {
            t.long.push(LongRec {
                serial: hex_magnitude(digits).into_boxed_slice(),
                rev,
                line,
                expires,
            });
        } else {
            let mut padded = [0u8; KEY_LEN];
            // Fill from the right, two digits per octet.
            for (byte, pair) in padded.iter_mut().rev().zip(digits.rchunks(2)) {
                *byte = match pair {
                    [hi, lo] => hex_val(*hi) << 4 | hex_val(*lo),
                    [lo] => hex_val(*lo),
                    _ => 0,
                };
            }
            t.recs.push(Rec {
                key: key_of(&padded),
                rev,
                line,
                expires,
            });
        }
        Ok(())
    }

    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    /// A builder with room for `entries` entries (a database load knows its count).
    pub(crate) fn with_capacity(entries: usize) -> TableBuilder {
        TableBuilder {
            table: Table {
                recs: Vec::with_capacity(entries),
                ..Table::default()
            },
        }
    }

    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    /// Add `serial` (any `Serial`: magnitudes of any length, negative serials) with its
    /// revocation and its certificate's expiry (a database row's `not_after`;
    /// [`Timestamp::LAST_GENERALIZED`] when unknown); `line` is its position in the load.
    pub(crate) fn push_serial(
        &mut self,
        serial: &Serial,
        revocation: Option<&Revocation>,
        expires: Timestamp,
        line: usize,
    ) -> Result<(), String> {
        let rev = self.revocation_index(revocation)?;
        let expires = expires_of(expires);
        let t = &mut self.table;
        let line = u32::try_from(line).unwrap_or(u32::MAX);
        let bytes = serial.as_bytes();
        if serial.is_negative() {
            t.negative.push(LongRec {
                serial: bytes.into(),
                rev,
                line,
                expires,
            });
        } else if bytes.len() > KEY_LEN {
            t.long.push(LongRec {
                serial: bytes.into(),
                rev,
                line,
                expires,
            });
        } else {
            let mut padded = [0u8; KEY_LEN];
            padded[KEY_LEN - bytes.len()..].copy_from_slice(bytes);
            t.recs.push(Rec {
                key: key_of(&padded),
                rev,
                line,
                expires,
            });
        }
        Ok(())
    }

    /// The index of `revocation` in the revocation list (interning its hold
    /// instruction), or `GOOD`.
    fn revocation_index(&mut self, revocation: Option<&Revocation>) -> Result<u32, String> {
        let t = &mut self.table;
        Ok(match revocation {
            None => GOOD,
            Some(r) => {
                let hold = match &r.hold_instruction {
                    None => NO_HOLD,
                    Some(oid) => match t.holds.iter().position(|h| h == oid) {
                        Some(i) => u16::try_from(i).unwrap_or(NO_HOLD),
                        None if t.holds.len() < usize::from(NO_HOLD) => {
                            t.holds.push(*oid);
                            u16::try_from(t.holds.len() - 1).unwrap_or(NO_HOLD)
                        }
                        None => {
                            return Err(format!(
                                "more than {NO_HOLD} different hold instructions; use one of \
                                 the three RFC 5280 holdInstruction OIDs"
                            ))
                        }
                    },
                };
                let index = u32::try_from(t.revs.len())
                    .ok()
                    .filter(|i| *i != GOOD)
                    .ok_or_else(|| "too many revoked entries for one index file".to_string())?;
                t.revs.push(Rev {
                    time: r.time.0,
                    invalidity: r.invalidity_date.map_or(NO_TIME, |d| d.0),
                    hold,
                    reason: r.reason.map_or(NO_REASON, |r| r as u8),
                });
                index
            }
        })
    }

    /// Sort, reject duplicate serials (naming both lines), shrink.
    pub(crate) fn finish(self) -> Result<Table, ScanError> {
        let mut t = self.table;
        t.recs.sort_unstable_by_key(|r| (r.key, r.line));
        t.long
            .sort_unstable_by(|a, b| cmp_magnitude(&a.serial, &b.serial).then(a.line.cmp(&b.line)));
        t.negative
            .sort_unstable_by(|a, b| a.serial.cmp(&b.serial).then(a.line.cmp(&b.line)));
        let short_dups = t.recs.windows(2).filter(|w| w[0].key == w[1].key).map(|w| {
            let serial = Serial::from_der_content(&bytes_of(&w[0].key));
            (w[0].line, w[1].line, serial)
        });
        let long_dups = t
            .long
            .windows(2)
            .filter(|w| w[0].serial == w[1].serial)
            .map(|w| (w[0].line, w[1].line, Serial::from_der_content(&w[0].serial)));
        let negative_dups = t
            .negative
            .windows(2)
            .filter(|w| w[0].serial == w[1].serial)
            .map(|w| (w[0].line, w[1].line, negative_serial(&w[0].serial)));
        // Report the pair whose second line comes first in the file.
        if let Some((first, second, serial)) = short_dups
            .chain(long_dups)
            .chain(negative_dups)
            .min_by_key(|d| (d.1, d.0))
        {
            return Err(ScanError::at(
                usize::try_from(second).unwrap_or(usize::MAX),
                format!(
                    "serial {serial} appears twice, on lines {first} and {second}; a serial \
                     may appear once: delete the wrong line (openssl ca keeps the first)"
                ),
            ));
        }
        t.recs.shrink_to_fit();
        t.revs.shrink_to_fit();
        t.long.shrink_to_fit();
        t.negative.shrink_to_fit();
        Ok(t)
    }
}

/// One immutable state of an index file: cheap to clone, never changes.
#[derive(Clone, Debug)]
pub struct IndexSnapshot {
    pub(crate) table: Arc<Table>,
    pub(crate) generation: u64,
}

impl IndexSnapshot {
    /// The generation of this state (see [`super::IndexTxtSource::generation_now`]).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether the index holds no entry.
    pub fn is_empty(&self) -> bool {
        self.table.len() == 0
    }

    /// The number of revoked entries.
    pub fn revoked(&self) -> usize {
        self.table.revoked()
    }

    /// Heap bytes the table holds (for metrics and the memory budget).
    pub fn heap_bytes(&self) -> usize {
        self.table.heap_bytes()
    }

    /// The status of `serial`: `Good` or `Revoked`, `None` when the index has no entry.
    pub fn get(&self, serial: &Serial) -> Option<CertStatus> {
        self.table.get(serial.as_bytes())
    }

    /// Every entry, by ascending serial (serials of more than 20 octets last).
    pub fn iter(&self) -> impl Iterator<Item = (Serial, CertStatus)> + '_ {
        self.table
            .iter()
            .map(|(serial, status, _)| (serial, status))
    }

    /// Every entry with its certificate's expiry (notAfter), by ascending serial.
    pub fn iter_with_expiry(&self) -> impl Iterator<Item = (Serial, CertStatus, Timestamp)> + '_ {
        self.table.iter()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn build(entries: &[(&str, Option<Revocation>)]) -> Table {
        let mut b = TableBuilder::default();
        for (i, (hex, rev)) in entries.iter().enumerate() {
            b.push(
                hex.as_bytes(),
                rev.as_ref(),
                Timestamp(2_000_000_000),
                i + 1,
            )
            .unwrap();
        }
        b.finish().unwrap()
    }

    fn serial(hex: &str) -> Serial {
        Serial::from_hex(hex).unwrap()
    }

    #[test]
    fn lookups() {
        let long = "0102030405060708090A0B0C0D0E0F10111213141516";
        let hold = Revocation {
            time: Timestamp(1_700_000_000),
            reason: Some(RevocationReason::CertificateHold),
            invalidity_date: None,
            hold_instruction: Some(ObjectIdentifier::new_unwrap("1.2.840.10040.2.3")),
        };
        let key = Revocation {
            time: Timestamp(1_700_000_001),
            reason: Some(RevocationReason::KeyCompromise),
            invalidity_date: Some(Timestamp(1_600_000_000)),
            hold_instruction: None,
        };
        let t = build(&[
            ("0A", None),
            ("00", None),
            ("ff", Some(hold.clone())),
            (long, Some(key.clone())),
            (
                "8000000000000000000000000000000000000001",
                Some(Revocation::at(Timestamp(5))),
            ),
            ("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF", None),
            ("1", Some(hold.clone())),
        ]);
        assert_eq!(t.len(), 7);
        assert_eq!(t.revoked(), 4);
        assert_eq!(t.holds.len(), 1, "hold OIDs are interned");
        let get = |h: &str| t.get(serial(h).as_bytes());
        assert_eq!(get("A"), Some(CertStatus::Good));
        assert_eq!(get("000A"), Some(CertStatus::Good));
        assert_eq!(get("0"), Some(CertStatus::Good));
        assert_eq!(get("FF"), Some(CertStatus::Revoked(hold.clone())));
        assert_eq!(get("01"), Some(CertStatus::Revoked(hold)));
        assert_eq!(get(long), Some(CertStatus::Revoked(key)));
        assert_eq!(
            get("8000000000000000000000000000000000000001"),
            Some(CertStatus::Revoked(Revocation::at(Timestamp(5))))
        );
        assert_eq!(
            get("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"),
            Some(CertStatus::Good)
        );
        assert_eq!(get("0B"), None);
        assert_eq!(get("0A00"), None);
        assert_eq!(get("FF0102030405060708090A0B0C0D0E0F10111213141516"), None);
        assert_eq!(t.get(&[0, 0, 0x0A]), Some(CertStatus::Good));

        let snap = IndexSnapshot {
            table: Arc::new(t),
            generation: 3,
        };
        let all: Vec<Serial> = snap.iter().map(|(s, _)| s).collect();
        assert_eq!(all.len(), 7);
        assert_eq!(all[0], serial("00"));
        assert_eq!(all[1], serial("01"));
        assert_eq!(all[2], serial("0A"));
        assert_eq!(all[6], serial(long));
        for (s, st) in snap.iter() {
            assert_eq!(snap.get(&s), Some(st));
        }
    }

    #[test]
    fn compact() {
        assert_eq!(std::mem::size_of::<Rec>(), 32);
        assert_eq!(std::mem::size_of::<Rev>(), 24);
        let mut b = TableBuilder::default();
        let n = 10_000;
        for i in 0..n {
            let hex = format!("{:040X}", (i as u128) * 0x1_0000_0001_0000_0001 + 7);
            let rev = (i % 10 == 0).then(|| Revocation::at(Timestamp(i)));
            b.push(hex.as_bytes(), rev.as_ref(), Timestamp(i), i as usize + 1)
                .unwrap();
        }
        let t = b.finish().unwrap();
        assert_eq!(t.len(), n as usize);
        // 32 bytes per entry plus 24 per revoked one.
        assert!(t.heap_bytes() <= n as usize * 32 + n as usize / 10 * 24);
    }

    #[test]
    fn equal_tables_compare_equal() {
        let a = build(&[("01", None), ("02", Some(Revocation::at(Timestamp(9))))]);
        let b = build(&[("01", None), ("02", Some(Revocation::at(Timestamp(9))))]);
        let c = build(&[("01", None), ("02", Some(Revocation::at(Timestamp(10))))]);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn serials_from_a_database() {
        let neg = Serial::from_integer_content(&[0xFF, 0x01]);
        let pos = Serial::from_integer_content(&[0x00, 0xFF, 0x01]);
        let long = Serial::from_der_content(&[7u8; 25]);
        let small = Serial::from_der_content(&[0x0A]);
        let mut b = TableBuilder::with_capacity(4);
        let revoked = Revocation::at(Timestamp(9));
        let never = Timestamp::LAST_GENERALIZED;
        b.push_serial(&neg, Some(&revoked), Timestamp(1_900_000_000), 1)
            .unwrap();
        b.push_serial(&long, None, never, 2).unwrap();
        b.push_serial(&small, None, Timestamp(1_800_000_000), 3)
            .unwrap();
        let t = b.finish().unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(
            t.get_serial(&neg),
            Some(CertStatus::Revoked(revoked.clone()))
        );
        assert_eq!(
            t.get_serial(&pos),
            None,
            "a negative serial names only itself"
        );
        assert_eq!(t.get_serial(&long), Some(CertStatus::Good));
        assert_eq!(t.get_serial(&small), Some(CertStatus::Good));
        let all: Vec<(Serial, Timestamp)> = t.iter().map(|(s, _, e)| (s, e)).collect();
        assert_eq!(
            all,
            vec![
                (small, Timestamp(1_800_000_000)),
                (long, never),
                (neg.clone(), Timestamp(1_900_000_000))
            ],
            "each serial keeps its expiry"
        );
        let mut dup = TableBuilder::default();
        dup.push_serial(&neg, None, never, 1).unwrap();
        dup.push_serial(&neg, None, never, 2).unwrap();
        assert!(dup.finish().is_err());
    }
}
