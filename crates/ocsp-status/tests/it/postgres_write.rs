//! The write side against a real PostgreSQL: what the contract with the serving side
//! promises. One generation step per transaction, however many rows; a batch that
//! changes nothing takes none; the one-statement delta sees every change (tombstones
//! included: DELETE does nothing); NOTIFY carries the issuer id; CRL numbers only grow,
//! also when two writers ask at once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use futures_util::StreamExt;
use ocsp_proto::{RevocationReason, Serial, Timestamp};
use ocsp_status::postgres::write::{
    self, ImportKind, ImportOptions, ImportRow, IssuerCert, RevokeRequest, RevokedAt,
};
use ocsp_status::postgres::{connect, schema, serial_from_db, serial_to_db, DatabaseUrl};
use std::time::Duration;
use test_support::postgres::PgCluster;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn issuer_cert(tag: u8) -> IssuerCert {
    IssuerCert {
        spki_sha256: vec![tag; 32],
        subject_der: vec![0x30, 0x00, tag],
        cert_der: vec![0x30, 0x00],
        subject: format!("CN=Test {tag}"),
    }
}

fn row(serial: &[u8], revoked: bool) -> ImportRow {
    ImportRow {
        serial: serial.to_vec(),
        revoked: revoked.then_some(RevokedAt {
            time: Timestamp(1_700_000_000),
            reason: Some(RevocationReason::KeyCompromise),
            invalidity_date: None,
        }),
        not_before: None,
        not_after: Some(Timestamp(1_900_000_000)),
        cert_sha256: None,
    }
}

const STATUSES: ImportOptions = ImportOptions {
    kind: ImportKind::Statuses,
    allow_unrevoke: false,
};

const DELTA: &str = "SELECT i.generation, c.serial, c.status, c.revoked_at, c.reason, \
    c.invalidity_date, c.not_after, c.updated_gen FROM ocsp_issuer i LEFT JOIN ocsp_cert c \
    ON c.issuer_id = i.id AND c.updated_gen > $2 WHERE i.id = $1";

