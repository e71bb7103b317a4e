//! Helpers of the PostgreSQL serving tests: a fresh database with the schema and roles,
//! an openssl CA registered in it, statuses written as the writer role (the way
//! `ocsp import`/`revoke` write them), responders started on it, answers fetched and
//! judged.

use ocsp_proto::{HashAlg, Serial};
use ocsp_status::postgres::schema;
use ocsp_status::postgres::source::issuer_lookup_key;
use ocsp_status::postgres::{connect, DatabaseUrl};
use std::net::SocketAddr;
use std::path::PathBuf;
use test_support::http::{get_path_of, get_req, http};
use test_support::judge::{judge, read_cert, serial_of, Checker, Verdict};
use test_support::pki::Pki;
use test_support::postgres::{PgCluster, TestDb};
use test_support::responder::Responder;

/// A database holding one CA's statuses.
pub struct PgCa {
    pub pki: Pki,
    pub db: TestDb,
    /// The URL of a login role in `ocsp_reader` (SELECT only).
    pub reader_url: String,
    /// The URL of a login role in `ocsp_writer`.
    pub writer_url: String,
    pub checker: Checker,
    pub cluster: &'static PgCluster,
    rt: tokio::runtime::Runtime,
}

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn client(url: &str) -> tokio_postgres::Client {
    connect(&DatabaseUrl::parse(url).unwrap()).await.unwrap()
}

impl PgCa {
    /// A CA with `leaves` issued (all valid), registered in a fresh database of the
    /// test binary's shared cluster.
    pub fn new(name: &str, leaves: &[&str]) -> PgCa {
        PgCa::on(PgCluster::shared(), name, leaves)
    }

    /// [`PgCa::new`] on cluster `pg`.
    pub fn on(pg: &'static PgCluster, name: &str, leaves: &[&str]) -> PgCa {
        let pki = Pki::new(name);
        for l in leaves {
            pki.issue(l);
        }
        let db = pg.fresh_db();
        let rt = rt();
        let (reader, writer) = (format!("r_{}", db.name), format!("w_{}", db.name));
        rt.block_on(async {
            let mut c = client(&db.url).await;
            schema::migrate(&mut c).await.unwrap();
            schema::create_roles(&mut c).await.unwrap();
            c.batch_execute(&format!(
                "CREATE ROLE {reader} LOGIN PASSWORD 'rpw' IN ROLE ocsp_reader;
                 CREATE ROLE {writer} LOGIN PASSWORD 'wpw' IN ROLE ocsp_writer;"
            ))
            .await
            .unwrap();
            let der = {
                use der::Encode;
                read_cert(&pki.cacert).to_der().unwrap()
            };
            let (spki, subject) = issuer_lookup_key(&der).unwrap();
            c.execute(
                "INSERT INTO ocsp_issuer (name, spki_sha256, subject_der, cert_der) VALUES ($1, $2, $3, $4)",
                &[&name, &spki, &subject, &der],
            )
            .await
            .unwrap();
        });
        let reader_url = db.url_for(&reader, "rpw");
        let writer_url = db.url_for(&writer, "wpw");
        let checker = Checker::new(&pki);
        let ca = PgCa {
            pki,
            db,
            reader_url,
            writer_url,
            checker,
            cluster: pg,
            rt,
        };
        for l in leaves {
            ca.write(&format!(
                "INSERT INTO ocsp_cert (issuer_id, serial, status, not_after) VALUES ((SELECT id FROM ocsp_issuer), decode('{}', 'hex'), 'V', now() + interval '1 year')",
                ca.db_serial(l)
            ));
        }
        ca
    }

    /// The serial of leaf `cn` as stored (DER content octets, hex).
    pub fn db_serial(&self, cn: &str) -> String {
        hex::encode(self.serial(cn).to_integer_content())
    }

    pub fn serial(&self, cn: &str) -> Serial {
        serial_of(&self.pki.cert(cn))
    }

