//! A throwaway PostgreSQL cluster for tests, or the one `OCSP_TEST_DATABASE_URL` names.
//!
//! [`PgCluster::shared`] starts one cluster per test binary on first use: `initdb` and
//! `pg_ctl start` in a fresh directory under the system temp dir, listening on
//! 127.0.0.1 at a free port (and a unix socket in that directory), password login
//! (scram-sha-256) over TCP, `ssl=on` with a server certificate for `localhost` and
//! `127.0.0.1` made by `openssl` at start ([`PgCluster::tls_ca`] is its CA), `fsync=off`.
//! As root (CI), every server command runs as the `postgres` OS user
//! (`runuser -u postgres --`; `initdb` refuses root) on a directory chowned to it. The
//! server binaries are found on PATH or in `/usr/lib/postgresql/<newest>/bin`; when
//! missing, the test panics naming `apt-get install postgresql`.
//!
//! Cleanup never depends on destructors (statics are not dropped): a watchdog process,
//! started with the cluster in its own session, blocks reading a pipe whose write end
//! only this process holds. When this process exits for any reason (even SIGKILL), the
//! pipe closes and the watchdog stops the server (`pg_ctl stop -m immediate`) and removes
//! the directory, so no `postgres` process outlives the test binary.
//!
//! With `OCSP_TEST_DATABASE_URL` set (a superuser URL), that server is used instead:
//! each [`PgCluster::fresh_db`] creates its own database `t_<random>` there; outage drills
//! ([`PgCluster::stop`]/[`PgCluster::start`]) and TLS tests need the throwaway cluster,
//! and the wrong-password tests need a server that checks passwords over TCP.

use crate::process::{run, CMD_TIMEOUT};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};

/// The environment variable naming an existing cluster to use (a superuser URL).
pub const TEST_URL_VAR: &str = "OCSP_TEST_DATABASE_URL";

const INSTALL: &str =
    "PostgreSQL server binaries not found (install PostgreSQL: apt-get install -y postgresql postgresql-client)";

/// A database made for one test.
#[derive(Debug, Clone)]
pub struct TestDb {
    /// A superuser URL of this database (password included; tests only).
    pub url: String,
    /// The database name.
    pub name: String,
    host: String,
    port: u16,
}

impl TestDb {
    /// The URL of this database for `role` with `password`.
    pub fn url_for(&self, role: &str, password: &str) -> String {
        format!(
            "postgres://{role}:{password}@{}:{}/{}?sslmode=disable",
            self.host, self.port, self.name
        )
    }
}

/// A running cluster (see the module doc).
pub struct PgCluster {
    kind: Kind,
}

enum Kind {
    Local(Local),
    External { admin_url: String },
}

struct Local {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    password: String,
    as_postgres: bool,
    // Closed only at process exit (or drop): the watchdog then stops the server.
    watchdog: Mutex<Option<(Child, ChildStdin)>>,
    lock: Mutex<()>,
}

static SHARED: OnceLock<PgCluster> = OnceLock::new();

