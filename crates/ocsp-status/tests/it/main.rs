//! The status crate's integration tests, in one test binary
//! (`cargo test -p ocsp-status --test it`): index.txt files made by the real `openssl ca`,
//! a 1,000,000-entry index, and the index line format as a property.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod crl_source;
mod index_txt_openssl;
mod index_txt_scale;
mod pg_source;
mod postgres_schema;
mod postgres_write;
mod prop_index_line;
