//! A compact table of revoked serials, built from a CRL walk and searched by serial.
//!
//! The table never holds a parsed CRL. It is two vectors:
//! - an arena of serial octets: each serial's INTEGER content octets as the CRL carries
//!   them (DER makes that encoding unique per value), back to back;
//! - one fixed 32-octet record per entry, sorted by serial: the first eight serial octets
//!   as a sort key, the serial's place in the arena, the revocation time, the invalidity
//!   date, the reason code and the hold instruction.
//!
//! A 20-octet serial (what `openssl ca -create_serial` and most public CAs issue) costs 52
//! octets; [`RevokedTable::heap_bytes`] reports the table's own allocation (capacities, not
//! lengths) so the figure can be checked. Lookups are a binary search over the records that
//! reads the arena only when the eight-octet keys tie.
//!
//! Order is by serial length, then octets: numeric order for positive serials. A serial
//! listed twice keeps its earliest revocation (and that entry's reason and dates) and is
//! counted in [`RevokedTable::duplicates`].
//!
//! Delta CRLs (RFC 5280 §5.2.4): [`RevokedTable::apply_delta`] merges a delta CRL's table
//! into a complete CRL's: the delta's entries replace or add, and an entry whose reason is
//! `removeFromCRL` takes the serial out (a certificate released from hold, or expired). A
//! complete CRL carrying `removeFromCRL` is refused by [`RevokedTable::from_crl`].

use std::cmp::Ordering;

use super::parse::{Crl, CrlError, Entry, HoldInstruction};
use crate::{Revocation, RevocationReason, Serial, Timestamp};

const NO_REASON: u8 = 0xFF;
const NO_TIME: u64 = u64::MAX;

#[derive(Clone, Copy, Debug)]
struct Record {
    /// The first eight serial octets, big-endian, zero-padded.
    key: u64,
    time: u64,
    invalidity: u64,
    offset: u32,
    len: u8,
    reason: u8,
    hold: u8,
}

fn key_of(serial: &[u8]) -> u64 {
    let mut k = [0u8; 8];
    let n = serial.len().min(8);
    k[..n].copy_from_slice(&serial[..n]);
    u64::from_be_bytes(k)
}

/// Revoked serials with their revocation data. (`Debug` prints sizes, not entries.)
#[derive(Clone, Default)]
pub struct RevokedTable {
    arena: Vec<u8>,
    records: Vec<Record>,
    duplicates: usize,
}

impl std::fmt::Debug for RevokedTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RevokedTable")
            .field("len", &self.records.len())
            .field("heap_bytes", &self.heap_bytes())
            .field("duplicates", &self.duplicates)
            .finish()
    }
}

/// Builds a [`RevokedTable`] from entries in any order.
#[derive(Debug, Default)]
pub struct TableBuilder {
    table: RevokedTable,
    sorted: bool,
}

impl TableBuilder {
    /// A builder sized for `entries` entries with `serial_octets` octets of serials in all
    /// (both are hints: exact figures avoid the growth slack).
    pub fn with_capacity(entries: usize, serial_octets: usize) -> TableBuilder {
        TableBuilder {
            table: RevokedTable {
                arena: Vec::with_capacity(serial_octets),
                records: Vec::with_capacity(entries),
                duplicates: 0,
            },
            sorted: true,
        }
    }

    /// Add one entry. Fails when the serial is longer than 255 octets or the arena would
    /// pass 4 GiB.
    pub fn push(&mut self, e: &Entry<'_>) -> Result<(), CrlError> {
        let len = u8::try_from(e.serial.len())
            .map_err(|_| CrlError::Unsupported("a serial longer than 255 octets".into()))?;
        let offset = u32::try_from(self.table.arena.len())
            .map_err(|_| CrlError::Unsupported("more than 4 GiB of serials".into()))?;
        let rec = Record {
            key: key_of(e.serial),
            time: e.revocation_date.0,
            invalidity: e.invalidity_date.map_or(NO_TIME, |t| t.0),
            offset,
            len,
            reason: e.reason.map_or(NO_REASON, |r| r as u8),
            hold: e.hold_instruction.map_or(0, |h| h as u8),
        };
        self.table.arena.extend_from_slice(e.serial);
        if self.sorted {
            if let Some(last) = self.table.records.last() {
                if cmp_serials(last, &rec, &self.table.arena) != Ordering::Less {
                    self.sorted = false;
                }
            }
        }
        self.table.records.push(rec);
        Ok(())
    }

    /// The table, sorted, duplicates merged, capacities trimmed.
    pub fn finish(self) -> RevokedTable {
        let mut t = self.table;
        if !self.sorted {
            let arena = std::mem::take(&mut t.arena);
            t.records
                .sort_unstable_by(|a, b| cmp_serials(a, b, &arena).then(a.time.cmp(&b.time)));
            t.arena = arena;
            let before = t.records.len();
            let arena = &t.arena;
            t.records
                .dedup_by(|later, kept| cmp_serials(later, kept, arena) == Ordering::Equal);
            t.duplicates = before - t.records.len();
        }
        t.arena.shrink_to_fit();
        t.records.shrink_to_fit();
        t
    }
}

