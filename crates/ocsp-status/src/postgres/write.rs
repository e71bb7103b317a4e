//! The write side: what `ocsp import`, `revoke`, `unrevoke` and `status` do to the
//! database, and what nodes report.
//!
//! | function | promise |
//! |---|---|
//! | [`register_issuer`] | the issuer of a CA certificate, found by (SHA-256 of its SubjectPublicKeyInfo, subject DER) or created; a name already taken by another key gets the key's hash appended |
//! | [`import`] | a batch of rows in ONE transaction (one generation step): `COPY … (FORMAT binary)` into a temp table, one merge statement; rows equal to the database change nothing and bump nothing; a revoked serial is never made valid again unless [`ImportOptions::allow_unrevoke`]; rows absent from the batch are left alone |
//! | [`revoke`] | one serial revoked (inserted when unknown); revoking it again the same way changes nothing |
//! | [`unrevoke`] | a revoked serial made valid again: only from `certificateHold` unless forced |
//! | [`cert_status`] | what the database says about one serial |
//! | [`nodes`], [`wait_for_nodes`] | which nodes reported which generation; waiting until every live node has seen one |
//! | [`report_node`] | a node's report (through `ocsp_node_report`, the only write a reader role may do) |
//! | [`next_crl_number`] | the next CRL number of an issuer's shard, shared by every node |
//!
//! Every change goes through the `ocsp_bump` trigger: the generation of a change is the
//! `updated_gen` of the rows it wrote, which `--wait` compares with what nodes report.

use crate::postgres::{serial_from_db, DbError};
use ocsp_proto::{RevocationReason, Serial, Timestamp};
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::Type;
use tokio_postgres::{Client, GenericClient};

/// A registered issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issuer {
    /// `ocsp_issuer.id`.
    pub id: i32,
    /// The operator's label.
    pub name: String,
    /// The current generation.
    pub generation: i64,
}

/// A CA certificate as the database identifies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerCert {
    /// SHA-256 of the SubjectPublicKeyInfo DER.
    pub spki_sha256: Vec<u8>,
    /// The subject Name DER.
    pub subject_der: Vec<u8>,
    /// The whole certificate.
    pub cert_der: Vec<u8>,
    /// The subject as text (the default name).
    pub subject: String,
}

impl IssuerCert {
    /// From a parsed certificate.
    pub fn of(cert: &x509_cert::Certificate) -> Result<IssuerCert, DbError> {
        use der::Encode;
        let spki = cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|e| DbError::Query(format!("cannot encode the CA's key: {e}")))?;
        let subject_der = cert
            .tbs_certificate
            .subject
            .to_der()
            .map_err(|e| DbError::Query(format!("cannot encode the CA's subject: {e}")))?;
        let cert_der = cert
            .to_der()
            .map_err(|e| DbError::Query(format!("cannot encode the CA certificate: {e}")))?;
        Ok(IssuerCert {
            spki_sha256: sha256(&spki),
            subject_der,
            cert_der,
            subject: cert.tbs_certificate.subject.to_string(),
        })
    }
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data)
        .as_ref()
        .to_vec()
}

/// The issuer registered for `cert`, if any.
pub async fn find_issuer(
    client: &impl GenericClient,
    cert: &IssuerCert,
) -> Result<Option<Issuer>, DbError> {
    let row = client
        .query_opt(
            "SELECT id, name, generation FROM ocsp_issuer WHERE spki_sha256 = $1 AND subject_der = $2",
            &[&cert.spki_sha256, &cert.subject_der],
        )
        .await
        .map_err(DbError::query)?;
    Ok(row.map(|r| Issuer {
        id: r.get(0),
        name: r.get(1),
        generation: r.get(2),
    }))
}

/// [`find_issuer`], or a [`DbError::NotFound`] naming `ocsp import`.
pub async fn require_issuer(
    client: &impl GenericClient,
    cert: &IssuerCert,
) -> Result<Issuer, DbError> {
    find_issuer(client, cert).await?.ok_or_else(|| {
        DbError::NotFound(format!(
            "the CA {:?} (this key and name) is not in the database (register it: ocsp import --db URL --ca CACERT --index index.txt)",
            cert.subject
        ))
    })
}

