//! The schema against a real PostgreSQL: migrations (idempotent, two at once), the
//! schema checks, privileges of the reader role, TLS (`verify-full`, a wrong CA refused),
//! and each connection error naming its fix.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use ocsp_status::postgres::schema::{self, Role, SchemaState, SCHEMA_VERSION};
use ocsp_status::postgres::{connect, DatabaseUrl, DbError};
use test_support::postgres::PgCluster;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

async fn client(url: &str) -> tokio_postgres::Client {
    connect(&DatabaseUrl::parse(url).unwrap()).await.unwrap()
}

#[test]
fn migrate_is_idempotent_and_checked() {
    let pg = PgCluster::shared();
    let db = pg.fresh_db();
    rt().block_on(async {
        let mut c = client(&db.url).await;
        assert_eq!(
            schema::check_schema(&c).await.unwrap(),
            SchemaState::Missing
        );
        let e = schema::check_schema(&c)
            .await
            .unwrap()
            .require_current()
            .unwrap_err();
        assert!(e.to_string().contains("run `ocsp db migrate"), "{e}");
        let m = schema::migrate(&mut c).await.unwrap();
        assert_eq!((m.from, m.to, m.applied.len()), (0, SCHEMA_VERSION, 1));
        let again = schema::migrate(&mut c).await.unwrap();
        assert!(again.applied.is_empty(), "{again:?}");
        assert_eq!(
            schema::check_schema(&c).await.unwrap(),
            SchemaState::Current(SCHEMA_VERSION)
        );
        // Older and newer schemas are named, with their fix.
        c.batch_execute("DELETE FROM ocsp_schema").await.unwrap();
        c.batch_execute(&format!(
            "INSERT INTO ocsp_schema (version) VALUES ({})",
            SCHEMA_VERSION + 1
        ))
        .await
        .unwrap();
        let e = schema::check_schema(&c)
            .await
            .unwrap()
            .require_current()
            .unwrap_err();
        assert!(matches!(e, DbError::SchemaNewer { .. }), "{e}");
        assert!(e.to_string().contains("upgrade ocsp"), "{e}");
        let e = schema::migrate(&mut c).await.unwrap_err();
        assert!(matches!(e, DbError::SchemaNewer { .. }), "{e}");
    });
}

#[test]
fn two_migrations_at_once() {
    let pg = PgCluster::shared();
    let db = pg.fresh_db();
    rt().block_on(async {
        let mut a = client(&db.url).await;
        let mut b = client(&db.url).await;
        let (ra, rb) = tokio::join!(schema::migrate(&mut a), schema::migrate(&mut b));
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        assert_eq!(
            ra.applied.len() + rb.applied.len(),
            1,
            "exactly one applies: {ra:?} {rb:?}"
        );
        assert_eq!(
            pg.exec_in(&db.name, "SELECT count(*) FROM ocsp_schema"),
            "1"
        );
    });
}

#[test]
fn reader_role_reads_but_cannot_write() {
    let pg = PgCluster::shared();
    let db = pg.fresh_db();
    let pw = test_support::postgres::random_hex(8);
    let login = format!("rd_{}", test_support::postgres::random_hex(3));
    rt().block_on(async {
        let mut c = client(&db.url).await;
        schema::migrate(&mut c).await.unwrap();
        schema::create_roles(&mut c).await.unwrap();
        schema::create_roles(&mut c).await.unwrap();
        pg.exec(&format!(
            "CREATE ROLE {login} LOGIN PASSWORD '{pw}'; GRANT ocsp_reader TO {login}"
        ));
        let r = client(&db.url_for(&login, &pw)).await;
        assert!(schema::check_privileges(&r, Role::Reader)
            .await
            .unwrap()
            .is_empty());
        let missing = schema::check_privileges(&r, Role::Writer).await.unwrap();
        assert!(
            missing.iter().any(
                |m| m.what == "INSERT on ocsp_cert" && m.grant.contains("GRANT ocsp_writer TO")
            ),
            "{missing:?}"
        );
        let e = schema::require_privileges(&r, Role::Writer)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("GRANT"), "{e}");
        let e = r
            .execute("UPDATE ocsp_issuer SET generation = 7", &[])
            .await
            .unwrap_err();
        assert!(
            matches!(DbError::query(e), DbError::Privilege { .. }),
            "an UPDATE by the reader is a privilege error"
        );
        r.execute("SELECT ocsp_node_report('n1', 1, 0)", &[])
            .await
            .map(|_| ())
            .unwrap_or_else(|e| {
                // issuer 1 does not exist: a foreign-key error, not a privilege error
                assert!(!matches!(DbError::query(e), DbError::Privilege { .. }));
            });
    });
}

#[test]
fn connection_errors_name_the_fix() {
    let pg = PgCluster::shared();
    let db = pg.fresh_db();
    rt().block_on(async {
        let err = |u: String| async move {
            connect(&DatabaseUrl::parse(&u).unwrap())
                .await
                .map(|_| ())
                .unwrap_err()
        };
        let e = err(db.url_for("postgres", "wrong-password")).await;
        assert!(matches!(e, DbError::Auth { .. }), "{e}");
        assert!(!e.to_string().contains("wrong-password"), "{e}");
        let e = err(db.url.replace(&db.name, "no_such_db")).await;
        assert!(matches!(e, DbError::DatabaseMissing { .. }), "{e}");
        assert!(e.to_string().contains("createdb no_such_db"), "{e}");
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let e = err(format!("postgres://u:pw@127.0.0.1:{port}/x")).await;
        assert!(matches!(e, DbError::Unreachable { .. }), "{e}");
        assert!(e.to_string().contains("is running"), "{e}");
    });
}

#[test]
fn tls_verify_full_and_wrong_ca() {
    let pg = PgCluster::shared();
    let db = pg.fresh_db();
    rt().block_on(async {
        let base = db
            .url
            .replace("127.0.0.1", "localhost")
            .replace("?sslmode=disable", "");
        let good = format!(
            "{base}?sslmode=verify-full&sslrootcert={}",
            pg.tls_ca().display()
        );
        let c = client(&good).await;
        let ssl: bool = c
            .query_one(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert!(ssl, "verify-full connection is not encrypted");
        let bad = format!(
            "{base}?sslmode=verify-full&sslrootcert={}",
            pg.foreign_ca().display()
        );
        let e = connect(&DatabaseUrl::parse(&bad).unwrap())
            .await
            .map(|_| ())
            .unwrap_err();
        assert!(matches!(e, DbError::Tls { .. }), "{e}");
        assert!(e.to_string().contains("sslrootcert"), "{e}");
        let req = format!("{base}?sslmode=require");
        let c = client(&req).await;
        c.query_one("SELECT 1", &[]).await.unwrap();
    });
}
