//! One issuer's statuses in memory: the compact index table (`index_txt::table`, 28
//! bytes an entry plus 24 a revocation) as loaded, and an overlay of the serials the
//! deltas changed since, folded into a new table once it grows past [`COMPACT_AT`].
//! Both keep each serial's certificate expiry (the row's `not_after`, held as
//! [`Timestamp::LAST_GENERALIZED`] when unknown), which [`Snapshot::entries`] hands out.
//!
//! A [`Snapshot`] never changes: a delta makes a new one (the table shared, the overlay
//! copied), and the source swaps it in whole, so a lookup sees one generation or the next,
//! never a half-applied delta.

use crate::index_txt::table::{Table, TableBuilder};
use ocsp_proto::{CertStatus, Revocation, RevocationReason, Serial, Timestamp};
use std::collections::HashMap;
use std::sync::Arc;

/// Overlay entries folded into the table once there are this many.
pub(crate) const COMPACT_AT: usize = 4096;

/// One row of `ocsp_cert` as the node reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    pub(crate) serial: Serial,
    /// `None`: a tombstone (`D`), the serial has no record.
    pub(crate) status: Option<CertStatus>,
    /// The certificate's notAfter; [`Timestamp::LAST_GENERALIZED`] when unknown.
    pub(crate) expires: Timestamp,
}

impl Row {
    /// A row from its columns: `status` one of `V`, `R`, `D`; times in seconds since
    /// 1970 (negative ones clamp to 0; no `not_after`: no known expiry).
    pub(crate) fn from_columns(
        serial: &[u8],
        status: &str,
        revoked_at: Option<i64>,
        reason: Option<i16>,
        invalidity: Option<i64>,
        not_after: Option<i64>,
    ) -> Result<Row, String> {
        let serial = crate::postgres::serial_from_db(serial);
        let secs = |t: i64| Timestamp(u64::try_from(t).unwrap_or(0));
        let status = match status {
            "V" => Some(CertStatus::Good),
            "D" => None,
            "R" => {
                let time = revoked_at.ok_or_else(|| {
                    format!("serial {serial}: status R without revoked_at (the schema's CHECK was removed?)")
                })?;
                Some(CertStatus::Revoked(Revocation {
                    time: secs(time),
                    reason: reason
                        .and_then(|r| u8::try_from(r).ok())
                        .and_then(RevocationReason::from_code),
                    invalidity_date: invalidity.map(secs),
                    hold_instruction: None,
                }))
            }
            other => return Err(format!("serial {serial}: unknown status {other:?}")),
        };
        let expires = not_after.map_or(Timestamp::LAST_GENERALIZED, secs);
        Ok(Row {
            serial,
            status,
            expires,
        })
    }
}

/// One state of an issuer: what lookups see.
#[derive(Debug)]
pub(crate) struct Snapshot {
    table: Arc<Table>,
    /// Serials changed since the table was built, with their expiry (`None`: deleted).
    overlay: Arc<HashMap<Serial, Option<(CertStatus, Timestamp)>>>,
    /// The database generation this state is (`ocsp_issuer.generation`).
    pub(crate) db_generation: i64,
    /// The generation the source reports (never goes back within a process).
    pub(crate) generation: u64,
    entries: u64,
    revoked: u64,
}

impl Snapshot {
    /// A state from a full load.
    pub(crate) fn from_table(table: Table, db_generation: i64, generation: u64) -> Snapshot {
        let (entries, revoked) = (table.len() as u64, table.revoked() as u64);
        Snapshot {
            table: Arc::new(table),
            overlay: Arc::default(),
            db_generation,
            generation,
            entries,
            revoked,
        }
    }

    /// The status of `serial`, `None` when there is no record.
    pub(crate) fn get(&self, serial: &Serial) -> Option<CertStatus> {
        match self.overlay.get(serial) {
            Some(s) => s.as_ref().map(|(st, _)| st.clone()),
            None => self.table.get_serial(serial),
        }
    }