/// Find or register the issuer of `cert` under `name` (default: its subject). Returns
/// the issuer and whether it was created now.
pub async fn register_issuer(
    client: &mut Client,
    cert: &IssuerCert,
    name: Option<&str>,
) -> Result<(Issuer, bool), DbError> {
    if let Some(found) = find_issuer(client, cert).await? {
        return Ok((found, false));
    }
    let tx = client.transaction().await.map_err(DbError::query)?;
    // Serialise registrations, so two importers of one CA make one row.
    tx.execute("LOCK TABLE ocsp_issuer IN SHARE ROW EXCLUSIVE MODE", &[])
        .await
        .map_err(DbError::query)?;
    if let Some(found) = find_issuer(&tx, cert).await? {
        tx.commit().await.map_err(DbError::query)?;
        return Ok((found, false));
    }
    let base = name.unwrap_or(&cert.subject).to_string();
    let taken: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM ocsp_issuer WHERE name = $1)",
            &[&base],
        )
        .await
        .map_err(DbError::query)?
        .get(0);
    let name = if taken {
        format!("{base} (key {})", hex::encode(&cert.spki_sha256[..6]))
    } else {
        base
    };
    let row = tx
        .query_one(
            "INSERT INTO ocsp_issuer (name, spki_sha256, subject_der, cert_der) \
             VALUES ($1, $2, $3, $4) RETURNING id, generation",
            &[&name, &cert.spki_sha256, &cert.subject_der, &cert.cert_der],
        )
        .await
        .map_err(DbError::query)?;
    tx.commit().await.map_err(DbError::query)?;
    Ok((
        Issuer {
            id: row.get(0),
            name,
            generation: row.get(1),
        },
        true,
    ))
}

/// One certificate's record in an import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRow {
    /// DER INTEGER content octets ([`crate::postgres::serial_to_db`]).
    pub serial: Vec<u8>,
    /// `Some`: revoked (time, reason, invalidity date); `None`: valid.
    pub revoked: Option<RevokedAt>,
    /// notBefore, when known.
    pub not_before: Option<Timestamp>,
    /// notAfter, when known.
    pub not_after: Option<Timestamp>,
    /// SHA-256 of the certificate, when known.
    pub cert_sha256: Option<Vec<u8>>,
}

/// A revocation as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevokedAt {
    /// revocationTime.
    pub time: Timestamp,
    /// The reason (`None`: no reasonCode).
    pub reason: Option<RevocationReason>,
    /// invalidityDate.
    pub invalidity_date: Option<Timestamp>,
}

/// What an import does with rows already in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportKind {
    /// A CA database (index.txt): statuses and validity from the rows.
    Statuses,
    /// Certificates (`--certs`): validity and hash only; a new serial is valid, a known
    /// one keeps its status.
    Certificates,
}

/// How an import treats conflicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportOptions {
    /// What the rows say.
    pub kind: ImportKind,
    /// Let a valid row replace a revoked one (else revoked stays revoked).
    pub allow_unrevoke: bool,
}

/// What an import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImportCounts {
    /// Rows read (after removing duplicate serials).
    pub rows: u64,
    /// Serials new to the database.
    pub inserted: u64,
    /// Serials whose record changed.
    pub updated: u64,
    /// Serials whose record was already as given.
    pub unchanged: u64,
    /// Serials revoked in the database but valid in the rows, left revoked.
    pub kept_revoked: u64,
    /// Duplicate serials dropped from the batch (a revoked row wins).
    pub duplicates: u64,
    /// The issuer's generation before.
    pub generation_before: i64,
    /// The issuer's generation after (equal to before when nothing changed).
    pub generation: i64,
}

fn ts(t: Timestamp) -> Result<OffsetDateTime, DbError> {
    let secs = i64::try_from(t.0).map_err(|_| DbError::Query(format!("time {t} out of range")))?;
    OffsetDateTime::from_unix_timestamp(secs)
        .map_err(|_| DbError::Query(format!("time {t} out of range")))
}

fn from_ts(t: OffsetDateTime) -> Timestamp {
    Timestamp(u64::try_from(t.unix_timestamp()).unwrap_or(0))
}

