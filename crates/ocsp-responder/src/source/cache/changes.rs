//! Per-serial revalidation: what each issuer's source says changed, kept so that a new
//! generation sends back to the source only the serials it touched.
//!
//! # The promise
//!
//! [`ChangeLogs::verdict`] answers, for an entry stamped at generation `since` and a
//! source now at generation `now`: [`Verdict::Unchanged`] only when every change of
//! that issuer in `(since, now]` has been received and none named the serial;
//! [`Verdict::Changed`] when one named it; [`Verdict::Unknown`] otherwise (a change not
//! received yet, a lagging subscription, a [`Change::All`] after `since`, a source that
//! sends no changes). The cache re-stamps an `Unchanged` entry without asking the
//! source, re-signs a `Changed` one, and looks up the serial for an `Unknown` one (what
//! it did for every entry before), so correctness never depends on the changes arriving.
//!
//! The verdict is a function of the entry's stamp and the received log only, never of
//! when the entry was inserted: an answer signed at generation 5 and inserted after the
//! change of generation 6 was logged is still judged by the log of `(5, 6]`.
//!
//! # Coverage
//!
//! Each issuer's log covers the generations `(from, through]`: `from` is the generation
//! in force when the cache subscribed (or of the last [`Change::All`], or of the first
//! change after a lag), `through` the last change received; `changed` maps each serial
//! named in that range to the last generation that named it. The subscription is read
//! (drained without waiting) under the issuer's lock when a verdict is asked, so a
//! change sent before the source returned generation `now` is always seen. A log that
//! grows past [`MAX_LOGGED`] serials starts over at `through`.
//!
//! A [`Change::All`] (a restore, a full reload) also drops every cached answer of the
//! issuer ([`ChangeLogs::verdict`] reports it so the caller can).

use crate::issuer::{IssuerId, IssuerSet};
use ocsp_proto::Serial;
use ocsp_status::{Change, Changes};
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::broadcast::error::TryRecvError;

/// Serials one issuer's log holds before it starts over.
const MAX_LOGGED: usize = 65_536;

/// What the log says of one entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// No change in `(since, now]` named the serial: the entry is still true.
    Unchanged,
    /// A change in `(since, now]` named the serial.
    Changed,
    /// The log does not cover `(since, now]`: ask the source.
    Unknown,
}

/// The change logs of every issuer of a set, by [`IssuerId`].
pub(super) struct ChangeLogs {
    logs: Vec<Mutex<Log>>,
}

struct Log {
    rx: Option<Changes>,
    /// Whether `(from, through]` is fully recorded.
    valid: bool,
    from: u64,
    through: u64,
    changed: HashMap<Serial, u64>,
}

impl ChangeLogs {
    /// Subscribe to every issuer's changes (issuers whose source tells none get an empty,
    /// never valid log).
    pub(super) fn subscribe(issuers: &IssuerSet) -> ChangeLogs {
        let logs = issuers
            .iter()
            .map(|issuer| {
                let rx = issuer.status.changes();
                // Subscribed first, then the generation read: a change in between is
                // received and logged (harmlessly, at a generation not above `from`).
                let at = issuer.status.report().map(|r| r.generation);
                Mutex::new(Log {
                    valid: rx.is_some() && at.is_some(),
                    rx,
                    from: at.unwrap_or(0),
                    through: at.unwrap_or(0),
                    changed: HashMap::new(),
                })
            })
            .collect();
        ChangeLogs { logs }
    }

    /// The verdict on `serial` of issuer `id` for an entry stamped at `since`, the source
    /// being at `now`; and whether a [`Change::All`] was received since the last call
    /// (every cached answer of the issuer should then be dropped).
    pub(super) fn verdict(
        &self,
        id: IssuerId,
        serial: &Serial,
        since: u64,
        now: u64,
    ) -> (Verdict, bool) {
        let Some(log) = self.logs.get(id.index()) else {
            return (Verdict::Unknown, false);
        };
        let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
        let all = log.drain();
        let verdict = if log.valid && since >= log.from && now <= log.through {
            match log.changed.get(serial) {
                Some(g) if *g > since => Verdict::Changed,
                _ => Verdict::Unchanged,
            }
        } else {
            Verdict::Unknown
        };
        (verdict, all)
    }
}

impl Log {
    /// Take every change received so far; true if one was a [`Change::All`].
    fn drain(&mut self) -> bool {
        let mut all = false;
        loop {
            let Some(rx) = self.rx.as_mut() else {
                return all;
            };
            match rx.try_recv() {
                Ok(Change::Serials {
                    generation,
                    serials,
                }) => {
                    if !self.valid {
                        self.restart(generation);
                        continue;
                    }
                    for s in serials.iter() {
                        self.changed.insert(s.clone(), generation);
                    }
                    self.through = self.through.max(generation);
                    if self.changed.len() > MAX_LOGGED {
                        let at = self.through;
                        self.restart(at);
                    }
                }
                Ok(Change::All { generation }) => {
                    all = true;
                    self.restart(generation);
                }
                Err(TryRecvError::Lagged(_)) => {
                    // Missed changes: nothing is covered until the next one.
                    self.valid = false;
                    self.changed.clear();
                }
                Err(TryRecvError::Empty) => return all,
                Err(TryRecvError::Closed) => {
                    self.rx = None;
                    return all;
                }
            }
        }
    }

    fn restart(&mut self, at: u64) {
        self.valid = true;
        self.from = at;
        self.through = at;
        self.changed.clear();
    }
}