fn serial_at<'a>(r: &Record, arena: &'a [u8]) -> &'a [u8] {
    let start = r.offset as usize;
    arena.get(start..start + usize::from(r.len)).unwrap_or(&[])
}

fn tail(serial: &[u8]) -> &[u8] {
    serial.get(8..).unwrap_or(&[])
}

fn cmp_serials(a: &Record, b: &Record, arena: &[u8]) -> Ordering {
    a.len.cmp(&b.len).then(a.key.cmp(&b.key)).then_with(|| {
        if a.len <= 8 {
            Ordering::Equal
        } else {
            tail(serial_at(a, arena)).cmp(tail(serial_at(b, arena)))
        }
    })
}

impl RevokedTable {
    /// An empty table.
    pub fn new() -> RevokedTable {
        RevokedTable::default()
    }

    /// The table of a parsed CRL. A complete CRL with a `removeFromCRL` entry is refused
    /// (that reason belongs in delta CRLs only, RFC 5280 §5.3.1); a delta CRL keeps such
    /// entries for [`RevokedTable::apply_delta`].
    pub fn from_crl(crl: &Crl<'_>) -> Result<RevokedTable, CrlError> {
        // Exact sizes (counted by `parse`): no growth slack, no reallocation.
        let mut b = TableBuilder::with_capacity(crl.entry_count, crl.serial_octets());
        let delta = crl.is_delta();
        let mut err = None;
        crl.for_each_entry(|e| {
            if err.is_some() {
                return;
            }
            if !delta && e.reason == Some(RevocationReason::RemoveFromCrl) {
                err = Some(CrlError::Delta(format!(
                    "removeFromCRL for serial {} in a complete CRL",
                    e.serial()
                )));
                return;
            }
            if let Err(e) = b.push(e) {
                err = Some(e);
            }
        })?;
        match err {
            Some(e) => Err(e),
            None => Ok(b.finish()),
        }
    }

    /// Number of serials.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether no serial is listed.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Serials listed more than once in the source (merged into one entry each).
    pub fn duplicates(&self) -> usize {
        self.duplicates
    }

    /// Octets the table holds on the heap: the capacity of its two vectors.
    pub fn heap_bytes(&self) -> usize {
        self.arena.capacity() + self.records.capacity() * std::mem::size_of::<Record>()
    }

    /// [`RevokedTable::heap_bytes`] plus the table itself, per entry (0 when empty).
    pub fn bytes_per_entry(&self) -> f64 {
        if self.records.is_empty() {
            return 0.0;
        }
        (self.heap_bytes() + std::mem::size_of::<RevokedTable>()) as f64 / self.records.len() as f64
    }

