//! `ocsp db migrate` and `ocsp db check`: create or upgrade the status database's
//! schema, and say whether a database and the connected role are ready (docs/postgres.md).
//!
//! `migrate` applies the migrations this binary embeds in one transaction under an
//! advisory lock (safe when several nodes run it at once; a second run does nothing) and,
//! with `--create-roles`, creates the group roles `ocsp_reader` and `ocsp_writer` with
//! their grants. `check` prints the schema version, the connected role's missing
//! privileges for `--role`, the issuers and what nodes reported; it exits 1 when the
//! schema is not current or a privilege is missing, naming the fix.

use crate::cmd::db_flags::DbFlags;
use ocsp_status::postgres::schema::{self, Role, SchemaState, SCHEMA_VERSION};
use ocsp_status::postgres::{connect, write};
use std::process::ExitCode;

/// `ocsp db`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
export OCSP_DATABASE_URL=postgres://ocsp_admin:PASSWORD@db.example/ocsp?sslmode=verify-full&sslrootcert=/etc/ocsp/pg-ca.pem\n  \
ocsp db migrate --create-roles\n  \
ocsp db check --role reader")]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub action: Action,
}

/// The `ocsp db` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Create or upgrade the schema (idempotent; safe to run from several nodes at once).
    Migrate(MigrateArgs),
    /// Check the schema version and the connected role's privileges.
    Check(CheckArgs),
}

/// `ocsp db migrate`.
#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    /// The database.
    #[command(flatten)]
    pub db: DbFlags,
    /// Also create the group roles ocsp_reader and ocsp_writer (when absent) and grant them their privileges.
    #[arg(long)]
    pub create_roles: bool,
    /// Print the SQL that creates the roles and grants, and exit (for a DBA to run).
    #[arg(long)]
    pub print_roles_sql: bool,
}

/// `ocsp db check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The database.
    #[command(flatten)]
    pub db: DbFlags,
    /// What the connected role must be able to do: reader (a responder) or writer (import, revoke).
    #[arg(long, value_name = "ROLE", value_parser = ["reader", "writer"], default_value = "reader")]
    pub role: String,
}

/// Run `ocsp db`.
pub fn run(args: Args) -> ExitCode {
    crate::logging::init(crate::logging::LogFormat::Text, "warn");
    let (name, result) = match args.action {
        Action::Migrate(a) => ("db migrate", run_async(migrate(a))),
        Action::Check(a) => ("db check", run_async(check(a))),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ocsp {name}: error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run_async<F: std::future::Future<Output = anyhow::Result<ExitCode>>>(
    f: F,
) -> anyhow::Result<ExitCode> {
    crate::runtime::runtime_with(1)?.block_on(f)
}

async fn migrate(a: MigrateArgs) -> anyhow::Result<ExitCode> {
    if a.print_roles_sql {
        print!("{}", schema::ROLES_SQL);
        return Ok(ExitCode::SUCCESS);
    }
    let url = a.db.url()?;
    let mut client = connect(&url).await?;
    let m = schema::migrate(&mut client).await?;
    if m.applied.is_empty() {
        println!("schema is current (version {}) at {url}", m.to);
    } else {
        for (v, name) in &m.applied {
            println!("applied {v:04}_{name}");
        }
        println!("schema version {} -> {} at {url}", m.from, m.to);
    }
    if a.create_roles {
        schema::create_roles(&mut client).await?;
        println!("roles ocsp_reader and ocsp_writer are in place (grant them to login roles: GRANT ocsp_reader TO responder_login)");
    }
    Ok(ExitCode::SUCCESS)
}

async fn check(a: CheckArgs) -> anyhow::Result<ExitCode> {
    let url = a.db.url()?;
    let client = connect(&url).await?;
    let role = if a.role == "writer" {
        Role::Writer
    } else {
        Role::Reader
    };
    println!("database: {url}");
    let me = schema::current_role(&client).await?;
    println!("connected as: {me}");
    let state = schema::check_schema(&client).await?;
    match state {
        SchemaState::Current(v) => println!("schema: version {v} (current)"),
        SchemaState::Old(v) => println!("schema: version {v}, this binary needs {SCHEMA_VERSION}"),
        SchemaState::Missing => println!("schema: missing"),
        SchemaState::Newer(v) => println!("schema: version {v}, newer than {SCHEMA_VERSION}"),
    }
    if let Err(e) = state.require_current() {
        eprintln!("ocsp db check: error: {e}");
        return Ok(ExitCode::from(1));
    }
    let missing = schema::check_privileges(&client, role).await?;
    if missing.is_empty() {
        println!("privileges: everything a {} needs", a.role);
    } else {
        for m in &missing {
            println!("privileges: missing {} (fix: {})", m.what, m.grant);
        }
    }
    if let Ok(rows) = client
        .query(
            "SELECT id, name, generation, (SELECT count(*) FROM ocsp_cert c WHERE c.issuer_id = i.id) \
             FROM ocsp_issuer i ORDER BY id",
            &[],
        )
        .await
    {
        for r in rows {
            let (id, name, gen, n): (i32, String, i64, i64) = (r.get(0), r.get(1), r.get(2), r.get(3));
            println!("issuer {id}: {name:?}, generation {gen}, {n} certificates");
            if let Ok(nodes) = write::nodes(&client, id).await {
                for n in nodes {
                    println!(
                        "  node {}: seen generation {}, {} ms ago",
                        n.node_id, n.seen_gen, n.age_ms
                    );
                }
            }
        }
    }
    if let Ok(r) = client
        .query_one("SELECT pg_notification_queue_usage()", &[])
        .await
    {
        let usage: f64 = r.get(0);
        println!("notification queue: {:.1}% used", usage * 100.0);
    }
    if missing.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "ocsp db check: error: role {me:?} lacks {} privilege(s) a {} needs",
            missing.len(),
            a.role
        );
        Ok(ExitCode::from(1))
    }
}
