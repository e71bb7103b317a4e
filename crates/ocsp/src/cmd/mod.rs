//! One module per subcommand, each with its own `Args` and `run`.

pub mod ca_flags;
pub mod check_config;
pub mod completions;
pub mod crl;
#[cfg(feature = "postgres")]
pub mod crl_db;
#[cfg(feature = "postgres")]
pub mod db;
#[cfg(feature = "postgres")]
pub mod db_flags;
pub mod demo;
#[cfg(feature = "postgres")]
pub mod import;
pub mod inspect;
pub mod lint;
pub mod listen_flags;
pub mod man;
pub mod presign;
pub mod query;
#[cfg(feature = "postgres")]
pub mod revoke;
pub mod serve;
pub mod sign_bench;
