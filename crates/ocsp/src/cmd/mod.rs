//! One module per subcommand, each with its own `Args` and `run`.

pub mod ca_flags;
pub mod check_config;
pub mod completions;
pub mod demo;
pub mod inspect;
pub mod lint;
pub mod listen_flags;
pub mod man;
pub mod presign;
pub mod query;
pub mod serve;
pub mod sign_bench;