/// Import `rows` for issuer `issuer_id` in one transaction; `progress` is called with
/// the number of rows sent so far.
pub async fn import(
    client: &mut Client,
    issuer_id: i32,
    mut rows: Vec<ImportRow>,
    options: ImportOptions,
    progress: &mut (dyn FnMut(u64) + Send),
) -> Result<ImportCounts, DbError> {
    // One row per serial: a revoked record wins over a valid one.
    rows.sort_by(|a, b| {
        a.serial
            .cmp(&b.serial)
            .then_with(|| b.revoked.is_some().cmp(&a.revoked.is_some()))
    });
    let before = rows.len();
    rows.dedup_by(|later, first| later.serial == first.serial);
    let mut counts = ImportCounts {
        rows: rows.len() as u64,
        duplicates: (before - rows.len()) as u64,
        ..ImportCounts::default()
    };
    let tx = client.transaction().await.map_err(DbError::query)?;
    counts.generation_before = tx
        .query_one(
            "SELECT generation FROM ocsp_issuer WHERE id = $1",
            &[&issuer_id],
        )
        .await
        .map_err(DbError::query)?
        .get(0);
    tx.batch_execute(
        "CREATE TEMP TABLE ocsp_import (
           serial bytea NOT NULL, status text NOT NULL, not_before timestamptz,
           not_after timestamptz, revoked_at timestamptz, reason smallint,
           invalidity_date timestamptz, cert_sha256 bytea) ON COMMIT DROP",
    )
    .await
    .map_err(DbError::query)?;
    let sink = tx
        .copy_in(
            "COPY ocsp_import (serial, status, not_before, not_after, revoked_at, reason, \
             invalidity_date, cert_sha256) FROM STDIN (FORMAT binary)",
        )
        .await
        .map_err(DbError::query)?;
    let writer = BinaryCopyInWriter::new(
        sink,
        &[
            Type::BYTEA,
            Type::TEXT,
            Type::TIMESTAMPTZ,
            Type::TIMESTAMPTZ,
            Type::TIMESTAMPTZ,
            Type::INT2,
            Type::TIMESTAMPTZ,
            Type::BYTEA,
        ],
    );
    futures_util::pin_mut!(writer);
    let mut sent = 0u64;
    for r in &rows {
        let status = if r.revoked.is_some() { "R" } else { "V" };
        let not_before = r.not_before.map(ts).transpose()?;
        let not_after = r.not_after.map(ts).transpose()?;
        let revoked_at = r.revoked.map(|v| ts(v.time)).transpose()?;
        let reason = r.revoked.and_then(|v| v.reason).map(|x| x as u8 as i16);
        let invalidity = r
            .revoked
            .and_then(|v| v.invalidity_date)
            .map(ts)
            .transpose()?;
        writer
            .as_mut()
            .write(&[
                &r.serial,
                &status,
                &not_before,
                &not_after,
                &revoked_at,
                &reason,
                &invalidity,
                &r.cert_sha256,
            ])
            .await
            .map_err(DbError::query)?;
        sent += 1;
        if sent % 8192 == 0 {
            progress(sent);
        }
    }
    writer.finish().await.map_err(DbError::query)?;
    progress(sent);
    tx.batch_execute("ANALYZE ocsp_import")
        .await
        .map_err(DbError::query)?;
    // Two statements, not INSERT … ON CONFLICT: a BEFORE INSERT trigger fires for every
    // proposed row, conflicting or not, and would take a generation step for a batch
    // that changes nothing.
    let (update, insert) = match options.kind {
        ImportKind::Statuses => {
            if !options.allow_unrevoke {
                counts.kept_revoked = tx
                    .query_one(
                        "SELECT count(*) FROM ocsp_import t JOIN ocsp_cert c \
                         ON c.issuer_id = $1 AND c.serial = t.serial \
                         WHERE c.status = 'R' AND t.status <> 'R'",
                        &[&issuer_id],
                    )
                    .await
                    .map_err(DbError::query)?
                    .get::<_, i64>(0) as u64;
            }
            (
                "UPDATE ocsp_cert AS c SET
                   status = t.status,
                   not_before = coalesce(t.not_before, c.not_before),
                   not_after = coalesce(t.not_after, c.not_after),
                   revoked_at = t.revoked_at,
                   reason = t.reason,
                   invalidity_date = t.invalidity_date,
                   cert_sha256 = coalesce(t.cert_sha256, c.cert_sha256)
                 FROM ocsp_import t
                 WHERE c.issuer_id = $1 AND c.serial = t.serial
                   AND ($2 OR NOT (c.status = 'R' AND t.status <> 'R'))
                   AND (c.status::text, c.not_after, c.not_before, c.revoked_at, c.reason,
                        c.invalidity_date, c.cert_sha256)
                       IS DISTINCT FROM
                       (t.status, coalesce(t.not_after, c.not_after),
                        coalesce(t.not_before, c.not_before), t.revoked_at,
                        t.reason, t.invalidity_date, coalesce(t.cert_sha256, c.cert_sha256))",
                "INSERT INTO ocsp_cert (issuer_id, serial, status, not_before, not_after,
                                        revoked_at, reason, invalidity_date, cert_sha256)
                 SELECT $1, t.serial, t.status, t.not_before, t.not_after, t.revoked_at,
                        t.reason, t.invalidity_date, t.cert_sha256 FROM ocsp_import t
                 WHERE NOT EXISTS (SELECT 1 FROM ocsp_cert c
                                   WHERE c.issuer_id = $1 AND c.serial = t.serial)",
            )
        }
        ImportKind::Certificates => (
            "UPDATE ocsp_cert AS c SET
               not_before = t.not_before,
               not_after = t.not_after,
               cert_sha256 = t.cert_sha256
             FROM ocsp_import t
             WHERE c.issuer_id = $1 AND c.serial = t.serial
               AND (c.not_before, c.not_after, c.cert_sha256)
                   IS DISTINCT FROM (t.not_before, t.not_after, t.cert_sha256)",
            "INSERT INTO ocsp_cert (issuer_id, serial, status, not_before, not_after, cert_sha256)
             SELECT $1, t.serial, 'V', t.not_before, t.not_after, t.cert_sha256
               FROM ocsp_import t
             WHERE NOT EXISTS (SELECT 1 FROM ocsp_cert c
                               WHERE c.issuer_id = $1 AND c.serial = t.serial)",
        ),
    };
    let with_flag: [&(dyn tokio_postgres::types::ToSql + Sync); 2] =
        [&issuer_id, &options.allow_unrevoke];
    let params: &[&(dyn tokio_postgres::types::ToSql + Sync)] = match options.kind {
        ImportKind::Statuses => &with_flag,
        ImportKind::Certificates => &with_flag[..1],
    };
    counts.updated = tx.execute(update, params).await.map_err(DbError::query)?;
    counts.inserted = tx
        .execute(insert, &[&issuer_id])
        .await
        .map_err(DbError::query)?;
    counts.unchanged = counts
        .rows
        .saturating_sub(counts.inserted + counts.updated + counts.kept_revoked);
    counts.generation = tx
        .query_one(
            "SELECT generation FROM ocsp_issuer WHERE id = $1",
            &[&issuer_id],
        )
        .await
        .map_err(DbError::query)?
        .get(0);
    tx.commit().await.map_err(DbError::query)?;
    Ok(counts)
}

