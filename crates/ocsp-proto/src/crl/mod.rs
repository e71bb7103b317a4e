//! Certificate revocation lists (RFC 5280 §5), read and written without I/O.
//!
//! - [`parse`]: a hand walk of a DER CRL (v1 or v2, PEM via [`parse::decode`]) that borrows
//!   the input and yields entries one at a time; size caps, DER only, no trailing octets,
//!   unknown critical extensions refused.
//! - [`verify`]: the signature over the TBS octets with the issuer's key, issuer and
//!   authority key checks, and whether a delta CRL applies to a base.
//! - [`table`]: [`RevokedTable`], sorted serials in one arena beside fixed 32-octet
//!   records (about 52 octets per entry for 20-octet serials), searched by serial; delta
//!   CRLs applied on a base.
//! - [`build`]: a v2 CRL in the RFC 5280 / CA/B Forum BR §7.2 profile from streamed
//!   entries, signed through [`crate::signer::Signer`].
//! - [`number`]: [`CrlNumber`], the 20-octet CRL number.
//!
//! Indirect CRLs (certificateIssuer entries, indirectCRL) are refused by the reader and
//! never built. Times are arguments: nothing here knows what time it is, so whether a CRL
//! is current is the caller's question (`this_update`, `next_update`).

pub mod build;
pub mod number;
pub mod parse;
pub mod table;
mod tlv;
pub mod verify;

pub use build::{authority_key_id, build, BuildError, CrlParams, CrlWriter, IdpParams};
pub use number::CrlNumber;
pub use parse::{
    decode, parse, Crl, CrlError, CrlLimits, CrlMeta, CrlVersion, Entries, Entry, HoldInstruction,
    IssuingDistributionPoint,
};
pub use table::{RevokedTable, TableBuilder};
pub use verify::{check_delta, subject_key_id, verify_issued_by, verify_signature};