    /// Serials changed since the table was built.
    pub(crate) fn overlay_len(&self) -> usize {
        self.overlay.len()
    }

    /// Entries and revoked entries.
    pub(crate) fn counts(&self) -> (u64, u64) {
        (self.entries, self.revoked)
    }

    /// Heap bytes of the table and the overlay (approximate for the overlay).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.table.heap_bytes() + self.overlay.len() * 96
    }

    /// Every entry with its expiry ([`Timestamp::LAST_GENERALIZED`]: unknown), by serial.
    pub(crate) fn entries(&self) -> Vec<(Serial, CertStatus, Timestamp)> {
        let mut out: Vec<(Serial, CertStatus, Timestamp)> = self
            .table
            .iter()
            .filter(|(s, _, _)| !self.overlay.contains_key(s))
            .collect();
        out.extend(self.overlay.iter().filter_map(|(s, e)| {
            e.as_ref()
                .map(|(st, expires)| (s.clone(), st.clone(), *expires))
        }));
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// The state after `rows` (a delta read at `db_generation`), and the serials whose
    /// status changed (a row whose status is unchanged still updates the expiry). The table is rebuilt when the overlay grows past [`COMPACT_AT`]
    /// (then the work is proportional to the table: call it off the async workers).
    pub(crate) fn apply(
        &self,
        rows: Vec<Row>,
        db_generation: i64,
        generation: u64,
    ) -> Result<(Snapshot, Vec<Serial>), String> {
        let mut overlay = HashMap::clone(&self.overlay);
        let (mut entries, mut revoked) = (self.entries, self.revoked);
        let mut changed = Vec::new();
        for row in rows {
            let old = self.get(&row.serial);
            if old.is_none() && row.status.is_none() {
                continue;
            }
            if old != row.status {
                entries = entries + u64::from(row.status.is_some()) - u64::from(old.is_some());
                revoked = revoked + u64::from(matches!(row.status, Some(CertStatus::Revoked(_))))
                    - u64::from(matches!(old, Some(CertStatus::Revoked(_))));
                changed.push(row.serial.clone());
            }
            overlay.insert(row.serial, row.status.map(|st| (st, row.expires)));
        }
        let next = if overlay.len() >= COMPACT_AT {
            Snapshot::from_table(fold(&self.table, &overlay)?, db_generation, generation)
        } else {
            Snapshot {
                table: self.table.clone(),
                overlay: Arc::new(overlay),
                db_generation,
                generation,
                entries,
                revoked,
            }
        };
        Ok((next, changed))
    }
}

/// A new table: `table` with `overlay` applied.
fn fold(
    table: &Table,
    overlay: &HashMap<Serial, Option<(CertStatus, Timestamp)>>,
) -> Result<Table, String> {
    let mut b = TableBuilder::with_capacity(table.len() + overlay.len());
    let mut line = 0;
    for (serial, status, expires) in table.iter() {
        if overlay.contains_key(&serial) {
            continue;
        }
        line += 1;
        b.push_serial(&serial, revocation(&status), expires, line)?;
    }
    for (serial, entry) in overlay {
        if let Some((status, expires)) = entry {
            line += 1;
            b.push_serial(serial, revocation(status), *expires, line)?;
        }
    }
    b.finish().map_err(|e| e.reason)
}