/// A revocation to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokeRequest {
    /// DER INTEGER content octets.
    pub serial: Vec<u8>,
    /// The reason (`None`: no reasonCode).
    pub reason: Option<RevocationReason>,
    /// revocationTime; `None`: now for a new revocation, kept for a serial already revoked.
    pub time: Option<Timestamp>,
    /// invalidityDate; `None`: none for a new revocation, kept for a serial already revoked.
    pub invalidity_date: Option<Timestamp>,
    /// From the certificate, when given: validity and hash.
    pub not_before: Option<Timestamp>,
    /// notAfter.
    pub not_after: Option<Timestamp>,
    /// SHA-256 of the certificate.
    pub cert_sha256: Option<Vec<u8>>,
}

/// What [`revoke`] or [`unrevoke`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    /// Whether the database changed (false: it already said so).
    pub changed: bool,
    /// Whether the serial was in the database before.
    pub known: bool,
    /// The generation of the row now (the change's generation when it changed).
    pub generation: i64,
    /// The record now.
    pub record: CertRecord,
}

/// One serial's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertRecord {
    /// The serial.
    pub serial: Serial,
    /// `V`, `R` or `D`.
    pub status: char,
    /// notBefore.
    pub not_before: Option<Timestamp>,
    /// notAfter.
    pub not_after: Option<Timestamp>,
    /// Revocation, when `R`.
    pub revoked: Option<RevokedAt>,
    /// SHA-256 of the certificate.
    pub cert_sha256: Option<Vec<u8>>,
    /// The generation that last changed it.
    pub updated_gen: i64,
    /// When it last changed.
    pub updated_at: Timestamp,
    /// The role that last changed it.
    pub updated_by: String,
}