impl PgCluster {
    /// The cluster of this test binary, started on first use.
    pub fn shared() -> &'static PgCluster {
        SHARED.get_or_init(PgCluster::start_new)
    }

    /// Start a new cluster (or use `OCSP_TEST_DATABASE_URL`).
    pub fn start_new() -> PgCluster {
        if let Ok(url) = std::env::var(TEST_URL_VAR) {
            if !url.trim().is_empty() {
                return PgCluster {
                    kind: Kind::External {
                        admin_url: url.trim().to_string(),
                    },
                };
            }
        }
        PgCluster {
            kind: Kind::Local(Local::init()),
        }
    }

    /// A new, empty database.
    pub fn fresh_db(&self) -> TestDb {
        let name = format!("t_{}", random_hex(6));
        self.exec(&format!("CREATE DATABASE {name}"));
        match &self.kind {
            Kind::Local(l) => TestDb {
                url: format!(
                    "postgres://postgres:{}@127.0.0.1:{}/{name}?sslmode=disable",
                    l.password, l.port
                ),
                name,
                host: "127.0.0.1".into(),
                port: l.port,
            },
            Kind::External { admin_url } => {
                let (host, port) = host_port(admin_url);
                TestDb {
                    url: with_db(admin_url, &name),
                    name,
                    host,
                    port,
                }
            }
        }
    }

    /// The superuser URL of database `postgres`.
    pub fn admin_url(&self) -> String {
        match &self.kind {
            Kind::Local(l) => format!(
                "postgres://postgres:{}@127.0.0.1:{}/postgres?sslmode=disable",
                l.password, l.port
            ),
            Kind::External { admin_url } => admin_url.clone(),
        }
    }

    /// The URL of database `postgres` for `role` with `password`.
    pub fn url_for(&self, role: &str, password: &str) -> String {
        let (host, port) = match &self.kind {
            Kind::Local(l) => ("127.0.0.1".to_string(), l.port),
            Kind::External { admin_url } => host_port(admin_url),
        };
        format!("postgres://{role}:{password}@{host}:{port}/postgres?sslmode=disable")
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        match &self.kind {
            Kind::Local(l) => l.port,
            Kind::External { admin_url } => host_port(admin_url).1,
        }
    }

    /// The CA file that issued the server's TLS certificate (throwaway cluster only).
    pub fn tls_ca(&self) -> PathBuf {
        match &self.kind {
            Kind::Local(l) => l.dir.join("tls/ca.pem"),
            Kind::External { .. } => {
                panic!("TLS tests need the throwaway cluster: unset {TEST_URL_VAR}")
            }
        }
    }

    /// A CA that did not issue the server's certificate (for refusal tests).
    pub fn foreign_ca(&self) -> PathBuf {
        match &self.kind {
            Kind::Local(l) => l.dir.join("tls/other-ca.pem"),
            Kind::External { .. } => {
                panic!("TLS tests need the throwaway cluster: unset {TEST_URL_VAR}")
            }
        }
    }

    /// Run SQL (one or more statements) as the superuser in database `postgres`; its
    /// output, tuples only, unaligned.
    pub fn exec(&self, sql: &str) -> String {
        self.exec_in("postgres", sql)
    }

    /// Run SQL as the superuser in database `db`.
    pub fn exec_in(&self, db: &str, sql: &str) -> String {
        let (psql, url) = match &self.kind {
            Kind::Local(l) => (
                l.bin.join("psql"),
                format!(
                    "postgres://postgres:{}@127.0.0.1:{}/{db}?sslmode=disable",
                    l.password, l.port
                ),
            ),
            Kind::External { admin_url } => (find_psql(), with_db(admin_url, db)),
        };
        let out = run(
            Command::new(&psql)
                .args([
                    "-X",
                    "-q",
                    "-t",
                    "-A",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-d",
                    &url,
                    "-c",
                    sql,
                ])
                .env("PGCONNECT_TIMEOUT", "10"),
            CMD_TIMEOUT,
        );
        assert!(
            out.status.success(),
            "psql failed on {sql:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Stop the server (`pg_ctl stop -m fast`), for outage drills.
    pub fn stop(&self) {
        let l = self.local("stop");
        let _g = l.lock.lock().unwrap_or_else(|e| e.into_inner());
        l.pg_ctl(&["stop", "-m", "fast", "-w"]);
    }

    /// Start the server again on the same port after [`PgCluster::stop`].
    pub fn start(&self) {
        let l = self.local("start");
        let _g = l.lock.lock().unwrap_or_else(|e| e.into_inner());
        l.start_server();
    }

    /// The server log so far (throwaway cluster).
    pub fn log(&self) -> String {
        match &self.kind {
            Kind::Local(l) => std::fs::read_to_string(l.dir.join("log")).unwrap_or_default(),
            Kind::External { .. } => String::new(),
        }
    }

    fn local(&self, what: &str) -> &Local {
        match &self.kind {
            Kind::Local(l) => l,
            Kind::External { .. } => {
                panic!("{what}: outage drills need the throwaway cluster: unset {TEST_URL_VAR}")
            }
        }
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if let Kind::Local(l) = &self.kind {
            if let Some((mut child, stdin)) =
                l.watchdog.lock().unwrap_or_else(|e| e.into_inner()).take()
            {
                drop(stdin);
                let _ = child.wait();
            }
        }
    }
}

impl Local {
    fn init() -> Local {
        let bin = find_bin();
        let as_postgres = is_root();
        let dir = tempfile::Builder::new()
            .prefix("ocsp-pg-")
            .tempdir_in(std::env::temp_dir())
            .unwrap_or_else(|e| panic!("cannot create the cluster directory: {e}"))
            .keep();
        let password = random_hex(12);
        std::fs::write(dir.join("pwfile"), format!("{password}\n")).unwrap();
        make_tls(&dir.join("tls"));
        if as_postgres {
            let out = run(
                Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(&dir),
                CMD_TIMEOUT,
            );
            assert!(
                out.status.success(),
                "chown postgres {} failed: {} (is the postgres OS user there? {INSTALL})",
                dir.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let mut local = Local {
            dir: dir.clone(),
            bin,
            port: 0,
            password,
            as_postgres,
            watchdog: Mutex::new(None),
            lock: Mutex::new(()),
        };
        local.start_watchdog();
        let data = dir.join("data");
        let pwfile = dir.join("pwfile");
        let out = run(
            local
                .server_cmd("initdb")
                .arg("-D")
                .arg(&data)
                .args([
                    "-U",
                    "postgres",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "--no-sync",
                    "--no-instructions",
                ])
                .arg(format!("--pwfile={}", pwfile.display())),
            std::time::Duration::from_secs(120),
        );
        assert!(
            out.status.success(),
            "initdb failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for attempt in 0..5 {
            local.port = free_port();
            if local.try_start_server() {
                return local;
            }
            if attempt == 4 {
                panic!(
                    "the throwaway PostgreSQL cluster did not start:\n{}",
                    std::fs::read_to_string(dir.join("log")).unwrap_or_default()
                );
            }
        }
        unreachable!()
    }

    fn server_cmd(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    fn server_options(&self) -> String {
        let tls = self.dir.join("tls");
        format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=200 -c shared_buffers=64MB \
             -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
            self.port,
            self.dir.display(),
            tls.join("server.pem").display(),
            tls.join("server.key").display()
        )
    }

    fn try_start_server(&self) -> bool {
        let out = run(
            self.server_cmd("pg_ctl")
                .arg("-D")
                .arg(self.dir.join("data"))
                .arg("-l")
                .arg(self.dir.join("log"))
                .args(["-w", "-t", "60", "-o", &self.server_options(), "start"]),
            std::time::Duration::from_secs(90),
        );
        out.status.success()
    }

    fn start_server(&self) {
        assert!(
            self.try_start_server(),
            "pg_ctl start failed:\n{}",
            std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
        );
    }

    fn pg_ctl(&self, args: &[&str]) {
        let out = run(
            self.server_cmd("pg_ctl")
                .arg("-D")
                .arg(self.dir.join("data"))
                .args(args),
            std::time::Duration::from_secs(60),
        );
        assert!(
            out.status.success(),
            "pg_ctl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn start_watchdog(&mut self) {
        let data = self.dir.join("data");
        let stop = if self.as_postgres {
            format!(
                "runuser -u postgres -- {} -D {} -m immediate stop",
                self.bin.join("pg_ctl").display(),
                data.display()
            )
        } else {
            format!(
                "{} -D {} -m immediate stop",
                self.bin.join("pg_ctl").display(),
                data.display()
            )
        };
        let script = format!(
            "read _ignored; if [ -f {data}/postmaster.pid ]; then {stop} >/dev/null 2>&1; fi; rm -rf {dir}",
            data = data.display(),
            dir = self.dir.display()
        );
        let mut child = Command::new("setsid")
            .args(["sh", "-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the cluster watchdog (setsid sh): {e}"));
        let stdin = child.stdin.take().expect("piped stdin");
        *self.watchdog.lock().unwrap_or_else(|e| e.into_inner()) = Some((child, stdin));
    }
}

fn make_tls(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let ossl = |args: &[&str]| {
        let out = run(
            Command::new("openssl").args(args).current_dir(dir),
            CMD_TIMEOUT,
        );
        assert!(
            out.status.success(),
            "openssl {args:?} failed: {} (apt-get install -y openssl)",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    for ca in ["ca", "other-ca"] {
        ossl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{ca}.key"),
            "-out",
            &format!("{ca}.pem"),
            "-subj",
            &format!("/CN=ocsp test {ca} for PostgreSQL"),
            "-days",
            "3",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
    }
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    ossl(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]);
    ossl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "3",
        "-extfile",
        "server.ext",
    ]);
    let _ = run(
        Command::new("chmod")
            .args(["600"])
            .arg(dir.join("server.key")),
        CMD_TIMEOUT,
    );
}

fn find_bin() -> PathBuf {
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .filter(|p| p.join("initdb").exists())
                .collect()
        })
        .unwrap_or_default();
    candidates.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    if let Some(best) = candidates.pop() {
        return best;
    }
    if let Some(path) = std::env::var_os("PATH") {
        for d in std::env::split_paths(&path) {
            if d.join("initdb").exists() && d.join("pg_ctl").exists() {
                return d;
            }
        }
    }
    panic!("{INSTALL}");
}

fn find_psql() -> PathBuf {
    if let Some(path) = std::env::var_os("PATH") {
        for d in std::env::split_paths(&path) {
            if d.join("psql").exists() {
                return d.join("psql");
            }
        }
    }
    find_bin().join("psql")
}

fn is_root() -> bool {
    let out = run(Command::new("id").arg("-u"), CMD_TIMEOUT);
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("cannot find a free port: {e}"))
}

/// `n` random bytes as hex.
pub fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    aws_lc_rs::rand::fill(&mut b).expect("random bytes");
    hex::encode(b)
}

/// `url` with its database path replaced by `db`.
fn with_db(url: &str, db: &str) -> String {
    let start = url.find("://").map(|i| i + 3).unwrap_or(0);
    let rest = &url[start..];
    let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let after = &rest[auth_end..];
    let query = after.find('?').map(|i| &after[i..]).unwrap_or("");
    format!("{}{}/{db}{query}", &url[..start], &rest[..auth_end])
}

fn host_port(url: &str) -> (String, u16) {
    let start = url.find("://").map(|i| i + 3).unwrap_or(0);
    let rest = &url[start..];
    let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let auth = &rest[..auth_end];
    let hp = auth.rsplit_once('@').map(|(_, h)| h).unwrap_or(auth);
    match hp.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), p.parse().unwrap_or(5432)),
        None => (hp.to_string(), 5432),
    }
}
