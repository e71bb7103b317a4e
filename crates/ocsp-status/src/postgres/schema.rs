//! The schema: versioned migrations embedded in the binary, applied by
//! `ocsp db migrate`, and the checks every command and node makes before using it.
//!
//! | item | promise |
//! |---|---|
//! | [`MIGRATIONS`] | `migrations/NNNN_name.sql`, applied in order, each once; the version applied is recorded in `ocsp_schema(version)` |
//! | [`migrate`] | one transaction holding `pg_advisory_xact_lock(`[`MIGRATE_LOCK`]`)`: two nodes migrating at once serialise, the second finds nothing to do; a database newer than this binary is left untouched ([`DbError::SchemaNewer`]) |
//! | [`create_roles`] | the group roles `ocsp_reader` and `ocsp_writer` (created when absent) and their grants; idempotent |
//! | [`check_schema`] | [`SchemaState`]: current, older (run `ocsp db migrate`), missing, newer (upgrade the binary) |
//! | [`check_privileges`] | the privileges a [`Role`] needs that the connected role lacks, each with its `GRANT` |
//!
//! Roles: responders need `SELECT` on `ocsp_schema`, `ocsp_issuer`, `ocsp_cert`,
//! `ocsp_node` and `EXECUTE` on `ocsp_node_report` (a `SECURITY DEFINER` function, the
//! only way a node writes); writers (`ocsp import`, `revoke`) need `SELECT`, `INSERT`,
//! `UPDATE` on `ocsp_issuer`, `ocsp_cert`, `ocsp_crl_number`. Neither needs `DELETE`
//! (deletions are tombstones) nor any DDL.

use crate::postgres::DbError;
use tokio_postgres::Client;

/// One migration: the version it brings the schema to, its name, its SQL.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// The schema version after it.
    pub version: i32,
    /// A short name.
    pub name: &'static str,
    /// The SQL (several statements).
    pub sql: &'static str,
}

/// Every migration, in order.
pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "initial",
    sql: include_str!("migrations/0001_initial.sql"),
}];

/// The schema version this binary needs (and the newest it knows).
pub const SCHEMA_VERSION: i32 = 1;

/// The advisory lock key `ocsp db migrate` holds for its transaction (`"ocspmigr"`).
pub const MIGRATE_LOCK: i64 = 0x6f63_7370_6d69_6772;

/// What [`migrate`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migrated {
    /// The version found (0: no schema).
    pub from: i32,
    /// The version now.
    pub to: i32,
    /// The migrations applied, in order (empty: already current).
    pub applied: Vec<(i32, &'static str)>,
}

/// Create or upgrade the schema to [`SCHEMA_VERSION`] in one transaction.
pub async fn migrate(client: &mut Client) -> Result<Migrated, DbError> {
    let tx = client.transaction().await.map_err(DbError::query)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATE_LOCK])
        .await
        .map_err(DbError::query)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS ocsp_schema (
           version    integer PRIMARY KEY,
           applied_at timestamptz NOT NULL DEFAULT now())",
    )
    .await
    .map_err(DbError::query)?;
    let from: i32 = tx
        .query_one("SELECT coalesce(max(version), 0) FROM ocsp_schema", &[])
        .await
        .map_err(DbError::query)?
        .get(0);
    if from > SCHEMA_VERSION {
        return Err(DbError::SchemaNewer {
            found: from,
            known: SCHEMA_VERSION,
        });
    }
    let mut applied = Vec::new();
    for m in MIGRATIONS.iter().filter(|m| m.version > from) {
        tx.batch_execute(m.sql).await.map_err(|e| {
            DbError::Query(format!(
                "migration {:04}_{} failed: {}",
                m.version,
                m.name,
                DbError::query(e)
            ))
        })?;
        tx.execute(
            "INSERT INTO ocsp_schema (version) VALUES ($1)",
            &[&m.version],
        )
        .await
        .map_err(DbError::query)?;
        applied.push((m.version, m.name));
    }
    tx.commit().await.map_err(DbError::query)?;
    Ok(Migrated {
        from,
        to: SCHEMA_VERSION,
        applied,
    })
}