const RECORD_COLUMNS: &str = "serial, status, not_before, not_after, revoked_at, reason, \
     invalidity_date, cert_sha256, updated_gen, updated_at, updated_by";

fn record(r: &tokio_postgres::Row) -> CertRecord {
    let serial: Vec<u8> = r.get(0);
    let status: String = r.get(1);
    let revoked_at: Option<OffsetDateTime> = r.get(4);
    let reason: Option<i16> = r.get(5);
    let invalidity: Option<OffsetDateTime> = r.get(6);
    CertRecord {
        serial: serial_from_db(&serial),
        status: status.chars().next().unwrap_or('?'),
        not_before: r.get::<_, Option<OffsetDateTime>>(2).map(from_ts),
        not_after: r.get::<_, Option<OffsetDateTime>>(3).map(from_ts),
        revoked: revoked_at.map(|t| RevokedAt {
            time: from_ts(t),
            reason: reason
                .and_then(|c| u8::try_from(c).ok())
                .and_then(RevocationReason::from_code),
            invalidity_date: invalidity.map(from_ts),
        }),
        cert_sha256: r.get(7),
        updated_gen: r.get(8),
        updated_at: from_ts(r.get(9)),
        updated_by: r.get(10),
    }
}

/// Revoke one serial of issuer `issuer_id`.
pub async fn revoke(
    client: &mut Client,
    issuer_id: i32,
    req: &RevokeRequest,
) -> Result<Changed, DbError> {
    let tx = client.transaction().await.map_err(DbError::query)?;
    let current = tx
        .query_opt(
            &format!(
                "SELECT {RECORD_COLUMNS} FROM ocsp_cert WHERE issuer_id = $1 AND serial = $2 FOR UPDATE"
            ),
            &[&issuer_id, &req.serial],
        )
        .await
        .map_err(DbError::query)?
        .map(|r| record(&r));
    let time = match (&req.time, &current) {
        (Some(t), _) => *t,
        (None, Some(c)) if c.status == 'R' => c.revoked.map(|r| r.time).unwrap_or(Timestamp(0)),
        _ => {
            let now: OffsetDateTime = tx
                .query_one("SELECT date_trunc('second', now())", &[])
                .await
                .map_err(DbError::query)?
                .get(0);
            from_ts(now)
        }
    };
    let reason = req.reason.map(|r| r as u8 as i16);
    // Not given: an already revoked serial keeps its invalidity date.
    let invalidity = req.invalidity_date.or_else(|| {
        current
            .as_ref()
            .and_then(|c| c.revoked)
            .and_then(|r| r.invalidity_date)
    });
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 8] = [
        &issuer_id,
        &req.serial,
        &ts(time)?,
        &reason,
        &invalidity.map(ts).transpose()?,
        &req.not_before.map(ts).transpose()?,
        &req.not_after.map(ts).transpose()?,
        &req.cert_sha256,
    ];
    // UPDATE or INSERT, never INSERT … ON CONFLICT (whose BEFORE INSERT trigger would
    // take a generation step for a revocation already recorded).
    let sql = if current.is_some() {
        format!(
            "UPDATE ocsp_cert AS c SET status = 'R', revoked_at = $3, reason = $4, \
               invalidity_date = $5, not_before = coalesce($6, c.not_before), \
               not_after = coalesce($7, c.not_after), cert_sha256 = coalesce($8, c.cert_sha256) \
             WHERE issuer_id = $1 AND serial = $2 RETURNING {RECORD_COLUMNS}"
        )
    } else {
        format!(
            "INSERT INTO ocsp_cert (issuer_id, serial, status, revoked_at, reason, \
               invalidity_date, not_before, not_after, cert_sha256) \
             VALUES ($1, $2, 'R', $3, $4, $5, $6, $7, $8) RETURNING {RECORD_COLUMNS}"
        )
    };
    let row = tx.query_opt(&sql, &params).await;
    // An identical update is skipped by the trigger: no row comes back.
    let now = match (row.map_err(DbError::query)?, &current) {
        (Some(r), _) => record(&r),
        (None, Some(c)) => c.clone(),
        (None, None) => {
            return Err(DbError::Query(
                "the revocation was not recorded (no row written)".into(),
            ))
        }
    };
    tx.commit().await.map_err(DbError::query)?;
    let changed = current.as_ref() != Some(&now);
    Ok(Changed {
        changed,
        known: current.is_some(),
        generation: now.updated_gen,
        record: now,
    })
}