    /// Run SQL as the writer role (one transaction per call).
    pub fn write(&self, sql: &str) {
        self.rt.block_on(async {
            let c = client(&self.writer_url).await;
            c.batch_execute(&format!("BEGIN; {sql}; COMMIT;"))
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        });
    }

    /// Revoke leaf `cn` (keyCompromise) and commit.
    pub fn revoke(&self, cn: &str) {
        self.write(&format!(
            "UPDATE ocsp_cert SET status = 'R', revoked_at = now(), reason = 1 WHERE serial = decode('{}', 'hex')",
            self.db_serial(cn)
        ));
    }

    /// Run SQL as the superuser in this database.
    pub fn admin(&self, sql: &str) -> String {
        self.cluster.exec_in(&self.db.name, sql)
    }

    /// A `--config` file: this CA's `[[issuer]]` served from the database `url` with
    /// `status` lines in `[issuer.status]`, listening on 127.0.0.1:0 as node `node`.
    pub fn config(&self, url: &str, node: &str, status: &str) -> PathBuf {
        let ca = &self.pki;
        let text = format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\n[database]\nurl = {url:?}\nnode_id = {node:?}\n\
             [[issuer]]\nca = {:?}\nrsigner = {:?}\nrkey = {:?}\npassin = {:?}\n\
             [issuer.status]\ntype = \"postgres\"\n{status}\n",
            ca.cacert.display().to_string(),
            ca.responder.cert.display().to_string(),
            ca.responder.key.display().to_string(),
            ca.passin()
        );
        let path = ca.path().join(format!("{node}.toml"));
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Start `ocsp serve --config` for node `node` (extra flags after).
    pub fn serve(&self, url: &str, node: &str, status: &str, extra: &[&str]) -> Responder {
        let cfg = self.config(url, node, status);
        let mut args = vec!["--config".to_string(), cfg.display().to_string()];
        args.extend(extra.iter().map(|s| s.to_string()));
        Responder::start(crate::OCSP, args)
    }

    /// The GET request for leaf `cn` (SHA-1 CertID, no nonce: cacheable).
    pub fn request(&self, cn: &str) -> Vec<u8> {
        self.checker
            .request(&[self.serial(cn)], HashAlg::Sha1, None)
    }

    /// Ask `addr` for leaf `cn` by GET: the body, judged. `Ok(Some(status))` for a
    /// verified answer (`good`, `revoked`, `unknown`), `Ok(None)` for an unsigned error
    /// response (its status in the Err of a 5xx or a bad answer).
    pub fn ask(&self, addr: SocketAddr, cn: &str) -> Result<Option<String>, String> {
        let req = self.request(cn);
        let resp = http(addr, &get_req(&get_path_of(&req), &["Connection: close"]));
        if resp.status != 200 {
            return Err(format!("HTTP {}", resp.status));
        }
        let now = ocsp_proto::Timestamp(test_support::files::unix_now());
        match judge(&req, &resp.body, &[read_cert(&self.pki.cacert)], now)? {
            Verdict::Error(s) => {
                if s == ocsp_proto::x509_ocsp::OcspResponseStatus::TryLater {
                    Ok(None)
                } else {
                    Err(format!("error status {s:?}"))
                }
            }
            Verdict::Verified(j) => {
                let a = &j.verified.answers[0];
                Ok(Some(
                    match &a.status {
                        ocsp_proto::CertStatus::Good => "good",
                        ocsp_proto::CertStatus::Revoked(_) => "revoked",
                        _ => "unknown",
                    }
                    .to_string(),
                ))
            }
        }
    }

    /// [`PgCa::ask`] that must be a verified answer.
    pub fn status(&self, addr: SocketAddr, cn: &str) -> String {
        match self.ask(addr, cn) {
            Ok(Some(s)) => s,
            other => panic!("{cn} at {addr}: {other:?}"),
        }
    }
}

/// A counter of the `/metrics` page of `r` (0 when absent).
pub fn metric(r: &Responder, name: &str) -> f64 {
    let addr = test_support::responder::metrics_addr(r);
    let (_, body) = test_support::http::get(addr, "/metrics");
    body.lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}