/// The SQL [`create_roles`] runs (also printed by `ocsp db migrate --print-roles-sql`
/// and documented in docs/postgres.md).
pub const ROLES_SQL: &str = "\
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ocsp_reader') THEN CREATE ROLE ocsp_reader NOLOGIN; END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ocsp_writer') THEN CREATE ROLE ocsp_writer NOLOGIN; END IF;
END $$;
GRANT SELECT ON ocsp_schema, ocsp_issuer, ocsp_cert, ocsp_node TO ocsp_reader;
GRANT EXECUTE ON FUNCTION ocsp_node_report(text, integer, bigint) TO ocsp_reader;
GRANT SELECT ON ocsp_schema, ocsp_issuer, ocsp_cert, ocsp_node, ocsp_crl_number TO ocsp_writer;
GRANT INSERT, UPDATE ON ocsp_issuer, ocsp_cert, ocsp_crl_number TO ocsp_writer;
";

/// Create the group roles `ocsp_reader` and `ocsp_writer` when absent and grant them
/// their privileges (needs CREATEROLE and ownership of the tables). Grant them to login
/// roles with `GRANT ocsp_reader TO responder_login`.
pub async fn create_roles(client: &mut Client) -> Result<(), DbError> {
    let tx = client.transaction().await.map_err(DbError::query)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATE_LOCK])
        .await
        .map_err(DbError::query)?;
    tx.batch_execute(ROLES_SQL).await.map_err(DbError::query)?;
    tx.commit().await.map_err(DbError::query)
}

/// The schema as found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaState {
    /// At [`SCHEMA_VERSION`].
    Current(i32),
    /// Older: `ocsp db migrate` upgrades it.
    Old(i32),
    /// No `ocsp_schema` table.
    Missing,
    /// Newer than this binary.
    Newer(i32),
}

impl SchemaState {
    /// `Ok` when current, else the error naming the fix.
    pub fn require_current(self) -> Result<i32, DbError> {
        match self {
            SchemaState::Current(v) => Ok(v),
            SchemaState::Old(found) => Err(DbError::SchemaOld {
                found,
                want: SCHEMA_VERSION,
            }),
            SchemaState::Missing => Err(DbError::SchemaMissing),
            SchemaState::Newer(found) => Err(DbError::SchemaNewer {
                found,
                known: SCHEMA_VERSION,
            }),
        }
    }
}

/// Read the schema version.
pub async fn check_schema(client: &Client) -> Result<SchemaState, DbError> {
    let exists: bool = client
        .query_one("SELECT to_regclass('ocsp_schema') IS NOT NULL", &[])
        .await
        .map_err(DbError::query)?
        .get(0);
    let readable: bool = exists
        && client
            .query_one(
                "SELECT has_table_privilege(current_user, 'ocsp_schema', 'SELECT')",
                &[],
            )
            .await
            .map_err(DbError::query)?
            .get(0);
    if !exists {
        return Ok(SchemaState::Missing);
    }
    if !readable {
        return Err(privilege_error(
            client,
            "SELECT on ocsp_schema",
            "GRANT ocsp_reader TO <role>",
        )
        .await);
    }
    let v: i32 = client
        .query_one("SELECT coalesce(max(version), 0) FROM ocsp_schema", &[])
        .await
        .map_err(DbError::query)?
        .get(0);
    Ok(match v {
        0 => SchemaState::Missing,
        v if v == SCHEMA_VERSION => SchemaState::Current(v),
        v if v < SCHEMA_VERSION => SchemaState::Old(v),
        v => SchemaState::Newer(v),
    })
}

/// What a connected role is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A responder node: reads, reports what it has seen.
    Reader,
    /// `ocsp import`, `revoke`, `unrevoke`: reads and writes statuses.
    Writer,
    /// `ocsp status`: reads only (what both readers and writers may do).
    Viewer,
}