/// Make a revoked serial valid again: only from `certificateHold` unless `force`.
pub async fn unrevoke(
    client: &mut Client,
    issuer_id: i32,
    serial: &[u8],
    force: bool,
) -> Result<Changed, DbError> {
    let tx = client.transaction().await.map_err(DbError::query)?;
    let current = tx
        .query_opt(
            &format!(
                "SELECT {RECORD_COLUMNS} FROM ocsp_cert WHERE issuer_id = $1 AND serial = $2 FOR UPDATE"
            ),
            &[&issuer_id, &serial],
        )
        .await
        .map_err(DbError::query)?
        .map(|r| record(&r));
    let Some(current) = current else {
        return Err(DbError::NotFound(format!(
            "serial {} is not in the database for this CA",
            serial_from_db(serial).to_hex()
        )));
    };
    if current.status != 'R' {
        return Ok(Changed {
            changed: false,
            known: true,
            generation: current.updated_gen,
            record: current,
        });
    }
    let reason = current.revoked.and_then(|r| r.reason);
    if reason != Some(RevocationReason::CertificateHold) && !force {
        return Err(DbError::Refused(format!(
            "serial {} is revoked ({}), not on hold: revocation is permanent (RFC 5280 §3.3); only certificateHold is lifted without --force",
            current.serial.to_hex(),
            reason.map(|r| r.openssl_name()).unwrap_or("no reason")
        )));
    }
    let row = tx
        .query_one(
            &format!(
                "UPDATE ocsp_cert SET status = 'V', revoked_at = NULL, reason = NULL, \
                 invalidity_date = NULL WHERE issuer_id = $1 AND serial = $2 RETURNING {RECORD_COLUMNS}"
            ),
            &[&issuer_id, &serial],
        )
        .await
        .map_err(DbError::query)?;
    tx.commit().await.map_err(DbError::query)?;
    let now = record(&row);
    Ok(Changed {
        changed: true,
        known: true,
        generation: now.updated_gen,
        record: now,
    })
}

/// The record of one serial, if any.
pub async fn cert_status(
    client: &impl GenericClient,
    issuer_id: i32,
    serial: &[u8],
) -> Result<Option<CertRecord>, DbError> {
    Ok(client
        .query_opt(
            &format!("SELECT {RECORD_COLUMNS} FROM ocsp_cert WHERE issuer_id = $1 AND serial = $2"),
            &[&issuer_id, &serial],
        )
        .await
        .map_err(DbError::query)?
        .map(|r| record(&r)))
}

/// A node's last report for one issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeReport {
    /// The node's id.
    pub node_id: String,
    /// The generation it has seen.
    pub seen_gen: i64,
    /// How long ago it reported, in milliseconds (by the database's clock).
    pub age_ms: i64,
}

/// How recently a node must have reported to count as live.
pub const LIVE_WINDOW: Duration = Duration::from_secs(10);

/// Every node's report for issuer `issuer_id`, most recent first.
pub async fn nodes(
    client: &impl GenericClient,
    issuer_id: i32,
) -> Result<Vec<NodeReport>, DbError> {
    let rows = client
        .query(
            "SELECT node_id, seen_gen, \
               (extract(epoch FROM (clock_timestamp() - seen_at)) * 1000)::bigint \
             FROM ocsp_node WHERE issuer_id = $1 ORDER BY seen_at DESC, node_id",
            &[&issuer_id],
        )
        .await
        .map_err(DbError::query)?;
    Ok(rows
        .iter()
        .map(|r| NodeReport {
            node_id: r.get(0),
            seen_gen: r.get(1),
            age_ms: r.get(2),
        })
        .collect())
}

/// Record that `node` has seen generation `gen` of issuer `issuer_id`.
pub async fn report_node(
    client: &impl GenericClient,
    node: &str,
    issuer_id: i32,
    gen: i64,
) -> Result<(), DbError> {
    client
        .execute(
            "SELECT ocsp_node_report($1, $2, $3)",
            &[&node, &issuer_id, &gen],
        )
        .await
        .map_err(DbError::query)?;
    Ok(())
}