    fn entry(&self, r: &Record) -> Entry<'_> {
        Entry {
            serial: serial_at(r, &self.arena),
            revocation_date: Timestamp(r.time),
            reason: if r.reason == NO_REASON {
                None
            } else {
                RevocationReason::from_code(r.reason)
            },
            invalidity_date: (r.invalidity != NO_TIME).then_some(Timestamp(r.invalidity)),
            hold_instruction: HoldInstruction::from_code(r.hold),
        }
    }

    /// The entry for INTEGER content octets `content` (as a CRL or a CertID carries them).
    pub fn get_integer(&self, content: &[u8]) -> Option<Entry<'_>> {
        let len = u8::try_from(content.len()).ok()?;
        let key = key_of(content);
        let tail = content.get(8..).unwrap_or(&[]);
        self.records
            .binary_search_by(|r| {
                r.len.cmp(&len).then(r.key.cmp(&key)).then_with(|| {
                    if len <= 8 {
                        Ordering::Equal
                    } else {
                        self::tail(serial_at(r, &self.arena)).cmp(tail)
                    }
                })
            })
            .ok()
            .map(|i| self.entry(&self.records[i]))
    }

    /// The entry for `serial` (no allocation).
    pub fn get(&self, serial: &Serial) -> Option<Entry<'_>> {
        let b = serial.as_bytes();
        // The INTEGER content octets: see `Serial::to_integer_content`.
        let (zero, rest) = if serial.is_negative() {
            (false, b.get(1..).unwrap_or(&[]))
        } else {
            (b.first().is_some_and(|x| x & 0x80 != 0), b)
        };
        let n = rest.len() + usize::from(zero);
        if n > 255 {
            return None;
        }
        let mut buf = [0u8; 256];
        buf[usize::from(zero)..n].copy_from_slice(rest);
        self.get_integer(&buf[..n])
    }

    /// The revocation of `serial`, as the responder states it.
    pub fn revocation(&self, serial: &Serial) -> Option<Revocation> {
        self.get(serial).map(|e| Revocation {
            time: e.revocation_date,
            reason: e.reason,
            invalidity_date: e.invalidity_date,
            hold_instruction: e.hold_instruction.map(HoldInstruction::oid),
        })
    }

    /// Every entry, in serial order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Entry<'_>> + '_ {
        self.records.iter().map(|r| self.entry(r))
    }

    /// This complete CRL's table with a delta CRL's table applied (see the module
    /// documentation; check the pair with [`super::verify::check_delta`] first).
    pub fn apply_delta(&self, delta: &RevokedTable) -> Result<RevokedTable, CrlError> {
        let mut b = TableBuilder::with_capacity(
            self.len() + delta.len(),
            self.arena.len() + delta.arena.len(),
        );
        let (mut i, mut j) = (0, 0);
        let (base, d) = (&self.records, &delta.records);
        let removed = |r: &Record| r.reason == RevocationReason::RemoveFromCrl as u8;
        while i < base.len() || j < d.len() {
            let ord = match (base.get(i), d.get(j)) {
                (Some(a), Some(c)) => {
                    let (sa, sc) = (serial_at(a, &self.arena), serial_at(c, &delta.arena));
                    a.len
                        .cmp(&c.len)
                        .then(a.key.cmp(&c.key))
                        .then_with(|| sa.cmp(sc))
                }
                (Some(_), None) => Ordering::Less,
                _ => Ordering::Greater,
            };
            match ord {
                Ordering::Less => {
                    b.push(&self.entry(&base[i]))?;
                    i += 1;
                }
                Ordering::Equal => {
                    if !removed(&d[j]) {
                        b.push(&delta.entry(&d[j]))?;
                    }
                    i += 1;
                    j += 1;
                }
                Ordering::Greater => {
                    if !removed(&d[j]) {
                        b.push(&delta.entry(&d[j]))?;
                    }
                    j += 1;
                }
            }
        }
        Ok(b.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(serial: &[u8], t: u64, reason: Option<RevocationReason>) -> Entry<'_> {
        Entry {
            serial,
            revocation_date: Timestamp(t),
            reason,
            invalidity_date: None,
            hold_instruction: None,
        }
    }

    #[test]
    fn sorts_finds_and_merges_duplicates() {
        let serials: Vec<Vec<u8>> = vec![
            vec![0x05],
            vec![0x00, 0x80],
            vec![0x01, 2, 3, 4, 5, 6, 7, 8, 9, 10],
            vec![0x01, 2, 3, 4, 5, 6, 7, 8, 9, 9],
            vec![0x7F],
            vec![0x05],
        ];
        let mut b = TableBuilder::default();
        for (i, s) in serials.iter().enumerate() {
            b.push(&e(s, 100 - i as u64, Some(RevocationReason::KeyCompromise)))
                .unwrap();
        }
        let t = b.finish();
        assert_eq!(t.len(), 5);
        assert_eq!(t.duplicates(), 1);
        // The earlier revocation of serial 5 is kept.
        assert_eq!(t.get_integer(&[5]).unwrap().revocation_date, Timestamp(95));
        for s in &serials {
            assert!(t.get_integer(s).is_some(), "{s:?}");
        }
        assert!(t.get_integer(&[0x06]).is_none());
        assert!(t.get_integer(&[0x80]).is_none()); // -128, not 128
        assert!(t.get(&Serial::from_hex("80").unwrap()).is_some());
        assert!(t.get(&Serial::from_hex("7F").unwrap()).is_some());
        assert!(t.get(&Serial::from_integer_content(&[0x80])).is_none());
        let mut n = TableBuilder::default();
        n.push(&e(&[0x81], 1, None)).unwrap();
        let n = n.finish();
        assert!(n.get(&Serial::from_integer_content(&[0x81])).is_some());
        assert!(n.get(&Serial::from_hex("81").unwrap()).is_none());
        let order: Vec<&[u8]> = t.iter().map(|e| e.serial).collect();
        assert_eq!(order[0], &[0x05]);
        assert_eq!(order[1], &[0x7F]);
        assert_eq!(order[2], &[0x00, 0x80]);
    }

    #[test]
    fn delta_adds_replaces_and_removes() {
        let mut b = TableBuilder::default();
        b.push(&e(&[1], 10, Some(RevocationReason::CertificateHold)))
            .unwrap();
        b.push(&e(&[2], 10, None)).unwrap();
        b.push(&e(&[3], 10, Some(RevocationReason::CertificateHold)))
            .unwrap();
        let base = b.finish();
        let mut d = TableBuilder::default();
        d.push(&e(&[1], 20, Some(RevocationReason::RemoveFromCrl)))
            .unwrap();
        d.push(&e(&[3], 20, Some(RevocationReason::KeyCompromise)))
            .unwrap();
        d.push(&e(&[4], 20, Some(RevocationReason::Superseded)))
            .unwrap();
        d.push(&e(&[9], 20, Some(RevocationReason::RemoveFromCrl)))
            .unwrap();
        let m = base.apply_delta(&d.finish()).unwrap();
        let got: Vec<(u8, u64, Option<RevocationReason>)> = m
            .iter()
            .map(|e| (e.serial[0], e.revocation_date.0, e.reason))
            .collect();
        assert_eq!(
            got,
            vec![
                (2, 10, None),
                (3, 20, Some(RevocationReason::KeyCompromise)),
                (4, 20, Some(RevocationReason::Superseded)),
            ]
        );
    }

    #[test]
    fn record_is_32_octets() {
        assert_eq!(std::mem::size_of::<Record>(), 32);
    }
}