#[test]
fn generations_deltas_tombstones_and_notify() {
    let pg = PgCluster::shared();
    let db = pg.fresh_db();
    rt().block_on(async {
        let url = DatabaseUrl::parse(&db.url).unwrap();
        let mut c = connect(&url).await.unwrap();
        schema::migrate(&mut c).await.unwrap();
        let (a, created) = write::register_issuer(&mut c, &issuer_cert(1), None)
            .await
            .unwrap();
        assert!(created);
        let (again, created) = write::register_issuer(&mut c, &issuer_cert(1), None)
            .await
            .unwrap();
        assert!(!created);
        assert_eq!(again.id, a.id);
        // Same name, other key: a second issuer, its name made unique.
        let mut rekeyed = issuer_cert(2);
        rekeyed.subject = "CN=Test 1".into();
        let (b, _) = write::register_issuer(&mut c, &rekeyed, None)
            .await
            .unwrap();
        assert_ne!(b.id, a.id);
        assert!(b.name.starts_with("CN=Test 1 (key 0202"), "{}", b.name);

        // A listener, on its own connection.
        let (listener, mut conn) = url
            .config()
            .connect(ocsp_status::postgres::connect::tls(&url).unwrap())
            .await
            .unwrap();
        let (ntx, mut nrx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut stream = futures_util::stream::poll_fn(move |cx| conn.poll_message(cx));
            while let Some(Ok(m)) = stream.next().await {
                if let tokio_postgres::AsyncMessage::Notification(n) = m {
                    let _ = ntx.send(n.payload().to_string());
                }
            }
        });
        listener.batch_execute("LISTEN ocsp_status").await.unwrap();

        let rows: Vec<ImportRow> = (1u8..=50).map(|i| row(&[i], i % 10 == 0)).collect();
        let counts = write::import(&mut c, a.id, rows.clone(), STATUSES, &mut |_| {})
            .await
            .unwrap();
        assert_eq!(
            (counts.inserted, counts.updated, counts.generation),
            (50, 0, 1)
        );
        let payload = tokio::time::timeout(Duration::from_secs(5), nrx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(payload, a.id.to_string());
        // Unchanged: no step.
        let counts = write::import(&mut c, a.id, rows, STATUSES, &mut |_| {})
            .await
            .unwrap();
        assert_eq!((counts.unchanged, counts.generation), (50, 1));

        // A revocation is one step; the delta from 1 is exactly that row.
        let ch = write::revoke(
            &mut c,
            a.id,
            &RevokeRequest {
                serial: vec![7],
                reason: Some(RevocationReason::Superseded),
                time: None,
                invalidity_date: None,
                not_before: None,
                not_after: None,
                cert_sha256: None,
            },
        )
        .await
        .unwrap();
        assert!(ch.changed && ch.known);
        assert_eq!(ch.generation, 2);
        let delta = c.query(DELTA, &[&a.id, &1i64]).await.unwrap();
        assert_eq!(delta.len(), 1);
        let gen: i64 = delta[0].get(0);
        let serial: Vec<u8> = delta[0].get(1);
        let status: String = delta[0].get(2);
        assert_eq!((gen, serial, status.as_str()), (2, vec![7u8], "R"));
        // Nothing newer: one row of NULLs carrying the generation.
        let none = c.query(DELTA, &[&a.id, &2i64]).await.unwrap();
        assert_eq!(none.len(), 1);
        assert!(none[0].get::<_, Option<Vec<u8>>>(1).is_none());

        // DELETE does nothing; a tombstone is a change like any other.
        assert_eq!(c.execute("DELETE FROM ocsp_cert", &[]).await.unwrap(), 0);
        c.execute(
            "UPDATE ocsp_cert SET status = 'D', revoked_at = NULL, reason = NULL \
             WHERE issuer_id = $1 AND serial = '\\x01'",
            &[&a.id],
        )
        .await
        .unwrap();
        let delta = c.query(DELTA, &[&a.id, &2i64]).await.unwrap();
        let status: String = delta[0].get(2);
        assert_eq!((delta.len(), status.as_str()), (1, "D"));

        // Two writers of one issuer: their generations are distinct and in commit order.
        let mut c2 = connect(&url).await.unwrap();
        let req8 = RevokeRequest {
            serial: vec![8],
            reason: None,
            time: None,
            invalidity_date: None,
            not_before: None,
            not_after: None,
            cert_sha256: None,
        };
        let r1 = write::unrevoke(&mut c, a.id, &[7], true);
        let r2 = write::revoke(&mut c2, a.id, &req8);
        let (r1, r2) = tokio::join!(r1, r2);
        let (g1, g2) = (r1.unwrap().generation, r2.unwrap().generation);
        assert_ne!(g1, g2);
        assert_eq!(g1.max(g2), 5);
        // The other issuer was never touched.
        let gb: i64 = c
            .query_one("SELECT generation FROM ocsp_issuer WHERE id = $1", &[&b.id])
            .await
            .unwrap()
            .get(0);
        assert_eq!(gb, 0);
        // Rows of an unknown issuer are refused; a row never moves to another serial.
        let e = c
            .execute(
                "INSERT INTO ocsp_cert (issuer_id, serial, status) VALUES (999, '\\x01', 'V')",
                &[],
            )
            .await
            .unwrap_err();
        let e = ocsp_status::postgres::DbError::query(e).to_string();
        assert!(e.contains("no issuer with id 999"), "{e}");
        let e = c
            .execute(
                "UPDATE ocsp_cert SET serial = '\\x63' WHERE serial = '\\x02'",
                &[],
            )
            .await
            .unwrap_err();
        let e = ocsp_status::postgres::DbError::query(e).to_string();
        assert!(e.contains("never change"), "{e}");
    });
}

#[test]
fn serials_round_trip_as_der_content() {
    for hex in ["01", "7F", "80", "00FF", "8000F1"] {
        let s = Serial::from_hex(hex).unwrap();
        let db = serial_to_db(&s);
        assert_eq!(serial_from_db(&db), s);
        assert!(db[0] & 0x80 == 0, "{hex}: a positive INTEGER's first octet");
    }
    assert_eq!(
        serial_to_db(&Serial::from_hex("80").unwrap()),
        vec![0, 0x80]
    );
}

#[test]
fn crl_numbers_only_grow() {
    let pg = PgCluster::shared();
    let db = pg.fresh_db();
    rt().block_on(async {
        let url = DatabaseUrl::parse(&db.url).unwrap();
        let mut c = connect(&url).await.unwrap();
        schema::migrate(&mut c).await.unwrap();
        let (a, _) = write::register_issuer(&mut c, &issuer_cert(9), None)
            .await
            .unwrap();
        assert_eq!(
            write::next_crl_number(&c, a.id, 0, &[5]).await.unwrap(),
            vec![5]
        );
        assert_eq!(
            write::next_crl_number(&c, a.id, 0, &[1]).await.unwrap(),
            vec![6]
        );
        assert_eq!(
            write::next_crl_number(&c, a.id, 0, &[1, 0]).await.unwrap(),
            vec![1, 0]
        );
        assert_eq!(
            write::next_crl_number(&c, a.id, 1, &[0]).await.unwrap(),
            vec![0]
        );
        let c2 = connect(&url).await.unwrap();
        let (x, y) = tokio::join!(
            write::next_crl_number(&c, a.id, 0, &[0]),
            write::next_crl_number(&c2, a.id, 0, &[0])
        );
        let mut got = vec![x.unwrap(), y.unwrap()];
        got.sort();
        assert_eq!(got, vec![vec![1, 1], vec![1, 2]]);
    });
}