/// The outcome of [`wait_for_nodes`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitOutcome {
    /// The nodes live at the end (reported within [`LIVE_WINDOW`]).
    pub live: Vec<NodeReport>,
    /// The live nodes that had not seen the generation when the wait ended (empty:
    /// every live node has).
    pub lagging: Vec<NodeReport>,
}

/// Wait until every node that reported for `issuer_id` within [`LIVE_WINDOW`] has seen
/// generation `gen`, or `timeout` passes.
pub async fn wait_for_nodes(
    client: &impl GenericClient,
    issuer_id: i32,
    gen: i64,
    timeout: Duration,
) -> Result<WaitOutcome, DbError> {
    let deadline = Instant::now() + timeout;
    let live_ms = LIVE_WINDOW.as_millis() as i64;
    loop {
        let live: Vec<NodeReport> = nodes(client, issuer_id)
            .await?
            .into_iter()
            .filter(|n| n.age_ms <= live_ms)
            .collect();
        let lagging: Vec<NodeReport> = live.iter().filter(|n| n.seen_gen < gen).cloned().collect();
        if lagging.is_empty() || Instant::now() >= deadline {
            return Ok(WaitOutcome { live, lagging });
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The next CRL number of issuer `issuer_id`'s `shard`, at least `at_least` (big-endian
/// magnitude octets), strictly greater than any number handed out before; big-endian
/// octets without leading zeros (zero is one `0x00`).
pub async fn next_crl_number(
    client: &impl GenericClient,
    issuer_id: i32,
    shard: i32,
    at_least: &[u8],
) -> Result<Vec<u8>, DbError> {
    let floor = be_to_decimal(at_least);
    let row = client
        .query_one(
            "INSERT INTO ocsp_crl_number AS n (issuer_id, shard, last_number) \
             VALUES ($1, $2, CAST($3::text AS numeric)) \
             ON CONFLICT (issuer_id, shard) DO UPDATE \
               SET last_number = greatest(n.last_number + 1, excluded.last_number) \
             RETURNING last_number::text",
            &[&issuer_id, &shard, &floor],
        )
        .await
        .map_err(DbError::query)?;
    let text: String = row.get(0);
    decimal_to_be(&text).ok_or_else(|| {
        DbError::Query(format!(
            "CRL number {text:?} in the database is not an integer"
        ))
    })
}

/// Big-endian magnitude octets as decimal text.
pub fn be_to_decimal(bytes: &[u8]) -> String {
    let mut digits: Vec<u8> = vec![0]; // little-endian base-10
    for &b in bytes {
        let mut carry = b as u32;
        for d in digits.iter_mut() {
            let v = *d as u32 * 256 + carry;
            *d = (v % 10) as u8;
            carry = v / 10;
        }
        while carry > 0 {
            digits.push((carry % 10) as u8);
            carry /= 10;
        }
    }
    while digits.len() > 1 && digits.last() == Some(&0) {
        digits.pop();
    }
    digits.iter().rev().map(|d| char::from(b'0' + d)).collect()
}

/// Decimal text as big-endian magnitude octets (`None` if not digits).
pub fn decimal_to_be(text: &str) -> Option<Vec<u8>> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut out: Vec<u8> = vec![0]; // little-endian base-256
    for b in text.bytes() {
        let mut carry = (b - b'0') as u32;
        for o in out.iter_mut() {
            let v = *o as u32 * 10 + carry;
            *o = (v & 0xff) as u8;
            carry = v >> 8;
        }
        while carry > 0 {
            out.push((carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    while out.len() > 1 && out.last() == Some(&0) {
        out.pop();
    }
    out.reverse();
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crl_numbers_round_trip_decimal() {
        for (be, dec) in [
            (&[0u8][..], "0"),
            (&[1], "1"),
            (&[1, 0], "256"),
            (
                &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
                "4722366482869645213695",
            ),
        ] {
            assert_eq!(be_to_decimal(be), dec);
            assert_eq!(decimal_to_be(dec).unwrap(), be);
        }
        assert_eq!(be_to_decimal(&[]), "0");
        assert_eq!(decimal_to_be("12x"), None);
    }
}