impl Role {
    /// The group role that holds these privileges.
    pub fn group(self) -> &'static str {
        match self {
            Role::Reader | Role::Viewer => "ocsp_reader",
            Role::Writer => "ocsp_writer",
        }
    }

    /// Every privilege the role needs: (object, privilege, is a function).
    pub fn needs(self) -> &'static [(&'static str, &'static str, bool)] {
        match self {
            Role::Reader => &[
                ("ocsp_schema", "SELECT", false),
                ("ocsp_issuer", "SELECT", false),
                ("ocsp_cert", "SELECT", false),
                ("ocsp_node", "SELECT", false),
                ("ocsp_node_report(text, integer, bigint)", "EXECUTE", true),
            ],
            Role::Viewer => &[
                ("ocsp_schema", "SELECT", false),
                ("ocsp_issuer", "SELECT", false),
                ("ocsp_cert", "SELECT", false),
                ("ocsp_node", "SELECT", false),
            ],
            Role::Writer => &[
                ("ocsp_schema", "SELECT", false),
                ("ocsp_issuer", "SELECT", false),
                ("ocsp_cert", "SELECT", false),
                ("ocsp_node", "SELECT", false),
                ("ocsp_crl_number", "SELECT", false),
                ("ocsp_issuer", "INSERT", false),
                ("ocsp_issuer", "UPDATE", false),
                ("ocsp_cert", "INSERT", false),
                ("ocsp_cert", "UPDATE", false),
                ("ocsp_crl_number", "INSERT", false),
                ("ocsp_crl_number", "UPDATE", false),
            ],
        }
    }
}

/// One privilege the connected role lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingPrivilege {
    /// `INSERT on ocsp_cert`.
    pub what: String,
    /// `GRANT INSERT ON ocsp_cert TO "role"`.
    pub grant: String,
}

/// The connected role's name.
pub async fn current_role(client: &Client) -> Result<String, DbError> {
    Ok(client
        .query_one("SELECT current_user::text", &[])
        .await
        .map_err(DbError::query)?
        .get(0))
}

/// The privileges `role` needs that the connected role lacks (empty: all there). The
/// schema must exist.
pub async fn check_privileges(
    client: &Client,
    role: Role,
) -> Result<Vec<MissingPrivilege>, DbError> {
    let me = current_role(client).await?;
    let mut missing = Vec::new();
    for (object, privilege, function) in role.needs() {
        let sql = if *function {
            "SELECT has_function_privilege(current_user, $1, $2)"
        } else {
            "SELECT has_table_privilege(current_user, $1, $2)"
        };
        let has: bool = client
            .query_one(sql, &[object, privilege])
            .await
            .map_err(DbError::query)?
            .get(0);
        if !has {
            let on = if *function {
                format!("FUNCTION {object}")
            } else {
                object.to_string()
            };
            missing.push(MissingPrivilege {
                what: format!("{privilege} on {object}"),
                grant: format!(
                    "GRANT {} TO \"{me}\" (or GRANT {privilege} ON {on} TO \"{me}\")",
                    role.group()
                ),
            });
        }
    }
    Ok(missing)
}

/// `Ok` when the connected role has every privilege `role` needs, else the first one
/// missing as [`DbError::Privilege`].
pub async fn require_privileges(client: &Client, role: Role) -> Result<(), DbError> {
    let missing = check_privileges(client, role).await?;
    match missing.into_iter().next() {
        None => Ok(()),
        Some(m) => Err(DbError::Privilege {
            role: current_role(client).await?,
            missing: m.what,
            grant: m.grant,
        }),
    }
}

async fn privilege_error(client: &Client, what: &str, grant: &str) -> DbError {
    let role = current_role(client)
        .await
        .unwrap_or_else(|_| "the connected role".into());
    DbError::Privilege {
        role: role.clone(),
        missing: what.into(),
        grant: grant.replace("<role>", &format!("\"{role}\"")),
    }
}

/// Connect-and-check for a command: the schema is current and the role has what `role`
/// needs.
pub async fn ready(client: &Client, role: Role) -> Result<(), DbError> {
    check_schema(client).await?.require_current()?;
    require_privileges(client, role).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_state_names_its_fix() {
        assert_eq!(
            SchemaState::Current(SCHEMA_VERSION).require_current().ok(),
            Some(SCHEMA_VERSION)
        );
        let old = SchemaState::Old(SCHEMA_VERSION - 1)
            .require_current()
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(old.contains("run `ocsp db migrate"), "{old}");
        assert!(
            old.contains(&format!("needs version {SCHEMA_VERSION}")),
            "{old}"
        );
        let missing = SchemaState::Missing
            .require_current()
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(missing.contains("run `ocsp db migrate"), "{missing}");
        let newer = SchemaState::Newer(SCHEMA_VERSION + 1)
            .require_current()
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(newer.contains("upgrade ocsp"), "{newer}");
    }

    #[test]
    fn migrations_are_numbered_in_order() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i32 + 1, "{}", m.name);
        }
        assert_eq!(MIGRATIONS.last().map(|m| m.version), Some(SCHEMA_VERSION));
    }
}
