//! `ocsp crl` from PostgreSQL: the CRL number comes from the row of `ocsp_crl_number`
//! that every node shares, never from a local file.
//!
//! The number is `ocsp_status::postgres::write::next_crl_number(issuer, shard 0,
//! at_least)`, which returns `max(last + 1, at_least)` and records it in the same
//! statement: two `ocsp crl` runs on two machines never get the same number, and the
//! numbers only go up. `at_least` is one above the number of the CRL already at `--out`
//! (1 when there is none), so a row restored from an older backup still never gives a
//! number below a CRL that was published. The number is taken before the CRL is signed:
//! a failed run skips a number, never reuses one.
//!
//! The connected role needs `ocsp_writer`'s privileges on `ocsp_crl_number` (checked
//! first, each missing one named with its `GRANT`), and reads the statuses as a node
//! does (`ocsp_reader`).

use std::path::Path;

use anyhow::Context;
use ocsp_proto::crl::CrlNumber;
use ocsp_responder::crl_issue::number;
use ocsp_status::postgres::schema::{self, Role};
use ocsp_status::postgres::write::{self, IssuerCert};
use ocsp_status::postgres::{connect, DatabaseUrl};

/// The shard of a full (unpartitioned or partitioned-by-IDP) CRL.
pub const SHARD: i32 = 0;

/// The next CRL number of the CA `ca` (DER certificate) from the database at `url`:
/// strictly above every number handed out before and above the CRL at `previous`.
pub async fn next_number(
    url: &str,
    ca: &ocsp_proto::x509_cert::Certificate,
    previous: &Path,
) -> anyhow::Result<CrlNumber> {
    let url = DatabaseUrl::parse(url)?;
    let client = connect(&url).await?;
    schema::ready(&client, Role::Writer).await?;
    let cert = IssuerCert::of(ca)?;
    let issuer = write::require_issuer(&client, &cert).await?;
    let floor = floor_from_previous(previous)?;
    let bytes = write::next_crl_number(&client, issuer.id, SHARD, floor.as_be_bytes()).await?;
    CrlNumber::from_be_bytes(&bytes).with_context(|| {
        format!(
            "the CRL number {} of ocsp_crl_number (issuer {}, shard {SHARD}) is out of range (a CRL number is below 2^159)",
            write::be_to_decimal(&bytes),
            issuer.name
        )
    })
}

/// One above the number of the CRL at `previous` (1 when there is none or it has none).
fn floor_from_previous(previous: &Path) -> anyhow::Result<CrlNumber> {
    match number::number_of_crl(previous) {
        None => Ok(CrlNumber::from_u128(1)),
        Some(n) => n.next().with_context(|| {
            format!(
                "{}: its CRL number {n} cannot be increased",
                previous.display()
            )
        }),
    }
}