/// The revocation of a status, if revoked.
pub(crate) fn revocation(status: &CertStatus) -> Option<&Revocation> {
    match status {
        CertStatus::Revoked(r) => Some(r),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn row(hex: &str, status: Option<CertStatus>) -> Row {
        Row {
            serial: Serial::from_hex(hex).unwrap(),
            status,
            expires: Timestamp::LAST_GENERALIZED,
        }
    }

    fn expiry_of(s: &Snapshot, hex: &str) -> Option<Timestamp> {
        let serial = Serial::from_hex(hex).unwrap();
        s.entries()
            .into_iter()
            .find(|(x, _, _)| *x == serial)
            .map(|(_, _, e)| e)
    }

    #[test]
    fn entries_carry_each_rows_not_after() {
        // Loaded rows: one with a notAfter, one without.
        let with = Row::from_columns(&[0x01], "V", None, None, None, Some(1_800_000_000)).unwrap();
        let without = Row::from_columns(&[0x02], "R", Some(5), Some(1), None, None).unwrap();
        assert_eq!(with.expires, Timestamp(1_800_000_000));
        assert_eq!(without.expires, Timestamp::LAST_GENERALIZED);
        let mut b = TableBuilder::with_capacity(2);
        for (i, r) in [&with, &without].into_iter().enumerate() {
            let st = r.status.as_ref().unwrap();
            b.push_serial(&r.serial, revocation(st), r.expires, i + 1)
                .unwrap();
        }
        let s = Snapshot::from_table(b.finish().unwrap(), 1, 1);
        assert_eq!(expiry_of(&s, "01"), Some(Timestamp(1_800_000_000)));
        assert_eq!(expiry_of(&s, "02"), Some(Timestamp::LAST_GENERALIZED));
        // A delta: a new serial with its notAfter, and a notAfter recorded for a serial
        // whose status is unchanged (e.g. `ocsp import --certs`): not a status change,
        // but the overlay carries the expiry, and so does the folded table.
        let new = Row::from_columns(&[0x03], "V", None, None, None, Some(1_700_000_000)).unwrap();
        let later =
            Row::from_columns(&[0x02], "R", Some(5), Some(1), None, Some(1_750_000_000)).unwrap();
        let (s2, changed) = s.apply(vec![new, later], 2, 2).unwrap();
        assert_eq!(changed, vec![Serial::from_hex("03").unwrap()]);
        assert_eq!(s2.counts(), (3, 1));
        assert_eq!(expiry_of(&s2, "01"), Some(Timestamp(1_800_000_000)));
        assert_eq!(expiry_of(&s2, "02"), Some(Timestamp(1_750_000_000)));
        assert_eq!(expiry_of(&s2, "03"), Some(Timestamp(1_700_000_000)));
        let folded = Snapshot::from_table(fold(&s2.table, &s2.overlay).unwrap(), 2, 2);
        assert_eq!(folded.entries(), s2.entries());
    }

    #[test]
    fn deltas_overlay_then_fold() {
        let mut b = TableBuilder::with_capacity(2);
        let never = Timestamp::LAST_GENERALIZED;
        b.push_serial(&Serial::from_hex("01").unwrap(), None, never, 1)
            .unwrap();
        b.push_serial(&Serial::from_hex("02").unwrap(), None, never, 2)
            .unwrap();
        let s = Snapshot::from_table(b.finish().unwrap(), 5, 6);
        let rev = CertStatus::Revoked(Revocation::at(Timestamp(7)));
        let (s2, changed) = s
            .apply(
                vec![
                    row("01", Some(rev.clone())),
                    row("02", None),
                    row("03", Some(CertStatus::Good)),
                    row("04", None),
                ],
                7,
                8,
            )
            .unwrap();
        assert_eq!(
            changed.len(),
            3,
            "a tombstone of an absent serial changes nothing"
        );
        assert_eq!(s2.get(&Serial::from_hex("01").unwrap()), Some(rev.clone()));
        assert_eq!(s2.get(&Serial::from_hex("02").unwrap()), None);
        assert_eq!(s2.counts(), (2, 1));
        assert_eq!(
            s.get(&Serial::from_hex("01").unwrap()),
            Some(CertStatus::Good)
        );
        let folded = fold(&s2.table, &s2.overlay).unwrap();
        assert_eq!(folded.len(), 2);
        assert_eq!(
            folded.get_serial(&Serial::from_hex("01").unwrap()),
            Some(rev)
        );
        assert_eq!(s2.entries().len(), 2);
    }
}
